// runtime/io: working with weights files (`starc weights`, docs/weights.md): comparing two
// sets of weights, and renaming a PyTorch state_dict (saved with numpy.savez) into a
// model's parameter names.
#pragma once
#include <map>
#include <string>
#include <vector>

#include "runtime/interpreter.h"

namespace starc {

// How two sets of weights differ, name by name (sorted).
struct WeightsDiff {
  struct Changed {
    std::string name;
    std::string a_type, b_type;  // equal types: the values differ
    double max_abs = 0;          // largest |a - b| (equal types only)
    int64_t differing = 0;       // elements that differ (equal types only)
  };
  std::vector<std::string> only_in_a, only_in_b;
  std::vector<Changed> changed;
  int64_t same = 0;  // tensors equal bit for bit
  bool identical() const { return only_in_a.empty() && only_in_b.empty() && changed.empty(); }
};
WeightsDiff diff_weights(const TensorMap& a, const TensorMap& b);

// A PyTorch state_dict's arrays under starc's names: each key "MODULE.LEAF" whose MODULE
// has an entry in `scopes` (PyTorch module path -> starc scope, e.g. "10" -> "dense0")
// becomes "SCOPE.LEAF"; a recurrent layer's *_l0 leaves lose the suffix (weight_ih_l0 ->
// weight_ih; a GRU keeps bias_ih and bias_hh), and an LSTM's two biases become starc's one
// `bias` (their sum); batch norm's num_batches_tracked is dropped; floating arrays become
// f32. Bidirectional (_reverse) tensors are an error (they need a mapping by hand). A key whose module has no
// entry is an error naming it, unless it is in no scope at all (then it is kept).
TensorMap rename_state_dict(const TensorMap& state_dict, const std::map<std::string, std::string>& scopes);

}  // namespace starc
