// runtime: the JIT's disk cache of compiled objects (docs/reliability.md, "The JIT disk
// cache"). Nothing read from the cache folder is trusted: an entry is used only when it is
// a regular file whose checksum and key match; any problem (corrupt, truncated, written
// for another key, a link or special file in its place, unreadable, unwritable, a full
// disk) costs a compile and one "warning:" line on stderr, never a failed or wrong run.
//
// An entry (<folder>/<FNV-128 of the key, hex>.jit) is a 96-byte header and the object:
//   0  "STARCJIT"   magic
//   8  u32 1        format version
//  12  u32 0        reserved
//  16  u64          object size (the entry is exactly 96 + this)
//  24  u64 0        reserved
//  32  32 bytes     BLAKE3 of the key text (the MLIR, LLVM version, pipeline, options)
//  64  32 bytes     BLAKE3 of bytes 0..63 followed by the object
//  96  the object (ELF, as LLVM's ORC JIT emitted it)
// BLAKE3 (LLVM's, 256 bits) as the checksum: a random corruption passes it with
// probability 2^-256, and it hashes at several GB/s, so verifying costs far less than
// loading. It guards against damage, not attack: whoever can write the cache folder can
// run code as its owner anyway.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace starc::jit_cache {

constexpr size_t kHeaderBytes = 96;
// Entries above this are not read (the largest objects starc makes are a few MB).
constexpr uint64_t kMaxEntryBytes = uint64_t(1) << 30;

// The entry's bytes for `object` compiled from `key`.
std::string encode(std::string_view key, std::string_view object);

// The object inside `entry` when it is a complete, intact entry written for `key`;
// otherwise nullopt and *why says what is wrong ("checksum mismatch", ...).
std::optional<std::string_view> decode(std::string_view entry, std::string_view key, std::string* why);

// The entry file for `key` in `folder`.
std::string entry_path(const std::string& folder, std::string_view key);

// The object cached for `key` in `folder`, or nullopt (absent, or unusable: then a warning
// is printed, once per problem).
std::optional<std::string> load(const std::string& folder, std::string_view key);

// Stores `object` for `key` in `folder` (created if missing), replacing whatever is at
// the entry's name; a failure prints a warning (once per kind) and is otherwise ignored.
void store(const std::string& folder, std::string_view key, std::string_view object);

// Prints "warning: JIT disk cache: <message>" on stderr unless the same text was printed
// before in this process.
void warn(const std::string& message);

}  // namespace starc::jit_cache
