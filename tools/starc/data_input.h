// tools/starc: the data files of `starc train` and `starc run`, .npy ones memory-mapped
// (runtime/io/npy_map.h) so that inputs larger than memory stream through in batches.
#pragma once
#include <string>

#include "compiler/ir/tensor.h"

namespace starc::cli {

// read_tensor_file(spec, stored), except that a plain .npy (FILE.npy or FILE.npy:[dims]
// without a type conversion) comes from map_npy: mapped when large and stored as read.
Tensor read_data_tensor(const std::string& spec, std::string* stored = nullptr);

}  // namespace starc::cli
