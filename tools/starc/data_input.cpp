#include "tools/starc/data_input.h"

#include <fmt/format.h>

#include "runtime/io/npy_map.h"
#include "runtime/io/tensor_file.h"

namespace starc::cli {

Tensor read_data_tensor(const std::string& spec, std::string* stored) {
  TensorSpec s = parse_tensor_spec(spec);
  // A conversion (:f64, :i64) needs the whole array in memory anyway.
  if (s.format != TensorFormat::Npy || s.dtype) return read_tensor_file(s, stored);
  try {
    std::string stored_as;
    Tensor t = map_npy(s.path, &stored_as);
    if (stored) *stored = stored_as;
    return reshape_to(t, s.dims, s.text);
  } catch (const std::bad_alloc&) {
    throw std::runtime_error(fmt::format("{}: out of memory reading it", spec));  // as read_tensor_file says it
  }
}

}  // namespace starc::cli
