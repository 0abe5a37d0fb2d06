// tools/starc: what the two files of ReplSession share: repl_session.cpp (the session
// core) and repl_commands.cpp (its :commands and completion).
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "tools/starc/cli_common.h"
#include "tools/starc/repl_session.h"

namespace starc {

namespace repl {

// The name of the session's source file in the programs the session builds.
inline constexpr const char* kSessionPath = "<session>";

// `s` without leading and trailing whitespace.
std::string trim(const std::string& s);

}  // namespace repl

// A synthesized model: the program (its sources back the diagnostics), the graph, its
// inputs (session tensors), where the typed text sits in the source, and a static result.
struct ReplSession::Built {
  std::unique_ptr<cli::Loaded> l;
  Graph g;
  std::vector<Tensor> inputs;
  std::string static_result;
};

}  // namespace starc
