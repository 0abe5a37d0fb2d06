// tests/gpu: runs the CPU emulation of the GPU kernel library (a shared object that
// emulate_kernels.sh builds from gpu_kernels_gen's output) against the C kernels
// (compiler/lower/kernels/starc_kernels.c, compiled in with the prefix ref_) on random
// data, for every kernel-library name.
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

#define STARC_KERNEL_PREFIX ref_
#include "compiler/lower/kernels/starc_kernels.h"

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

template <class T>
void random_input(Guarded<T>& g, uint64_t seed) {
  Rng r{seed};
  for (size_t i = 0; i < g.n; ++i) g.p[i] = (T)r.uniform();
  g.read_only();
}

template <class T>
void compare(const Guarded<T>& got, const T* want) {
  double tol = sizeof(T) == 4 ? 1e-4 : 1e-11, worst = 0;
  size_t bad = 0, first = 0;
  for (size_t i = 0; i < got.n; ++i) {
    double e = std::fabs((double)got.p[i] - (double)want[i]) / (1 + std::fabs((double)want[i]));
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
void matmul(const char* name, MatmulFn<T> ref, const MM& c, int ta, int tb) {
  auto gpu = find<MatmulFn<T>>(name);
  int64_t sa = c.bcast_a ? 0 : c.m * c.k, sb = c.bcast_b ? 0 : c.k * c.n, sc = c.m * c.n;
  std::snprintf(current, sizeof current, "%s batch %ld M %ld N %ld K %ld ta %d tb %d stride_a %ld stride_b %ld", name,
                (long)c.batch, (long)c.m, (long)c.n, (long)c.k, ta, tb, (long)sa, (long)sb);
  Guarded<T> a(c.bcast_a ? c.m * c.k : c.batch * c.m * c.k), b(c.bcast_b ? c.k * c.n : c.batch * c.k * c.n);
  Guarded<T> out(c.batch * sc);
  random_input(a, 1), random_input(b, 2);
  for (size_t i = 0; i < out.n; ++i) out.p[i] = std::numeric_limits<T>::quiet_NaN();
  T* want = new T[out.n + 1];
  ref(c.batch, c.m, c.n, c.k, ta, tb, a.p, sa, b.p, sb, want, sc);
  gpu(c.batch, c.m, c.n, c.k, ta, tb, a.p, sa, b.p, sb, out.p, sc);
  compare(out, want);
  delete[] want;
}

struct Geo {
  int64_t n, c, h, w, o, kh, kw, sh, sw, ph, pw, dh, dw, oh, ow;
};
Geo geo(int64_t n, int64_t c, int64_t h, int64_t w, int64_t o, int64_t kh, int64_t kw, int64_t sh, int64_t sw,
        int64_t ph, int64_t pw, int64_t dh, int64_t dw) {
  Geo g{n, c, h, w, o, kh, kw, sh, sw, ph, pw, dh, dw, 0, 0};
  g.oh = (h + 2 * ph - dh * (kh - 1) - 1) / sh + 1;
  g.ow = (w + 2 * pw - dw * (kw - 1) - 1) / sw + 1;
  return g;
}
#define GEO_ARGS g.n, g.c, g.h, g.w, g.o, g.kh, g.kw, g.oh, g.ow, g.sh, g.sw, g.ph, g.pw, g.dh, g.dw

enum Kind { kConv, kAdjoint, kWeightGrad };

// `name` (an emulated function) against `ref`; `site`: name takes the FFT variants'
// site argument.
template <class T>
void conv(const char* name, ConvFn<T> ref, const Geo& g, Kind kind, bool site) {
  std::snprintf(current, sizeof current,
                "%s n %ld c %ld h %ld w %ld o %ld k %ldx%ld stride %ld,%ld pad %ld,%ld dilation %ld,%ld -> %ldx%ld",
                name, (long)g.n, (long)g.c, (long)g.h, (long)g.w, (long)g.o, (long)g.kh, (long)g.kw, (long)g.sh,
                (long)g.sw, (long)g.ph, (long)g.pw, (long)g.dh, (long)g.dw, (long)g.oh, (long)g.ow);
  size_t xs = g.n * g.c * g.h * g.w, ws = g.o * g.c * g.kh * g.kw, ys = g.n * g.o * g.oh * g.ow;
  size_t in0 = kind == kAdjoint ? ys : xs, in1 = kind == kWeightGrad ? ys : ws;
  Guarded<T> p(in0), q(in1), out(kind == kConv ? ys : kind == kAdjoint ? xs : ws);
  random_input(p, 3), random_input(q, 4);
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
  } else {
    // Grid y/z limited to 3: 7 batch entries, 5 row tiles.
    all_matmuls(MM{7, 300, 70, 20, false, false});
    all_matmuls(MM{5, 260, 9, 33, true, false});
    // Conv / adjoint / weight grad with 200 output / input channels: 4 row tiles.
    all_convs(geo(2, 200, 3, 4, 200, 1, 2, 1, 1, 0, 1, 1, 1), true);
    // Weight-grad split K with the split count capped to 3: 57, 57 and 55 K tiles.
    all_convs(geo(3, 2, 30, 30, 5, 3, 3, 1, 1, 1, 1, 1, 1), false);
  }
  int64_t launches = 0, blocks = 0, waits = 0;
  find<void (*)(int64_t*, int64_t*, int64_t*)>("emu_stats")(&launches, &blocks, &waits);
  std::printf("%s: %ld kernel launches, %ld blocks, %ld barrier waits\n", mode.c_str(), (long)launches, (long)blocks,
              (long)waits);
  std::printf("%s: %d checks, %d failed\n", mode.c_str(), checks, fails);
  return fails != 0;
}
