// The REPL (`starc repl`), driven through stdin scripts and -c: definitions persist,
// shapes print, :type does not run, :grad shows a gradient graph, errors point at the
// typed text and keep the session alive (--keep-going), a repeated evaluation hits the
// compile cache, scripts exit 1 on the first error. And one terminal test through tmux:
// line editing, history recall and tab completion.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include "shell_util.h"
#include "temp_dir_test.h"

namespace starc::test {
namespace {

class Repl : public TempDirTest {
 protected:
  Repl() : TempDirTest("starc_repl_") {}
  // `starc repl ARGS` in the folder with `script` on stdin; output of both streams.
  ShellResult repl(const std::string& script, const std::string& args = "") {
    std::ofstream(dir / "script.txt") << script;
    return sh("cd " + quote(dir.string()) + " && STARC_CACHE_DIR=off timeout 120 " + quote(STARC_BINARY) + " repl " +
              args + " < script.txt");
  }
  static void expect_has(const ShellResult& r, const std::string& needle) {
    EXPECT_NE(r.out.find(needle), std::string::npos) << "expected '" << needle << "' in:\n" << r.out;
  }
};

TEST_F(Repl, DefinitionsPersistAndShapesPrint) {
  ShellResult r = repl(
      "x = ones([2, 3])\n"
      "fn double(t) {\n"
      "  return t * 2.0\n"
      "}\n"
      "y = double(x) + 1.0\n"
      "y.shape\n"
      "n = 4\n"
      "h = x |> dense(n) |> relu\n"
      "sum(y)\n");
  ASSERT_EQ(r.code, 0) << r.out;
  expect_has(r, "x = f32[2,3] [[1, 1, 1],\n              [1, 1, 1]]\n");
  expect_has(r, "defined fn double");
  expect_has(r, "y = f32[2,3] [[3, 3, 3],\n              [3, 3, 3]]\n");
  expect_has(r, "[2, 3]");
  expect_has(r, "n = 4");
  expect_has(r, "h = f32[2,4]");
  expect_has(r, "output = f32[] [18]");
}

TEST_F(Repl, TypeDoesNotRunAndGradShowsTheGradientGraph) {
  ShellResult r = repl(
      "x = ones([4, 3])\n"
      ":type x |> dense(5) |> sigmoid\n"
      ":grad x |> dense(2) wrt dense0.weight\n"
      ":grad x * x wrt x\n");
  ASSERT_EQ(r.code, 0) << r.out;
  expect_has(r, "output: f32[4,5]");
  EXPECT_EQ(r.out.find("output = f32[4,5]"), std::string::npos) << ":type ran the expression:\n" << r.out;
  expect_has(r, "# d sum(x |> dense(2)) / d dense0.weight");
  expect_has(r, "return %");
  expect_has(r, "\"d_dense0.weight\"");
  expect_has(r, "\"d_x\"");
}

TEST_F(Repl, ErrorsPointAtTheTypedTextAndKeepTheSessionAlive) {
  ShellResult r = repl(
      "x = ones([2, 3])\n"
      "x + ones([4, 5])\n"
      "y = x * 3.0\n"
      ":grad y wrt nothing\n"
      ":nonsense\n"
      "y\n",
      "--keep-going");
  EXPECT_EQ(r.code, 1) << r.out;  // errors happened
  expect_has(r, "<input>:1:1: error: add: cannot broadcast f32[2,3] and f32[4,5]");
  expect_has(r, "    1 | x + ones([4, 5])");
  expect_has(r, "'nothing' is neither an input nor a parameter");
  expect_has(r, "unknown command :nonsense");
  expect_has(r, "y = f32[2,3] [[3, 3, 3],");  // the session went on
  for (const char* bad : {"terminate called", "Segmentation", "Aborted"}) EXPECT_EQ(r.out.find(bad), std::string::npos);
}

TEST_F(Repl, ScriptsStopAtTheFirstError) {
  ShellResult r = repl("x = ones([2])\nx @ x @ x\nprint_this_never = 1\n");
  EXPECT_EQ(r.code, 1) << r.out;
  EXPECT_EQ(r.out.find("print_this_never"), std::string::npos) << r.out;
  ShellResult c = sh("cd " + quote(dir.string()) + " && " + quote(STARC_BINARY) + " repl -c " +
                     quote("a = ones([3])\nb = a + 1.0\nc = (b +\n"));
  EXPECT_EQ(c.code, 1) << c.out;
  EXPECT_NE(c.out.find("b = f32[3] [2, 2, 2]"), std::string::npos) << c.out;
  EXPECT_NE(c.out.find("the input ended with a bracket still open"), std::string::npos) << c.out;
  ShellResult ok = sh(quote(STARC_BINARY) + " repl -c " + quote("sum(ones([2, 2]))"));
  EXPECT_EQ(ok.code, 0) << ok.out;
  EXPECT_NE(ok.out.find("output = f32[] [4]"), std::string::npos) << ok.out;
  // Issue 32 item 8: `;` separates statements on a line.
  ShellResult semi = sh(quote(STARC_BINARY) + " repl -c " + quote("x = ones([3]); x * 2"));
  EXPECT_EQ(semi.code, 0) << semi.out;
  EXPECT_NE(semi.out.find("x = f32[3] [1, 1, 1]\noutput = f32[3] [2, 2, 2]\n"), std::string::npos) << semi.out;
}

TEST_F(Repl, SecondEvaluationHitsTheCompileCache) {
  ShellResult r = repl("x = ones([8, 16])\n:time x |> dense(4) |> relu\n:time x |> dense(4) |> relu\n");
  ASSERT_EQ(r.code, 0) << r.out;
  size_t first = r.out.find("time: compiled");
  size_t second = r.out.find("time: in-memory cache hit");
  EXPECT_NE(first, std::string::npos) << r.out;
  EXPECT_NE(second, std::string::npos) << r.out;
  EXPECT_LT(first, second) << r.out;
}

TEST_F(Repl, FilesModelsAndTraining) {
  write("tiny.net",
        "use std.nn\nuse std.losses\n"
        "model Tiny(x: f32[B, 2]) -> f32[B, 1] {\n  return x |> dense(1)\n}\n"
        "train Tiny(y: f32[B, 1]) {\n  loss = mse(output, y)\n  optimizer = sgd(lr: 0.1)\n}\n");
  ShellResult r = repl("x = load(\"x.npy\")\n", "tiny.net");  // a missing file: a clear error
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.out.find("x.npy"), std::string::npos) << r.out;
  r = repl(
      ":params Tiny\n"
      "x = ones([4, 2])\n"
      "y = ones([4, 1]) * 3.0\n"
      "save(x * 2.0, \"x2.npy\")\n"
      "x2 = load(\"x2.npy\")\n"
      "before = mean(abs(Tiny(x2) - y))\n"
      ":train Tiny --data x=x2 --data y=y --epochs 30 --batch 4 --progress none\n"
      "after = mean(abs(Tiny(x2) - y))\n",
      "tiny.net");
  ASSERT_EQ(r.code, 0) << r.out;
  expect_has(r, "dense0.weight");
  expect_has(r, "wrote x2.npy (f32[4,2])");
  expect_has(r, "x2 = f32[4,2] [[2, 2],\n               [2, 2],\n               [2, 2],\n               [2, 2]]");
  expect_has(r, "Tiny keeps its trained weights in this session");
  auto value = [&](const std::string& name) {
    size_t at = r.out.find(name + " = f32[] [");
    EXPECT_NE(at, std::string::npos) << r.out;
    return at == std::string::npos ? 0.0 : std::stod(r.out.substr(at + name.size() + 10));
  };
  EXPECT_LT(value("after"), 0.1 * value("before")) << r.out;
  // Without --checkpoint or --out, :train writes nothing (issue 32: no unannounced
  // ./starc-checkpoint/).
  std::vector<std::string> files;
  for (auto& e : std::filesystem::directory_iterator(dir)) files.push_back(e.path().filename().string());
  std::sort(files.begin(), files.end());
  EXPECT_EQ(files, (std::vector<std::string>{"script.txt", "tiny.net", "x2.npy"}));
}

// A real terminal: tmux runs `starc repl`; keys go in with send-keys, the screen comes
// back with capture-pane.
TEST_F(Repl, TerminalLineEditingHistoryAndCompletion) {
  if (sh("command -v tmux").code != 0) GTEST_SKIP() << "tmux is not installed (scripts/setup.sh installs it)";
  std::string session = "starc_repl_test_" + std::to_string(::getpid());
  std::string hist = path("history");
  auto tmux = [&](const std::string& args) { return sh("tmux -L " + quote(session) + " " + args); };
  auto screen = [&] { return tmux("capture-pane -p -t repl").out; };
  auto wait_for = [&](const std::string& needle) {
    for (int i = 0; i < 200; ++i) {
      if (screen().find(needle) != std::string::npos) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return false;
  };
  // `starc repl` in a new tmux session, with the test's history file.
  auto start_repl = [&] {
    return tmux("new-session -d -s repl -x 120 -y 40 " +
                quote("cd " + quote(dir.string()) + " && STARC_HISTORY=" + quote(hist) + " STARC_CACHE_DIR=off " +
                      quote(STARC_BINARY) + " repl"));
  };
  ShellResult start = start_repl();
  ASSERT_EQ(start.code, 0) << start.out;
  ASSERT_TRUE(wait_for("starc>")) << screen();  // (capture-pane drops trailing blanks)
  // Line editing: type "sum(x)", go to the start of the line (C-a), insert "2 * ".
  tmux("send-keys -t repl 'x = ones([2, 3])' Enter");
  ASSERT_TRUE(wait_for("x = f32[2,3]")) << screen();
  tmux("send-keys -t repl 'sum(x)' C-a '2 * ' Enter");
  EXPECT_TRUE(wait_for("output = f32[] [12]")) << screen();
  // History: Up recalls "2 * sum(x)"; C-e moves to the end to append " + 1".
  tmux("send-keys -t repl Up C-e ' + 1' Enter");
  EXPECT_TRUE(wait_for("output = f32[] [13]")) << screen();
  // Completion: "sigm" + Tab completes the op name; ":ty" + Tab the command.
  tmux("send-keys -t repl 'sigm' Tab");
  EXPECT_TRUE(wait_for("starc> sigmoid")) << screen();
  tmux("send-keys -t repl '(x)' Enter");
  EXPECT_TRUE(wait_for("output = f32[2,3] [[0.731059")) << screen();
  tmux("send-keys -t repl ':ty' Tab 'x' Enter");
  EXPECT_TRUE(wait_for("output: f32[2,3]")) << screen();
  // Ctrl-C drops the line being typed; the session goes on.
  tmux("send-keys -t repl 'this is not finished' C-c");
  tmux("send-keys -t repl 'sum(x) * 10.0' Enter");
  EXPECT_TRUE(wait_for("output = f32[] [60]")) << screen();
  // A multi-line definition continues with the "...>" prompt.
  tmux("send-keys -t repl 'fn twice(t) {' Enter");
  EXPECT_TRUE(wait_for("...>")) << screen();
  tmux("send-keys -t repl 'return t * 2.0' Enter '}' Enter");
  EXPECT_TRUE(wait_for("defined fn twice")) << screen();
  tmux("send-keys -t repl C-d");
  for (int i = 0; i < 100 && tmux("has-session -t repl").code == 0; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  tmux("kill-server");
  // The history was written to the file for the next session (libedit's format writes
  // a space as \040).
  std::ifstream in(hist);
  std::string saved((std::istreambuf_iterator<char>(in)), {});
  EXPECT_NE(saved.find("2\\040*\\040sum(x)\\040+\\0401"), std::string::npos) << saved;
  // A new session recalls it.
  start = start_repl();
  ASSERT_EQ(start.code, 0) << start.out;
  ASSERT_TRUE(wait_for("starc>")) << screen();
  tmux("send-keys -t repl Up");
  EXPECT_TRUE(wait_for("starc> }")) << screen();  // the last line typed before
  tmux("kill-server");
}

}  // namespace
}  // namespace starc::test
