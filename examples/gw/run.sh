#!/usr/bin/env bash
# Gravitational-wave detection with Deep Filtering (stdlib/astro/deep_filtering.net,
# George & Huerta 2018, shallow variant) on simulated whitened strain (`starc simulate gw`:
# half the series hold a binary-inspiral chirp of optimal matched-filter SNR $GW_SNR,
# default 10). Train, then evaluate on held-out series of another seed.
# Results: docs/results.md.
#
#   examples/gw/run.sh                          # quick smoke run
#   STARC_EXAMPLE_SCALE=full examples/gw/run.sh # the results run
#
# Output in ${TMPDIR:-/tmp}/starc-gw-example: weights.npz, eval.json,
# plots/ (confusion.svg, roc.svg), ckpt/history.svg.
set -euo pipefail
cd "$(dirname "$0")/../.."
source examples/common.sh
example_setup gw "128 64 1" "5000 1000 5"
snr=${GW_SNR:-10}
build/starc simulate gw --snr "$snr" --n "$n_train" --seed 7 -o "$out/train"
build/starc simulate gw --snr "$snr" --n "$n_test" --seed 1 -o "$out/test"   # held out: another seed
build/starc train stdlib/astro/deep_filtering.net --data strain="$out/train/strain.npy" --data label="$out/train/label.npy" \
    --val strain="$out/test/strain.npy" --val label="$out/test/label.npy" \
    --epochs "$epochs" --batch 32 --seed 42 --threads "$threads" --progress none \
    --checkpoint "$out/ckpt" --out "$out/weights.npz"
echo "== held-out strain ($n_test, seed 1, SNR $snr)"
build/starc eval stdlib/astro/deep_filtering.net --weights "$out/weights.npz" --in strain="$out/test/strain.npy" \
    --truth "$out/test/label.npy" --class-names noise,chirp --threads "$threads" \
    --json "$out/eval.json" --plots "$out/plots"
echo "scale $scale: $n_train train / $n_test test series at SNR $snr, $epochs epochs, $((SECONDS - start)) s"
echo "results: $out/eval.json, $out/plots/confusion.svg, $out/plots/roc.svg, $out/ckpt/history.svg"
