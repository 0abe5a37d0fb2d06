#!/usr/bin/env bash
# Quasar / galaxy classification of SDSS-like spectra with stdlib/astro/qso_galaxy.net
# (the redshift CNN with two outputs): simulate a mixed sample (half each), train,
# evaluate on held-out spectra of another seed. Results: docs/results.md.
#
#   examples/qso_galaxy/run.sh                          # quick smoke run
#   STARC_EXAMPLE_SCALE=full examples/qso_galaxy/run.sh # the results run
#   STARC_DIFFICULTY=realistic STARC_EXAMPLE_SCALE=full examples/qso_galaxy/run.sh
#       # SDSS/BOSS-like spectra (docs/simulators.md, "Difficulty"), plus the held-out
#       # accuracy in bins of S/N (snr_bins.py, needs python3)
#
# Output in ${TMPDIR:-/tmp}/starc-qso_galaxy-example: weights.npz, eval.json,
# plots/ (confusion.svg, roc.svg), ckpt/history.svg.
set -euo pipefail
cd "$(dirname "$0")/../.."
source examples/common.sh
example_setup qso_galaxy "64 32 1" "2000 500 3"
difficulty=${STARC_DIFFICULTY:-easy}
case $difficulty in
    easy) difficulty_flag="" ;;   # the simulator's default: the CI path stays as it was
    realistic) difficulty_flag="--difficulty realistic" ;;
    *) echo "error: STARC_DIFFICULTY must be easy or realistic, not '$difficulty'" >&2; exit 1 ;;
esac
build/starc simulate spectra --kind mixed $difficulty_flag --n "$n_train" --seed 7 -o "$out/train"
build/starc simulate spectra --kind mixed $difficulty_flag --n "$n_test" --seed 1 -o "$out/test"   # held out: another seed
build/starc train stdlib/astro/qso_galaxy.net --data flux="$out/train/flux.npy" --data label="$out/train/label.npy" \
    --val flux="$out/test/flux.npy" --val label="$out/test/label.npy" \
    --epochs "$epochs" --batch 32 --seed 42 --threads "$threads" --progress none \
    --checkpoint "$out/ckpt" --out "$out/weights.npz"
echo "== held-out spectra ($n_test, seed 1)"
build/starc eval stdlib/astro/qso_galaxy.net --weights "$out/weights.npz" --in flux="$out/test/flux.npy" \
    --truth "$out/test/label.npy" --class-names galaxy,quasar --threads "$threads" \
    --json "$out/eval.json" --plots "$out/plots"
if [ "$difficulty" = realistic ]; then
    echo "== held-out accuracy by S/N (median per pixel)"
    build/starc run stdlib/astro/qso_galaxy.net --weights "$out/weights.npz" --in flux="$out/test/flux.npy" \
        --threads "$threads" --out "$out/pred.npy" >/dev/null
    python3 examples/qso_galaxy/snr_bins.py "$out/pred.npy" "$out/test/label.npy" "$out/test/snr.npy"
fi
echo "scale $scale, difficulty $difficulty: $n_train train / $n_test test spectra, $epochs epochs, $((SECONDS - start)) s"
echo "results: $out/eval.json, $out/plots/confusion.svg, $out/plots/roc.svg, $out/ckpt/history.svg"
