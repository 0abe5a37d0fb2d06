// README's basic commands run exactly as written (issue 32): every `build/starc` line of
// its first command block after the quick start, in order, in a scratch folder that sees
// the tree's build/ and stdlib/ — except the interactive REPL, the GPU line (no GPU in
// CI; docs/gpu.md's checks cover it) and bench/run (bench/, not a test).
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "shell_util.h"

namespace starc::test {
namespace {

namespace fs = std::filesystem;

// The README's command lines of the block that starts with `build/starc simulate`, with
// their `\` continuations joined and trailing comments dropped.
std::vector<std::string> readme_commands() {
  std::ifstream in(std::string(STARC_SOURCE_DIR) + "/README.md");
  std::vector<std::string> out;
  bool in_block = false;
  std::string pending;
  for (std::string line; std::getline(in, line);) {
    if (!in_block) {
      in_block = line.rfind("build/starc simulate", 0) == 0;
      if (!in_block) continue;
    }
    if (line.rfind("```", 0) == 0) break;
    size_t hash = line.find("  #");
    if (hash != std::string::npos) line = line.substr(0, hash);
    while (!line.empty() && line.back() == ' ') line.pop_back();
    bool continued = !line.empty() && line.back() == '\\';
    if (continued) line.pop_back();
    pending += line;
    if (!continued) out.push_back(pending), pending.clear();
  }
  return out;
}

TEST(Readme, BasicCommandsRunAsWritten) {
  std::vector<std::string> commands = readme_commands();
  ASSERT_GE(commands.size(), 8u) << "README's command block was not found";
  fs::path dir = fs::temp_directory_path() / ("starc_readme_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  fs::create_directory_symlink(fs::path(STARC_BINARY).parent_path(), dir / "build");
  fs::create_directory_symlink(fs::path(STARC_SOURCE_DIR) / "stdlib", dir / "stdlib");
  int ran = 0;
  for (const std::string& c : commands) {
    if (c.find(" repl") != std::string::npos || c.find("--device cuda") != std::string::npos ||
        c.rfind("build/", 0) != 0)
      continue;
    ShellResult r = sh("cd " + quote(dir.string()) + " && timeout 300 " + c);
    EXPECT_EQ(r.code, 0) << c << "\n" << r.out;
    ++ran;
  }
  EXPECT_GE(ran, 9);
  EXPECT_TRUE(fs::exists(dir / "lib" / "libRedshiftCNN.so"));
  fs::remove_all(dir);
}

}  // namespace
}  // namespace starc::test
