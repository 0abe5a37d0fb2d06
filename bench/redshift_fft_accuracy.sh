#!/usr/bin/env bash
# The redshift example's recipe (examples/redshift/train.net) trained with FFT and with
# direct convolution from the same seeds, each model evaluated by `starc eval` on
# held-out simulated quasar spectra: the algorithm must not change what the model learns
# (docs/performance.md, "Trained accuracy", is this script's default run).
# Usage: bench/redshift_fft_accuracy.sh [N_TRAIN] [EPOCHS] [SEEDS] [THREADS]
#   defaults: 4000 spectra, 6 epochs, seeds "42 43", 1 thread; 500 test spectra.
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-4000} epochs=${2:-6} seeds=${3:-42 43} threads=${4:-1}
out=${TMPDIR:-/tmp}/starc-fft-accuracy
rm -rf "$out" && mkdir -p "$out"
build/starc simulate spectra --kind qso --n "$n" --seed 7 -o "$out/train" > /dev/null
build/starc simulate spectra --kind qso --n 500 --seed 1 -o "$out/test" > /dev/null   # held out: another seed
for seed in $seeds; do
  for algo in fft direct; do
    run=$out/${algo}_$seed
    start=$SECONDS
    build/starc train examples/redshift/train.net --model RedshiftCNN \
        --data flux="$out/train/flux.npy" --data z="$out/train/z.npy" --epochs "$epochs" --batch 32 \
        --seed "$seed" --threads "$threads" --conv-algo $algo --progress none --out "$run.npz" > /dev/null
    build/starc eval stdlib/astro/redshift.net --weights "$run.npz" --in flux="$out/test/flux.npy" \
        --truth "$out/test/z.npy" --task redshift --threads "$threads" --conv-algo $algo --json "$run.json" > /dev/null
    RUN="$run.json" /usr/bin/python3 -c '
import json, os
e = json.load(open(os.environ["RUN"]))
print("%.1f %% within |dz|/(1+z) < 0.05, MSE %.4f, sigma_NMAD %.4f"
      % (100 * e["accurate_fraction"], e["mse"], e["sigma_nmad"]), end="")'
    echo ": $algo, seed $seed, $((SECONDS - start)) s"
  done
done
