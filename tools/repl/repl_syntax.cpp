#include "tools/repl/repl_syntax.h"

#include <cctype>

namespace starc::repl {
namespace {

// A cursor over one line; every method advances past what it accepts.
struct Scan {
  const std::string& s;
  size_t i = 0;

  bool done() const { return i >= s.size(); }
  void spaces() {
    while (i < s.size() && std::isspace(static_cast<unsigned char>(s[i]))) ++i;
  }
  bool word(const char* w) {
    size_t n = std::char_traits<char>::length(w);
    if (s.compare(i, n, w) != 0) return false;
    i += n;
    return true;
  }
  bool ch(char c) {
    if (i < s.size() && s[i] == c) return ++i, true;
    return false;
  }
  std::string ident() {
    size_t b = i;
    if (i < s.size() && (std::isalpha(static_cast<unsigned char>(s[i])) || s[i] == '_'))
      while (i < s.size() && (std::isalnum(static_cast<unsigned char>(s[i])) || s[i] == '_')) ++i;
    return s.substr(b, i - b);
  }
  // "...": the contents (no escapes, as the REPL's paths have none), or nullopt.
  std::optional<std::string> quoted() {
    if (!ch('"')) return std::nullopt;
    size_t e = s.find('"', i);
    if (e == std::string::npos) return std::nullopt;
    std::string v = s.substr(i, e - i);
    i = e + 1;
    return v;
  }
};

// KEYWORD NAME, with at least one space between; returns NAME or "".
std::string keyword_name(Scan& sc, const char* keyword) {
  if (!sc.word(keyword)) return "";
  size_t before = sc.i;
  sc.spaces();
  if (sc.i == before) return "";
  return sc.ident();
}

}  // namespace

std::string declared_name(const std::string& text) {
  for (const char* kw : {"fn", "model", "train"}) {
    Scan sc{text};
    sc.spaces();
    std::string name = keyword_name(sc, kw);
    if (!name.empty()) return std::string(kw) + " " + name;
  }
  return "";
}

bool is_declaration(const std::string& text) {
  Scan use{text};
  if (use.word("use") && !use.done() && std::isspace(static_cast<unsigned char>(text[use.i]))) return true;
  for (const char* kw : {"fn", "model", "train"}) {
    Scan sc{text};
    if (keyword_name(sc, kw).empty()) continue;
    sc.spaces();
    if (sc.ch('(') || (std::string(kw) == "train" && sc.ch('{'))) return true;
  }
  return false;
}

std::optional<LoadLine> parse_load(const std::string& text) {
  Scan sc{text};
  LoadLine l;
  if (std::string name = sc.ident(); !name.empty() && name != "load") {
    l.name = name;
    sc.spaces();
    if (!sc.ch('=')) return std::nullopt;
    sc.spaces();
    if (!sc.word("load")) return std::nullopt;
  } else if (name.empty()) {
    return std::nullopt;
  }
  if (!sc.ch('(')) return std::nullopt;
  sc.spaces();
  auto path = sc.quoted();
  if (!path) return std::nullopt;
  l.path = *path;
  sc.spaces();
  if (sc.ch(',')) {
    sc.spaces();
    auto key = sc.quoted();
    if (!key) return std::nullopt;
    l.key = *key;
    sc.spaces();
  }
  if (!sc.ch(')') || !sc.done()) return std::nullopt;
  return l;
}

std::optional<SaveLine> parse_save(const std::string& text) {
  Scan sc{text};
  if (!sc.word("save(")) return std::nullopt;
  // From the end: `, "PATH" )` — the expression is everything before that comma.
  size_t e = text.size();
  auto back_spaces = [&] {
    while (e > sc.i && std::isspace(static_cast<unsigned char>(text[e - 1]))) --e;
  };
  back_spaces();
  if (e == sc.i || text[e - 1] != ')') return std::nullopt;
  --e;
  back_spaces();
  if (e == sc.i || text[e - 1] != '"') return std::nullopt;
  size_t close = --e;
  size_t open = text.rfind('"', close == 0 ? 0 : close - 1);
  if (open == std::string::npos || open < sc.i || open == close) return std::nullopt;
  e = open;
  back_spaces();
  if (e == sc.i || text[e - 1] != ',') return std::nullopt;
  return SaveLine{text.substr(sc.i, e - 1 - sc.i), text.substr(open + 1, close - open - 1)};
}

std::optional<AssignLine> parse_assign(const std::string& text) {
  Scan sc{text};
  AssignLine a;
  bool paren = sc.ch('(');
  sc.spaces();
  for (;;) {
    std::string name = sc.ident();
    if (name.empty()) return std::nullopt;
    a.targets.push_back(name);
    sc.spaces();
    if (!sc.ch(',')) break;
    sc.spaces();
  }
  if (paren && !sc.ch(')')) return std::nullopt;
  sc.spaces();
  if (!sc.ch('=') || (!sc.done() && text[sc.i] == '=')) return std::nullopt;
  a.expr = text.substr(sc.i);
  return a;
}

}  // namespace starc::repl
