# let n = -2000000000000 + 1 segfaulted in dim_str
# expect: int -1999999999999
# expect: ok (1 model
# exit: 0
cat > m.net <<'EOF'
model M(x: f32[B, 4]) -> f32[B, 4] {
    let n = -2000000000000 + 1
    print(n)
    return x
}
EOF
$STARC check m.net
