# i64 ** with a negative exponent (the JIT refused it), 10 ** 30 (the reference went through double: UB),
# f32 -> i64 casts of NaN / inf / 1e30 (undefined): the documented numbers, the same on both backends
# expect: jit pow [1, -1, 0, 0, 1, 49, 0, 5076944270305263616]
# expect: ref pow [1, -1, 0, 0, 1, 49, 0, 5076944270305263616]
# expect: jit cast [0, 9223372036854775807, -9223372036854775808, 9223372036854775807, -9223372036854775808, 2, -2, 0]
# expect: ref cast [0, 9223372036854775807, -9223372036854775808, 9223372036854775807, -9223372036854775808, 2, -2, 0]
# exit: 0
cat > m.net <<'EOF2'
model P(a: i64[8], b: i64[8], x: f32[8]) -> (p: i64[8], c: i64[8]) {
    return (a ** b, cast(x, i64))
}
EOF2
cat > npy.py <<'EOF2'
import struct, sys
def save(path, code, fmt, values):
    h = "{'descr': '%s', 'fortran_order': False, 'shape': (%d,), }" % (code, len(values))
    h += ' ' * (63 - (10 + len(h)) % 64) + '\n'
    open(path, 'wb').write(b'\x93NUMPY\x01\x00' + struct.pack('<H', len(h)) + h.encode() + struct.pack('<%d%s' % (len(values), fmt), *values))
def load(path):
    b = open(path, 'rb').read()
    n = struct.unpack('<H', b[8:10])[0]
    return list(struct.unpack('<8q', b[10 + n:10 + n + 64]))
if sys.argv[1] == 'save':
    save('a.npy', '<i8', 'q', [0, -1, 5, -2**63, 7, -7, 0, 10])
    save('b.npy', '<i8', 'q', [0, -1, -2, -1, 0, 2, -1, 30])
    save('x.npy', '<f4', 'f', [float('nan'), float('inf'), float('-inf'), 1e30, -1e30, 2.5, -2.5, -0.0])
else:
    print(sys.argv[2], 'pow', load(sys.argv[3]))
    print(sys.argv[2], 'cast', load(sys.argv[4]))
EOF2
python3 npy.py save || exit 3
for backend in jit ref; do
  $STARC run m.net --backend $backend --in a=a.npy --in b=b.npy --in x=x.npy --out p=p.npy --out c=c.npy > /dev/null || exit 1
  python3 npy.py print $backend p.npy c.npy
done
