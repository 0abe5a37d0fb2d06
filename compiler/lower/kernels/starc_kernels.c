/* See starc_kernels.h. The kernels are written once, in starc_kernels_impl.h, for a
   type T and its GEMM (f32: sgemm, f64: dgemm). */
#include "starc_kernels.h"

#include <cblas.h>
#include <stdlib.h>
#include <string.h>

#ifdef _OPENMP
#include <omp.h>
#endif

void openblas_set_num_threads(int);
void STARC_KERNEL(set_fft_threads)(int threads); /* starc_fft_conv.c */

/* Threads. Compiled with OpenMP (the JIT; `starc compile --threads N`), the kernels
   split their work -- samples, tiles, rows of a GEMM -- over the OpenMP pool that the
   generated loops use, and every GEMM runs on one thread: OpenBLAS's own pool next to
   libomp's spinning workers oversubscribed the cores (2 threads trained star_galaxy no
   faster than 1). Without OpenMP, the work runs in order and OpenBLAS threads each GEMM. */
static int kernel_threads = 1;

void STARC_KERNEL(set_threads)(int threads) {
  kernel_threads = threads > 0 ? threads : 1;
#ifdef _OPENMP
  openblas_set_num_threads(1);
#else
  openblas_set_num_threads(kernel_threads);
#endif
  STARC_KERNEL(set_fft_threads)(kernel_threads);
}

/* Threads for `work` multiply-adds split into `parts` independent pieces: 1 (no fork)
   when there is too little of either, or without OpenMP. */
static int threads_for(int64_t parts, double work) {
#ifdef _OPENMP
  if (kernel_threads <= 1 || parts <= 1 || work < 1 << 21) return 1;
  return parts < kernel_threads ? (int)parts : kernel_threads;
#else
  (void)parts, (void)work;
  return 1;
#endif
}

/* fn(ctx, begin, end) over [0, n) in `threads` contiguous parts, on the OpenMP pool; with
   one thread a plain call (no OpenMP region: its entry alone cost a small MLP's matmul
   more than the GEMM). */
typedef void (*part_fn)(void* ctx, int64_t begin, int64_t end);
static void run_parts(int threads, int64_t n, part_fn fn, void* ctx) {
  if (n <= 0) return;
  if (threads <= 1) {
    fn(ctx, 0, n);
    return;
  }
#ifdef _OPENMP
#pragma omp parallel num_threads(threads)
  {
    int64_t i = omp_get_thread_num(), parts = omp_get_num_threads();
    if (n * i / parts < n * (i + 1) / parts) fn(ctx, n * i / parts, n * (i + 1) / parts);
  }
#else
  fn(ctx, 0, n);
#endif
}

/* Weight gradients sum over the batch in this many fixed chunks (partial sums added in
   chunk order), so that the result does not depend on the thread count. */
enum { kWeightGradChunks = 8 };

typedef struct {
  int64_t n, c, h, w, o, kh, kw, oh, ow, sh, sw, ph, pw, dh, dw;
} geo_t;

#define GEO_INIT {n, c, h, w, o, kh, kw, oh, ow, sh, sw, ph, pw, dh, dw}

#define T float
#define TSUF _f32
#define GEMM cblas_sgemm
#include "starc_kernels_impl.h"
#undef T
#undef TSUF
#undef GEMM

#define T double
#define TSUF _f64
#define GEMM cblas_dgemm
#include "starc_kernels_impl.h"
