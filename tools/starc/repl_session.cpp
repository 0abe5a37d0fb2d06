#include "tools/starc/repl_session.h"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <ostream>
#include <set>
#include <sstream>

#include "compiler/driver/driver.h"
#include "compiler/autodiff/autodiff.h"
#include "compiler/graph/text.h"
#include "compiler/lower/jit.h"
#include "compiler/ops/builder.h"
#include "compiler/opt/passes.h"
#include "runtime/init.h"
#include "runtime/npy.h"
#include "runtime/tensor_file.h"
#include "tools/starc/cli_common.h"
#include "tools/starc/repl_syntax.h"
#include "tools/starc/train_cmd.h"

namespace fs = std::filesystem;

namespace starc {

std::atomic<bool> ReplSession::interrupted{false};

namespace {

const char* const kSessionPath = "<session>";
const char* const kModel = "__repl";

const std::vector<std::pair<std::string, std::string>> kCommands = {
    {":help", "this list"},
    {":type EXPR", "shape and dtype of EXPR, without running it"},
    {":graph EXPR", "the Graph IR of EXPR"},
    {":grad EXPR wrt NAME", "the symbolic gradient graph of sum(EXPR) w.r.t. a session tensor or a parameter"},
    {":opt EXPR", "the graph after the optimizer passes (cse, dce): what the JIT compiles"},
    {":mlir EXPR", "the MLIR module of EXPR"},
    {":llvm EXPR", "the LLVM IR of EXPR"},
    {":params MODEL", "a model's parameters"},
    {":time EXPR", "evaluate EXPR and show compile vs run time (a repeat hits the compile cache)"},
    {":train MODEL OPTIONS", "train with the options of `starc train` (--data NAME=FILE.npy or NAME=VAR ...)"},
    {":load FILE.net", "add a file's definitions"},
    {":vars", "the session's tensors and static values"},
    {":reset", "forget every definition and value"},
    {":quit", "leave (also :q, :exit, Ctrl-D)"},
};

std::string trim(const std::string& s) {
  size_t b = s.find_first_not_of(" \t\r\n"), e = s.find_last_not_of(" \t\r\n");
  return b == std::string::npos ? "" : s.substr(b, e - b + 1);
}

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

// Whitespace-separated words, with "..." or '...' quoting.
std::vector<std::string> words(const std::string& s) {
  std::vector<std::string> out;
  std::string cur;
  bool any = false;
  char quote = 0;
  for (char c : s) {
    if (quote) {
      if (c == quote)
        quote = 0;
      else
        cur += c;
    } else if (c == '"' || c == '\'') {
      quote = c, any = true;
    } else if (std::isspace(static_cast<unsigned char>(c))) {
      if (any || !cur.empty()) out.push_back(cur);
      cur.clear(), any = false;
    } else {
      cur += c;
    }
  }
  if (any || !cur.empty()) out.push_back(cur);
  return out;
}

std::vector<std::string> stdlib_modules() {
  std::vector<std::string> out;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(STARC_STDLIB_DIR, ec);
       !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (it->path().extension() != ".net") continue;
    fs::path rel = fs::relative(it->path(), STARC_STDLIB_DIR, ec);
    std::string dotted;
    for (auto& part : rel.replace_extension()) dotted += (dotted.empty() ? "" : ".") + part.string();
    out.push_back(dotted);
  }
  std::sort(out.begin(), out.end());
  return out;
}

void prepend_search_dir(const std::string& dir) {
  const char* old = std::getenv("STARC_PATH");
  std::string v = old && *old ? dir + ":" + old : dir;
  ::setenv("STARC_PATH", v.c_str(), 1);
}

}  // namespace

// A synthesized model: the program (its sources back the diagnostics), the graph, its
// inputs (session tensors), where the typed text sits in the source, and a static result.
struct ReplSession::Built {
  std::unique_ptr<cli::Loaded> l;
  Graph g;
  std::vector<Tensor> inputs;
  std::string static_result;
};

