// runtime: training checkpoints (docs/weights.md, "Checkpoints"): written atomically,
// read back with every check a resumed run relies on, and the fingerprint of the data a
// run trained on. Split from trainer.cpp, which runs the loop.
#include <fmt/format.h>
#include <signal.h>
#include <unistd.h>

#include <filesystem>

#include "runtime/io/npy.h"
#include "runtime/io/npy_map.h"
#include "runtime/trainer.h"

namespace starc {

namespace {

Tensor i64_scalar(int64_t v) {
  Tensor t(DType::I64, {});
  t.data<int64_t>()[0] = v;
  return t;
}

}  // namespace

std::string checkpoint_path(const std::string& dir) { return (std::filesystem::path(dir) / "checkpoint.npz").string(); }

// Removes "<path>.tmp<pid>" files left by writers that were killed (their pid is gone).
static void remove_stale_temps(const std::string& path) {
  namespace fs = std::filesystem;
  fs::path p(path);
  fs::path folder = p.parent_path().empty() ? fs::path(".") : p.parent_path();
  std::string prefix = p.filename().string() + ".tmp";
  std::error_code ec;
  for (auto& e : fs::directory_iterator(folder, ec)) {
    std::string name = e.path().filename().string();
    if (name.size() <= prefix.size() || name.compare(0, prefix.size(), prefix) != 0) continue;
    std::string digits = name.substr(prefix.size());
    if (digits.find_first_not_of("0123456789") != std::string::npos || digits.size() > 9) continue;
    pid_t pid = pid_t(std::stol(digits));
    if (pid != ::getpid() && ::kill(pid, 0) != 0 && errno == ESRCH) fs::remove(e.path(), ec);
  }
}

uint64_t data_fingerprint(const TensorMap& data) {
  uint64_t h = 0xcbf29ce484222325ull;  // FNV-1a
  auto mix = [&](const void* p, size_t n) {
    auto* b = static_cast<const unsigned char*>(p);
    for (size_t i = 0; i < n; ++i) h = (h ^ b[i]) * 0x100000001b3ull;
  };
  for (auto& [name, t] : data) {
    mix(name.data(), name.size() + 1);
    std::string type = type_str(t.type());
    mix(type.data(), type.size() + 1);
    int64_t rows = t.rank() > 0 ? t.shape()[0] : 1;
    if (rows <= 0) continue;
    size_t row_bytes = t.nbytes() / size_t(rows);
    const int64_t kRows = 64;
    std::vector<char> row(row_bytes);
    for (int64_t k = 0; k < std::min(rows, kRows); ++k) {
      int64_t r = rows <= kRows ? k : k * (rows - 1) / (kRows - 1);
      // A memory-mapped .npy is read from its file (runtime/io/npy_map.h): touching the
      // mapping would make its pages, up to 2 MiB a row, part of the process.
      if (read_mapped_rows(t, &r, 1, row_bytes, row.data()))
        mix(row.data(), row_bytes);
      else
        mix(static_cast<const char*>(t.raw()) + size_t(r) * row_bytes, row_bytes);
    }
  }
  return h == 0 ? 1 : h;
}

void write_checkpoint(const std::string& path, const Checkpoint& c) {
  std::error_code ec;
  auto parent = std::filesystem::path(path).parent_path();
  if (!parent.empty()) std::filesystem::create_directories(parent, ec);
  remove_stale_temps(path);
  TensorMap a = c.params;
  a["starc.format"] = i64_scalar(1);
  a["starc.seed"] = i64_scalar(int64_t(c.seed));
  a["starc.epoch"] = i64_scalar(c.epoch);
  a["starc.batch"] = i64_scalar(c.batch);
  a["starc.batch_size"] = i64_scalar(c.batch_size);
  a["starc.samples"] = i64_scalar(c.samples);
  a["starc.epochs"] = i64_scalar(c.epochs);
  if (c.data_fingerprint) a["starc.data_fingerprint"] = i64_scalar(int64_t(c.data_fingerprint));
  for (auto& [name, n] : c.updates) a["starc.updates." + name] = i64_scalar(n);
  std::vector<double> sums = c.epoch_sums;
  a["starc.epoch_sums"] = Tensor::from_vector(DType::F64, {int64_t(sums.size())}, sums);
  size_t cols = c.history.empty() ? 0 : c.history[0].size();
  std::vector<double> flat;
  for (auto& r : c.history) flat.insert(flat.end(), r.begin(), r.end());
  a["starc.history"] = Tensor::from_vector(DType::F64, {int64_t(c.history.size()), int64_t(cols)}, flat);
  write_npz(path, a);
}

Checkpoint read_checkpoint(const std::string& path) {
  TensorMap a;
  try {
    a = read_npz(path);
  } catch (const std::exception& e) {
    throw TrainError(fmt::format("cannot read the checkpoint: {}", e.what()));
  }
  auto scalar = [&](const std::string& key) -> int64_t {
    auto it = a.find(key);
    if (it == a.end()) throw TrainError(fmt::format("{}: not a starc training checkpoint (no '{}' entry)", path, key));
    if (it->second.dtype() != DType::I64 || it->second.size() != 1)
      throw TrainError(fmt::format("{}: checkpoint entry '{}' must be an i64 scalar, got {}", path, key,
                                   type_str(it->second.type())));
    return it->second.data<int64_t>()[0];
  };
  Checkpoint c;
  if (int64_t v = scalar("starc.format"); v != 1)
    throw TrainError(fmt::format("{}: unsupported checkpoint format {} (this starc reads format 1)", path, v));
  c.seed = uint64_t(scalar("starc.seed"));
  c.epoch = scalar("starc.epoch");
  c.batch = scalar("starc.batch");
  c.batch_size = scalar("starc.batch_size");
  c.samples = scalar("starc.samples");
  c.epochs = scalar("starc.epochs");
  if (a.count("starc.data_fingerprint")) c.data_fingerprint = uint64_t(scalar("starc.data_fingerprint"));
  for (auto& [key, t] : a) {
    if (key.rfind("starc.updates.", 0) == 0)
      c.updates[key.substr(14)] = scalar(key);
    else if (key.rfind("starc.", 0) != 0)
      c.params[key] = t;
  }
  if (auto it = a.find("starc.epoch_sums"); it != a.end())
    for (int64_t i = 0; i < it->second.size(); ++i) c.epoch_sums.push_back(it->second.get(i));
  if (auto it = a.find("starc.history"); it != a.end() && it->second.rank() == 2) {
    int64_t rows = it->second.dim(0), cols = it->second.dim(1);
    for (int64_t r = 0; r < rows; ++r) {
      std::vector<double> row;
      for (int64_t k = 0; k < cols; ++k) row.push_back(it->second.get(r * cols + k));
      c.history.push_back(row);
    }
  }
  return c;
}

// ---- history rows <-> records ------------------------------------------------------------

}  // namespace starc
