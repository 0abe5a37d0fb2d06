// libFuzzer harness: a .net source as `starc check` sees it (lex, parse, resolve, import,
// elaborate every model and train block). The promise: errors are diagnostics, no
// exception escapes (a bare "error: std::bad_alloc" is a bug), no signal, no hang.
// `use std.nn` finds the source tree's stdlib (compiler/ir/share_dir.h: a binary of the build tree).
#include <string>

#include "dsl/program.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  starc::SourceManager sm;
  starc::DiagEngine diags{sm};
  starc::Program prog{diags};
  std::string text(reinterpret_cast<const char*>(data), size);
  if (!prog.load_text("fuzz.net", text) || !prog.check_all())
    (void)diags.format_all();  // the caret lines read every location: they must lie in their file
  return 0;
}
