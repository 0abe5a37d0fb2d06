/* The CUDA runtime of generated GPU code: see starc_cuda.h. The driver's few types are
   declared here (CUresult is an int, handles are pointers, CUdeviceptr is 64-bit), so
   the file needs neither cuda.h nor a CUDA toolkit to build. */
#include "starc_cuda.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef int CUresult;
typedef unsigned long long CUdeviceptr;
enum {
  CUDA_SUCCESS = 0,
  CU_MEM_ATTACH_GLOBAL = 1,
  CU_POINTER_ATTRIBUTE_IS_MANAGED = 8,
  CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR = 75,
  CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR = 76,
  CU_DEVICE_ATTRIBUTE_MANAGED_MEMORY = 83,
  CU_JIT_ERROR_LOG_BUFFER = 5,
  CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES = 6,
  CU_JIT_OPTIMIZATION_LEVEL = 7,
};

/* The driver entry points, by their exported (versioned) names. */
static struct {
  CUresult (*Init)(unsigned);
  CUresult (*DriverGetVersion)(int*);
  CUresult (*DeviceGetCount)(int*);
  CUresult (*DeviceGet)(int*, int);
  CUresult (*DeviceGetName)(char*, int, int);
  CUresult (*DeviceGetAttribute)(int*, int, int);
  CUresult (*DeviceTotalMem)(size_t*, int);
  CUresult (*DevicePrimaryCtxRetain)(void**, int);
  CUresult (*CtxSetCurrent)(void*);
  CUresult (*CtxSynchronize)(void);
  CUresult (*ModuleLoadDataEx)(void**, const void*, unsigned, int*, void**);
  CUresult (*ModuleUnload)(void*);
  CUresult (*ModuleGetFunction)(void**, void*, const char*);
  CUresult (*LaunchKernel)(void*, unsigned, unsigned, unsigned, unsigned, unsigned, unsigned, unsigned, void*, void**,
                           void**);
  CUresult (*StreamCreate)(void**, unsigned);
  CUresult (*StreamDestroy)(void*);
  CUresult (*StreamSynchronize)(void*);
  CUresult (*StreamWaitEvent)(void*, void*, unsigned);
  CUresult (*EventCreate)(void**, unsigned);
  CUresult (*EventDestroy)(void*);
  CUresult (*EventSynchronize)(void*);
  CUresult (*EventRecord)(void*, void*);
  CUresult (*MemAllocManaged)(CUdeviceptr*, size_t, unsigned);
  CUresult (*MemFree)(CUdeviceptr);
  CUresult (*Memcpy)(CUdeviceptr, CUdeviceptr, size_t);
  CUresult (*MemsetD32)(CUdeviceptr, unsigned, size_t);
  CUresult (*MemsetD16)(CUdeviceptr, unsigned short, size_t);
  CUresult (*PointerGetAttribute)(void*, int, CUdeviceptr);
  CUresult (*GetErrorName)(CUresult, const char**);
  CUresult (*GetErrorString)(CUresult, const char**);
} cu;

static void* context;
static int init_status = -1;
static char device_name[256];
static char init_error[1024];
static pthread_once_t init_once = PTHREAD_ONCE_INIT;
static pthread_mutex_t error_mutex = PTHREAD_MUTEX_INITIALIZER;
static char first_error[4096];

static void set_error(const char* fmt, ...) {
  pthread_mutex_lock(&error_mutex);
  if (!first_error[0]) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(first_error, sizeof first_error, fmt, ap);
    va_end(ap);
  }
  pthread_mutex_unlock(&error_mutex);
}

static int has_error(void) {
  pthread_mutex_lock(&error_mutex);
  int e = first_error[0] != 0;
  pthread_mutex_unlock(&error_mutex);
  return e;
}

/* Records a failed driver call as "what: NAME: description"; returns whether it succeeded. */
static int check(CUresult r, const char* what) {
  if (r == CUDA_SUCCESS) return 1;
  const char *name = "CUDA_ERROR_UNKNOWN", *text = "";
  if (cu.GetErrorName) cu.GetErrorName(r, &name);
  if (cu.GetErrorString) cu.GetErrorString(r, &text);
  set_error("%s: %s (%d): %s", what, name ? name : "?", r, text ? text : "");
  return 0;
}

