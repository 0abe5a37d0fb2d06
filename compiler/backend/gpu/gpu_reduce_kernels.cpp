// compiler/backend/gpu: the GPU reductions (starc_reduce_{sum,max,min}_{f32,f64}, see
// gpu_kernels.h) as MLIR text: a shared-memory tree per output, or per chunk of a long
// reduction, and the host functions that plan and launch them.
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <map>
#include <string>
#include <vector>

#include "compiler/backend/gpu/gpu_codegen.h"
#include "compiler/backend/gpu/gpu_kernels.h"

namespace starc::gpu_text {
namespace {

// ------------------------------------------------------------------ reductions ------
//
// out[o] = reduce over r of x[offset(o, r)] (gpu_kernels.h). The host merges x's axes
// into at most three kept groups (extent ke_j, stride kt_j; j = 0 innermost) and three
// reduced groups (re_j, rt_j): adjacent axes of one kind are one group and size-1 axes
// vanish, so the usual reduction (trailing axes, or one middle axis) is one reduced
// group. A block of 256 threads holds 256 / lanes "segments": each reduces one work item
// (output o, chunk c of its r range: one chunk unless the reduction is split) with its
// `lanes` threads striding over r, then a shared-memory tree over the segment's lanes.
// Threads are numbered lane * ls + segment * gs: lane-fast (ls 1: a warp reads along r)
// or, where adjacent outputs are adjacent in memory, output-fast (gs 1: a warp reads 32
// neighbouring outputs). Work item (o, c) is written to out[o * n_chunks + c]. One
// kernel per kind and type for one reduced group, where r's offset is r * rt0; the
// "_mixed" one counts r in mixed radix (re0, re1, ...), carrying instead of dividing.
enum class Red { Sum, Max, Min };
constexpr int kRedThreads = 256;
// lanes = the power of 2 that gives each lane about kLaneWork elements of r (so fewer
// than 16 elements: one thread per output), at most 256, or kFastLanes output-fast (at
// least 32 outputs a block). A reduction with too few blocks to fill the GPU (about
// kFillBlocks) is split into chunks of at least kMinChunk elements of r.
constexpr int64_t kLaneWork = 16, kFastLanes = 8, kMinChunk = 4096, kWarp = 32;
// The kernels' index arguments. out_blocks = ceil(n_out / (256 / lanes)), the grid-stride
// loop's bound (computed by the host: a 64-bit division in the kernel costs a spill).
const char* const kRedParams[] = {"n_out",      "n_red", "n_chunks", "chunk", "lanes", "ls",  "gs",
                                  "out_blocks", "ke0",   "ke1",      "ke2",   "kt0",   "kt1", "kt2",
                                  "re0",        "re1",   "re2",      "rt0",   "rt1",   "rt2"};

struct Reduction {
  Red kind;
  std::string t;  // element type of x
  // The accumulator: f64 for a sum (the result is f64), else the element type.
  std::string acc() const { return kind == Red::Sum ? "f64" : t; }
  std::string kernel(bool mixed) const {
    const char* k = kind == Red::Sum ? "sum" : kind == Red::Max ? "max" : "min";
    return fmt::format("starc_gpu_reduce_{}_{}{}", k, t, mixed ? "_mixed" : "");
  }
};

// The reduction's starting value and its combining op (in the accumulator type): max /
// min propagate NaN (arith.maximumf: PTX max.NaN), as lower_reduce.cpp's extreme() does.
std::string red_init(Code& b, const Reduction& r) {
  const char* v = r.kind == Red::Sum ? "0.0" : r.kind == Red::Max ? "0xFF800000" : "0x7F800000";
  if (r.kind != Red::Sum && r.acc() == "f64") v = r.kind == Red::Max ? "0xFFF0000000000000" : "0x7FF0000000000000";
  return b.let(fmt::format("arith.constant {} : {}", v, r.acc()));
}
std::string red_combine(Code& b, const Reduction& r, const std::string& acc, const std::string& v) {
  const char* op = r.kind == Red::Sum ? "addf" : r.kind == Red::Max ? "maximumf" : "minimumf";
  return b.let(fmt::format("arith.{} {}, {} : {}", op, acc, v, r.acc()));
}

// The offset of output o: its digits over the kept groups.
std::string kept_offset(Code& b, const std::string& o) {
  std::string q = b.div(o, "%ke0");
  std::string p0 = b.rem(o, "%ke0"), p1 = b.rem(q, "%ke1"), p2 = b.div(q, "%ke1");
  return b.add(b.add(b.mul(p0, "%kt0"), b.mul(p1, "%kt1")), b.mul(p2, "%kt2"));
}

// What a lane's walk over r needs, computed once per thread (step) or chunk (start).
// Mixed radix: r's digits (p0, p1, p2) over (re0, re1, re2); an advance by `lanes` adds
// its digits (s0, s1, s2) with carries. Digit 2 never wraps (r < n_red), so it is not
// kept: only the offset is.
struct Walk {
  std::string step;           // the offset's advance per `lanes` elements, before carries
  std::string wrap0, wrap1;   // mixed: its correction for a carry out of digit 0 / 1
  std::string s0, s1;         // mixed: digits 0 and 1 of `lanes`
  std::string start, p0, p1;  // the lane's first r: its offset and (mixed) digits 0 and 1
};

Walk walk_step(Code& b, bool mixed) {
  Walk w;
  if (!mixed) {
    w.step = b.mul("%lanes", "%rt0");
    return w;
  }
  std::string q = b.div("%lanes", "%re0");
  w.s0 = b.rem("%lanes", "%re0"), w.s1 = b.rem(q, "%re1");
  std::string s2 = b.div(q, "%re1");
  w.step = b.add(b.add(b.mul(w.s0, "%rt0"), b.mul(w.s1, "%rt1")), b.mul(s2, "%rt2"));
  w.wrap0 = b.sub("%rt1", b.mul("%re0", "%rt0")), w.wrap1 = b.sub("%rt2", b.mul("%re1", "%rt1"));
  return w;
}

void walk_start(Code& b, Walk& w, bool mixed, const std::string& r) {
  if (!mixed) {
    w.start = b.mul(r, "%rt0");
    return;
  }
  std::string q = b.div(r, "%re0");
  w.p0 = b.rem(r, "%re0"), w.p1 = b.rem(q, "%re1");
  w.start = b.add(b.add(b.mul(w.p0, "%rt0"), b.mul(w.p1, "%rt1")), b.mul(b.div(q, "%re1"), "%rt2"));
}

// One digit of the mixed-radix advance: p + s + carry_in, wrapped; returns (digit, carry).
std::pair<std::string, std::string> advance_digit(Code& b, const std::string& p, const std::string& s,
                                                  const std::string& carry_in, const std::string& extent) {
  std::string v = b.add(p, s);
  if (!carry_in.empty()) v = b.add(v, b.sel(carry_in, b.c(1), b.c(0)));
  std::string carry = b.cmp("uge", v, extent);
  return {b.sel(carry, b.sub(v, extent), v), carry};
}

// This lane's reduction of r = r0, r0 + lanes, ... < r_end of the output at `base`.
std::string lane_reduce(Code& b, const Reduction& r, bool mixed, const Walk& w, const std::string& base,
                        const std::string& r0, const std::string& r_end, const std::string& init) {
  const std::string a = r.acc();
  std::string res = b.fresh(), acc = b.fresh(), off = b.fresh(), p0 = b.fresh(), p1 = b.fresh();
  std::string args = fmt::format("{} = {}, {} = {}", acc, init, off, b.add(base, w.start)), types = a + ", index";
  if (mixed) args += fmt::format(", {} = {}, {} = {}", p0, w.p0, p1, w.p1), types += ", index, index";
  b.open(fmt::format("{}:{} = scf.for %r = {} to {} step %lanes iter_args({}) -> ({}) {{", res, mixed ? 4 : 2, r0,
                     r_end, args, types));
  std::string v = b.let(fmt::format("llvm.load {} : !llvm.ptr -> {}", b.element("%x", off, r.t), r.t));
  if (r.t != a) v = b.let(fmt::format("arith.extf {} : {} to {}", v, r.t, a));
  std::string next = red_combine(b, r, acc, v), next_off = b.add(off, w.step);
  if (!mixed) {
    b.line(fmt::format("scf.yield {}, {} : {}", next, next_off, types));
  } else {
    auto [q0, c0] = advance_digit(b, p0, w.s0, "", "%re0");
    auto [q1, c1] = advance_digit(b, p1, w.s1, c0, "%re1");
    next_off = b.add(b.add(next_off, b.sel(c0, w.wrap0, b.c(0))), b.sel(c1, w.wrap1, b.c(0)));
    b.line(fmt::format("scf.yield {}, {}, {}, {} : {}", next, next_off, q0, q1, types));
  }
  b.close();
  return res + "#0";
}

// The tree over a segment's lanes: at step s (lanes / 2, ..., 1) lane l < s combines
// lane l + s's value into its own. Returns the thread's value after the tree (lane 0:
// the segment's result). Every thread runs the same steps (a step runs iff s < lanes).
std::string lane_tree(Code& b, const Reduction& r, const std::string& value, const std::string& lane,
                      const std::string& part_type) {
  const std::string a = r.acc();
  std::string mine = value;
  b.line(fmt::format("memref.store {}, %part[%tid] : {}", mine, part_type));
  for (int s = kRedThreads / 2; s >= 1; s /= 2) {
    std::string step = b.fresh(), sc = b.c(s);
    b.open(fmt::format("{} = scf.if {} -> ({}) {{", step, b.cmp("ult", sc, "%lanes"), a));
    b.line("gpu.barrier");
    std::string got = b.fresh();
    b.open(fmt::format("{} = scf.if {} -> ({}) {{", got, b.cmp("ult", lane, sc), a));
    std::string other = b.let(fmt::format("memref.load %part[{}] : {}", b.add("%tid", b.mul(sc, "%ls")), part_type));
    std::string m = red_combine(b, r, mine, other);
    b.line(fmt::format("memref.store {}, %part[%tid] : {}", m, part_type));
    b.line(fmt::format("scf.yield {} : {}", m, a));
    b.mid("} else {");
    b.line(fmt::format("scf.yield {} : {}", mine, a));
    b.close();
    b.line(fmt::format("scf.yield {} : {}", got, a));
    b.mid("} else {");
    b.line(fmt::format("scf.yield {} : {}", mine, a));
    b.close();
    mine = step;
  }
  return mine;
}

std::string reduce_kernel(const Reduction& r, bool mixed) {
  Code b(4);
  const std::string a = r.acc();
  const std::string part_type = fmt::format("memref<{}x{}, #gpu.address_space<workgroup>>", kRedThreads, a);
  std::vector<std::string> params;
  for (const char* p : kRedParams) params.push_back(fmt::format("%{}: index", p));
  for (const char* p : {"%x", "%out"}) params.push_back(fmt::format("{}: {}", p, kPtrParam));
  b.open(
      fmt::format("gpu.func @{}({}) workgroup(%part : {}) kernel "
                  "attributes {{known_block_size = array<i32: {}, 1, 1>}} {{",
                  r.kernel(mixed), fmt::join(params, ", "), part_type, kRedThreads));
  for (const char* d : {"x", "y"}) b.line(fmt::format("%b{0} = gpu.block_id {0}", d));
  for (const char* d : {"x", "y"}) b.line(fmt::format("%g{0} = gpu.grid_dim {0}", d));
  b.line("%tid = gpu.thread_id x");
  std::string segments = b.div(b.c(kRedThreads), "%lanes");
  std::string lane = b.rem(b.div("%tid", "%ls"), "%lanes"), seg = b.rem(b.div("%tid", "%gs"), segments);
  std::string init = red_init(b, r);
  Walk w = walk_step(b, mixed);
  // Grid-stride loops: chunks on grid y, groups of `segments` outputs on grid x.
  b.open("scf.for %ch = %by to %n_chunks step %gy {");
  std::string chunk0 = b.mul("%ch", "%chunk"), r0 = b.add(chunk0, lane);
  std::string r_end = b.bin("minui", b.add(chunk0, "%chunk"), "%n_red");
  walk_start(b, w, mixed, r0);
  b.open("scf.for %ob = %bx to %out_blocks step %gx {");
  std::string o = b.add(b.mul("%ob", segments), seg), valid = b.cmp("ult", o, "%n_out"), value = b.fresh();
  b.open(fmt::format("{} = scf.if {} -> ({}) {{", value, valid, a));
  b.line(fmt::format("scf.yield {} : {}", lane_reduce(b, r, mixed, w, kept_offset(b, o), r0, r_end, init), a));
  b.mid("} else {");
  b.line(fmt::format("scf.yield {} : {}", init, a));
  b.close();
  std::string result = lane_tree(b, r, value, lane, part_type);
  b.open(fmt::format("scf.if {} {{", b.all({valid, b.cmp("eq", lane, b.c(0))})));
  std::string at = b.element("%out", b.add(b.mul(o, "%n_chunks"), "%ch"), a);
  b.line(fmt::format("llvm.store {}, {} : {}, !llvm.ptr", result, at, a));
  b.close();
  b.line("gpu.barrier");  // before the next work item overwrites what the tree still reads
  b.close();
  b.close();
  b.line("gpu.return");
  b.close();
  return b.text;
}

constexpr const char* kGroupsFn = "starc_gpu_reduce_groups";
constexpr int kAxes = 6;

// The host helper every reduction calls: x's axes (d0..d5, reduced where `mask` has the
// bit) merged into groups, innermost first: (ke0..2, kt0..2, re0..2, rt0..2, number of
// reduced groups). Unused groups are extent 1, stride 0. Straight-line code over the six
// axes, innermost first: a size-1 axis is skipped, an axis of the previous axis's kind
// grows that group, any other starts its kind's next group (at most three each: the
// kinds alternate).
std::string reduce_groups_func() {
  Code b(2);
  std::vector<std::string> params, types(4 * 3 + 1, "index");
  for (int i = 0; i < kAxes; ++i) params.push_back(fmt::format("%d{}: i64", i));
  b.open(fmt::format("func.func private @{}({}, %mask: i64) -> ({}) {{", kGroupsFn, fmt::join(params, ", "),
                     fmt::join(types, ", ")));
  struct Groups {
    std::string n, e[3], t[3];
  } kinds[2];  // kept, reduced
  std::string c0 = b.c(0), c1 = b.c(1), mask = b.index_cast("%mask"), stride = c1;
  std::string last = c0;  // the kind of the last axis over 1: 0 none yet, 1 kept, 2 reduced
  for (auto& g : kinds) {
    g.n = c0;
    for (int j = 0; j < 3; ++j) g.e[j] = c1, g.t[j] = c0;
  }
  for (int i = kAxes - 1; i >= 0; --i) {
    std::string d = b.index_cast(fmt::format("%d{}", i)), big = b.cmp("ne", d, c1);
    std::string red = b.cmp("ne", b.rem(b.div(mask, b.c(int64_t(1) << i)), b.c(2)), c0);
    for (int k = 0; k < 2; ++k) {
      Groups& g = kinds[k];
      std::string act = b.all({big, k ? red : b.negate(red)}), same = b.cmp("eq", last, b.c(k + 1));
      std::string grow = b.all({act, same}), start = b.all({act, b.negate(same)});
      for (int j = 0; j < 3; ++j) {
        std::string here = b.all({grow, b.cmp("eq", g.n, b.c(j + 1))}), open = b.all({start, b.cmp("eq", g.n, b.c(j))});
        g.e[j] = b.sel(here, b.mul(g.e[j], d), b.sel(open, d, g.e[j]));
        g.t[j] = b.sel(open, stride, g.t[j]);
      }
      g.n = b.add(g.n, b.sel(start, c1, c0));
    }
    last = b.sel(big, b.sel(red, b.c(2), c1), last);
    stride = b.mul(stride, d);
  }
  std::vector<std::string> out;
  for (auto& g : kinds) out.insert(out.end(), {g.e[0], g.e[1], g.e[2], g.t[0], g.t[1], g.t[2]});
  out.push_back(kinds[1].n);
  b.line(fmt::format("func.return {} : {}", fmt::join(out, ", "), fmt::join(types, ", ")));
  b.close();
  return b.text;
}

// The smallest power of 2 >= v, at most 256 (v >= 0).
std::string pow2_at_least(Code& b, const std::string& v) {
  std::string p = b.c(1);
  for (int64_t q = 2; q <= kRedThreads; q *= 2) p = b.sel(b.cmp("ugt", v, b.c(q / 2)), b.c(q), p);
  return p;
}

// One reduction launch: the kernel's arguments by kRedParams name, and the grid.
struct RedLaunch {
  std::map<std::string, std::string> arg;
  std::string x, out;  // pointers
};

void launch_reduce(Code& b, const std::string& kernel, const RedLaunch& l) {
  std::vector<std::string> args;
  for (const char* p : kRedParams) args.push_back(l.arg.at(p) + " : index");
  for (const auto& p : {l.x, l.out}) args.push_back(p + " : !llvm.ptr");
  // Grid x: blocks of outputs, y: chunks, each capped (the kernel loops over the rest).
  std::string cap = b.c(kMaxGridYZ), gx = b.bin("minui", l.arg.at("out_blocks"), cap);
  std::string gy = b.bin("minui", l.arg.at("n_chunks"), cap);
  b.line(fmt::format("gpu.launch_func @{}::@{} blocks in ({}, {}, %c1) threads in ({}, %c1, %c1) args({})",
                     kGpuKernelModule, kernel, gx, gy, b.c(kRedThreads), fmt::join(args, ", ")));
}

// The second pass of a split reduction: out[o] = reduce over c < n_chunks of
// partial[o][c], in order, with the one-group kernel of the accumulator type.
void launch_partials(Code& b, const Reduction& r, const std::string& n_out, const std::string& chunks,
                     const std::string& partials, const std::string& out) {
  RedLaunch l;
  std::string c0 = b.c(0), c1 = b.c(1), lanes = pow2_at_least(b, b.ceil_div(chunks, b.c(kLaneWork)));
  std::string blocks = b.ceil_div(n_out, b.div(b.c(kRedThreads), lanes));
  l.arg = {{"n_out", n_out}, {"n_red", chunks}, {"n_chunks", c1}, {"chunk", chunks},
           {"lanes", lanes}, {"ls", c1},        {"gs", lanes},    {"out_blocks", blocks},
           {"ke0", n_out},   {"ke1", c1},       {"ke2", c1},      {"kt0", chunks},
           {"kt1", c0},      {"kt2", c0},       {"re0", chunks},  {"re1", c1},
           {"re2", c1},      {"rt0", c1},       {"rt1", c0},      {"rt2", c0}};
  l.x = partials, l.out = out;
  launch_reduce(b, Reduction{r.kind, r.acc()}.kernel(false), l);
}

// The launch of a reduction's (first) pass: lanes, layout and chunks for these sizes
// and groups (the result of kGroupsFn, `g`).
RedLaunch plan_reduction(Code& b, const std::string& n_out, const std::string& n_red, const std::string& g) {
  RedLaunch l;
  for (int i = 0; i < 12; ++i) l.arg[kRedParams[8 + i]] = fmt::format("{}#{}", g, i);  // ke0 ... rt2
  // Output-fast where the innermost axis is kept and at least a warp wide.
  std::string fast = b.all({b.cmp("eq", l.arg["kt0"], "%c1"), b.cmp("uge", l.arg["ke0"], b.c(kWarp))});
  std::string lanes = b.bin("minui", pow2_at_least(b, b.ceil_div(n_red, b.c(kLaneWork))),
                            b.sel(fast, b.c(kFastLanes), b.c(kRedThreads)));
  std::string segments = b.div(b.c(kRedThreads), lanes), blocks = b.ceil_div(n_out, segments);
  // chunks = min(ceil(kFillBlocks / blocks), n_red / kMinChunk), at least 1, then
  // evened out so that none is empty.
  std::string want = b.bin("minui", b.ceil_div(b.c(kFillBlocks), blocks), b.div(n_red, b.c(kMinChunk)));
  std::string chunk = b.ceil_div(n_red, b.bin("maxui", want, "%c1"));
  l.arg.insert({{"n_out", n_out},
                {"n_red", n_red},
                {"n_chunks", b.ceil_div(n_red, chunk)},
                {"chunk", chunk},
                {"lanes", lanes},
                {"ls", b.sel(fast, segments, "%c1")},
                {"gs", b.sel(fast, "%c1", lanes)},
                {"out_blocks", blocks}});
  return l;
}

std::string reduce_host(const std::string& name, const Reduction& r) {
  Code b(2);
  const std::string a = r.acc();
  std::vector<std::string> params = {"%a_n_out: i64", "%a_n_red: i64"};
  for (int i = 0; i < kAxes; ++i) params.push_back(fmt::format("%a_d{}: i64", i));
  params.push_back("%a_mask: i64");
  b.open(fmt::format("func.func private @{}({}, %x: memref<1x{}>, %out: memref<1x{}>) {{", name,
                     fmt::join(params, ", "), r.t, a));
  b.line("%c1 = arith.constant 1 : index");
  std::string n_out = b.index_cast("%a_n_out"), n_red = b.index_cast("%a_n_red"), g = b.fresh();
  std::string x = pointer(b, "%x", "memref<1x" + r.t + ">"), out = pointer(b, "%out", "memref<1x" + a + ">");
  b.open(fmt::format("scf.if {} {{", b.all({b.cmp("ugt", n_out, b.c(0)), b.cmp("ugt", n_red, b.c(0))})));
  std::vector<std::string> types(13, "index");
  b.line(
      fmt::format("{}:13 = func.call @{}(%a_d0, %a_d1, %a_d2, %a_d3, %a_d4, %a_d5, %a_mask) : (i64, i64, i64, i64, "
                  "i64, i64, i64) -> ({})",
                  g, kGroupsFn, fmt::join(types, ", ")));
  RedLaunch l = plan_reduction(b, n_out, n_red, g);
  std::string mixed = b.cmp("ugt", g + "#12", "%c1"), chunks = l.arg["n_chunks"];
  auto launch_pass = [&](const std::string& dest) {
    l.x = x, l.out = dest;
    b.open(fmt::format("scf.if {} {{", mixed));
    launch_reduce(b, r.kernel(true), l);
    b.mid("} else {");
    launch_reduce(b, r.kernel(false), l);
    b.close();
  };
  b.open(fmt::format("scf.if {} {{", b.cmp("ugt", chunks, "%c1")));
  // The partial results (managed memory; freed here, see gpu_kernels.h).
  std::string ws = b.let(fmt::format("memref.alloc({}) : memref<?x{}>", b.mul(n_out, chunks), a));
  std::string wsp = pointer(b, ws, "memref<?x" + a + ">");
  launch_pass(wsp);
  launch_partials(b, r, n_out, chunks, wsp, out);
  b.line(fmt::format("memref.dealloc {} : memref<?x{}>", ws, a));
  b.mid("} else {");
  launch_pass(out);
  b.close();
  b.close();
  b.line("func.return");
  b.close();
  return b.text;
}

// Which reduction `name` is (kind and element type), if it is one.
std::optional<Reduction> parse_reduction(const std::string& name) {
  static const std::pair<const char*, Red> reds[] = {{"sum", Red::Sum}, {"max", Red::Max}, {"min", Red::Min}};
  for (const char* t : {"f32", "f64"})
    for (auto [base, red] : reds)
      if (name == fmt::format("starc_reduce_{}_{}", base, t)) return Reduction{red, t};
  return std::nullopt;
}

}  // namespace

bool add_reduction(const std::string& name, std::string& hosts, std::map<std::string, std::string>& kernels) {
  std::optional<Reduction> r = parse_reduction(name);
  if (!r) return false;
  if (hosts.find(std::string("@") + kGroupsFn + "(") == std::string::npos) hosts += reduce_groups_func();  // once
  hosts += reduce_host(name, *r);
  Reduction partials{r->kind, r->acc()};  // a split reduction's second pass
  for (auto [k, mixed] : {std::pair{*r, false}, std::pair{*r, true}, std::pair{partials, false}})
    if (!kernels.count(k.kernel(mixed))) kernels[k.kernel(mixed)] = reduce_kernel(k, mixed);
  return true;
}

}  // namespace starc::gpu_text
