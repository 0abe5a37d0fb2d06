#include "tools/starc/run_batched.h"

#include <fmt/format.h>
#include <unistd.h>

#include <cstdio>
#include <memory>
#include <tuple>

#include "runtime/io/npy_map.h"
#include "runtime/dist/data_parallel.h"
#include "runtime/io/npy_rows.h"
#include "tools/starc/cli_common.h"

namespace starc::cli {
namespace {

// The sample count every input shares; the model's inputs must take any batch.
int64_t sample_count(const Graph& g, const std::vector<Tensor>& inputs, int64_t batch) {
  int64_t n = -1;
  for (size_t i = 0; i < inputs.size(); ++i) {
    const TensorType& want = g.type(g.inputs[i]);
    const std::string name = g.input_name(int(i));
    if (want.rank() == 0 || !is_sym(want.shape[0]))
      throw CliError(
          fmt::format("--batch {}: the model's input '{}' {} has no batch dim to split (its first dim must "
                      "be symbolic, like B)",
                      batch, name, type_str(want, &g.symbols)));
    if (n < 0) n = inputs[i].dim(0);
    if (inputs[i].dim(0) != n)
      throw CliError(
          fmt::format("--batch {}: input '{}' has {} samples but '{}' has {} (the first axis is the sample "
                      "axis)",
                      batch, name, inputs[i].dim(0), g.input_name(0), n));
  }
  if (n <= 0) throw CliError(fmt::format("--batch {}: the inputs have no samples", batch));
  return n;
}

// An output being written: its temp file beside the destination, removed unless renamed.
struct OutFile {
  std::string path, partial;
  TensorType type;
  std::unique_ptr<NpyRowWriter> writer;
  bool done = false;
  ~OutFile() {
    if (!done && !partial.empty()) ::unlink(partial.c_str());
  }
};

void check_output(const Graph& g, size_t k, const Tensor& t, int64_t rows, int64_t batch) {
  if (t.rank() == 0 || t.dim(0) != rows)
    throw CliError(
        fmt::format("--batch {}: output '{}' is {} for a batch of {} samples; --batch needs every output "
                    "to lead with the batch dim (run without --batch)",
                    batch, g.output_names[k], type_str(t.type()), rows));
}

}  // namespace

namespace {

// The outputs of one batch, starting at row `lo`, into their files (created at the first
// batch: by this process, or by rank 0 while the other ranks wait).
void write_batch(const Graph& g, std::vector<OutFile>& outs, const std::vector<Tensor>& res, int64_t lo, int64_t rows,
                 int64_t n, const BatchedRun& r) {
  for (size_t k = 0; k < outs.size(); ++k) check_output(g, k, res[k], rows, r.batch);
  if (!outs[0].writer) {  // the first batch gives the dtypes and the per-sample dims
    for (size_t k = 0; k < outs.size(); ++k) {
      OutFile& o = outs[k];
      o.type = res[k].type();
      o.type.shape[0] = n;
      o.partial = o.path + ".starc-partial";
      if (!r.comm || r.comm->root()) create_npy_rows(o.partial, o.type.dtype, o.type.shape);
    }
    if (r.comm) r.comm->barrier();
    for (OutFile& o : outs) o.writer = std::make_unique<NpyRowWriter>(o.partial, o.type.dtype, o.type.shape);
  }
  for (size_t k = 0; k < outs.size(); ++k) outs[k].writer->write(lo, res[k]);
}

}  // namespace

std::vector<TensorType> run_in_batches(const Graph& g, const std::vector<Tensor>& inputs, const BatchedRun& r,
                                       const BatchRunner& run_one) {
  const int64_t n = sample_count(g, inputs, r.batch);
  std::vector<OutFile> outs(g.outputs.size());
  for (size_t k = 0; k < outs.size(); ++k) {
    auto it = r.out_paths.find(g.output_names[k]);
    if (it == r.out_paths.end())
      throw CliError(fmt::format("--batch writes every output to a file: pass --out {}=FILE.npy", g.output_names[k]));
    outs[k].path = it->second;
  }
  int64_t first = 0, end = n;
  if (r.comm) {
    if (n < r.comm->size())
      throw CliError(fmt::format("{} samples cannot be shared out between {} ranks", n, r.comm->size()));
    std::tie(first, end) = rank_range(*r.comm, n);
  }
  const int64_t batch = r.batch > 0 ? r.batch : end - first;
  for (int64_t lo = first; lo < end; lo += batch) {
    const int64_t hi = std::min(end, lo + batch);
    std::vector<Tensor> chunk;
    for (const Tensor& t : inputs) chunk.push_back(copy_rows(t, lo, hi));
    write_batch(g, outs, run_one(chunk), lo, hi - lo, n, r);
  }
  for (OutFile& o : outs) o.writer->sync();
  if (r.comm) r.comm->barrier();  // every rank's rows are on disk
  std::vector<TensorType> types;
  for (OutFile& o : outs) {
    if (!r.comm || r.comm->root())
      if (std::rename(o.partial.c_str(), o.path.c_str()) != 0)
        throw CliError(fmt::format("--out {}: cannot rename {} into place", o.path, o.partial));
    o.done = true;
    types.push_back(o.type);
  }
  return types;
}

}  // namespace starc::cli
