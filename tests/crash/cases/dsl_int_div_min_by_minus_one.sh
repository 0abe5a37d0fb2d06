# INT64_MIN / -1 trapped (SIGFPE)
# expect: m.net:2:10: error: integer overflow
cat > m.net <<'EOF'
model M(x: f32[B, 4]) -> f32[B, 4] {
    n = (0 - 9223372036854775807 - 1) / -1
    return x
}
EOF
$STARC check m.net
