#include "runtime/io/npy_map.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <vector>

#include <fmt/format.h>

#include "runtime/io/npy.h"

namespace starc {
namespace {

// One file of a live mapping: open for pread, where its data starts, and the first row
// of the tensor it holds (0 for a single file; a list's files follow one another).
struct Segment {
  int fd = -1;
  uint64_t data_offset = 0;
  int64_t first_row = 0;
};
struct Mapping {
  std::vector<Segment> segs;  // by first_row
  bool list = false;          // map_npy_files' reserved memory: not readable
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
    mappings()[data] = Mapping{{Segment{fd, l->data_offset, 0}}};
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

namespace {

// A file of a list: its path, header and (when opened) descriptor.
struct ListFile {
  std::string path;
  int fd = -1;
  std::optional<NpyLayout> layout;  // nullopt: read_npy must read it (converted, odd)
};

void close_all(std::vector<ListFile>& files) {
  for (ListFile& f : files)
    if (f.fd >= 0) ::close(f.fd), f.fd = -1;
}

// Fails unless `path`'s dtype and trailing dims are the first file's.
void check_like_first(const std::string& what, const std::string& path, DType dt, const Shape& s,
                      const std::string& first, DType dt0, const Shape& s0) {
  if (s.empty())
    throw std::runtime_error(fmt::format("{}: {} holds a scalar; a dataset's files need a sample axis", what, path));
  if (dt != dt0)
    throw std::runtime_error(fmt::format("{}: {} holds {} but {} holds {}; every file needs the same element type",
                                         what, path, dtype_name(dt), first, dtype_name(dt0)));
  if (!std::equal(s.begin() + 1, s.end(), s0.begin() + 1, s0.end()))
    throw std::runtime_error(fmt::format("{}: {} has shape {} but {} has {}; only the first (sample) dim may differ",
                                         what, path, shape_str(s), first, shape_str(s0)));
}

// Opens each file and reads its header; a missing or unreadable file is an error.
std::vector<ListFile> open_list(const std::vector<std::string>& paths, const std::string& what) {
  std::vector<ListFile> files;
  for (const std::string& p : paths) {
    ListFile f{p};
    f.fd = ::open(p.c_str(), O_RDONLY | O_CLOEXEC);
    if (f.fd < 0) {
      std::string err = std::strerror(errno);
      close_all(files);
      throw std::runtime_error(fmt::format("{}: {}: cannot open it: {}", what, p, err));
    }
    struct stat st{};
    if (::fstat(f.fd, &st) == 0 && S_ISREG(st.st_mode)) {
      f.layout = read_layout(f.fd, uint64_t(st.st_size), p);
      if (f.layout && (!f.layout->raw || f.layout->data_offset + f.layout->data_bytes > uint64_t(st.st_size)))
        f.layout.reset();
    }
    files.push_back(std::move(f));
  }
  return files;
}

// The files read whole by read_npy (its conversions and messages) and concatenated.
Tensor read_list_whole(const std::vector<std::string>& paths, const std::string& what, std::string* stored) {
  std::vector<Tensor> parts;
  int64_t rows = 0;
  for (const std::string& p : paths) {
    parts.push_back(read_npy(p, parts.empty() ? stored : nullptr));
    const Tensor& t = parts.back();
    check_like_first(what, p, t.dtype(), t.shape(), paths[0], parts[0].dtype(), parts[0].shape());
    rows += t.dim(0);
  }
  Shape s = parts[0].shape();
  s[0] = rows;
  Tensor out(parts[0].dtype(), s);
  auto* dst = static_cast<std::byte*>(out.raw());
  for (const Tensor& t : parts) std::memcpy(dst, t.raw(), t.nbytes()), dst += t.nbytes();
  return out;
}

// A tensor of `dtype` and `shape` (`bytes` long) whose rows `segs` read from their files:
// reserved address space only, so nothing is read until read_mapped_rows asks. Owns the
// segments' descriptors (closed here when reserving fails).
Tensor reserve_list(std::vector<Segment> segs, uint64_t bytes, DType dtype, const Shape& shape,
                    const std::string& what) {
  size_t length = size_t(bytes);
  void* p = ::mmap(nullptr, length, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (p == MAP_FAILED) {
    std::string err = std::strerror(errno);
    for (const Segment& s : segs) ::close(s.fd);
    throw std::runtime_error(fmt::format("{}: cannot reserve {} bytes of address space: {}", what, bytes, err));
  }
  auto* data = static_cast<std::byte*>(p);
  {
    std::lock_guard<std::mutex> lock(g_mutex);
    mappings()[data] = Mapping{segs, true};
  }
  std::shared_ptr<std::byte> owner(data, [length, segs](std::byte* d) {
    {
      std::lock_guard<std::mutex> lock(g_mutex);
      mappings().erase(d);
    }
    ::munmap(d, length);
    for (const Segment& s : segs) ::close(s.fd);
  });
  return Tensor::adopt(dtype, shape, std::move(owner));
}

}  // namespace

Tensor map_npy_files(const std::vector<std::string>& paths, const std::string& what, std::string* stored,
                     uint64_t min_bytes) {
  if (paths.empty()) throw std::runtime_error(fmt::format("{}: names no .npy files", what));
  if (paths.size() == 1) {
    Tensor t = map_npy(paths[0], stored, min_bytes);
    check_like_first(what, paths[0], t.dtype(), t.shape(), paths[0], t.dtype(), t.shape());
    return t;
  }
  std::vector<ListFile> files = open_list(paths, what);
  bool whole = false;
  uint64_t bytes = 0;
  for (const ListFile& f : files) {
    whole |= !f.layout;
    if (f.layout) bytes += f.layout->data_bytes;
  }
  if (whole || bytes == 0 || bytes < min_bytes) {
    close_all(files);
    return read_list_whole(paths, what, stored);
  }
  std::vector<Segment> segs;
  int64_t rows = 0;
  try {
    for (const ListFile& f : files) {
      const NpyLayout &l = *f.layout, &l0 = *files[0].layout;
      check_like_first(what, f.path, l.dtype, l.shape, paths[0], l0.dtype, l0.shape);
      segs.push_back(Segment{f.fd, l.data_offset, rows});
      rows += l.shape[0];
    }
  } catch (...) {
    close_all(files);
    throw;
  }
  if (stored) *stored = files[0].layout->stored;
  Shape shape = files[0].layout->shape;
  shape[0] = rows;
  return reserve_list(std::move(segs), bytes, files[0].layout->dtype, shape, what);
}

bool is_file_list(const Tensor& t) {
  if (!t.defined()) return false;
  std::lock_guard<std::mutex> lock(g_mutex);
  auto it = mappings().find(t.raw());
  return it != mappings().end() && it->second.list;
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
    // The file holding row idx[i]: the last segment starting at or before it.
    auto seg = std::upper_bound(m.segs.begin(), m.segs.end(), idx[i],
                                [](int64_t r, const Segment& s) { return r < s.first_row; });
    const Segment& s = *std::prev(seg);
    int64_t seg_end = seg == m.segs.end() ? INT64_MAX : seg->first_row;
    // Runs of consecutive rows of one file (contiguous ranges, in-order epochs) in one read.
    int64_t j = i + 1;
    while (j < count && idx[j] == idx[j - 1] + 1 && idx[j] < seg_end) ++j;
    pread_all(s.fd, out + size_t(i) * row_bytes, size_t(j - i) * row_bytes,
              s.data_offset + uint64_t(idx[i] - s.first_row) * row_bytes);
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
