/* See starc_kernels.h. The kernels are written once, in starc_kernels_impl.h, for a
   type T and its GEMM (f32: sgemm, f64: dgemm).

   Ahead-of-time libraries compile only what their kernels call (runtime/aot/aot_builder.cpp):
   -DSTARC_KERNELS_OWN_GEMM: GEMMs go to the small GEMM of starc_gemm.c instead of
   OpenBLAS (a library whose matrix products are all small); -DSTARC_KERNELS_NO_FFT: no
   FFT convolutions (starc_fft_conv.c is left out). */
#include "starc_kernels.h"

#include <cblas.h> /* with OWN_GEMM, only for its enums */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#ifdef _OPENMP
#include <omp.h>
#endif

void openblas_set_num_threads(int);
void STARC_KERNEL(set_fft_threads)(int threads); /* starc_fft_conv.c */

#ifdef STARC_KERNELS_OWN_GEMM
#include "starc_gemm.h"
/* cblas_?gemm as this file calls it (row-major) */
static void own_sgemm(CBLAS_ORDER order, CBLAS_TRANSPOSE ta, CBLAS_TRANSPOSE tb, int m, int n, int k, float alpha,
                      const float* a, int lda, const float* b, int ldb, float beta, float* c, int ldc) {
  (void)order;
  STARC_KERNEL(gemm_f32)(ta == CblasTrans, tb == CblasTrans, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}
static void own_dgemm(CBLAS_ORDER order, CBLAS_TRANSPOSE ta, CBLAS_TRANSPOSE tb, int m, int n, int k, double alpha,
                      const double* a, int lda, const double* b, int ldb, double beta, double* c, int ldc) {
  (void)order;
  STARC_KERNEL(gemm_f64)(ta == CblasTrans, tb == CblasTrans, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}
#define SGEMM own_sgemm
#define DGEMM own_dgemm
#else
#define SGEMM cblas_sgemm
#define DGEMM cblas_dgemm
/* A product of one row goes to BLAS's GEMV instead (see gemm_block): OpenBLAS's GEMM
   packs all of op(b) even for one row, and a dense layer's weights are that op(b). */
#define SGEMV cblas_sgemv
#define DGEMV cblas_dgemv
#endif

/* Threads. Compiled with OpenMP (the JIT; `starc compile --threads N`), the kernels
   split their work -- samples, tiles, rows of a GEMM -- over the OpenMP pool that the
   generated loops use, and every GEMM runs on one thread: OpenBLAS's own pool next to
   libomp's spinning workers oversubscribed the cores (2 threads trained star_galaxy no
   faster than 1). Without OpenMP, the work runs in order and OpenBLAS threads each GEMM. */
static int kernel_threads = 1;

void STARC_KERNEL(set_threads)(int threads) {
  kernel_threads = threads > 0 ? threads : 1;
#if defined(STARC_KERNELS_OWN_GEMM)
#elif defined(_OPENMP)
  openblas_set_num_threads(1);
#else
  openblas_set_num_threads(kernel_threads);
#endif
#ifndef STARC_KERNELS_NO_FFT
  STARC_KERNEL(set_fft_threads)(kernel_threads);
#endif
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

/* ---- memory of generated code (see the header) ---- */

/* Each buffer starts after its list links: 16 bytes, so the buffer keeps malloc's
   16-byte alignment (the generated code aligns further itself). */
typedef struct mem_block {
  struct mem_block *prev, *next;
} mem_block;

static _Thread_local mem_block live_blocks; /* the sentinel of this thread's list */
static _Thread_local int mem_failure;
static _Thread_local int64_t mem_failed_bytes, mem_failed_node;

void STARC_KERNEL(mem_note_failure)(int64_t bytes, int64_t node) {
  if (mem_failure) return;
  mem_failure = 1, mem_failed_bytes = bytes, mem_failed_node = node;
}

void* STARC_KERNEL(mem_alloc)(int64_t bytes, int64_t node) {
  mem_block* b = NULL;
  if (bytes >= 0 && (uint64_t)bytes <= SIZE_MAX - sizeof(mem_block))
    b = (mem_block*)malloc(sizeof(mem_block) + (size_t)bytes);
  if (!b) {
    STARC_KERNEL(mem_note_failure)(bytes, node);
    return NULL;
  }
  if (!live_blocks.next) live_blocks.next = live_blocks.prev = &live_blocks;
  b->prev = &live_blocks, b->next = live_blocks.next;
  live_blocks.next->prev = b, live_blocks.next = b;
  return b + 1;
}

void STARC_KERNEL(mem_free)(void* p) {
  if (!p) return;
  mem_block* b = (mem_block*)p - 1;
  b->prev->next = b->next, b->next->prev = b->prev;
  free(b);
}

int32_t STARC_KERNEL(mem_failed)(int64_t node) {
  if (mem_failure && mem_failed_node < 0) mem_failed_node = node;
  return mem_failure;
}

int STARC_KERNEL(mem_take_failure)(int64_t* bytes, int64_t* node) {
  if (!mem_failure) return 0;
  *bytes = mem_failed_bytes, *node = mem_failed_node;
  mem_failure = 0;
  while (live_blocks.next && live_blocks.next != &live_blocks) STARC_KERNEL(mem_free)(live_blocks.next + 1);
  return 1;
}

/* A kernel's workspace; NULL when it cannot be had, noted in *nomem (one per kernel
   call, shared by its parts on any thread) for the call to report on its own thread. */
static void* workspace(size_t bytes, _Atomic int64_t* nomem) {
  void* p = malloc(bytes ? bytes : 1);
  if (!p) atomic_store(nomem, (int64_t)bytes);
  return p;
}
static void report_workspace(_Atomic int64_t* nomem) {
  int64_t bytes = atomic_load(nomem);
  if (bytes) STARC_KERNEL(mem_note_failure)(bytes, -1);
}

/* Weight gradients sum over the batch in this many fixed chunks (partial sums added in
   chunk order), so that the result does not depend on the thread count. */
enum { kWeightGradChunks = 8 };

/* One group's geometry (c, o: its channels) and the group count gr. */
typedef struct {
  int64_t n, c, h, w, o, kh, kw, oh, ow, sh, sw, ph, pw, dh, dw, gr;
} geo_t;

#define GEO_INIT {n, c, h, w, o, kh, kw, oh, ow, sh, sw, ph, pw, dh, dw, groups}

#define T float
#define TSUF _f32
#define GEMM SGEMM
#ifdef SGEMV
#define GEMV SGEMV
#endif
#include "starc_kernels_impl.h"
#undef T
#undef TSUF
#undef GEMM
#undef GEMV

#define T double
#define TSUF _f64
#define GEMM DGEMM
#ifdef DGEMV
#define GEMV DGEMV
#endif
#include "starc_kernels_impl.h"
