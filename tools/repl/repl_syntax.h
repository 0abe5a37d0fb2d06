// tools/repl: recognising the REPL's line forms (declarations, load(...), save(...),
// assignments) with a linear scan. std::regex recursed per character and overflowed the
// stack on a pasted line of ~40 000 characters, so no regex touches a typed line.
#pragma once
#include <optional>
#include <string>
#include <vector>

namespace starc::repl {

// `use ...`, `fn NAME(`, `model NAME(`, `train NAME(` or `train NAME {`.
bool is_declaration(const std::string& text);
// "fn f", "model M", "train M" for a declaration (its keyword and name), or "".
std::string declared_name(const std::string& text);

// `[NAME =] load("PATH"[, "KEY"])`
struct LoadLine {
  std::string name, path, key;  // name and key may be empty
};
std::optional<LoadLine> parse_load(const std::string& text);

// `save(EXPR, "PATH")`
struct SaveLine {
  std::string expr, path;
};
std::optional<SaveLine> parse_save(const std::string& text);

// `a = EXPR`, `a, b = EXPR`, `(a, b) = EXPR` (not `a == b`).
struct AssignLine {
  std::vector<std::string> targets;
  std::string expr;
};
std::optional<AssignLine> parse_assign(const std::string& text);

// The statements of one input, split at each `;` outside brackets, braces, strings and
// comments (`x = ones([3]); x * 2`); empty ones are dropped.
std::vector<std::string> split_statements(const std::string& text);

// `print(ARG, ...)` as the whole line: its arguments (split at top-level commas).
std::optional<std::vector<std::string>> parse_print(const std::string& text);

// The value of a string literal `"..."` (with the language's \n \t \" \\ escapes) that
// is all of `text`, or nullopt.
std::optional<std::string> string_literal(const std::string& text);

}  // namespace starc::repl
