# a flipped byte in a JIT disk cache entry gave wrong numbers with exit 0 (or crashed)
# expect: checksum mismatch (the file is corrupt); compiling instead
# expect: the same numbers as the clean run
# exit: 0
. "$SRC/tests/crash/lib.sh"
photoz_input x.npy
$STARC run $SRC/stdlib/astro/photoz.net --in x.npy --out clean.npy || exit 2
ls cache/*.jit > /dev/null || exit 2
for f in cache/*.jit; do
  python3 -c "
import sys
b = bytearray(open(sys.argv[1], 'rb').read())
b[len(b) // 2] ^= 0x10
open(sys.argv[1], 'wb').write(b)" "$f"
done
$STARC run $SRC/stdlib/astro/photoz.net --in x.npy --out again.npy || exit 3
cmp clean.npy again.npy && echo "the same numbers as the clean run"
