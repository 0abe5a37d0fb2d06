// Every primitive op that can take part in a gradient has a gradient rule. A new op
// either gets one (and a gradcheck test next to its family's in grad_*_test.cpp) or is
// listed below with the reason it needs none.
#include <gtest/gtest.h>

#include <map>

#include "compiler/ops/op.h"

namespace starc {
namespace {

const std::map<std::string, const char*> kNoGradientNeeded = {
    {"input", "a graph input (gradients stop at it)"},
    {"param", "a parameter (gradients stop at it)"},
    {"const", "no inputs"},
    {"full", "no inputs"},
    {"random_normal", "no inputs"},
    {"random_uniform", "no inputs"},
    {"one_hot", "integer input"},
    {"check_index", "integer input and result"},
    {"argmax", "integer result"},
    {"argsort", "integer result (sort's values take take_along_axis's gradient)"},
    {"eq", "bool result"},
    {"ne", "bool result"},
    {"lt", "bool result"},
    {"le", "bool result"},
    {"gt", "bool result"},
    {"ge", "bool result"},
    {"scan_result",
     "selects a scan's final or saved carries, which only gradient graphs read; a second derivative through "
     "a scan is reported as unsupported by scan's rule"},
};

TEST(GradCoverage, EveryDifferentiableOpHasAGradientRule) {
  for (const OpDef* op : all_ops()) {
    if (kNoGradientNeeded.count(op->name)) {
      EXPECT_FALSE(op->grad) << op->name << " is listed as needing no gradient but has a rule: remove it from the list";
      continue;
    }
    EXPECT_TRUE(op->grad) << "op '" << op->name << "' has no gradient rule (OpDef::grad); add one with a gradcheck "
                          << "test, or list it in kNoGradientNeeded with the reason";
  }
}

}  // namespace
}  // namespace starc
