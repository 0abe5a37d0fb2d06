# a flipped byte in a JIT disk cache entry gave wrong numbers with exit 0 (or crashed)
# expect: checksum mismatch (the file is corrupt); compiling instead
# expect: the same numbers as the clean run
# exit: 0
python3 - <<'EOF'
import struct
def npy(path, descr, shape, data):
    d = "{%r: %r, %r: False, %r: %s, }" % ("descr", descr, "fortran_order", "shape", shape)
    d += " " * ((64 - (10 + len(d) + 1) % 64) % 64) + "\n"
    open(path, "wb").write(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(d)) + d.encode() + data)
npy("x.npy", "<f4", "(4, 5)", struct.pack("<20f", *[0.1 * i - 0.7 for i in range(20)]))
EOF
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
