# `sum(ones([1000000000, 8]))` at the REPL segfaulted (an unchecked 32 GB temporary); now an
# error naming the tensor and its size, and the session goes on
# expect: needs 29.8 GiB
# expect: node %0 (full at <input>:1:5, f32[1000000000,8]), 29.8 GiB); 1.0 GiB allowed
# expect: output = f32[] [3]
printf 'sum(ones([1000000000, 8]))\nsum(ones([3]))\n' | $STARC repl --keep-going --max-memory 1G
