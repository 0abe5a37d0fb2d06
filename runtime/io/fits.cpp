#include "runtime/io/fits.h"

#include <fitsio.h>
#include <fmt/format.h>
#include <zlib.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <limits>
#include <memory>
#include <optional>

#include "runtime/io/file_io.h"
#include "runtime/io/fits_header_check.h"
#include "runtime/io/tensor_file.h"

namespace fs = std::filesystem;

namespace starc {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// cfitsio's text for `status` plus the most specific message of its error stack (which
// the call consumes, so the next error starts clean), on one line.
std::string cfitsio_message(int status, bool detail = true) {
  char text[FLEN_STATUS] = {0};
  fits_get_errstatus(status, text);
  std::string out = text;
  if (status == READ_ERROR || status == END_OF_FILE) {
    fits_clear_errmsg();
    return out + ": the file ends early (truncated?)";
  }
  char msg[FLEN_ERRMSG];
  std::string first;
  while (fits_read_errmsg(msg)) {
    std::string m = msg;
    while (!m.empty() && (m.back() == ' ' || m.back() == '\n')) m.pop_back();
    // The stack repeats the file name on its own line; the name is in our message already.
    if (first.empty() && !m.empty() && m.find('/') == std::string::npos && m != out) first = m;
  }
  if (detail && !first.empty()) out += " (" + first + ")";
  return out;
}

// The file part of a cfitsio filename: up to the first '[' of the extended syntax.
std::string base_path(const std::string& path) { return path.substr(0, path.find('[')); }

// "0, 1 COADD, 2 SPALL": the HDUs of `file` (no extended syntax) with their EXTNAMEs, or
// "" when it cannot be read.
std::string hdu_list(const std::string& file) {
  fitsfile* f = nullptr;
  int status = 0, n = 0;
  if (fits_open_diskfile(&f, file.c_str(), READONLY, &status) || fits_get_num_hdus(f, &n, &status)) {
    if (f) fits_close_file(f, &status);
    fits_clear_errmsg();
    return "";
  }
  std::vector<std::string> out;
  for (int i = 1; i <= n; ++i) {
    int type = 0, st = 0;
    char extname[FLEN_VALUE] = {0};
    if (fits_movabs_hdu(f, i, &type, &st)) break;
    fits_read_key(f, TSTRING, "EXTNAME", extname, nullptr, &st);
    out.push_back(st || !*extname ? std::to_string(i - 1) : fmt::format("{} {}", i - 1, extname));
  }
  status = 0;
  fits_close_file(f, &status);
  fits_clear_errmsg();
  return fmt::format("{}", fmt::join(out, ", "));
}

// A gzip-compressed file (cfitsio inflates `.gz` FITS files into memory whole, before any
// header can be checked): its inflated size, counted with zlib in a fixed buffer, must fit
// in memory; a small file inflating to gigabytes (a gzip bomb) is refused here. The
// inflated headers go through FitsHeaderCheck on the way. False: not a gzip file.
bool check_gzip_file(const std::string& file) {
  std::FILE* in = std::fopen(file.c_str(), "rb");
  if (!in) return false;  // cfitsio reports it
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> closer(in, std::fclose);
  unsigned char magic[2] = {0, 0};
  if (std::fread(magic, 1, 2, in) != 2 || magic[0] != 0x1f || magic[1] != 0x8b) return false;
  FitsHeaderCheck headers(file);
  std::rewind(in);
  z_stream z{};
  if (inflateInit2(&z, 15 + 32) != Z_OK) return true;
  std::unique_ptr<z_stream, int (*)(z_stream*)> end(&z, inflateEnd);
  const uint64_t limit = max_read_bytes();
  uint64_t total = 0;
  std::vector<unsigned char> src(1 << 16), dst(1 << 18);
  int rc = Z_OK;
  for (;;) {
    if (z.avail_in == 0) {
      z.avail_in = uInt(std::fread(src.data(), 1, src.size(), in));
      z.next_in = src.data();
      if (z.avail_in == 0) return true;  // the end (or a truncated stream: cfitsio says so)
    }
    z.next_out = dst.data();
    z.avail_out = uInt(dst.size());
    rc = inflate(&z, Z_NO_FLUSH);
    total += dst.size() - z.avail_out;
    headers.feed(dst.data(), dst.size() - z.avail_out);
    if (total > limit)
      throw std::runtime_error(
          fmt::format("{}: inflates to more than {}, more than starc can read into memory here "
                      "(cfitsio inflates a .gz FITS file whole)",
                      file, format_size(limit)));
    if (rc == Z_STREAM_END) {  // a further gzip member may follow
      if (z.avail_in == 0 && std::feof(in)) return true;
      if (inflateReset(&z) != Z_OK) return true;
    } else if (rc != Z_OK && rc != Z_BUF_ERROR) {
      return true;  // corrupt: cfitsio reports it
    }
  }
}

// An open FITS file positioned at one HDU; closes itself.
class FitsFile {
 public:
  // `first_data`: without an HDU in `path`, move to the first HDU with data.
  FitsFile(const std::string& path, bool first_data) : path_(path) {
    std::string file = base_path(path);
    std::error_code ec;
    if (!fs::exists(file, ec)) throw std::runtime_error(fmt::format("{}: no such file", file));
    if (fs::is_directory(file, ec)) throw std::runtime_error(fmt::format("{}: is a folder, not a FITS file", file));
    if (!fs::is_regular_file(file, ec))
      throw std::runtime_error(fmt::format("{}: is not a regular file (a device or FIFO), not a FITS file", file));
    if (fs::file_size(file, ec) == 0)
      throw std::runtime_error(fmt::format("{}: the file is empty, not a FITS file", file));
    if (!check_gzip_file(file)) check_fits_headers(file);
    int status = 0;
    if (first_data)
      fits_open_data(&f_, path.c_str(), READONLY, &status);
    else
      fits_open_file(&f_, path.c_str(), READONLY, &status);
    if (status) {
      // fits_open_data can fail after opening (no HDU with data): close, or the file
      // descriptor stays in cfitsio's table for the life of the process.
      if (f_) {
        int close_status = 0;
        fits_close_file(f_, &close_status);
      }
      f_ = nullptr;
      bool not_fits = status == NO_SIMPLE || status == UNKNOWN_REC || status == NO_XTENSION;
      std::string why = cfitsio_message(status, !not_fits);
      if (path.find('[') != std::string::npos &&
          (status == BAD_HDU_NUM || status == URL_PARSE_ERROR || status == END_OF_FILE)) {
        std::string hdus = hdu_list(file);
        if (!hdus.empty())
          throw std::runtime_error(fmt::format("{}: no such HDU in {} (it has: {})", path, file, hdus));
      }
      if (not_fits) throw std::runtime_error(fmt::format("{}: not a FITS file (cfitsio: {})", path, why));
      throw std::runtime_error(fmt::format("{}: cannot read as FITS: {}", path, why));
    }
  }
  ~FitsFile() {
    int status = 0;
    if (f_) fits_close_file(f_, &status);
  }
  FitsFile(const FitsFile&) = delete;
  FitsFile& operator=(const FitsFile&) = delete;

