# a JIT disk cache entry that is a FIFO made starc hang
# expect: is a FIFO, not a regular file; compiling instead
# expect: output: f32[4,1]
# exit: 0
. "$SRC/tests/crash/lib.sh"
photoz_input x.npy
$STARC run $SRC/stdlib/astro/photoz.net --in x.npy || exit 2
for f in cache/*.jit; do rm "$f"; mkfifo "$f"; done
$STARC run $SRC/stdlib/astro/photoz.net --in x.npy
