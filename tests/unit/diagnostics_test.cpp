// Diagnostics: every tests/diagnostics/cases/NAME.net is bad input for `starc check`. Its
// first lines are comments that state what must be reported:
//
//   # expect: 3:14: matmul: inner dims differ      an error at line 3, column 14 of this file
//   # expect: aux/cycle_b.net:2:5: import cycle    ... or of another file (path suffix)
//   # expect: nn.net:*:*: window of 100            ... anywhere in that file (stdlib lines move)
//   # expect-note: 6:17: in 'conv1d', called here  a note attached to an error
//
// The message part is a substring of the reported message. Each case must exit with code 1,
// report every expected error (and no other error), show the source line and a caret under
// the reported column for each diagnostic, and must not crash. Files in subfolders (aux/)
// are helpers imported by cases, not cases themselves. Edge cases that are generated rather
// than committed (an empty file, 100000 nested parentheses, a binary file, a missing file)
// are the DiagEdge tests at the end.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "shell_util.h"
#include "temp_dir_test.h"

namespace fs = std::filesystem;

namespace {

const fs::path kCaseDir = fs::path(STARC_SOURCE_DIR) / "tests" / "diagnostics" / "cases";

using CheckRun = starc::test::ShellResult;
using starc::test::quote;

// Runs `starc check FILE` in `dir` (so that diagnostics name the file as given), with a
// timeout, capturing stdout and stderr together.
CheckRun run_check(const fs::path& dir, const std::string& file) {
  return starc::test::sh(fmt::format("cd {} && env -u STARC_PATH timeout 20 {} check {}", quote(dir.string()),
                                     quote(STARC_BINARY), quote(file)));
}

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// One reported diagnostic: `path:line:col: kind: message`, then the source line and the caret line.
struct Diag {
  std::string path, kind, message, source, caret;
  int line = 0, col = 0;
};

// Parsed by hand: std::regex recurses per character and overflows the stack on the very
// long source lines of the generated edge cases.
bool parse_head(const std::string& l, Diag& d) {
  for (const char* kind : {"error", "note"}) {
    std::string marker = fmt::format(": {}: ", kind);
    size_t m = l.find(marker);
    if (m == std::string::npos) continue;
    std::string where = l.substr(0, m);  // path:line:col
    size_t c2 = where.rfind(':');
    if (c2 == std::string::npos || c2 == 0) continue;
    size_t c1 = where.rfind(':', c2 - 1);
    if (c1 == std::string::npos || c1 == 0) continue;
    std::string ls = where.substr(c1 + 1, c2 - c1 - 1), cs = where.substr(c2 + 1);
    auto digits = [](const std::string& s) {
      return !s.empty() && s.size() < 9 && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
    };
    if (!digits(ls) || !digits(cs)) continue;
    d.path = where.substr(0, c1);
    d.line = std::stoi(ls);
    d.col = std::stoi(cs);
    d.kind = kind;
    d.message = l.substr(m + marker.size());
    return true;
  }
  return false;
}

std::vector<Diag> parse_output(const std::string& out) {
  std::vector<std::string> lines;
  std::istringstream in(out);
  for (std::string l; std::getline(in, l);) lines.push_back(l);
  std::vector<Diag> ds;
  for (size_t i = 0; i < lines.size(); ++i) {
    Diag d;
    if (!parse_head(lines[i], d)) continue;
    if (i + 1 < lines.size()) d.source = lines[i + 1];
    if (i + 2 < lines.size()) d.caret = lines[i + 2];
    ds.push_back(std::move(d));
    i += 2;
  }
  return ds;
}

// The caret line puts '^' under the reported column: "    4 |     y = x $ 2" / "      |           ^".
std::string check_caret(const Diag& d) {
  std::string gutter = fmt::format("{:>5} | ", d.line);
  if (d.source.rfind(gutter, 0) != 0)
    return fmt::format("the source line after '{}:{}:{}' is missing: got '{}'", d.path, d.line, d.col, d.source);
  std::string blank = fmt::format("{:>5} | ", "");
  if (d.caret.rfind(blank, 0) != 0) return fmt::format("the caret line is missing: got '{}'", d.caret);
  std::string under = d.caret.substr(blank.size());
  size_t at = under.find('^');
  if (at == std::string::npos) return fmt::format("no '^' in the caret line '{}'", d.caret);
  if (int(at) != d.col - 1)
    return fmt::format("the caret is at column {} but the diagnostic says column {}", at + 1, d.col);
  return "";
}

struct Expect {
  bool note = false;
  std::string path;       // "" = the case file itself
  std::string line, col;  // numbers or "*"
  std::string message;
  std::string spec;  // as written, for messages
};

bool matches(const Expect& e, const Diag& d, const std::string& case_file) {
  if (d.kind != (e.note ? "note" : "error")) return false;
  const std::string& want = e.path.empty() ? case_file : e.path;
  if (d.path != want && !ends_with(d.path, "/" + want)) return false;
  if (e.line != "*" && std::to_string(d.line) != e.line) return false;
  if (e.col != "*" && std::to_string(d.col) != e.col) return false;
  return d.message.find(e.message) != std::string::npos;
}

// The expectations in the leading comment lines of a case file.
std::vector<Expect> read_expectations(const fs::path& file) {
  static const std::regex spec(R"(^# (expect|expect-note): (?:(\S+\.net):)?(\d+|\*):(\d+|\*): (.+)$)");
  std::ifstream in(file, std::ios::binary);
  std::vector<Expect> out;
  for (std::string l; std::getline(in, l) && !l.empty() && l[0] == '#';) {
    if (!l.empty() && l.back() == '\r') l.pop_back();
    if (l.rfind("# expect", 0) != 0) continue;
    std::smatch m;
    if (!std::regex_match(l, m, spec)) {
      ADD_FAILURE() << file << ": malformed expectation line: " << l;
      continue;
    }
    out.push_back(Expect{m[1] == "expect-note", m[2], m[3], m[4], m[5], l});
  }
  return out;
}

// What every bad input must satisfy, whatever its errors: exit code 1 and no crash.
void expect_clean_failure(const CheckRun& r) {
  EXPECT_EQ(r.code, 1) << "exit code (124 = timed out)\n" << r.out;
  for (const char* bad : {"Assertion", "terminate called", "Segmentation", "Aborted", "core dumped", "internal error",
                          "internal:", "std::"})
    EXPECT_EQ(r.out.find(bad), std::string::npos) << "'" << bad << "' in the output:\n" << r.out;
}

std::vector<std::string> case_names() {
  std::vector<std::string> names;
  std::error_code ec;
  for (auto& e : fs::directory_iterator(kCaseDir, ec))
    if (e.is_regular_file() && e.path().extension() == ".net") names.push_back(e.path().stem().string());
  std::sort(names.begin(), names.end());
  return names;
}

class DiagCase : public ::testing::TestWithParam<std::string> {};

TEST_P(DiagCase, ReportsExpectedErrors) {
  const std::string file = GetParam() + ".net";
  std::vector<Expect> expects = read_expectations(kCaseDir / file);
  size_t n_errors = std::count_if(expects.begin(), expects.end(), [](const Expect& e) { return !e.note; });
  ASSERT_GE(n_errors, 1u) << file << " has no '# expect: LINE:COL: message' line";

  CheckRun r = run_check(kCaseDir, file);
  expect_clean_failure(r);
  std::vector<Diag> diags = parse_output(r.out);
  for (const Expect& e : expects) {
    auto it = std::find_if(diags.begin(), diags.end(), [&](const Diag& d) { return matches(e, d, file); });
    EXPECT_NE(it, diags.end()) << "not reported: " << e.spec << "\noutput:\n" << r.out;
  }
  for (const Diag& d : diags) {
    std::string why = check_caret(d);
    EXPECT_TRUE(why.empty()) << why << "\noutput:\n" << r.out;
  }
  size_t reported = std::count_if(diags.begin(), diags.end(), [](const Diag& d) { return d.kind == "error"; });
  EXPECT_EQ(reported, n_errors) << "every error must be expected (no follow-on errors)\noutput:\n" << r.out;
}

std::string test_name(const ::testing::TestParamInfo<std::string>& info) {
  std::string n = info.param;
  for (char& c : n)
    if (!isalnum((unsigned char)c)) c = '_';
  return n;
}

INSTANTIATE_TEST_SUITE_P(Diag, DiagCase, ::testing::ValuesIn(case_names()), test_name);

// ---------------------------------------------------------------- generated edge cases

class DiagEdge : public starc::test::TempDirTest {
 protected:
  DiagEdge() : TempDirTest("starc_diag_") {}
  // Runs `starc check` on a generated file and checks the common rules (exit 1, no crash,
  // a caret line under every diagnostic). Returns the diagnostics.
  std::vector<Diag> check_bad(const std::string& name, CheckRun* run = nullptr) const {
    CheckRun r = run_check(dir, name);
    expect_clean_failure(r);
    std::vector<Diag> diags = parse_output(r.out);
    EXPECT_FALSE(diags.empty()) << r.out;
    for (const Diag& d : diags) {
      std::string why = check_caret(d);
      EXPECT_TRUE(why.empty()) << why;
    }
    if (run) *run = std::move(r);
    return diags;
  }
  static bool has(const std::vector<Diag>& ds, const std::string& path, int line, int col, const std::string& msg) {
    return std::any_of(ds.begin(), ds.end(), [&](const Diag& d) {
      return d.kind == "error" && d.path == path && d.line == line && d.col == col &&
             d.message.find(msg) != std::string::npos;
    });
  }
};

TEST(DiagCases, ThereAreEnoughCases) { EXPECT_GE(case_names().size(), 65u) << "cases are read from " << kCaseDir; }

TEST_F(DiagEdge, EmptyFile) {
  write("empty.net", "");
  auto ds = check_bad("empty.net");
  EXPECT_TRUE(has(ds, "empty.net", 1, 1, "file is empty")) << ds.size();
}

TEST_F(DiagEdge, WhitespaceOnlyFile) {
  write("blank.net", "  \n\t\n\n");
  auto ds = check_bad("blank.net");
  EXPECT_TRUE(has(ds, "blank.net", 1, 1, "file is empty"));
}

TEST_F(DiagEdge, HundredThousandNestedParentheses) {
  const int n = 100000;
  write("deep.net", "model M(x: f32[B, 4]) -> f32[B, 4] {\n    return " + std::string(n, '(') + "x" +
                        std::string(n, ')') + "\n}\n");
  auto start = std::chrono::steady_clock::now();
  CheckRun r;
  auto ds = check_bad("deep.net", &r);
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_LT(secs, 10.0) << "must fail quickly";
  ASSERT_EQ(ds.size(), 1u) << r.out.substr(0, 2000);
  EXPECT_EQ(ds[0].line, 2);
  EXPECT_NE(ds[0].message.find("nested too deeply"), std::string::npos) << ds[0].message;
}

TEST_F(DiagEdge, HundredThousandNestedBlocks) {
  const int n = 100000;
  std::string text = "model M(x: f32[B, 4]) -> f32[B, 4] {\n";
  for (int i = 0; i < n; ++i) text += "if true {\n";
  text += std::string(n, '}') + "\n    return x\n}\n";
  write("blocks.net", text);
  CheckRun r;
  auto ds = check_bad("blocks.net", &r);
  ASSERT_FALSE(ds.empty());
  EXPECT_NE(ds[0].message.find("nested too deeply"), std::string::npos) << ds[0].message;
}

TEST_F(DiagEdge, HundredThousandTermExpressionChains) {
  // Left-nested chains are built by loops in the parser, but are as deep as parentheses.
  const int n = 100000;
  std::string sum, pipe, index;
  for (int i = 0; i < n; ++i) sum += " + x", pipe += " |> relu", index += "[:]";
  write("chains.net", "fn a(x) {\n    return x" + sum + "\n}\nfn b(x) {\n    return x" + pipe +
                          "\n}\nfn c(x) {\n    return x" + index + "\n}\n");
  CheckRun r;
  auto ds = check_bad("chains.net", &r);
  ASSERT_EQ(ds.size(), 3u) << r.out.substr(0, 3000);
  for (const Diag& d : ds) EXPECT_NE(d.message.find("nested too deeply"), std::string::npos) << d.message;
}

TEST_F(DiagEdge, MissingFile) {
  CheckRun r = run_check(dir, "does_not_exist.net");
  expect_clean_failure(r);
  EXPECT_NE(r.out.find("does_not_exist.net"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("not exist"), std::string::npos) << r.out;
  EXPECT_LT(r.out.size(), 300u) << "one clear line, not a flood:\n" << r.out;
}

TEST_F(DiagEdge, BinaryFileGivesOneError) {
  std::string bytes =
      "\x7f"
      "ELF";
  bytes += std::string(4, '\0');
  for (int i = 0; i < 200000; ++i) bytes += char((i * 7919) % 256);
  write("binary.net", bytes);
  CheckRun r;
  auto ds = check_bad("binary.net", &r);
  ASSERT_EQ(ds.size(), 1u) << r.out.substr(0, 2000);
  EXPECT_NE(ds[0].message.find("not a text file"), std::string::npos) << ds[0].message;
}

TEST_F(DiagEdge, Latin1FileStopsAfterFiftyErrors) {
  std::string text;
  for (int i = 0; i < 1000; ++i)
    text +=
        "# caf\xe9 cr\xe8me br\xfbl\xe9"
        "e\n";
  text += "model M(x: f32[B, 4]) -> f32[B, 4] {\n    return x\n}\n";
  write("latin1.net", text);
  CheckRun r;
  auto ds = check_bad("latin1.net", &r);
  EXPECT_LE(ds.size(), 60u) << "about fifty errors, then a stop";
  EXPECT_NE(r.out.find("too many errors"), std::string::npos) << r.out.substr(0, 2000);
}

TEST_F(DiagEdge, ReportsEveryIndependentErrorInOneRun) {
  // Two syntax errors in different functions, then an unclosed '(' that must not swallow
  // the rest of the file: each is reported once, nothing else.
  write("syntax.net",
        "fn f(x) {\n"        // 1
        "    y = x + * 2\n"  // 2
        "    return y\n"     // 3
        "}\n"                // 4
        "fn g(x) {\n"        // 5
        "    return [x,\n"   // 6
        "}\n"                // 7
        "fn h(x) {\n"        // 8
        "    let = x\n"      // 9
        "    a = x\n"        // 10
        "    b = a\n"        // 11
        "    return b\n"     // 12
        "}\n");
  CheckRun r;
  auto ds = check_bad("syntax.net", &r);
  EXPECT_TRUE(has(ds, "syntax.net", 2, 13, "expected an expression, found '*'")) << r.out;
  EXPECT_TRUE(has(ds, "syntax.net", 7, 1, "found '}'")) << r.out;
  EXPECT_TRUE(has(ds, "syntax.net", 9, 9, "after 'let'")) << r.out;
  EXPECT_EQ(std::count_if(ds.begin(), ds.end(), [](const Diag& d) { return d.kind == "error"; }), 3) << r.out;

  // Unknown names in two functions, one of which no model calls.
  write("names.net",
        "fn used(x) {\n"
        "    return relu(x) + scael\n"
        "}\n"
        "fn unused(x) {\n"
        "    return softmx(x)\n"
        "}\n"
        "model M(x: f32[B, 4]) -> f32[B, 4] {\n"
        "    scale = 2.0\n"
        "    return used(x) * scale\n"
        "}\n");
  ds = check_bad("names.net", &r);
  EXPECT_TRUE(has(ds, "names.net", 2, 22, "unknown name 'scael'")) << r.out;
  EXPECT_TRUE(has(ds, "names.net", 5, 12, "unknown name 'softmx' (did you mean 'softmax'?)")) << r.out;
}

TEST_F(DiagEdge, ByteOrderMarkIsAccepted) {
  write("bom.net", "\xEF\xBB\xBFmodel M(x: f32[B, 4]) -> f32[B, 4] {\n    return x\n}\n");
  CheckRun r = run_check(dir, "bom.net");
  EXPECT_EQ(r.code, 0) << r.out;
}

}  // namespace
