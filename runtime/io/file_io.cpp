#include "runtime/io/file_io.h"

#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <csignal>
#include <cstring>
#include <mutex>
#include <stdexcept>

#include <dirent.h>
#include <fcntl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "runtime/memory_limit.h"

namespace starc {
namespace {

[[noreturn]] void fail(const std::string& path, const std::string& msg) {
  throw std::runtime_error(fmt::format("{}: {}", path, msg));
}

std::string errno_str(int e) { return std::strerror(e); }

// "a character device", "a FIFO", ... for messages.
const char* kind_of(mode_t m) {
  if (S_ISREG(m)) return "a regular file";
  if (S_ISDIR(m)) return "a folder";
  if (S_ISCHR(m)) return "a character device";
  if (S_ISBLK(m)) return "a block device";
  if (S_ISFIFO(m)) return "a FIFO";
  if (S_ISSOCK(m)) return "a socket";
  if (S_ISLNK(m)) return "a symbolic link";
  return "not a regular file";
}

std::string dir_of(const std::string& path) {
  size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

std::string base_of(const std::string& path) {
  size_t slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

// Writes all of `bytes` to `fd`; false with errno set on failure.
bool write_all(int fd, std::string_view bytes) {
  for (size_t done = 0; done < bytes.size();) {
    ssize_t n = ::write(fd, bytes.data() + done, std::min<size_t>(bytes.size() - done, size_t(1) << 30));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return false;
    if (n == 0) {
      errno = EIO;
      return false;
    }
    done += size_t(n);
  }
  return true;
}

// A file past RLIMIT_FSIZE raises SIGXFSZ, which kills the process; ignored, the write
// fails with EFBIG and becomes an error like any other.
void ignore_sigxfsz() {
  static bool done = [] {
    struct sigaction old{};
    if (::sigaction(SIGXFSZ, nullptr, &old) == 0 && old.sa_handler == SIG_DFL) ::signal(SIGXFSZ, SIG_IGN);
    return true;
  }();
  (void)done;
}

// Removes "<name>.tmp<pid>" files in `dir` left by writers that were killed (their pid is
// gone). Best effort: nothing here may fail the write.
void remove_stale_temps(const std::string& dir, const std::string& name) {
  DIR* d = ::opendir(dir.c_str());
  if (!d) return;
  const std::string prefix = name + ".tmp";
  while (dirent* e = ::readdir(d)) {
    std::string_view n = e->d_name;
    if (n.size() <= prefix.size() || n.substr(0, prefix.size()) != prefix) continue;
    std::string_view digits = n.substr(prefix.size());
    if (digits.size() > 9 || digits.find_first_not_of("0123456789") != std::string_view::npos) continue;
    pid_t pid = pid_t(std::stol(std::string(digits)));
    if (pid != ::getpid() && ::kill(pid, 0) != 0 && errno == ESRCH) ::unlinkat(::dirfd(d), e->d_name, 0);
  }
  ::closedir(d);
}

void fsync_dir(const std::string& dir) {
  int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {  // best effort: the rename itself already happened
    ::fsync(dfd);
    ::close(dfd);
  }
}

// Writes `bytes` to a new file and renames it over `target` (which is not followed if it
// is a link). `report` names the file in messages (the path the user gave).
void replace(const std::string& target, std::string_view bytes, const std::string& report) {
  ignore_sigxfsz();
  // One write at a time in this process: threads would share "<name>.tmp<pid>".
  static std::mutex mu;
  std::lock_guard<std::mutex> lock(mu);
  const std::string dir = dir_of(target), name = base_of(target);
  const std::string tmp = fmt::format("{}/{}.tmp{}", dir, name, ::getpid());
  struct stat old{};
  bool had_old = ::lstat(target.c_str(), &old) == 0 && S_ISREG(old.st_mode);
  remove_stale_temps(dir, name);

  auto finish = [&](int fd, bool named) {
    auto bail = [&](const std::string& what) {
      int e = errno;
      ::close(fd);
      if (named) ::unlink(tmp.c_str());
      fail(report, fmt::format("{}: {}", what, errno_str(e)));
    };
    if (had_old) {  // keep the replaced file's permission bits (and, where allowed, its owner)
      ::fchmod(fd, old.st_mode & 07777);
      if (::fchown(fd, old.st_uid, old.st_gid) != 0) { /* not ours to give away: keep ours */
      }
    }
    if (!write_all(fd, bytes)) bail("cannot write");
    if (::fsync(fd) != 0) bail("cannot write (fsync)");
  };

  // An unnamed temporary file: a kill while writing leaves nothing behind.
  int fd = ::open(dir.c_str(), O_TMPFILE | O_WRONLY | O_CLOEXEC, 0666);
  bool linked = false;
  if (fd >= 0) {
    finish(fd, false);
    std::string proc = fmt::format("/proc/self/fd/{}", fd);
    for (int attempt = 0; attempt < 2 && !linked; ++attempt) {
      if (::linkat(AT_FDCWD, proc.c_str(), AT_FDCWD, tmp.c_str(), AT_SYMLINK_FOLLOW) == 0)
        linked = true;
      else if (errno == EEXIST)
        ::unlink(tmp.c_str());  // our pid's leftover from an earlier process
      else
        break;
    }
    if (!linked && errno != ENOENT && errno != EPERM && errno != EOPNOTSUPP && errno != EXDEV) {
      int e = errno;
      ::close(fd);
      fail(report, fmt::format("cannot create '{}' to rename it into place: {}", tmp, errno_str(e)));
    }
    ::close(fd);
  }
  if (!linked) {  // no O_TMPFILE here (or no /proc): a named temporary file
    ::unlink(tmp.c_str());
    fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0666);
    if (fd < 0) {
      int e = errno;
      if (e == ENOENT || e == ENOTDIR) fail(report, fmt::format("cannot open for writing: {}", errno_str(e)));
      fail(report, fmt::format("cannot open for writing (a new file in '{}'): {}", dir, errno_str(e)));
    }
    finish(fd, true);
    if (::close(fd) != 0) {
      int e = errno;
      ::unlink(tmp.c_str());
      fail(report, fmt::format("cannot write (close): {}", errno_str(e)));
    }
  }
  if (::rename(tmp.c_str(), target.c_str()) != 0) {
    int e = errno;
    ::unlink(tmp.c_str());
    if (e == EISDIR) fail(report, "is a folder");
    fail(report, fmt::format("cannot rename '{}' into place: {}", tmp, errno_str(e)));
  }
  fsync_dir(dir);
}

void write_through(const std::string& path, std::string_view bytes) {
  ignore_sigxfsz();
  int fd = ::open(path.c_str(), O_WRONLY | O_TRUNC | O_CLOEXEC | O_NOCTTY);
  if (fd < 0) fail(path, fmt::format("cannot open for writing: {}", errno_str(errno)));
  if (!write_all(fd, bytes)) {
    int e = errno;
    ::close(fd);
    fail(path, fmt::format("cannot write: {}", errno_str(e)));
  }
  if (::close(fd) != 0) fail(path, fmt::format("cannot write (close): {}", errno_str(errno)));
}

bool starts_with(const std::string& s, std::string_view prefix) { return s.compare(0, prefix.size(), prefix) == 0; }

// Fills `out` (sized to the file's size from fstat) from `fd`; a file that ends early
// changed while being read.
void read_exactly(int fd, const std::string& path, std::string& out) {
  for (size_t done = 0; done < out.size();) {
    ssize_t n = ::read(fd, out.data() + done, out.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) fail(path, fmt::format("read error: {}", errno_str(errno)));
    if (n == 0) fail(path, fmt::format("changed while being read: it ends at byte {}, not {}", done, out.size()));
    done += size_t(n);
  }
}

}  // namespace

void write_file_atomic(const std::string& path, std::string_view bytes) {
  if (path.empty()) throw std::runtime_error("cannot write a file with an empty name");
  struct stat st{};
  if (::stat(path.c_str(), &st) == 0) {
    if (S_ISCHR(st.st_mode) || S_ISFIFO(st.st_mode)) return write_through(path, bytes);
    if (!S_ISREG(st.st_mode))
      fail(path,
           fmt::format("is {}; starc writes only regular files, character devices and FIFOs", kind_of(st.st_mode)));
  } else if (errno != ENOENT) {
    fail(path, fmt::format("cannot write: {}", errno_str(errno)));
  }
  // Follow symbolic links to the name to replace (it may not exist yet). A name reached
  // through /proc (/dev/stdout -> /proc/self/fd/1) is an open file of some process: written
  // through, never replaced.
  std::string p = path;
  for (int hops = 0;; ++hops) {
    if (starts_with(p, "/proc/")) return write_through(path, bytes);
    struct stat lst{};
    if (::lstat(p.c_str(), &lst) != 0 || !S_ISLNK(lst.st_mode)) break;
    if (hops == 40) fail(path, "too many levels of symbolic links");
    std::string target(size_t(lst.st_size > 0 ? lst.st_size : 4096) + 1, '\0');
    ssize_t n = ::readlink(p.c_str(), target.data(), target.size());
    if (n < 0) fail(path, fmt::format("cannot read the symbolic link '{}': {}", p, errno_str(errno)));
    target.resize(size_t(n));
    p = !target.empty() && target[0] == '/' ? target : dir_of(p) + "/" + target;
  }
  replace(p, bytes, path);
}

void replace_file_atomic(const std::string& path, std::string_view bytes) { replace(path, bytes, path); }

std::string read_data_file(const std::string& path) {
  struct stat st{};
  if (::stat(path.c_str(), &st) != 0) fail(path, fmt::format("cannot open for reading: {}", errno_str(errno)));
  if (!S_ISREG(st.st_mode) && !S_ISFIFO(st.st_mode))
    fail(path, fmt::format("is {}, not a data file", kind_of(st.st_mode)));
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY);
  if (fd < 0) fail(path, fmt::format("cannot open for reading: {}", errno_str(errno)));
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{fd};
  if (::fstat(fd, &st) != 0) fail(path, fmt::format("cannot read: {}", errno_str(errno)));
  if (!S_ISREG(st.st_mode) && !S_ISFIFO(st.st_mode))
    fail(path, fmt::format("is {}, not a data file", kind_of(st.st_mode)));
  const uint64_t limit = max_read_bytes();
  std::string out;
  if (S_ISREG(st.st_mode)) {
    uint64_t size = uint64_t(st.st_size);
    if (size > limit)
      fail(path,
           fmt::format("is {}, more than starc can read into memory here ({})", format_size(size), format_size(limit)));
    out.resize(size_t(size));
    read_exactly(fd, path, out);
    return out;
  }
  char buf[1 << 16];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) fail(path, fmt::format("read error: {}", errno_str(errno)));
    if (n == 0) return out;
    if (out.size() + size_t(n) > limit)
      fail(path, fmt::format("holds more than starc can read into memory here ({})", format_size(limit)));
    out.append(buf, size_t(n));
  }
}

