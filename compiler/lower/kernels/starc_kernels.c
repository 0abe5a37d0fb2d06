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
  if (kernel_threads <= 1 || parts <= 1 || work < 1 << 18) return 1;
  return parts < kernel_threads ? (int)parts : kernel_threads;
#else
  (void)parts, (void)work;
  return 1;
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
