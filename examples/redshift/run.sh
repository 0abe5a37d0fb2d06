#!/usr/bin/env bash
# Flagship example: quasar redshifts with the basic redshift CNN (stdlib/astro/redshift.net)
# on simulated SDSS-like quasar spectra (`starc simulate spectra`, docs/simulators.md):
# simulate -> train -> evaluate on held-out spectra (another seed) -> explain one spectrum
# with Integrated Gradients. Results: docs/results.md. Training uses the model's loss and
# optimizer with a warm-up + cosine learning-rate schedule (examples/redshift/train.net
# says why); the weights are RedshiftCNN's, so eval and explain read the stdlib file.
#
#   examples/redshift/run.sh                          # quick smoke run (about 15 s)
#   STARC_EXAMPLE_SCALE=full examples/redshift/run.sh # the results run of docs/results.md (~15 min)
#
# Output in ${TMPDIR:-/tmp}/starc-redshift-example: weights.npz, eval.json, plots/
# (pred_vs_true.svg), ckpt/history.svg (learning curve), ig.svg (attribution).
set -euo pipefail
cd "$(dirname "$0")/../.."
source examples/common.sh
example_setup redshift "64 32 1" "24000 2000 12"
build/starc simulate spectra --kind qso --n "$n_train" --seed 7 -o "$out/train"
build/starc simulate spectra --kind qso --n "$n_test" --seed 1 -o "$out/test"   # held out: another seed
build/starc params stdlib/astro/redshift.net | tail -1
build/starc train examples/redshift/train.net --model RedshiftCNN --data flux="$out/train/flux.npy" --data z="$out/train/z.npy" \
    --val flux="$out/test/flux.npy" --val z="$out/test/z.npy" \
    --epochs "$epochs" --batch 32 --seed 42 --threads "$threads" --progress none \
    --checkpoint "$out/ckpt" --out "$out/weights.npz"
echo "== held-out spectra ($n_test, seed 1): |dz|/(1+z) < 0.05 is accurate_fraction"
build/starc eval stdlib/astro/redshift.net --weights "$out/weights.npz" --in flux="$out/test/flux.npy" \
    --truth "$out/test/z.npy" --task redshift --threads "$threads" --json "$out/eval.json" --plots "$out/plots"
build/starc explain stdlib/astro/redshift.net --weights "$out/weights.npz" --in flux="$out/test/flux.npy" \
    --index 0 --method ig --steps 32 -o "$out/ig.npy" --plot "$out/ig.svg" --loglam "$out/test/loglam.npy"
echo "scale $scale: $n_train train / $n_test test spectra, $epochs epochs, $((SECONDS - start)) s"
echo "results: $out/eval.json, $out/plots/pred_vs_true.svg, $out/ckpt/history.svg, $out/ig.svg"
