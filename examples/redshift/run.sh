#!/usr/bin/env bash
# Flagship example: the basic redshift CNN (stdlib/astro/redshift.net) on simulated
# quasar spectra (`starc simulate spectra`, docs/simulators.md). One short epoch of
# training on 8 spectra through the JIT (the first run compiles the training step in
# about half a second; later runs load it from the disk cache), then inference on two
# new spectra with the trained weights. One epoch on 8 spectra does not make a redshift
# estimator — the point is the pipeline: check, params, train, run.
set -euo pipefail
cd "$(dirname "$0")/../.."
out=${TMPDIR:-/tmp}/starc-redshift-example
mkdir -p "$out"
build/starc simulate spectra --n 8 --seed 7 -o "$out/train"
build/starc simulate spectra --n 2 --seed 1 -o "$out/test"
build/starc check stdlib/astro/redshift.net
build/starc params stdlib/astro/redshift.net | tail -1
build/starc train stdlib/astro/redshift.net --data flux="$out/train/flux.npy" --data z="$out/train/z.npy" \
    --epochs 1 --batch 4 --seed 42 --checkpoint "$out/ckpt" --out "$out/weights.npz"
build/starc run stdlib/astro/redshift.net --in flux="$out/test/flux.npy" --weights "$out/weights.npz" --out "$out/z.npy"
build/starc run stdlib/astro/redshift.net --in flux="$out/test/flux.npy" --weights "$out/weights.npz"
echo "learning curve: $out/ckpt/history.csv and $out/ckpt/history.svg"
