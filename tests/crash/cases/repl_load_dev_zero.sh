# `:load /dev/zero` read until memory ran out and ended a --keep-going session
# expect: cannot read '/dev/zero': not a regular file
# expect: 2
printf ':load /dev/zero\n1 + 1\n' | $STARC repl --keep-going
