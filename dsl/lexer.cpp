#include "dsl/lexer.h"

#include <fmt/format.h>

#include <cerrno>
#include <cstdlib>
#include <map>

namespace starc {

std::string tok_name(Tok t) {
  static const char* names[] = {
      "end of file", "end of line", "identifier", "integer", "number",   "string", "'fn'",  "'model'", "'param'",
      "'state'",     "'return'",    "'for'",      "'in'",    "'if'",     "'else'", "'let'", "'true'",  "'false'",
      "'as'",        "'and'",       "'or'",       "'not'",   "'assert'", "'use'",  "'('",   "')'",     "'['",
      "']'",         "'{'",         "'}'",        "','",     "':'",      "';'",    "'.'",   "'..'",    "'->'",
      "'|>'",        "'|'",         "'='",        "'=='",    "'!='",     "'<'",    "'<='",  "'>'",     "'>='",
      "'+'",         "'-'",         "'*'",        "'/'",     "'%'",      "'@'",    "'**'"};
  return names[int(t)];
}

namespace {

const std::map<std::string, Tok, std::less<>> kKeywords = {
    {"fn", Tok::KwFn},         {"model", Tok::KwModel}, {"param", Tok::KwParam}, {"state", Tok::KwState},
    {"return", Tok::KwReturn}, {"for", Tok::KwFor},     {"in", Tok::KwIn},       {"if", Tok::KwIf},
    {"else", Tok::KwElse},     {"let", Tok::KwLet},     {"true", Tok::KwTrue},   {"false", Tok::KwFalse},
    {"as", Tok::KwAs},         {"and", Tok::KwAnd},     {"or", Tok::KwOr},       {"not", Tok::KwNot},
    {"assert", Tok::KwAssert}, {"use", Tok::KwUse}};

// Length of the UTF-8 sequence starting at s[i], or 0 if it is malformed.
int utf8_len(const std::string& s, size_t i) {
  unsigned char c = s[i];
  int n = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
  if (n == 0 || i + n > s.size()) return 0;
  for (int k = 1; k < n; ++k)
    if ((static_cast<unsigned char>(s[i + k]) >> 6) != 2) return 0;
  return n;
}

constexpr size_t kMaxLexErrors = 50;
constexpr size_t kMaxIdentifier = 256;

struct Lexer {
  int file;
  const std::string& s;
  DiagEngine& diags;
  size_t i = 0;
  std::vector<Token> out;
  int depth = 0;  // () and [] nesting: newlines inside are not statement ends

  SrcLoc loc(size_t b, size_t e) const { return SrcLoc{file, uint32_t(b), uint32_t(e - b)}; }
  void push(Tok k, size_t b, std::string text = {}) { out.push_back(Token{k, loc(b, i), std::move(text)}); }

  void number(size_t b) {
    bool is_float = false;
    while (i < s.size() && isdigit((unsigned char)s[i])) ++i;
    if (i + 1 < s.size() && s[i] == '.' && isdigit((unsigned char)s[i + 1])) {
      is_float = true;
      ++i;
      while (i < s.size() && isdigit((unsigned char)s[i])) ++i;
    }
    if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
      size_t j = i + 1;
      if (j < s.size() && (s[j] == '+' || s[j] == '-')) ++j;
      if (j < s.size() && isdigit((unsigned char)s[j])) {
        is_float = true;
        i = j;
        while (i < s.size() && isdigit((unsigned char)s[i])) ++i;
      } else {
        diags.error(loc(b, j), "malformed number: exponent has no digits");
        i = j;
        out.push_back(Token{Tok::Float, loc(b, i), s.substr(b, i - b)});  // keeps the parser in step
        return;
      }
    }
    if (i < s.size() && (isalpha((unsigned char)s[i]) || s[i] == '_')) {
      size_t e = i;
      while (e < s.size() && (isalnum((unsigned char)s[e]) || s[e] == '_')) ++e;
      diags.error(loc(b, e), fmt::format("malformed number '{}'", s.substr(b, e - b)));
      i = e;
      out.push_back(
          Token{is_float ? Tok::Float : Tok::Int, loc(b, i), s.substr(b, i - b)});  // keeps the parser in step
      return;
    }
    std::string text = s.substr(b, i - b);
    Token t{is_float ? Tok::Float : Tok::Int, loc(b, i), text};
    errno = 0;
    if (is_float) {
      t.fval = std::strtod(text.c_str(), nullptr);
      if (errno == ERANGE) diags.error(t.loc, fmt::format("number {} is out of range for f64", text));
    } else {
      t.ival = std::strtoll(text.c_str(), nullptr, 10);
      if (errno == ERANGE) diags.error(t.loc, fmt::format("integer {} does not fit in 64 bits", text));
    }
    out.push_back(std::move(t));
  }

