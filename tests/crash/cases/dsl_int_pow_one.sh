# 1 ** INT64_MAX is 1, computed by squaring (not 2^63 multiplications)
# expect: int 1
# expect: ok (1 model
# exit: 0
cat > m.net <<'EOF'
model M(x: f32[B, 4]) -> f32[B, 4] {
    print(1 ** 9223372036854775807)
    return x
}
EOF
$STARC check m.net
