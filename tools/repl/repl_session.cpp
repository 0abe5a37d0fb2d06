// tools/repl: the REPL session's core: evaluating expressions and assignments (a model
// synthesized around the typed text), declarations, load(...) and save(...) lines; its
// :commands and completion are repl_commands.cpp.
#include "tools/repl/repl_session.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <ostream>
#include <set>
#include <sstream>

#include "runtime/init.h"
#include "runtime/io/npy.h"
#include "runtime/io/tensor_file.h"
#include "runtime/tensor_summary.h"
#include "tools/repl/repl_internal.h"
#include "tools/repl/repl_syntax.h"

namespace fs = std::filesystem;

namespace starc {

using repl::kSessionPath;
using repl::trim;

std::atomic<bool> ReplSession::interrupted{false};

std::string repl::trim(const std::string& s) {
  size_t b = s.find_first_not_of(" \t\r\n"), e = s.find_last_not_of(" \t\r\n");
  return b == std::string::npos ? "" : s.substr(b, e - b + 1);
}

namespace {

const char* const kModel = "__repl";

// Identifiers in `text` (outside strings and comments), for the inputs a snippet uses.
std::set<std::string> identifiers(const std::string& text) {
  std::set<std::string> out;
  for (size_t i = 0; i < text.size();) {
    char c = text[i];
    if (c == '"') {
      for (++i; i < text.size() && text[i] != '"'; ++i)
        if (text[i] == '\\') ++i;
      ++i;
    } else if (c == '#') {
      while (i < text.size() && text[i] != '\n') ++i;
    } else if (std::isalpha(static_cast<unsigned char>(c)) || c == '_') {
      size_t b = i;
      while (i < text.size() && (std::isalnum(static_cast<unsigned char>(text[i])) || text[i] == '_')) ++i;
      if (b == 0 || text[b - 1] != '.') out.insert(text.substr(b, i - b));  // not a field (x.shape)
    } else {
      ++i;
    }
  }
  return out;
}

void prepend_search_dir(const std::string& dir) {
  const char* old = std::getenv("STARC_PATH");
  std::string v = old && *old ? dir + ":" + old : dir;
  ::setenv("STARC_PATH", v.c_str(), 1);
}

// Prints the program's diagnostics; locations from `begin` on in the session file (the
// typed input, and the closing lines after it) point into "<input>" instead, so the
// caret sits under the typed text.
void print_diags(std::ostream& err, repl::Loaded& l, const std::string& input, uint32_t begin) {
  SourceManager shown;
  const SourceManager& sm = l.diags.sources();
  int session = -1;
  for (size_t i = 0; i < sm.size(); ++i) {
    shown.add(sm.file(int(i)).path, sm.file(int(i)).text);
    if (sm.file(int(i)).path == kSessionPath) session = int(i);
  }
  int typed = shown.add("<input>", input);
  auto map = [&](SrcLoc loc) {
    if (loc.file != session || loc.offset < begin) return loc;
    uint32_t off = std::min<uint32_t>(loc.offset - begin, uint32_t(input.size()));
    uint32_t len = std::min<uint32_t>(loc.length, uint32_t(input.size()) - off);
    return SrcLoc{typed, off, len};
  };
  DiagEngine out(shown);
  for (Diagnostic d : l.diags.all()) {
    d.loc = map(d.loc);
    for (auto& n : d.notes) n.first = map(n.first);
    out.add(std::move(d));
  }
  err << out.format_all();
}

}  // namespace

ReplSession::ReplSession(std::ostream& out, std::ostream& err, ReplOptions opts)
    : out_(out),
      err_(err),
      opts_(std::move(opts)),
      jit_(JitOptions{.passes = OptOptions({}, opts_.conv_algo), .threads = opts_.threads, .device = opts_.device},
           opts_.cache_dir) {
  std::error_code ec;
  prepend_search_dir(fs::current_path(ec).string());  // `use mymodel` finds ./mymodel.net
}

std::string ReplSession::session_text() const { return fmt::format("{}\n{}", fmt::join(uses_, "\n"), defs_); }

bool ReplSession::incomplete(const std::string& text) {
  int depth = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c == '"') {
      for (++i; i < text.size() && text[i] != '"' && text[i] != '\n'; ++i)
        if (text[i] == '\\') ++i;
    } else if (c == '#') {
      while (i < text.size() && text[i] != '\n') ++i;
    } else if (c == '(' || c == '[' || c == '{') {
      ++depth;
    } else if (c == ')' || c == ']' || c == '}') {
      --depth;
    }
  }
  std::string t = trim(text);
  return depth > 0 || (t.size() >= 2 && t.compare(t.size() - 2, 2, "|>") == 0);
}

