/* See starc_kernels.h. The kernels are written once, in starc_kernels_impl.h, for a
   type T and its GEMM (f32: sgemm, f64: dgemm). */
#include "starc_kernels.h"

#include <cblas.h>
#include <stdlib.h>
#include <string.h>

void openblas_set_num_threads(int);
void STARC_KERNEL(set_fft_threads)(int threads); /* starc_fft_conv.c */

void STARC_KERNEL(set_threads)(int threads) {
  openblas_set_num_threads(threads);
  STARC_KERNEL(set_fft_threads)(threads);
}

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
