#!/usr/bin/env bash
# README command 1: install, build, and run the flagship example — the quasar redshift
# CNN (stdlib/astro/redshift.net) on generated SDSS-like spectra.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
exec examples/redshift/run.sh
