/* The small GEMM of AOT libraries (compiler/backend/kernels/starc_gemm.c) against
   OpenBLAS's cblas_sgemm, one thread, on the products of dense layers (x @ w^T, trans_b)
   and their weight gradients (dy^T @ x, trans_a): the measurement behind the builder's
   own-GEMM limit (runtime/aot/aot_builder.cpp, kOwnGemmMaxWork). Build and run:

     cc -O3 -ffp-contract=fast -march=native -DSTARC_KERNEL_PREFIX=bench_ \
        -I compiler/backend/kernels -I /usr/include/x86_64-linux-gnu/openblas-pthread \
        bench/aot_gemm.c compiler/backend/kernels/starc_gemm.c -lopenblas -lm -o aot_gemm
     ./aot_gemm

   Prints per shape the median time per call of each (best of 7 rounds of at least 20
   ms) and their ratio; checks that both agree. */
#define _POSIX_C_SOURCE 200809L
#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "starc_gemm.h"

void openblas_set_num_threads(int);

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

typedef struct {
  int ta, tb;
  int m, n, k;
  const float *a, *b;
  float* c;
} shape;

static void run(const shape* s, int own) {
  int lda = s->ta ? s->m : s->k, ldb = s->tb ? s->k : s->n;
  if (own)
    bench_gemm_f32(s->ta, s->tb, s->m, s->n, s->k, 1, s->a, lda, s->b, ldb, 0, s->c, s->n);
  else
    cblas_sgemm(CblasRowMajor, s->ta ? CblasTrans : CblasNoTrans, s->tb ? CblasTrans : CblasNoTrans, s->m, s->n, s->k,
                1, s->a, lda, s->b, ldb, 0, s->c, s->n);
}

/* Microseconds per call: the best of 7 rounds. */
static double time_us(const shape* s, int own) {
  int calls = 1;
  double best = 1e30;
  for (double t0 = now(); now() - t0 < 0.02; calls *= 2)
    for (int i = 0; i < calls; ++i) run(s, own);
  for (int round = 0; round < 7; ++round) {
    double t0 = now();
    for (int i = 0; i < calls; ++i) run(s, own);
    double us = (now() - t0) * 1e6 / calls;
    best = us < best ? us : best;
  }
  return best;
}

int main(void) {
  openblas_set_num_threads(1);
  static const int dense[][2] = {{64, 5}, {64, 64}, {1, 64}, {256, 256}, {512, 128}};
  static const int rows[] = {1, 2, 4, 16, 64, 256, 1024, 4096};
  size_t cap = 4096 * 512;
  float *a = malloc(cap * sizeof *a), *b = malloc(cap * sizeof *b), *c = malloc(cap * sizeof *c),
        *c2 = malloc(cap * sizeof *c2);
  for (size_t i = 0; i < cap; ++i)
    a[i] = (float)((i * 7919) % 1000) / 500.0f - 1, b[i] = (float)((i * 104729) % 999) / 499.5f - 1;
  printf("%-4s %5s %5s %5s %12s %12s %8s %14s\n", "op", "m", "n", "k", "own us", "openblas us", "own/blas", "m*n*k");
  static const char* const ops[] = {"fwd", "dw", "dx"};
  for (int t = 0; t < 3; ++t)
    for (size_t d = 0; d < sizeof dense / sizeof dense[0]; ++d)
      for (size_t r = 0; r < sizeof rows / sizeof rows[0]; ++r) {
        /* A dense layer y[B,out] = x[B,in] @ w[out,in]^T (dense[d] = {out, in}, B = rows[r]).
           t 0, forward: x @ w^T; t 1, weight gradient: dy^T @ x; t 2, input gradient: dy @ w. */
        const int out = dense[d][0], in = dense[d][1], batch = rows[r];
        shape s = {t == 1,
                   t == 0,
                   t == 1 ? out : batch,
                   t == 2 ? in : t == 1 ? in : out,
                   t == 1 ? batch : t == 2 ? out : in,
                   a,
                   b,
                   c};
        double own = time_us(&s, 1);
        s.c = c2;
        double blas = time_us(&s, 0);
        double err = 0;
        for (long i = 0; i < (long)s.m * s.n; ++i) err = fmax(err, fabs(c[i] - c2[i]) / (1 + fabs(c2[i])));
        printf("%-4s %5d %5d %5d %12.3f %12.3f %8.2f %14.0f%s\n", ops[t], s.m, s.n, s.k, own, blas, own / blas,
               (double)s.m * s.n * s.k, err > 1e-4 ? "  MISMATCH" : "");
      }
  free(a), free(b), free(c), free(c2);
  return 0;
}