  fitsfile* get() { return f_; }

  // "spec.fits (HDU 1 COADD)": HDUs counted from 0 as in `file.fits[1]` and astropy.
  std::string where() {
    int n = 0, status = 0;
    fits_get_hdu_num(f_, &n);
    char extname[FLEN_VALUE] = {0};
    fits_read_key(f_, TSTRING, "EXTNAME", extname, nullptr, &status);
    if (status) extname[0] = 0;
    fits_clear_errmsg();
    return fmt::format("{} (HDU {}{})", base_path(path_), n - 1, *extname ? std::string(" ") + extname : "");
  }
  [[noreturn]] void fail(const std::string& what) { throw std::runtime_error(fmt::format("{}: {}", where(), what)); }
  // Throws when a cfitsio call set `status`, naming what was being done.
  void check(int status, const std::string& doing) {
    if (status) fail(fmt::format("{}: {}", doing, cfitsio_message(status)));
  }

  bool is_image() {
    int type = 0, status = 0;
    check(fits_get_hdu_type(f_, &type, &status), "reading the HDU type");
    return type == IMAGE_HDU;
  }
  std::optional<double> key_double(const char* name) {
    double v = 0;
    int status = 0;
    fits_read_key(f_, TDOUBLE, name, &v, nullptr, &status);
    if (status == KEY_NO_EXIST || status == VALUE_UNDEFINED) {
      fits_clear_errmsg();
      return std::nullopt;
    }
    check(status, fmt::format("reading keyword {}", name));
    return v;
  }
  std::string key_string(const char* name) {
    char v[FLEN_VALUE] = {0};
    int status = 0;
    fits_read_key(f_, TSTRING, name, v, nullptr, &status);
    if (status) {
      fits_clear_errmsg();
      return "";
    }
    return v;
  }

