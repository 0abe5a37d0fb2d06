# a large negative int printed as the symbolic dim B
# expect: int -1099511627776
# expect: ok (1 model
# exit: 0
cat > m.net <<'EOF'
model M(x: f32[B, 4]) -> f32[B, 4] {
    print(0 - 1099511627776)
    return x
}
EOF
$STARC check m.net
