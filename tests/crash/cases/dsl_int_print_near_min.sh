# print(-9223372036854775807) ended in a bare std::bad_alloc
# expect: int -9223372036854775807
# expect: ok (1 model
# exit: 0
cat > m.net <<'EOF'
model M(x: f32[B, 4]) -> f32[B, 4] {
    print(-9223372036854775807)
    return x
}
EOF
$STARC check m.net