 private:
  std::string path_;
  fitsfile* f_ = nullptr;
};

Shape image_shape(FitsFile& f, int* naxis_out = nullptr) {
  int bitpix = 0, naxis = 0, status = 0;
  constexpr int kMaxDims = 16;
  LONGLONG naxes[kMaxDims] = {0};
  f.check(fits_get_img_paramll(f.get(), kMaxDims, &bitpix, &naxis, naxes, &status), "reading the image size");
  if (naxis > kMaxDims) f.fail(fmt::format("the image has {} axes; at most {} are supported", naxis, kMaxDims));
  if (naxis == 0) f.fail("this HDU has no data (NAXIS = 0); name the HDU that has it, e.g. FILE.fits[1]");
  Shape s;
  for (int i = naxis - 1; i >= 0; --i) s.push_back(naxes[i]);  // NAXIS1 varies fastest: the last C dim
  if (naxis_out) *naxis_out = naxis;
  return s;
}

// Throws unless `bytes` of data, as the HDU's header sizes them, lie in the file after
// the header: a header may claim any size, the file holds what it holds.
void check_data_in_file(FitsFile& f, uint64_t bytes, const std::string& what, const char* kind) {
  LONGLONG head = 0, start = 0, end = 0;
  int status = 0;
  f.check(fits_get_hduaddrll(f.get(), &head, &start, &end, &status), "reading the HDU's position");
  LONGLONG size = f.get()->Fptr->logfilesize;
  uint64_t present = size > start ? uint64_t(size - start) : 0;
  if (bytes > present)
    f.fail(
        fmt::format("reading the {}: {} need {} bytes of data, but the file holds {} after the header "
                    "(truncated, or a corrupt header)",
                    kind, what, bytes, present));
}

Tensor read_image(FitsFile& f, DType dtype) {
  Shape shape = image_shape(f);
  // The pixel count from NAXISn, overflow-checked, and the data it needs: in the file for
  // a plain image, in memory for a tile-compressed one.
  int bitpix = 0, status = 0;
  f.check(fits_get_img_type(f.get(), &bitpix, &status), "reading BITPIX");
  uint64_t count = 1, stored = 0;
  for (Dim d : shape)
    if (d < 0 || !checked_mul(count, uint64_t(d), &count) || count > uint64_t(INT64_MAX))
      f.fail(fmt::format("NAXISn = {}: more than 2^63 pixels", fmt::join(shape.rbegin(), shape.rend(), " x ")));
  std::string what = fmt::format("NAXISn = {} (BITPIX {})", fmt::join(shape.rbegin(), shape.rend(), " x "), bitpix);
  int compressed = fits_is_compressed_image(f.get(), &status);
  if (!checked_mul(count, uint64_t(std::abs(bitpix) / 8), &stored))
    f.fail(fmt::format("{}: the image is more than 2^64 bytes", what));
  if (!compressed) check_data_in_file(f, stored, what, "image");
  const DType read_as = dtype == DType::F32 ? DType::F32 : DType::F64;
  check_allocation(count * dtype_size(read_as), fmt::format("{}: reading the image {}", f.where(), what));
  // f32 reads straight into the tensor; i64 goes through f64 and an integer check.
  Tensor t(read_as, shape);
  if (t.size() > 0) {
    std::vector<LONGLONG> first(shape.size(), 1);
    int status = 0, anynul = 0;
    if (t.dtype() == DType::F32) {
      float nul = std::numeric_limits<float>::quiet_NaN();
      fits_read_pixll(f.get(), TFLOAT, first.data(), t.size(), &nul, t.data<float>(), &anynul, &status);
    } else {
      double nul = kNaN;
      fits_read_pixll(f.get(), TDOUBLE, first.data(), t.size(), &nul, t.data<double>(), &anynul, &status);
    }
    f.check(status, "reading the image");
  }
  return convert_dtype(t, dtype, f.where());
}

std::string lower(std::string s) {
  for (char& c : s) c = char(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// The TTYPEn names of the current table HDU, in order.
std::vector<std::string> column_names(FitsFile& f) {
  int ncols = 0, status = 0;
  f.check(fits_get_num_cols(f.get(), &ncols, &status), "reading the number of columns");
  std::vector<std::string> names;
  for (int i = 1; i <= ncols; ++i) names.push_back(f.key_string(fmt::format("TTYPE{}", i).c_str()));
  return names;
}

// The 1-based number of column `name` (case-insensitive), or 0.
int find_column(const std::vector<std::string>& names, const std::string& name) {
  for (size_t i = 0; i < names.size(); ++i)
    if (lower(names[i]) == lower(name)) return int(i) + 1;
  return 0;
}

struct Column {
  std::vector<double> values;  // rows * per_row, row-major
  int64_t per_row = 1;
  Shape cell;  // the TDIM shape of one cell, C order
};

// Column `col` of `rows` rows as doubles: numeric columns with TSCAL/TZERO applied and
// TNULL as NaN; logical columns as 0/1.
Column read_column(FitsFile& f, int col, const std::string& name, int64_t rows) {
  int type = 0, status = 0;
  LONGLONG repeat = 0, width = 0;
  f.check(fits_get_eqcoltypell(f.get(), col, &type, &repeat, &width, &status), fmt::format("column '{}'", name));
  auto bad = [&](const std::string& why) { f.fail(fmt::format("column '{}' {}", name, why)); };
  if (type < 0) bad("has variable-length arrays; only fixed-size columns can be read");
  if (type == TSTRING) bad("holds text, not numbers");
  if (type == TCOMPLEX || type == TDBLCOMPLEX) bad("holds complex numbers; only real columns can be read");
  if (type == TBIT) bad("is a bit column (TFORM X); only numeric and logical columns can be read");
  Column c;
  c.per_row = repeat;
  int naxis = 0;
  LONGLONG dims[16] = {0};
  f.check(fits_read_tdimll(f.get(), col, 16, &naxis, dims, &status), fmt::format("column '{}' TDIM", name));
  for (int i = naxis - 1; i >= 0; --i) c.cell.push_back(dims[i]);
  if (num_elements(c.cell) != repeat) c.cell = {repeat};
  uint64_t n64 = 0;
  if (rows < 0 || repeat < 0 || !checked_mul(uint64_t(rows), uint64_t(repeat), &n64) || n64 > uint64_t(INT64_MAX))
    bad(fmt::format("has {} rows of {} values: the count overflows", rows, repeat));
  int64_t n = int64_t(n64);
  check_allocation(n64 * sizeof(double),
                   fmt::format("{}: reading column '{}' ({} rows x {})", f.where(), name, rows, repeat));
  c.values.resize(size_t(n));
  if (n == 0) return c;
  int anynul = 0;
  if (type == TLOGICAL) {
    std::vector<char> flags(static_cast<size_t>(n));
    char nul = 0;
    fits_read_col(f.get(), TLOGICAL, col, 1, 1, n, &nul, flags.data(), &anynul, &status);
    for (int64_t i = 0; i < n; ++i) c.values[size_t(i)] = flags[size_t(i)] ? 1 : 0;
  } else {
    double nul = kNaN;
    fits_read_col(f.get(), TDOUBLE, col, 1, 1, n, &nul, c.values.data(), &anynul, &status);
  }
  f.check(status, fmt::format("reading column '{}'", name));
  return c;
}

// NAXIS2, checked: its rows of NAXIS1 bytes must lie in the file.
int64_t table_rows(FitsFile& f) {
  LONGLONG rows = 0, width = 0;
  int status = 0;
  f.check(fits_get_num_rowsll(f.get(), &rows, &status), "reading the number of rows");
  f.check(fits_read_key(f.get(), TLONGLONG, "NAXIS1", &width, nullptr, &status), "reading NAXIS1");
  uint64_t bytes = 0;
  if (rows < 0 || width < 0 || !checked_mul(uint64_t(rows), uint64_t(width), &bytes))
    f.fail(fmt::format("the table size NAXIS1 x NAXIS2 = {} x {} is invalid", width, rows));
  check_data_in_file(f, bytes, fmt::format("NAXIS2 = {} rows of NAXIS1 = {} bytes", rows, width), "table");
  return rows;
}

Tensor read_table_columns(FitsFile& f, const std::vector<std::string>& columns, DType dtype) {
  std::vector<std::string> names = column_names(f);
  int64_t rows = table_rows(f);
  std::vector<Column> cols;
  int64_t width = 0;
  for (auto& name : columns) {
    int col = find_column(names, name);
    if (!col) f.fail(fmt::format("no column '{}' (the table has: {})", name, fmt::join(names, ", ")));
    cols.push_back(read_column(f, col, name, rows));
    width += cols.back().per_row;
  }
  Shape shape{rows, width};
  if (cols.size() == 1) {
    shape = {rows};
    shape.insert(shape.end(), cols[0].cell.begin(), cols[0].cell.end());
    if (shape.size() == 1) shape.push_back(1);
  }
  Tensor t(DType::F64, shape);
  double* out = t.data<double>();
  int64_t offset = 0;
  for (auto& c : cols) {
    for (int64_t r = 0; r < rows; ++r)
      std::copy_n(c.values.begin() + r * c.per_row, c.per_row, out + r * width + offset);
    offset += c.per_row;
  }
  return convert_dtype(t, dtype, fmt::format("{} columns {}", f.where(), fmt::join(columns, ",")));
}

// Builds the FITS file in memory, lets `fill` write it, and writes the bytes with
// write_file_atomic (runtime/io/file_io.h): replaced atomically, through links, to devices.
template <class Fill>
void write_fits_file(const std::string& path, Fill&& fill) {
  void* buf = nullptr;
  size_t size = 0;
  fitsfile* f = nullptr;
  int status = 0;
  fits_create_memfile(&f, &buf, &size, 0, realloc, &status);
  std::unique_ptr<void, void (*)(void*)> owned(nullptr, free);  // the buffer, once cfitsio lets go
  if (status) {
    free(buf);
    throw std::runtime_error(fmt::format("{}: cannot create: {}", path, cfitsio_message(status)));
  }
  fill(f, &status);
  if (!status) fits_flush_file(f, &status);
  LONGLONG logical = f->Fptr->logfilesize;
  int close_status = 0;
  fits_close_file(f, &close_status);
  owned.reset(buf);
  if (!status) status = close_status;
  if (status) throw std::runtime_error(fmt::format("{}: writing FITS failed: {}", path, cfitsio_message(status)));
  write_file_atomic(path, std::string_view(static_cast<const char*>(buf), std::min<size_t>(size_t(logical), size)));
}

int fits_datatype(DType t) {
  switch (t) {
    case DType::F32:
      return TFLOAT;
    case DType::F64:
      return TDOUBLE;
    case DType::I64:
      return TLONGLONG;
    case DType::Bool:
      return TLOGICAL;
  }
  return TDOUBLE;
}

}  // namespace

Tensor read_fits(const std::string& path, const std::vector<std::string>& columns, DType dtype) {
  FitsFile f(path, true);
  if (f.is_image()) {
    if (!columns.empty())
      f.fail(fmt::format("is an image, not a table: it has no column '{}' (drop the #columns selector)", columns[0]));
    return read_image(f, dtype);
  }
  if (columns.empty())
    f.fail(fmt::format("is a table: choose columns with #NAME,... (it has: {})", fmt::join(column_names(f), ", ")));
  return read_table_columns(f, columns, dtype);
}

Tensor read_fits_columns(const std::string& path, const std::vector<std::string>& columns, DType dtype) {
  FitsFile f(path, true);
  if (f.is_image()) f.fail("is an image, not a table");
  if (columns.empty()) f.fail("no columns named");
  return read_table_columns(f, columns, dtype);
}

std::vector<std::string> fits_hdu_names(const std::string& file) {
  FitsFile f(file, false);
  int n = 0, status = 0;
  f.check(fits_get_num_hdus(f.get(), &n, &status), "counting the HDUs");
  std::vector<std::string> names;
  for (int i = 1; i <= n; ++i) {
    int type = 0;
    f.check(fits_movabs_hdu(f.get(), i, &type, &status), fmt::format("moving to HDU {}", i - 1));
    names.push_back(f.key_string("EXTNAME"));
  }
  return names;
}

namespace {
// The 1-based number of `column` in the table HDU of `path`, its type and its rows.
int table_column(FitsFile& f, const std::string& column, int* type, int64_t* rows) {
  if (f.is_image()) f.fail(fmt::format("is an image, not a table: it has no column '{}'", column));
  std::vector<std::string> names = column_names(f);
  int col = find_column(names, column);
  if (!col) f.fail(fmt::format("no column '{}' (the table has: {})", column, fmt::join(names, ", ")));
  *rows = table_rows(f);
  LONGLONG repeat = 0, width = 0;
  int status = 0;
  f.check(fits_get_eqcoltypell(f.get(), col, type, &repeat, &width, &status), fmt::format("column '{}'", column));
  if (*type != TSTRING && repeat != 1)
    f.fail(fmt::format("column '{}' has {} values a row; one is expected here", column, repeat));
  check_allocation(uint64_t(*rows) * uint64_t(std::max<LONGLONG>(width, 8)),
                   fmt::format("{}: reading column '{}'", f.where(), column));
  return col;
}
}  // namespace

std::vector<FitsColumnInfo> fits_table_columns(const std::string& path) {
  FitsFile f(path, true);
  if (f.is_image()) f.fail("is an image, not a table");
  std::vector<FitsColumnInfo> out;
  std::vector<std::string> names = column_names(f);
  for (size_t i = 0; i < names.size(); ++i) {
    int type = 0, status = 0;
    LONGLONG repeat = 0, width = 0;
    f.check(fits_get_eqcoltypell(f.get(), int(i) + 1, &type, &repeat, &width, &status),
            fmt::format("column '{}'", names[i]));
    out.push_back({names[i], type == TSTRING});
  }
  return out;
}

std::vector<std::string> read_fits_text_column(const std::string& path, const std::string& column) {
  FitsFile f(path, true);
  int type = 0;
  int64_t rows = 0;
  int col = table_column(f, column, &type, &rows);
  if (type != TSTRING) f.fail(fmt::format("column '{}' holds numbers, not text", column));
  int status = 0, width = 0;
  f.check(fits_get_col_display_width(f.get(), col, &width, &status), fmt::format("column '{}'", column));
  std::vector<std::string> out;
  std::vector<char> cell(size_t(width) + 1);
  for (int64_t r = 0; r < rows; ++r) {
    char* p = cell.data();
    int anynul = 0;
    f.check(fits_read_col(f.get(), TSTRING, col, r + 1, 1, 1, nullptr, &p, &anynul, &status),
            fmt::format("reading column '{}'", column));
    std::string v = cell.data();
    while (!v.empty() && v.back() == ' ') v.pop_back();
    out.push_back(v);
  }
  return out;
}

std::vector<int64_t> read_fits_int64_column(const std::string& path, const std::string& column) {
  FitsFile f(path, true);
  int type = 0;
  int64_t rows = 0;
  int col = table_column(f, column, &type, &rows);
  if (type == TSTRING || type == TFLOAT || type == TDOUBLE || type < 0 || type == TLOGICAL)
    f.fail(fmt::format("column '{}' does not hold whole numbers (an integer column is expected)", column));
  std::vector<int64_t> out(static_cast<size_t>(rows));
  int status = 0, anynul = 0;
  if (rows)
    f.check(fits_read_col(f.get(), TLONGLONG, col, 1, 1, rows, nullptr, out.data(), &anynul, &status),
            fmt::format("reading column '{}'", column));
  return out;
}

std::optional<double> read_fits_key(const std::string& path, const std::string& key, bool first_data) {
  FitsFile f(path, first_data);
  return f.key_double(key.c_str());
}

size_t ascend_loglam(std::vector<double>& loglam, std::vector<double>& flux, std::vector<double>& ivar) {
  if (loglam.size() >= 2 && loglam.front() > loglam.back()) {
    std::reverse(loglam.begin(), loglam.end());
    std::reverse(flux.begin(), flux.end());
    std::reverse(ivar.begin(), ivar.end());
  }
  for (size_t i = 1; i < loglam.size(); ++i)
    if (!(loglam[i] > loglam[i - 1])) return i;
  return 0;
}

FitsSpectrum read_fits_spectrum(const std::string& path) {
  FitsFile f(path, true);
  FitsSpectrum s;
  if (!f.is_image()) {
    std::vector<std::string> names = column_names(f);
    int64_t rows = table_rows(f);
    auto flat = [&](const std::string& name) { return read_column(f, find_column(names, name), name, rows).values; };
    int flux = find_column(names, "flux");
    std::string wave_col;
    for (const char* w : {"wave", "wavelength", "lambda"})
      if (find_column(names, w)) wave_col = w;
    bool has_loglam = find_column(names, "loglam") != 0;
    if (!flux || (!has_loglam && wave_col.empty()))
      f.fail(fmt::format(
          "is not a spectrum table: it needs columns 'flux' and 'loglam' (or 'wave' in Angstrom); it has: {}",
          fmt::join(names, ", ")));
    s.flux = flat("flux");
    if (has_loglam) {
      s.loglam = flat("loglam");
    } else {
      s.loglam = flat(wave_col);
      for (size_t i = 0; i < s.loglam.size(); ++i) {
        if (!(s.loglam[i] > 0))
          f.fail(fmt::format("column '{}' element {} is {}: wavelengths must be positive", wave_col, i, s.loglam[i]));
        s.loglam[i] = std::log10(s.loglam[i]);
      }
    }
    if (find_column(names, "ivar")) s.ivar = flat("ivar");
    s.source = fmt::format("{} (table: {}, flux{})", f.where(), has_loglam ? "loglam" : wave_col,
                           s.ivar.empty() ? "" : ", ivar");
  } else {
    Tensor img = read_image(f, DType::F64);
    if (img.rank() > 2 || img.rank() == 0)
      f.fail(fmt::format("the image is {}: a spectrum is 1-D (or the first row of a 2-D image)", type_str(img.type())));
    if (img.size() == 0) f.fail(fmt::format("the image is {}: it has no pixels", type_str(img.type())));
    int64_t n = img.dim(-1);
    s.flux.assign(img.data<double>(), img.data<double>() + n);
    s.loglam.resize(size_t(n));
    std::string grid;
    if (auto c0 = f.key_double("COEFF0")) {
      double c1 = f.key_double("COEFF1").value_or(0);
      if (c1 == 0) f.fail("has COEFF0 but no (non-zero) COEFF1: the log10-wavelength step is missing");
      for (int64_t i = 0; i < n; ++i) s.loglam[size_t(i)] = *c0 + c1 * double(i);
      grid = "COEFF0/COEFF1";
    } else if (auto crval = f.key_double("CRVAL1")) {
      std::optional<double> step = f.key_double("CDELT1");
      if (!step) step = f.key_double("CD1_1");
      if (!step || *step == 0) f.fail("has CRVAL1 but no (non-zero) CDELT1 or CD1_1: the wavelength step is missing");
      double crpix = f.key_double("CRPIX1").value_or(1);
      std::string ctype = lower(f.key_string("CTYPE1"));
      bool log_axis = f.key_double("DC-FLAG").value_or(0) == 1 || ctype.find("log") != std::string::npos;
      for (int64_t i = 0; i < n; ++i) {
        double v = *crval + *step * (double(i + 1) - crpix);
        if (!log_axis && !(v > 0))
          f.fail(fmt::format("pixel {} has wavelength {} from CRVAL1/CDELT1: not positive", i, v));
        s.loglam[size_t(i)] = log_axis ? v : std::log10(v);
      }
      grid = log_axis ? "CRVAL1/CDELT1, log10 Angstrom" : "CRVAL1/CDELT1, Angstrom";
    } else {
      f.fail("is an image without a wavelength grid (COEFF0/COEFF1 or CRVAL1/CDELT1)");
    }
    s.source = fmt::format("{} (image, {})", f.where(), grid);
  }
  if (s.flux.size() != s.loglam.size())
    f.fail(fmt::format("flux has {} values but the wavelength grid {}", s.flux.size(), s.loglam.size()));
  if (s.flux.size() < 2) f.fail(fmt::format("the spectrum has {} pixel(s); at least 2 are needed", s.flux.size()));
  if (size_t i = ascend_loglam(s.loglam, s.flux, s.ivar))
    f.fail(fmt::format("the wavelength grid is not strictly monotonic at pixel {} (log10 lambda {} after {})", i,
                       s.loglam[i], s.loglam[i - 1]));
  return s;
}

void write_fits_image(const std::string& path, const Tensor& t) {
  write_fits_file(path, [&](fitsfile* f, int* status) {
    int bitpix = t.dtype() == DType::F32   ? FLOAT_IMG
                 : t.dtype() == DType::F64 ? DOUBLE_IMG
                 : t.dtype() == DType::I64 ? LONGLONG_IMG
                                           : BYTE_IMG;
    std::vector<LONGLONG> naxes(t.shape().rbegin(), t.shape().rend());
    if (naxes.empty()) naxes.push_back(1);  // a scalar: one pixel
    fits_create_imgll(f, bitpix, int(naxes.size()), naxes.data(), status);
    if (t.size() > 0 && !*status) {
      int type = t.dtype() == DType::Bool ? TBYTE : fits_datatype(t.dtype());
      fits_write_img(f, type, 1, t.size(), const_cast<void*>(t.raw()), status);
    }
  });
}

void write_fits_table(const std::string& path, const std::vector<FitsColumn>& columns, const std::string& extname) {
  if (columns.empty()) throw std::runtime_error(fmt::format("{}: a table needs at least one column", path));
  int64_t rows = -1;
  for (auto& c : columns) {
    if (c.name.empty()) throw std::runtime_error(fmt::format("{}: a table column has no name", path));
    if (c.values.rank() == 0)
      throw std::runtime_error(
          fmt::format("{}: column '{}' is a scalar; columns are [rows] or [rows, ...]", path, c.name));
    if (rows >= 0 && c.values.dim(0) != rows)
      throw std::runtime_error(
          fmt::format("{}: column '{}' has {} rows, the first column {}", path, c.name, c.values.dim(0), rows));
    rows = c.values.dim(0);
    for (auto& o : columns)
      if (&o != &c && lower(o.name) == lower(c.name))
        throw std::runtime_error(fmt::format("{}: two columns named '{}'", path, c.name));
  }
  write_fits_file(path, [&](fitsfile* f, int* status) {
    std::vector<std::string> forms, units;
    std::vector<char*> ttype, tform, tunit;
    for (auto& c : columns) {
      int64_t per_row =
          rows ? c.values.size() / rows : num_elements(Shape(c.values.shape().begin() + 1, c.values.shape().end()));
      const char* code = c.values.dtype() == DType::F32   ? "E"
                         : c.values.dtype() == DType::F64 ? "D"
                         : c.values.dtype() == DType::I64 ? "K"
                                                          : "L";
      forms.push_back(fmt::format("{}{}", per_row, code));
      units.push_back(c.unit);
    }
    for (size_t i = 0; i < columns.size(); ++i) {
      ttype.push_back(const_cast<char*>(columns[i].name.c_str()));
      tform.push_back(forms[i].data());
      tunit.push_back(units[i].data());
    }
    fits_create_tbl(f, BINARY_TBL, LONGLONG(rows), int(columns.size()), ttype.data(), tform.data(), tunit.data(),
                    extname.empty() ? nullptr : extname.c_str(), status);
    for (size_t i = 0; i < columns.size() && !*status; ++i) {
      const Tensor& v = columns[i].values;
      int col = int(i) + 1;
      if (v.rank() > 2) {
        std::vector<LONGLONG> dims(v.shape().rbegin(), v.shape().rend() - 1);
        fits_write_tdimll(f, col, int(dims.size()), dims.data(), status);
      }
      if (v.size() > 0 && !*status)
        fits_write_col(f, fits_datatype(v.dtype()), col, 1, 1, v.size(), const_cast<void*>(v.raw()), status);
    }
  });
}

}  // namespace starc
