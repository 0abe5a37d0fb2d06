#include "runtime/io/tensor_file.h"

#include <fmt/format.h>

#include <charconv>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <new>

#include "runtime/io/csv.h"
#include "runtime/io/fits.h"
#include "runtime/io/npy.h"

namespace fs = std::filesystem;

namespace starc {
namespace {

std::string lower(std::string s) {
  for (char& c : s) c = char(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

std::vector<std::string> split_commas(const std::string& s) {
  std::vector<std::string> out;
  size_t start = 0;
  while (true) {
    size_t comma = s.find(',', start);
    std::string part = s.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    size_t a = part.find_first_not_of(' '), b = part.find_last_not_of(' ');
    out.push_back(a == std::string::npos ? "" : part.substr(a, b - a + 1));
    if (comma == std::string::npos) return out;
    start = comma + 1;
  }
}

// The format from the extension, else from the first bytes of the file.
TensorFormat detect_format(const std::string& spec, const std::string& path) {
  std::string name = lower(path);
  if (ends_with(name, ".gz")) name.resize(name.size() - 3);
  for (const char* ext : {".fits", ".fit", ".fts", ".fz"})
    if (ends_with(name, ext)) return TensorFormat::Fits;
  if (ends_with(name, ".npy")) return TensorFormat::Npy;
  if (ends_with(name, ".npz")) return TensorFormat::Npz;
  if (ends_with(name, ".csv")) return TensorFormat::Csv;
  std::error_code ec;
  if (!fs::exists(path, ec)) throw std::runtime_error(fmt::format("{}: no such file", path));
  std::ifstream in(path, std::ios::binary);
  char head[9] = {0};
  in.read(head, sizeof head);
  std::string magic(head, size_t(in.gcount()));
  if (magic.rfind("\x93NUMPY", 0) == 0) return TensorFormat::Npy;
  if (magic.rfind("PK\x03\x04", 0) == 0) return TensorFormat::Npz;
  if (magic.rfind("SIMPLE  =", 0) == 0) return TensorFormat::Fits;
  throw std::runtime_error(fmt::format(
      "{}: unknown format: name it .npy, .npz, .fits (.fit, .fts, .fz, .gz) or .csv (the contents are none of NumPy, "
      "zip or FITS)",
      spec));
}

}  // namespace

TensorSpec parse_tensor_spec(const std::string& text) {
  TensorSpec s;
  s.text = text;
  std::string rest = text;
  std::error_code ec;
  // A file whose name happens to contain '#' or ':' is read as it is.
  if (!fs::exists(rest, ec)) {
    // ":TYPE" at the end: (f32|f64|i64), then optionally "[DIMS]" of [A-Za-z0-9_, ]
    // (no ':' inside, so only the last ':' can start it; parsed by hand: no std::regex on
    // input of any length).
    size_t colon = rest.rfind(':');
    if (colon != std::string::npos) {
      std::string tail = rest.substr(colon + 1), type = tail.substr(0, 3),
                  brackets = tail.size() > 3 ? tail.substr(3) : "";
      bool typed = type == "f32" || type == "f64" || type == "i64";
      bool dims_ok =
          brackets.empty() || (brackets.size() >= 2 && brackets.front() == '[' && brackets.back() == ']' &&
                               brackets.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                                                          "0123456789_, ",
                                                          1) == brackets.size() - 1);
      if (typed && dims_ok) {
        s.dtype = dtype_from_name(type);
        if (!brackets.empty()) {
          s.dims = split_commas(brackets.substr(1, brackets.size() - 2));
          for (auto& d : s.dims)
            if (d.empty()) throw std::runtime_error(fmt::format("{}: empty dim in ':{}'", text, tail));
        }
        rest.resize(colon);
      }
    }
    size_t bracket = rest.rfind(']');
    size_t hash = rest.rfind('#');
    if (hash != std::string::npos && (bracket == std::string::npos || hash > bracket)) {
      s.columns = split_commas(rest.substr(hash + 1));
      for (auto& c : s.columns)
        if (c.empty()) throw std::runtime_error(fmt::format("{}: empty column name after '#'", text));
      rest.resize(hash);
    }
  }
  s.file = rest;
  s.path = rest.substr(0, rest.find('['));
  if (s.path.empty()) throw std::runtime_error(fmt::format("'{}': no file name", text));
  // A '[' that is part of an existing file's name is not an HDU.
  if (s.path != rest && fs::exists(rest, ec)) s.path = rest;
  s.format = detect_format(text, s.path);
  if (s.path != s.file && s.format != TensorFormat::Fits)
    throw std::runtime_error(fmt::format("{}: [{} selects a FITS HDU, but {} is not a FITS file", text,
                                         s.file.substr(s.path.size() + 1), s.path));
  if (s.format == TensorFormat::Npy && !s.columns.empty())
    throw std::runtime_error(
        fmt::format("{}: a .npy file holds one array; '#{}' selects columns of a FITS table or "
                    "CSV file",
                    text, fmt::join(s.columns, ",")));
  if (s.format == TensorFormat::Npz && s.columns.size() > 1)
    throw std::runtime_error(fmt::format("{}: name one array of the .npz after '#'", text));
  return s;
}

Tensor convert_dtype(const Tensor& t, DType dtype, const std::string& what) {
  if (t.dtype() == dtype) return t;
  if (dtype == DType::I64 && is_float(t.dtype())) {
    for (int64_t i = 0; i < t.size(); ++i) {
      double v = t.get(i);
      if (!std::isfinite(v) || v != std::floor(v) || std::fabs(v) > 9.2e18)
        throw std::runtime_error(
            fmt::format("{}: element {} is {}, not an integer (i64 needs whole numbers)", what, i, v));
    }
  }
  return t.cast(dtype);
}

Tensor reshape_to(const Tensor& t, const std::vector<std::string>& dims, const std::string& what) {
  if (dims.empty()) return t;
  Shape shape;
  int free_dim = -1;
  int64_t known = 1;
  for (auto& d : dims) {
    int64_t v = 0;
    auto [end, ec] = std::from_chars(d.data(), d.data() + d.size(), v);
    if (ec == std::errc() && end == d.data() + d.size() && v >= 0) {
      shape.push_back(v);
      known *= v;
    } else if (std::isalpha(static_cast<unsigned char>(d[0])) || d[0] == '_') {
      if (free_dim >= 0)
        throw std::runtime_error(
            fmt::format("{}: at most one named dim in [{}] (the rest of the elements)", what, fmt::join(dims, ",")));
      free_dim = int(shape.size());
      shape.push_back(-1);
    } else {
      throw std::runtime_error(fmt::format("{}: dim '{}' is neither a size nor a name", what, d));
    }
  }
  if (free_dim >= 0) {
    if (known == 0 || t.size() % known != 0)
      throw std::runtime_error(fmt::format("{}: {} does not split into [{}]: {} elements are not a multiple of {}",
                                           what, type_str(t.type()), fmt::join(dims, ","), t.size(), known));
    shape[size_t(free_dim)] = t.size() / known;
  } else if (known != t.size()) {
    throw std::runtime_error(fmt::format("{}: {} cannot be viewed as [{}]: {} elements, not {}", what,
                                         type_str(t.type()), fmt::join(dims, ","), t.size(), known));
  }
  return t.reshaped(shape);
}

Tensor read_tensor_file(const TensorSpec& s, std::string* stored) {
  Tensor t;
  std::string stored_as;
  switch (s.format) {
    case TensorFormat::Npy:
      t = read_npy(s.path, &stored_as);
      break;
    case TensorFormat::Npz: {
      std::map<std::string, std::string> stored_types;
      auto arrays = read_npz(s.path, &stored_types);
      std::vector<std::string> keys;
      for (auto& [k, v] : arrays) keys.push_back(k);
      if (s.columns.empty() && arrays.size() != 1)
        throw std::runtime_error(fmt::format("{}: holds {} arrays; name one: {}#NAME with NAME one of: {}", s.text,
                                             arrays.size(), s.path, fmt::join(keys, ", ")));
      std::string key = s.columns.empty() ? keys.at(0) : s.columns[0];
      auto it = arrays.find(key);
      if (it == arrays.end())
        throw std::runtime_error(fmt::format("{}: no array '{}' (it holds: {})", s.text, key, fmt::join(keys, ", ")));
      t = it->second;
      stored_as = stored_types[key];
      break;
    }
    case TensorFormat::Fits:
      t = read_fits(s.file, s.columns, s.dtype.value_or(DType::F32));
      break;
    case TensorFormat::Csv:
      t = read_csv(s.path, s.columns, s.dtype.value_or(DType::F32)).values;
      break;
  }
  if (stored) *stored = s.dtype ? "" : stored_as;
  if (s.dtype) t = convert_dtype(t, *s.dtype, s.text);
  return reshape_to(t, s.dims, s.text);
}

Tensor read_tensor_file(const std::string& spec, std::string* stored) {
  try {
    return read_tensor_file(parse_tensor_spec(spec), stored);
  } catch (const std::bad_alloc&) {
    // Sizes from headers are checked before allocating; what can still run out is the
    // memory this data needs beside everything else: said, not a bare std::bad_alloc.
    throw std::runtime_error(fmt::format("{}: out of memory reading it", spec));
  }
}

}  // namespace starc
