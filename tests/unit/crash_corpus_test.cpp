// The crash-regression corpus (tests/crash/README.md): every tests/crash/cases/NAME.sh is a
// hostile input that once crashed starc, hung it or gave a wrong answer with exit 0. Each
// runs in a fresh folder and must end with its `# exit:` status (default 1), print every
// `# expect:` substring, and show no sign of a crash.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "shell_util.h"
#include "temp_dir_test.h"

namespace fs = std::filesystem;

namespace {

const fs::path kCases = fs::path(STARC_SOURCE_DIR) / "tests" / "crash" / "cases";

struct CrashCase {
  std::string name;
  std::vector<std::string> expects;
  int exit_code = 1;
};

CrashCase read_case(const fs::path& file) {
  CrashCase c;
  c.name = file.stem().string();
  std::ifstream in(file);
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("# expect: ", 0) == 0) c.expects.push_back(line.substr(10));
    if (line.rfind("# exit: ", 0) == 0) c.exit_code = std::stoi(line.substr(8));
  }
  return c;
}

std::vector<std::string> case_names() {
  std::vector<std::string> names;
  if (fs::is_directory(kCases))
    for (auto& e : fs::directory_iterator(kCases))
      if (e.path().extension() == ".sh") names.push_back(e.path().stem().string());
  std::sort(names.begin(), names.end());
  return names;
}

class CrashCorpus : public starc::test::TempDirTest, public ::testing::WithParamInterface<std::string> {
 protected:
  CrashCorpus() : TempDirTest("starc_crash_") {}
};

TEST_P(CrashCorpus, EndsCleanly) {
  const fs::path file = kCases / (GetParam() + ".sh");
  CrashCase c = read_case(file);
  ASSERT_FALSE(c.expects.empty()) << file << " has no '# expect:' line";
  using starc::test::quote;
  // 60 s a case; sanitizer builds run slower and scale it (scripts/asan_test.sh).
  int scale = 1;
  if (const char* s = std::getenv("STARC_TEST_TIMEOUT_SCALE")) scale = std::clamp(std::atoi(s), 1, 100);
  std::string cmd = fmt::format(
      "cd {} && env -u STARC_PATH STARC={} SRC={} STARC_CACHE_DIR={} XDG_CACHE_HOME={} timeout -k 5 {} bash {}",
      quote(dir.string()), quote(STARC_BINARY), quote(STARC_SOURCE_DIR), quote((dir / "cache").string()),
      quote((dir / "xdg").string()), 60 * scale, quote(file.string()));
  starc::test::ShellResult r = starc::test::sh(cmd);
  EXPECT_NE(r.code, 124) << "timed out:\n" << r.out;
  EXPECT_EQ(r.code, c.exit_code) << r.out;
  for (const std::string& want : c.expects)
    EXPECT_NE(r.out.find(want), std::string::npos) << "expected '" << want << "' in:\n" << r.out;
  for (const char* bad : {"Segmentation", "Aborted", "AddressSanitizer", "runtime error:", "LLVM ERROR",
                          "terminate called", "error: std::bad_alloc", "core dumped"})
    EXPECT_EQ(r.out.find(bad), std::string::npos) << "'" << bad << "' in:\n" << r.out;
}

INSTANTIATE_TEST_SUITE_P(Cases, CrashCorpus, ::testing::ValuesIn(case_names()),
                         [](const ::testing::TestParamInfo<std::string>& i) {
                           std::string n = i.param;  // gtest names: letters, digits, '_'
                           for (char& ch : n)
                             if (!isalnum(static_cast<unsigned char>(ch))) ch = '_';
                           return n;
                         });
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(CrashCorpus);

}  // namespace
