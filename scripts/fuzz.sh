#!/usr/bin/env bash
# The libFuzzer harnesses of tests/fuzz (docs/reliability.md, "Fuzzing").
#   scripts/fuzz.sh TARGET SECONDS [libFuzzer flags]  build fuzz_TARGET and fuzz it for SECONDS
#   scripts/fuzz.sh --regression                      every harness over its corpus, once
#   scripts/fuzz.sh --ci SECONDS                      --regression, then SECONDS of fuzzing each, one per core
#   scripts/fuzz.sh --list                            the targets
# Builds with the "fuzz" preset into build-fuzz/, or into $STARC_FUZZ_BUILD when that is set
# to a tree configured with STARC_FUZZ=ON (CI uses build-asan/: the asan preset has the
# harnesses too). Inputs found while fuzzing go to $BUILD/fuzz/corpus/TARGET, crashes to
# $BUILD/fuzz/artifacts/TARGET/; a crash is minimised with
#   $BUILD/tests/fuzz/fuzz_TARGET -minimize_crash=1 -runs=100000 CRASH_FILE
# and, once fixed, copied into tests/fuzz/corpus/TARGET/ (or tests/fuzz/pending/TARGET/
# while the fix is still to come: --regression runs those and reports, without failing).
set -euo pipefail
cd "$(dirname "$0")/.."

TARGETS=(dsl graph_text npy npz csv fits weights jit_cache onnx)
BUILD=${STARC_FUZZ_BUILD:-build-fuzz}
# A malloc no memory can hold returns NULL, as it does without ASan (cfitsio asks for
# petabytes on some corrupt headers, and copes); a C++ new throws std::bad_alloc, which the
# harnesses count as a crash.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:allocator_may_return_null=1}
export LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$PWD/tests/fuzz/lsan.supp:print_suppressions=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
# One minute per input at most in long runs (a hang is a finding); CI's runs use less.
TIMEOUT=${STARC_FUZZ_TIMEOUT:-60}

usage() { sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'; exit 2; }

build() {
  if [ ! -f "$BUILD/build.ninja" ]; then
    if [ "$BUILD" = build-fuzz ]; then cmake --preset fuzz >/dev/null
    else echo "fuzz.sh: $BUILD is not configured (cmake --preset asan)" >&2; exit 1; fi
  fi
  ninja -C "$BUILD" "${@/#/fuzz_}"
}

# The seed folders of a target: its committed corpus, and for the language the stdlib and
# the bad-input cases of tests/diagnostics.
seeds() {
  echo "tests/fuzz/corpus/$1"
  [ "$1" = dsl ] && echo "stdlib tests/diagnostics/cases"
  return 0
}

flags() {
  local f=(-timeout="$TIMEOUT" -rss_limit_mb=2048 -print_final_stats=1)
  [ -f "tests/fuzz/$1.dict" ] && f+=(-dict="tests/fuzz/$1.dict")
  echo "${f[@]}"
}

regression() {
  local failed=0
  for t in "${TARGETS[@]}"; do
    echo "== fuzz_$t: corpus"
    # shellcheck disable=SC2046
    if ! "$BUILD/tests/fuzz/fuzz_$t" $(flags "$t") -runs=0 $(seeds "$t") 2>"$BUILD/fuzz/$t.regression.log"; then
      tail -n 40 "$BUILD/fuzz/$t.regression.log"
      echo "fuzz.sh: fuzz_$t fails on its corpus (log: $BUILD/fuzz/$t.regression.log)"
      failed=1
    else
      { grep -E '^#[0-9]+[[:space:]]+DONE' "$BUILD/fuzz/$t.regression.log" || true; } | tail -n 1
    fi
    # Known failures whose fix is still to come: reported, not failing the run.
    for f in tests/fuzz/pending/"$t"/*; do
      [ -f "$f" ] || continue
      if "$BUILD/tests/fuzz/fuzz_$t" -timeout=20 -rss_limit_mb=2048 "$f" >/dev/null 2>&1; then
        echo "fuzz.sh: $f passes now: move it to tests/fuzz/corpus/$t/"
      else
        echo "fuzz.sh: still failing (pending): $f"
      fi
    done
  done
  return $failed
}

fuzz() {  # TARGET SECONDS [flags]
  local t=$1 secs=$2
  shift 2
  mkdir -p "$BUILD/fuzz/corpus/$t" "$BUILD/fuzz/artifacts/$t"
  # shellcheck disable=SC2046
  "$BUILD/tests/fuzz/fuzz_$t" $(flags "$t") -max_total_time="$secs" -artifact_prefix="$BUILD/fuzz/artifacts/$t/" \
    "$@" "$BUILD/fuzz/corpus/$t" $(seeds "$t")
}

[ $# -ge 1 ] || usage
case "$1" in
  --list) printf '%s\n' "${TARGETS[@]}" ;;
  --regression)
    build "${TARGETS[@]}"
    mkdir -p "$BUILD/fuzz"
    regression ;;
  --ci)
    [ $# -eq 2 ] || usage
    build "${TARGETS[@]}"
    mkdir -p "$BUILD/fuzz"
    regression
    TIMEOUT=${STARC_FUZZ_TIMEOUT:-20}
    # One harness per core at a time (STARC_FUZZ_JOBS): each still fuzzes for SECONDS on a
    # core of its own, and CI's two cores finish the eight in half the time.
    jobs=${STARC_FUZZ_JOBS:-$(nproc)}
    running=0
    for t in "${TARGETS[@]}"; do
      if ((running >= jobs)); then
        wait -n || true
        running=$((running - 1))
      fi
      echo "== fuzz_$t: $2 s"
      # A fresh corpus each run: CI tries new inputs, not those of an earlier run.
      rm -rf "$BUILD/fuzz/corpus/$t" "$BUILD/fuzz/$t.ci.rc"
      (
        rc=0
        fuzz "$t" "$2" -close_fd_mask=1 >"$BUILD/fuzz/$t.ci.log" 2>&1 || rc=$?
        echo "$rc" >"$BUILD/fuzz/$t.ci.rc"
      ) &
      running=$((running + 1))
    done
    wait
    crashed=0
    for t in "${TARGETS[@]}"; do
      if [ "$(cat "$BUILD/fuzz/$t.ci.rc" 2>/dev/null)" != 0 ]; then
        tail -n 60 "$BUILD/fuzz/$t.ci.log"
        echo "fuzz.sh: fuzz_$t found a crash: $(ls "$BUILD/fuzz/artifacts/$t/")"
        crashed=1
        continue
      fi
      echo "== fuzz_$t: $(grep -E '^#[0-9]+[[:space:]]+DONE' "$BUILD/fuzz/$t.ci.log" | tail -n 1 || true)"
    done
    exit $crashed ;;
  -*) usage ;;
  *)
    [ $# -ge 2 ] || usage
    t=$1 secs=$2
    shift 2
    [[ " ${TARGETS[*]} " == *" $t "* ]] || { echo "fuzz.sh: no target '$t' (--list)" >&2; exit 2; }
    build "$t"
    fuzz "$t" "$secs" "$@" ;;
esac
