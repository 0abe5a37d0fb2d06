# a JIT disk cache entry that is a symbolic link to /dev/zero aborted starc
# expect: is a symbolic link; compiling instead
# expect: replaced by a regular entry
# exit: 0
. "$SRC/tests/crash/lib.sh"
photoz_input x.npy
$STARC run $SRC/stdlib/astro/photoz.net --in x.npy || exit 2
for f in cache/*.jit; do rm "$f"; ln -s /dev/zero "$f"; done
$STARC run $SRC/stdlib/astro/photoz.net --in x.npy || exit 3
for f in cache/*.jit; do test -f "$f" && ! test -L "$f" || exit 4; done
test -c /dev/zero && echo "replaced by a regular entry"
