# -(INT64_MIN) does not fit
# expect: integer overflow: -(-9223372036854775808)
cat > m.net <<'EOF'
model M(x: f32[B, 4]) -> f32[B, 4] {
    n = -(0 - 9223372036854775807 - 1)
    return x
}
EOF
$STARC check m.net
