#!/usr/bin/env bash
# The sanitizer run, by hand for now: CI does not call it until its time on a clean clone is
# measured. Builds the asan preset (clang-22, -fsanitize=address,undefined, into build-asan/,
# with the fuzz harnesses), runs the unit tests under it but the long ones (ASAN_EXCLUDE
# below), then every fuzz harness over its corpus and for STARC_FUZZ_SECONDS (default 20) each.
set -euo pipefail
cd "$(dirname "$0")/.."

# Model trainings, the examples and whole-model JIT runs: minutes each under ASan, and
# they add no code paths the shorter tests miss (docs/reliability.md says which).
ASAN_EXCLUDE='^Example\.|^GpuKernelsEmulatedOnCpu$'

cmake --preset asan >/dev/null
ninja -C build-asan starc starc_unit_tests fake_cuda make_spectra fuzz_harnesses
# allocator_may_return_null: starc checks its allocations (a refused one is an error the
# MemoryFaults tests expect), where ASan would abort by default.
export ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=1
export LSAN_OPTIONS=suppressions=$PWD/tests/fuzz/lsan.supp:print_suppressions=0
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
ctest --test-dir build-asan --output-on-failure -j "$(nproc)" -E "$ASAN_EXCLUDE"
STARC_FUZZ_BUILD=build-asan scripts/fuzz.sh --ci "${STARC_FUZZ_SECONDS:-20}"
