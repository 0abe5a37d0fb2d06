# 2 ** INT64_MAX looped INT64_MAX times (a hang)
# expect: integer overflow: 2 ** 9223372036854775807
cat > m.net <<'EOF'
model M(x: f32[B, 4]) -> f32[B, 4] {
    n = 2 ** 9223372036854775807
    return x
}
EOF
$STARC check m.net
