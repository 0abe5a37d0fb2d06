// tests/gpu: runs the CPU emulation of the GPU kernel library (a shared object that
// emulate_kernels.sh builds from gpu_kernels_gen's output) against the C kernels
// (compiler/backend/kernels/starc_kernels.c, compiled in with the prefix ref_) on random
// data, for every kernel-library name; the reductions (starc_reduce_*, GPU only, no C
// kernel) against a plain C++ reference here.
//
//   gpu_kernels_check EMULATED.so full     the main case list
//   gpu_kernels_check EMULATED.so capped   for a library built with --grid-yz-limit 3:
//                                          grids over 3 in y/z, so grid-stride loops
//
// Every input ends at a guard page and is read-only, every output ends at a guard page
// and starts as NaN: an out-of-bounds read or write past the end, a write to an input,
// or an output element never written fails the test.
#include <dlfcn.h>
#include <signal.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#define STARC_KERNEL_PREFIX ref_
#include "compiler/backend/kernels/starc_kernels.h"

// starc_kernels.c's set_threads calls the FFT file's, which the test does not link.
extern "C" void ref_set_fft_threads(int) {}

namespace {

int checks = 0, fails = 0;
char current[400] = "(none)";  // the case running: what the SIGSEGV handler prints

void on_fault(int) {
  const char* a = "FAIL: SIGSEGV (out-of-bounds access or write to an input) in ";
  (void)!write(2, a, strlen(a));
  (void)!write(2, current, strlen(current));
  (void)!write(2, "\n", 1);
  _exit(1);
}

struct Rng {  // splitmix64: the same numbers on every machine
  uint64_t state;
  uint64_t next() {
    uint64_t z = (state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  double uniform() { return (double)(next() >> 11) / 9007199254740992.0 * 2 - 1; }  // [-1, 1)
  int64_t range(int64_t lo, int64_t hi) { return lo + (int64_t)(next() % (uint64_t)(hi - lo + 1)); }
};

// n elements that end where a PROT_NONE page starts.
template <class T>
struct Guarded {
  size_t n = 0, len = 0;
  char* base = nullptr;
  T* p = nullptr;
  explicit Guarded(size_t count) : n(count) {
    size_t page = (size_t)sysconf(_SC_PAGESIZE), bytes = n * sizeof(T);
    len = (bytes + page - 1) / page * page + page;
    void* m = mmap(nullptr, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED) std::perror("mmap"), std::exit(2);
    base = (char*)m;
    if (mprotect(base + len - page, page, PROT_NONE)) std::perror("mprotect"), std::exit(2);
    p = (T*)(base + len - page - bytes);
  }
  ~Guarded() { munmap(base, len); }
  Guarded(const Guarded&) = delete;
  void read_only() {
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    if (mprotect(base, len - page, PROT_READ)) std::perror("mprotect"), std::exit(2);
  }
};

// Uniform in [-1, 1); with `specials`, a NaN and an infinity at seed-chosen places too (the
// GPU kernels must give NaN and inf exactly where the C kernels do, as PyTorch).
template <class T>
void random_input(Guarded<T>& g, uint64_t seed, bool specials = false) {
  Rng r{seed};
  for (size_t i = 0; i < g.n; ++i) g.p[i] = (T)r.uniform();
  if (specials && g.n > 1) {
    g.p[r.next() % g.n] = std::numeric_limits<T>::quiet_NaN();
    g.p[r.next() % g.n] = std::numeric_limits<T>::infinity();
  }
  g.read_only();
}

template <class T>
void compare(const Guarded<T>& got, const T* want) {
  double tol = sizeof(T) == 4 ? 1e-4 : 1e-11, worst = 0;
  size_t bad = 0, first = 0;
  for (size_t i = 0; i < got.n; ++i) {
    double e = std::fabs((double)got.p[i] - (double)want[i]) / (1 + std::fabs((double)want[i]));
    if (std::isnan(want[i]) || std::isinf(want[i]))
      e = (std::isnan(want[i]) ? std::isnan(got.p[i]) : got.p[i] == want[i]) ? 0 : NAN;
    if (!(e <= tol)) {
      if (!bad++) first = i;
      worst = std::isnan(e) ? INFINITY : std::fmax(worst, e);
    }
  }
  ++checks;
  if (bad) {
    ++fails;
    std::printf("FAIL %s: %zu of %zu elements differ (worst relative error %g); first at %zu: %.9g, want %.9g\n",
                current, bad, got.n, worst, first, (double)got.p[first], (double)want[first]);
  }
}

template <class T>
using MatmulFn = void (*)(int64_t, int64_t, int64_t, int64_t, int64_t, int64_t, const T*, int64_t, const T*, int64_t,
                          T*, int64_t);
template <class T>
using ConvFn = void (*)(STARC_CONV_ARGS, const T*, const T*, T*);
template <class T>
using ConvSiteFn = void (*)(STARC_CONV_ARGS, int64_t, const T*, const T*, T*);

void* emulated = nullptr;
template <class F>
F find(const char* name) {
  void* f = dlsym(emulated, name);
  if (!f) std::fprintf(stderr, "gpu_kernels_check: the emulated library lacks %s\n", name), std::exit(2);
  return (F)f;
}

struct MM {
  int64_t batch, m, n, k;
  bool bcast_a, bcast_b;  // stride 0: one matrix for every batch entry
};

template <class T>
void matmul(const char* name, MatmulFn<T> ref, const MM& c, int ta, int tb, bool specials = false) {
  auto gpu = find<MatmulFn<T>>(name);
  int64_t sa = c.bcast_a ? 0 : c.m * c.k, sb = c.bcast_b ? 0 : c.k * c.n, sc = c.m * c.n;
  std::snprintf(current, sizeof current, "%s batch %ld M %ld N %ld K %ld ta %d tb %d stride_a %ld stride_b %ld", name,
                (long)c.batch, (long)c.m, (long)c.n, (long)c.k, ta, tb, (long)sa, (long)sb);
  Guarded<T> a(c.bcast_a ? c.m * c.k : c.batch * c.m * c.k), b(c.bcast_b ? c.k * c.n : c.batch * c.k * c.n);
  Guarded<T> out(c.batch * sc);
  random_input(a, 1, specials), random_input(b, 2, specials);
  for (size_t i = 0; i < out.n; ++i) out.p[i] = std::numeric_limits<T>::quiet_NaN();
  T* want = new T[out.n + 1];
  ref(c.batch, c.m, c.n, c.k, ta, tb, a.p, sa, b.p, sb, want, sc);
  gpu(c.batch, c.m, c.n, c.k, ta, tb, a.p, sa, b.p, sb, out.p, sc);
  compare(out, want);
  delete[] want;
}

struct Geo {
  int64_t n, c, h, w, o, kh, kw, sh, sw, ph, pw, dh, dw, oh, ow, gr;  // c, o: per group of gr
};
Geo geo(int64_t n, int64_t c, int64_t h, int64_t w, int64_t o, int64_t kh, int64_t kw, int64_t sh, int64_t sw,
        int64_t ph, int64_t pw, int64_t dh, int64_t dw, int64_t groups = 1) {
  Geo g{n, c, h, w, o, kh, kw, sh, sw, ph, pw, dh, dw, 0, 0, groups};
  g.oh = (h + 2 * ph - dh * (kh - 1) - 1) / sh + 1;
  g.ow = (w + 2 * pw - dw * (kw - 1) - 1) / sw + 1;
  return g;
}
#define GEO_ARGS g.n, g.c, g.h, g.w, g.o, g.kh, g.kw, g.oh, g.ow, g.sh, g.sw, g.ph, g.pw, g.dh, g.dw, g.gr

enum Kind { kConv, kAdjoint, kWeightGrad };

// `name` (an emulated function) against `ref`; `site`: name takes the FFT variants'
// site argument.
// specials: bit 0 puts a NaN and an inf into the first operand, bit 1 into the second.
template <class T>
void conv(const char* name, ConvFn<T> ref, const Geo& g, Kind kind, bool site, int specials = 0) {
  std::snprintf(current, sizeof current,
                "%s n %ld c %ld h %ld w %ld o %ld k %ldx%ld stride %ld,%ld pad %ld,%ld dilation %ld,%ld -> %ldx%ld "
                "groups %ld",
                name, (long)g.n, (long)g.c, (long)g.h, (long)g.w, (long)g.o, (long)g.kh, (long)g.kw, (long)g.sh,
                (long)g.sw, (long)g.ph, (long)g.pw, (long)g.dh, (long)g.dw, (long)g.oh, (long)g.ow, (long)g.gr);
  size_t xs = g.n * g.gr * g.c * g.h * g.w, ws = g.gr * g.o * g.c * g.kh * g.kw, ys = g.n * g.gr * g.o * g.oh * g.ow;
  size_t in0 = kind == kAdjoint ? ys : xs, in1 = kind == kWeightGrad ? ys : ws;
  Guarded<T> p(in0), q(in1), out(kind == kConv ? ys : kind == kAdjoint ? xs : ws);
  random_input(p, 3, specials & 1), random_input(q, 4, specials & 2);
  for (size_t i = 0; i < out.n; ++i) out.p[i] = std::numeric_limits<T>::quiet_NaN();
  T* want = new T[out.n + 1];
  ref(GEO_ARGS, p.p, q.p, want);
  if (site)
    find<ConvSiteFn<T>>(name)(GEO_ARGS, 42, p.p, q.p, out.p);
  else
    find<ConvFn<T>>(name)(GEO_ARGS, p.p, q.p, out.p);
  compare(out, want);
  delete[] want;
}

// All twelve convolution names on one geometry (`fft`: the six FFT names too, which
// run the same GPU kernels from their own host functions).
void all_convs(const Geo& g, bool fft) {
  conv<float>("starc_conv_f32", ref_conv_f32, g, kConv, false);
  conv<double>("starc_conv_f64", ref_conv_f64, g, kConv, false);
  conv<float>("starc_conv_adjoint_f32", ref_conv_adjoint_f32, g, kAdjoint, false);
  conv<double>("starc_conv_adjoint_f64", ref_conv_adjoint_f64, g, kAdjoint, false);
  conv<float>("starc_conv_weight_grad_f32", ref_conv_weight_grad_f32, g, kWeightGrad, false);
  conv<double>("starc_conv_weight_grad_f64", ref_conv_weight_grad_f64, g, kWeightGrad, false);
  if (!fft) return;
  conv<float>("starc_conv_fft_f32", ref_conv_f32, g, kConv, true);
  conv<double>("starc_conv_fft_f64", ref_conv_f64, g, kConv, true);
  conv<float>("starc_conv_adjoint_fft_f32", ref_conv_adjoint_f32, g, kAdjoint, true);
  conv<double>("starc_conv_adjoint_fft_f64", ref_conv_adjoint_f64, g, kAdjoint, true);
  conv<float>("starc_conv_weight_grad_fft_f32", ref_conv_weight_grad_f32, g, kWeightGrad, false);
  conv<double>("starc_conv_weight_grad_fft_f64", ref_conv_weight_grad_f64, g, kWeightGrad, false);
}

void all_matmuls(const MM& c) {
  for (int ta = 0; ta < 2; ++ta)
    for (int tb = 0; tb < 2; ++tb) {
      matmul<float>("starc_matmul_f32", ref_matmul_f32, c, ta, tb);
      matmul<double>("starc_matmul_f64", ref_matmul_f64, c, ta, tb);
    }
}

// The reductions: starc_reduce_{sum,max,min}_{f32,f64} (gpu_kernels.h).
enum RedKind { kSum, kMax, kMin };
const char* kind_name(RedKind k) { return k == kSum ? "sum" : k == kMax ? "max" : "min"; }

struct RedCase {
  std::vector<int64_t> shape;
  std::vector<int> axes;                // empty: all
  std::vector<int64_t> nan_at, inf_at;  // flat indices of NaN / +-inf inputs
  RedCase(std::vector<int64_t> s, std::vector<int> a, std::vector<int64_t> nan = {}, std::vector<int64_t> inf = {})
      : shape(std::move(s)), axes(std::move(a)), nan_at(std::move(nan)), inf_at(std::move(inf)) {}
};

template <class T>
using ReduceFn = void (*)(int64_t, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t, const T*,
                          void*);

// For each kept index o (row-major), every reduced r in row-major order; sum in double,
// max/min NaN-propagating like lower_reduce.cpp's extreme().
template <class T, class A>
void reduce_reference(RedKind kind, const int64_t d[6], int64_t mask, const T* x, A* out) {
  int64_t stride[6], s = 1;
  for (int i = 5; i >= 0; --i) stride[i] = s, s *= d[i];
  std::vector<int> kept, red;
  for (int i = 0; i < 6; ++i) ((mask >> i) & 1 ? red : kept).push_back(i);
  int64_t n_out = 1, n_red = 1;
  for (int i : kept) n_out *= d[i];
  for (int i : red) n_red *= d[i];
  for (int64_t o = 0; o < n_out; ++o) {
    int64_t base = 0, q = o;
    for (int j = (int)kept.size() - 1; j >= 0; --j) base += (q % d[kept[j]]) * stride[kept[j]], q /= d[kept[j]];
    double sum = 0;
    T m = kind == kMax ? -std::numeric_limits<T>::infinity() : std::numeric_limits<T>::infinity();
    for (int64_t r = 0; r < n_red; ++r) {
      int64_t off = base, p = r;
      for (int j = (int)red.size() - 1; j >= 0; --j) off += (p % d[red[j]]) * stride[red[j]], p /= d[red[j]];
      T v = x[off];
      sum += (double)v;
      if (!std::isnan(m) && (std::isnan(v) || (kind == kMax ? v > m : v < m))) m = v;
    }
    out[o] = kind == kSum ? (A)sum : (A)m;
  }
}

template <class T>
void reduce_case(RedKind kind, const RedCase& c) {
  using A = typename std::conditional<sizeof(T) == 4, float, double>::type;
  std::string name = std::string("starc_reduce_") + kind_name(kind) + "_" + (sizeof(T) == 4 ? "f32" : "f64");
  auto f = find<ReduceFn<T>>(name.c_str());
  int rank = (int)c.shape.size();
  int64_t d[6], mask = 0, n = 1, n_red = 1;
  for (int i = 0; i < 6; ++i) {
    int axis = i - (6 - rank);
    d[i] = axis < 0 ? 1 : c.shape[axis];
    n *= d[i];
    bool r = false;
    if (axis >= 0) {
      r = c.axes.empty();
      for (int a : c.axes) r |= a == axis;
    }
    if (r) mask |= int64_t(1) << i, n_red *= d[i];
  }
  int64_t n_out = n / n_red;
  std::string shape, axes;
  for (int64_t e : c.shape) shape += (shape.empty() ? "" : ",") + std::to_string(e);
  for (int a : c.axes) axes += (axes.empty() ? "" : ",") + std::to_string(a);
  std::snprintf(current, sizeof current, "%s [%s] axes {%s} n_out %ld n_red %ld%s", name.c_str(), shape.c_str(),
                axes.empty() ? "all" : axes.c_str(), (long)n_out, (long)n_red, c.nan_at.empty() ? "" : " with NaN");
  Guarded<T> x(n);
  Rng rng{7};
  for (int64_t i = 0; i < n; ++i) x.p[i] = (T)rng.uniform();
  for (size_t k = 0; k < c.inf_at.size(); ++k) x.p[c.inf_at[k]] = (k & 1 ? -1 : 1) * std::numeric_limits<T>::infinity();
  for (int64_t i : c.nan_at) x.p[i] = std::numeric_limits<T>::quiet_NaN();
  x.read_only();
  ++checks;
  size_t bad = 0, first = 0;
  double gv = 0, wv = 0;
  if (kind == kSum) {
    Guarded<double> out(n_out);
    for (int64_t i = 0; i < n_out; ++i) out.p[i] = std::numeric_limits<double>::quiet_NaN();
    std::vector<double> want(n_out);
    reduce_reference<T, double>(kind, d, mask, x.p, want.data());
    f(n_out, n_red, d[0], d[1], d[2], d[3], d[4], d[5], mask, x.p, out.p);
    double abs_sum = 0;  // a bound on the rounding of any order of summation
    for (int64_t i = 0; i < n; ++i) abs_sum += std::isfinite((double)x.p[i]) ? std::fabs((double)x.p[i]) : 0;
    for (int64_t i = 0; i < n_out; ++i) {
      bool ok = std::isfinite(want[i]) ? std::fabs(out.p[i] - want[i]) <= 1e-13 * (1 + abs_sum)
                : std::isnan(want[i])  ? std::isnan(out.p[i])
                                       : out.p[i] == want[i];
      if (!ok && !bad++) first = i, gv = out.p[i], wv = want[i];
    }
  } else {
    // Exact. Outputs start as +12345 for max, -12345 for min: an output never written,
    // or one folded into instead of overwritten, differs (want is in [-1, 1], +-inf or NaN).
    Guarded<A> out(n_out);
    for (int64_t i = 0; i < n_out; ++i) out.p[i] = (A)(kind == kMax ? 12345 : -12345);
    std::vector<A> want(n_out);
    reduce_reference<T, A>(kind, d, mask, x.p, want.data());
    f(n_out, n_red, d[0], d[1], d[2], d[3], d[4], d[5], mask, x.p, out.p);
    for (int64_t i = 0; i < n_out; ++i) {
      bool ok = std::isnan(want[i]) ? std::isnan(out.p[i]) : out.p[i] == want[i];
      if (!ok && !bad++) first = i, gv = out.p[i], wv = want[i];
    }
  }
  if (bad) {
    ++fails;
    std::printf("FAIL %s: %zu of %ld outputs differ; first at %zu: %.17g, want %.17g\n", current, bad, (long)n_out,
                first, gv, wv);
  }
}

void all_kinds(const RedCase& c) {
  for (RedKind k : {kSum, kMax, kMin}) reduce_case<float>(k, c), reduce_case<double>(k, c);
}

// All six reduction names on every case (in both modes: with the grid y/z limit 3 the
// split reductions' chunks and the output groups take grid-stride loops).
void all_reductions() {
  const std::vector<RedCase> cases = {
      {{1000}, {0}},                      // rank 1, n_out 1, one block
      {{7}, {}},                          // rank 1, all axes, n_red < 16: one thread
      {{2, 3, 4618}, {2}},                // the innermost axis: 256 lanes per output
      {{2, 3, 4618}, {1}},                // a middle axis, n_red 3: a thread per output, strided
      {{2, 3, 4618}, {0}},                // the outer axis: output-fast (kept innermost, contiguous)
      {{4, 5, 37}, {0, 2}},               // non-contiguous axes {0,2} of [N,C,L]: two reduced groups
      {{3, 4, 5, 6}, {}},                 // rank 4, all axes
      {{2, 3, 4, 5, 6, 7}, {1, 3, 5}},    // rank 6: three reduced and three kept groups
      {{2, 3, 4, 5, 6, 7}, {0, 2, 4}},    // rank 6: the other alternation
      {{2, 3, 1, 4, 5}, {0, 3}},          // rank 5, a size-1 kept axis between
      {{3, 1, 5, 1, 7}, {1, 3}},          // only size-1 axes reduced: n_red 1
      {{6, 1}, {1}},                      // n_red 1
      {{1, 1, 1, 1}, {}},                 // n_out 1, n_red 1
      {{5, 4, 3}, {0, 1}},                // leading axes merge into one reduced group (strided)
      {{7, 3, 5, 2, 11}, {0, 2, 4}},      // three reduced groups, 32 lanes: carries out of digits 0 and 1
      {{100, 2, 7, 2, 5}, {0, 2, 4}},     // 256 lanes = digits (1, 2, 7) over (5, 7, 100)
      {{50, 2, 3, 2, 40, 3}, {0, 2, 4}},  // 256 lanes = digits (16, 0, 2) over (40, 3, 50)
      {{20000, 3}, {1}},                  // n_red small, n_out large: thread per output (79 blocks)
      {{3, 20000}, {0}},                  // the same, output-fast
      {{100, 2000}, {0}},                 // output-fast with 8 lanes (32 outputs a block)
      {{300, 40}, {1}},                   // 4 lanes per output, 64 outputs a block
      {{100003}, {0}},                    // n_out 1 split in two passes: 24 chunks of 4167, the last 4162
      {{3, 50001}, {1}},                  // split with n_out 3: 12 chunks of 4167, the last 4164
      {{64, 3, 300}, {0, 2}},             // split, two reduced groups (mixed radix): 4 chunks of 4800
      {{20000, 40}, {0}},                 // split, output-fast: 4 chunks of 5000
      {{50, 3, 301}, {0, 2}},             // split, mixed radix, chunks (5017) not a multiple of 301
      {{2, 3, 4618}, {2}, {5 * 4618 + 100, 0}, {1, 4618 + 7}},          // NaN: outputs 5 and 0; +-inf
      {{4, 5, 37}, {0, 2}, {2 * 185 + 3 * 37 + 36}, {}},                // NaN, two reduced groups
      {{100003}, {0}, {100002}, {50000, 60000}},                        // NaN in the last chunk
      {{20000, 40}, {0}, {19999 * 40 + 39, 5 * 40 + 2}, {7 * 40 + 3}},  // NaN, split output-fast
      {{20000, 3}, {1}, {3 * 12345 + 1}, {3 * 777}},                    // NaN, thread per output
  };
  for (const RedCase& c : cases) all_kinds(c);
  // Empty: n_red 0 or n_out 0 launches nothing (an empty grid aborts the emulation).
  std::snprintf(current, sizeof current, "starc_reduce_sum_f32 empty reductions");
  auto f = find<ReduceFn<float>>("starc_reduce_sum_f32");
  float x[1] = {1};
  double out[1] = {42};
  f(3, 0, 1, 1, 1, 1, 3, 0, 1, x, out);  // [3, 0] over axis 1
  f(0, 3, 1, 1, 1, 1, 0, 3, 2, x, out);  // [0, 3] over axis 0
  ++checks;
  if (out[0] != 42) ++fails, std::printf("FAIL %s: wrote the output\n", current);
}

}  // namespace

int main(int argc, char** argv) {
  std::string mode = argc == 3 ? argv[2] : "";
  if (mode != "full" && mode != "capped") {
    std::fprintf(stderr, "usage: gpu_kernels_check EMULATED.so full|capped\n");
    return 2;
  }
  static char alt_stack[1 << 16];
  stack_t ss{};
  ss.ss_sp = alt_stack, ss.ss_size = sizeof alt_stack;
  sigaltstack(&ss, nullptr);
  struct sigaction sa{};
  sa.sa_handler = on_fault, sa.sa_flags = SA_ONSTACK;
  sigaction(SIGSEGV, &sa, nullptr), sigaction(SIGBUS, &sa, nullptr);
  if (!(emulated = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL))) {
    std::fprintf(stderr, "gpu_kernels_check: %s\n", dlerror());
    return 2;
  }
  ref_set_threads(1);
  int64_t limit = find<int64_t (*)()>("emu_grid_yz_limit")();
  if (limit != (mode == "full" ? 65535 : 3)) {
    std::fprintf(stderr, "gpu_kernels_check: %s needs a grid y/z limit of %d, the library has %ld\n", mode.c_str(),
                 mode == "full" ? 65535 : 3, (long)limit);
    return 2;
  }

