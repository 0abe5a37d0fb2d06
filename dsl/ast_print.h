// dsl: text dump of the AST (`starc graph FILE --emit ast`).
#pragma once
#include <string>

#include "dsl/ast.h"

namespace starc {
std::string print_ast(const Module& m, const SourceManager& sm);
}
