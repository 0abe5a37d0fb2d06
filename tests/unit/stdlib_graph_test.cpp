// Every model in stdlib/astro builds, passes the verifier, and its Graph text form
// round-trips exactly (print -> parse -> print) — the stable text form is a contract.
#include <gtest/gtest.h>

#include <filesystem>

#include "compiler/ir/text.h"
#include "dsl/program.h"

namespace fs = std::filesystem;
using namespace starc;

TEST(StdlibGraph, EveryModelBuildsVerifiesAndRoundTrips) {
  int models = 0;
  for (auto& e : fs::recursive_directory_iterator(fs::path(STARC_SOURCE_DIR) / "stdlib" / "astro")) {
    if (e.path().extension() != ".net") continue;
    SourceManager sm;
    DiagEngine diags(sm);
    Program prog(diags);
    ASSERT_TRUE(prog.load_file(e.path().string())) << diags.format_all();
    for (auto& name : prog.model_names()) {
      for (bool training : {false, true}) {
        std::optional<Graph> g = prog.build(name, BuildOptions{training});
        ASSERT_TRUE(g) << diags.format_all();
        EXPECT_NO_THROW(verify_graph(*g)) << name;
        std::string text = print_graph(*g);
        Graph back = parse_graph(text);
        EXPECT_EQ(print_graph(back), text) << name;
        ++models;
      }
    }
  }
  EXPECT_GE(models, 2);
}
