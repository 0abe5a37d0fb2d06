// libFuzzer harness: the Graph text parser (compiler/ir/text_parse.cpp). Errors are
// std::runtime_error "line:col: message"; a graph it accepts must print, and the printed
// text must parse back to the same text (text.h: print -> parse -> print is exact); the
// verifier and the DOT export must not crash on it.
#include <cctype>
#include <string>

#include "compiler/ir/text.h"
#include "tests/fuzz/fuzz_util.h"

using starc::fuzz::fail;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  starc::Graph g;
  try {
    g = starc::parse_graph(text);
  } catch (const std::runtime_error& e) {
    std::string_view m = e.what();
    size_t colon = m.find(':');
    if (colon == 0 || colon == std::string_view::npos || !isdigit((unsigned char)m[0]))
      fail(std::string("parse error without line:col: ") + e.what());
    return 0;
  }
  std::string once = starc::print_graph(g);
  std::string twice;
  try {
    twice = starc::print_graph(starc::parse_graph(once));
  } catch (const std::runtime_error& e) {
    fail(std::string("the printed form of an accepted graph does not parse: ") + e.what() + "\n" + once);
  }
  if (twice != once) fail("print -> parse -> print differs:\n" + once + "\n----\n" + twice);
  try {
    starc::verify_graph(g);
  } catch (const std::runtime_error&) {}
  (void)starc::to_dot(g);
  return 0;
}
