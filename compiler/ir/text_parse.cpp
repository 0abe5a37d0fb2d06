// Text -> Graph IR (parse_graph). See text.h for the form.
#include <fmt/format.h>

#include <charconv>
#include <cmath>
#include <map>

#include "compiler/ir/text.h"
#include "compiler/ir/text_util.h"
#include "compiler/ops/op.h"

namespace starc {
namespace {

using text_detail::is_keyword;

enum class Tk { Ident, Number, String, Value, Sym, Punct, Comment, End };

struct Token {
  Tk kind;
  std::string text;  // identifier, number text, unescaped string, digits of %N / ?N, punct, comment body
  int line, col;
};

[[noreturn]] void error_at(int line, int col, const std::string& msg) {
  throw std::runtime_error(fmt::format("{}:{}: {}", line, col, msg));
}

bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }

// Unescapes the string literal starting at s[i] == '"'; advances i past the closing quote.
std::string read_string(std::string_view s, size_t& i, int line, int& col) {
  std::string out;
  size_t start = i++;
  auto bad = [&](const std::string& m) { error_at(line, col + int(i - start), m); };
  for (;;) {
    if (i >= s.size() || s[i] == '\n') bad("unterminated string");
    char c = s[i++];
    if (c == '"') break;
    if (c != '\\') {
      out += c;
      continue;
    }
    if (i >= s.size()) bad("unterminated string");
    char e = s[i++];
    switch (e) {
      case '"':
        out += '"';
        break;
      case '\\':
        out += '\\';
        break;
      case 'n':
        out += '\n';
        break;
      case 't':
        out += '\t';
        break;
      case 'r':
        out += '\r';
        break;
      case 'x': {
        unsigned v = 0;
        if (i + 2 > s.size() || std::from_chars(s.data() + i, s.data() + i + 2, v, 16).ptr != s.data() + i + 2)
          bad("\\x must be followed by two hex digits");
        out += char(v);
        i += 2;
        break;
      }
      default:
        bad(fmt::format("unknown escape '\\{}'", e));
    }
  }
  col += int(i - start);
  return out;
}

std::vector<Token> lex(std::string_view s) {
  std::vector<Token> toks;
  int line = 1, col = 1;
  size_t i = 0;
  while (i < s.size()) {
    char c = s[i];
    if (c == '\n') {
      ++line, col = 1, ++i;
      continue;
    }
    if (c == ' ' || c == '\t' || c == '\r') {
      ++col, ++i;
      continue;
    }
    Token t{Tk::Punct, "", line, col};
    size_t start = i;
    if (c == '#') {
      while (i < s.size() && s[i] != '\n') ++i;
      t.kind = Tk::Comment, t.text = std::string(s.substr(start + 1, i - start - 1));
    } else if (c == '"') {
      t.kind = Tk::String, t.text = read_string(s, i, line, col);
      toks.push_back(std::move(t));
      continue;
    } else if ((c == '%' || c == '?') && i + 1 < s.size() && is_digit(s[i + 1])) {
      ++i;
      while (i < s.size() && is_digit(s[i])) ++i;
      t.kind = c == '%' ? Tk::Value : Tk::Sym, t.text = std::string(s.substr(start + 1, i - start - 1));
    } else if (is_digit(c) || (c == '-' && i + 1 < s.size() &&
                               (is_digit(s[i + 1]) || s.substr(i + 1, 3) == "inf" || s.substr(i + 1, 3) == "nan"))) {
      if (c == '-') ++i;
      if (!is_digit(s[i])) {
        i += 3;
      } else {
        while (i < s.size() && is_digit(s[i])) ++i;
        if (i < s.size() && s[i] == '.')
          for (++i; i < s.size() && is_digit(s[i]);) ++i;
        if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
          ++i;
          if (i < s.size() && (s[i] == '+' || s[i] == '-')) ++i;
          while (i < s.size() && is_digit(s[i])) ++i;
        }
      }
      t.kind = Tk::Number, t.text = std::string(s.substr(start, i - start));
    } else if (is_alpha(c)) {
      while (i < s.size() && (is_alpha(s[i]) || is_digit(s[i]))) ++i;
      t.kind = Tk::Ident, t.text = std::string(s.substr(start, i - start));
    } else if (std::string_view("()[]{},:=<>").find(c) != std::string_view::npos) {
      t.text = std::string(1, c), ++i;
    } else {
      error_at(line, col, fmt::format("unexpected character '{}'", c));
    }
    col += int(i - start);
    toks.push_back(std::move(t));
  }
  toks.push_back({Tk::End, "", line, col});
  return toks;
}

