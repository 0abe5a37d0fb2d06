// docs/repl.md's transcript is run, not written (issue 32 item 9): the inputs of its
// "A session" block go through `starc repl --echo --keep-going` on the data the doc names,
// and the output must be the block. Times are masked (they vary), and so is the source
// tree's path in graph locations. STARC_UPDATE_DOCS=1 rewrites the block instead.
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <regex>
#include <sstream>

#include "shell_util.h"
#include "temp_dir_test.h"

namespace starc::test {
namespace {

const std::string kDoc = std::string(STARC_SOURCE_DIR) + "/docs/repl.md";
// The doc states both commands; the test runs them as written there.
const char* kSimulate = "starc simulate photoz --n 256 --seed 7 -o .";
const char* kRepl = "STARC_CACHE_DIR=off starc repl --echo --keep-going < session.txt";

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), {});
}

// The body of the first ``` block after "## A session" (begin and end offsets in doc).
std::pair<size_t, size_t> transcript_block(const std::string& doc) {
  size_t section = doc.find("\n## A session\n");
  if (section == std::string::npos) return {0, 0};
  size_t open = doc.find("\n```\n", section);
  if (open == std::string::npos) return {0, 0};
  size_t begin = open + 5, end = doc.find("```\n", begin);
  return end == std::string::npos ? std::pair<size_t, size_t>{0, 0} : std::pair{begin, end};
}

// The typed lines: those after a "starc> " or "  ...> " prompt.
std::string inputs_of(const std::string& transcript) {
  std::string out;
  std::istringstream in(transcript);
  for (std::string line; std::getline(in, line);)
    if (line.rfind("starc> ", 0) == 0 || line.rfind("  ...> ", 0) == 0) out += line.substr(7) + "\n";
  return out;
}

std::string without_source_dir(std::string s) {
  std::string dir = std::string(STARC_SOURCE_DIR) + "/";
  for (size_t at; (at = s.find(dir)) != std::string::npos;) s.erase(at, dir.size());
  return s;
}

// "0.48s", "12.0 ms" -> "<time>".
std::string masked(const std::string& s) {
  static const std::regex time(R"(\b\d+(\.\d+)? ?(ms|s)\b)");
  return std::regex_replace(s, time, "<time>");
}

// "" when equal, else the first line that differs, in both.
std::string first_difference(const std::string& doc, const std::string& actual) {
  std::istringstream a(doc), b(actual);
  std::string la, lb;
  for (int line = 1;; ++line) {
    bool more_a = bool(std::getline(a, la)), more_b = bool(std::getline(b, lb));
    if (!more_a && !more_b) return "";
    if (!more_a || !more_b || la != lb)
      return "line " + std::to_string(line) + " of the transcript:\n  doc:  " + (more_a ? la : "(ended)") +
             "\n  repl: " + (more_b ? lb : "(ended)") + "\n";
  }
}

class ReplDoc : public TempDirTest {
 protected:
  ReplDoc() : TempDirTest("starc_repl_doc_") {}
};

TEST_F(ReplDoc, TranscriptIsWhatTheReplPrints) {
  std::string doc = slurp(kDoc);
  ASSERT_NE(doc.find(kSimulate), std::string::npos) << "docs/repl.md no longer says how its data is made";
  ASSERT_NE(doc.find(kRepl), std::string::npos) << "docs/repl.md no longer names the command of its transcript";
  auto [begin, end] = transcript_block(doc);
  ASSERT_LT(begin, end) << "no ``` block after '## A session' in docs/repl.md";
  std::string transcript = doc.substr(begin, end - begin), inputs = inputs_of(transcript);
  ASSERT_FALSE(inputs.empty());
  write("session.txt", inputs);

  std::string starc = quote(STARC_BINARY), cd = "cd " + quote(dir.string()) + " && ";
  ShellResult data = sh(cd + starc + " simulate photoz --n 256 --seed 7 -o .");
  ASSERT_EQ(data.code, 0) << data.out;
  ShellResult r = sh(cd + "STARC_CACHE_DIR=off timeout 120 " + starc + " repl --echo --keep-going < session.txt");
  EXPECT_EQ(r.code, 1) << "the transcript ends with an error on purpose:\n" << r.out;
  std::string actual = without_source_dir(r.out);
  if (const char* update = std::getenv("STARC_UPDATE_DOCS"); update && *update == '1') {
    std::ofstream(kDoc, std::ios::binary) << doc.substr(0, begin) << actual << doc.substr(end);
    GTEST_SKIP() << "rewrote the transcript of " << kDoc;
  }
  std::string diff = first_difference(masked(transcript), masked(actual));
  EXPECT_EQ(diff, "") << "docs/repl.md's transcript is not what the REPL prints (times masked); if the change is "
                         "intended, run STARC_UPDATE_DOCS=1 build/tests/starc_unit_tests --gtest_filter=ReplDoc.*";
}

}  // namespace
}  // namespace starc::test
