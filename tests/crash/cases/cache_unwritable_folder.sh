# a JIT cache folder that cannot be made or written must not fail the run
# expect: warning: JIT disk cache: cannot create the folder /proc/starc-cache
# expect: output: f32[4,1]
# exit: 0
. "$SRC/tests/crash/lib.sh"
photoz_input x.npy
STARC_CACHE_DIR=/proc/starc-cache $STARC run $SRC/stdlib/astro/photoz.net --in x.npy
