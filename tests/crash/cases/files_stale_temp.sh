# a killed writer's temporary file (history.svg.tmpPID) stayed beside its output for good
# expect: no stale temporary left
# exit: 0
. "$SRC/tests/crash/lib.sh"
photoz_input x.npy
dead=$(sh -c 'echo $$')
printf 'left by a killed run' > "y.npy.tmp$dead"
$STARC run $SRC/stdlib/astro/photoz.net --in x.npy --out y.npy || exit 2
ls
test ! -e "y.npy.tmp$dead" && echo "no stale temporary left"
