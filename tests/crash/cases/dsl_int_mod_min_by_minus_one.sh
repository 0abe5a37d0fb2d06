# INT64_MIN % -1 trapped (SIGFPE); it is 0
# expect: int 0
# expect: ok (1 model
# exit: 0
cat > m.net <<'EOF'
model M(x: f32[B, 4]) -> f32[B, 4] {
    print((0 - 9223372036854775807 - 1) % -1)
    return x
}
EOF
$STARC check m.net
