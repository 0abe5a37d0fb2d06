#include "runtime/io/npy.h"

#include <fmt/format.h>
#include <zip.h>

#include <algorithm>
#include <bit>
#include <charconv>
#include <cerrno>
#include <climits>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <list>
#include <optional>
#include <sstream>

#include "runtime/io/file_io.h"

#include <sys/stat.h>

namespace starc {
namespace {

[[noreturn]] void fail(const std::string& what, const std::string& msg) {
  throw std::runtime_error(fmt::format("{}: {}", what, msg));
}

// ---- the header dict: a tiny Python-literal parser -------------------------------

struct PyField;

struct PyVal {
  enum Kind { Str, Bool, Int, None, Seq, Dict } kind = None;
  std::string s;
  bool b = false;
  int64_t i = 0;
  std::vector<PyVal> items;     // Seq (tuple or list)
  std::vector<PyField> fields;  // Dict (a vector of an incomplete type, allowed since C++17;
                                // a std::pair of one is not, and clang refuses it)
};

struct PyField {
  std::string key;
  PyVal value;
};

class PyParser {
 public:
  PyParser(std::string_view text, const std::string& what) : t_(text), what_(what) {}

  PyVal parse_top() {
    PyVal v = value(0);
    ws();
    if (p_ != t_.size()) bad("unexpected text after the header dict");
    return v;
  }

 private:
  std::string_view t_;
  const std::string& what_;
  size_t p_ = 0;

