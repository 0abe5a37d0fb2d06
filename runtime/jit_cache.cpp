#include "runtime/jit_cache.h"

#include <fmt/format.h>
#include <sys/stat.h>

#include <array>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <mutex>
#include <set>

#include "llvm-c/blake3.h"
#include "runtime/io/file_io.h"

namespace starc::jit_cache {
namespace {

constexpr char kMagic[8] = {'S', 'T', 'A', 'R', 'C', 'J', 'I', 'T'};
constexpr uint32_t kVersion = 1;
constexpr size_t kKeyDigestAt = 32, kSumAt = 64;

using Digest = std::array<uint8_t, 32>;

Digest blake3(std::string_view a, std::string_view b = {}) {
  llvm_blake3_hasher h;
  llvm_blake3_hasher_init(&h);
  llvm_blake3_hasher_update(&h, a.data(), a.size());
  if (!b.empty()) llvm_blake3_hasher_update(&h, b.data(), b.size());
  Digest d;
  llvm_blake3_hasher_finalize(&h, d.data(), d.size());
  return d;
}

template <class T>
void put(std::string& out, size_t at, T v) {
  std::memcpy(out.data() + at, &v, sizeof v);
}
template <class T>
T get(std::string_view in, size_t at) {
  T v;
  std::memcpy(&v, in.data() + at, sizeof v);
  return v;
}

}  // namespace

std::string encode(std::string_view key, std::string_view object) {
  std::string out(kHeaderBytes, '\0');
  std::memcpy(out.data(), kMagic, 8);
  put<uint32_t>(out, 8, kVersion);
  put<uint64_t>(out, 16, object.size());
  Digest k = blake3(key);
  std::memcpy(out.data() + kKeyDigestAt, k.data(), k.size());
  Digest sum = blake3(std::string_view(out).substr(0, kSumAt), object);
  std::memcpy(out.data() + kSumAt, sum.data(), sum.size());
  out.append(object);
  return out;
}

std::optional<std::string_view> decode(std::string_view entry, std::string_view key, std::string* why) {
  auto bad = [&](std::string msg) -> std::optional<std::string_view> {
    *why = std::move(msg);
    return std::nullopt;
  };
  if (entry.size() < kHeaderBytes) return bad(fmt::format("truncated: {} bytes, less than its header", entry.size()));
  if (std::memcmp(entry.data(), kMagic, 8) != 0) return bad("not a starc JIT cache entry (no STARCJIT header)");
  if (get<uint32_t>(entry, 8) != kVersion || get<uint32_t>(entry, 12) != 0 || get<uint64_t>(entry, 24) != 0)
    return bad("written in another format (or its header is corrupt)");
  uint64_t size = get<uint64_t>(entry, 16);
  if (size != entry.size() - kHeaderBytes)
    return bad(fmt::format("its header says {} bytes of object, the file holds {} (truncated or corrupt)", size,
                           entry.size() - kHeaderBytes));
  std::string_view object = entry.substr(kHeaderBytes);
  Digest sum = blake3(entry.substr(0, kSumAt), object);
  if (std::memcmp(sum.data(), entry.data() + kSumAt, sum.size()) != 0)
    return bad("checksum mismatch (the file is corrupt)");
  Digest k = blake3(key);
  if (std::memcmp(k.data(), entry.data() + kKeyDigestAt, k.size()) != 0)
    return bad("written for another compilation (key mismatch)");
  return object;
}

std::string entry_path(const std::string& folder, std::string_view key) {
  Digest d = blake3(key);
  std::string hex;
  for (size_t i = 0; i < 16; ++i) hex += fmt::format("{:02x}", d[i]);
  return folder + "/" + hex + ".jit";
}

void warn(const std::string& message) {
  static std::mutex mu;
  static std::set<std::string> printed;
  std::lock_guard<std::mutex> lock(mu);
  if (!printed.insert(message).second) return;
  std::string line = message;
  for (char& c : line)
    if (c == '\n') c = ' ';
  fmt::print(stderr, "warning: JIT disk cache: {}\n", line);
  std::fflush(stderr);
}

std::optional<std::string> load(const std::string& folder, std::string_view key) {
  const std::string path = entry_path(folder, key);
  struct stat st{};
  if (::lstat(path.c_str(), &st) != 0) {
    if (errno != ENOENT && errno != ENOTDIR) warn(fmt::format("{}: {}; compiling instead", path, std::strerror(errno)));
    return std::nullopt;
  }
  std::string bytes;
  try {
    bytes = read_regular_file_nofollow(path, kMaxEntryBytes);
  } catch (const std::exception& e) {
    warn(fmt::format("{}; compiling instead", e.what()));
    return std::nullopt;
  }
  std::string why;
  std::optional<std::string_view> object = decode(bytes, key, &why);
  if (!object) {
    warn(fmt::format("{}: {}; compiling instead", path, why));
    return std::nullopt;
  }
  return std::string(*object);
}

void store(const std::string& folder, std::string_view key, std::string_view object) {
  std::error_code ec;
  std::filesystem::create_directories(folder, ec);
  if (ec) {
    warn(fmt::format("cannot create the folder {}: {}; compiled code is not cached", folder, ec.message()));
    return;
  }
  const std::string path = entry_path(folder, key);
  try {
    replace_file_atomic(path, encode(key, object));
  } catch (const std::exception& e) {
    // One warning per folder and reason (a full disk would otherwise warn per compile):
    // the reason is the message's last part, the system's error text.
    std::string msg = e.what();
    size_t colon = msg.rfind(": ");
    std::string reason = colon == std::string::npos ? msg : msg.substr(colon + 2);
    warn(fmt::format("cannot write to {}: {}; compiled code is not cached", folder, reason));
  }
}

}  // namespace starc::jit_cache
