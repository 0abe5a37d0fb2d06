#!/usr/bin/env bash
# Quasar / galaxy classification of SDSS-like spectra with stdlib/astro/qso_galaxy.net
# (the redshift CNN with two outputs): simulate a mixed sample (half each), train,
# evaluate on held-out spectra of another seed. Results: docs/results.md.
#
#   examples/qso_galaxy/run.sh                          # quick smoke run
#   STARC_EXAMPLE_SCALE=full examples/qso_galaxy/run.sh # the results run
#
# Output in ${TMPDIR:-/tmp}/starc-qso_galaxy-example: weights.npz, eval.json,
# plots/ (confusion.svg, roc.svg), ckpt/history.svg.
set -euo pipefail
cd "$(dirname "$0")/../.."
source examples/common.sh
example_setup qso_galaxy "64 32 1" "2000 500 3"
build/starc simulate spectra --kind mixed --n "$n_train" --seed 7 -o "$out/train"
build/starc simulate spectra --kind mixed --n "$n_test" --seed 1 -o "$out/test"   # held out: another seed
build/starc train stdlib/astro/qso_galaxy.net --data flux="$out/train/flux.npy" --data label="$out/train/label.npy" \
    --val flux="$out/test/flux.npy" --val label="$out/test/label.npy" \
    --epochs "$epochs" --batch 32 --seed 42 --threads "$threads" --progress none \
    --checkpoint "$out/ckpt" --out "$out/weights.npz"
echo "== held-out spectra ($n_test, seed 1)"
build/starc eval stdlib/astro/qso_galaxy.net --weights "$out/weights.npz" --in flux="$out/test/flux.npy" \
    --truth "$out/test/label.npy" --class-names galaxy,quasar --threads "$threads" \
    --json "$out/eval.json" --plots "$out/plots"
echo "scale $scale: $n_train train / $n_test test spectra, $epochs epochs, $((SECONDS - start)) s"
echo "results: $out/eval.json, $out/plots/confusion.svg, $out/plots/roc.svg, $out/ckpt/history.svg"
