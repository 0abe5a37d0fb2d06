# a 10 MB identifier took 19 s (edit distance against every builtin) and printed 10 MB twice
# expect: identifier of 10000000 characters is too long (limit 256)
python3 -c "
import sys
sys.stdout.write('model M(x: f32[B, 4]) -> f32[B, 4] {\n    return ' + 'a' * 10000000 + '\n}\n')
" > long.net
$STARC check long.net > out.txt 2>&1
rc=$?
head -c 3000 out.txt
size=$(wc -c < out.txt)
if [ "$size" -gt 20000 ]; then echo "output of $size bytes is too large"; exit 2; fi
exit $rc
