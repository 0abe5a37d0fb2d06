# a small .npz whose entry inflates to 256 MB, 40 times what its .npy header says (a zip bomb)
# expect: bomb.npz:x.npy: the zip says the entry is
python3 - <<'PY'
import struct, zipfile
d = "{'descr': '<f4', 'fortran_order': False, 'shape': (10,), }"
d += " " * ((64 - (10 + len(d) + 1) % 64) % 64) + "\n"
head = b"\x93NUMPY\x01\x00" + struct.pack("<H", len(d)) + d.encode()
with zipfile.ZipFile("bomb.npz", "w", zipfile.ZIP_DEFLATED) as z:
    with z.open("x.npy", "w") as f:
        f.write(head)
        for _ in range(16):
            f.write(bytes(16 << 20))
PY
$STARC convert bomb.npz -o out.npy
