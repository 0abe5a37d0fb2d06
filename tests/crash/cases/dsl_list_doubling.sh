# a list doubled in a loop grew ~200 MB/s until bad_alloc
# expect: is too long (limit
cat > m.net <<'EOF'
model M(x: f32[B, 4]) -> f32[B, 4] {
    l = [1]
    for i in 0..64 {
        l = l + l
    }
    return x
}
EOF
$STARC check m.net
