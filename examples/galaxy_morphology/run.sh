#!/usr/bin/env bash
# Galaxy morphology (bulge-dominated / face-on disk / edge-on disk, Galaxy Zoo's first
# questions) with the MobileNet-style CNN of stdlib/astro/galaxy_mobilenet.net on
# simulated bulge+disk cut-outs (`starc simulate galaxies`, peak S/N 50). Train with
# examples/galaxy_morphology/train.net's recipe, then evaluate on held-out cut-outs of
# another seed. Results: docs/results.md.
#
#   examples/galaxy_morphology/run.sh                          # quick smoke run
#   STARC_EXAMPLE_SCALE=full examples/galaxy_morphology/run.sh # the results run
#   STARC_DIFFICULTY=realistic examples/galaxy_morphology/run.sh
#
# STARC_DIFFICULTY (default easy) is the simulator's --difficulty: realistic adds
# per-image seeing, a wide S/N range, overlapping neighbours, cosmic rays and background
# gradients (docs/simulators.md, "Difficulty"; not calibrated against a published result).
# Output in ${TMPDIR:-/tmp}/starc-galaxy_morphology-example: weights.npz, eval.json,
# plots/ (confusion.svg, roc.svg), ckpt/history.svg.
set -euo pipefail
cd "$(dirname "$0")/../.."
source examples/common.sh
example_setup galaxy_morphology "128 64 1" "12000 1000 6"
difficulty=${STARC_DIFFICULTY:-easy}
case $difficulty in
    easy | realistic) ;;
    *) echo "error: STARC_DIFFICULTY must be easy or realistic, not '$difficulty'" >&2; exit 1 ;;
esac
build/starc simulate galaxies --difficulty "$difficulty" --n "$n_train" --seed 7 -o "$out/train"
build/starc simulate galaxies --difficulty "$difficulty" --n "$n_test" --seed 1 -o "$out/test"   # held out: another seed
build/starc train examples/galaxy_morphology/train.net --model GalaxyMobileNet \
    --data img="$out/train/img.npy" --data morphology="$out/train/morphology.npy" \
    --val img="$out/test/img.npy" --val morphology="$out/test/morphology.npy" \
    --epochs "$epochs" --batch 32 --seed 42 --threads "$threads" --progress none \
    --checkpoint "$out/ckpt" --out "$out/weights.npz"
echo "== held-out cut-outs ($n_test, seed 1)"
build/starc eval stdlib/astro/galaxy_mobilenet.net --weights "$out/weights.npz" --in img="$out/test/img.npy" \
    --truth "$out/test/morphology.npy" --class-names bulge,disk,edge-on --threads "$threads" \
    --json "$out/eval.json" --plots "$out/plots"
echo "scale $scale, $difficulty: $n_train train / $n_test test cut-outs, $epochs epochs, $((SECONDS - start)) s"
echo "results: $out/eval.json, $out/plots/confusion.svg, $out/plots/roc.svg, $out/ckpt/history.svg"