bool is_float_text(std::string_view s) { return s.find_first_of(".eEn") != std::string_view::npos; }

class Parser {
 public:
  explicit Parser(std::vector<Token> toks) : toks_(std::move(toks)) {}

  Graph top() {
    Graph g = graph(nullptr);
    if (peek().kind != Tk::End) error(peek(), "unexpected text after the graph");
    return g;
  }

 private:
  std::vector<Token> toks_;
  size_t pos_ = 0;
  int depth_ = 0;

  [[noreturn]] void error(const Token& t, const std::string& msg) { error_at(t.line, t.col, msg); }

  const Token& peek() {
    while (toks_[pos_].kind == Tk::Comment) ++pos_;
    return toks_[pos_];
  }
  const Token& next() {
    const Token& t = peek();
    if (t.kind != Tk::End) ++pos_;
    return t;
  }
  bool is_punct(const Token& t, char c) { return t.kind == Tk::Punct && t.text[0] == c; }
  bool accept(char c) {
    if (!is_punct(peek(), c)) return false;
    ++pos_;
    return true;
  }
  static std::string describe(const Token& t) {
    switch (t.kind) {
      case Tk::End:
        return "end of input";
      case Tk::String:
        return "a string";
      case Tk::Value:
        return "%" + t.text;
      case Tk::Sym:
        return "?" + t.text;
      default:
        return "'" + t.text + "'";
    }
  }
  const Token& expect(char c, const char* context) {
    const Token& t = peek();
    if (!is_punct(t, c)) error(t, fmt::format("expected '{}' {}, got {}", c, context, describe(t)));
    return next();
  }
  void expect_word(const char* w) {
    const Token& t = peek();
    if (t.kind != Tk::Ident || t.text != w) error(t, fmt::format("expected '{}', got {}", w, describe(t)));
    next();
  }
  // An identifier or a quoted string.
  std::string name(const char* what) {
    const Token& t = next();
    if (t.kind != Tk::Ident && t.kind != Tk::String) error(t, fmt::format("expected {}, got {}", what, describe(t)));
    return t.text;
  }
  int64_t to_int(const Token& t) {
    int64_t v = 0;
    auto [p, ec] = std::from_chars(t.text.data(), t.text.data() + t.text.size(), v);
    if (ec != std::errc() || p != t.text.data() + t.text.size()) error(t, fmt::format("bad integer '{}'", t.text));
    return v;
  }
  int id_of(const Token& t) {
    int64_t v = to_int(t);
    if (v > INT32_MAX) error(t, "value id out of range");
    return int(v);
  }
  template <class F>
  F to_float(const Token& t) {
    std::string_view s = t.text;
    bool neg = !s.empty() && s[0] == '-';
    std::string_view body = neg ? s.substr(1) : s;
    if (body == "inf") return neg ? -std::numeric_limits<F>::infinity() : std::numeric_limits<F>::infinity();
    if (body == "nan") return std::copysign(std::numeric_limits<F>::quiet_NaN(), neg ? F(-1) : F(1));
    F v{};
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc() || p != s.data() + s.size()) error(t, fmt::format("bad number '{}'", t.text));
    return v;
  }

  // The source location in a '# file:line:col' comment right after the last token, on its line.
  Loc take_loc() {
    Loc loc;
    if (pos_ == 0 || toks_[pos_].kind != Tk::Comment || toks_[pos_].line != toks_[pos_ - 1].line) return loc;
    std::string_view c = toks_[pos_].text;
    while (!c.empty() && (c.front() == ' ' || c.front() == '\t')) c.remove_prefix(1);
    while (!c.empty() && (c.back() == ' ' || c.back() == '\t' || c.back() == '\r')) c.remove_suffix(1);
    size_t b = c.rfind(':');
    size_t a = b == std::string_view::npos || b == 0 ? std::string_view::npos : c.rfind(':', b - 1);
    if (a == std::string_view::npos) return loc;
    std::string_view file = c.substr(0, a), ln = c.substr(a + 1, b - a - 1), cl = c.substr(b + 1);
    int l = 0, k = 0;
    if (std::from_chars(ln.data(), ln.data() + ln.size(), l).ptr != ln.data() + ln.size() || ln.empty()) return loc;
    if (std::from_chars(cl.data(), cl.data() + cl.size(), k).ptr != cl.data() + cl.size() || cl.empty()) return loc;
    if (!file.empty() && file.front() == '"') {
      size_t i = 0;
      int col = toks_[pos_].col;
      try {
        loc.file = read_string(file, i, toks_[pos_].line, col);
      } catch (const std::runtime_error&) {
        return loc;  // an ordinary comment after all
      }
      if (i != file.size()) return Loc{};
    } else {
      loc.file = std::string(file);
    }
    loc.line = l, loc.col = k;
    ++pos_;
    return loc;
  }

  // A dim or int-list element: integer, symbol name or ?N. `allow_neg`: attribute lists.
  Dim dim(const SymbolNames* scope, bool allow_neg) {
    const Token& t = next();
    if (t.kind == Tk::Number && !is_float_text(t.text)) {
      int64_t v = to_int(t);
      if (v < 0 && !allow_neg) error(t, "a dimension cannot be negative");
      return v;
    }
    if (t.kind == Tk::Sym) {
      int64_t v = to_int(t);
      if (v > INT32_MAX) error(t, "symbol index out of range");
      return make_sym(int(v));
    }
    if ((t.kind == Tk::Ident && !is_keyword(t.text)) || t.kind == Tk::String) {  // "(L+1)//2": a derived dim
      if (scope)
        for (size_t i = 0; i < scope->size(); ++i)
          if ((*scope)[i] == t.text) return make_sym(int(i));
      error(t, fmt::format("unknown dimension symbol '{}' (declare it in symbols(...))", t.text));
    }
    error(t, fmt::format("expected an integer or a dimension symbol, got {}", describe(t)));
  }

  TensorType type(const SymbolNames* scope) {
    const Token& t = next();
    auto dt = t.kind == Tk::Ident ? dtype_from_name(t.text) : std::nullopt;
    if (!dt) error(t, fmt::format("expected a type like f32[B,16], got {}", describe(t)));
    TensorType ty{*dt, {}};
    expect('[', "after the element type");
    if (!accept(']')) {
      do ty.shape.push_back(dim(scope, false));
      while (accept(','));
      expect(']', "to close the shape");
    }
    return ty;
  }

  Tensor tensor_literal() {
    expect('<', "after 'tensor'");
    const Token& t0 = peek();
    if (t0.kind == Tk::Ident && t0.text == "none") {
      next();
      expect('>', "after 'none'");
      return Tensor();
    }
    TensorType ty = type(nullptr);
    if (!shape_is_static(ty.shape)) error(t0, "a tensor constant needs a static shape");
    expect('>', "after the tensor type");
    const Token& open = expect('[', "to start the tensor values");
    Tensor out(ty.dtype, ty.shape);
    int64_t n = 0, want = out.size();
    if (!accept(']')) {
      do {
        const Token& v = next();
        if (n >= want) error(v, fmt::format("too many values for tensor<{}> (needs {})", type_str(ty), want));
        bool word = v.kind == Tk::Ident && (v.text == "inf" || v.text == "nan");
        if (ty.dtype == DType::Bool) {
          if (v.kind == Tk::Ident && (v.text == "true" || v.text == "false"))
            out.data<uint8_t>()[n] = v.text == "true";
          else if (v.kind == Tk::Number && (v.text == "0" || v.text == "1"))
            out.data<uint8_t>()[n] = v.text == "1";
          else
            error(v, fmt::format("expected true or false, got {}", describe(v)));
        } else if (ty.dtype == DType::I64) {
          if (v.kind != Tk::Number || is_float_text(v.text))
            error(v, fmt::format("expected an integer, got {}", describe(v)));
          out.data<int64_t>()[n] = to_int(v);
        } else {
          if (v.kind != Tk::Number && !word) error(v, fmt::format("expected a number, got {}", describe(v)));
          if (ty.dtype == DType::F32)
            out.data<float>()[n] = to_float<float>(v);
          else
            out.data<double>()[n] = to_float<double>(v);
        }
        ++n;
      } while (accept(','));
      expect(']', "to close the tensor values");
    }
    if (n != want) error(open, fmt::format("tensor<{}> needs {} values, got {}", type_str(ty), want, n));
    return out;
  }

  Attr value(const SymbolNames* scope, std::optional<AttrKind> want) {
    const Token& t = peek();
    if (t.kind == Tk::String) return want == AttrKind::Int ? Attr(dim(scope, true)) : Attr(next().text);  // "L-1"
    if (t.kind == Tk::Number) {
      next();
      if (is_float_text(t.text)) return to_float<double>(t);
      return to_int(t);
    }
    if (t.kind == Tk::Sym) return dim(scope, true);
    if (t.kind == Tk::Ident) {
      if (t.text == "true" || t.text == "false") return next().text == "true";
      if (t.text == "inf" || t.text == "nan") return to_float<double>(next());
      if (auto dt = dtype_from_name(t.text)) return next(), *dt;
      if (t.text == "null") return next(), GraphRef();
      if (t.text == "tensor") return next(), tensor_literal();
      if (t.text == "graph") return std::make_shared<const Graph>(graph(scope));
      return dim(scope, true);
    }
    if (accept('[')) {
      Ints ints;
      Floats floats;
      bool is_floats = false, has_sym = false;
      if (!accept(']')) {
        do {
          const Token& e = peek();
          if ((e.kind == Tk::Number && is_float_text(e.text)) ||
              (e.kind == Tk::Ident && (e.text == "inf" || e.text == "nan"))) {
            if (has_sym) error(e, "a list cannot mix dimension symbols and floats");
            if (!is_floats) floats.assign(ints.begin(), ints.end());
            is_floats = true;
            floats.push_back(to_float<double>(next()));
          } else {
            Dim d = dim(scope, true);
            if (is_sym(d) && is_floats) error(e, "a list cannot mix dimension symbols and floats");
            has_sym |= is_sym(d);
            ints.push_back(d);
            floats.push_back(double(d));
          }
        } while (accept(','));
        expect(']', "to close the list");
      }
      if (is_floats || (want == AttrKind::Floats && !has_sym)) return floats;
      return ints;
    }
    error(t, fmt::format("expected an attribute value, got {}", describe(t)));
  }

  Attrs attrs(const OpDef& op, const SymbolNames* scope) {
    Attrs out;
    if (accept('}')) return out;
    do {
      const Token& at = peek();
      std::string key = name("an attribute name");
      expect('=', "after the attribute name");
      std::optional<AttrKind> want;
      for (const AttrSpec& s : op.attrs)
        if (s.name == key) want = s.kind;
      Attr v = value(scope, want);
      if (!out.emplace(key, std::move(v)).second) error(at, fmt::format("attribute '{}' given twice", key));
    } while (accept(','));
    expect('}', "to close the attributes");
    return out;
  }

  struct HeaderInput {
    int id;
    bool typed;
    TensorType type;
    std::string name;
    Loc loc;
    Token at;
  };

  Graph graph(const SymbolNames* outer) {
    if (++depth_ > 64) error(peek(), "sub-graphs nested too deeply");
    expect_word("graph");
    Graph g;
    g.name = name("the graph name");
    const Token& open = expect('(', "to start the graph inputs");
    // The inputs' types use the symbols declared after the list: read those first.
    size_t inputs_at = pos_;
    for (int depth = 1; depth > 0;) {
      const Token& t = next();
      if (t.kind == Tk::End) error(open, "unclosed '(' of the graph inputs");
      if (is_punct(t, '(')) ++depth;
      if (is_punct(t, ')')) --depth;
    }
    if (peek().kind == Tk::Ident && peek().text == "symbols") {
      next();
      expect('(', "after 'symbols'");
      if (!accept(')')) {
        do {
          g.symbols.push_back(name("a symbol name"));  // duplicates allowed: dims then print as ?N
        } while (accept(','));
        expect(')', "to close symbols(...)");
      }
    }
    const SymbolNames* scope = g.symbols.empty() ? outer : &g.symbols;
    size_t body_at = pos_;
    pos_ = inputs_at;
    std::vector<HeaderInput> header;
    std::map<int, size_t> typed;  // id -> header index of inputs described by the header
    if (!accept(')')) {
      for (;;) {
        const Token& t = next();
        if (t.kind != Tk::Value)
          error(t, fmt::format("expected a graph input '%N: type \"name\"', got {}", describe(t)));
        HeaderInput h{id_of(t), false, {}, "", {}, t};
        if (accept(':')) {
          h.typed = true;
          h.type = type(scope);
          const Token& n = next();
          if (n.kind != Tk::String) error(n, fmt::format("expected the input's name as a string, got {}", describe(n)));
          h.name = n.text;
          if (!typed.emplace(h.id, header.size()).second) error(t, fmt::format("input %{} declared twice", h.id));
        }
        h.loc = take_loc();
        bool comma = accept(',');
        if (comma && !h.loc.known() && h.loc.file.empty()) h.loc = take_loc();
        header.push_back(std::move(h));
        if (!comma) break;
      }
      expect(')', "to close the graph inputs");
    }
    pos_ = body_at;
    expect('{', "to start the graph body");

    auto add_header_inputs = [&] {
      for (auto it = typed.find(int(g.nodes.size())); it != typed.end(); it = typed.find(int(g.nodes.size()))) {
        const HeaderInput& h = header[it->second];
        Node n;
        n.op = find_op("input");
        n.attrs = {{"name", h.name}, {"dtype", h.type.dtype}, {"shape", Ints(h.type.shape)}};
        n.type = h.type;
        n.loc = h.loc;
        g.add(std::move(n));
      }
    };
    for (;;) {
      add_header_inputs();
      const Token& t = peek();
      if (t.kind == Tk::Ident && t.text == "return") break;
      if (t.kind != Tk::Value)
        error(t, fmt::format("expected a statement '%N = op(...) : type' or 'return', got {}", describe(t)));
      statement(g, scope);
    }
    next();  // return
    if (peek().kind == Tk::Value) {
      do {
        const Token& t = next();
        if (t.kind != Tk::Value) error(t, fmt::format("expected a returned value %N, got {}", describe(t)));
        int id = id_of(t);
        if (id >= int(g.nodes.size())) error(t, fmt::format("undefined value %{}", id));
        g.outputs.push_back(id);
        if (peek().kind == Tk::String) g.output_names.push_back(next().text);
      } while (accept(','));
    }
    for (const HeaderInput& h : header) {
      if (h.id >= int(g.nodes.size()))
        error(h.at, fmt::format("graph input %{} is never defined (the graph has {} values)", h.id, g.nodes.size()));
      g.inputs.push_back(h.id);
    }
    expect('}', "to close the graph body");
    --depth_;
    return g;
  }

  void statement(Graph& g, const SymbolNames* scope) {
    const Token& idt = next();
    int id = id_of(idt);
    int want = int(g.nodes.size());
    if (id < want) error(idt, fmt::format("%{} is already defined", id));
    if (id > want) error(idt, fmt::format("expected %{} here: values are numbered consecutively", want));
    expect('=', "after the value id");
    const Token& opt = peek();
    std::string opname = name("an op name");
    Node n;
    n.op = find_op(opname);
    if (!n.op) error(opt, fmt::format("unknown op '{}'", opname));
    std::vector<TensorType> in_types;
    if (accept('(') && !accept(')')) {
      do {
        const Token& t = next();
        if (t.kind != Tk::Value) error(t, fmt::format("expected an input value %N, got {}", describe(t)));
        int in = id_of(t);
        if (in >= want) error(t, fmt::format("undefined value %{} (a value must be defined before it is used)", in));
        n.inputs.push_back(in);
        in_types.push_back(g.nodes[in].type);
      } while (accept(','));
      expect(')', "to close the op inputs");
    }
    Attrs given;
    if (accept('{')) given = attrs(*n.op, scope);
    expect(':', "before the result type");
    const Token& tyt = peek();
    n.type = type(scope);
    n.loc = take_loc();
    TensorType inferred;
    try {
      n.attrs = complete_attrs(*n.op, std::move(given));
      SymbolNames scratch = scope ? *scope : SymbolNames{};  // intermediate derived dims (verify.cpp)
      inferred = infer_type(*n.op, in_types, n.attrs, scope ? &scratch : nullptr, scope ? &scratch : nullptr);
    } catch (const std::exception& e) {
      error(opt, e.what());
    }
    if (inferred != n.type)
      error(tyt, fmt::format("type mismatch for %{}: the text says {} but the shape rule of {} gives {}", id,
                             type_str(n.type, scope), opname, type_str(inferred, scope)));
    g.add(std::move(n));
  }
};

}  // namespace

Graph parse_graph(std::string_view text) { return Parser(lex(text)).top(); }

}  // namespace starc
