#!/usr/bin/env bash
# The redshift CNN trained twice from the same seed, with FFT and with direct
# convolution, and evaluated on held-out simulated spectra: the algorithm must not
# change what the model learns. Usage: bench/redshift_fft_accuracy.sh [N_TRAIN] [EPOCHS]
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-1024} epochs=${2:-4}
out=${TMPDIR:-/tmp}/starc-fft-accuracy
mkdir -p "$out"
build/examples/make_spectra --n "$n" --seed 11 -o "$out/tr_x.npy" --labels "$out/tr_z.npy" > /dev/null
build/examples/make_spectra --n 256 --seed 12 -o "$out/te_x.npy" --labels "$out/te_z.npy" > /dev/null
for algo in fft direct; do
  build/starc train stdlib/astro/redshift.net --data flux="$out/tr_x.npy" --data z="$out/tr_z.npy" \
      --epochs "$epochs" --batch 32 --seed 3 --conv-algo $algo --progress none --out "$out/w_$algo.npz"
  build/starc run stdlib/astro/redshift.net --in flux="$out/te_x.npy" --weights "$out/w_$algo.npz" \
      --conv-algo $algo --out "$out/pred_$algo.npy" > /dev/null
done
OUT="$out" /usr/bin/python3 - <<'PY'
import os
import numpy as np
d = os.environ["OUT"]
z = np.load(f"{d}/te_z.npy")[:, 0]
for a in ("fft", "direct"):
    p = np.load(f"{d}/pred_{a}.npy")[:, 0]
    dz = np.abs(p - z) / (1 + z)
    print(f"{a}: fraction |dz|/(1+z) < 0.05 = {np.mean(dz < 0.05):.3f}, MAE {np.mean(np.abs(p - z)):.4f}, "
          f"median |dz|/(1+z) {np.median(dz):.4f}")
pf, pd = np.load(f"{d}/pred_fft.npy")[:, 0], np.load(f"{d}/pred_direct.npy")[:, 0]
print(f"max |pred fft - pred direct| = {np.max(np.abs(pf - pd)):.4g}")
PY
