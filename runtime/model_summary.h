// runtime: a model at a glance, as Keras' model.summary() shows it (`starc summary`): a row
// per layer with its output type, parameters and FLOPs, the totals, and the memory the
// compiled code needs at a batch size.
//
// Layers are found from the graph alone: a layer called from the model (dense, conv1d,
// lstm, ...) is the run of nodes from its first parameter (`dense0.weight` opens the row
// "dense0") up to the next node written in the model's own file; every node written in the
// model's file is a row of its own (relu, a reshape, ...), shape-only ops excepted.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "compiler/ir/graph.h"

namespace starc {

struct SummaryRow {
  std::string name;         // "dense0", or the op and its place in the model file ("relu @11:12")
  std::string kind;         // "dense", "relu", ...
  TensorType output;        // of the row's last node that computes
  bool has_output = false;  // false: the layer's parameters are used by later rows only
  int64_t params = 0;       // elements of the row's parameters (trainable and state)
  double flops = 0;         // per batch: 2 per multiply-add, 1 per other element operation
};

struct ModelSummary {
  std::string model;
  int64_t batch = 1;
  std::vector<SummaryRow> rows;
  int64_t params = 0, trainable = 0, state = 0;
  double flops = 0;
  int64_t argument_bytes = 0, temporary_peak_bytes = 0;  // the CPU code's buffers at `batch`
};

// `g` with its symbolic dims set to `batch`. Throws what the compile stages throw.
ModelSummary summarize(const Graph& g, int64_t batch);
std::string format_summary(const ModelSummary& s);

}  // namespace starc
