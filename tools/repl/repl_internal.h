// tools/repl: what the files of ReplSession share: repl_session.cpp (the session core),
// repl_commands.cpp (its :commands and completion), repl_doc.cpp (:doc), repl_train.cpp
// (:train and the weights commands).
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "dsl/program.h"
#include "tools/repl/repl_session.h"

namespace starc {

namespace repl {

// The name of the session's source file in the programs the session builds.
inline constexpr const char* kSessionPath = "<session>";

// A program the session builds: its sources back the diagnostics.
struct Loaded {
  SourceManager sm;
  DiagEngine diags{sm};
  Program prog{diags};
};

// Whitespace-separated words, with "..." or '...' quoting.
std::vector<std::string> words(const std::string& s);

// `s` without leading and trailing whitespace.
std::string trim(const std::string& s);

// The :commands with their usage and one line each, as :help lists them.
const std::vector<std::pair<std::string, std::string>>& commands();

// What :doc shows of a name (repl_doc.cpp).
struct Description {
  std::string signature;
  std::vector<std::string> doc;
  std::string where;
};
// A function, model, op or builtin named `name` as a session with `session_text` sees it.
bool describe_name(const std::string& session_text, const std::string& name, Description& d);

}  // namespace repl

// A synthesized model: the program (its sources back the diagnostics), the graph, its
// inputs (session tensors), where the typed text sits in the source, and a static result.
struct ReplSession::Built {
  std::unique_ptr<repl::Loaded> l;
  Graph g;
  std::vector<Tensor> inputs;
  std::string static_result;
};

}  // namespace starc
