#!/usr/bin/env bash
# Flagship example: infer redshifts of two simulated quasar spectra with the basic
# redshift CNN. The weights are freshly initialised (training arrives with `starc
# train`), so the numbers are not yet meaningful redshifts — the point is the pipeline.
set -euo pipefail
cd "$(dirname "$0")/../.."
out=${TMPDIR:-/tmp}/starc-redshift-example
mkdir -p "$out"
build/examples/make_spectra --n 2 --seed 1 -o "$out/flux.npy"
build/starc check stdlib/astro/redshift.net
build/starc params stdlib/astro/redshift.net | tail -1
build/starc init stdlib/astro/redshift.net --seed 42 -o "$out/weights.npz"
build/starc run stdlib/astro/redshift.net --in flux="$out/flux.npy" --weights "$out/weights.npz" --out "$out/z.npy"
build/starc run stdlib/astro/redshift.net --in flux="$out/flux.npy" --weights "$out/weights.npz"
