// runtime: how much memory a run may take, and the errors when it cannot have it. The
// executors check a run's memory plan against the limit before running it (a refusal
// names the largest tensor), and turn an allocation that fails while running into an
// error naming the tensor and its size, never a crash (docs/reliability.md, "Memory").
#pragma once
#include <cstdint>
#include <functional>
#include <optional>
#include <stdexcept>
#include <string>

namespace starc {

// The limit on what a run allocates (its temporaries at their peak, and its outputs):
// kMachineMemory (the default) is what the machine has available when the run starts
// (MemAvailable in /proc/meminfo, or the cgroup's limit less its usage when that is
// lower); kNoMemoryLimit checks nothing; a positive value is a number of bytes.
inline constexpr int64_t kMachineMemory = 0, kNoMemoryLimit = -1;
void set_memory_limit(int64_t bytes);
int64_t memory_limit();

// Bytes the machine (or this process's cgroup) has available now; -1 if unknown.
int64_t available_memory();

// A run refused before it starts: it needs more than the limit. The message names the
// model, the sizes and the largest tensor, but not how to change the limit: the CLI adds
// its flag.
struct MemoryLimitError : std::runtime_error {
  MemoryLimitError(const std::string& msg, int64_t needed, int64_t available, bool user_limit)
      : std::runtime_error(msg), needed(needed), available(available), user_limit(user_limit) {}
  int64_t needed, available;
  bool user_limit;  // the limit was set (set_memory_limit), not the machine's
};

// An allocation that failed while running; the message names the tensor and its size.
struct OutOfMemoryError : std::runtime_error {
  OutOfMemoryError(const std::string& msg, int64_t bytes) : std::runtime_error(msg), bytes(bytes) {}
  int64_t bytes;
};

// Throws MemoryLimitError when `needed` bytes exceed the limit. `message(available)`
// makes its text (called only then); it should end with the available bytes.
void check_memory(int64_t needed, const std::function<std::string(int64_t available, bool user_limit)>& message);

// "95.3 GiB", "12.0 MiB", "512 B".
std::string format_bytes(int64_t bytes);

// A size as a user writes it: "8G", "512MiB", "1.5GB", "2000000000" (bytes; K, M, G, T
// are powers of 1024, with or without "B" or "iB"), or "none" (kNoMemoryLimit). nullopt
// when it is none of these, not positive, or beyond 2^63 bytes.
std::optional<int64_t> parse_memory_size(const std::string& text);

}  // namespace starc
