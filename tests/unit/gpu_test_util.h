// Test helpers for the GPU target: NVIDIA's PTX assembler, and the check that a
// Device::Cuda module's every kernel module assembles for sm_90 (a real check of the
// generated code that needs no GPU).
#pragma once
#include <gtest/gtest.h>
#include <unistd.h>

#include <cctype>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "compiler/backend/cpu/jit.h"
#include "shell_util.h"

namespace starc::test {

// ptxas from $CUDA_HOME/bin, /usr/local/cuda/bin or PATH; "" if none.
inline std::string ptxas_binary() {
  static const std::string path = [] {
    for (const char* env : {"CUDA_HOME", "CUDA_PATH"})
      if (const char* d = std::getenv(env); d && *d && std::filesystem::exists(std::string(d) + "/bin/ptxas"))
        return std::string(d) + "/bin/ptxas";
    if (std::filesystem::exists("/usr/local/cuda/bin/ptxas")) return std::string("/usr/local/cuda/bin/ptxas");
    ShellResult r = sh("command -v ptxas");
    return r.code == 0 && !r.out.empty() ? r.out.substr(0, r.out.find('\n')) : std::string();
  }();
  return path;
}

// `ptx` with every name it declares (kernels, functions, module variables) prefixed with
// `prefix`, so that modules assembled together in one ptxas run (which links its inputs
// into one program) cannot clash. References to names a module does not declare are
// left alone: they stay unresolved, as they would be alone.
inline std::string rename_ptx_symbols(const std::string& ptx, const std::string& prefix) {
  auto ident = [](char c) { return std::isalnum(uint8_t(c)) || c == '_' || c == '$'; };
  std::set<std::string> declared;
  size_t pos = 0;
  while (pos < ptx.size()) {
    size_t eol = ptx.find('\n', pos);
    if (eol == std::string::npos) eol = ptx.size();
    std::string line = ptx.substr(pos, eol - pos);
    pos = eol + 1;
    size_t i = line.find_first_not_of(" \t");
    if (i == std::string::npos || line[i] != '.' || line.find(".extern") != std::string::npos) continue;
    // directives up to the declaring one: .visible .entry, .func, .global, .shared, .const
    bool declares = false, skipped_params = false;
    while (i < line.size()) {
      while (i < line.size() && (line[i] == ' ' || line[i] == '\t')) ++i;
      if (i >= line.size()) break;
      if (line[i] == '(' && declares && !skipped_params) {  // .func's return parameter
        size_t close = line.find(')', i);
        if (close == std::string::npos) break;
        i = close + 1;
        skipped_params = true;
        continue;
      }
      size_t j = i + (line[i] == '.' ? 1 : 0);
      while (j < line.size() && ident(line[j])) ++j;
      std::string tok = line.substr(i, j - i);
      if (tok.empty()) break;
      if (tok[0] == '.') {
        if (tok == ".entry" || tok == ".func" || tok == ".global" || tok == ".shared" || tok == ".const")
          declares = true;
      } else if (declares && !std::isdigit(uint8_t(tok[0]))) {
        declared.insert(tok);
        break;
      } else if (!declares) {
        break;
      }
      i = j;
    }
  }
  std::string out;
  out.reserve(ptx.size() + 64);
  for (size_t i = 0; i < ptx.size();) {
    if (!ident(ptx[i])) {
      out += ptx[i++];
      continue;
    }
    size_t j = i;
    while (j < ptx.size() && ident(ptx[j])) ++j;
    std::string tok = ptx.substr(i, j - i);
    bool after_dot_or_reg = i > 0 && (ptx[i - 1] == '.' || ptx[i - 1] == '%');
    if (!after_dot_or_reg && declared.count(tok)) out += prefix;
    out += tok;
    i = j;
  }
  return out;
}

// Checks that kernel modules assemble with `ptxas -arch=sm_90`, many at a time: each
// distinct PTX text once, up to kBatch of them (names made distinct) per ptxas run. A
// batch ptxas rejects is assembled again module by module, unchanged, so a failure names
// its module and what (every `what` that made the same text) as a one-by-one check would.
// The checks run at flush() or destruction.
class PtxasChecker {
 public:
  static constexpr size_t kBatch = 50;
  PtxasChecker() = default;
  PtxasChecker(const PtxasChecker&) = delete;
  ~PtxasChecker() { flush(); }

