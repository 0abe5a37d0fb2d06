/* See starc_gemm.h. Written once in starc_gemm_impl.h for a type T (TI: the integer of
   its size) and included for f32 and f64. */
#include "starc_gemm.h"

#include <string.h>

/* Vector width: what the target has (the library's --target, as -march). */
#if defined(__AVX512F__)
#define STARC_GEMM_VBYTES 64
#elif defined(__AVX__)
#define STARC_GEMM_VBYTES 32
#else
#define STARC_GEMM_VBYTES 16
#endif

#define T float
#define TI int32_t
#define TSUF _f32
#include "starc_gemm_impl.h"
#undef T
#undef TI
#undef TSUF

#define T double
#define TI int64_t
#define TSUF _f64
#include "starc_gemm_impl.h"