static void load_driver(void) {
  const char* lib = getenv("STARC_CUDA_DRIVER");
  if (!lib || !*lib) lib = "libcuda.so.1";
  void* h = dlopen(lib, RTLD_NOW | RTLD_LOCAL);
  if (!h) {
    snprintf(init_error, sizeof init_error,
             "no CUDA driver: cannot load %s (%s); --device cuda needs an NVIDIA GPU with its driver installed", lib,
             dlerror());
    return;
  }
  struct {
    void** slot;
    const char* name;
  } syms[] = {
      {(void**)&cu.Init, "cuInit"},
      {(void**)&cu.DriverGetVersion, "cuDriverGetVersion"},
      {(void**)&cu.DeviceGetCount, "cuDeviceGetCount"},
      {(void**)&cu.DeviceGet, "cuDeviceGet"},
      {(void**)&cu.DeviceGetName, "cuDeviceGetName"},
      {(void**)&cu.DeviceGetAttribute, "cuDeviceGetAttribute"},
      {(void**)&cu.DeviceTotalMem, "cuDeviceTotalMem_v2"},
      {(void**)&cu.DevicePrimaryCtxRetain, "cuDevicePrimaryCtxRetain"},
      {(void**)&cu.CtxSetCurrent, "cuCtxSetCurrent"},
      {(void**)&cu.CtxSynchronize, "cuCtxSynchronize"},
      {(void**)&cu.ModuleLoadDataEx, "cuModuleLoadDataEx"},
      {(void**)&cu.ModuleUnload, "cuModuleUnload"},
      {(void**)&cu.ModuleGetFunction, "cuModuleGetFunction"},
      {(void**)&cu.LaunchKernel, "cuLaunchKernel"},
      {(void**)&cu.StreamCreate, "cuStreamCreate"},
      {(void**)&cu.StreamDestroy, "cuStreamDestroy_v2"},
      {(void**)&cu.StreamSynchronize, "cuStreamSynchronize"},
      {(void**)&cu.StreamWaitEvent, "cuStreamWaitEvent"},
      {(void**)&cu.EventCreate, "cuEventCreate"},
      {(void**)&cu.EventDestroy, "cuEventDestroy_v2"},
      {(void**)&cu.EventSynchronize, "cuEventSynchronize"},
      {(void**)&cu.EventRecord, "cuEventRecord"},
      {(void**)&cu.MemAllocManaged, "cuMemAllocManaged"},
      {(void**)&cu.MemFree, "cuMemFree_v2"},
      {(void**)&cu.Memcpy, "cuMemcpy"},
      {(void**)&cu.MemsetD32, "cuMemsetD32_v2"},
      {(void**)&cu.MemsetD16, "cuMemsetD16_v2"},
      {(void**)&cu.PointerGetAttribute, "cuPointerGetAttribute"},
      {(void**)&cu.GetErrorName, "cuGetErrorName"},
      {(void**)&cu.GetErrorString, "cuGetErrorString"},
  };
  for (size_t i = 0; i < sizeof syms / sizeof syms[0]; ++i) {
    *syms[i].slot = dlsym(h, syms[i].name);
    if (!*syms[i].slot) {
      snprintf(init_error, sizeof init_error, "the CUDA driver %s lacks %s (driver too old?)", lib, syms[i].name);
      return;
    }
  }
  const char *name = "", *text = "";
  CUresult r = cu.Init(0);
  int count = 0;
  if (r == CUDA_SUCCESS) r = cu.DeviceGetCount(&count);
  if (r != CUDA_SUCCESS || count == 0) {
    if (r != CUDA_SUCCESS) cu.GetErrorName(r, &name), cu.GetErrorString(r, &text);
    snprintf(init_error, sizeof init_error, "no CUDA device: %s%s%s",
             r == CUDA_SUCCESS ? "the driver sees no GPU" : name, r == CUDA_SUCCESS ? "" : ": ", text);
    return;
  }
  int dev = 0, major = 0, minor = 0, managed = 0;
  size_t total = 0;
  if (cu.DeviceGet(&dev, 0) != CUDA_SUCCESS || cu.DevicePrimaryCtxRetain(&context, dev) != CUDA_SUCCESS ||
      cu.CtxSetCurrent(context) != CUDA_SUCCESS) {
    snprintf(init_error, sizeof init_error, "cannot create a CUDA context on device 0");
    return;
  }
  cu.DeviceGetAttribute(&managed, CU_DEVICE_ATTRIBUTE_MANAGED_MEMORY, dev);
  if (!managed) {
    snprintf(init_error, sizeof init_error, "CUDA device 0 does not support managed memory, which starc needs");
    return;
  }
  char raw_name[200] = "";
  cu.DeviceGetName(raw_name, sizeof raw_name, dev);
  cu.DeviceGetAttribute(&major, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR, dev);
  cu.DeviceGetAttribute(&minor, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR, dev);
  cu.DeviceTotalMem(&total, dev);
  snprintf(device_name, sizeof device_name, "%s (sm_%d%d, %.1f GiB)", raw_name, major, minor,
           (double)total / (1024.0 * 1024.0 * 1024.0));
  init_status = 0;
}

