#include "tools/repl/repl_syntax.h"

#include <cctype>
#include <functional>

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

// Calls at(i, depth) for every character of `text` outside strings and comments, with
// the bracket depth before it; a string or a comment is skipped whole.
void scan_code(const std::string& text, const std::function<void(size_t, int)>& at) {
  int depth = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c == '"' || c == '\'') {  // '...' quotes words of :commands
      for (++i; i < text.size() && text[i] != c && text[i] != '\n'; ++i)
        if (text[i] == '\\') ++i;
      continue;
    }
    if (c == '#') {
      while (i + 1 < text.size() && text[i + 1] != '\n') ++i;
      continue;
    }
    if (c == ')' || c == ']' || c == '}') --depth;
    at(i, depth);
    if (c == '(' || c == '[' || c == '{') ++depth;
  }
}

std::string trimmed(const std::string& s) {
  size_t b = s.find_first_not_of(" \t\r\n"), e = s.find_last_not_of(" \t\r\n");
  return b == std::string::npos ? "" : s.substr(b, e - b + 1);
}

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

std::vector<std::string> split_statements(const std::string& text) {
  std::vector<std::string> out;
  size_t begin = 0;
  auto add = [&](size_t end) {
    if (std::string st = trimmed(text.substr(begin, end - begin)); !st.empty()) out.push_back(st);
    begin = end + 1;
  };
  scan_code(text, [&](size_t i, int depth) {
    if (text[i] == ';' && depth == 0) add(i);
  });
  add(text.size());
  return out;
}

std::optional<std::vector<std::string>> parse_print(const std::string& text) {
  Scan sc{text};
  if (!sc.word("print")) return std::nullopt;
  sc.spaces();
  if (!sc.ch('(')) return std::nullopt;
  size_t open = sc.i - 1, begin = sc.i, close = std::string::npos;
  std::vector<std::string> args;
  scan_code(text, [&](size_t i, int depth) {
    if (i <= open || close != std::string::npos) return;
    if (depth == 1 && text[i] == ',') {
      args.push_back(trimmed(text.substr(begin, i - begin)));
      begin = i + 1;
    } else if (depth == 0 && text[i] == ')') {
      close = i;
    }
  });
  if (close == std::string::npos || !trimmed(text.substr(close + 1)).empty()) return std::nullopt;
  std::string last = trimmed(text.substr(begin, close - begin));
  if (!last.empty() || !args.empty()) args.push_back(last);
  for (auto& a : args)
    if (a.empty()) return std::nullopt;  // print(a,,b): the language's error is clearer
  return args;
}

std::optional<std::string> string_literal(const std::string& text) {
  if (text.size() < 2 || text.front() != '"' || text.back() != '"') return std::nullopt;
  std::string v;
  for (size_t i = 1; i + 1 < text.size(); ++i) {
    char c = text[i];
    if (c == '"' || c == '\n') return std::nullopt;
    if (c == '\\') {
      if (i + 2 >= text.size()) return std::nullopt;
      char e = text[++i];
      if (e == 'n')
        v += '\n';
      else if (e == 't')
        v += '\t';
      else if (e == '"' || e == '\\')
        v += e;
      else
        return std::nullopt;
      continue;
    }
    v += c;
  }
  return v;
}

}  // namespace starc::repl
