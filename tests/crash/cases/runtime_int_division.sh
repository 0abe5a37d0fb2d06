# i64 a / b in generated code: b = 0 raised SIGFPE in the JIT, INT64_MIN / -1 in both backends
# expect: jit [0, 1, -9223372036854775808, 0, -3, -9223372036854775808, 3, 0]
# expect: ref [0, 1, -9223372036854775808, 0, -3, -9223372036854775808, 3, 0]
# exit: 0
cat > m.net <<'EOF2'
model D(a: i64[8], b: i64[8]) -> i64[8] {
    return a / b
}
EOF2
cat > npy.py <<'EOF2'
import struct, sys
def save(path, values):
    h = "{'descr': '<i8', 'fortran_order': False, 'shape': (%d,), }" % len(values)
    h += ' ' * (63 - (10 + len(h)) % 64) + '\n'
    open(path, 'wb').write(b'\x93NUMPY\x01\x00' + struct.pack('<H', len(h)) + h.encode() + struct.pack('<%dq' % len(values), *values))
def load(path):
    b = open(path, 'rb').read()
    n = struct.unpack('<H', b[8:10])[0]
    return list(struct.unpack('<8q', b[10 + n:10 + n + 64]))
if sys.argv[1] == 'save':
    M = -2**63
    save('a.npy', [5, -1, M, 2**63 - 1, -7, M, 7, 0])
    save('b.npy', [0, -1, -1, 0, 2, 1, 2, 0])
else:
    print(sys.argv[2], load(sys.argv[3]))
EOF2
python3 npy.py save || exit 3
$STARC run m.net --in a=a.npy --in b=b.npy --out q.npy > /dev/null || exit 1
python3 npy.py print jit q.npy
$STARC run m.net --backend ref --in a=a.npy --in b=b.npy --out r.npy > /dev/null || exit 1
python3 npy.py print ref r.npy
