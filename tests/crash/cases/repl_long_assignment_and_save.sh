# long save(...) and tuple-assignment lines are recognised by a linear scan, not a regex
# expect: wrote out.npy
# expect: n = 20000
# exit: 0
python3 -c "
items = ', '.join(['1'] * 20000)
print('n = len([' + items + '])')
print('n')
print('save(ones([2, 2]) * len([' + items + ']), \"out.npy\")')" > script.txt
$STARC repl < script.txt
