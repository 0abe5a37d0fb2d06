# the reference interpreter allocated every value of a ~12 GB graph until bad_alloc or the OOM
# killer; it now refuses before running, naming the largest value
# expect: model Huge needs 11.2 GiB at B=1000 for the values of its nodes
# expect: the largest: node %2 (matmul at m.net:2:18, f32[1000,1000000]), 3.7 GiB); 1.0 GiB allowed (--max-memory)
cat > m.net <<'EOF2'
model Huge(x: f32[B, 1]) -> f32[B] {
    let h = relu(x @ ones([1, 1000000]))
    return sum(h * h, axes: [1])
}
EOF2
python3 -c "
import struct
n = 1000
h = \"{'descr': '<f4', 'fortran_order': False, 'shape': (%d, 1), }\" % n
h += ' ' * (63 - (10 + len(h)) % 64) + '\n'
open('x.npy', 'wb').write(b'\x93NUMPY\x01\x00' + struct.pack('<H', len(h)) + h.encode() + struct.pack('<%df' % n, *([1.0] * n)))
" || exit 3
$STARC run m.net --backend ref --in x=x.npy --max-memory 1G
