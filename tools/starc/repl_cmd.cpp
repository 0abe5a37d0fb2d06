// tools/starc: `starc repl [FILE.net ...] [-c TEXT] [--echo]` (docs/repl.md). On a terminal:
// libedit line editing, persistent history ($STARC_HISTORY, default ~/.starc_history),
// tab completion, multi-line input while brackets are open, Ctrl-C to abandon a line or
// an evaluation. From a pipe or with -c: the same session, no prompt, exit 1 on the
// first error (scripts and tests).
#include "tools/starc/repl_cmd.h"

#include <editline/readline.h>
#include <fmt/format.h>
#include <signal.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <iostream>
#include <sstream>

#include "tools/starc/cli_common.h"
#include "tools/repl/repl_session.h"

namespace starc {
namespace {

struct Options {
  std::vector<std::string> files;
  std::string command;
  bool echo = false, keep_going = false;
  uint64_t seed = 0;
  int threads = default_threads();
  ConvAlgo conv_algo = ConvAlgo::Auto;
  Device device = Device::Cpu;
};

std::atomic<int> g_sigints{0};
extern "C" void on_repl_sigint(int) {
  ++g_sigints;
  ReplSession::interrupted = true;
}

// Feeds `in` line by line, an input being complete when no bracket is left open. Stops
// at the first error (exit 1), or with keep_going goes on and exits 1 at the end.
int run_script(ReplSession& s, std::istream& in, bool echo, bool keep_going) {
  std::string buf;
  int rc = 0;
  for (std::string line; std::getline(in, line);) {
    if (echo) std::cout << (buf.empty() ? "starc> " : "  ...> ") << line << std::endl;
    buf += (buf.empty() ? "" : "\n") + line;
    if (ReplSession::incomplete(buf)) continue;
    bool ok = s.feed(buf);
    buf.clear();
    std::cout.flush();
    std::cerr.flush();
    if (!ok) rc = 1;
    if (!ok && !keep_going) return rc;
    if (s.quit_requested()) return rc;
  }
  if (!buf.empty()) {  // the input ended inside an open bracket or block
    std::cerr << fmt::format("error: the input ended with a bracket still open:\n{}\n", buf);
    rc = 1;
  }
  return rc;
}

ReplSession* g_session = nullptr;
std::vector<std::string> g_matches;

char* completion_entry(const char*, int state) {
  if (state >= int(g_matches.size())) return nullptr;
  return ::strdup(g_matches[size_t(state)].c_str());
}

char** complete(const char* text, int, int end) {
  g_matches = g_session->complete(std::string(rl_line_buffer, size_t(end)));
  (void)text;
  return rl_completion_matches(text, completion_entry);
}

std::string history_file() {
  if (const char* h = std::getenv("STARC_HISTORY"); h && *h) return h;
  if (const char* home = std::getenv("HOME"); home && *home) return std::string(home) + "/.starc_history";
  return "";
}

int run_terminal(ReplSession& s) {
  g_session = &s;
  rl_attempted_completion_function = complete;
  rl_basic_word_break_characters = " \t\n\"\\'`@$><=;|&{(,[+-*/%)]}";
  std::string hist = history_file();
  if (!hist.empty()) ::read_history(hist.c_str());
  struct sigaction sa{}, old{};
  sa.sa_handler = on_repl_sigint;  // no SA_RESTART: readline returns on Ctrl-C
  sigemptyset(&sa.sa_mask);
  ::sigaction(SIGINT, &sa, &old);
  std::cout << "starc repl — :help lists the commands, Ctrl-D leaves\n";
  std::string buf;
  for (;;) {
    int before = g_sigints;
    char* raw = ::readline(buf.empty() ? "starc> " : "  ...> ");
    if (!raw) {
      if (g_sigints != before) {  // Ctrl-C at the prompt: drop the line, go on
        std::cout << "\n";
        buf.clear();
        continue;
      }
      std::cout << "\n";
      break;  // Ctrl-D
    }
    std::string line = raw;
    std::free(raw);
    if (!line.empty()) {
      ::add_history(line.c_str());
      if (!hist.empty()) ::write_history(hist.c_str());
    }
    buf += (buf.empty() ? "" : "\n") + line;
    if (ReplSession::incomplete(buf)) continue;
    s.feed(buf);  // errors are printed; the session goes on
    buf.clear();
    std::cout.flush();
    if (s.quit_requested()) break;
  }
  ::sigaction(SIGINT, &old, nullptr);
  return 0;
}

int run(const Options& o) {
  ReplOptions ro;
  ro.seed = o.seed;
  ro.threads = o.threads;
  ro.conv_algo = o.conv_algo;
  ro.device = o.device;
  ro.cache_dir = default_cache_dir();
  ReplSession s(std::cout, std::cerr, ro);
  for (auto& f : o.files)
    if (!s.load(f)) return 1;
  if (!o.command.empty()) {
    std::istringstream in(o.command);
    return run_script(s, in, o.echo, o.keep_going);
  }
  if (!::isatty(0)) return run_script(s, std::cin, o.echo, o.keep_going);
  return run_terminal(s);
}

}  // namespace

ReplCommand add_repl_command(CLI::App& app) {
  auto o = std::make_shared<Options>();
  ReplCommand c;
  c.app =
      app.add_subcommand("repl", "Interactive session: type layers and models, see shapes, run, differentiate, train");
  c.app->add_option("files", o->files, "the .net files whose definitions the session starts with")
      ->check(CLI::ExistingFile);
  c.app->add_option("-c", o->command, "run these inputs (lines) and exit; exit 1 on the first error");
  c.app->add_flag("--echo", o->echo, "without a terminal: print each input after a prompt (transcripts)");
  c.app->add_flag("--keep-going", o->keep_going, "without a terminal: go on after an error (exit 1 at the end)");
  c.app->add_option("--seed", o->seed, "seed of the parameters of layers called at the prompt, and of random ops");
  cli::add_conv_algo_option(c.app, &o->conv_algo);
  cli::add_device_option(c.app, &o->device);
  cli::add_max_memory_option(c.app);
  cli::check_int_range(c.app->add_option("--threads", o->threads, "JIT threads (default: all cores)"), 1,
                       cli::kMaxThreads);
  c.run = [o]() { return cli::run_guarded([&] { return run(*o); }); };
  return c;
}

}  // namespace starc