bool ReplSession::build(const std::string& expr, Built& b, bool training) {
  std::set<std::string> used = identifiers(expr);
  for (auto& s : statics_) {
    auto more = identifiers(s);
    used.insert(more.begin(), more.end());
  }
  std::vector<std::string> params;
  for (auto& [name, t] : vars_)
    if (used.count(name)) {
      params.push_back(fmt::format("{}: {}", name, type_str(t.type())));
      b.inputs.push_back(t);
    }
  std::string header = fmt::format("model {}({}) -> f32[] {{", kModel, fmt::join(params, ", "));
  // One line each: a static typed with a trailing `# comment` must not hide what follows.
  for (auto& s : statics_) header += "\n" + s;
  std::string text = session_text() + "\n";
  int header_line = 1 + int(std::count(text.begin(), text.end(), '\n'));
  text += header + "\nreturn (\n";
  uint32_t begin = uint32_t(text.size());
  text += expr;
  text += "\n)\n}\n";
  b.l = std::make_unique<repl::Loaded>();
  std::optional<Graph> g;
  if (b.l->prog.load_text(kSessionPath, text))
    g = b.l->prog.build(kModel, BuildOptions{training, true, &b.static_result});
  if (!g) {
    print_diags(err_, *b.l, expr, begin);
    return false;
  }
  b.g = std::move(*g);
  // Source positions in what was typed read "<input>:LINE:COL", as in its diagnostics.
  int first = 1 + int(std::count(text.begin(), text.begin() + begin, '\n'));
  for (Node& n : b.g.nodes)
    if (n.loc.file == kSessionPath && n.loc.line >= header_line)
      n.loc = n.loc.line < first ? Loc{} : Loc{"<input>", n.loc.line - first + 1, n.loc.col};
  return true;
}

// Fresh parameters for layers called at the prompt; a model trained with :train keeps
// its weights (its call's scope is MODEL0, MODEL1, ...).
TensorMap ReplSession::params_for(const Graph& g) const {
  TensorMap p = init_params(g, opts_.seed);
  for (auto& [name, t] : p) {
    size_t dot = name.find('.');
    if (dot == std::string::npos) continue;
    std::string scope = name.substr(0, dot);
    size_t digits = scope.find_last_not_of("0123456789") + 1;
    auto it = trained_.find(scope.substr(0, digits));
    if (digits == scope.size() || it == trained_.end()) continue;
    auto w = it->second.find(name.substr(dot + 1));
    if (w != it->second.end() && w->second.type() == t.type()) t = w->second;
  }
  return p;
}

void ReplSession::keep(const std::string& name, const Tensor& t) {
  vars_[name] = t;
  std::erase_if(statics_, [&](const std::string& s) { return s.rfind(name + " = ", 0) == 0; });
}

bool ReplSession::compute(const std::string& expr, Built& b, std::vector<Tensor>& outs, bool timing) {
  if (!build(expr, b)) return false;
  if (b.g.outputs.empty()) return true;  // a static value: ints, floats, lists, strings ...
  try {
    interrupted = false;
    outs = jit_.run(b.g, b.inputs, params_for(b.g), opts_.seed);
  } catch (const std::exception& e) {
    err_ << "error: " << e.what() << "\n";
    return false;
  }
  if (interrupted) {
    err_ << "interrupted\n";
    return false;
  }
  if (timing) out_ << "time: " << format_timings(jit_.last_stats()) << "\n";
  return true;
}

// `_` is the last result printed: a tensor, or a static value (replayed like any static).
bool ReplSession::evaluate(const std::string& expr, const std::vector<std::string>& targets, bool timing) {
  Built b;
  std::vector<Tensor> outs;
  if (!compute(expr, b, outs, timing)) return false;
  if (b.g.outputs.empty()) {
    if (targets.size() > 1) {
      err_ << "error: a static value can be kept under one name, not unpacked\n";
      return false;
    }
    std::string name = targets.empty() ? "_" : targets[0];
    if (targets.empty()) {
      // The previous `_` is not replayed any more when nothing refers to it.
      auto uses_last = [](const std::string& s) { return identifiers(s).count("_") > 0; };
      bool referenced = uses_last(expr) || std::any_of(statics_.begin(), statics_.end(), [&](const std::string& s) {
                          return s.rfind("_ = ", 0) != 0 && uses_last(s);
                        });
      if (!referenced) std::erase_if(statics_, [](const std::string& s) { return s.rfind("_ = ", 0) == 0; });
    }
    if (!targets.empty() || b.static_result != "nothing") {
      vars_.erase(name);
      statics_.push_back(name + " = " + expr);
    }
    out_ << (targets.empty() ? "" : name + " = ") << b.static_result << "\n";
    return true;
  }
  if (!targets.empty() && targets.size() != outs.size()) {
    err_ << fmt::format("error: the expression gives {} tensor{}; assign {} name{}\n", outs.size(),
                        outs.size() == 1 ? "" : "s", outs.size(), outs.size() == 1 ? "" : "s");
    return false;
  }
  for (size_t i = 0; i < outs.size(); ++i) {
    std::string name = targets.empty() ? b.g.output_names[i] : targets[i];
    if (!targets.empty()) keep(name, outs[i]);
    print_tensor(name, outs[i]);
  }
  if (targets.empty() && outs.size() == 1) keep("_", outs[0]);
  return true;
}

