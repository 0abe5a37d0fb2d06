#!/usr/bin/env bash
# README command 2: install, build, and run the whole test suite: the code style, the
# unit, lit and example tests, then the sanitizer run (the tests of untrusted input under
# ASan+UBSan, and every fuzz harness: scripts/asan_test.sh, docs/reliability.md).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/format.sh --check
ctest --test-dir build --output-on-failure -j "$(nproc)"
scripts/asan_test.sh
