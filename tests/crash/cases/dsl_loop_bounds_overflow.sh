# a loop from INT64_MIN to INT64_MAX overflowed the length check
# expect: is too long
cat > m.net <<'EOF'
model M(x: f32[B, 4]) -> f32[B, 4] {
    for i in (0 - 9223372036854775807 - 1)..9223372036854775807 {
        n = i
    }
    return x
}
EOF
$STARC check m.net