bool ReplSession::declare(const std::string& text) {
  bool is_use = text.rfind("use ", 0) == 0;
  std::vector<std::string> uses = uses_;
  std::string defs = defs_;
  uint32_t begin;
  std::string all;
  if (is_use) {
    if (std::find(uses.begin(), uses.end(), text) == uses.end()) uses.push_back(text);
    all = fmt::format("{}\n", fmt::join(uses_, "\n"));
    begin = uint32_t(all.size());
    all += text + "\n" + defs_;
  } else {
    all = session_text() + "\n";
    begin = uint32_t(all.size());
    all += text + "\n";
    defs += "\n" + text + "\n";
  }
  repl::Loaded l;
  if (!l.prog.load_text(kSessionPath, all) || !l.prog.check_all()) {
    print_diags(err_, l, text, begin);
    return false;
  }
  uses_ = std::move(uses);
  defs_ = std::move(defs);
  if (is_use) out_ << "using " << trim(text.substr(4)) << "\n";
  if (!is_use)
    if (std::string what = repl::declared_name(text); !what.empty()) out_ << "defined " << what << "\n";
  return true;
}

bool ReplSession::load(const std::string& path) {
  std::string why;
  std::optional<std::string> text = read_source(path, &why);
  if (!text) {
    err_ << "error: cannot read '" << path << "': " << why << "\n";
    return false;
  }
  std::error_code ec;
  prepend_search_dir(fs::absolute(path, ec).parent_path().string());
  std::string uses_text, body;
  std::istringstream lines(*text);
  for (std::string line; std::getline(lines, line);)
    (trim(line).rfind("use ", 0) == 0 ? uses_text : body) += line + "\n";
  std::istringstream us(uses_text);
  for (std::string u; std::getline(us, u);)
    if (!trim(u).empty() && !declare(trim(u))) return false;
  if (!trim(body).empty() && !declare(body)) return false;
  out_ << "loaded " << path << "\n";
  return true;
}

// Whatever one input throws (an allocation that fails, a file that cannot be read) is
// that input's error; the session and its state go on. `a; b` are two inputs, the second
// fed only when the first succeeds.
bool ReplSession::feed(const std::string& input) {
  try {
    for (const std::string& statement : repl::split_statements(input)) {
      if (!feed_line(statement)) return false;
      if (quit_) break;
    }
    return true;
  } catch (const std::bad_alloc&) {
    err_ << "error: out of memory while evaluating this input\n";
  } catch (const std::exception& e) {
    err_ << "error: " << e.what() << "\n";
  }
  return false;
}

namespace {

// `load("PATH"[, "KEY"])`: a tensor file, or one array of an .npz.
Tensor load_tensor(const repl::LoadLine& load) {
  if (fs::path(load.path).extension() != ".npz") return read_tensor_file(load.path);  // .npy, FITS, CSV specs
  auto arrays = read_npz(load.path);
  if (load.key.empty() || !arrays.count(load.key)) {
    std::vector<std::string> keys;
    for (auto& [k, v] : arrays) keys.push_back(k);
    throw std::runtime_error(
        fmt::format("{} holds several arrays; name one: load(\"{}\", \"NAME\") with NAME one of: {}", load.path,
                    load.path, fmt::join(keys, ", ")));
  }
  return arrays.at(load.key);
}

}  // namespace

bool ReplSession::feed_line(const std::string& input) {
  std::string text = trim(input);
  if (text.empty() || text[0] == '#') return true;
  if (text[0] == ':') return command(text);
  if (repl::is_declaration(text)) return declare(text);
  if (auto load = repl::parse_load(text)) {
    Tensor t;
    try {
      t = load_tensor(*load);
    } catch (const std::exception& e) {
      err_ << "error: " << e.what() << "\n";
      return false;
    }
    if (!load->name.empty()) keep(load->name, t);
    print_tensor(load->name.empty() ? "loaded" : load->name, t);
    return true;
  }
  if (auto save = repl::parse_save(text)) {
    Built b;
    std::vector<Tensor> outs;
    if (!compute(save->expr, b, outs)) return false;
    if (outs.size() != 1) {
      err_ << "error: save() takes an expression with one tensor result\n";
      return false;
    }
    try {
      write_npy(save->path, outs[0]);
    } catch (const std::exception& e) {
      err_ << "error: " << e.what() << "\n";
      return false;
    }
    out_ << "wrote " << save->path << " (" << type_str(outs[0].type()) << ")\n";
    return true;
  }
  if (auto args = repl::parse_print(text)) return print_args(*args);
  if (auto assign = repl::parse_assign(text)) return evaluate(trim(assign->expr), assign->targets, false);
  return evaluate(text, {}, false);
}

}  // namespace starc
