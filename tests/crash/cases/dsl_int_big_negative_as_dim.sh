# a huge negative int used as a dim must not pass for a symbolic dim
# expect: m.net:2:
cat > m.net <<'EOF'
model M(x: f32[B, 4]) -> f32[B, 4] {
    y = zeros([0 - 1099511627777, 4])
    return x
}
EOF
$STARC check m.net
