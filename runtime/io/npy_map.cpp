#include "runtime/io/npy_map.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <vector>

#include "runtime/io/npy.h"

namespace starc {
namespace {

// A live mapping: the file it maps (kept open for pread) and where its data starts.
struct Mapping {
  int fd = -1;
  uint64_t data_offset = 0;
};

// Keyed by the tensor's first element (what Tensor::raw() returns for it and its
// reshaped views). A mutex: ranks' threads or a prefetching reader may read beside the step.
std::mutex g_mutex;
std::map<const void*, Mapping>& mappings() {
  static std::map<const void*, Mapping> m;
  return m;
}

struct Fd {
  int fd = -1;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

// The layout of the .npy open at `fd` (`size` bytes), or nullopt when its header does
// not end in the first MiB, the limit npy.cpp enforces (read_npy then says why).
std::optional<NpyLayout> read_layout(int fd, uint64_t size, const std::string& path) {
  std::string head;
  for (uint64_t want = 4096;; want *= 4) {
    want = std::min<uint64_t>(want, size);
    head.resize(size_t(want));
    ssize_t got = ::pread(fd, head.data(), head.size(), 0);
    if (got != ssize_t(head.size())) return std::nullopt;
    if (auto l = npy_layout(head, path)) return l;
    if (want == size || want > (uint64_t(1) << 21)) return std::nullopt;
  }
}

}  // namespace

uint64_t mmap_min_bytes() {
  const char* env = std::getenv("STARC_MMAP_MIN_BYTES");
  if (env && *env) {
    char* end = nullptr;
    unsigned long long v = std::strtoull(env, &end, 10);
    if (end && *end == '\0') return v;
  }
  return uint64_t(16) << 20;
}

Tensor map_npy(const std::string& path, std::string* stored, uint64_t min_bytes) {
  Fd f;
  f.fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  struct stat st{};
  if (f.fd < 0 || ::fstat(f.fd, &st) != 0 || !S_ISREG(st.st_mode)) return read_npy(path, stored);
  std::optional<NpyLayout> l = read_layout(f.fd, uint64_t(st.st_size), path);
  // Anything read_npy would refuse or convert goes to read_npy, which says or does it.
  if (!l || !l->raw || l->data_bytes == 0 || l->data_bytes < min_bytes ||
      l->data_offset + l->data_bytes > uint64_t(st.st_size))
    return read_npy(path, stored);
  size_t length = size_t(l->data_offset + l->data_bytes);
  void* p = ::mmap(nullptr, length, PROT_READ | PROT_WRITE, MAP_PRIVATE, f.fd, 0);
  if (p == MAP_FAILED) return read_npy(path, stored);
  auto* base = static_cast<std::byte*>(p);
  std::byte* data = base + l->data_offset;
  const int fd = f.fd;
  f.fd = -1;  // owned by the mapping now
  {
    std::lock_guard<std::mutex> lock(g_mutex);
    mappings()[data] = Mapping{fd, l->data_offset};
  }
  std::shared_ptr<std::byte> owner(data, [base, length, fd](std::byte* d) {
    {
      std::lock_guard<std::mutex> lock(g_mutex);
      mappings().erase(d);
    }
    ::munmap(base, length);
    ::close(fd);
  });
  if (stored) *stored = l->stored;
  return Tensor::adopt(l->dtype, l->shape, std::move(owner));
}

bool is_mapped(const Tensor& t) {
  if (!t.defined()) return false;
  std::lock_guard<std::mutex> lock(g_mutex);
  return mappings().count(t.raw()) != 0;
}

namespace {

// Reads `n` bytes at `off` of `fd` into `dst`; throws naming `fd`'s error.
void pread_all(int fd, void* dst, size_t n, uint64_t off) {
  auto* p = static_cast<char*>(dst);
  while (n > 0) {
    ssize_t got = ::pread(fd, p, n, off_t(off));
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0)
      throw std::runtime_error(got == 0 ? "a mapped .npy file became shorter while being read"
                                        : std::string("reading a mapped .npy file: ") + std::strerror(errno));
    p += got, n -= size_t(got), off += uint64_t(got);
  }
}

}  // namespace

bool read_mapped_rows(const Tensor& t, const int64_t* idx, int64_t count, size_t row_bytes, void* dst) {
  if (!t.defined()) return false;
  Mapping m;
  {
    std::lock_guard<std::mutex> lock(g_mutex);
    auto it = mappings().find(t.raw());
    if (it == mappings().end()) return false;
    m = it->second;
  }
  auto* out = static_cast<std::byte*>(dst);
  for (int64_t i = 0; i < count && row_bytes; ++i) {
    // Runs of consecutive rows (contiguous ranges, in-order epochs) in one read.
    int64_t j = i + 1;
    while (j < count && idx[j] == idx[j - 1] + 1) ++j;
    pread_all(m.fd, out + size_t(i) * row_bytes, size_t(j - i) * row_bytes,
              m.data_offset + uint64_t(idx[i]) * row_bytes);
    i = j - 1;
  }
  return true;
}

Tensor copy_rows(const Tensor& t, int64_t begin, int64_t end) {
  Shape s = t.shape();
  s[0] = end - begin;
  Tensor out(t.dtype(), s);
  size_t row = t.dim(0) ? t.nbytes() / size_t(t.dim(0)) : 0;
  if (!row || end <= begin) return out;
  std::vector<int64_t> idx = {begin};
  for (int64_t i = begin + 1; i < end; ++i) idx.push_back(i);
  if (!read_mapped_rows(t, idx.data(), end - begin, row, out.raw()))
    std::memcpy(out.raw(), static_cast<const std::byte*>(t.raw()) + size_t(begin) * row, size_t(end - begin) * row);
  return out;
}

}  // namespace starc
