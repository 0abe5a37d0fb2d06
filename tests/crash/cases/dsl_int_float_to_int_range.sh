# int() of a float beyond 2^63 was undefined behaviour
# expect: int(1e+300) does not fit in a 64-bit integer
cat > m.net <<'EOF'
model M(x: f32[B, 4]) -> f32[B, 4] {
    n = int(1e300)
    return x
}
EOF
$STARC check m.net
