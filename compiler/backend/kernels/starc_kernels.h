/* compiler/backend/kernels: the dense kernels that generated code calls instead of
   lowering matmul and convolution to loops, as XLA:CPU calls Eigen: BLAS GEMM (OpenBLAS,
   which picks its kernels for the CPU at run time and reaches near the machine's peak)
   plus im2col / col2im for the convolutions. Plain C, so that the JIT (registered as
   symbols) and ahead-of-time libraries (compiled in, with OpenBLAS linked statically)
   run the same code. Buffers arrive as bare pointers (the generated code passes
   memref<1xT> views of them); arrays are dense row-major.

   STARC_KERNEL(name) gives the exported name; AOT libraries compile this file with
   -DSTARC_KERNEL_PREFIX=MODEL_ so that two libraries never clash. */
#ifndef STARC_KERNELS_H
#define STARC_KERNELS_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#ifndef STARC_KERNEL_PREFIX
#define STARC_KERNEL_PREFIX starc_
#endif
#define STARC_KERNEL_CAT2(a, b) a##b
#define STARC_KERNEL_CAT(a, b) STARC_KERNEL_CAT2(a, b)
#define STARC_KERNEL(name) STARC_KERNEL_CAT(STARC_KERNEL_PREFIX, name)

/* c[b] = op(a[b]) @ op(bm[b]) for b < batch: op(a) [M,K], op(bm) [K,N], c [M,N], where
   op transposes an operand stored the other way round (trans_a: a is [K,M]; trans_b: bm
   is [N,K]), so that x @ transpose(w) never copies w. The batch strides (in elements)
   may be 0 (a broadcast operand). */
void STARC_KERNEL(matmul_f32)(int64_t batch, int64_t m, int64_t n, int64_t k, int64_t trans_a, int64_t trans_b,
                              const float* a, int64_t stride_a, const float* b, int64_t stride_b, float* c,
                              int64_t stride_c);
void STARC_KERNEL(matmul_f64)(int64_t batch, int64_t m, int64_t n, int64_t k, int64_t trans_a, int64_t trans_b,
                              const double* a, int64_t stride_a, const double* b, int64_t stride_b, double* c,
                              int64_t stride_c);

/* Convolutions with PyTorch semantics, in 2-D (1-D: h = kh = oh = 1, sh = dh = 1, ph = 0).
   The geometry is that of the forward conv: x [n, groups*c, h, w], weight
   [groups*o, c, kh, kw], y [n, groups*o, oh, ow], strides sh sw, zero padding ph pw,
   dilations dh dw; c and o count the channels of one group (groups = 1: all of them),
   and output channels g*o .. g*o+o-1 read input channels g*c .. g*c+c-1 only:
     conv:         y = conv(x, weight)
     conv_adjoint: x = the adjoint of conv applied to y (conv_transpose): every x
                   position gets the sum over the windows that read it
     weight_grad:  weight = sum over n, oh, ow of y[n, o, oh, ow] * x[n, c, window position]
   The first pointer is read, the second read, the third written. */
#define STARC_CONV_ARGS                                                                                              \
  int64_t n, int64_t c, int64_t h, int64_t w, int64_t o, int64_t kh, int64_t kw, int64_t oh, int64_t ow, int64_t sh, \
      int64_t sw, int64_t ph, int64_t pw, int64_t dh, int64_t dw, int64_t groups
void STARC_KERNEL(conv_f32)(STARC_CONV_ARGS, const float* x, const float* weight, float* y);
void STARC_KERNEL(conv_f64)(STARC_CONV_ARGS, const double* x, const double* weight, double* y);
void STARC_KERNEL(conv_adjoint_f32)(STARC_CONV_ARGS, const float* y, const float* weight, float* x);
void STARC_KERNEL(conv_adjoint_f64)(STARC_CONV_ARGS, const double* y, const double* weight, double* x);
void STARC_KERNEL(conv_weight_grad_f32)(STARC_CONV_ARGS, const float* x, const float* y, float* weight);
void STARC_KERNEL(conv_weight_grad_f64)(STARC_CONV_ARGS, const double* x, const double* y, double* weight);

/* The same three ops through FFTs (starc_fft_conv.c), for stride 1 (any other stride
   runs the direct kernel): O(L log L) per channel pair instead of O(L K), the win for
   the long kernels of spectra and strain. `site` names the weight (its graph value):
   conv and conv_adjoint keep its spectrum, keyed by site, geometry and an exact copy of
   the weight, so inference transforms a kernel once and a train step once per step. */
void STARC_KERNEL(conv_fft_f32)(STARC_CONV_ARGS, int64_t site, const float* x, const float* weight, float* y);
void STARC_KERNEL(conv_fft_f64)(STARC_CONV_ARGS, int64_t site, const double* x, const double* weight, double* y);
void STARC_KERNEL(conv_adjoint_fft_f32)(STARC_CONV_ARGS, int64_t site, const float* y, const float* weight, float* x);
void STARC_KERNEL(conv_adjoint_fft_f64)(STARC_CONV_ARGS, int64_t site, const double* y, const double* weight,
                                        double* x);
void STARC_KERNEL(conv_weight_grad_fft_f32)(STARC_CONV_ARGS, const float* x, const float* y, float* weight);
void STARC_KERNEL(conv_weight_grad_fft_f64)(STARC_CONV_ARGS, const double* x, const double* y, double* weight);
/* The kernel-spectrum cache: drop everything; how many spectra it holds (tests). */
void STARC_KERNEL(fft_cache_clear)(void);
int64_t STARC_KERNEL(fft_cache_entries)(void);

/* ---- memory of generated code ----
   Generated CPU code allocates and frees its temporaries here instead of with malloc and
   free (compiler/backend/cpu/buffer_lifetimes.h rewrites the calls) and checks every result: a
   failed allocation, or a kernel that could not get its workspace, records the size and
   the graph node (`node`: its number in the graph the code was made from, -1 unknown) on
   the calling thread, and the generated function returns at once. The caller then takes
   the record with mem_take_failure, which also frees the buffers the abandoned call still
   held: every live buffer is on a list of its thread (generated code allocates on the
   calling thread only). */
void* STARC_KERNEL(mem_alloc)(int64_t bytes, int64_t node);
void STARC_KERNEL(mem_free)(void* p);
/* Records a failed allocation (the first one of a call is kept). */
void STARC_KERNEL(mem_note_failure)(int64_t bytes, int64_t node);
/* After a kernel call: 1 if an allocation failed on this thread since the last take (a
   kernel's own failure is attributed to `node`), else 0. */
int32_t STARC_KERNEL(mem_failed)(int64_t node);
/* 1 and the failed allocation's size and node, clearing the record and freeing the
   failed call's buffers; 0 if nothing failed on this thread. */
int STARC_KERNEL(mem_take_failure)(int64_t* bytes, int64_t* node);

/* The kernels' thread count (BLAS and the FFT path; JIT: --threads). */
void STARC_KERNEL(set_threads)(int threads);

#ifdef __cplusplus
}
#endif
#endif
