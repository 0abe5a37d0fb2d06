# a JIT cache folder that cannot be made or written must not fail the run
# expect: warning: JIT disk cache: cannot create the folder /proc/starc-cache
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
STARC_CACHE_DIR=/proc/starc-cache $STARC run $SRC/stdlib/astro/photoz.net --in x.npy
