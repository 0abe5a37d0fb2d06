#include "runtime/dist/data_parallel.h"

#include <fmt/format.h>

#include <map>

namespace starc {

std::pair<int64_t, int64_t> rank_range(const Communicator& comm, int64_t n) {
  const int64_t r = comm.rank(), k = comm.size();
  return {n * r / k, n * (r + 1) / k};
}

std::vector<double> allreduce_mean(Communicator& comm, const std::vector<double>& values, double weight) {
  std::vector<double> buf = {weight};
  for (double v : values) buf.push_back(v * weight);
  comm.allreduce_sum(buf.data(), buf.size());
  std::vector<double> out(values.size());
  for (size_t i = 0; i < out.size(); ++i) out[i] = buf[0] > 0 ? buf[i + 1] / buf[0] : 0.0;
  return out;
}

namespace {

// The gradient graph's outputs, this rank's (zeros of their types when it has no rows).
std::vector<Tensor> local_outputs(const TrainStepGraph& s, const std::vector<Tensor>& inputs, int64_t rows,
                                  const TensorMap& params, uint64_t run_seed, Executor& exec) {
  const Graph& g = s.grad;
  if (rows > 0) {
    std::vector<Tensor> outs = exec.run(g, inputs, params, run_seed);
    if (outs.size() != g.outputs.size())
      throw std::runtime_error(
          fmt::format("executor returned {} results for {} outputs", outs.size(), g.outputs.size()));
    return outs;
  }
  std::vector<Tensor> zeros;
  for (int id : g.outputs) zeros.emplace_back(g.type(id).dtype, g.type(id).shape);
  return zeros;
}

// Every output averaged over the ranks, weighted by their rows, in one all-reduce.
void average_outputs(std::vector<Tensor>& outs, int64_t rows, Communicator& comm) {
  size_t n = 1;
  for (const Tensor& t : outs) n += size_t(t.size());
  std::vector<double> buf(n);
  buf[0] = double(rows);
  size_t k = 1;
  for (const Tensor& t : outs)
    for (int64_t i = 0; i < t.size(); ++i) buf[k++] = t.get(i) * double(rows);
  comm.allreduce_sum(buf.data(), buf.size());
  k = 1;
  for (Tensor& t : outs) {
    Tensor mean(t.dtype(), t.shape());
    for (int64_t i = 0; i < t.size(); ++i) mean.set(i, buf[k++] / buf[0]);
    t = mean;
  }
}

}  // namespace

std::vector<Tensor> run_parallel_step(const TrainStepGraph& s, const std::vector<Tensor>& inputs, int64_t rows,
                                      const TensorMap& params, uint64_t run_seed, Executor& exec, Communicator& comm) {
  if (s.grad.nodes.empty() || s.update.nodes.empty())
    throw std::runtime_error(
        fmt::format("training step '{}' has no gradient/update graphs for a data-parallel run "
                    "(build the plan with Program::build_train(model, true))",
                    s.name));
  std::vector<Tensor> outs = local_outputs(s, inputs, rows, params, run_seed, exec);
  average_outputs(outs, rows, comm);
  std::map<std::string, Tensor> by_name;
  for (size_t i = 0; i < outs.size(); ++i) by_name[s.grad.output_names[i]] = outs[i];
  // The optimizer on the mean gradients: inputs grad.<param>..., lr, step.
  std::vector<Tensor> upd_in;
  for (size_t i = 0; i + 2 < s.update.inputs.size(); ++i) upd_in.push_back(by_name.at(s.update.input_name(int(i))));
  upd_in.push_back(inputs[inputs.size() - 2]);
  upd_in.push_back(inputs[inputs.size() - 1]);
  std::vector<Tensor> upd = exec.run(s.update, upd_in, params, run_seed);
  for (size_t i = 0; i < upd.size(); ++i) by_name[s.update.output_names[i]] = upd[i];
  std::vector<Tensor> result;
  for (const std::string& name : s.graph.output_names) result.push_back(by_name.at(name));
  return result;
}

}  // namespace starc
