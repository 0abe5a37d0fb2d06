#include "compiler/ir/share_dir.h"

#include <dlfcn.h>

#include <filesystem>

namespace fs = std::filesystem;

namespace starc {

std::string this_binary_path() {
  Dl_info info{};
  if (!::dladdr(reinterpret_cast<void*>(&this_binary_path), &info) || !info.dli_fname) return "";
  std::error_code ec;
  fs::path p = fs::canonical(info.dli_fname, ec);  // the executable's name may be relative
  return ec ? std::string(info.dli_fname) : p.string();
}

namespace {

// `installed` below <prefix>/share/starc, or `in_source` below the source tree.
std::string find(const fs::path& installed, const fs::path& in_source, const char* marker) {
  std::error_code ec;
  const fs::path source = fs::path(STARC_SOURCE_DIR) / in_source;
  const bool have_source = fs::exists(source / marker, ec);
  const std::string binary = this_binary_path();
  if (have_source && binary.rfind(std::string(STARC_BUILD_DIR) + "/", 0) == 0) return source.string();
  fs::path dir = fs::path(binary).parent_path();
  // bin/ is 1 level below the prefix; lib/python3/dist-packages/starc/ is 4.
  for (int up = 0; up < 5 && !dir.empty(); ++up, dir = dir.parent_path()) {
    fs::path candidate = dir / "share" / "starc" / installed;
    if (fs::exists(candidate / marker, ec)) return candidate.string();
    if (dir == dir.parent_path()) break;
  }
  return have_source ? source.string() : "";
}

}  // namespace

const std::string& stdlib_dir() {
  static const std::string dir = find("stdlib", "stdlib", "std");
  return dir;
}

const std::string& kernel_sources_dir() {
  static const std::string dir = find("kernels", "compiler/backend/kernels", "starc_kernels.c");
  return dir;
}

}  // namespace starc
