# a pasted line of ~40 000 characters (8 000 numbers) overflowed the stack in std::regex
# expect: 8000
# exit: 0
python3 -c "print('x = [' + ', '.join(str(i) for i in range(8000)) + ']'); print('len(x)')" > script.txt
$STARC repl < script.txt
