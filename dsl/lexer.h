// dsl: the lexer. Newlines end statements except inside () and [], and a line that
// starts with `|>` continues the previous one (for pipelines split over lines).
#pragma once
#include <string>
#include <string_view>
#include <vector>

#include "dsl/diag.h"

namespace starc {

enum class Tok {
  Eof,
  Newline,
  Ident,
  Int,
  Float,
  String,
  // keywords
  KwFn,
  KwModel,
  KwParam,
  KwState,
  KwReturn,
  KwFor,
  KwIn,
  KwIf,
  KwElse,
  KwLet,
  KwTrue,
  KwFalse,
  KwAs,
  KwAnd,
  KwOr,
  KwNot,
  KwAssert,
  KwUse,
  // punctuation
  LParen,
  RParen,
  LBracket,
  RBracket,
  LBrace,
  RBrace,
  Comma,
  Colon,
  Semicolon,
  Dot,
  DotDot,
  Arrow,
  Pipe,
  Bar,
  Assign,
  Eq,
  Ne,
  Lt,
  Le,
  Gt,
  Ge,
  Plus,
  Minus,
  Star,
  Slash,
  Percent,
  At,
  StarStar,
};

std::string tok_name(Tok t);
// `fn`, `model`, ... (not the contextual `train` and `step`).
bool is_keyword(std::string_view word);

struct Token {
  Tok kind;
  SrcLoc loc;
  std::string text;  // identifier name, string contents, or number spelling
  int64_t ival = 0;
  double fval = 0;
};

// Lexes a whole file; errors go to `diags` and the offending bytes are skipped.
std::vector<Token> lex(int file, const std::string& text, DiagEngine& diags);

}  // namespace starc
