/* compiler/backend/kernels: a small GEMM for ahead-of-time libraries whose matrix products
   are all small (runtime/aot/aot_builder.cpp decides, per model, from the sizes of its
   matmuls). OpenBLAS is built for every x86 CPU at once (DYNAMIC_ARCH): linked statically
   it brings megabytes of kernels, and for small products its call overhead outweighs
   the arithmetic. This one is a register-blocked loop nest (4 rows by 2 vectors of
   columns, vectorised for the library's --target), with no threads, allocations or
   state; starc_kernels.c calls it in place of cblas_?gemm when compiled with
   -DSTARC_KERNELS_OWN_GEMM. bench/aot_gemm.c compares the two.

   c = alpha * op(a) @ op(b) + beta * c, row-major, as cblas_?gemm(CblasRowMajor, ...):
   op(a) [m, k] (a is [k, m] with trans_a), op(b) [k, n] (b is [n, k] with trans_b), with
   row strides lda, ldb, ldc; beta 0 does not read c. Each element of op(a) @ op(b) is
   summed in order of k, so results do not depend on the blocking. */
#ifndef STARC_GEMM_H
#define STARC_GEMM_H

#include <stdint.h>

#include "starc_kernels.h" /* STARC_KERNEL */

#ifdef __cplusplus
extern "C" {
#endif

void STARC_KERNEL(gemm_f32)(int trans_a, int trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float* a,
                            int64_t lda, const float* b, int64_t ldb, float beta, float* c, int64_t ldc);
void STARC_KERNEL(gemm_f64)(int trans_a, int trans_b, int64_t m, int64_t n, int64_t k, double alpha, const double* a,
                            int64_t lda, const double* b, int64_t ldb, double beta, double* c, int64_t ldc);

#ifdef __cplusplus
}
#endif
#endif
