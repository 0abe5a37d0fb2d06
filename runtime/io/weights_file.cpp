#include "runtime/io/weights_file.h"

#include <fmt/format.h>

#include <cstring>
#include <stdexcept>

#include "runtime/io/file_io.h"

namespace starc {
namespace {

constexpr char kMagic[8] = {'S', 'T', 'A', 'R', 'C', 'W', 'T', '1'};

template <class T>
void put(std::string& out, T v) {
  out.append(reinterpret_cast<const char*>(&v), sizeof v);
}

}  // namespace

void write_weights_file(const std::string& path, const NamedTensors& tensors) {
  std::string out(kMagic, 8);
  put<uint64_t>(out, tensors.size());
  for (auto& [name, t] : tensors) {
    put<uint64_t>(out, name.size());
    out += name;
    put<uint32_t>(out, dtype_code(t.dtype()));
    put<uint32_t>(out, uint32_t(t.rank()));
    for (int i = 0; i < t.rank(); ++i) put<int64_t>(out, t.dim(i));
    uint64_t bytes = uint64_t(t.size()) * dtype_size(t.dtype());
    put<uint64_t>(out, bytes);
    out.append(static_cast<const char*>(t.raw()), bytes);
  }
  write_file_atomic(path, out);
}

NamedTensors read_weights_file(const std::string& path) {
  std::string data;
  try {
    data = read_data_file(path);
  } catch (const std::exception& e) {
    throw std::runtime_error(fmt::format("cannot read weights file {}", e.what()));
  }
  size_t at = 0;
  auto bad = [&](const std::string& why) { return std::runtime_error(fmt::format("{}: {}", path, why)); };
  auto take = [&](void* dst, size_t k) {
    if (data.size() - at < k) throw bad(fmt::format("truncated at byte {}", at));
    std::memcpy(dst, data.data() + at, k);
    at += k;
  };
  char magic[8];
  take(magic, 8);
  if (std::memcmp(magic, kMagic, 8) != 0) throw bad("not a starc weights file (no STARCWT1 header)");
  uint64_t count = 0;
  take(&count, 8);
  NamedTensors out;
  for (uint64_t i = 0; i < count; ++i) {
    uint64_t len = 0, bytes = 0;
    uint32_t code = 0, rank = 0;
    take(&len, 8);
    if (len > data.size() - at) throw bad(fmt::format("truncated name of tensor {}", i));
    std::string name = data.substr(at, len);
    at += len;
    take(&code, 4);
    take(&rank, 4);
    std::optional<DType> dt = dtype_from_code(code);
    if (!dt || rank > 16) throw bad(fmt::format("corrupt type of '{}'", name));
    Shape shape(rank);
    for (auto& d : shape) take(&d, 8);
    // The shape is checked (non-negative dims, no overflow, its bytes present in the file)
    // before the tensor is allocated.
    uint64_t need = dtype_size(*dt);
    for (Dim d : shape)
      if (d < 0 || !checked_mul(need, uint64_t(d), &need))
        throw bad(fmt::format("'{}': corrupt shape {}", name, shape_str(shape)));
    take(&bytes, 8);
    if (bytes != need) throw bad(fmt::format("'{}': byte count does not match its shape", name));
    if (bytes > data.size() - at) throw bad(fmt::format("truncated data of '{}' at byte {}", name, at));
    Tensor t(*dt, shape);
    take(t.raw(), bytes);
    out.emplace_back(std::move(name), std::move(t));
  }
  if (at != data.size()) throw bad(fmt::format("{} unexpected bytes after the last tensor", data.size() - at));
  return out;
}

}  // namespace starc