std::string read_regular_file_nofollow(const std::string& path, uint64_t max_bytes) {
  int fd = ::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
  if (fd < 0) {
    int e = errno;
    struct stat lst{};
    if (e == ELOOP && ::lstat(path.c_str(), &lst) == 0 && S_ISLNK(lst.st_mode)) fail(path, "is a symbolic link");
    fail(path, fmt::format("cannot open for reading: {}", errno_str(e)));
  }
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{fd};
  struct stat st{};
  if (::fstat(fd, &st) != 0) fail(path, fmt::format("cannot read: {}", errno_str(errno)));
  if (!S_ISREG(st.st_mode)) fail(path, fmt::format("is {}, not a regular file", kind_of(st.st_mode)));
  uint64_t size = uint64_t(st.st_size);
  if (size > max_bytes)
    fail(path, fmt::format("is {}, more than the {} expected", format_size(size), format_size(max_bytes)));
  std::string out(size_t(size), '\0');
  read_exactly(fd, path, out);
  return out;
}

uint64_t max_allocation() {
  long pages = ::sysconf(_SC_PHYS_PAGES), page = ::sysconf(_SC_PAGESIZE);
  uint64_t limit = pages > 0 && page > 0 ? uint64_t(pages) * uint64_t(page) : uint64_t(1) << 40;
  for (int res : {RLIMIT_AS, RLIMIT_DATA}) {
    struct rlimit rl{};
    if (::getrlimit(res, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY) limit = std::min<uint64_t>(limit, rl.rlim_cur);
  }
  return limit;
}

uint64_t max_read_bytes() { return max_allocation() / 2; }

std::string format_size(uint64_t b) { return format_bytes(int64_t(std::min<uint64_t>(b, uint64_t(INT64_MAX)))); }

void check_allocation(uint64_t bytes, const std::string& what) {
  uint64_t limit = max_allocation();
  if (bytes > limit)
    throw std::runtime_error(fmt::format("{}: needs {}, more than this machine's memory ({})", what, format_size(bytes),
                                         format_size(limit)));
}

bool checked_mul(uint64_t a, uint64_t b, uint64_t* out) { return !__builtin_mul_overflow(a, b, out); }
bool checked_add(uint64_t a, uint64_t b, uint64_t* out) { return !__builtin_add_overflow(a, b, out); }

std::string shell_quote(const std::string& s) {
  if (!s.empty() && s.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-+=/.,:@%") ==
                        std::string::npos)
    return s;
  std::string q = "'";
  for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

}  // namespace starc
