// Files that the tests of a suite share (a compiled library, trained weights), made once
// per ctest run instead of once per test: ctest starts one process per test, so a suite's
// SetUpTestSuite ran once for each of its tests (the AOT suites' setup, seconds of
// `starc compile`, was most of their time).
//
// Under ctest, tests/CMakeLists.txt sets STARC_TEST_SHARED_DIR. The files of one ctest run
// go to STARC_TEST_SHARED_DIR/ctest-PID, PID being ctest's (the tests' parent process), so
// that ctest runs side by side on one build tree do not share or remove each other's; the
// fixture tests StarcSharedFiles.Setup and .Cleanup (children of the same ctest) remove
// that folder before and after the run. The first process that needs `name` makes it
// there while holding a lock; the others wait for the lock and reuse what it made.
// Without the variable (the test binary run by hand, the ASan run's gtest shards) every
// process makes its own, as before.
#pragma once
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/file.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <string>

namespace starc::test {

// Makes (or, where another process of this ctest run made it, reuses) the files of `name`:
// `make(folder)` fills an empty folder, failing with gtest assertions. Then gives `mine`
// (created empty; the caller's own folder, which it writes to) a symbolic link to each
// file and folder made, under its own name. Returns the folder the files are in.
inline std::filesystem::path shared_files(const std::string& name, const std::filesystem::path& mine,
                                          const std::function<void(const std::filesystem::path&)>& make) {
  namespace fs = std::filesystem;
  fs::remove_all(mine);
  fs::create_directories(mine);
  const char* shared = std::getenv("STARC_TEST_SHARED_DIR");
  if (!shared || !*shared) {  // this process's own copy, in its own folder
    make(mine);
    return mine;
  }
  const fs::path root = fs::path(shared) / ("ctest-" + std::to_string(::getppid())), folder = root / name,
                 done = root / (name + ".done");
  fs::create_directories(root);
  int lock = ::open((root / (name + ".lock")).c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (lock < 0 || ::flock(lock, LOCK_EX) != 0) {
    ADD_FAILURE() << "cannot lock " << root / (name + ".lock");
    if (lock >= 0) ::close(lock);
    make(mine);
    return mine;
  }
  if (!fs::exists(done)) {  // first here, or the process before failed: make them
    fs::remove_all(folder);
    fs::create_directories(folder);
    make(folder);
    if (!::testing::Test::HasFailure()) std::ofstream(done) << "made by process " << ::getpid() << "\n";
  }
  ::flock(lock, LOCK_UN);
  ::close(lock);
  for (const fs::directory_entry& e : fs::directory_iterator(folder))
    fs::create_symlink(e.path(), mine / e.path().filename());
  return folder;
}

}  // namespace starc::test
