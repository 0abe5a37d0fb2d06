# a file size limit (as a full cache disk) made every run fail with "LLVM ERROR: IO failure"
# expect: warning: JIT disk cache:
# expect: output: f32[4,1]
# exit: 0
. "$SRC/tests/crash/lib.sh"
photoz_input x.npy
( ulimit -f 2; $STARC run $SRC/stdlib/astro/photoz.net --in x.npy )
