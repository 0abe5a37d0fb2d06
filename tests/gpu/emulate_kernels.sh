#!/usr/bin/env bash
# tests/gpu: the GPU kernel library (compiler/backend/gpu/gpu_kernels.cpp) checked on the CPU,
# so that CI, which has no GPU, still catches a change that breaks the kernels' index
# arithmetic, bounds checks or barriers (ctest GpuKernelsEmulatedOnCpu).
#
#   emulate_kernels.sh GEN CHECK CC LLVM_BIN WORK_BASE [LIBRARY.mlir]
#
# GEN (gpu_kernels_gen) prints the library for all kernel-library names, or
# LIBRARY.mlir is used instead (to try a hand-edited library). emulate_kernels.py turns it
# into CPU code (each block's threads as coroutines, see emulate_runtime.c), LLVM_BIN's
# mlir-opt / mlir-translate / llc compile it and CC links it with the runtime into a
# shared object that CHECK (gpu_kernels_check) runs against the C kernels. Twice: as
# generated, and with the grid's y/z limit lowered from 65535 to 3 (grid-stride loops).
# Both run at once, in a fresh directory under WORK_BASE, removed at the end unless
# STARC_GPU_EMU_KEEP=1.
#
# Exit status: 0 passed, 1 failed, 77 skipped (a tool is missing), 2 bad usage.
set -u
if [ $# -lt 5 ] || [ $# -gt 6 ]; then
  echo "usage: $0 GEN CHECK CC LLVM_BIN WORK_BASE [LIBRARY.mlir]" >&2
  exit 2
fi
GEN=$1 CHECK=$2 CC=$3 LLVM_BIN=$4 WORK_BASE=$5 LIB=${6:-}
HERE=$(cd "$(dirname "$0")" && pwd)
abs() { case $1 in /*) echo "$1" ;; *) echo "$PWD/$1" ;; esac; }
GEN=$(abs "$GEN") CHECK=$(abs "$CHECK") WORK_BASE=$(abs "$WORK_BASE")
[ -z "$LIB" ] || LIB=$(abs "$LIB")

skip() {
  echo "SKIPPED: $*"
  exit 77
}
PYTHON=$(command -v python3 || true)
[ -n "$PYTHON" ] || skip "no python3"
for tool in mlir-opt mlir-translate llc; do
  [ -x "$LLVM_BIN/$tool" ] || skip "no $LLVM_BIN/$tool (scripts/setup.sh installs mlir-22-tools and llvm-22)"
done
command -v "$CC" >/dev/null 2>&1 || skip "no C compiler $CC"
[ -x "$GEN" ] && [ -x "$CHECK" ] || { echo "FAIL: $GEN or $CHECK is not built"; exit 1; }

mkdir -p "$WORK_BASE" || exit 1
WORK=$(mktemp -d "$WORK_BASE/gpu_kernels_emu.XXXXXX") || exit 1
pids=""
cleanup() {
  for p in $pids; do kill "$p" 2>/dev/null; done
  wait 2>/dev/null
  if [ "${STARC_GPU_EMU_KEEP:-0}" = 1 ]; then echo "kept $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
trap 'echo "FAIL: interrupted"; exit 1' INT TERM
cd "$WORK" || exit 1

if [ -n "$LIB" ]; then
  cp "$LIB" library.mlir || exit 1
else
  "$GEN" > library.mlir || { echo "FAIL: $GEN failed"; exit 1; }
fi
"$CC" -O2 -fPIC -c "$HERE/emulate_runtime.c" -o runtime.o || { echo "FAIL: compiling emulate_runtime.c"; exit 1; }

PIPELINE='builtin.module(lower-affine,convert-scf-to-cf,expand-strided-metadata,finalize-memref-to-llvm,convert-arith-to-llvm,convert-cf-to-llvm,convert-func-to-llvm{use-bare-ptr-memref-call-conv=1},convert-index-to-llvm,reconcile-unrealized-casts)'

# One emulation: $1 name, $2 checker case list, then emulate_kernels.py's options.
emulate() {
  local name=$1 cases=$2
  shift 2
  set -e
  "$PYTHON" "$HERE/emulate_kernels.py" library.mlir "$@" > "$name.mlir"
  "$LLVM_BIN/mlir-opt" "$name.mlir" --pass-pipeline="$PIPELINE" -o "$name.llvm.mlir"
  "$LLVM_BIN/mlir-translate" --mlir-to-llvmir "$name.llvm.mlir" -o "$name.ll"
  "$LLVM_BIN/llc" -O2 -relocation-model=pic -filetype=obj "$name.ll" -o "$name.o"
  "$CC" -shared -Wl,-z,defs -o "$name.so" "$name.o" runtime.o
  # A kernel that loops (a broken grid-stride loop) should fail here, not at ctest's limit.
  OPENBLAS_NUM_THREADS=1 timeout 120 "$CHECK" "./$name.so" "$cases" ||
    { rc=$?; [ $rc -ne 124 ] || echo "FAIL: $name: over 120 s"; return $rc; }
}

start=$(date +%s)
(emulate full full) > full.log 2>&1 &
full_pid=$!
pids="$full_pid"
(emulate capped capped --grid-yz-limit 3) > capped.log 2>&1 &
capped_pid=$!
pids="$pids $capped_pid"
wait $full_pid
full_rc=$?
wait $capped_pid
capped_rc=$?
pids=""

echo "== as generated (grid y/z limit 65535)"
cat full.log
echo "== grid y/z limit lowered to 3"
cat capped.log
echo "== $(($(date +%s) - start)) s"
if [ $full_rc -ne 0 ] || [ $capped_rc -ne 0 ]; then
  echo "FAIL (exit status: as generated $full_rc, limit 3 $capped_rc)"
  exit 1
fi
echo "PASS"
