# 2 ** 100000 wrapped to 0 with exit 0
# expect: m.net:2:9: error: integer overflow: 2 ** 100000
cat > m.net <<'EOF'
model M(x: f32[B, 4]) -> f32[B, 4] {
    n = 2 ** 100000
    return x
}
EOF
$STARC check m.net