  if (mode == "full") {
    // Tiles are 64x64 (K tile 16): odd sizes, exact tiles, 1x1x1, K = 0, operands
    // broadcast over the batch (stride 0), all four transposes.
    for (const MM& c : {MM{3, 70, 130, 40, false, true}, MM{2, 64, 64, 16, false, false}, MM{1, 1, 1, 1, false, false},
                        MM{1, 5, 7, 0, false, false}, MM{2, 129, 3, 17, true, false}, MM{1, 1, 300, 100, false, false},
                        MM{2, 200, 1, 47, true, true}})
      all_matmuls(c);
    // n c h w o kh kw sh sw ph pw dh dw
    all_convs(geo(2, 3, 9, 11, 5, 3, 2, 2, 1, 1, 0, 1, 2), true);     // 2-D, stride, padding, dilation
    all_convs(geo(3, 4, 1, 100, 6, 1, 7, 1, 3, 0, 2, 1, 2), true);    // 1-D, stride 3 (adjoint: gaps)
    all_convs(geo(2, 3, 13, 10, 4, 3, 3, 3, 2, 2, 2, 2, 1), true);    // stride in both dims, big padding
    all_convs(geo(1, 20, 12, 12, 70, 3, 3, 1, 1, 1, 1, 1, 1), true);  // K = 180: 12 K tiles, 2 row tiles
    all_convs(geo(1, 2, 5, 5, 3, 5, 5, 1, 1, 0, 0, 1, 1), true);      // kernel = image: 1x1 output
    all_convs(geo(2, 65, 4, 4, 3, 1, 1, 1, 1, 0, 0, 1, 1), true);     // 1x1 kernel
    all_convs(geo(1, 3, 7, 7, 2, 3, 3, 4, 4, 0, 0, 1, 1), true);      // stride > kernel: unread inputs
    all_convs(geo(2, 3, 9, 11, 2, 3, 2, 2, 1, 1, 0, 1, 2, 2), true);  // 2 groups of 3 -> 2 channels
    all_convs(geo(2, 1, 7, 6, 1, 3, 3, 1, 1, 1, 1, 1, 1, 8), true);   // depthwise, 8 channels
    all_convs(geo(1, 1, 5, 9, 2, 1, 3, 1, 2, 0, 1, 1, 1, 4), false);  // depthwise, multiplier 2
    // Weight gradients split K: n*oh*ow = 2700 (169 K tiles, the last one partial) in 6
    // splits of 29 tiles, the last of 24; 1152 in 3 splits over 2x2 blocks.
    all_convs(geo(3, 2, 30, 30, 5, 3, 3, 1, 1, 1, 1, 1, 1), true);
    all_convs(geo(2, 9, 24, 24, 70, 3, 3, 1, 1, 1, 1, 1, 1), false);
    // Random small geometries (the same on every run).
    Rng r{2024};
    for (int i = 0; i < 40; ++i) {
      bool one_d = r.range(0, 2) == 0, wide = r.range(0, 5) == 0;
      int64_t n = r.range(1, 3), c = wide ? r.range(60, 70) : r.range(1, 9), o = wide ? r.range(1, 9) : r.range(1, 70);
      int64_t kh = one_d ? 1 : r.range(1, 4), kw = r.range(1, 5), sh = one_d ? 1 : r.range(1, 3), sw = r.range(1, 3);
      int64_t dh = one_d ? 1 : r.range(1, 2), dw = r.range(1, 3), ph = one_d ? 0 : r.range(0, 2), pw = r.range(0, 3);
      int64_t h = one_d ? 1 : std::max<int64_t>(1, dh * (kh - 1) + 1 - 2 * ph + r.range(0, 10));
      int64_t w = std::max<int64_t>(1, dw * (kw - 1) + 1 - 2 * pw + r.range(0, one_d ? 60 : 10));
      all_convs(geo(n, c, h, w, o, kh, kw, sh, sw, ph, pw, dh, dw), i % 4 == 0);
    }
    for (int i = 0; i < 12; ++i) {
      MM c{r.range(1, 4), r.range(1, 150), r.range(1, 150), r.range(0, 70), r.range(0, 3) == 0, r.range(0, 3) == 0};
      int ta = (int)r.range(0, 1), tb = (int)r.range(0, 1);
      matmul<float>("starc_matmul_f32", ref_matmul_f32, c, ta, tb);
      matmul<double>("starc_matmul_f64", ref_matmul_f64, c, ta, tb);
    }
    // NaN and inf in the operands (issue 31): the same NaN / inf outputs as the C kernels.
    for (int t = 0; t < 4; ++t) {
      matmul<float>("starc_matmul_f32", ref_matmul_f32, MM{2, 70, 33, 20, false, false}, t & 1, t >> 1, true);
      matmul<double>("starc_matmul_f64", ref_matmul_f64, MM{2, 70, 33, 20, false, false}, t & 1, t >> 1, true);
    }
    const Geo sg = geo(2, 3, 9, 11, 5, 3, 2, 1, 1, 1, 0, 1, 2);
    conv<float>("starc_conv_f32", ref_conv_f32, sg, kConv, false, 3);
    conv<double>("starc_conv_fft_f64", ref_conv_f64, sg, kConv, true, 3);
    conv<double>("starc_conv_weight_grad_f64", ref_conv_weight_grad_f64, sg, kWeightGrad, false, 3);
    // The adjoint with a non-finite dy only: the GPU's gathered GEMM multiplies each weight
    // by the zero of a padding or stride-gap position, so an inf weight gives NaN there
    // (inf * 0), where the C kernel and PyTorch's conv_transpose skip those positions.
    conv<float>("starc_conv_adjoint_f32", ref_conv_adjoint_f32, sg, kAdjoint, false, 1);
  } else {
    // Grid y/z limited to 3: 7 batch entries, 5 row tiles.
    all_matmuls(MM{7, 300, 70, 20, false, false});
    all_matmuls(MM{5, 260, 9, 33, true, false});
    // Conv / adjoint / weight grad with 200 output / input channels: 4 row tiles.
    all_convs(geo(2, 200, 3, 4, 200, 1, 2, 1, 1, 0, 1, 1, 1), true);
    // Weight-grad split K with the split count capped to 3: 57, 57 and 55 K tiles.
    all_convs(geo(3, 2, 30, 30, 5, 3, 3, 1, 1, 1, 1, 1, 1), false);
  }
  all_reductions();
  int64_t launches = 0, blocks = 0, waits = 0;
  find<void (*)(int64_t*, int64_t*, int64_t*)>("emu_stats")(&launches, &blocks, &waits);
  std::printf("%s: %ld kernel launches, %ld blocks, %ld barrier waits\n", mode.c_str(), (long)launches, (long)blocks,
              (long)waits);
  std::printf("%s: %d checks, %d failed\n", mode.c_str(), checks, fails);
  return fails != 0;
}