int STARC_KERNEL(cuda_init)(void) {
  pthread_once(&init_once, load_driver);
  if (init_status != 0) set_error("%s", init_error);
  return init_status;
}

/* Every entry point: the device must be up and the context current on this thread. */
static int ready(void) {
  pthread_once(&init_once, load_driver);
  if (init_status != 0) {
    set_error("%s", init_error);
    return 0;
  }
  return check(cu.CtxSetCurrent(context), "cuCtxSetCurrent");
}

const char* STARC_KERNEL(cuda_error)(void) { return first_error; }

void STARC_KERNEL(cuda_clear_error)(void) {
  pthread_mutex_lock(&error_mutex);
  first_error[0] = 0;
  pthread_mutex_unlock(&error_mutex);
}

const char* STARC_KERNEL(cuda_device_name)(void) { return device_name; }

void* STARC_KERNEL(cuda_alloc)(size_t bytes) {
  if (!ready()) return NULL;
  CUdeviceptr p = 0;
  char what[96];
  snprintf(what, sizeof what, "cuMemAllocManaged(%zu bytes)", bytes);
  if (!check(cu.MemAllocManaged(&p, bytes ? bytes : 1, CU_MEM_ATTACH_GLOBAL), what)) return NULL;
  return (void*)(uintptr_t)p;
}

int STARC_KERNEL(cuda_is_managed)(const void* p) {
  if (!p || init_status != 0) return 0;
  unsigned int managed = 0;
  /* Host memory is not a CUDA pointer: the query fails, which is an answer, not an error. */
  if (cu.PointerGetAttribute(&managed, CU_POINTER_ATTRIBUTE_IS_MANAGED, (CUdeviceptr)(uintptr_t)p) != CUDA_SUCCESS)
    return 0;
  return managed != 0;
}

void STARC_KERNEL(cuda_free)(void* p) {
  if (p && ready()) check(cu.MemFree((CUdeviceptr)(uintptr_t)p), "cuMemFree");
}

int STARC_KERNEL(cuda_synchronize)(void) {
  if (!ready()) return -1;
  check(cu.CtxSynchronize(), "cuCtxSynchronize");
  return has_error() ? -1 : 0;
}

void* STARC_KERNEL(cuda_memref_alloc)(uint64_t bytes) {
  void* p = STARC_KERNEL(cuda_alloc)((size_t)bytes);
  return p ? p : malloc(bytes ? bytes : 1); /* the error is recorded; see the header */
}

void STARC_KERNEL(cuda_memref_free)(void* p) {
  if (!p) return;
  if (STARC_KERNEL(cuda_is_managed)(p))
    STARC_KERNEL(cuda_free)(p);
  else
    free(p);
}

/* ---- MLIR's GPU runtime ABI -------------------------------------------------------- */

static void* load_module(const void* image, int opt_level) {
  if (!ready()) return NULL;
  char log[8192] = "";
  int options[3] = {CU_JIT_ERROR_LOG_BUFFER, CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES, CU_JIT_OPTIMIZATION_LEVEL};
  void* values[3] = {log, (void*)(uintptr_t)sizeof log, (void*)(uintptr_t)opt_level};
  void* module = NULL;
  CUresult r = cu.ModuleLoadDataEx(&module, image, opt_level >= 0 ? 3 : 2, options, values);
  if (r != CUDA_SUCCESS) {
    char what[8300];
    snprintf(what, sizeof what, "cuModuleLoadDataEx (loading the GPU kernels)%s%s", log[0] ? ": " : "", log);
    check(r, what);
    return NULL;
  }
  return module;
}

void* STARC_KERNEL(mgpuModuleLoad)(void* data, size_t size) {
  (void)size; /* PTX is NUL-terminated text, a cubin/fatbin carries its own size */
  return load_module(data, -1);
}

void* STARC_KERNEL(mgpuModuleLoadJIT)(void* data, int opt_level) { return load_module(data, opt_level); }

void STARC_KERNEL(mgpuModuleUnload)(void* module) {
  if (module && ready()) check(cu.ModuleUnload(module), "cuModuleUnload");
}

