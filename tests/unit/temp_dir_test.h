// A test fixture with a fresh, empty folder per test, removed when the test ends.
#pragma once
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

namespace starc::test {

// `dir` is <temp>/<prefix><pid>_<test name>. Derived fixtures pass their prefix:
//   class Cli : public test::TempDirTest { protected: Cli() : TempDirTest("starc_cli_") {} };
class TempDirTest : public ::testing::Test {
 protected:
  explicit TempDirTest(std::string prefix) : prefix_(std::move(prefix)) {}

  std::filesystem::path dir;

  void SetUp() override {
    dir = std::filesystem::temp_directory_path() / (prefix_ + std::to_string(::getpid()) + "_" +
                                                    ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir);  // left over by a killed run with the same pid
    std::filesystem::create_directories(dir);
  }
  void TearDown() override { std::filesystem::remove_all(dir); }

  // The path of `name` in the folder.
  std::string path(const std::string& name) const { return (dir / name).string(); }
  // Writes `text` (bytes as they are) to `name` in the folder.
  void write(const std::string& name, const std::string& text) const {
    std::ofstream(dir / name, std::ios::binary) << text;
  }

 private:
  std::string prefix_;
};

}  // namespace starc::test
