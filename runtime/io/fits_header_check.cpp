#include "runtime/io/fits_header_check.h"

#include <fmt/format.h>

#include <cstdio>
#include <cstdlib>
#include <memory>
#include <stdexcept>

namespace starc {
namespace {

constexpr size_t kBlock = 2880, kCard = 80;
constexpr int kMaxHdus = 1000;  // cfitsio's MAXHDU

std::string_view trim(std::string_view s) {
  while (!s.empty() && s.front() == ' ') s.remove_prefix(1);
  while (!s.empty() && s.back() == ' ') s.remove_suffix(1);
  return s;
}

// The integer value of a fixed-format card, or false.
bool int_value(std::string_view c, int64_t* v) {
  std::string text(trim(c.substr(10, c.find('/', 10) == std::string_view::npos ? 70 : c.find('/', 10) - 10)));
  if (text.empty()) return false;
  char* end = nullptr;
  long long x = std::strtoll(text.c_str(), &end, 10);
  if (*end) return false;
  *v = x;
  return true;
}

}  // namespace

void FitsHeaderCheck::feed(const unsigned char* data, size_t n) {
  while (n > 0 && !done_) {
    if (!in_header_) {
      uint64_t k = std::min<uint64_t>(skip_, n);
      skip_ -= k, data += k, n -= k;
      if (skip_ == 0) in_header_ = true;
      continue;
    }
    size_t k = std::min(kBlock - block_.size(), n);
    block_.append(reinterpret_cast<const char*>(data), k);
    data += k, n -= k;
    if (block_.size() < kBlock) continue;
    for (size_t i = 0; i < kBlock && !ended_; i += kCard) card(std::string_view(block_).substr(i, kCard));
    block_.clear();
    if (ended_) end_of_header();
  }
}

void FitsHeaderCheck::card(std::string_view c) {
  ++card_;
  std::string_view key = trim(c.substr(0, 8));
  if (key == "END") {
    ended_ = true;
    return;
  }
  // A value card has '=' in column 9; cfitsio reads the value even when column 10 is not
  // the standard's space, so the check does too.
  if (c[8] != '=') return;
  std::string_view value = c.substr(9);
  size_t first = value.find_first_not_of(' ');
  if (first != std::string_view::npos && value[first] != '\'') {
    std::string_view token = trim(value.substr(first, value.find('/', first) - first));
    if (token.size() > 68)
      throw std::runtime_error(
          fmt::format("{}: HDU {}, header card {} ({}): a value of {} characters without quotes; FITS strings are "
                      "quoted and at most 68 characters (cfitsio cannot read this card safely)",
                      file_, hdu_, card_, key, token.size()));
  }
  int64_t v = 0;
  if (key == "BITPIX" && int_value(c, &v))
    bitpix_ = v;
  else if (key == "NAXIS" && int_value(c, &v))
    naxis_ = v;
  else if (key == "PCOUNT" && int_value(c, &v))
    pcount_ = v;
  else if (key == "GCOUNT" && int_value(c, &v))
    gcount_ = v;
  else if (key.size() > 5 && key.substr(0, 5) == "NAXIS" && int_value(c, &v))
    naxes_.push_back(v);
}

// The data of the HDU whose header ended: its size (FITS standard 4.4.1), to skip.
void FitsHeaderCheck::end_of_header() {
  const bool sane =
      (bitpix_ == 8 || bitpix_ == 16 || bitpix_ == 32 || bitpix_ == 64 || bitpix_ == -32 || bitpix_ == -64) &&
      naxis_ >= 0 && naxis_ <= 999 && int64_t(naxes_.size()) == naxis_ && pcount_ >= 0 && gcount_ >= 0;
  if (!sane || ++hdu_ >= kMaxHdus) {  // cfitsio reports what is wrong with it
    done_ = true;
    return;
  }
  unsigned __int128 bytes = 0;
  if (naxis_ > 0) {
    unsigned __int128 elems = 1;
    for (int64_t d : naxes_) {
      if (d < 0) {
        done_ = true;
        return;
      }
      elems *= uint64_t(d);
      if (elems > (unsigned __int128)1 << 80) elems = (unsigned __int128)1 << 80;  // past any file
    }
    bytes = (unsigned __int128)(std::abs(bitpix_) / 8) * uint64_t(gcount_) * (uint64_t(pcount_) + elems);
  }
  bytes = (bytes + kBlock - 1) / kBlock * kBlock;
  skip_ = bytes > UINT64_MAX ? UINT64_MAX : uint64_t(bytes);
  in_header_ = skip_ == 0;
  ended_ = false;
  card_ = 0;
  bitpix_ = 0, naxis_ = -1, pcount_ = 0, gcount_ = 1;
  naxes_.clear();
}

void check_fits_headers(const std::string& file) {
  std::FILE* in = std::fopen(file.c_str(), "rb");
  if (!in) return;  // cfitsio reports it
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> closer(in, std::fclose);
  FitsHeaderCheck check(file);
  unsigned char buf[kBlock];
  while (!check.done()) {
    if (uint64_t skip = check.data_to_skip()) {  // data: seek over it
      if (skip > uint64_t(INT64_MAX) || fseeko(in, off_t(skip), SEEK_CUR) != 0) return;
      check.skipped(skip);
      continue;
    }
    size_t n = std::fread(buf, 1, sizeof buf, in);
    if (n == 0) return;
    check.feed(buf, n);
  }
}

}  // namespace starc