namespace {

// Prints the program's diagnostics; locations from `begin` on in the session file (the
// typed input, and the closing lines after it) point into "<input>" instead, so the
// caret sits under the typed text.
void print_diags(std::ostream& err, cli::Loaded& l, const std::string& input, uint32_t begin) {
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
  for (auto& s : statics_) header += " " + s + ";";
  std::string text = session_text() + "\n" + header + " return (\n";
  uint32_t begin = uint32_t(text.size());
  text += expr;
  text += "\n)\n}\n";
  b.l = std::make_unique<cli::Loaded>();
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
    if (n.loc.file == kSessionPath && n.loc.line >= first - 1)
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

void ReplSession::print_tensor(const std::string& name, const Tensor& t) const {
  std::string line = fmt::format("{} = {}", name, cli::tensor_summary(t));
  if (t.size() > 8 && t.dtype() != DType::Bool) {
    double lo = t.get(0), hi = lo, sum = 0;
    for (int64_t i = 0; i < t.size(); ++i) {
      double v = t.get(i);
      lo = std::min(lo, v), hi = std::max(hi, v), sum += v;
    }
    line += fmt::format("  min {:.6g} max {:.6g} mean {:.6g}", lo, hi, sum / double(t.size()));
  }
  out_ << line << "\n";
}

bool ReplSession::evaluate(const std::string& expr, const std::vector<std::string>& targets, bool timing) {
  Built b;
  if (!build(expr, b)) return false;
  if (b.g.outputs.empty()) {  // a static value: ints, floats, lists, strings ...
    if (targets.size() > 1) {
      err_ << "error: a static value can be kept under one name, not unpacked\n";
      return false;
    }
    if (targets.size() == 1) {
      vars_.erase(targets[0]);
      statics_.push_back(targets[0] + " = " + expr);
      out_ << targets[0] << " = " << b.static_result << "\n";
    } else {
      out_ << b.static_result << "\n";
    }
    return true;
  }
  std::vector<Tensor> outs;
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
  if (!targets.empty() && targets.size() != outs.size()) {
    err_ << fmt::format("error: the expression gives {} tensor{}; assign {} name{}\n", outs.size(),
                        outs.size() == 1 ? "" : "s", outs.size(), outs.size() == 1 ? "" : "s");
    return false;
  }
  for (size_t i = 0; i < outs.size(); ++i) {
    std::string name = targets.empty() ? b.g.output_names[i] : targets[i];
    if (!targets.empty()) {
      vars_[name] = outs[i];
      std::erase_if(statics_, [&](const std::string& s) { return s.rfind(name + " = ", 0) == 0; });
    }
    print_tensor(name, outs[i]);
  }
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
  cli::Loaded l;
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

bool ReplSession::show(const std::string& what, const std::string& expr) {
  Built b;
  if (!build(expr, b)) return false;
  if (!b.static_result.empty()) {
    out_ << b.static_result << "\n";
    return true;
  }
  try {
    if (what == "type") {
      for (size_t i = 0; i < b.g.outputs.size(); ++i)
        out_ << b.g.output_names[i] << ": " << type_str(b.g.type(b.g.outputs[i])) << "\n";
    } else if (what == "graph") {
      out_ << print_graph(b.g);
    } else if (what == "opt") {
      CompileOptions o;
      o.passes = OptOptions({}, opts_.conv_algo);
      Compilation c = compile(b.g, o, Stage::Opt);
      for (auto& r : c.report) out_ << "# " << describe(r) << "\n";
      out_ << print_graph(c.optimized);
    } else {
      CompileOptions o;
      o.device = opts_.device;
      o.passes = OptOptions({}, opts_.conv_algo);
      Compilation c = compile(b.g, bind_symbols(b.g, b.inputs), o, what == "mlir" ? Stage::Mlir : Stage::Llvm);
      out_ << (what == "mlir" ? c.mlir : c.llvm);
    }
  } catch (const std::exception& e) {
    err_ << "error: " << e.what() << "\n";
    return false;
  }
  return true;
}

bool ReplSession::grad(const std::string& args) {
  size_t at = args.rfind(" wrt ");
  if (at == std::string::npos) {
    err_ << "error: write :grad EXPR wrt NAME (a session tensor or a parameter's dotted name)\n";
    return false;
  }
  std::string expr = trim(args.substr(0, at)), wrt = trim(args.substr(at + 5));
  Built b;
  if (!build(expr, b, true)) return false;
  Graph& g = b.g;
  int target = -1;
  std::vector<std::string> names;
  for (size_t i = 0; i < g.inputs.size(); ++i) {
    names.push_back(g.input_name(int(i)));
    if (names.back() == wrt) target = g.inputs[i];
  }
  for (int p : g.params()) {
    names.push_back(attr_str(g.node(p).attrs, "name"));
    if (names.back() == wrt) target = p;
  }
  if (target < 0) {
    std::string hint = closest_name(wrt, names);
    err_ << fmt::format("error: '{}' is neither an input nor a parameter of the expression{} (it has: {})\n", wrt,
                        hint.empty() ? "" : fmt::format("; did you mean '{}'?", hint), fmt::join(names, ", "));
    return false;
  }
  try {
    GraphBuilder gb(g);
    int y = sum_of_float_outputs(gb);
    if (y < 0) throw std::runtime_error("the expression has no float result to differentiate");
    g.outputs = {append_gradients(g, y, {target})[0]};
    g.output_names = {"d_" + wrt};
    out_ << "# d sum(" << trim(expr) << ") / d " << wrt << "\n" << print_graph(g);
  } catch (const std::exception& e) {
    err_ << "error: " << e.what() << "\n";
    return false;
  }
  return true;
}

bool ReplSession::train(const std::string& args) {
  std::vector<std::string> w = words(args);
  if (w.empty()) {
    err_ << "error: write :train MODEL [--data NAME=FILE.npy|NAME=VAR ...] [--epochs N] [--batch B] ...\n";
    return false;
  }
  std::string model = w[0];
  fs::path tmp = fs::temp_directory_path() / fmt::format("starc-repl-{}", ::getpid());
  std::error_code ec;
  fs::create_directories(tmp, ec);
  std::string file = (tmp / "session.net").string(), out = (tmp / "trained.npz").string();
  std::ofstream(file) << session_text() << "\n";
  std::vector<std::string> argv = {"starc", "train", file, "--model", model};
  for (size_t i = 1; i < w.size(); ++i) {
    std::string a = w[i];
    size_t eq = a.find('=');
    bool data = i > 1 && (w[i - 1] == "--data" || w[i - 1] == "--val");
    if (data && eq != std::string::npos && vars_.count(a.substr(eq + 1)) && !fs::exists(a.substr(eq + 1))) {
      std::string npy = (tmp / (a.substr(eq + 1) + ".npy")).string();
      write_npy(npy, vars_.at(a.substr(eq + 1)));  // a session tensor as training data
      a = a.substr(0, eq + 1) + npy;
    }
    argv.push_back(a);
  }
  argv.push_back("--out");
  argv.push_back(out);
  std::vector<char*> cargv;
  for (auto& a : argv) cargv.push_back(a.data());
  CLI::App app{"starc"};
  TrainCommand tc = add_train_command(app, int(cargv.size()), cargv.data());
  int rc = 1;
  try {
    app.parse(int(cargv.size()), cargv.data());
    rc = tc.run();
  } catch (const CLI::ParseError& e) {
    err_ << "error: " << e.what() << "\n";
  }
  if (rc == 0 || fs::exists(out)) {
    if (fs::exists(out)) {
      trained_[model] = read_npz(out);
      out_ << fmt::format("{} keeps its trained weights in this session ({} tensors)\n", model, trained_[model].size());
    }
  }
  fs::remove_all(tmp, ec);
  return rc == 0;
}

bool ReplSession::command(const std::string& text) {
  size_t sp = text.find_first_of(" \t\n");
  std::string name = text.substr(0, sp), rest = sp == std::string::npos ? "" : trim(text.substr(sp));
  auto need = [&](const char* what) {
    if (!rest.empty()) return true;
    err_ << "error: " << name << " needs " << what << "\n";
    return false;
  };
  if (name == ":quit" || name == ":q" || name == ":exit") return quit_ = true;
  if (name == ":help") {
    out_ << "Type a statement of the language (x = expr, an expression, fn/model/train/use declarations) or:\n";
    for (auto& [c, what] : kCommands) out_ << fmt::format("  {:<22} {}\n", c, what);
    out_ << "Session tensors become inputs of what you type; load(\"file.npy\") and save(expr, \"out.npy\") move "
            "them to and from files.\n";
    return true;
  }
  if (name == ":type" || name == ":graph" || name == ":opt" || name == ":mlir" || name == ":llvm")
    return need("an expression") && show(name.substr(1), rest);
  if (name == ":time") return need("an expression") && evaluate(rest, {}, true);
  if (name == ":grad") return need("EXPR wrt NAME") && grad(rest);
  if (name == ":train") return train(rest);
  if (name == ":load") return need("a file") && load(rest);
  if (name == ":params") {
    if (!need("a model name")) return false;
    cli::Loaded l;
    std::optional<Graph> g;
    if (l.prog.load_text(kSessionPath, session_text())) g = l.prog.build(rest);
    if (!g) {
      err_ << l.diags.format_all();
      return false;
    }
    for (int id : g->params())
      out_ << fmt::format("{:<28} {:<20}{}\n", attr_str(g->node(id).attrs, "name"), type_str(g->node(id).type),
                          attr_bool(g->node(id).attrs, "trainable") ? "" : "  (state)");
    return true;
  }
  if (name == ":vars") {
    for (auto& [n, t] : vars_) out_ << fmt::format("{:<12} {}\n", n, type_str(t.type()));
    for (auto& s : statics_) out_ << s << "\n";
    return true;
  }
  if (name == ":reset") {
    uses_ = {"use std.nn", "use std.losses"};
    defs_.clear(), statics_.clear(), vars_.clear(), trained_.clear();
    out_ << "session reset\n";
    return true;
  }
  std::vector<std::string> names;
  for (auto& [c, what] : kCommands) names.push_back(words(c)[0]);
  std::string hint = closest_name(name, names);
  err_ << "error: unknown command " << name << (hint.empty() ? "" : "; did you mean " + hint + "?")
       << " (:help lists them)\n";
  return false;
}

// Whatever one input throws (an allocation that fails, a file that cannot be read) is
// that input's error; the session and its state go on.
bool ReplSession::feed(const std::string& input) {
  try {
    return feed_line(input);
  } catch (const std::bad_alloc&) {
    err_ << "error: out of memory while evaluating this input\n";
  } catch (const std::exception& e) {
    err_ << "error: " << e.what() << "\n";
  }
  return false;
}

bool ReplSession::feed_line(const std::string& input) {
  std::string text = trim(input);
  if (text.empty() || text[0] == '#') return true;
  if (text[0] == ':') return command(text);
  if (repl::is_declaration(text)) return declare(text);
  if (auto load = repl::parse_load(text)) {
    try {
      std::string path = load->path, name = load->name.empty() ? "loaded" : load->name;
      std::string ext = fs::path(path).extension().string();
      Tensor t;
      if (ext == ".npz") {
        auto arrays = read_npz(path);
        if (load->key.empty() || !arrays.count(load->key)) {
          std::vector<std::string> keys;
          for (auto& [k, v] : arrays) keys.push_back(k);
          throw std::runtime_error(
              fmt::format("{} holds several arrays; name one: load(\"{}\", \"NAME\") with NAME one of: {}", path, path,
                          fmt::join(keys, ", ")));
        }
        t = arrays.at(load->key);
      } else {
        t = read_tensor_file(path);  // .npy, FITS, CSV specs (docs/data.md)
      }
      if (!load->name.empty()) {
        vars_[name] = t;
        std::erase_if(statics_, [&](const std::string& s) { return s.rfind(name + " = ", 0) == 0; });
      }
      print_tensor(name, t);
      return true;
    } catch (const std::exception& e) {
      err_ << "error: " << e.what() << "\n";
      return false;
    }
  }
  if (auto save = repl::parse_save(text)) {
    Built b;
    if (!build(save->expr, b)) return false;
    try {
      if (b.g.outputs.size() != 1) throw std::runtime_error("save() takes an expression with one tensor result");
      Tensor t = jit_.run(b.g, b.inputs, params_for(b.g), opts_.seed)[0];
      write_npy(save->path, t);
      out_ << "wrote " << save->path << " (" << type_str(t.type()) << ")\n";
      return true;
    } catch (const std::exception& e) {
      err_ << "error: " << e.what() << "\n";
      return false;
    }
  }
  if (auto assign = repl::parse_assign(text)) return evaluate(trim(assign->expr), assign->targets, false);
  return evaluate(text, {}, false);
}

std::vector<std::string> ReplSession::complete(const std::string& line) const {
  size_t b = line.size();
  while (b > 0 && (std::isalnum(static_cast<unsigned char>(line[b - 1])) || line[b - 1] == '_' || line[b - 1] == '.' ||
                   line[b - 1] == ':'))
    --b;
  std::string word = line.substr(b);
  std::vector<std::string> pool;
  if (trim(line.substr(0, b)) == "use") {
    pool = stdlib_modules();
  } else if (b == 0 && !word.empty() && word[0] == ':') {
    for (auto& [c, what] : kCommands) pool.push_back(words(c)[0]);
  } else {
    for (auto& [n, t] : vars_) pool.push_back(n);
    for (auto& s : statics_) pool.push_back(s.substr(0, s.find(' ')));
    cli::Loaded l;
    if (l.prog.load_text(kSessionPath, session_text()))
      for (auto& [n, d] : l.prog.globals(0)) pool.push_back(n);
    for (auto& n : builtin_names()) pool.push_back(n);
  }
  std::vector<std::string> out;
  for (auto& p : pool)
    if (p.rfind(word, 0) == 0) out.push_back(p);
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

}  // namespace starc
