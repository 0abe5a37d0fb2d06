// dsl: recursive-descent parser, tokens -> Module. Recovers at statement and
// declaration boundaries so that one run reports several errors.
#pragma once
#include "dsl/ast.h"
#include "dsl/lexer.h"

namespace starc {

Module parse_module(int file, const std::string& path, std::vector<Token> tokens, DiagEngine& diags);

}  // namespace starc
