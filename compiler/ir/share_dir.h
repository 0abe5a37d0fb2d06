// compiler/ir: where starc's data files are — the standard library (`use std.nn`) and the
// C sources of the kernel library that `starc compile` builds into each AOT library — so
// that an installed or moved starc works without the source tree. (In the lowest library
// because the front end and the AOT builder both need it.)
//
// A binary inside this build tree uses the source tree. Any other looks for
// <ancestor>/share/starc/ among the first ancestors of the folder of the binary holding
// this code (bin/starc; the Python extension in lib/python3/dist-packages/starc/): an
// installed tree, wherever it was moved; then falls back to the source tree if it exists.
#pragma once
#include <string>

namespace starc {

// The stdlib folder (its std/ and astro/ modules), or "" when there is none.
const std::string& stdlib_dir();

// The folder of starc_kernels.c, starc_fft_conv.c and starc_cuda.c, or "".
const std::string& kernel_sources_dir();

// The file of the binary that holds this code (the executable, or the shared object).
std::string this_binary_path();

}  // namespace starc
