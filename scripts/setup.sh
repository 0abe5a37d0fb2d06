#!/usr/bin/env bash
# Installs every Debian 12 package starc needs (skipping those present) and builds it.
# Usage: scripts/setup.sh            (build into ./build)
set -euo pipefail
cd "$(dirname "$0")/.."

PACKAGES=(
  # build
  g++ cmake ninja-build ccache mold pkg-config
  # libraries used now
  libeigen3-dev libfmt-dev libgtest-dev libzip-dev zlib1g-dev libcli11-dev
  # BLAS behind the matmul and convolution kernels (linked statically into AOT libraries)
  libopenblas-dev
  # the lowering layer (MLIR/LLVM 22) and later stages; llvm-22-tools: lit and FileCheck (tests/lit)
  libmlir-22-dev mlir-22-tools llvm-22-dev llvm-22-tools libomp-22-dev libedit-dev libcfitsio-dev libfftw3-dev
  # the REPL's terminal test
  tmux
  # PyTorch for equivalence tests and benchmarks (run with /usr/bin/python3)
  python3-torch python3-numpy
  # the Python module (tools/python, docs/python.md) and its tests (tests/python)
  pybind11-dev python3-pybind11 python3-pytest
  # Graphviz draws a model's graph for Model._repr_svg_ in Jupyter (starc graph --emit dot)
  graphviz
  # astropy writes and reads the FITS files of the FITS tests (tests/unit/fits_test.cpp)
  python3-astropy
  # the ASan/UBSan build and the libFuzzer harnesses (scripts/asan_test.sh, scripts/fuzz.sh)
  clang-22 libclang-rt-22-dev
  # ONNX import and export (runtime/onnx): the protobuf classes and checker; python3-onnx
  # checks exported files in the tests (onnx.checker)
  libonnx-dev libprotobuf-dev python3-onnx
  # the code style (.clang-format; scripts/format.sh --check in CI)
  clang-format-22
  # MPI for data-parallel training and sharded runs (runtime/dist, docs/distributed.md)
  libopenmpi-dev openmpi-bin
)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}"
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# ONNX Runtime, the second runtime that checks `starc export` (docs/onnx.md): Node.js from
# Debian where node or npm is missing (a node that bundles its npm, e.g. nodesource's, is
# kept), then the npm package onnxruntime-node into build/ort. Its CPU library ships inside
# the package, so its install script (which fetches GPU libraries) is skipped.
ORT_NODE_VERSION=1.20.1
node_missing=()
command -v node >/dev/null || node_missing+=(nodejs)
command -v npm >/dev/null || node_missing+=(npm)
if ((${#node_missing[@]})); then
  echo "setup: installing ${node_missing[*]}"
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${node_missing[@]}"
fi
if ! grep -qs "\"version\": \"$ORT_NODE_VERSION\"" build/ort/node_modules/onnxruntime-node/package.json; then
  echo "setup: npm install onnxruntime-node@$ORT_NODE_VERSION into build/ort"
  mkdir -p build/ort
  npm install --ignore-scripts --no-audit --no-fund --prefix build/ort "onnxruntime-node@$ORT_NODE_VERSION"
fi

cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
ninja -C build
