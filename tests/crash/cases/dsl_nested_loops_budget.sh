# two nested 0..99999 loops hung (the limit was per loop)
# expect: compile-time work exceeds the budget
cat > m.net <<'EOF'
model M(x: f32[B, 4]) -> f32[B, 4] {
    s = 0
    for i in 0..99999 {
        for j in 0..99999 {
            s = s + 1
        }
    }
    return x
}
EOF
$STARC check m.net
