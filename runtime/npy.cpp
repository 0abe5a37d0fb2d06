#include "runtime/npy.h"

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
#include <sstream>

#include <fcntl.h>
#include <unistd.h>

namespace starc {
namespace {

[[noreturn]] void fail(const std::string& what, const std::string& msg) {
  throw std::runtime_error(fmt::format("{}: {}", what, msg));
}

// ---- the header dict: a tiny Python-literal parser -------------------------------

struct PyVal {
  enum Kind { Str, Bool, Int, None, Seq, Dict } kind = None;
  std::string s;
  bool b = false;
  int64_t i = 0;
  std::vector<PyVal> items;                           // Seq (tuple or list)
  std::vector<std::pair<std::string, PyVal>> fields;  // Dict
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
        v.fields.emplace_back(k.s, value(depth + 1));
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

float half_to_float(uint16_t h) {
  uint32_t sign = uint32_t(h >> 15) << 31, exp = (h >> 10) & 0x1f, mant = h & 0x3ff;
  if (exp == 0) {
    float v = std::ldexp(float(mant), -24);  // zero or subnormal
    return sign ? -v : v;
  }
  uint32_t bits = exp == 31 ? (sign | 0x7f800000u | (mant << 13)) : (sign | ((exp + 112) << 23) | (mant << 13));
  return std::bit_cast<float>(bits);
}

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
    case 'b': out.data<uint8_t>()[idx] = b[0] != 0; return;
    case 'f':
      if (s.size == 2) out.data<float>()[idx] = half_to_float(load.operator()<uint16_t>());
      else if (s.size == 4) out.data<float>()[idx] = load.operator()<float>();
      else out.data<double>()[idx] = load.operator()<double>();
      return;
    case 'i': {
      int64_t v = s.size == 1 ? load.operator()<int8_t>() : s.size == 2 ? load.operator()<int16_t>()
                : s.size == 4 ? load.operator()<int32_t>() : load.operator()<int64_t>();
      out.data<int64_t>()[idx] = v;
      return;
    }
    case 'u': {
      uint64_t v = s.size == 1 ? load.operator()<uint8_t>() : s.size == 2 ? load.operator()<uint16_t>()
                 : s.size == 4 ? load.operator()<uint32_t>() : load.operator()<uint64_t>();
      if (v > uint64_t(INT64_MAX)) fail(what, fmt::format("u8 value {} does not fit in i64", v));
      out.data<int64_t>()[idx] = int64_t(v);
      return;
    }
  }
}

std::string read_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) fail(path, fmt::format("cannot open for reading: {}", std::strerror(errno)));
  std::ostringstream ss;
  ss << f.rdbuf();
  if (f.bad()) fail(path, "read error");
  return std::move(ss).str();
}

}  // namespace

// Durable atomic replace: write a temp file in the same folder, fsync it, rename it over
// `path`, fsync the folder. A reader (or a crash at any moment) sees the old file or the
// new one, never a mix.
void write_file_atomic(const std::string& path, std::string_view bytes) {
  std::string tmp = fmt::format("{}.tmp{}", path, ::getpid());
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) fail(path, fmt::format("cannot open '{}' for writing: {}", tmp, std::strerror(errno)));
  auto bail = [&](const char* what) {
    int e = errno;
    ::close(fd);
    ::unlink(tmp.c_str());
    fail(path, fmt::format("{} '{}': {}", what, tmp, std::strerror(e)));
  };
  for (size_t done = 0; done < bytes.size();) {
    ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) bail("cannot write");
    done += size_t(n);
  }
  if (::fsync(fd) != 0) bail("cannot fsync");
  if (::close(fd) != 0) {
    int e = errno;
    ::unlink(tmp.c_str());
    fail(path, fmt::format("cannot close '{}': {}", tmp, std::strerror(e)));
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    int e = errno;
    ::unlink(tmp.c_str());
    fail(path, fmt::format("cannot rename '{}' into place: {}", tmp, std::strerror(e)));
  }
  std::string dir = std::filesystem::path(path).parent_path().string();
  int dfd = ::open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {  // best effort: the rename itself already happened
    ::fsync(dfd);
    ::close(dfd);
  }
}

