# 500 000 duplicate definitions printed 96 MB of diagnostics
# expect: too many errors
# expect: errors generated (20 shown
python3 -c "
import sys
sys.stdout.write('fn f(x) {\n    return x\n}\n' * 500000)
" > dup.net
$STARC check dup.net > out.txt 2>&1
rc=$?
head -c 4000 out.txt; tail -c 400 out.txt
size=$(wc -c < out.txt)
if [ "$size" -gt 200000 ]; then echo "output of $size bytes is too large"; exit 2; fi
exit $rc
