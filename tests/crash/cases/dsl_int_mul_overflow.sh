# static int product past INT64_MAX wrapped silently
# expect: m.net:2:9: error: integer overflow: 9223372036854775807 * 3
cat > m.net <<'EOF'
model M(x: f32[B, 4]) -> f32[B, 4] {
    n = 9223372036854775807 * 3
    return x
}
EOF
$STARC check m.net
