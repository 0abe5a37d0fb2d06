// runtime: checks of the training data against a TrainPlan's inputs (check_data in
// runtime/trainer.h), apart from the loop in trainer.cpp.
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <functional>
#include <map>

#include "runtime/trainer.h"

namespace starc {

namespace {

// Every data input is split into samples (and shuffled) along its first axis, so each
// must lead with the model's batch dim: that of the model's first input. A time-major
// input ([T, B, F]) or a target leading with another dim would otherwise be cut along
// the wrong axis without a word (issue 31).
void check_leading_dims(const std::vector<std::string>& order,
                        const std::map<std::string, std::pair<TensorType, const SymbolNames*>>& want,
                        const std::function<std::string(const std::string&)>& src) {
  if (order.empty()) return;
  auto lead = [&](const std::string& name) {
    auto& [ty, syms] = want.at(name);
    return ty.rank() == 0 ? std::string() : dim_str(ty.shape[0], syms);
  };
  const std::string& first = order[0];
  const std::string batch = lead(first);
  for (auto& name : order) {
    auto& [ty, syms] = want.at(name);
    if (ty.rank() == 0 || lead(name) == batch) continue;
    auto& [fty, fsyms] = want.at(first);
    throw TrainError(fmt::format(
        "{}: the model's input '{}' {} leads with {}, but the model's batch dim is {} (the first dim of its first "
        "input '{}' {}): every data input is split into samples along its first axis, so each must lead with the batch "
        "dim "
        "(store time-major data batch-first and transpose it in the model)",
        src(name), name, type_str(ty, syms), lead(name), batch, first, type_str(fty, fsyms)));
  }
}

}  // namespace

int64_t check_data(const TrainPlan& plan, const TensorMap& data, bool eval_only, const std::string& label,
                   const std::map<std::string, std::string>& sources) {
  // name -> (declared type, the graph's symbol names), in first-use order.
  std::vector<std::string> order;
  std::map<std::string, std::pair<TensorType, const SymbolNames*>> want;
  auto collect = [&](const Graph& g, const std::vector<std::string>& names) {
    for (size_t i = 0; i < names.size() && i < g.inputs.size(); ++i)
      if (want.emplace(names[i], std::make_pair(g.type(g.inputs[i]), &g.symbols)).second) order.push_back(names[i]);
  };
  if (eval_only) {
    std::vector<std::string> names;
    for (size_t i = 0; i < plan.eval.inputs.size(); ++i) names.push_back(plan.eval.input_name(int(i)));
    collect(plan.eval, names);
  } else {
    for (auto& s : plan.steps) collect(s.graph, s.data_inputs);
  }
  auto src = [&](const std::string& name) {
    auto it = sources.find(name);
    return it == sources.end() ? fmt::format("{} {}", label, name) : fmt::format("{} {}={}", label, name, it->second);
  };
  for (auto& [name, t] : data)
    if (!want.count(name))
      throw TrainError(
          fmt::format("{}: the model has no data input '{}' (it takes: {})", src(name), name, fmt::join(order, ", ")));
  check_leading_dims(order, want, src);
  int64_t n = -1;
  std::string first;
  for (auto& name : order) {
    auto& [ty, syms] = want.at(name);
    auto it = data.find(name);
    if (it == data.end())
      throw TrainError(
          fmt::format("missing {} {} ({}): pass {} {}=FILE.npy", label, name, type_str(ty, syms), label, name));
    const Tensor& t = it->second;
    auto mismatch = [&](const std::string& why) {
      throw TrainError(fmt::format("{}: {} does not match the model's input '{}' {}: {}", src(name), type_str(t.type()),
                                   name, type_str(ty, syms), why));
    };
    if (ty.rank() == 0) mismatch("a scalar input cannot be split into samples");
    if (t.rank() != ty.rank())
      mismatch(fmt::format("rank {} vs {} (the first axis is the sample axis)", t.rank(), ty.rank()));
    if (t.dtype() != ty.dtype)
      mismatch(fmt::format("element type {} vs {}{}", dtype_name(t.dtype()), dtype_name(ty.dtype),
                           ty.dtype == DType::F32 && is_float(t.dtype())
                               ? " (save float32 arrays: a.astype(np.float32))"
                           : ty.dtype == DType::I64 ? " (save integer arrays: a.astype(np.int64))"
                                                    : ""));
    for (int d = 1; d < ty.rank(); ++d)
      if (!is_sym(ty.shape[size_t(d)]) && ty.shape[size_t(d)] != t.dim(d))
        mismatch(fmt::format("dim {} is {}, expected {}", d, t.dim(d), ty.shape[size_t(d)]));
    if (n < 0) {
      n = t.dim(0), first = name;
    } else if (t.dim(0) != n) {
      throw TrainError(
          fmt::format("{}: different sample counts: '{}' has {} samples ({}) but '{}' has {} (the first "
                      "axis is the sample axis)",
                      label, name, t.dim(0), type_str(t.type()), first, n));
    }
  }
  if (n == 0) throw TrainError(fmt::format("{}: the data has no samples (the first axis is empty)", label));
  return std::max<int64_t>(n, 0);
}

}  // namespace starc
