// tools/starc: the data files of `starc train` and `starc run`, .npy ones memory-mapped
// (runtime/io/npy_map.h) so that inputs larger than memory stream through in batches.
#pragma once
#include <string>

#include "compiler/ir/tensor.h"

namespace starc::cli {

// read_tensor_file(spec, stored), except that a plain .npy (FILE.npy or FILE.npy:[dims]
// without a type conversion) comes from map_npy: mapped when large and stored as read.
//
// `@LIST` (a text file naming .npy files, one a line, relative to it) and `DIR/` (a
// folder's *.npy, sorted by name) are one dataset: the files' rows one after another
// (map_npy_files), read by rows as a mapped file is. Only code that goes through
// gather_rows / copy_rows may use such a tensor; others take in_memory(t).
Tensor read_data_tensor(const std::string& spec, std::string* stored = nullptr);

// `t` with its elements in memory: a file list's rows copied out, anything else as is.
Tensor in_memory(const Tensor& t);

}  // namespace starc::cli
