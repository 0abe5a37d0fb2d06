// compiler/backend/gpu: what the GPU kernel generators share (gpu_kernels.cpp: the tiled GEMM
// and the convolutions; gpu_reduce_kernels.cpp: the reductions). They print MLIR text;
// no MLIR headers here.
#pragma once
#include <fmt/format.h>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace starc::gpu_text {

constexpr int64_t kMaxGridYZ = 65535;  // CUDA's limit on gridDim.y and gridDim.z
// About 2 blocks per SM of an H100/H200 (132 SMs): long K (split-K weight gradients) and
// long reductions are split until their grid has about this many blocks.
constexpr int64_t kFillBlocks = 264;

// Buffers reach kernels as bare pointers, not memrefs: buffer-deallocation-pipeline
// rejects gpu.launch_func with memref operands ("unknown memory side effects"). The
// three buffers of a call are distinct (the output is a fresh allocation; two inputs
// may be one buffer, which noalias allows for reads), so loads may take the read-only
// cache path.
constexpr const char* kPtrParam = "!llvm.ptr {llvm.noalias}";

// Straight-line SSA text: each helper emits one op and returns its result's name.
class Code {
 public:
  explicit Code(int indent) : indent_(indent) {}
  std::string text;
  void line(const std::string& s) { text += std::string(indent_, ' ') + s + "\n"; }
  void open(const std::string& s) { line(s), indent_ += 2; }
  void close(const std::string& s = "}") { indent_ -= 2, line(s); }
  void mid(const std::string& s) { indent_ -= 2, line(s), indent_ += 2; }  // "} else {"
  std::string fresh() { return fmt::format("%t{}", next_++); }
  std::string let(const std::string& rhs) {
    std::string r = fresh();
    line(r + " = " + rhs);
    return r;
  }
  std::string c(int64_t v) { return let(fmt::format("arith.constant {} : index", v)); }
  std::string bin(const char* op, const std::string& a, const std::string& b) {
    return let(fmt::format("arith.{} {}, {} : index", op, a, b));
  }
  std::string add(const std::string& a, const std::string& b) { return bin("addi", a, b); }
  std::string sub(const std::string& a, const std::string& b) { return bin("subi", a, b); }
  std::string mul(const std::string& a, const std::string& b) { return bin("muli", a, b); }
  std::string div(const std::string& a, const std::string& b) { return bin("divui", a, b); }
  std::string rem(const std::string& a, const std::string& b) { return bin("remui", a, b); }
  std::string cmp(const char* pred, const std::string& a, const std::string& b) {
    return let(fmt::format("arith.cmpi {}, {}, {} : index", pred, a, b));
  }
  std::string sel(const std::string& cond, const std::string& a, const std::string& b) {
    return let(fmt::format("arith.select {}, {}, {} : index", cond, a, b));
  }
  std::string ceil_div(const std::string& a, const std::string& d) { return div(add(a, sub(d, c(1))), d); }
  std::string negate(const std::string& cond) {
    return let(fmt::format("arith.xori {}, {} : i1", cond, let("arith.constant true")));
  }
  // "" stands for true (no condition).
  std::string all(const std::vector<std::string>& conds) {
    std::string r;
    for (const auto& x : conds)
      if (!x.empty()) r = r.empty() ? x : let(fmt::format("arith.andi {}, {} : i1", r, x));
    return r;
  }
  std::string index_cast(const std::string& v) { return let(fmt::format("arith.index_cast {} : i64 to index", v)); }
  // The address of element `index` of a T array at `ptr`.
  std::string element(const std::string& ptr, const std::string& index, const std::string& t) {
    std::string i = let(fmt::format("arith.index_cast {} : index to i64", index));
    return let(fmt::format("llvm.getelementptr inbounds {}[{}] : (!llvm.ptr, i64) -> !llvm.ptr, {}", ptr, i, t));
  }

 private:
  int indent_, next_ = 0;
};

// The aligned pointer of a memref (of a memref<1xT> view: the bare pointer the CPU gets).
inline std::string pointer(Code& b, const std::string& memref, const std::string& type) {
  std::string i = b.let(fmt::format("memref.extract_aligned_pointer_as_index {} : {} -> index", memref, type));
  return b.let(
      fmt::format("llvm.inttoptr {} : i64 to !llvm.ptr", b.let(fmt::format("arith.index_cast {} : index to i64", i))));
}

// The reductions (gpu_reduce_kernels.cpp): for a starc_reduce_* name, adds its host
// function to `hosts` and its kernels to `kernels` (by symbol); false for any other name.
bool add_reduction(const std::string& name, std::string& hosts, std::map<std::string, std::string>& kernels);

}  // namespace starc::gpu_text
