# a CSV file starting with a UTF-8 byte-order mark: its first column was named "\xEF\xBB\xBFa"
# expect: wrote f32[2,1] to a.npy
# exit: 0
printf '\xef\xbb\xbfa,b\n1,2\n3,4\n' > bom.csv
$STARC convert 'bom.csv#a' -o a.npy