  [[noreturn]] void bad(const std::string& msg) {
    fail(what_, fmt::format("cannot parse the header dict ({} at offset {}): {}", msg, p_, t_));
  }
  void ws() {
    while (p_ < t_.size() && (t_[p_] == ' ' || t_[p_] == '\n' || t_[p_] == '\t' || t_[p_] == '\r')) ++p_;
  }
  bool eat(char c) {
    ws();
    if (p_ < t_.size() && t_[p_] == c) return ++p_, true;
    return false;
  }
  PyVal value(int depth) {
    if (depth > 16) bad("nested too deeply");
    ws();
    if (p_ >= t_.size()) bad("unexpected end");
    char c = t_[p_];
    PyVal v;
    if (c == '\'' || c == '"') {
      v.kind = PyVal::Str;
      ++p_;
      while (p_ < t_.size() && t_[p_] != c) {
        if (t_[p_] == '\\' && p_ + 1 < t_.size()) ++p_;
        v.s += t_[p_++];
      }
      if (p_ >= t_.size()) bad("unterminated string");
      ++p_;
    } else if (c == '{') {
      v.kind = PyVal::Dict;
      ++p_;
      while (!eat('}')) {
        PyVal k = value(depth + 1);
        if (k.kind != PyVal::Str) bad("dict keys must be strings");
        if (!eat(':')) bad("expected ':'");
        v.fields.push_back(PyField{k.s, value(depth + 1)});
        if (!eat(',')) {
          if (!eat('}')) bad("expected ',' or '}'");
          break;
        }
      }
    } else if (c == '(' || c == '[') {
      char close = c == '(' ? ')' : ']';
      v.kind = PyVal::Seq;
      ++p_;
      while (!eat(close)) {
        v.items.push_back(value(depth + 1));
        if (!eat(',')) {
          if (!eat(close)) bad(fmt::format("expected ',' or '{}'", close));
          break;
        }
      }
    } else if (c == '-' || (c >= '0' && c <= '9')) {
      v.kind = PyVal::Int;
      size_t start = p_;
      if (c == '-') ++p_;
      while (p_ < t_.size() && t_[p_] >= '0' && t_[p_] <= '9') ++p_;
      auto [ptr, ec] = std::from_chars(t_.data() + start, t_.data() + p_, v.i);
      if (ec != std::errc() || ptr != t_.data() + p_) bad("bad integer");
      if (p_ < t_.size() && (t_[p_] == 'L' || t_[p_] == 'l')) ++p_;  // Python 2 long
    } else if (t_.substr(p_, 4) == "True") {
      v.kind = PyVal::Bool, v.b = true, p_ += 4;
    } else if (t_.substr(p_, 5) == "False") {
      v.kind = PyVal::Bool, v.b = false, p_ += 5;
    } else if (t_.substr(p_, 4) == "None") {
      v.kind = PyVal::None, p_ += 4;
    } else {
      bad(fmt::format("unexpected character '{}'", c));
    }
    return v;
  }
};

// ---- element conversion ----------------------------------------------------------

}  // namespace

float half_to_float(uint16_t h) {
  uint32_t sign = uint32_t(h >> 15) << 31, exp = (h >> 10) & 0x1f, mant = h & 0x3ff;
  if (exp == 0) {
    float v = std::ldexp(float(mant), -24);  // zero or subnormal
    return sign ? -v : v;
  }
  uint32_t bits = exp == 31 ? (sign | 0x7f800000u | (mant << 13)) : (sign | ((exp + 112) << 23) | (mant << 13));
  return std::bit_cast<float>(bits);
}

namespace {

struct SrcType {
  char kind;  // 'f', 'i', 'u', 'b'
  int size;
  bool swap;
};

SrcType parse_descr(const std::string& descr, const std::string& what) {
  auto unsupported = [&](const std::string& why) -> SrcType {
    fail(what, fmt::format("unsupported dtype '{}' ({}); supported: f2 f4 f8 i1 i2 i4 i8 u1 u2 u4 u8 b1", descr, why));
  };
  if (descr.size() < 2) return unsupported("unknown type code");
  char order = descr[0];
  std::string code = descr.substr(1);
  if (order != '<' && order != '>' && order != '|' && order != '=')
    order = '=', code = descr;  // e.g. 'f4' without a byte-order mark
  if (code.empty()) return unsupported("unknown type code");
  char kind = code[0];
  int size = 0;
  std::string digits = code.substr(1);
  if (digits.size() == 1 && digits[0] >= '1' && digits[0] <= '8') size = digits[0] - '0';
  bool ok = (kind == 'f' && (size == 2 || size == 4 || size == 8)) ||
            ((kind == 'i' || kind == 'u') && (size == 1 || size == 2 || size == 4 || size == 8)) ||
            (kind == 'b' && size == 1);
  if (!ok) {
    if (kind == 'O') return unsupported("Python objects cannot be read");
    if (kind == 'c') return unsupported("complex numbers are not supported");
    if (kind == 'U' || kind == 'S' || kind == 'a') return unsupported("strings are not supported");
    return unsupported("not a numeric type");
  }
  bool big = order == '>' || (order == '=' && std::endian::native == std::endian::big);
  bool swap = size > 1 && (big != (std::endian::native == std::endian::big));
  return {kind, size, swap};
}

DType target_dtype(const SrcType& s) {
  if (s.kind == 'b') return DType::Bool;
  if (s.kind == 'f') return s.size == 8 ? DType::F64 : DType::F32;
  return DType::I64;
}

// Reads one element at `p` and stores it into out[idx].
void convert_one(const SrcType& s, const unsigned char* p, Tensor& out, int64_t idx, const std::string& what) {
  unsigned char b[8];
  for (int k = 0; k < s.size; ++k) b[k] = s.swap ? p[s.size - 1 - k] : p[k];
  auto load = [&]<class T>() {
    T v;
    std::memcpy(&v, b, sizeof(T));
    return v;
  };
  switch (s.kind) {
    case 'b':
      out.data<uint8_t>()[idx] = b[0] != 0;
      return;
    case 'f':
      if (s.size == 2)
        out.data<float>()[idx] = half_to_float(load.operator()<uint16_t>());
      else if (s.size == 4)
        out.data<float>()[idx] = load.operator()<float>();
      else
        out.data<double>()[idx] = load.operator()<double>();
      return;
    case 'i': {
      int64_t v = s.size == 1   ? load.operator()<int8_t>()
                  : s.size == 2 ? load.operator()<int16_t>()
                  : s.size == 4 ? load.operator()<int32_t>()
                                : load.operator()<int64_t>();
      out.data<int64_t>()[idx] = v;
      return;
    }
    case 'u': {
      uint64_t v = s.size == 1   ? load.operator()<uint8_t>()
                   : s.size == 2 ? load.operator()<uint16_t>()
                   : s.size == 4 ? load.operator()<uint32_t>()
                                 : load.operator()<uint64_t>();
      if (v > uint64_t(INT64_MAX)) fail(what, fmt::format("u8 value {} does not fit in i64", v));
      out.data<int64_t>()[idx] = int64_t(v);
      return;
    }
  }
}

// "" when a .npy's elements read as themselves (f4 as f32, i8 as i64...); else numpy's
// name of what the file stores ("int32" read as i64, "float16" as f32).
std::string stored_dtype_name(const SrcType& s, DType read_as) {
  bool same = (s.kind == 'f' && s.size == 4 && read_as == DType::F32) ||
              (s.kind == 'f' && s.size == 8 && read_as == DType::F64) ||
              (s.kind == 'i' && s.size == 8 && read_as == DType::I64) || (s.kind == 'b' && read_as == DType::Bool);
  if (same) return "";
  return s.kind == 'b'   ? "bool"
         : s.kind == 'f' ? fmt::format("float{}", s.size * 8)
                         : fmt::format("{}int{}", s.kind == 'u' ? "u" : "", s.size * 8);
}

// The largest header read (numpy's own reader stops at 10 000 bytes by default; only
// structured dtypes, which are not supported, need long ones).
constexpr uint64_t kMaxHeaderBytes = 1 << 20;

struct NpyHeader {
  std::string descr;  // as written: '<i4'
  SrcType src{};
  bool fortran = false;
  Shape dims;
  int64_t count = 0;         // elements
  uint64_t data_offset = 0;  // where the data starts
  uint64_t data_bytes = 0;   // count * element size
};

// The header of the .npy at the start of `bytes`. With `complete` false, `bytes` may be
// only the first part of the file: nullopt then says more is needed.
std::optional<NpyHeader> parse_npy_header(std::string_view bytes, const std::string& what, bool complete) {
  static constexpr std::string_view kMagic = "\x93NUMPY";
  if (bytes.size() < 8) {
    size_t n = std::min<size_t>(bytes.size(), 6);
    if (!complete && kMagic.substr(0, n) == bytes.substr(0, n)) return std::nullopt;
    fail(what, "bad magic: not a NumPy .npy file (expected \\x93NUMPY)");
  }
  if (bytes.substr(0, 6) != kMagic) fail(what, "bad magic: not a NumPy .npy file (expected \\x93NUMPY)");
  int major = uint8_t(bytes[6]), minor = uint8_t(bytes[7]);
  if (major < 1 || major > 3 || minor != 0)
    fail(what, fmt::format("unsupported .npy format version {}.{} (supported: 1.0, 2.0, 3.0)", major, minor));
  size_t len_size = major == 1 ? 2 : 4;
  if (bytes.size() < 8 + len_size) {
    if (!complete) return std::nullopt;
    fail(what, "truncated header: file ends inside the header length");
  }
  uint64_t hlen = 0;
  for (size_t k = 0; k < len_size; ++k) hlen |= uint64_t(uint8_t(bytes[8 + k])) << (8 * k);
  size_t hstart = 8 + len_size;
  if (hlen > kMaxHeaderBytes)
    fail(what, fmt::format("the header claims {} bytes; starc reads headers of up to {} (numpy writes a few "
                           "hundred)",
                           hlen, format_size(kMaxHeaderBytes)));
  if (hlen > bytes.size() - hstart) {
    if (!complete) return std::nullopt;
    fail(what,
         fmt::format("truncated header: header length is {} bytes but only {} remain", hlen, bytes.size() - hstart));
  }
  std::string_view header = bytes.substr(hstart, hlen);
  PyVal dict = PyParser(header, what).parse_top();
  if (dict.kind != PyVal::Dict) fail(what, fmt::format("cannot parse the header dict: not a dict: {}", header));
  const PyVal *descr = nullptr, *fortran = nullptr, *shape = nullptr;
  for (auto& [k, v] : dict.fields) {
    if (k == "descr") descr = &v;
    if (k == "fortran_order") fortran = &v;
    if (k == "shape") shape = &v;
  }
  if (!descr || !fortran || !shape)
    fail(what, fmt::format("cannot parse the header dict: it needs the keys 'descr', 'fortran_order' and 'shape': {}",
                           header));
  if (descr->kind != PyVal::Str) fail(what, "unsupported dtype: structured (record) arrays are not supported");
  if (fortran->kind != PyVal::Bool) fail(what, "cannot parse the header dict: 'fortran_order' must be True or False");
  if (shape->kind != PyVal::Seq) fail(what, "cannot parse the header dict: 'shape' must be a tuple");
  if (shape->items.size() > 32)
    fail(what, fmt::format("the shape has {} dims; at most 32 are supported", shape->items.size()));
  NpyHeader h;
  h.descr = descr->s;
  h.src = parse_descr(descr->s, what);
  h.fortran = fortran->b;
  h.data_offset = hstart + hlen;
  // The element count, overflow-checked; also the product of the non-zero dims (strides
  // of an empty array must not overflow either).
  uint64_t count = 1, nonzero = 1;
  bool zero = false;
  for (const PyVal& d : shape->items) {
    if (d.kind != PyVal::Int || d.i < 0)
      fail(what, "cannot parse the header dict: 'shape' must hold non-negative ints");
    h.dims.push_back(d.i);
    zero |= d.i == 0;
    if (d.i > 0 && (!checked_mul(nonzero, uint64_t(d.i), &nonzero) || nonzero > uint64_t(INT64_MAX)))
      fail(what,
           fmt::format("data shorter than the shape says: shape {} has more than 2^63 elements", shape_str(h.dims)));
  }
  count = zero ? 0 : nonzero;
  h.count = int64_t(count);
  if (!checked_mul(count, uint64_t(h.src.size), &h.data_bytes))
    fail(what, fmt::format("data shorter than the shape says: {} of shape {} is more than 2^64 bytes", h.descr,
                           shape_str(h.dims)));
  return h;
}

// The tensor of a .npy whose header is `h`, from its data bytes.
Tensor npy_data(const NpyHeader& h, std::string_view data, const std::string& what) {
  if (h.data_bytes > data.size())
    fail(what, fmt::format("data shorter than the shape says: {} of {} needs {} bytes, got {}", h.descr,
                           shape_str(h.dims), h.data_bytes, data.size()));
  DType dt = target_dtype(h.src);
  check_allocation(uint64_t(h.count) * dtype_size(dt), fmt::format("{}: {} of {}", what, h.descr, shape_str(h.dims)));
  Tensor out(dt, h.dims);
  auto* p = reinterpret_cast<const unsigned char*>(data.data());
  const SrcType& src = h.src;
  const int64_t count = h.count;
  if (!h.fortran || h.dims.size() < 2) {
    for (int64_t i = 0; i < count; ++i) convert_one(src, p + i * src.size, out, i, what);
  } else {
    // Source is column-major: walk it in order, tracking the multi-index (first dim fastest).
    std::vector<int64_t> strides = out.strides(), idx(h.dims.size(), 0);
    int64_t dst = 0;
    for (int64_t i = 0; i < count; ++i) {
      convert_one(src, p + i * src.size, out, dst, what);
      for (size_t d = 0; d < h.dims.size(); ++d) {
        dst += strides[d];
        if (++idx[d] < h.dims[d]) break;
        dst -= strides[d] * h.dims[d];
        idx[d] = 0;
      }
    }
  }
  return out;
}

}  // namespace

Tensor parse_npy(std::string_view bytes, const std::string& what, std::string* stored) {
  NpyHeader h = *parse_npy_header(bytes, what, true);
  Tensor t = npy_data(h, bytes.substr(size_t(h.data_offset)), what);
  if (stored) *stored = stored_dtype_name(h.src, t.dtype());
  return t;
}

std::string npy_header(DType dtype, const Shape& shape_dims) {
  std::string_view descr;
  switch (dtype) {
    case DType::F32:
      descr = "<f4";
      break;
    case DType::F64:
      descr = "<f8";
      break;
    case DType::I64:
      descr = "<i8";
      break;
    case DType::Bool:
      descr = "|b1";
      break;
  }
  std::string shape = "(";
  for (size_t i = 0; i < shape_dims.size(); ++i) shape += (i ? ", " : "") + std::to_string(shape_dims[i]);
  shape += shape_dims.size() == 1 ? ",)" : ")";
  std::string header = fmt::format("{{'descr': '{}', 'fortran_order': False, 'shape': {}, }}", descr, shape);
  // numpy leaves room to grow the first axis in place (GROWTH_AXIS_MAX_DIGITS = 21).
  if (!shape_dims.empty()) header.append(21 - std::to_string(shape_dims[0]).size(), ' ');
  size_t hlen = header.size() + 1;  // + '\n'
  int major = hlen + 10 + 63 > 0xffff ? 2 : 1;
  size_t prefix = major == 1 ? 10 : 12;
  size_t pad = 64 - (prefix + hlen) % 64;
  header.append(pad, ' ');
  header += '\n';
  std::string out = "\x93NUMPY";
  out += char(major);
  out += char(0);
  for (size_t k = 0; k < prefix - 8; ++k) out += char((header.size() >> (8 * k)) & 0xff);
  out += header;
  return out;
}

std::optional<NpyLayout> npy_layout(std::string_view head, const std::string& what) {
  std::optional<NpyHeader> h = parse_npy_header(head, what, false);
  if (!h) return std::nullopt;
  NpyLayout l;
  l.dtype = target_dtype(h->src);
  l.shape = h->dims;
  l.data_offset = h->data_offset;
  l.data_bytes = h->data_bytes;
  l.stored = stored_dtype_name(h->src, l.dtype);
  // Bool is not raw: reading turns any non-zero byte into 1, a mapping would keep it.
  l.raw = l.stored.empty() && l.dtype != DType::Bool && !h->src.swap && (!h->fortran || h->dims.size() < 2) &&
          h->data_offset % uint64_t(h->src.size) == 0;
  return l;
}

std::string serialize_npy(const Tensor& t) {
  if (!t.defined()) throw std::runtime_error("serialize_npy: tensor is undefined");
  std::string out = npy_header(t.dtype(), t.shape());
  // Little-endian data.
  size_t off = out.size(), n = t.nbytes(), es = dtype_size(t.dtype());
  out.resize(off + n);
  if (n) std::memcpy(out.data() + off, t.raw(), n);
  if constexpr (std::endian::native == std::endian::big)
    for (size_t i = 0; i < n; i += es) std::reverse(out.begin() + off + i, out.begin() + off + i + es);
  return out;
}

Tensor read_npy(const std::string& path, std::string* stored) { return parse_npy(read_data_file(path), path, stored); }

void write_npy(const std::string& path, const Tensor& t) { write_file_atomic(path, serialize_npy(t)); }

// ---- npz (libzip) ------------------------------------------------------------------

namespace {
std::string zip_code_str(int code) {
  zip_error_t ze;
  zip_error_init_with_code(&ze, code);
  std::string s = zip_error_strerror(&ze);
  zip_error_fini(&ze);
  return s;
}
struct ZipCloser {
  void operator()(zip_t* z) const { zip_discard(z); }
};
struct ZipFileCloser {
  void operator()(zip_file_t* f) const { zip_fclose(f); }
};

// One entry of an open archive as a tensor. The zip's declared uncompressed size must be
// what the entry's .npy header says (header + data): the header is read first, and no
// more than that is ever inflated, so a small archive cannot expand into gigabytes (a zip
// bomb); reading to the end lets libzip check the entry's CRC.
Tensor read_npz_entry(zip_t* za, zip_uint64_t index, const std::string& what, std::string* stored) {
  zip_stat_t zs;
  zip_stat_init(&zs);
  if (zip_stat_index(za, index, 0, &zs) != 0) fail(what, fmt::format("cannot read the entry: {}", zip_strerror(za)));
  if (!(zs.valid & ZIP_STAT_SIZE)) fail(what, "the zip does not record the entry's size");
  const uint64_t declared = zs.size;
  std::unique_ptr<zip_file_t, ZipFileCloser> f(zip_fopen_index(za, index, 0));
  if (!f) fail(what, fmt::format("cannot open entry: {}", zip_strerror(za)));
  std::string bytes;
  auto read_upto = [&](uint64_t total) {  // reads until `bytes` holds `total` bytes or the entry ends
    char buf[1 << 16];
    while (bytes.size() < total) {
      zip_int64_t got = zip_fread(f.get(), buf, std::min<uint64_t>(sizeof buf, total - bytes.size()));
      if (got < 0) fail(what, fmt::format("cannot read entry: {}", zip_file_strerror(f.get())));
      if (got == 0) return false;
      bytes.append(buf, size_t(got));
    }
    return true;
  };
  // The header: a few hundred bytes, read in steps until it parses.
  std::optional<NpyHeader> h;
  for (uint64_t want = 256;; want *= 4) {
    bool more = read_upto(std::min(want, declared));
    h = parse_npy_header(bytes, what, !more || bytes.size() >= declared);
    if (h) break;
  }
  uint64_t need = 0;
  if (!checked_add(h->data_offset, h->data_bytes, &need) || need != declared)
    fail(what, fmt::format("the zip says the entry is {} bytes, but its .npy header ({} of shape {}) makes it {}",
                           declared, h->descr, shape_str(h->dims), h->data_offset + h->data_bytes));
  if (need > max_read_bytes())
    fail(what, fmt::format("{} of shape {} is {}, more than starc can read into memory here ({})", h->descr,
                           shape_str(h->dims), format_size(need), format_size(max_read_bytes())));
  if (!read_upto(need))
    fail(what, fmt::format("data shorter than the shape says: {} of {} needs {} bytes, got {}", h->descr,
                           shape_str(h->dims), h->data_bytes, bytes.size() - h->data_offset));
  char extra;
  zip_int64_t got = zip_fread(f.get(), &extra, 1);  // the end of the entry: libzip checks its CRC here
  if (got < 0) fail(what, fmt::format("cannot read entry: {}", zip_file_strerror(f.get())));
  if (got > 0) fail(what, fmt::format("the entry holds more than the {} bytes the zip says", declared));
  Tensor t = npy_data(*h, std::string_view(bytes).substr(size_t(h->data_offset)), what);
  if (stored) *stored = stored_dtype_name(h->src, t.dtype());
  return t;
}

}  // namespace

std::map<std::string, Tensor> read_npz(const std::string& path, std::map<std::string, std::string>* stored) {
  struct stat st{};
  if (::stat(path.c_str(), &st) != 0) fail(path, fmt::format("cannot open for reading: {}", std::strerror(errno)));
  if (!S_ISREG(st.st_mode)) fail(path, "cannot open for reading: not a regular file");
  if (st.st_size == 0) fail(path, "not a zip archive (an .npz must be a zip file); it is empty");
  int err = 0;
  std::unique_ptr<zip_t, ZipCloser> za(zip_open(path.c_str(), ZIP_RDONLY | ZIP_CHECKCONS, &err));
  if (!za) {
    if (err == ZIP_ER_NOZIP || err == ZIP_ER_INCONS)
      fail(path, fmt::format("not a zip archive (an .npz must be a zip file): {}", zip_code_str(err)));
    fail(path, fmt::format("cannot open as zip: {}", zip_code_str(err)));
  }
  std::map<std::string, Tensor> out;
  uint64_t total = 0;  // all entries' sizes: together they must fit in memory too
  zip_int64_t n = zip_get_num_entries(za.get(), 0);
  for (zip_int64_t i = 0; i < n; ++i) {
    const char* cname = zip_get_name(za.get(), zip_uint64_t(i), 0);
    if (!cname) fail(path, fmt::format("entry {}: {}", i, zip_strerror(za.get())));
    std::string name = cname;
    if (!name.empty() && name.back() == '/') continue;  // directory
    std::string key = name.size() >= 4 && name.ends_with(".npy") ? name.substr(0, name.size() - 4) : name;
    std::string dtype;
    zip_stat_t zs;
    zip_stat_init(&zs);
    if (zip_stat_index(za.get(), zip_uint64_t(i), 0, &zs) == 0 && (zs.valid & ZIP_STAT_SIZE) &&
        (!checked_add(total, zs.size, &total) || total > max_read_bytes()))
      fail(path, fmt::format("its entries hold {} uncompressed (up to '{}'), more than starc can read into memory "
                             "here ({})",
                             format_size(total), name, format_size(max_read_bytes())));
    out[key] = read_npz_entry(za.get(), zip_uint64_t(i), path + ":" + name, stored ? &dtype : nullptr);
    if (stored) (*stored)[key] = dtype;
  }
  return out;
}

void write_npz(const std::string& path, const std::map<std::string, Tensor>& arrays) {
  if (arrays.empty()) {
    // libzip writes nothing for an empty archive: emit a bare end-of-central-directory record.
    write_file_atomic(path, std::string_view("PK\x05\x06\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0", 22));
    return;
  }
  // Build the archive in memory, then write it with write_file_atomic (fsync + rename).
  zip_error_t ze;
  zip_error_init(&ze);
  zip_source_t* mem = zip_source_buffer_create(nullptr, 0, 0, &ze);
  if (!mem) fail(path, fmt::format("cannot create an in-memory zip: {}", zip_error_strerror(&ze)));
  std::unique_ptr<zip_source_t, void (*)(zip_source_t*)> keep(mem, zip_source_free);
  zip_source_keep(mem);  // survives zip_close so the bytes can be read back
  std::unique_ptr<zip_t, ZipCloser> za(zip_open_from_source(mem, ZIP_TRUNCATE, &ze));
  if (!za) {
    zip_source_free(mem);  // the reference zip_open_from_source did not take
    fail(path, fmt::format("cannot create an in-memory zip: {}", zip_error_strerror(&ze)));
  }
  std::list<std::string> bufs;  // must outlive zip_close
  for (auto& [key, t] : arrays) {
    bufs.push_back(serialize_npy(t));
    zip_source_t* src = zip_source_buffer(za.get(), bufs.back().data(), bufs.back().size(), 0);
    if (!src) fail(path, fmt::format("entry '{}': {}", key, zip_strerror(za.get())));
    zip_int64_t idx = zip_file_add(za.get(), (key + ".npy").c_str(), src, ZIP_FL_ENC_UTF_8 | ZIP_FL_OVERWRITE);
    if (idx < 0) {
      zip_source_free(src);
      fail(path, fmt::format("cannot add entry '{}': {}", key, zip_strerror(za.get())));
    }
    if (zip_set_file_compression(za.get(), zip_uint64_t(idx), ZIP_CM_DEFLATE, 0) < 0)
      fail(path, fmt::format("entry '{}': cannot compress: {}", key, zip_strerror(za.get())));
    // A fixed timestamp (1980-01-01 12:00 UTC, the DOS epoch in every time zone) so the
    // same arrays always give the same bytes.
    if (zip_file_set_mtime(za.get(), zip_uint64_t(idx), 315576000, 0) < 0)
      fail(path, fmt::format("entry '{}': cannot set its time: {}", key, zip_strerror(za.get())));
  }
  if (zip_close(za.get()) < 0) fail(path, fmt::format("cannot write zip: {}", zip_strerror(za.get())));
  za.release();  // zip_close freed it
  std::string bytes;
  if (zip_source_open(mem) < 0)
    fail(path, fmt::format("cannot read back the zip: {}", zip_error_strerror(zip_source_error(mem))));
  char buf[1 << 16];
  for (;;) {
    zip_int64_t got = zip_source_read(mem, buf, sizeof buf);
    if (got < 0) {
      zip_source_close(mem);
      fail(path, fmt::format("cannot read back the zip: {}", zip_error_strerror(zip_source_error(mem))));
    }
    if (got == 0) break;
    bytes.append(buf, size_t(got));
  }
  zip_source_close(mem);
  write_file_atomic(path, bytes);
}

}  // namespace starc
