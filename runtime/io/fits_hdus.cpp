#include "runtime/io/fits_hdus.h"

#include <fitsio.h>
#include <fmt/format.h>

#include <algorithm>
#include <cstdlib>
#include <memory>
#include <stdexcept>

#include "runtime/io/file_io.h"

namespace starc {
namespace {

std::string cfitsio_text(int status) {
  char text[FLEN_STATUS] = {0};
  fits_get_errstatus(status, text);
  fits_clear_errmsg();
  return text;
}

size_t value_count(const FitsValues& v) {
  return std::visit([](auto& x) { return x.size(); }, v);
}

// The cfitsio datatype code and TFORM letter of a column's values.
std::pair<int, char> column_type(const FitsValues& v) {
  switch (v.index()) {
    case 0:
      return {TFLOAT, 'E'};
    case 1:
      return {TDOUBLE, 'D'};
    case 2:
      return {TINT, 'J'};
    case 3:
      return {TUINT, 'V'};  // cfitsio writes 'V' as 'J' with TZERO 2^31 (unsigned)
    case 4:
      return {TLONGLONG, 'K'};
    default:
      return {TSTRING, 'A'};
  }
}

void write_keys(fitsfile* f, const std::vector<FitsKey>& keys, int* status) {
  for (auto& k : keys) {
    const char* comment = k.comment.empty() ? nullptr : k.comment.c_str();
    std::visit(
        [&](auto& v) {
          using T = std::decay_t<decltype(v)>;
          if constexpr (std::is_same_v<T, bool>) {
            int b = v;
            fits_update_key(f, TLOGICAL, k.name.c_str(), &b, comment, status);
          } else if constexpr (std::is_same_v<T, int64_t>) {
            LONGLONG x = v;
            fits_update_key(f, TLONGLONG, k.name.c_str(), &x, comment, status);
          } else if constexpr (std::is_same_v<T, double>) {
            double x = v;
            fits_update_key(f, TDOUBLE, k.name.c_str(), &x, comment, status);
          } else {
            fits_update_key(f, TSTRING, k.name.c_str(), const_cast<char*>(v.c_str()), comment, status);
          }
        },
        k.value);
  }
}

void write_image(fitsfile* f, const FitsHdu& h, int* status) {
  static const int kBitpix[] = {FLOAT_IMG, DOUBLE_IMG, LONG_IMG, ULONG_IMG, LONGLONG_IMG};
  std::vector<LONGLONG> naxes(h.shape.rbegin(), h.shape.rend());
  int bitpix = h.shape.empty() ? 8 : kBitpix[std::min<size_t>(h.image.index(), 4)];
  fits_create_imgll(f, bitpix, int(naxes.size()), naxes.data(), status);
  size_t n = value_count(h.image);
  if (n == 0 || *status) return;
  std::visit(
      [&](auto& v) {
        using T = typename std::decay_t<decltype(v)>::value_type;
        if constexpr (!std::is_same_v<T, std::string>)
          fits_write_img(f, column_type(h.image).first, 1, LONGLONG(n), const_cast<T*>(v.data()), status);
      },
      h.image);
}

void write_table(fitsfile* f, const FitsHdu& h, int64_t rows, int* status) {
  std::vector<std::string> names, forms, units;
  for (auto& c : h.columns) {
    names.push_back(c.name);
    units.push_back(c.unit);
    if (auto* text = std::get_if<std::vector<std::string>>(&c.values)) {
      size_t width = size_t(std::max<int64_t>(c.repeat, 1));
      for (auto& s : *text) width = std::max(width, s.size());
      forms.push_back(fmt::format("{}A", width));
    } else {
      forms.push_back(fmt::format("{}{}", c.repeat, column_type(c.values).second));
    }
  }
  std::vector<char*> ttype, tform, tunit;
  for (size_t i = 0; i < h.columns.size(); ++i) {
    ttype.push_back(names[i].data());
    tform.push_back(forms[i].data());
    tunit.push_back(units[i].data());
  }
  fits_create_tbl(f, BINARY_TBL, LONGLONG(rows), int(h.columns.size()), ttype.data(), tform.data(), tunit.data(),
                  h.extname.c_str(), status);
  for (size_t i = 0; i < h.columns.size() && !*status; ++i) {
    const FitsTableColumn& c = h.columns[i];
    int col = int(i) + 1;
    std::visit(
        [&](auto& v) {
          using T = typename std::decay_t<decltype(v)>::value_type;
          if (v.empty()) return;
          if constexpr (std::is_same_v<T, std::string>) {
            std::vector<char*> cells;
            for (auto& s : v) cells.push_back(const_cast<char*>(s.c_str()));
            fits_write_col(f, TSTRING, col, 1, 1, LONGLONG(cells.size()), cells.data(), status);
          } else {
            fits_write_col(f, column_type(c.values).first, col, 1, 1, LONGLONG(v.size()), const_cast<T*>(v.data()),
                           status);
          }
        },
        c.values);
  }
}

// Throws unless `h`'s sizes agree: image values = product of its shape; table columns
// all rows * repeat values for one row count, which it returns (-1 for an image).
int64_t check_hdu(const std::string& path, const FitsHdu& h, size_t index) {
  auto fail = [&](const std::string& why) {
    throw std::runtime_error(fmt::format("{} (HDU {} {}): {}", path, index, h.extname, why));
  };
  if (h.columns.empty()) {
    int64_t n = 1;
    for (int64_t d : h.shape) n *= d;
    if (h.shape.empty()) n = 0;
    if (int64_t(value_count(h.image)) != n)
      fail(fmt::format("the image has {} values for {} pixels", value_count(h.image), n));
    if (h.image.index() == 5 && n) fail("an image cannot hold text");
    return -1;
  }
  if (index == 0) fail("the primary HDU cannot be a table");
  int64_t rows = -1;
  for (auto& c : h.columns) {
    bool text = c.values.index() == 5;
    int64_t per = text ? 1 : c.repeat;
    if (c.repeat <= 0) fail(fmt::format("column '{}' has repeat {}", c.name, c.repeat));
    int64_t r = int64_t(value_count(c.values)) / per;
    if (r * per != int64_t(value_count(c.values)) || (rows >= 0 && r != rows))
      fail(fmt::format("column '{}' has {} values: not {} rows of {}", c.name, value_count(c.values),
                       rows >= 0 ? rows : r, per));
    rows = r;
  }
  return rows;
}

}  // namespace

void write_fits_hdus(const std::string& path, const std::vector<FitsHdu>& hdus) {
  if (hdus.empty()) throw std::runtime_error(fmt::format("{}: a FITS file needs a primary HDU", path));
  std::vector<int64_t> rows;
  for (size_t i = 0; i < hdus.size(); ++i) rows.push_back(check_hdu(path, hdus[i], i));
  void* buf = nullptr;
  size_t size = 0;
  fitsfile* f = nullptr;
  int status = 0;
  fits_create_memfile(&f, &buf, &size, 0, realloc, &status);
  std::unique_ptr<void, void (*)(void*)> owned(nullptr, free);
  if (status) {
    free(buf);
    throw std::runtime_error(fmt::format("{}: cannot create: {}", path, cfitsio_text(status)));
  }
  size_t failed_at = 0;
  for (size_t i = 0; i < hdus.size() && !status; ++i) {
    failed_at = i;
    const FitsHdu& h = hdus[i];
    if (h.columns.empty())
      write_image(f, h, &status);
    else
      write_table(f, h, rows[i], &status);
    if (i > 0 && h.columns.empty() && !h.extname.empty() && !status)
      fits_update_key(f, TSTRING, "EXTNAME", const_cast<char*>(h.extname.c_str()), nullptr, &status);
    if (!status) write_keys(f, h.keys, &status);
  }
  if (!status) fits_flush_file(f, &status);
  LONGLONG logical = status ? 0 : f->Fptr->logfilesize;
  int close_status = 0;
  fits_close_file(f, &close_status);
  owned.reset(buf);
  if (!status) status = close_status;
  if (status)
    throw std::runtime_error(fmt::format("{} (HDU {} {}): writing FITS failed: {}", path, failed_at,
                                         hdus[failed_at].extname, cfitsio_text(status)));
  write_file_atomic(path, std::string_view(static_cast<const char*>(buf), std::min<size_t>(size_t(logical), size)));
}

}  // namespace starc