Tensor parse_npy(std::string_view bytes, const std::string& what) {
  static constexpr std::string_view kMagic = "\x93NUMPY";
  if (bytes.size() < 8 || bytes.substr(0, 6) != kMagic)
    fail(what, "bad magic: not a NumPy .npy file (expected \\x93NUMPY)");
  int major = uint8_t(bytes[6]), minor = uint8_t(bytes[7]);
  if (major < 1 || major > 3 || minor != 0)
    fail(what, fmt::format("unsupported .npy format version {}.{} (supported: 1.0, 2.0, 3.0)", major, minor));
  size_t len_size = major == 1 ? 2 : 4;
  if (bytes.size() < 8 + len_size) fail(what, "truncated header: file ends inside the header length");
  uint64_t hlen = 0;
  for (size_t k = 0; k < len_size; ++k) hlen |= uint64_t(uint8_t(bytes[8 + k])) << (8 * k);
  size_t hstart = 8 + len_size;
  if (hlen > bytes.size() - hstart)
    fail(what, fmt::format("truncated header: header length is {} bytes but only {} remain", hlen,
                           bytes.size() - hstart));
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
  if (descr->kind != PyVal::Str)
    fail(what, "unsupported dtype: structured (record) arrays are not supported");
  if (fortran->kind != PyVal::Bool) fail(what, "cannot parse the header dict: 'fortran_order' must be True or False");
  if (shape->kind != PyVal::Seq) fail(what, "cannot parse the header dict: 'shape' must be a tuple");
  SrcType src = parse_descr(descr->s, what);

  Shape dims;
  int64_t count = 1;
  bool zero = false;
  for (const PyVal& d : shape->items) {
    if (d.kind != PyVal::Int || d.i < 0) fail(what, "cannot parse the header dict: 'shape' must hold non-negative ints");
    dims.push_back(d.i);
    zero |= d.i == 0;
  }
  size_t data_size = bytes.size() - hstart - hlen;
  if (!zero) {
    for (Dim d : dims) {
      if (count > int64_t(data_size) / d)
        fail(what, fmt::format("data shorter than the shape says: shape {} needs more than the {} data bytes present",
                               shape_str(dims), data_size));
      count *= d;
    }
  } else {
    count = 0;
  }
  uint64_t need = uint64_t(count) * uint64_t(src.size);
  if (need > data_size)
    fail(what, fmt::format("data shorter than the shape says: {} of {} needs {} bytes, got {}", descr->s,
                           shape_str(dims), need, data_size));

  Tensor out(target_dtype(src), dims);
  auto* data = reinterpret_cast<const unsigned char*>(bytes.data() + hstart + hlen);
  if (!fortran->b || dims.size() < 2) {
    for (int64_t i = 0; i < count; ++i) convert_one(src, data + i * src.size, out, i, what);
  } else {
    // Source is column-major: walk it in order, tracking the multi-index (first dim fastest).
    std::vector<int64_t> strides = out.strides(), idx(dims.size(), 0);
    int64_t dst = 0;
    for (int64_t i = 0; i < count; ++i) {
      convert_one(src, data + i * src.size, out, dst, what);
      for (size_t d = 0; d < dims.size(); ++d) {
        dst += strides[d];
        if (++idx[d] < dims[d]) break;
        dst -= strides[d] * dims[d];
        idx[d] = 0;
      }
    }
  }
  return out;
}

std::string serialize_npy(const Tensor& t) {
  if (!t.defined()) throw std::runtime_error("serialize_npy: tensor is undefined");
  std::string_view descr;
  switch (t.dtype()) {
    case DType::F32: descr = "<f4"; break;
    case DType::F64: descr = "<f8"; break;
    case DType::I64: descr = "<i8"; break;
    case DType::Bool: descr = "|b1"; break;
  }
  std::string shape = "(";
  for (size_t i = 0; i < t.shape().size(); ++i) shape += (i ? ", " : "") + std::to_string(t.shape()[i]);
  shape += t.shape().size() == 1 ? ",)" : ")";
  std::string header = fmt::format("{{'descr': '{}', 'fortran_order': False, 'shape': {}, }}", descr, shape);
  // numpy leaves room to grow the first axis in place (GROWTH_AXIS_MAX_DIGITS = 21).
  if (!t.shape().empty()) header.append(21 - std::to_string(t.shape()[0]).size(), ' ');
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
  // Little-endian data.
  size_t off = out.size(), n = t.nbytes(), es = dtype_size(t.dtype());
  out.resize(off + n);
  if (n) std::memcpy(out.data() + off, t.raw(), n);
  if constexpr (std::endian::native == std::endian::big)
    for (size_t i = 0; i < n; i += es) std::reverse(out.begin() + off + i, out.begin() + off + i + es);
  return out;
}

Tensor read_npy(const std::string& path) { return parse_npy(read_file(path), path); }

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
}  // namespace

std::map<std::string, Tensor> read_npz(const std::string& path) {
  std::error_code ec;
  auto st = std::filesystem::status(path, ec);
  if (!std::filesystem::exists(st)) fail(path, "cannot open for reading: No such file or directory");
  if (!std::filesystem::is_regular_file(st)) fail(path, "cannot open for reading: not a regular file");
  if (std::filesystem::file_size(path, ec) == 0) fail(path, "not a zip archive (an .npz must be a zip file); it is empty");
  int err = 0;
  std::unique_ptr<zip_t, ZipCloser> za(zip_open(path.c_str(), ZIP_RDONLY | ZIP_CHECKCONS, &err));
  if (!za) {
    if (err == ZIP_ER_NOZIP || err == ZIP_ER_INCONS)
      fail(path, fmt::format("not a zip archive (an .npz must be a zip file): {}", zip_code_str(err)));
    fail(path, fmt::format("cannot open as zip: {}", zip_code_str(err)));
  }
  std::map<std::string, Tensor> out;
  zip_int64_t n = zip_get_num_entries(za.get(), 0);
  for (zip_int64_t i = 0; i < n; ++i) {
    const char* cname = zip_get_name(za.get(), zip_uint64_t(i), 0);
    if (!cname) fail(path, fmt::format("entry {}: {}", i, zip_strerror(za.get())));
    std::string name = cname;
    if (!name.empty() && name.back() == '/') continue;  // directory
    std::string what = path + ":" + name;
    std::unique_ptr<zip_file_t, ZipFileCloser> f(zip_fopen_index(za.get(), zip_uint64_t(i), 0));
    if (!f) fail(what, fmt::format("cannot open entry: {}", zip_strerror(za.get())));
    std::string bytes;
    char buf[1 << 16];
    for (;;) {
      zip_int64_t got = zip_fread(f.get(), buf, sizeof buf);
      if (got < 0) fail(what, fmt::format("cannot read entry: {}", zip_file_strerror(f.get())));
      if (got == 0) break;
      bytes.append(buf, size_t(got));
    }
    std::string key = name.size() >= 4 && name.ends_with(".npy") ? name.substr(0, name.size() - 4) : name;
    out[key] = parse_npy(bytes, what);
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
  if (zip_source_open(mem) < 0) fail(path, fmt::format("cannot read back the zip: {}", zip_error_strerror(zip_source_error(mem))));
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
