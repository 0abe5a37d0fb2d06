# a killed writer's temporary file (history.svg.tmpPID) stayed beside its output for good
# expect: no stale temporary left
# exit: 0
python3 - <<'EOF'
import struct
def npy(path, descr, shape, data):
    d = "{%r: %r, %r: False, %r: %s, }" % ("descr", descr, "fortran_order", "shape", shape)
    d += " " * ((64 - (10 + len(d) + 1) % 64) % 64) + "\n"
    open(path, "wb").write(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(d)) + d.encode() + data)
npy("x.npy", "<f4", "(4, 5)", struct.pack("<20f", *[0.1 * i - 0.7 for i in range(20)]))
EOF
dead=$(sh -c 'echo $$')
printf 'left by a killed run' > "y.npy.tmp$dead"
$STARC run $SRC/stdlib/astro/photoz.net --in x.npy --out y.npy || exit 2
ls
test ! -e "y.npy.tmp$dead" && echo "no stale temporary left"
