# --out /dev/null (as root) turned the device into a regular file; --out LINK replaced the link
# expect: /dev/null is still a device
# expect: link.npy is still a link to the new output
# expect: the FIFO got the output
# exit: 0
. "$SRC/tests/crash/lib.sh"
photoz_input x.npy
$STARC run $SRC/stdlib/astro/photoz.net --in x.npy --out /dev/null || exit 2
if [ -c /dev/null ]; then echo "/dev/null is still a device"; else rm -f /dev/null; mknod -m 666 /dev/null c 1 3; echo "/dev/null WAS REPLACED"; exit 3; fi
mkdir real && printf old > real/y.npy && ln -s real/y.npy link.npy
$STARC run $SRC/stdlib/astro/photoz.net --in x.npy --out link.npy > /dev/null || exit 4
test -L link.npy && python3 -c "import sys; sys.exit(open('real/y.npy','rb').read(6) != b'\x93NUMPY')" && echo "link.npy is still a link to the new output"
mkfifo out.fifo
cat out.fifo > got.npy &
$STARC run $SRC/stdlib/astro/photoz.net --in x.npy --out out.fifo > /dev/null || exit 5
wait
test -p out.fifo && cmp -s got.npy real/y.npy && echo "the FIFO got the output"
