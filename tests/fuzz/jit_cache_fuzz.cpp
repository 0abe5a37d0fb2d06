// libFuzzer harness: the JIT disk cache's entries (runtime/jit_cache.cpp). Whatever the
// file holds, decode() and load() give the object only for an intact entry written for
// the key, and then exactly the bytes encode() was given; anything else is nullopt with a
// reason, never a crash. A random mutation cannot pass a BLAKE3 checksum, so half of the
// mutations re-encode a mutated object (the custom mutator) and the header checks after
// the checksum see valid entries too.
#include <cstring>
#include <filesystem>

#include "runtime/jit_cache.h"
#include "tests/fuzz/fuzz_util.h"

using namespace starc;

namespace {

constexpr std::string_view kKey = "fuzz key: module text, LLVM version, options";

const std::string& cache_folder() {
  static const std::string dir = [] {
    std::string p = fuzz::temp_name(".jitcache");
    std::filesystem::create_directories(p);
    return p;
  }();
  return dir;
}

}  // namespace

extern "C" size_t LLVMFuzzerMutate(uint8_t* data, size_t size, size_t max_size);

extern "C" size_t LLVMFuzzerCustomMutator(uint8_t* data, size_t size, size_t max_size, unsigned int seed) {
  size = LLVMFuzzerMutate(data, size, max_size);
  if (seed % 2 == 0 || size < jit_cache::kHeaderBytes) return size;
  // A valid entry for the mutated object; every fourth one then gets one header byte changed.
  std::string_view object(reinterpret_cast<const char*>(data) + jit_cache::kHeaderBytes,
                          size - jit_cache::kHeaderBytes);
  std::string entry = jit_cache::encode(kKey, object);
  if (seed % 8 == 1) entry[(seed / 8) % jit_cache::kHeaderBytes] ^= char(1 + seed % 255);
  std::memcpy(data, entry.data(), entry.size());
  return entry.size();
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view bytes(reinterpret_cast<const char*>(data), size);
  std::string why;
  std::optional<std::string_view> object = jit_cache::decode(bytes, kKey, &why);
  if (object) {
    if (jit_cache::encode(kKey, *object) != bytes) fuzz::fail("decode accepted an entry encode would not write");
    std::string other;
    if (jit_cache::decode(bytes, "another key", &other)) fuzz::fail("decode accepted an entry for another key");
  } else if (why.empty()) {
    fuzz::fail("decode refused an entry without a reason");
  }
  // The input as an object: it must come back unchanged.
  std::string entry = jit_cache::encode(kKey, bytes);
  std::optional<std::string_view> back = jit_cache::decode(entry, kKey, &why);
  if (!back || *back != bytes) fuzz::fail("decode(encode(object)) is not the object: " + why);
  // The file path: load() reads the entry file and must agree with decode().
  std::string path = jit_cache::entry_path(cache_folder(), kKey);
  FILE* f = std::fopen(path.c_str(), "wb");
  if (!f || std::fwrite(data, 1, size, f) != size || std::fclose(f) != 0) fuzz::fail("cannot write " + path);
  std::optional<std::string> loaded = jit_cache::load(cache_folder(), kKey);
  if (loaded.has_value() != object.has_value() || (loaded && *loaded != *object))
    fuzz::fail("load() and decode() disagree");
  return 0;
}
