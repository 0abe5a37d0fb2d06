# Helpers the crash cases source: `. "$SRC/tests/crash/lib.sh"`.

# photoz_input PATH: an f32[4,5] .npy (a batch of four photo-z magnitude rows), written
# without NumPy so the case depends on nothing but python3.
photoz_input() {
  python3 - "$1" <<'PY'
import struct, sys
d = "{'descr': '<f4', 'fortran_order': False, 'shape': (4, 5), }"
d += " " * ((64 - (10 + len(d) + 1) % 64) % 64) + "\n"
data = struct.pack("<20f", *[0.1 * i - 0.7 for i in range(20)])
open(sys.argv[1], "wb").write(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(d)) + d.encode() + data)
PY
}
