/* See starc_kernels.h. Each kernel is written once for a type T through the macros below
   (f32 with sgemm, f64 with dgemm). */
#include "starc_kernels.h"

#include <cblas.h>
#include <stdlib.h>
#include <string.h>

void openblas_set_num_threads(int);

void STARC_KERNEL(set_threads)(int threads) { openblas_set_num_threads(threads); }

typedef struct {
  int64_t n, c, h, w, o, kh, kw, oh, ow, sh, sw, ph, pw, dh, dw;
} geo_t;

#define GEO_INIT {n, c, h, w, o, kh, kw, oh, ow, sh, sw, ph, pw, dh, dw}

/* cols[(ci, ki, kj), (oi, oj)] = x[ci, oi*sh - ph + ki*dh, oj*sw - pw + kj*dw] (0 outside)
   for one sample; col2im adds cols back into x the same way. */
#define DEFINE_KERNELS(T, SUFFIX, GEMM)                                                                              \
  static void im2col_##SUFFIX(const geo_t* g, const T* x, T* cols) {                                             \
    for (int64_t ci = 0; ci < g->c; ++ci)                                                                          \
      for (int64_t ki = 0; ki < g->kh; ++ki)                                                                       \
        for (int64_t kj = 0; kj < g->kw; ++kj) {                                                                   \
          T* row = cols + ((ci * g->kh + ki) * g->kw + kj) * g->oh * g->ow;                                        \
          for (int64_t oi = 0; oi < g->oh; ++oi) {                                                                 \
            int64_t ih = oi * g->sh - g->ph + ki * g->dh;                                                          \
            T* out = row + oi * g->ow;                                                                             \
            if (ih < 0 || ih >= g->h) {                                                                            \
              memset(out, 0, sizeof(T) * (size_t)g->ow);                                                          \
              continue;                                                                                            \
            }                                                                                                      \
            const T* in = x + (ci * g->h + ih) * g->w;                                                             \
            int64_t base = kj * g->dw - g->pw;                                                                     \
            if (g->sw == 1 && base >= 0 && base + g->ow <= g->w) {                                                 \
              memcpy(out, in + base, sizeof(T) * (size_t)g->ow);                                                  \
              continue;                                                                                            \
            }                                                                                                      \
            for (int64_t oj = 0; oj < g->ow; ++oj) {                                                               \
              int64_t iw = oj * g->sw + base;                                                                      \
              out[oj] = iw >= 0 && iw < g->w ? in[iw] : (T)0;                                                      \
            }                                                                                                      \
          }                                                                                                        \
        }                                                                                                          \
  }                                                                                                                \
  static void col2im_##SUFFIX(const geo_t* g, const T* cols, T* x) {                                             \
    memset(x, 0, sizeof(T) * (size_t)(g->c * g->h * g->w));                                                       \
    for (int64_t ci = 0; ci < g->c; ++ci)                                                                          \
      for (int64_t ki = 0; ki < g->kh; ++ki)                                                                       \
        for (int64_t kj = 0; kj < g->kw; ++kj) {                                                                   \
          const T* row = cols + ((ci * g->kh + ki) * g->kw + kj) * g->oh * g->ow;                                  \
          for (int64_t oi = 0; oi < g->oh; ++oi) {                                                                 \
            int64_t ih = oi * g->sh - g->ph + ki * g->dh;                                                          \
            if (ih < 0 || ih >= g->h) continue;                                                                    \
            T* out = x + (ci * g->h + ih) * g->w;                                                                  \
            const T* in = row + oi * g->ow;                                                                        \
            int64_t base = kj * g->dw - g->pw;                                                                     \
            if (g->sw == 1) { /* the common case: a contiguous, vectorisable run */                                \
              int64_t lo = base < 0 ? -base : 0, hi = g->w - base < g->ow ? g->w - base : g->ow;                    \
              for (int64_t oj = lo; oj < hi; ++oj) out[oj + base] += in[oj];                                      \
              continue;                                                                                            \
            }                                                                                                      \
            for (int64_t oj = 0; oj < g->ow; ++oj) {                                                               \
              int64_t iw = oj * g->sw + base;                                                                      \
              if (iw >= 0 && iw < g->w) out[iw] += in[oj];                                                         \
            }                                                                                                      \
          }                                                                                                        \
        }                                                                                                          \
  }                                                                                                                \
  void STARC_KERNEL(matmul_##SUFFIX)(int64_t batch, int64_t m, int64_t n, int64_t k, const T* a, int64_t stride_a,  \
                                     const T* b, int64_t stride_b, T* c, int64_t stride_c) {                      \
    for (int64_t i = 0; i < batch; ++i)                                                                            \
      GEMM(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)m, (int)n, (int)k, 1, a + i * stride_a,       \
           (int)k, b + i * stride_b, (int)n, 0, c + i * stride_c, (int)n);                           \
  }                                                                                                                \
  /* y[i] [o, oh*ow] = weight [o, c*kh*kw] @ cols */                                                               \
  void STARC_KERNEL(conv_##SUFFIX)(STARC_CONV_ARGS, const T* x, const T* weight, T* y) {                          \
    geo_t g = GEO_INIT;                                                                                            \
    int64_t ckk = c * kh * kw, pix = oh * ow;                                                                      \
    T* cols = (T*)malloc(sizeof(T) * (size_t)(ckk * pix + 1));                                                        \
    if (!cols) abort(); /* the generated code's own allocations fail the same way */                              \
    for (int64_t i = 0; i < n; ++i) {                                                                              \
      im2col_##SUFFIX(&g, x + i * c * h * w, cols);                                                     \
      GEMM(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)o, (int)pix, (int)ckk, 1, weight, (int)ckk,   \
           cols, (int)pix, 0, y + i * o * pix, (int)pix);                                                      \
    }                                                                                                              \
    free(cols);                                                                                                    \
  }                                                                                                                \
  /* cols = weight^T [c*kh*kw, o] @ y[i] [o, oh*ow], then added back into x[i] */                                  \
  void STARC_KERNEL(conv_adjoint_##SUFFIX)(STARC_CONV_ARGS, const T* y, const T* weight, T* x) {                  \
    geo_t g = GEO_INIT;                                                                                            \
    int64_t ckk = c * kh * kw, pix = oh * ow;                                                                      \
    T* cols = (T*)malloc(sizeof(T) * (size_t)(ckk * pix + 1));                                                        \
    if (!cols) abort();                                                                                            \
    for (int64_t i = 0; i < n; ++i) {                                                                              \
      GEMM(CblasRowMajor, CblasTrans, CblasNoTrans, (int)ckk, (int)pix, (int)o, 1, weight, (int)ckk,     \
           y + i * o * pix, (int)pix, 0, cols, (int)pix);                                                \
      col2im_##SUFFIX(&g, cols, x + i * c * h * w);                                                           \
    }                                                                                                              \
    free(cols);                                                                                                    \
  }                                                                                                                \
  /* weight [o, c*kh*kw] = sum_i y[i] [o, oh*ow] @ cols(x[i])^T */                                                 \
  void STARC_KERNEL(conv_weight_grad_##SUFFIX)(STARC_CONV_ARGS, const T* x, const T* y, T* weight) {              \
    geo_t g = GEO_INIT;                                                                                            \
    int64_t ckk = c * kh * kw, pix = oh * ow;                                                                      \
    T* cols = (T*)malloc(sizeof(T) * (size_t)(ckk * pix + 1));                                                        \
    if (!cols) abort();                                                                                            \
    if (n == 0) memset(weight, 0, sizeof(T) * (size_t)(o * ckk));                                             \
    for (int64_t i = 0; i < n; ++i) {                                                                              \
      im2col_##SUFFIX(&g, x + i * c * h * w, cols);                                                     \
      GEMM(CblasRowMajor, CblasNoTrans, CblasTrans, (int)o, (int)ckk, (int)pix, 1, y + i * o * pix,      \
           (int)pix, cols, (int)pix, i == 0 ? 0 : 1, weight, (int)ckk);                                        \
    }                                                                                                              \
    free(cols);                                                                                                    \
  }

DEFINE_KERNELS(float, f32, cblas_sgemm)
DEFINE_KERNELS(double, f64, cblas_dgemm)
