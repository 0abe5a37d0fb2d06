# an int32 .npy given for an f32 input was reported as i64, without naming its type
# expect: --in mags=x.npy: input 'mags': expected f32[B,5], got i64[4,5] (the file stores int32)
# expect: --in mags=x.npy:f32
python3 - <<'PY'
import struct
d = "{'descr': '<i4', 'fortran_order': False, 'shape': (4, 5), }"
d += " " * ((64 - (10 + len(d) + 1) % 64) % 64) + "\n"
open("x.npy", "wb").write(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(d)) + d.encode() + struct.pack("<20i", *range(20)))
PY
$STARC run $SRC/stdlib/astro/photoz.net --in x.npy
