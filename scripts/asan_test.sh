#!/usr/bin/env bash
# The sanitizer run (scripts/test.sh, so CI, runs it after the regular suite): builds the
# asan preset (clang-22, -fsanitize=address,undefined, -O1, into build-asan/, with the fuzz
# harnesses), runs its unit tests and the lit tests under it, then every fuzz harness over
# its corpus and for STARC_FUZZ_SECONDS (default 10) each. docs/reliability.md, "Sanitizers".
set -euo pipefail
cd "$(dirname "$0")/.."

# The sanitizer build holds the unit tests of what reads untrusted input or manages memory
# (tests/CMakeLists.txt says which); of those, three cannot hold under ASan:
EXCLUDE=(
  'Trainer.CheckpointSurvivesSigkill*'  # needs a checkpoint written within 2-40 ms of a fork
  'Cases/CrashCorpus.EndsCleanly/files_fits_gzip_bomb'  # `ulimit -v`: ASan cannot reserve its shadow memory
  # ASan warns on stderr about the 145 TiB malloc the case makes fail on purpose (the
  # MemoryFaults tests check the same path in-process)
  'Cases/CrashCorpus.EndsCleanly/runtime_alloc_fails_in_generated_code'
)

cmake --preset asan >/dev/null
ninja -C build-asan starc starc_unit_tests fake_cuda make_spectra fuzz_harnesses
# allocator_may_return_null: starc checks its allocations (a refused one is an error the
# MemoryFaults tests expect), where ASan would abort by default.
export ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=1
export LSAN_OPTIONS=suppressions=$PWD/tests/fuzz/lsan.supp:print_suppressions=0
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
# Sanitized code runs several times slower: the crash corpus's per-case limit grows to match.
export STARC_TEST_TIMEOUT_SCALE=4

# The unit tests as one process per core (gtest shards): starting the sanitized binary once
# per test, as ctest does, took longer than the tests.
shards=$(nproc)
filter="-$(IFS=':'; echo "${EXCLUDE[*]}")"
for ((i = 0; i < shards; i++)); do
  (cd build-asan/tests && GTEST_TOTAL_SHARDS=$shards GTEST_SHARD_INDEX=$i ./starc_unit_tests --gtest_filter="$filter" \
     >"../unit_tests.shard$i.log" 2>&1) &
done
failed=0
for ((i = 0; i < shards; i++)); do
  if ! wait -n; then failed=1; fi
done
for ((i = 0; i < shards; i++)); do
  log=build-asan/unit_tests.shard$i.log
  grep -E '^\[  (PASSED|FAILED)  \]|^\[==========\] [0-9]+ tests' "$log" || true
  if ! grep -q '^\[  PASSED  \]' "$log" || grep -q '^\[  FAILED  \]' "$log"; then
    failed=1
    echo "asan_test.sh: unit tests, shard $i, failed (log: $log):"
    grep -E -B2 -A30 'Failure|ERROR: (Address|Leak)Sanitizer|runtime error:' "$log" | head -n 200
  fi
done
((failed == 0)) || exit 1

/usr/lib/llvm-22/bin/lit -sv tests/lit --param starc=build-asan/starc --param exec_root=build-asan/tests/lit
STARC_FUZZ_BUILD=build-asan scripts/fuzz.sh --ci "${STARC_FUZZ_SECONDS:-10}"
