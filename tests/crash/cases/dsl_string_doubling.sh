# a string doubled in a loop grew without bound
# expect: is too long (limit
cat > m.net <<'EOF'
model M(x: f32[B, 4]) -> f32[B, 4] {
    s = "ab"
    for i in 0..64 {
        s = s + s
    }
    return x
}
EOF
$STARC check m.net