void* STARC_KERNEL(mgpuModuleGetFunction)(void* module, const char* name) {
  if (!module || !ready()) return NULL;
  void* f = NULL;
  char what[300];
  snprintf(what, sizeof what, "cuModuleGetFunction(%s)", name);
  check(cu.ModuleGetFunction(&f, module, name), what);
  return f;
}

void STARC_KERNEL(mgpuLaunchKernel)(void* function, intptr_t gx, intptr_t gy, intptr_t gz, intptr_t bx, intptr_t by,
                                    intptr_t bz, int32_t smem, void* stream, void** params, void** extra,
                                    size_t param_count) {
  (void)param_count;
  /* After an error the context may be unusable and results are wrong anyway: the step
     runs to its end without device work and the executor reports the first error. */
  if (!function || has_error() || !ready()) return;
  if (gx <= 0 || gy <= 0 || gz <= 0) return; /* an empty grid (a zero-size tensor) */
  char what[160];
  snprintf(what, sizeof what, "cuLaunchKernel(grid %ldx%ldx%ld, block %ldx%ldx%ld)", (long)gx, (long)gy, (long)gz,
           (long)bx, (long)by, (long)bz);
  check(cu.LaunchKernel(function, (unsigned)gx, (unsigned)gy, (unsigned)gz, (unsigned)bx, (unsigned)by, (unsigned)bz,
                        (unsigned)smem, stream, params, extra),
        what);
}

void* STARC_KERNEL(mgpuStreamCreate)(void) {
  void* s = NULL;
  if (ready()) check(cu.StreamCreate(&s, 0), "cuStreamCreate");
  return s;
}

void STARC_KERNEL(mgpuStreamDestroy)(void* stream) {
  if (stream && ready()) check(cu.StreamDestroy(stream), "cuStreamDestroy");
}

void STARC_KERNEL(mgpuStreamSynchronize)(void* stream) {
  if (ready()) check(cu.StreamSynchronize(stream), "cuStreamSynchronize (a kernel failed)");
}

void STARC_KERNEL(mgpuStreamWaitEvent)(void* stream, void* event) {
  if (ready()) check(cu.StreamWaitEvent(stream, event, 0), "cuStreamWaitEvent");
}

void* STARC_KERNEL(mgpuEventCreate)(void) {
  void* e = NULL;
  if (ready()) check(cu.EventCreate(&e, 2 /* CU_EVENT_DISABLE_TIMING */), "cuEventCreate");
  return e;
}

void STARC_KERNEL(mgpuEventDestroy)(void* event) {
  if (event && ready()) check(cu.EventDestroy(event), "cuEventDestroy");
}

void STARC_KERNEL(mgpuEventSynchronize)(void* event) {
  if (ready()) check(cu.EventSynchronize(event), "cuEventSynchronize");
}

void STARC_KERNEL(mgpuEventRecord)(void* event, void* stream) {
  if (ready()) check(cu.EventRecord(event, stream), "cuEventRecord");
}

void* STARC_KERNEL(mgpuMemAlloc)(uint64_t bytes, void* stream, int8_t host_shared) {
  (void)stream, (void)host_shared; /* every allocation is managed: host and device share it */
  return STARC_KERNEL(cuda_memref_alloc)(bytes);
}

void STARC_KERNEL(mgpuMemFree)(void* p, void* stream) {
  (void)stream;
  STARC_KERNEL(cuda_memref_free)(p);
}

void STARC_KERNEL(mgpuMemcpy)(void* dst, void* src, size_t bytes, void* stream) {
  (void)stream;
  if (bytes && ready()) check(cu.Memcpy((CUdeviceptr)(uintptr_t)dst, (CUdeviceptr)(uintptr_t)src, bytes), "cuMemcpy");
}

void STARC_KERNEL(mgpuMemset32)(void* dst, uint32_t value, size_t count, void* stream) {
  (void)stream;
  if (count && ready()) check(cu.MemsetD32((CUdeviceptr)(uintptr_t)dst, value, count), "cuMemsetD32");
}

void STARC_KERNEL(mgpuMemset16)(void* dst, uint16_t value, size_t count, void* stream) {
  (void)stream;
  if (count && ready()) check(cu.MemsetD16((CUdeviceptr)(uintptr_t)dst, value, count), "cuMemsetD16");
}

void STARC_KERNEL(mgpuSetDefaultDevice)(int32_t device) {
  if (device != 0) set_error("starc uses CUDA device 0; device %d was asked for", device);
}
