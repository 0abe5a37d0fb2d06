/* The small GEMM of AOT libraries (compiler/backend/kernels/starc_gemm.c) against a plain
   double-precision loop, on shapes that take each of its loop nests (rows with and
   without the panel copy, narrow, thin, dots, alpha other than 1), every transposition,
   beta 0, 1 and 2, row strides larger than the rows, in f32 and f64; beta 0 must not
   read c (it starts as NaN). tests/unit/aot_test.cpp compiles it as the builder compiles
   starc_gemm.c, with and without -march=native. Prints one line per failure and
   "N shapes, 0 failures"; exits 1 on any failure. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "starc_gemm.h"

static double value(long i, int salt) { return (double)((i * 7919 + salt * 104729) % 2001) / 1000.0 - 1.0; }

#define CHECK(T, FN, TOL)                                                                                            \
  static int check_##T(int ta, int tb, long m, long n, long k, double alpha, double beta) {                          \
    long lda = (ta ? m : k) + 3, ldb = (tb ? k : n) + 2, ldc = n + 5;                                                \
    T *a = malloc(sizeof(T) * (size_t)((ta ? k : m) * lda + 1)),                                                     \
      *b = malloc(sizeof(T) * (size_t)((tb ? n : k) * ldb + 1));                                                     \
    T* c = malloc(sizeof(T) * (size_t)(m * ldc + 1));                                                                \
    for (long i = 0; i < (ta ? k : m) * lda; ++i) a[i] = (T)value(i, 1);                                             \
    for (long i = 0; i < (tb ? n : k) * ldb; ++i) b[i] = (T)value(i, 2);                                             \
    for (long i = 0; i < m * ldc; ++i) c[i] = beta == 0 ? (T)NAN : (T)value(i, 3);                                   \
    FN(ta, tb, m, n, k, (T)alpha, a, lda, b, ldb, (T)beta, c, ldc);                                                  \
    int bad = 0;                                                                                                     \
    for (long i = 0; i < m && !bad; ++i)                                                                             \
      for (long j = 0; j < n && !bad; ++j) {                                                                         \
        double s = 0, mag = 0;                                                                                       \
        for (long p = 0; p < k; ++p) {                                                                               \
          double x = a[ta ? p * lda + i : i * lda + p], y = b[tb ? j * ldb + p : p * ldb + j];                       \
          s += x * y, mag += fabs(x * y);                                                                            \
        }                                                                                                            \
        double want = alpha * s + (beta == 0 ? 0 : beta * value(i * ldc + j, 3));                                    \
        double got = c[i * ldc + j];                                                                                 \
        if (!(fabs(got - want) <= TOL * (1 + fabs(alpha) * mag + fabs(beta)))) {                                     \
          printf("FAIL " #T " ta %d tb %d m %ld n %ld k %ld alpha %g beta %g: c[%ld,%ld] = %.17g, want %.17g\n", ta, \
                 tb, m, n, k, alpha, beta, i, j, got, want);                                                         \
          bad = 1;                                                                                                   \
        }                                                                                                            \
      }                                                                                                              \
    for (long i = 0; i < m && !bad; ++i) /* the padding past column n is untouched */                                \
      for (long j = n; j < ldc && i * ldc + j < m * ldc && !bad; ++j)                                                \
        if (!(beta == 0 ? isnan((double)c[i * ldc + j]) : c[i * ldc + j] == (T)value(i * ldc + j, 3))) {             \
          printf("FAIL " #T " m %ld n %ld k %ld: wrote past column n at [%ld,%ld]\n", m, n, k, i, j);                \
          bad = 1;                                                                                                   \
        }                                                                                                            \
    free(a), free(b), free(c);                                                                                       \
    return bad;                                                                                                      \
  }
CHECK(float, check_gemm_f32, 1e-5)
CHECK(double, check_gemm_f64, 1e-12)

int main(void) {
  static const long dims[][3] = {{1, 64, 5},  {2, 64, 64},  {3, 1, 64},  {4, 64, 5},   {5, 64, 64},  {6, 16, 16},
                                 {7, 33, 17}, {13, 5, 64},  {64, 5, 1},  {64, 5, 300}, {9, 70, 513}, {1, 1, 1},
                                 {2, 3, 0},   {31, 47, 29}, {1, 257, 9}, {64, 64, 16}, {4, 8, 64},   {100, 3, 7}};
  static const double coef[][2] = {{1, 0}, {1, 1}, {1, 2}, {0.5, 0}, {-2, 1}};
  int shapes = 0, failures = 0;
  for (size_t d = 0; d < sizeof dims / sizeof dims[0]; ++d)
    for (int t = 0; t < 4; ++t)
      for (size_t c = 0; c < sizeof coef / sizeof coef[0]; ++c) {
        long m = dims[d][0], n = dims[d][1], k = dims[d][2];
        failures += check_float(t & 1, t >> 1, m, n, k, coef[c][0], coef[c][1]);
        failures += check_double(t & 1, t >> 1, m, n, k, coef[c][0], coef[c][1]);
        shapes += 2;
      }
  printf("%d shapes, %d failures\n", shapes, failures);
  return failures ? 1 : 0;
}