  void string(size_t b) {
    ++i;
    std::string val;
    while (i < s.size() && s[i] != '"' && s[i] != '\n') {
      if (s[i] == '\\' && i + 1 < s.size()) {
        char c = s[i + 1];
        if (c == 'n')
          val += '\n';
        else if (c == 't')
          val += '\t';
        else if (c == '"' || c == '\\')
          val += c;
        else
          diags.error(loc(i, i + 2), fmt::format("unknown escape sequence '\\{}' in string", c));
        i += 2;
        continue;
      }
      int n = utf8_len(s, i);
      if (n == 0) {
        diags.error(loc(i, i + 1), fmt::format("invalid UTF-8 byte 0x{:02X} in string", (unsigned char)s[i]));
        ++i;
        continue;
      }
      val += s.substr(i, n);
      i += n;
    }
    if (i >= s.size() || s[i] != '"') {
      diags.error(loc(b, i), "unterminated string (a string must end with \" on the same line)");
      push(Tok::String, b, val);  // keeps the parser in step
      return;
    }
    ++i;
    push(Tok::String, b, val);
  }

  void run() {
    if (s.compare(0, 3, "\xEF\xBB\xBF") == 0) i = 3;  // a UTF-8 byte order mark
    size_t errors_before = diags.count();
    while (i < s.size()) {
      if (diags.count() - errors_before >= kMaxLexErrors) {
        diags.error(loc(i, i), fmt::format("too many errors in this file (more than {}); stopping", kMaxLexErrors));
        break;
      }
      size_t b = i;
      char c = s[i];
      if (c == '\n') {
        ++i;
        if (depth == 0 && !out.empty() && out.back().kind != Tok::Newline) push(Tok::Newline, b);
        continue;
      }
      if (c == ' ' || c == '\t' || c == '\r') {
        ++i;
        continue;
      }
      if (c == '#') {
        while (i < s.size() && s[i] != '\n') {
          int n = utf8_len(s, i);
          if (n == 0) {
            diags.error(loc(i, i + 1), fmt::format("invalid UTF-8 byte 0x{:02X} in comment", (unsigned char)s[i]));
            n = 1;
          }
          i += n;
        }
        continue;
      }
      if (isdigit((unsigned char)c)) {
        number(b);
        continue;
      }
      if (isalpha((unsigned char)c) || c == '_') {
        while (i < s.size() && (isalnum((unsigned char)s[i]) || s[i] == '_')) ++i;
        if (i - b > kMaxIdentifier) {
          diags.error(loc(b, b + kMaxIdentifier),
                      fmt::format("identifier of {} characters is too long (limit {})", i - b, kMaxIdentifier));
          push(Tok::Ident, b, s.substr(b, kMaxIdentifier));  // keeps the parser in step
          continue;
        }
        std::string word = s.substr(b, i - b);
        auto kw = kKeywords.find(word);
        push(kw == kKeywords.end() ? Tok::Ident : kw->second, b, word);
        continue;
      }
      if (c == '"') {
        string(b);
        continue;
      }
      auto two = [&](char n) { return i + 1 < s.size() && s[i + 1] == n; };
      Tok k;
      int len = 1;
      switch (c) {
        case '(':
          k = Tok::LParen;
          ++depth;
          break;
        case ')':
          k = Tok::RParen;
          depth = std::max(0, depth - 1);
          break;
        case '[':
          k = Tok::LBracket;
          ++depth;
          break;
        case ']':
          k = Tok::RBracket;
          depth = std::max(0, depth - 1);
          break;
        // Braces never occur inside () or []: an unclosed bracket ends at the next brace, so
        // it does not swallow the newlines of the following statements and functions.
        case '{':
          k = Tok::LBrace;
          depth = 0;
          break;
        case '}':
          k = Tok::RBrace;
          depth = 0;
          break;
        case ',':
          k = Tok::Comma;
          break;
        case ':':
          k = Tok::Colon;
          break;
        case ';':
          k = Tok::Semicolon;
          break;
        case '.':
          k = two('.') ? (len = 2, Tok::DotDot) : Tok::Dot;
          break;
        case '-':
          k = two('>') ? (len = 2, Tok::Arrow) : Tok::Minus;
          break;
        case '|':
          k = two('>') ? (len = 2, Tok::Pipe) : Tok::Bar;
          break;
        case '=':
          k = two('=') ? (len = 2, Tok::Eq) : Tok::Assign;
          break;
        case '!':
          if (!two('=')) {
            diags.error(loc(b, b + 1), "unexpected character '!' (use 'not' for logical negation)");
            ++i;
            continue;
          }
          k = Tok::Ne, len = 2;
          break;
        case '<':
          k = two('=') ? (len = 2, Tok::Le) : Tok::Lt;
          break;
        case '>':
          k = two('=') ? (len = 2, Tok::Ge) : Tok::Gt;
          break;
        case '+':
          k = Tok::Plus;
          break;
        case '*':
          k = two('*') ? (len = 2, Tok::StarStar) : Tok::Star;
          break;
        case '/':
          k = Tok::Slash;
          break;
        case '%':
          k = Tok::Percent;
          break;
        case '@':
          k = Tok::At;
          break;
        default: {
          int n = utf8_len(s, i);
          if (n == 0) {
            // One error for a run of bad bytes (a word in Latin-1, say), not one per byte.
            size_t e = i + 1;
            while (e < s.size() && (unsigned char)s[e] >= 0x80 && utf8_len(s, e) == 0) ++e;
            std::string bytes;
            for (size_t k = b; k < e && k < b + 8; ++k)
              bytes += fmt::format("{}0x{:02X}", k == b ? "" : " ", (unsigned char)s[k]);
            if (e - b > 8) bytes += " ...";
            diags.error(loc(b, e), fmt::format("invalid UTF-8 byte{} {} (source files must be UTF-8)",
                                               e - b == 1 ? "" : "s", bytes));
            n = int(e - b);
          } else if ((unsigned char)c < 0x20 || c == 0x7f)
            diags.error(loc(b, b + 1), fmt::format("unexpected control character 0x{:02X}", (unsigned char)c));
          else
            diags.error(loc(b, b + n), fmt::format("unexpected character '{}'", s.substr(b, n)));
          i += std::max(n, 1);
          continue;
        }
      }
      i += len;
      if (k == Tok::Pipe && !out.empty() && out.back().kind == Tok::Newline) out.pop_back();  // continuation
      push(k, b);
    }
    if (!out.empty() && out.back().kind != Tok::Newline) push(Tok::Newline, i);
    push(Tok::Eof, i);
  }
};

}  // namespace

bool is_keyword(std::string_view word) { return kKeywords.count(word) > 0; }

std::vector<Token> lex(int file, const std::string& text, DiagEngine& diags) {
  Lexer lx{file, text, diags};
  lx.run();
  return std::move(lx.out);
}

}  // namespace starc
