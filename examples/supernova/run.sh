#!/usr/bin/env bash
# Supernova classification (Ia / II / Ibc) from multi-band light curves with the
# bidirectional LSTM of stdlib/astro/supernova.net (Charnock & Moss 2017) on simulated
# light curves (`starc simulate supernova`). Train, then evaluate on held-out curves of
# another seed. Results: docs/results.md.
#
#   examples/supernova/run.sh                          # quick smoke run
#   STARC_EXAMPLE_SCALE=full examples/supernova/run.sh # the results run
#   STARC_DIFFICULTY=realistic STARC_EXAMPLE_SCALE=full examples/supernova/run.sh
#       # survey-like curves (docs/simulators.md, "Difficulty"): 10000 train / 2000 test
#       # (Charnock & Moss's training size), 40 epochs,
#       # and the held-out accuracy binned by peak S/N and host photo-z
#
# Output in ${TMPDIR:-/tmp}/starc-supernova-example: weights.npz, eval.json,
# plots/ (confusion.svg, roc.svg), ckpt/history.svg; realistic: also logits.npy.
set -euo pipefail
cd "$(dirname "$0")/../.."
source examples/common.sh
difficulty=${STARC_DIFFICULTY:-easy}
case $difficulty in
    easy) example_setup supernova "256 128 1" "10000 2000 4" ;;
    realistic) example_setup supernova "256 128 1" "10000 2000 40" ;;
    *) echo "error: STARC_DIFFICULTY must be easy or realistic, not '$difficulty'" >&2; exit 1 ;;
esac
build/starc simulate supernova --difficulty "$difficulty" --n "$n_train" --seed 7 -o "$out/train"
build/starc simulate supernova --difficulty "$difficulty" --n "$n_test" --seed 1 -o "$out/test"   # held out: another seed
build/starc train stdlib/astro/supernova.net --data lc="$out/train/lc.npy" --data label="$out/train/label.npy" \
    --val lc="$out/test/lc.npy" --val label="$out/test/label.npy" \
    --epochs "$epochs" --batch 32 --seed 42 --threads "$threads" --progress none \
    --checkpoint "$out/ckpt" --out "$out/weights.npz"
echo "== held-out light curves ($n_test, seed 1, difficulty $difficulty)"
build/starc eval stdlib/astro/supernova.net --weights "$out/weights.npz" --in lc="$out/test/lc.npy" \
    --truth "$out/test/label.npy" --class-names Ia,II,Ibc --threads "$threads" \
    --json "$out/eval.json" --plots "$out/plots"
if [[ $difficulty == realistic ]]; then
    build/starc run stdlib/astro/supernova.net --weights "$out/weights.npz" --in lc="$out/test/lc.npy" \
        --threads "$threads" --out "$out/logits.npy"
    python=${STARC_PYTHON:-/usr/bin/python3}
    if "$python" -c 'import numpy' 2>/dev/null; then
        "$python" examples/supernova/binned_accuracy.py "$out/test/lc.npy" "$out/test/label.npy" "$out/logits.npy"
    else
        echo "(no numpy for $python: binned accuracy skipped; set STARC_PYTHON)"
    fi
fi
echo "scale $scale: $n_train train / $n_test test light curves, $epochs epochs, $((SECONDS - start)) s"
echo "results: $out/eval.json, $out/plots/confusion.svg, $out/plots/roc.svg, $out/ckpt/history.svg"
