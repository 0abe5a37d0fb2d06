#!/usr/bin/env bash
# Star / galaxy classification of ugriz cut-outs with the Kim & Brunner (2017) CNN
# (stdlib/astro/star_galaxy.net) on simulated images (`starc simulate star_galaxy`:
# PSF stars and Sersic galaxies, median r-band S/N 30). Train, then evaluate on
# held-out cut-outs of another seed. Results: docs/results.md.
#
#   examples/star_galaxy/run.sh                          # quick smoke run
#   STARC_EXAMPLE_SCALE=full examples/star_galaxy/run.sh # the results run (~15 min)
#   STARC_DIFFICULTY=realistic examples/star_galaxy/run.sh
#
# STARC_DIFFICULTY (default easy) is the simulator's --difficulty: realistic adds SDSS-like
# magnitudes, seeing, blends, cosmic rays, bad columns and background gradients
# (docs/simulators.md, "Difficulty"). Output in ${TMPDIR:-/tmp}/starc-star_galaxy-example:
# weights.npz, eval.json, plots/ (confusion.svg, roc.svg), ckpt/history.svg, saliency.svg
# (one galaxy's map), binned.txt (accuracy and AUC by r magnitude and by S/N).
set -euo pipefail
cd "$(dirname "$0")/../.."
source examples/common.sh
example_setup star_galaxy "128 64 1" "16000 1000 6"
difficulty=${STARC_DIFFICULTY:-easy}
# Realistic cut-outs span r = 15-22.5 (a bright star's core ~1000 sky sigma): the network
# reads them as asinh magnitudes, Kim & Brunner's input (train.net, StarGalaxyAsinh).
case $difficulty in
    easy) model=StarGalaxy net=stdlib/astro/star_galaxy.net ;;
    realistic) model=StarGalaxyAsinh net=examples/star_galaxy/train.net ;;
    *) echo "error: STARC_DIFFICULTY must be easy or realistic, not '$difficulty'" >&2; exit 1 ;;
esac
build/starc simulate star_galaxy --difficulty "$difficulty" --n "$n_train" --seed 7 -o "$out/train"
build/starc simulate star_galaxy --difficulty "$difficulty" --n "$n_test" --seed 1 -o "$out/test"   # held out: another seed
build/starc train examples/star_galaxy/train.net --model "$model" --data img="$out/train/img.npy" --data label="$out/train/label.npy" \
    --val img="$out/test/img.npy" --val label="$out/test/label.npy" \
    --epochs "$epochs" --batch 32 --seed 42 --threads "$threads" --progress none \
    --checkpoint "$out/ckpt" --out "$out/weights.npz"
echo "== held-out cut-outs ($n_test, seed 1)"
build/starc eval "$net" --model "$model" --weights "$out/weights.npz" --in img="$out/test/img.npy" \
    --truth "$out/test/label.npy" --class-names star,galaxy --threads "$threads" \
    --json "$out/eval.json" --plots "$out/plots"
echo "== by r magnitude and S/N ($difficulty)"
build/starc run "$net" --model "$model" --weights "$out/weights.npz" --in img="$out/test/img.npy" \
    --threads "$threads" --out "$out/pred.npy"
python3 examples/star_galaxy/binned.py "$out/pred.npy" "$out/test/label.npy" "$out/test/r_mag.npy" \
    "$out/test/snr.npy" | tee "$out/binned.txt"
build/starc explain "$net" --model "$model" --weights "$out/weights.npz" --in img="$out/test/img.npy" \
    --index 0 -o "$out/saliency.npy" --plot "$out/saliency.svg"
echo "scale $scale, difficulty $difficulty: $n_train train / $n_test test cut-outs, $epochs epochs, $((SECONDS - start)) s"
echo "results: $out/eval.json, $out/binned.txt, $out/plots/confusion.svg, $out/plots/roc.svg, $out/ckpt/history.svg, $out/saliency.svg"
