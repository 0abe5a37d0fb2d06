#include "dsl/program.h"

#include <fmt/format.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "compiler/ir/text.h"
#include "dsl/lexer.h"
#include "dsl/parser.h"
#include "compiler/ir/share_dir.h"

namespace fs = std::filesystem;

namespace starc {

std::optional<std::string> read_source(const std::string& path, std::string* why) {
  std::error_code ec;
  auto fail = [&](std::string w) -> std::optional<std::string> {
    if (why) *why = std::move(w);
    return std::nullopt;
  };
  if (!fs::exists(path, ec)) return fail("no such file");
  if (!fs::is_regular_file(path, ec)) return fail("not a regular file");
  uintmax_t size = fs::file_size(path, ec);
  if (ec) return fail(ec.message());
  if (size > kMaxSourceBytes)
    return fail(fmt::format("{} bytes is too large for a source file (limit {} MiB)", size, kMaxSourceBytes >> 20));
  std::ifstream in(path, std::ios::binary);
  if (!in) return fail("cannot open it");
  std::string text(size_t(size), '\0');
  in.read(text.data(), std::streamsize(size));
  text.resize(size_t(in.gcount()));  // a file that shrank while being read
  return text;
}

std::vector<std::string> Program::search_path(const std::string& importer) const {
  std::vector<std::string> dirs;
  dirs.push_back(fs::path(importer).parent_path().string());
  if (const char* env = std::getenv("STARC_PATH"))
    for (std::string_view rest = env; !rest.empty();) {
      size_t c = rest.find(':');
      dirs.emplace_back(rest.substr(0, c));
      rest = c == std::string_view::npos ? "" : rest.substr(c + 1);
    }
  if (!stdlib_dir().empty()) dirs.push_back(stdlib_dir());
  return dirs;
}

std::string Program::locate(const UseDecl& u, const std::string& importer, std::vector<std::string>& tried) const {
  fs::path rel;
  for (auto& part : u.path) rel /= part;
  rel += ".net";
  for (auto& dir : search_path(importer)) {
    fs::path p = dir.empty() ? rel : fs::path(dir) / rel;
    tried.push_back(p.string());
    std::error_code ec;
    if (fs::is_regular_file(p, ec)) return fs::weakly_canonical(p, ec).string();
  }
  return "";
}

int Program::load_module(const std::string& path, const std::string* text, SrcLoc use_loc,
                         std::vector<std::string>& stack) {
  std::error_code ec;
  std::string key = text ? path : fs::weakly_canonical(path, ec).string();
  for (size_t i = 0; i < stack.size(); ++i)
    if (stack[i] == key) {
      std::string chain;
      for (size_t j = i; j < stack.size(); ++j) chain += fs::path(stack[j]).filename().string() + " -> ";
      diags_.error(use_loc, fmt::format("import cycle: {}{}", chain, fs::path(key).filename().string()));
      return -1;
    }
  if (auto it = by_path_.find(key); it != by_path_.end()) return it->second;

  std::string why;
  std::optional<std::string> src = text ? std::optional<std::string>(*text) : read_source(path, &why);
  if (!src) {
    diags_.error(use_loc, fmt::format("cannot read '{}': {}", path, why));
    return -1;
  }
  // Show paths relative to the working directory when they lie below it.
  std::string shown = path;
  if (!text) {
    std::string rel = fs::path(path).lexically_proximate(fs::current_path(ec)).string();
    if (!ec && rel.rfind("..", 0) != 0) shown = rel;
  }
  int file = diags_.sources().add(shown, *src);
  bool blank = src->empty() || src->find_first_not_of(" \t\r\n") == std::string::npos;
  if (blank) diags_.error(SrcLoc{file, 0, 0}, "file is empty: expected at least one 'model' or 'fn' definition");
  size_t before_lex = diags_.count();
  // A binary file (or UTF-16 text) would give an error per byte: say once what it is.
  size_t nul = src->find('\0');
  if (nul != std::string::npos)
    diags_.error(SrcLoc{file, uint32_t(nul), 1},
                 "this is not a text file (it contains NUL bytes); source files must be UTF-8 text");
  std::vector<Token> toks =
      nul != std::string::npos ? std::vector<Token>{Token{Tok::Eof, SrcLoc{file, 0, 0}, {}}} : lex(file, *src, diags_);
  if (!blank && diags_.count() == before_lex && std::all_of(toks.begin(), toks.end(), [](const Token& t) {
        return t.kind == Tok::Newline || t.kind == Tok::Eof;
      }))
    diags_.error(SrcLoc{file, 0, 0}, "file has only comments: expected at least one 'model' or 'fn' definition");
  Module m = parse_module(file, path, std::move(toks), diags_);

  int id = int(modules_.size());
  by_path_[key] = id;
  modules_.push_back(std::move(m));
  globals_.emplace_back();

  stack.push_back(key);
  std::map<std::string, std::shared_ptr<FnDecl>> imported;
  std::map<std::string, std::string> imported_from;
  std::vector<UseDecl> uses = modules_[id].uses;
  for (const UseDecl& u : uses) {
    std::vector<std::string> tried;
    std::string found = locate(u, path, tried);
    std::string dotted = fmt::format("{}", fmt::join(u.path, "."));
    if (found.empty()) {
      diags_.error(u.loc, fmt::format("cannot find module '{}' (looked for {})", dotted, fmt::join(tried, ", ")));
      continue;
    }
    int dep = load_module(found, nullptr, u.loc, stack);
    if (dep < 0) continue;
    for (auto& d : modules_[dep].decls) {
      auto [it, fresh] = imported.emplace(d->name, d);
      if (!fresh && it->second != d)
        diags_.error(u.loc, fmt::format("'{}' is defined both in module '{}' and in '{}'", d->name,
                                        imported_from[d->name], dotted));
      imported_from.emplace(d->name, dotted);
    }
  }
  stack.pop_back();

  auto& globals = globals_[id];
  globals = imported;  // own definitions shadow imported ones
  std::map<std::string, const FnDecl*> own;
  for (auto& d : modules_[id].decls) {
    d->module = id;
    if (auto it = own.find(d->name); it != own.end()) {
      auto [line, col] = diags_.sources().line_col(it->second->loc);
      diags_.add(Diagnostic{d->loc,
                            fmt::format("'{}' is already defined at line {}", d->name, line),
                            {{it->second->loc, "first definition here"}}});
      continue;
    }
    own[d->name] = d.get();
    globals[d->name] = d;
  }
  check_train_decls(id);
  return id;
}

bool Program::load_file(const std::string& path) {
  size_t before = diags_.count();
  std::vector<std::string> stack;
  std::error_code ec;
  if (!fs::is_regular_file(path, ec)) {
    diags_.error(SrcLoc{}, fmt::format("cannot read '{}': {}", path,
                                       fs::exists(path, ec) ? "not a regular file" : "no such file"));
    return false;
  }
  load_module(path, nullptr, SrcLoc{}, stack);
  return diags_.count() == before;
}

bool Program::load_text(const std::string& path, const std::string& text) {
  size_t before = diags_.count();
  std::vector<std::string> stack;
  load_module(path, &text, SrcLoc{}, stack);
  return diags_.count() == before;
}

std::vector<std::string> Program::model_names() const {
  std::vector<std::string> out;
  if (modules_.empty()) return out;
  for (auto& d : modules_[0].decls)
    if (d->is_model) out.push_back(d->name);
  return out;
}

std::optional<Graph> Program::build(const std::string& model, const BuildOptions& opts) {
  if (modules_.empty()) return std::nullopt;
  auto& g = globals_[0];
  auto it = g.find(model);
  if (it == g.end() || !it->second->is_model) {
    std::vector<std::string> names = model_names();
    std::string hint = closest_name(model, names);
    diags_.error(SrcLoc{}, fmt::format("no model '{}' in {}{}; models there: {}", model, modules_[0].path,
                                       hint.empty() ? "" : fmt::format(" (did you mean '{}'?)", hint),
                                       names.empty() ? "none" : fmt::format("{}", fmt::join(names, ", "))));
    return std::nullopt;
  }
  std::optional<Graph> built = elaborate_model(*this, *it->second, opts);
  if (built) {
    drop_unused_symbols(*built);
    try {
      verify_graph(*built);
    } catch (const std::exception& e) {  // a front-end bug, not a user error: say so plainly
      diags_.error(it->second->loc,
                   fmt::format("internal error: the graph built for '{}' is invalid: {}", model, e.what()));
      return std::nullopt;
    }
  }
  return built;
}

bool Program::check_all() {
  size_t before = diags_.count();
  for (int m = 0; m < int(modules_.size()); ++m)
    for (auto& d : modules_[m].decls) resolve_names(*this, m, *d);
  for (int m = 0; m < int(modules_.size()); ++m)
    for (auto& t : modules_[m].trains) resolve_train_names(*this, m, *t);
  if (diags_.count() != before) return false;
  std::vector<std::string> trained = trained_models();
  for (auto& name : model_names()) {
    size_t errors = diags_.count();
    build(name);
    // A model that does not build would only report the same errors again.
    if (diags_.count() == errors && std::find(trained.begin(), trained.end(), name) != trained.end()) build_train(name);
  }
  std::vector<std::string> own = model_names();
  for (auto& name : trained)  // train blocks of imported models
    if (std::find(own.begin(), own.end(), name) == own.end()) build_train(name);
  return diags_.count() == before;
}

}  // namespace starc
