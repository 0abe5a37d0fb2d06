# a JIT disk cache entry that is a FIFO made starc hang
# expect: is a FIFO, not a regular file; compiling instead
# expect: output: f32[4,1]
# exit: 0
python3 - <<'EOF'
import struct
def npy(path, descr, shape, data):
    d = "{%r: %r, %r: False, %r: %s, }" % ("descr", descr, "fortran_order", "shape", shape)
    d += " " * ((64 - (10 + len(d) + 1) % 64) % 64) + "\n"
    open(path, "wb").write(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(d)) + d.encode() + data)
npy("x.npy", "<f4", "(4, 5)", struct.pack("<20f", *[0.1 * i - 0.7 for i in range(20)]))
EOF
$STARC run $SRC/stdlib/astro/photoz.net --in x.npy || exit 2
for f in cache/*.jit; do rm "$f"; mkfifo "$f"; done
$STARC run $SRC/stdlib/astro/photoz.net --in x.npy
