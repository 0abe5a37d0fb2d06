# `train --out` to a folder that does not exist was found only after training (the weights lost)
# expect: --out /nonexistent-starc-dir/w.npz: folder '/nonexistent-starc-dir' does not exist
$STARC simulate photoz --n 64 --seed 1 -o d > /dev/null || exit 3
$STARC train "$SRC/stdlib/astro/photoz.net" --data mags=d/mags.npy --data z=d/z.npy --epochs 1 --batch 16 \
  --out /nonexistent-starc-dir/w.npz
