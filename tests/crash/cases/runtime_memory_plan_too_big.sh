# a model whose temporaries need ~100 TB at the batch given segfaulted in JIT code; now the run
# is refused before it starts, naming the largest tensor and the sizes (or, where the machine's
# available memory is unknown, the allocation fails cleanly: both name the node)
# expect: node %2 (matmul at m.net:2:18, f32[25000,1000000000])
# expect: model Huge needs 3.7 GiB at B=1000
# expect: 1.0 GiB allowed (--max-memory)
cat > m.net <<'EOF2'
model Huge(x: f32[B, 1]) -> f32[B] {
    let h = relu(x @ ones([1, 1000000000]))
    return sum(h * h, axes: [1])
}
EOF2
python3 -c "
import struct
def save(path, n):
    h = \"{'descr': '<f4', 'fortran_order': False, 'shape': (%d, 1), }\" % n
    h += ' ' * (63 - (10 + len(h)) % 64) + '\n'
    open(path, 'wb').write(b'\x93NUMPY\x01\x00' + struct.pack('<H', len(h)) + h.encode() + struct.pack('<%df' % n, *([1.0] * n)))
save('x.npy', 25000)
save('small.npy', 1000)
" || exit 3
$STARC run m.net --in x=x.npy
sed -i 's/1000000000/1000000/' m.net
$STARC run m.net --in x=small.npy --max-memory 1G
