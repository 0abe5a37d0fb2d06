// runtime: a check of FITS headers before cfitsio reads them. cfitsio 4.2 (Debian 12)
// copies a column keyword's value into a fixed 70-byte field with strcpy: an unquoted value
// filling the whole 70-column value field (`TTYPE2  = AAAA...`) overflows it, and glibc
// aborts the process (found by tests/fuzz/fits_fuzz.cpp). Real files quote their strings
// (the standard limits a string to 68 characters), so starc refuses such a card with a
// message instead of letting cfitsio read it.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace starc {

// Walks the HDUs of a FITS byte stream: header cards are checked, data is skipped. Bytes
// are fed in order (`feed`); where the caller can seek, `data_to_skip()` says how many
// bytes it may skip instead. Throws std::runtime_error naming the file, the HDU and the card.
class FitsHeaderCheck {
 public:
  explicit FitsHeaderCheck(std::string file) : file_(std::move(file)) {}
  void feed(const unsigned char* data, size_t n);
  // Bytes of data (or padding) that come next and need no look; the caller skips them
  // with skipped(n) after seeking.
  uint64_t data_to_skip() const { return in_header_ || done_ ? 0 : skip_; }
  void skipped(uint64_t n) { skip_ -= n; }
  bool done() const { return done_; }  // nothing further to check (or not a FITS layout starc follows)

 private:
  void card(std::string_view c);
  void end_of_header();
  std::string file_;
  std::string block_;  // the header block read so far (2880 bytes)
  bool in_header_ = true, done_ = false, ended_ = false;
  int hdu_ = 0;        // 0-based, as starc names HDUs
  uint64_t skip_ = 0;  // data and padding bytes left of the current HDU
  int64_t bitpix_ = 0, pcount_ = 0, gcount_ = 1;
  std::vector<int64_t> naxes_;
  int64_t naxis_ = -1, card_ = 0;
};

// Checks the headers of the FITS file `file` (uncompressed: data is seeked over).
void check_fits_headers(const std::string& file);

}  // namespace starc
