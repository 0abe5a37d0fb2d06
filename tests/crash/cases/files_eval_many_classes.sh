# starc eval with 3 million classes (a confusion matrix of 9e12 counts) ended in std::bad_alloc
# expect: --pred pred.npy f32[1,3000000]: the metrics of 3000000 classes
python3 - <<'PY'
import struct
def npy(path, descr, shape, data):
    d = "{%r: %r, %r: False, %r: %s, }" % ("descr", descr, "fortran_order", "shape", shape)
    d += " " * ((64 - (10 + len(d) + 1) % 64) % 64) + "\n"
    open(path, "wb").write(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(d)) + d.encode() + data)
npy("pred.npy", "<f4", "(1, 3000000)", bytes(12000000))
npy("truth.npy", "<i8", "(1,)", struct.pack("<q", 0))
PY
$STARC eval --pred pred.npy --truth truth.npy --task classification
