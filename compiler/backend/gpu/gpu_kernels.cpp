// compiler/backend/gpu: the kernel library for the GPU target as MLIR text (see gpu_kernels.h).
//
// One generator, gemm_kernel(), writes the tiled GEMM every kernel is: C[M,N] = A[M,K] @
// B[K,N] per batch index, where each operand says how to find element (row or column,
// k) in its buffer and whether it is there at all (the zero padding of a convolution).
// That address arithmetic is split in two: `outer` runs once per thread, before the K
// loop, for the thread's fixed rows (A) or columns (B) (the expensive div/rem
// decompositions of output positions), `at` runs per element per K tile.
//
// The reductions (starc_reduce_*) are in gpu_reduce_kernels.cpp.
#include "compiler/backend/gpu/gpu_kernels.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <functional>
#include <iterator>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

#include "compiler/backend/gpu/gpu_codegen.h"

namespace starc {
namespace {

using gpu_text::Code;
using gpu_text::kFillBlocks;
using gpu_text::kMaxGridYZ;
using gpu_text::kPtrParam;
using gpu_text::pointer;

// Block tile kTile x kTile of C, K tile kTileK, 16x16 threads each computing a 4x4
// micro-tile (rows ty*4+i, columns tx*4+j). A thread loads 4 elements of each operand
// tile. Shared tiles are [kTileK][kPad], k-major so that the compute loop reads 4
// consecutive rows of A and columns of B (ld.shared.v4); padding the rows to 68 keeps
// them 16-byte aligned and spreads the stores of k-fast loads over more banks.
constexpr int kTile = 64, kTileK = 16, kThreads = 16, kMicro = 4, kPad = 68;
constexpr int kPerThread = kTile * kTileK / (kThreads * kThreads);  // 4
// Split-K (weight gradients, whose K = n*oh*ow dwarfs M x N): split K until the grid has
// about kFillBlocks blocks (2 per SM of an H100/H200's 132), each split at least
// kMinSplitTiles K tiles long, then sum the partial products in split order (no float
// atomics: results are deterministic).
constexpr int64_t kMinSplitTiles = 32, kSumThreads = 256;
// ---------------------------------------------------------------- the tiled GEMM ------

using Ctx = std::vector<std::string>;  // what `outer` computed for one row / column
struct Addr {
  std::string index, ok;  // element index in the buffer; i1 "inside the input", "" = always
};
struct Operand {
  std::string buf;  // the kernel's !llvm.ptr argument
  bool k_fast;      // tile loads: consecutive threads along k (else along the row / column)
  std::function<Ctx(Code&, const std::string& batch, const std::string& mn)> outer;
  std::function<Addr(Code&, const Ctx&, const std::string& k)> at;
};
struct GemmKernel {
  std::string name, t;                  // kernel symbol, element type
  std::string params;                   // its arguments after %M, %N, %K, %nb (batch count)
  std::function<void(Code&)> prologue;  // named values (products of sizes) for the hooks
  Operand a, b;
  std::string out;       // the buffer C is written to (overwritten, never accumulated)
  bool split_k = false;  // the batch index is a K split of %kchunk (a multiple of 16)
  std::function<std::string(Code&, const std::string& batch, const std::string& m, const std::string& n)> out_index;
};

// The (k, row/column) tile positions one thread loads, with the per-thread part of their
// addresses: k-fast, the thread's k is tid % 16 and its rows tid / 16 + 16 r; otherwise
// its row is tid % 64 and its k's tid / 64 + 4 r (256 % 64 == 0: one row for all r).
struct Loads {
  std::vector<std::string> kk, mn, inside;
  std::vector<Ctx> ctx;
};

Loads plan_loads(Code& b, const Operand& op, const std::string& tid, const std::string& origin,
                 const std::string& extent, const std::string& batch) {
  Loads l;
  const int fast = op.k_fast ? kTileK : kTile;
  std::string lane = b.rem(tid, b.c(fast)), step = b.div(tid, b.c(fast));
  std::string g, in;
  Ctx ctx;
  if (!op.k_fast) {  // one row / column for all four loads
    g = b.add(origin, lane), in = b.cmp("ult", g, extent), ctx = op.outer(b, batch, g);
  }
  for (int r = 0; r < kPerThread; ++r) {
    std::string other = b.add(step, b.c(r * (kTile * kTileK / kPerThread) / fast));
    if (op.k_fast) {
      g = b.add(origin, other), in = b.cmp("ult", g, extent), ctx = op.outer(b, batch, g);
      l.kk.push_back(lane), l.mn.push_back(other);
    } else {
      l.kk.push_back(other), l.mn.push_back(lane);
    }
    l.inside.push_back(in), l.ctx.push_back(ctx);
  }
  return l;
}

// Loads this thread's elements of one operand tile (0 past the edges of the GEMM and in
// the padding) into the shared tile.
void load_tile(Code& b, const Operand& op, const Loads& l, const std::string& k0, const std::string& k_end,
               const std::string& tile, const std::string& tile_type, const std::string& t, const std::string& zero) {
  for (int r = 0; r < kPerThread; ++r) {
    std::string k = b.add(k0, l.kk[r]);
    Addr a = op.at(b, l.ctx[r], k);
    std::string ok = b.all({l.inside[r], b.cmp("ult", k, k_end), a.ok}), v = b.fresh();
    b.open(fmt::format("{} = scf.if {} -> ({}) {{", v, ok, t));
    std::string x = b.let(fmt::format("llvm.load {} : !llvm.ptr -> {}", b.element(op.buf, a.index, t), t));
    b.line(fmt::format("scf.yield {} : {}", x, t));
    b.mid("} else {");
    b.line(fmt::format("scf.yield {} : {}", zero, t));
    b.close();
    b.line(fmt::format("memref.store {}, {}[{}, {}] : {}", v, tile, l.kk[r], l.mn[r], tile_type));
  }
}

std::string gemm_kernel(const GemmKernel& g) {
  Code b(4);
  const std::string& t = g.t;
  const std::string tile_type = fmt::format("memref<{}x{}x{}, #gpu.address_space<workgroup>>", kTileK, kPad, t);
  const int acc_n = kMicro * kMicro;
  b.open(
      fmt::format("gpu.func @{}(%M: index, %N: index, %K: index, %nb: index, {}) workgroup(%As : {}, %Bs : {}) "
                  "kernel attributes {{known_block_size = array<i32: {}, {}, 1>}} {{",
                  g.name, g.params, tile_type, tile_type, kThreads, kThreads));
  for (const char* d : {"x", "y", "z"}) b.line(fmt::format("%b{} = gpu.block_id {}", d, d));
  for (const char* d : {"x", "y"}) b.line(fmt::format("%t{} = gpu.thread_id {}", d, d));
  for (const char* d : {"y", "z"}) b.line(fmt::format("%g{} = gpu.grid_dim {}", d, d));
  if (g.prologue) g.prologue(b);
  std::string tid = b.add(b.mul("%ty", b.c(kThreads)), "%tx");
  std::string ty4 = b.mul("%ty", b.c(kMicro)), tx4 = b.mul("%tx", b.c(kMicro));
  std::string zero = b.let(fmt::format("arith.constant 0.0 : {}", t));
  std::string tiles_m = b.div(b.add("%M", b.c(kTile - 1)), b.c(kTile));
  std::string col0 = b.mul("%bx", b.c(kTile));
  // Grid-stride loops over the batch (grid z) and row tiles (grid y): both may exceed
  // the grid's 65535 limit, the columns (grid x, up to 2^31 - 1) never do.
  b.open("scf.for %bi = %bz to %nb step %gz {");
  b.open(fmt::format("scf.for %tm = %by to {} step %gy {{", tiles_m));
  std::string row0 = b.mul("%tm", b.c(kTile));
  Loads la = plan_loads(b, g.a, tid, row0, "%M", "%bi"), lb = plan_loads(b, g.b, tid, col0, "%N", "%bi");

  std::vector<std::string> init, types, acc(acc_n);
  for (int i = 0; i < acc_n; ++i) init.push_back(fmt::format("%acc{} = {}", i, zero)), types.push_back(t);
  std::string k_begin = b.c(0), k_end = "%K";
  if (g.split_k) k_begin = b.mul("%bi", "%kchunk"), k_end = b.bin("minui", b.add(k_begin, "%kchunk"), "%K");
  std::string res = b.fresh(), ck = b.c(kTileK);
  b.open(fmt::format("{}:{} = scf.for %k0 = {} to {} step {} iter_args({}) -> ({}) {{", res, acc_n, k_begin, k_end, ck,
                     fmt::join(init, ", "), fmt::join(types, ", ")));
  load_tile(b, g.a, la, "%k0", k_end, "%As", tile_type, t, zero);
  load_tile(b, g.b, lb, "%k0", k_end, "%Bs", tile_type, t, zero);
  b.line("gpu.barrier");
  for (int i = 0; i < acc_n; ++i) acc[i] = fmt::format("%acc{}", i);
  // The K tile, unrolled: 4 + 4 shared loads and 16 fused multiply-adds per k.
  for (int kk = 0; kk < kTileK; ++kk) {
    std::string k = b.c(kk), av[kMicro], bv[kMicro];
    for (int i = 0; i < kMicro; ++i) {
      av[i] = b.let(fmt::format("memref.load %As[{}, {}] : {}", k, b.add(ty4, b.c(i)), tile_type));
      bv[i] = b.let(fmt::format("memref.load %Bs[{}, {}] : {}", k, b.add(tx4, b.c(i)), tile_type));
    }
    for (int i = 0; i < kMicro; ++i)
      for (int j = 0; j < kMicro; ++j) {
        std::string p = b.let(fmt::format("arith.mulf {}, {} fastmath<contract> : {}", av[i], bv[j], t));
        acc[i * kMicro + j] =
            b.let(fmt::format("arith.addf {}, {} fastmath<contract> : {}", acc[i * kMicro + j], p, t));
      }
  }
  b.line("gpu.barrier");  // before the next tile overwrites what others still read
  b.line(fmt::format("scf.yield {} : {}", fmt::join(acc, ", "), fmt::join(types, ", ")));
  b.close();

  for (int i = 0; i < kMicro; ++i) {
    std::string m = b.add(row0, b.add(ty4, b.c(i))), in_m = b.cmp("ult", m, "%M");
    for (int j = 0; j < kMicro; ++j) {
      std::string n = b.add(col0, b.add(tx4, b.c(j)));
      b.open(fmt::format("scf.if {} {{", b.all({in_m, b.cmp("ult", n, "%N")})));
      std::string at = b.element(g.out, g.out_index(b, "%bi", m, n), t);
      b.line(fmt::format("llvm.store {}#{}, {} : {}, !llvm.ptr", res, i * kMicro + j, at, t));
      b.close();
    }
  }
  b.close();
  b.close();
  b.line("gpu.return");
  b.close();
  return b.text;
}

// ------------------------------------------------------------------- the kernels ------

enum class Op { Matmul, Conv, ConvAdjoint, ConvWeightGrad };

// c[b] = op(a[b]) @ op(bm[b]): a is [M,K] ([K,M] transposed), bm [K,N] ([N,K]); one
// kernel per transposition pair, so that loads run along the contiguous dimension.
GemmKernel matmul_kernel(const std::string& t, bool ta, bool tb) {
  GemmKernel g;
  g.name = fmt::format("starc_gpu_matmul_{}{}_{}", ta ? 't' : 'n', tb ? 't' : 'n', t);
  g.t = t;
  g.params = fmt::format("%sa: index, %sb: index, %sc: index, %pa: {0}, %pb: {0}, %pc: {0}", kPtrParam);
  g.a = {"%pa", !ta,
         [ta](Code& b, const std::string& bi, const std::string& m) {
           return Ctx{b.add(b.mul(bi, "%sa"), ta ? m : b.mul(m, "%K"))};
         },
         [ta](Code& b, const Ctx& x, const std::string& k) { return Addr{b.add(x[0], ta ? b.mul(k, "%M") : k), ""}; }};
  g.b = {"%pb", tb,
         [tb](Code& b, const std::string& bi, const std::string& n) {
           return Ctx{b.add(b.mul(bi, "%sb"), tb ? b.mul(n, "%K") : n)};
         },
         [tb](Code& b, const Ctx& x, const std::string& k) { return Addr{b.add(x[0], tb ? k : b.mul(k, "%N")), ""}; }};
  g.out = "%pc";
  g.out_index = [](Code& b, const std::string& bi, const std::string& m, const std::string& n) {
    return b.add(b.mul(bi, "%sc"), b.add(b.mul(m, "%N"), n));
  };
  return g;
}

// The C functions' geometry arguments (starc_kernels.h): c and o count one group's
// channels, gr is the group count.
const char* const kGeo[] = {"n", "c", "h", "w", "o", "kh", "kw", "oh", "ow", "sh", "sw", "ph", "pw", "dh", "dw", "gr"};

// The buffers of each convolution in the C function's argument order.
std::vector<std::string> conv_buffers(Op op) {
  if (op == Op::Conv) return {"%x", "%wt", "%y"};
  if (op == Op::ConvAdjoint) return {"%y", "%wt", "%x"};
  return {"%x", "%y", "%wt"};
}

// The convolutions of one group as implicit GEMMs (x [n,c,h,w], weight [o,c,kh,kw],
// y [n,o,oh,ow], where a sample of x is %xs = gr*c*h*w long and one of y %ys =
// gr*o*oh*ow: the host function offsets the three pointers to the group):
//   conv     M=o N=(n,oy,ox) K=(c,ky,kx)  A = weight, B = im2col(x), C = y
//   adjoint  M=c N=(n,iy,ix) K=(o,ky,kx)  A = weight^T, B = y gathered per x position
//   wgrad    M=o N=(c,ky,kx) K=(n,oy,ox)  A = y, B = im2col(x)^T, C = weight
// as starc_kernels_impl.h computes them, one output element per GEMM element; the
// im2col position is x[nn, cc, oy*sh - ph + ky*dh, ox*sw - pw + kx*dw], 0 outside x
// (one unsigned compare against h or w tests both ends).
GemmKernel conv_kernel(Op op, const std::string& t, bool split_k = false) {
  GemmKernel g;
  static const std::map<Op, const char*> base = {
      {Op::Conv, "conv"}, {Op::ConvAdjoint, "conv_adjoint"}, {Op::ConvWeightGrad, "conv_weight_grad"}};
  g.name = fmt::format("starc_gpu_{}{}_{}", base.at(op), split_k ? "_split" : "", t);
  g.t = t;
  std::vector<std::string> params;
  for (const char* v : kGeo) params.push_back(fmt::format("%{}: index", v));
  for (const auto& buf : conv_buffers(op)) params.push_back(fmt::format("{}: {}", buf, kPtrParam));
  g.params = fmt::format("{}", fmt::join(params, ", "));
  g.prologue = [](Code& b) {
    for (const char* l : {"%khkw = arith.muli %kh, %kw : index", "%ohow = arith.muli %oh, %ow : index",
                          "%hw = arith.muli %h, %w : index", "%chw = arith.muli %c, %hw : index",
                          "%ckk = arith.muli %c, %khkw : index", "%oohow = arith.muli %o, %ohow : index",
                          "%xs = arith.muli %gr, %chw : index", "%ys = arith.muli %gr, %oohow : index"})
      b.line(l);
  };
  // (cc, ky, kx) of a weight column index q = (cc*kh + ky)*kw + kx
  struct Window {
    std::string cc, ky, kx;
  };
  auto window = [](Code& b, const std::string& q) {
    std::string r = b.rem(q, "%khkw");
    return Window{b.div(q, "%khkw"), b.div(r, "%kw"), b.rem(r, "%kw")};
  };
  auto in_x = [](Code& b, const std::string& iy, const std::string& ix) {
    return b.all({b.cmp("ult", iy, "%h"), b.cmp("ult", ix, "%w")});
  };
  auto x_index = [](Code& b, const std::string& nchw, const std::string& cc_hw, const std::string& iy,
                    const std::string& ix) { return b.add(b.add(nchw, cc_hw), b.add(b.mul(iy, "%w"), ix)); };

  if (op == Op::Conv) {
    g.a = {"%wt", true, [](Code& b, const std::string&, const std::string& m) { return Ctx{b.mul(m, "%K")}; },
           [](Code& b, const Ctx& x, const std::string& k) { return Addr{b.add(x[0], k), ""}; }};
    g.b = {"%x", false,
           [](Code& b, const std::string&, const std::string& j) {  // j = (nn, oy, ox)
             std::string p = b.rem(j, "%ohow");
             std::string iy0 = b.sub(b.mul(b.div(p, "%ow"), "%sh"), "%ph");
             std::string ix0 = b.sub(b.mul(b.rem(p, "%ow"), "%sw"), "%pw");
             return Ctx{iy0, ix0, b.mul(b.div(j, "%ohow"), "%xs")};
           },
           [=](Code& b, const Ctx& x, const std::string& k) {
             Window q = window(b, k);
             std::string iy = b.add(x[0], b.mul(q.ky, "%dh")), ix = b.add(x[1], b.mul(q.kx, "%dw"));
             return Addr{x_index(b, x[2], b.mul(q.cc, "%hw"), iy, ix), in_x(b, iy, ix)};
           }};
    g.out = "%y";
    g.out_index = [](Code& b, const std::string&, const std::string& m, const std::string& j) {
      std::string nn = b.div(j, "%ohow");
      return b.add(b.add(b.mul(nn, "%ys"), b.mul(m, "%ohow")), b.rem(j, "%ohow"));
    };
  } else if (op == Op::ConvAdjoint) {
    // x[nn,cc,iy,ix] = sum over (m, ky, kx) of weight[m,cc,ky,kx] * y[nn,m,oy,ox] for the
    // (oy, ox) whose window reads (iy, ix): oy = (iy + ph - ky*dh) / sh when divisible.
    g.a = {"%wt", true, [](Code& b, const std::string&, const std::string& cc) { return Ctx{b.mul(cc, "%khkw")}; },
           [](Code& b, const Ctx& x, const std::string& k) {  // k = (m, ky, kx)
             std::string m = b.div(k, "%khkw"), q = b.rem(k, "%khkw");
             return Addr{b.add(b.add(b.mul(m, "%ckk"), x[0]), q), ""};
           }};
    g.b = {"%y", false,
           [](Code& b, const std::string&, const std::string& j) {  // j = (nn, iy, ix)
             std::string s = b.rem(j, "%hw");
             return Ctx{b.add(b.div(s, "%w"), "%ph"), b.add(b.rem(s, "%w"), "%pw"), b.mul(b.div(j, "%hw"), "%ys")};
           },
           [=](Code& b, const Ctx& x, const std::string& k) {
             std::string m = b.div(k, "%khkw"), r = b.rem(k, "%khkw");
             std::string ny = b.sub(x[0], b.mul(b.div(r, "%kw"), "%dh"));
             std::string nx = b.sub(x[1], b.mul(b.rem(r, "%kw"), "%dw"));
             // Signed: ny may be negative. A negative ny is either not divisible or has a
             // negative quotient, which the unsigned compare with oh rejects.
             std::string oy = b.bin("divsi", ny, "%sh"), ox = b.bin("divsi", nx, "%sw");
             std::string c0 = b.c(0);
             std::string ok =
                 b.all({b.cmp("eq", b.bin("remsi", ny, "%sh"), c0), b.cmp("eq", b.bin("remsi", nx, "%sw"), c0),
                        b.cmp("ult", oy, "%oh"), b.cmp("ult", ox, "%ow")});
             return Addr{b.add(x[2], b.add(b.mul(b.add(b.mul(m, "%oh"), oy), "%ow"), ox)), ok};
           }};
    g.out = "%x";
    g.out_index = [](Code& b, const std::string&, const std::string& cc, const std::string& j) {
      std::string nn = b.div(j, "%hw");
      return b.add(b.add(b.mul(nn, "%xs"), b.mul(cc, "%hw")), b.rem(j, "%hw"));
    };
  } else {
    g.a = {"%y", true, [](Code& b, const std::string&, const std::string& m) { return Ctx{b.mul(m, "%ohow")}; },
           [](Code& b, const Ctx& x, const std::string& k) {  // k = (nn, oy, ox)
             return Addr{b.add(b.add(b.mul(b.div(k, "%ohow"), "%ys"), x[0]), b.rem(k, "%ohow")), ""};
           }};
    g.b = {"%x", true,
           [=](Code& b, const std::string&, const std::string& j) {  // j = (cc, ky, kx)
             Window q = window(b, j);
             return Ctx{b.sub(b.mul(q.ky, "%dh"), "%ph"), b.sub(b.mul(q.kx, "%dw"), "%pw"), b.mul(q.cc, "%hw")};
           },
           [=](Code& b, const Ctx& x, const std::string& k) {
             std::string p = b.rem(k, "%ohow");
             std::string iy = b.add(b.mul(b.div(p, "%ow"), "%sh"), x[0]);
             std::string ix = b.add(b.mul(b.rem(p, "%ow"), "%sw"), x[1]);
             return Addr{x_index(b, b.mul(b.div(k, "%ohow"), "%xs"), x[2], iy, ix), in_x(b, iy, ix)};
           }};
    g.out = "%wt";
    g.out_index = [](Code& b, const std::string&, const std::string& m, const std::string& j) {
      return b.add(b.mul(m, "%N"), j);
    };
    if (split_k) {  // split bi's partial weight goes to %ws[bi][m][j]
      g.split_k = true;
      g.params += fmt::format(", %kchunk: index, %ws: {}", kPtrParam);
      g.out = "%ws";
      g.out_index = [](Code& b, const std::string& bi, const std::string& m, const std::string& j) {
        return b.add(b.mul(b.add(b.mul(bi, "%M"), m), "%N"), j);
      };
    }
  }
  return g;
}

// out[i] = sum over s < splits of ws[s][i], in order, for i < total.
std::string sum_splits_kernel(const std::string& t) {
  Code b(4);
  b.open(
      fmt::format("gpu.func @starc_gpu_sum_splits_{0}(%total: index, %splits: index, %ws: {1}, %out: {1}) kernel "
                  "attributes {{known_block_size = array<i32: {2}, 1, 1>}} {{",
                  t, kPtrParam, kSumThreads));
  b.line("%bx = gpu.block_id x");
  b.line("%tx = gpu.thread_id x");
  std::string i = b.add(b.mul("%bx", b.c(kSumThreads)), "%tx");
  b.open(fmt::format("scf.if {} {{", b.cmp("ult", i, "%total")));
  std::string sum = b.fresh(), zero = b.let(fmt::format("arith.constant 0.0 : {}", t));
  b.open(fmt::format("{} = scf.for %s = {} to %splits step {} iter_args(%acc = {}) -> ({}) {{", sum, b.c(0), b.c(1),
                     zero, t));
  std::string v =
      b.let(fmt::format("llvm.load {} : !llvm.ptr -> {}", b.element("%ws", b.add(b.mul("%s", "%total"), i), t), t));
  b.line(fmt::format("scf.yield {} : {}", b.let(fmt::format("arith.addf %acc, {} : {}", v, t)), t));
  b.close();
  b.line(fmt::format("llvm.store {}, {} : {}, !llvm.ptr", sum, b.element("%out", i, t), t));
  b.close();
  b.line("gpu.return");
  b.close();
  return b.text;
}

// ------------------------------------------------------------ the host functions ------

struct Fn {
  Op op;
  std::string t;
  bool site;  // the FFT conv / conv_adjoint's extra `site` argument
};

Fn parse(const std::string& name) {
  static const std::pair<const char*, Op> ops[] = {{"matmul", Op::Matmul},
                                                   {"conv", Op::Conv},
                                                   {"conv_adjoint", Op::ConvAdjoint},
                                                   {"conv_weight_grad", Op::ConvWeightGrad}};
  for (const char* t : {"f32", "f64"})
    for (auto [base, op] : ops)
      for (bool fft : {false, true}) {
        if (fft && op == Op::Matmul) continue;
        if (name == fmt::format("starc_{}{}_{}", base, fft ? "_fft" : "", t))
          return {op, t, fft && op != Op::ConvWeightGrad};
      }
  throw std::invalid_argument("gpu_kernel_library: no GPU kernel for '" + name + "'");
}

// The launch grid for an M x N GEMM over nb batch entries, and whether it is non-empty
// (a zero grid dimension is a launch error; K == 0 still launches and writes zeros).
struct Grid {
  std::string x, y, z, ok;
};
Grid grid(Code& b, const std::string& m, const std::string& n, const std::string& nb) {
  Grid g;
  auto tiles = [&](const std::string& v) { return b.div(b.add(v, b.c(kTile - 1)), b.c(kTile)); };
  std::string cap = b.c(kMaxGridYZ), c0 = b.c(0);
  g.x = tiles(n), g.y = b.bin("minui", tiles(m), cap), g.z = b.bin("minui", nb, cap);
  g.ok = b.all({b.cmp("sgt", m, c0), b.cmp("sgt", n, c0), b.cmp("sgt", nb, c0)});
  return g;
}

void launch(Code& b, const Grid& g, const std::string& kernel, const std::vector<std::string>& args) {
  b.line(fmt::format("gpu.launch_func @{}::@{} blocks in ({}, {}, {}) threads in ({}, {}, {}) args({})",
                     kGpuKernelModule, kernel, g.x, g.y, g.z, "%c16", "%c16", "%c1", fmt::join(args, ", ")));
}

std::string matmul_host(const std::string& name, const std::string& t) {
  Code b(2);
  b.open(
      fmt::format("func.func private @{0}(%batch: i64, %m: i64, %n: i64, %k: i64, %ta: i64, %tb: i64, "
                  "%a: memref<1x{1}>, %stride_a: i64, %b: memref<1x{1}>, %stride_b: i64, %c: memref<1x{1}>, "
                  "%stride_c: i64) {{",
                  name, t));
  b.line("%c16 = arith.constant 16 : index");
  b.line("%c1 = arith.constant 1 : index");
  std::string nb = b.index_cast("%batch"), m = b.index_cast("%m"), n = b.index_cast("%n"), k = b.index_cast("%k");
  std::string sa = b.index_cast("%stride_a"), sb = b.index_cast("%stride_b"), sc = b.index_cast("%stride_c");
  std::vector<std::string> args;
  for (const auto& v : {m, n, k, nb, sa, sb, sc}) args.push_back(v + " : index");
  for (const char* v : {"%a", "%b", "%c"}) args.push_back(pointer(b, v, "memref<1x" + t + ">") + " : !llvm.ptr");
  Grid g = grid(b, m, n, nb);
  std::string zero64 = b.let("arith.constant 0 : i64");
  std::string ta = b.let(fmt::format("arith.cmpi ne, %ta, {} : i64", zero64));
  std::string tb = b.let(fmt::format("arith.cmpi ne, %tb, {} : i64", zero64));
  auto by_tb = [&](bool a_t) {
    b.open(fmt::format("scf.if {} {{", tb));
    launch(b, g, matmul_kernel(t, a_t, true).name, args);
    b.mid("} else {");
    launch(b, g, matmul_kernel(t, a_t, false).name, args);
    b.close();
  };
  b.open(fmt::format("scf.if {} {{", g.ok));
  b.open(fmt::format("scf.if {} {{", ta));
  by_tb(true);
  b.mid("} else {");
  by_tb(false);
  b.close();
  b.close();
  b.line("func.return");
  b.close();
  return b.text;
}

std::string conv_host(const std::string& name, const Fn& f) {
  Code b(2);
  const std::string& t = f.t;
  std::vector<std::string> params;
  for (const char* v : kGeo) params.push_back(fmt::format("%arg_{}: i64", v));
  if (f.site) params.push_back("%site: i64");  // the FFT path's cache key: unused here
  for (int i = 0; i < 3; ++i) params.push_back(fmt::format("%p{}: memref<1x{}>", i, t));
  b.open(fmt::format("func.func private @{}({}) {{", name, fmt::join(params, ", ")));
  b.line("%c16 = arith.constant 16 : index");
  b.line("%c1 = arith.constant 1 : index");
  for (const char* v : kGeo) b.line(fmt::format("%{0} = arith.index_cast %arg_{0} : i64 to index", v));
  std::string khkw = b.mul("%kh", "%kw"), ohow = b.mul("%oh", "%ow"), hw = b.mul("%h", "%w");
  std::string ckk = b.mul("%c", khkw);
  std::string m, n, k;
  if (f.op == Op::Conv) m = "%o", n = b.mul("%n", ohow), k = ckk;
  if (f.op == Op::ConvAdjoint) m = "%c", n = b.mul("%n", hw), k = b.mul("%o", khkw);
  if (f.op == Op::ConvWeightGrad) m = "%o", n = ckk, k = b.mul("%n", ohow);
  std::vector<std::string> base;
  for (int i = 0; i < 3; ++i) base.push_back(pointer(b, fmt::format("%p{}", i), "memref<1x" + t + ">"));
  Grid g = grid(b, m, n, "%c1");
  b.open(fmt::format("scf.if {} {{", g.ok));
  // One launch per group, on the group's slices: x from gi*c*h*w, y from gi*o*oh*ow and
  // the weight from gi*o*c*kh*kw (each sample then strides over all groups).
  b.open(fmt::format("scf.for %gi = {} to %gr step %c1 {{", b.c(0)));
  const std::map<std::string, std::string> group_size = {
      {"%x", b.mul("%c", hw)}, {"%y", b.mul("%o", ohow)}, {"%wt", b.mul("%o", ckk)}};
  std::vector<std::string> args;
  for (const auto& v : {m, n, k, std::string("%c1")}) args.push_back(v + " : index");
  for (const char* v : kGeo) args.push_back(fmt::format("%{} : index", v));
  std::vector<std::string> bufs = conv_buffers(f.op);
  for (int i = 0; i < 3; ++i)
    args.push_back(b.element(base[size_t(i)], b.mul("%gi", group_size.at(bufs[size_t(i)])), t) + " : !llvm.ptr");
  if (f.op == Op::ConvWeightGrad) {
    // splits = min(ceil(kFillBlocks / blocks), ceil(k_tiles / kMinSplitTiles), grid z
    // limit), then rounded so that none is empty: chunk_tiles = ceil(k_tiles / splits).
    auto ceil_div = [&](const std::string& a, const std::string& d) { return b.div(b.add(a, b.sub(d, "%c1")), d); };
    std::string k_tiles = ceil_div(k, b.c(kTileK));
    std::string want = ceil_div(b.c(kFillBlocks), b.mul(g.x, ceil_div(m, b.c(kTile))));
    std::string s0 = b.bin("minui", b.bin("minui", want, ceil_div(k_tiles, b.c(kMinSplitTiles))), b.c(kMaxGridYZ));
    std::string chunk_tiles = b.bin("maxui", ceil_div(k_tiles, b.bin("maxui", s0, "%c1")), "%c1");  // K may be 0
    std::string splits = ceil_div(k_tiles, chunk_tiles), mn = b.mul(m, n);
    b.open(fmt::format("scf.if {} {{", b.cmp("ugt", splits, "%c1")));
    // The partial weights (managed memory, as every memref.alloc on this target). This
    // text is added after buffer deallocation ran (see gpu_kernels.h), so it frees it.
    std::string ws = b.let(fmt::format("memref.alloc({}) : memref<?x{}>", b.mul(splits, mn), t));
    std::string wsp = pointer(b, ws, "memref<?x" + t + ">");
    std::vector<std::string> split_args = args;
    split_args[3] = splits + " : index";
    split_args.push_back(b.mul(chunk_tiles, "%c16") + " : index");
    split_args.push_back(wsp + " : !llvm.ptr");
    launch(b, Grid{g.x, g.y, splits, ""}, conv_kernel(f.op, t, true).name, split_args);
    std::string weight = args.back().substr(0, args.back().find(' '));
    b.line(
        fmt::format("gpu.launch_func @{}::@starc_gpu_sum_splits_{} blocks in ({}, %c1, %c1) threads in ({}, %c1, %c1) "
                    "args({} : index, {} : index, {} : !llvm.ptr, {} : !llvm.ptr)",
                    kGpuKernelModule, t, ceil_div(mn, b.c(kSumThreads)), b.c(kSumThreads), mn, splits, wsp, weight));
    b.line(fmt::format("memref.dealloc {} : memref<?x{}>", ws, t));
    b.mid("} else {");
    launch(b, g, conv_kernel(f.op, t).name, args);
    b.close();
  } else {
    launch(b, g, conv_kernel(f.op, t).name, args);
  }
  b.close();
  b.close();
  b.line("func.return");
  b.close();
  return b.text;
}

}  // namespace

std::string gpu_kernel_library(const std::set<std::string>& names) {
  if (names.empty()) return "";
  std::string hosts;
  std::map<std::string, std::string> kernels;  // by symbol: a kernel serves several names
  auto add = [&](const GemmKernel& g) {
    if (!kernels.count(g.name)) kernels[g.name] = gemm_kernel(g);
  };
  for (const auto& name : names) {
    if (gpu_text::add_reduction(name, hosts, kernels)) continue;
    Fn f = parse(name);
    if (f.op == Op::Matmul) {
      hosts += matmul_host(name, f.t);
      for (bool ta : {false, true})
        for (bool tb : {false, true}) add(matmul_kernel(f.t, ta, tb));
    } else {
      hosts += conv_host(name, f);
      add(conv_kernel(f.op, f.t));
      if (f.op == Op::ConvWeightGrad) {
        add(conv_kernel(f.op, f.t, true));
        kernels["starc_gpu_sum_splits_" + f.t] = sum_splits_kernel(f.t);
      }
    }
  }
  std::string out = hosts;
  out += fmt::format("  gpu.module @{} {{\n", kGpuKernelModule);
  for (const auto& [sym, text] : kernels) out += text;
  out += "  }\n";
  return out;
}

}  // namespace starc
