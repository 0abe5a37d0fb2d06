#include "tools/starc/data_input.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "runtime/io/npy_map.h"
#include "runtime/io/tensor_file.h"

namespace starc::cli {

namespace {

namespace fs = std::filesystem;

// The paths of a list file: one a line, relative to the list file's folder; blank lines
// and lines starting with '#' skipped (so a generated list can carry a note).
std::vector<std::string> list_file_paths(const std::string& spec, const std::string& list) {
  std::ifstream in(list);
  if (!in)
    throw std::runtime_error(fmt::format("{}: cannot open the list file '{}': {}", spec, list, std::strerror(errno)));
  std::vector<std::string> out;
  fs::path dir = fs::path(list).parent_path();
  for (std::string line; std::getline(in, line);) {
    while (!line.empty() && std::isspace(static_cast<unsigned char>(line.back()))) line.pop_back();
    size_t b = line.find_first_not_of(" \t");
    if (b == std::string::npos || line[b] == '#') continue;
    fs::path p(line.substr(b));
    out.push_back((p.is_absolute() ? p : dir / p).string());
  }
  return out;
}

// A folder's *.npy files, sorted by name (numbered parts keep their order when
// zero-padded: part_0002 before part_0010).
std::vector<std::string> folder_paths(const std::string& spec, const std::string& dir) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) throw std::runtime_error(fmt::format("{}: '{}' is not a folder", spec, dir));
  std::vector<std::string> out;
  for (const fs::directory_entry& e : fs::directory_iterator(dir, ec))
    if (e.path().extension() == ".npy" && !e.is_directory(ec)) out.push_back(e.path().string());
  if (ec) throw std::runtime_error(fmt::format("{}: cannot list '{}': {}", spec, dir, ec.message()));
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace

Tensor read_data_tensor(const std::string& spec, std::string* stored) {
  if (!spec.empty() && spec[0] == '@') return map_npy_files(list_file_paths(spec, spec.substr(1)), spec, stored);
  std::error_code ec;
  if (!spec.empty() && (spec.back() == '/' || fs::is_directory(spec, ec)))
    return map_npy_files(folder_paths(spec, spec), spec, stored);
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

Tensor in_memory(const Tensor& t) { return is_file_list(t) ? copy_rows(t, 0, t.dim(0)) : t; }

}  // namespace starc::cli
