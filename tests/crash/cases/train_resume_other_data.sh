# `--resume` with other data of the same sample count was accepted (docs/cli.md says it is refused)
# expect: --resume: the training data differs from the data the checkpoint was written for
$STARC simulate photoz --n 64 --seed 1 -o a > /dev/null || exit 3
$STARC simulate photoz --n 64 --seed 2 -o b > /dev/null || exit 3
$STARC train "$SRC/stdlib/astro/photoz.net" --data mags=a/mags.npy --data z=a/z.npy --epochs 1 --batch 16 \
  --checkpoint ck --progress none > /dev/null || exit 3
$STARC train "$SRC/stdlib/astro/photoz.net" --data mags=b/mags.npy --data z=b/z.npy --epochs 2 --batch 16 \
  --checkpoint ck --resume --progress none
