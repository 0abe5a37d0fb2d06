// Test helpers for running commands: quoting for /bin/sh, a shell command's exit status
// and output, `starc ARGS` in a folder (and its clean failure), and the probe of the
// Python the PyTorch comparisons use (those tests skip, with its output as the reason,
// where it lacks a module), and a scratch folder per test.
#pragma once
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <string>

namespace starc::test {

// A fresh folder (temp dir / TAG_PID_N) for one test, removed with this object.
struct ScratchDir {
  std::filesystem::path path;
  explicit ScratchDir(const std::string& tag) {
    static int count = 0;
    path = std::filesystem::temp_directory_path() /
           (tag + "_" + std::to_string(::getpid()) + "_" + std::to_string(count++));
    std::filesystem::remove_all(path);
    std::filesystem::create_directories(path);
  }
  ScratchDir(const ScratchDir&) = delete;
  ~ScratchDir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
  std::string at(const std::string& name) const { return (path / name).string(); }
};

// `s` in single quotes, safe as one word for /bin/sh.
inline std::string quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

struct ShellResult {
  int code = -1;    // exit status; -1 when the shell could not start or was killed by a signal
  std::string out;  // stdout and stderr together
};

// Runs `cmd` with /bin/sh, the stderr of all of it joined to stdout, and waits for it.
inline ShellResult sh(const std::string& cmd) {
  ShellResult r;
  FILE* p = popen(("{ " + cmd + "\n} 2>&1").c_str(), "r");
  if (!p) return r;
  std::array<char, 4096> buf;
  size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), p)) > 0) r.out.append(buf.data(), n);
  int status = pclose(p);
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

// Runs `starc ARGS` (ARGS as shell words) in folder `dir`, killed after 120 seconds
// (exit status 124).
inline ShellResult run_starc(const std::string& dir, const std::string& args) {
  return sh("cd " + quote(dir) + " && timeout 120 " + quote(STARC_BINARY) + " " + args);
}

// Expects `starc ARGS` in `dir` to fail cleanly: exit status 1, `needle` in its output,
// and no sign of a crash.
inline void expect_starc_error(const std::string& dir, const std::string& args, const std::string& needle) {
  ShellResult r = run_starc(dir, args);
  EXPECT_EQ(r.code, 1) << args << "\n" << r.out;
  EXPECT_NE(r.out.find(needle), std::string::npos) << "expected '" << needle << "' in:\n" << r.out;
  for (const char* bad : {"terminate called", "Assertion", "Segmentation", "Aborted"})
    EXPECT_EQ(r.out.find(bad), std::string::npos) << r.out;
}

// The Python the PyTorch comparisons run (see scripts/setup.sh).
inline const char* const kPython = "/usr/bin/python3";

// Runs `kPython -c 'import MODULES'` (MODULES such as "torch, numpy"): code 0 where the
// modules import; otherwise the output says why.
inline ShellResult python_imports(const std::string& modules) {
  return sh(std::string(kPython) + " -c " + quote("import " + modules));
}

}  // namespace starc::test
