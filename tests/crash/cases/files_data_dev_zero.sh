# a data file that is a link to /dev/zero was read until memory ran out
# expect: z.npy: is a character device, not a data file
ln -s /dev/zero z.npy
$STARC run $SRC/stdlib/astro/photoz.net --in z.npy
