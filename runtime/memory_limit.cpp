#include "runtime/memory_limit.h"

#include <fmt/format.h>

#include <atomic>
#include <cctype>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <sstream>

namespace starc {

namespace {

std::atomic<int64_t> g_limit{kMachineMemory};

// The first number in a file ("max" or a missing file: -1).
int64_t read_number(const std::string& path) {
  std::ifstream f(path);
  long long v = -1;
  if (!(f >> v)) return -1;
  return v;
}

// MemAvailable of /proc/meminfo in bytes, or -1.
int64_t meminfo_available() {
  std::ifstream f("/proc/meminfo");
  for (std::string line; std::getline(f, line);) {
    if (line.rfind("MemAvailable:", 0) != 0) continue;
    std::istringstream in(line.substr(13));
    long long kib = -1;
    if (in >> kib && kib >= 0) return int64_t(kib) * 1024;
  }
  return -1;
}

// The room left under this process's cgroup memory limit (v2, else v1), or -1 if none.
int64_t cgroup_available() {
  std::string dir = "/sys/fs/cgroup";
  std::ifstream self("/proc/self/cgroup");
  for (std::string line; std::getline(self, line);)
    if (line.rfind("0::", 0) == 0 && line.size() > 3) dir += line.substr(3);
  int64_t max = read_number(dir + "/memory.max"), used = read_number(dir + "/memory.current");
  if (max < 0) {  // v1 (its "no limit" is a huge number, which the min below ignores)
    max = read_number("/sys/fs/cgroup/memory/memory.limit_in_bytes");
    used = read_number("/sys/fs/cgroup/memory/memory.usage_in_bytes");
  }
  if (max < 0) return -1;
  return max > used && used >= 0 ? max - used : 0;
}

}  // namespace

void set_memory_limit(int64_t bytes) { g_limit = bytes; }
int64_t memory_limit() { return g_limit; }

int64_t available_memory() {
  int64_t mem = meminfo_available(), group = cgroup_available();
  if (mem < 0) return group;
  return group >= 0 && group < mem ? group : mem;
}

void check_memory(int64_t needed, const std::function<std::string(int64_t, bool)>& message) {
  int64_t limit = memory_limit();
  if (limit == kNoMemoryLimit) return;
  const bool user = limit > 0;
  if (!user) {
    // Reading the machine's figure costs more than a small model's run: a run that fits
    // the last reading goes ahead; only one that does not reads it again before refusing.
    static std::atomic<int64_t> last{-2};
    int64_t seen = last;
    if (seen != -2 && (seen < 0 || needed <= seen)) return;
    limit = available_memory();
    last = limit;
    if (limit < 0) return;  // unknown: nothing to check against
  }
  if (needed > limit) throw MemoryLimitError(message(limit, user), needed, limit, user);
}

std::string format_bytes(int64_t bytes) {
  const char* units[] = {"KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
  if (bytes < 1024) return fmt::format("{} B", bytes);
  double v = double(bytes) / 1024;
  int u = 0;
  while (v >= 1024 && u < 5) v /= 1024, ++u;
  return fmt::format("{:.1f} {}", v, units[u]);
}

std::optional<int64_t> parse_memory_size(const std::string& text) {
  if (text == "none") return kNoMemoryLimit;
  size_t i = 0;
  while (i < text.size() && (std::isdigit(static_cast<unsigned char>(text[i])) || text[i] == '.')) ++i;
  if (i == 0 || i > 32) return std::nullopt;
  char* end = nullptr;
  std::string number = text.substr(0, i);
  double v = std::strtod(number.c_str(), &end);
  if (end != number.c_str() + number.size()) return std::nullopt;
  std::string unit;
  for (char c : text.substr(i)) unit += char(std::tolower(static_cast<unsigned char>(c)));
  if (unit.size() > 1 && (unit.substr(1) == "b" || unit.substr(1) == "ib")) unit = unit.substr(0, 1);
  const std::string units = "kmgt";
  double scale = 1;
  if (unit.size() == 1 && units.find(unit[0]) != std::string::npos)
    scale = std::pow(1024.0, double(units.find(unit[0]) + 1));
  else if (!unit.empty() && unit != "b")
    return std::nullopt;
  v *= scale;
  if (!(v >= 1) || v >= 9223372036854775808.0) return std::nullopt;
  return int64_t(v);
}

}  // namespace starc
