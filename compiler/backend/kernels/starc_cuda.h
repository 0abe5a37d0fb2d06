/* compiler/backend/kernels: the CUDA runtime of generated GPU code, over the CUDA driver
   API opened with dlopen("libcuda.so.1") (or $STARC_CUDA_DRIVER), so that starc and its
   AOT libraries build and run everywhere; only `--device cuda` needs a driver.

   Two faces:
   - the mgpu* functions that MLIR's gpu-to-llvm lowering calls (module load, launch,
     streams; same signatures as MLIR's CudaRuntimeWrappers, which Debian does not ship),
     and the allocator of generated code (memref.alloc with use-generic-functions);
   - a small API for the executor: init, managed allocations, errors.

   All memory is CUDA managed (unified) memory: one pointer is valid on the host and
   the device, so host parts of a step (a scalar op, a strided copy) read device
   results after the launch that wrote them has synchronised. Every launch is
   synchronous (gpu-to-llvm's non-async form). A failing driver call never aborts: the
   first error is kept (starc_cuda_error) and later launches are skipped, so the
   executor reports it after the step. Plain C for the same reason as starc_kernels.c. */
#ifndef STARC_CUDA_H
#define STARC_CUDA_H

#include <stddef.h>
#include <stdint.h>

#include "starc_kernels.h" /* STARC_KERNEL(name) */

#ifdef __cplusplus
extern "C" {
#endif

/* 0 when a CUDA device is usable (loads the driver and creates the context once);
   otherwise -1, and starc_cuda_error() says why ("no CUDA driver: ..."). */
int STARC_KERNEL(cuda_init)(void);
/* The first error since the last clear ("" if none), e.g. "cuLaunchKernel (kernel
   matmul_f32): CUDA_ERROR_ILLEGAL_ADDRESS: an illegal memory access was encountered". */
const char* STARC_KERNEL(cuda_error)(void);
void STARC_KERNEL(cuda_clear_error)(void);
/* "NVIDIA H200 (sm_90, 139.8 GiB)" after a successful init. */
const char* STARC_KERNEL(cuda_device_name)(void);
/* Managed memory, 256-byte aligned; NULL (and an error) on failure. */
void* STARC_KERNEL(cuda_alloc)(size_t bytes);
void STARC_KERNEL(cuda_free)(void* p);
/* Whether p points into managed memory of this context (then no copy is needed). */
int STARC_KERNEL(cuda_is_managed)(const void* p);
/* Waits for all device work; -1 (and an error) if any failed. */
int STARC_KERNEL(cuda_synchronize)(void);

/* The allocator generated code calls (finalize-memref-to-llvm{use-generic-functions}):
   managed memory, so kernels and host code share every buffer. If the device is out
   of memory it falls back to host memory and records the error: the step then fails
   with that message instead of crashing on a null pointer. */
void* STARC_KERNEL(cuda_memref_alloc)(uint64_t bytes);
void STARC_KERNEL(cuda_memref_free)(void* p);

/* MLIR's GPU runtime ABI (opaque handles as void*). */
void* STARC_KERNEL(mgpuModuleLoad)(void* data, size_t size);
void* STARC_KERNEL(mgpuModuleLoadJIT)(void* data, int opt_level);
void STARC_KERNEL(mgpuModuleUnload)(void* module);
void* STARC_KERNEL(mgpuModuleGetFunction)(void* module, const char* name);
void STARC_KERNEL(mgpuLaunchKernel)(void* function, intptr_t gx, intptr_t gy, intptr_t gz, intptr_t bx, intptr_t by,
                                    intptr_t bz, int32_t smem, void* stream, void** params, void** extra,
                                    size_t param_count);
void* STARC_KERNEL(mgpuStreamCreate)(void);
void STARC_KERNEL(mgpuStreamDestroy)(void* stream);
void STARC_KERNEL(mgpuStreamSynchronize)(void* stream);
void STARC_KERNEL(mgpuStreamWaitEvent)(void* stream, void* event);
void* STARC_KERNEL(mgpuEventCreate)(void);
void STARC_KERNEL(mgpuEventDestroy)(void* event);
void STARC_KERNEL(mgpuEventSynchronize)(void* event);
void STARC_KERNEL(mgpuEventRecord)(void* event, void* stream);
void* STARC_KERNEL(mgpuMemAlloc)(uint64_t bytes, void* stream, int8_t host_shared);
void STARC_KERNEL(mgpuMemFree)(void* p, void* stream);
void STARC_KERNEL(mgpuMemcpy)(void* dst, void* src, size_t bytes, void* stream);
void STARC_KERNEL(mgpuMemset32)(void* dst, uint32_t value, size_t count, void* stream);
void STARC_KERNEL(mgpuMemset16)(void* dst, uint16_t value, size_t count, void* stream);
void STARC_KERNEL(mgpuSetDefaultDevice)(int32_t device);

#ifdef __cplusplus
}
#endif
#endif