  // Lowers `mlir_text` (a Device::Cuda module) to PTX and queues its kernel modules;
  // returns their number (a text seen before is not lowered again). Lowering failures
  // name `what`.
  int add(const std::string& mlir_text, const std::string& what) {
    if (auto it = lowered_.find(mlir_text); it != lowered_.end()) {
      for (size_t m : it->second) modules_[m].whats.push_back(what);
      return int(it->second.size());
    }
    std::vector<PtxModule> mods;
    try {
      mods = lower_to_ptx(mlir_text);
    } catch (const std::exception& e) {
      ADD_FAILURE() << what << ": lowering to PTX failed: " << e.what();
      return 0;
    }
    // No kernel modules is right for some ops: a reshape or slice is a host copy of
    // managed memory, a rank-0 op runs on the host.
    std::vector<size_t>& mine = lowered_[mlir_text];
    for (PtxModule& m : mods) mine.push_back(add_ptx(std::move(m), what));
    return int(mods.size());
  }

  // Queues one kernel module (a text seen before is assembled once); returns its index.
  size_t add_ptx(PtxModule m, const std::string& what) {
    auto [it, fresh] = by_text_.emplace(m.ptx, modules_.size());
    if (fresh) {
      modules_.push_back({std::move(m.name), std::move(m.ptx), {}});
      pending_.push_back(it->second);
    }
    modules_[it->second].whats.push_back(what);
    if (pending_.size() >= kBatch) flush();
    return it->second;
  }

  // ptxas runs so far: one per batch, and one per module of a batch it rejected.
  int ptxas_runs() const { return ptxas_runs_; }

  void flush() {
    if (pending_.empty()) return;
    namespace fs = std::filesystem;
    const fs::path dir =
        fs::temp_directory_path() / ("starc_ptx_" + std::to_string(::getpid()) + "_" + std::to_string(batches_++));
    fs::remove_all(dir);
    fs::create_directories(dir);
    std::string files;
    for (size_t k = 0; k < pending_.size(); ++k) {
      const std::string f = (dir / ("m" + std::to_string(k) + ".ptx")).string();
      std::ofstream(f, std::ios::binary) << rename_ptx_symbols(modules_[pending_[k]].ptx,
                                                               "m" + std::to_string(k) + "_");
      files += " " + quote(f);
    }
    ShellResult r = sh(quote(ptxas_binary()) + " -arch=sm_90" + files + " -o /dev/null");
    ++ptxas_runs_;
    if (r.code != 0) {  // which module: each alone, as it is
      const std::string f = (dir / "one.ptx").string();
      for (size_t m : pending_) {
        std::ofstream(f, std::ios::binary) << modules_[m].ptx;
        ShellResult one = sh(quote(ptxas_binary()) + " -arch=sm_90 " + quote(f) + " -o /dev/null");
        ++ptxas_runs_;
        std::string whats;
        for (const std::string& w : modules_[m].whats) whats += (whats.empty() ? "" : "; ") + w;
        EXPECT_EQ(one.code, 0) << whats << ": ptxas rejects kernel module " << modules_[m].name << ":\n" << one.out;
      }
    }
    std::error_code ec;
    fs::remove_all(dir, ec);
    pending_.clear();
  }

 private:
  struct Module {
    std::string name, ptx;
    std::vector<std::string> whats;  // the cases that made it
  };
  std::vector<Module> modules_;
  std::map<std::string, size_t> by_text_;               // PTX text -> module
  std::map<std::string, std::vector<size_t>> lowered_;  // MLIR text -> its modules
  std::vector<size_t> pending_;                         // not yet assembled
  int batches_ = 0;
  int ptxas_runs_ = 0;
};

// Lowers `mlir_text` (a Device::Cuda module) to PTX and runs `ptxas -arch=sm_90` on
// its kernel modules (one run); failures name `what`. Returns the number of kernel modules.
inline int expect_ptxas_accepts(const std::string& mlir_text, const std::string& what) {
  PtxasChecker check;
  return check.add(mlir_text, what);
}

}  // namespace starc::test
