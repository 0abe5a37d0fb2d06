# with the memory check off, a temporary no address space can hold (145 TiB) reached the
# generated code's unchecked malloc and segfaulted; the code now returns and the error names it
# expect: out of memory: cannot allocate 145.5 TiB for node %2 (matmul at m.net:2:18, f32[1000000,40000000]) in model Huge
cat > m.net <<'EOF2'
model Huge(x: f32[B, 1]) -> f32[B] {
    let h = relu(x @ ones([1, 40000000]))
    return sum(h * h, axes: [1])
}
EOF2
python3 -c "
import struct
n = 1000000
h = \"{'descr': '<f4', 'fortran_order': False, 'shape': (%d, 1), }\" % n
h += ' ' * (63 - (10 + len(h)) % 64) + '\n'
open('x.npy', 'wb').write(b'\x93NUMPY\x01\x00' + struct.pack('<H', len(h)) + h.encode() + struct.pack('<%df' % n, *([1.0] * n)))
" || exit 3
$STARC run m.net --in x=x.npy --max-memory none
