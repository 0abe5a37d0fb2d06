// tests/fuzz: what the harnesses share. Each harness feeds one input to one reader and
// turns a broken promise into a crash libFuzzer records: a signal or sanitizer report, an
// exception other than the reader's documented std::runtime_error (std::bad_alloc,
// std::out_of_range, ...), or an error message that does not name its file.
#pragma once
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

namespace starc::fuzz {

[[noreturn]] inline void fail(std::string_view what) {
  std::fprintf(stderr, "fuzz: %.*s\n", int(what.size()), what.data());
  std::abort();
}

// The readers under test take a path: the input goes to a file of this process (fork
// mode runs several at once), on /dev/shm when there is one, so no disk is written.
// Removed at exit (a crash leaves it: it is the input libFuzzer also saved).
inline std::string temp_name(std::string_view suffix) {
  static const std::string dir = access("/dev/shm", W_OK) == 0 ? "/dev/shm"
                                 : std::getenv("TMPDIR")       ? std::getenv("TMPDIR")
                                                               : "/tmp";
  static struct Files {
    std::vector<std::string> paths;
    ~Files() {
      for (auto& p : paths) std::filesystem::remove_all(p);
    }
  } files;
  std::string path = dir + "/starc-fuzz-" + std::to_string(getpid()) + std::string(suffix);
  if (std::find(files.paths.begin(), files.paths.end(), path) == files.paths.end()) files.paths.push_back(path);
  return path;
}

inline std::string write_temp(const uint8_t* data, size_t size, std::string_view suffix) {
  std::string path = temp_name(suffix);
  FILE* f = std::fopen(path.c_str(), "wb");
  if (!f || (size && std::fwrite(data, 1, size, f) != size) || std::fclose(f) != 0) fail("cannot write " + path);
  return path;
}

// Every data-file error must name the file (docs/data.md).
inline void expect_names(const std::exception& e, const std::string& path) {
  if (std::string_view(e.what()).find(path) == std::string_view::npos)
    fail(std::string("error message does not name the file ") + path + ": " + e.what());
}

}  // namespace starc::fuzz
