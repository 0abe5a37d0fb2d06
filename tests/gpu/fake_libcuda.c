/* A stand-in for the CUDA driver (libcuda.so.1) that runs on any machine, for the tests
   of starc's GPU host side (tests/unit/gpu_test.cpp, loaded through $STARC_CUDA_DRIVER).
   It executes no kernels. It checks what a real driver checks before running one:
   - the module is PTX text for sm_90 and defines each function asked for;
   - a launch has a grid of at most 2^31-1 x 65535 x 65535 blocks and at most 1024
     threads a block, and its kernel came from a loaded module;
   - a pointer is managed memory only if it was allocated as such.
   Every call is appended to $FAKE_CUDA_LOG ("load ptx|fatbin <bytes>", "function <name>",
   "launch <name> <gx> <gy> <gz> <bx> <by> <bz> <kernel parameters>"). $FAKE_CUDA_FAIL=launch or
   =load makes that call fail as a broken kernel or PTX would. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef int CUresult;
typedef unsigned long long CUdeviceptr;

enum { OK = 0, INVALID_VALUE = 1, INVALID_IMAGE = 200, INVALID_PTX = 218, NOT_FOUND = 500, ILLEGAL_ADDRESS = 700 };

static void logf_(const char* fmt, const char* s, const long* v, int nv) {
  const char* path = getenv("FAKE_CUDA_LOG");
  if (!path) return;
  FILE* f = fopen(path, "a");
  if (!f) return;
  fprintf(f, fmt, s);
  for (int i = 0; i < nv; ++i) fprintf(f, " %ld", v[i]);
  fputc('\n', f);
  fclose(f);
}

static int failing(const char* what) {
  const char* f = getenv("FAKE_CUDA_FAIL");
  return f && strcmp(f, what) == 0;
}

CUresult cuInit(unsigned flags) { return flags == 0 ? OK : INVALID_VALUE; }
CUresult cuDriverGetVersion(int* v) { return *v = 12080, OK; }
CUresult cuDeviceGetCount(int* n) { return *n = 1, OK; }
CUresult cuDeviceGet(int* d, int i) { return i == 0 ? (*d = 0, OK) : INVALID_VALUE; }
CUresult cuDeviceGetName(char* name, int len, int d) {
  (void)d;
  snprintf(name, (size_t)len, "starc fake GPU");
  return OK;
}
CUresult cuDeviceGetAttribute(int* v, int attr, int d) {
  (void)d;
  *v = attr == 75 ? 9 : attr == 76 ? 0 : attr == 83 ? 1 : 0;
  return OK;
}
CUresult cuDeviceTotalMem_v2(size_t* bytes, int d) {
  (void)d;
  return *bytes = (size_t)1 << 30, OK;
}
static int context_token;
CUresult cuDevicePrimaryCtxRetain(void** ctx, int d) {
  (void)d;
  return *ctx = &context_token, OK;
}
CUresult cuCtxSetCurrent(void* ctx) { return ctx == &context_token ? OK : INVALID_VALUE; }
CUresult cuCtxSynchronize(void) { return OK; }

/* ---- modules and launches ---------------------------------------------------------- */

struct function {
  char name[256];
  long params; /* the kernel's .param count, from its PTX signature */
  struct function* next;
};
struct module {
  char* image; /* PTX text, or a fatbin's bytes */
  size_t size;
  /* Its functions: like a real driver's, they belong to the module and go with it (and
     stay reachable while it is loaded, as LeakSanitizer checks in the asan build). */
  struct function* functions;
};

/* A fatbin (what `starc compile` embeds where the toolkit made a cubin) starts with this
   magic and a header giving its size; its cubin's symbol table names every kernel. */
#define FATBIN_MAGIC 0xBA55ED50u
#define FATBIN_WRAPPER_MAGIC 0x466243B1u

CUresult cuModuleLoadDataEx(void** out, const void* image, unsigned n, int* options, void** values) {
  char* log = NULL;
  size_t log_size = 0, size;
  for (unsigned i = 0; i < n; ++i) {
    if (options[i] == 5) log = (char*)values[i];
    if (options[i] == 6) log_size = (size_t)(uintptr_t)values[i];
  }
  uint32_t magic;
  memcpy(&magic, image, 4);
  int fatbin = magic == FATBIN_MAGIC;
  if (fatbin) {
    uint16_t header;
    uint64_t body;
    memcpy(&header, (const char*)image + 6, 2);
    memcpy(&body, (const char*)image + 8, 8);
    size = header + body;
  } else {
    size = strlen((const char*)image) + 1;
  }
  long len = (long)size;
  logf_(fatbin ? "load %sfatbin" : "load %sptx", "", &len, 1);
  int ok = fatbin || (strstr((const char*)image, ".target sm_90") && strstr((const char*)image, ".entry"));
  if (failing("load") || !ok) {
    if (log && log_size) snprintf(log, log_size, "ptxas fatal   : fake driver: not sm_90 PTX with an .entry");
    return failing("load") ? INVALID_PTX : INVALID_IMAGE;
  }
  struct module* m = malloc(sizeof *m);
  m->image = malloc(size);
  memcpy(m->image, image, size);
  m->size = size;
  m->functions = NULL;
  *out = m;
  return OK;
}

CUresult cuModuleUnload(void* mod) {
  struct module* m = mod;
  while (m->functions) {
    struct function* f = m->functions;
    m->functions = f->next;
    free(f);
  }
  free(m->image);
  free(m);
  return OK;
}

static const char* find(const char* hay, size_t n, const char* needle) {
  size_t k = strlen(needle);
  for (size_t i = 0; i + k <= n; ++i)
    if (memcmp(hay + i, needle, k) == 0) return hay + i;
  return NULL;
}

CUresult cuModuleGetFunction(void** out, void* mod, const char* name) {
  struct module* m = mod;
  char entry[300];
  snprintf(entry, sizeof entry, ".entry %s(", name);
  logf_("function %s", name, NULL, 0);
  const char* at = find(m->image, m->size, entry);
  /* In a fatbin the PTX may be compressed: the cubin's symbol name (NUL-terminated) will do. */
  char symbol[300];
  snprintf(symbol, sizeof symbol, "%c%s", 0, name);
  if (!at && !find(m->image, m->size, symbol)) return NOT_FOUND;
  struct function* f = malloc(sizeof *f);
  snprintf(f->name, sizeof f->name, "%s", name);
  f->params = -1; /* unknown without the PTX signature */
  if (at) {
    f->params = 0;
    const char* end = memchr(at, ')', m->size - (size_t)(at - m->image));
    for (const char* p = at; end && (p = find(p, (size_t)(end - p), ".param")) != NULL; p += 6) ++f->params;
  }
  f->next = m->functions;
  m->functions = f;
  *out = f;
  return OK;
}

CUresult cuLaunchKernel(void* fn, unsigned gx, unsigned gy, unsigned gz, unsigned bx, unsigned by, unsigned bz,
                        unsigned smem, void* stream, void** params, void** extra) {
  (void)smem, (void)stream, (void)extra;
  const struct function* f = fn;
  long v[7] = {gx, gy, gz, bx, by, bz, f->params};
  logf_("launch %s", f->name, v, 7);
  if (gx == 0 || gy == 0 || gz == 0 || gy > 65535 || gz > 65535 || bx * by * bz == 0 || bx * by * bz > 1024)
    return INVALID_VALUE;
  for (long i = 0; i < f->params; ++i) /* one argument pointer per declared parameter (when known) */
    if (!params || !params[i]) return INVALID_VALUE;
  return failing("launch") ? ILLEGAL_ADDRESS : OK;
}

static int stream_token, event_token;
CUresult cuStreamCreate(void** s, unsigned flags) {
  (void)flags;
  return *s = &stream_token, OK;
}
CUresult cuStreamDestroy_v2(void* s) { return s == &stream_token ? OK : INVALID_VALUE; }
CUresult cuStreamSynchronize(void* s) { return s == &stream_token || !s ? OK : INVALID_VALUE; }
CUresult cuStreamWaitEvent(void* s, void* e, unsigned flags) {
  (void)s, (void)e, (void)flags;
  return OK;
}
CUresult cuEventCreate(void** e, unsigned flags) {
  (void)flags;
  return *e = &event_token, OK;
}
CUresult cuEventDestroy_v2(void* e) { return e == &event_token ? OK : INVALID_VALUE; }
CUresult cuEventSynchronize(void* e) { return e == &event_token ? OK : INVALID_VALUE; }
CUresult cuEventRecord(void* e, void* s) {
  (void)s;
  return e == &event_token ? OK : INVALID_VALUE;
}

/* ---- memory: managed blocks are remembered, so that a query on host memory fails ---- */

static void** live;
static size_t n_live, cap_live;

static long find_live(CUdeviceptr p) {
  for (size_t i = 0; i < n_live; ++i)
    if ((CUdeviceptr)(uintptr_t)live[i] == p) return (long)i;
  return -1;
}

CUresult cuMemAllocManaged(CUdeviceptr* p, size_t bytes, unsigned flags) {
  if (flags != 1 || bytes == 0) return INVALID_VALUE;
  void* b = aligned_alloc(256, ((bytes + 255) / 256) * 256);
  if (!b) return 2;    /* CUDA_ERROR_OUT_OF_MEMORY */
  memset(b, 0, bytes); /* no kernel runs here: zeros keep a training loop finite */
  if (n_live == cap_live) {
    cap_live = cap_live ? 2 * cap_live : 1024;
    live = realloc(live, cap_live * sizeof *live);
  }
  live[n_live++] = b;
  *p = (CUdeviceptr)(uintptr_t)b;
  return OK;
}

CUresult cuMemFree_v2(CUdeviceptr p) {
  long i = find_live(p);
  if (i < 0) return INVALID_VALUE;
  free(live[i]);
  live[i] = live[--n_live];
  return OK;
}

CUresult cuPointerGetAttribute(void* out, int attr, CUdeviceptr p) {
  if (attr != 8 || find_live(p) < 0) return INVALID_VALUE; /* host memory is no CUDA pointer */
  *(unsigned*)out = 1;
  return OK;
}

CUresult cuMemcpy(CUdeviceptr d, CUdeviceptr s, size_t n) {
  memmove((void*)(uintptr_t)d, (const void*)(uintptr_t)s, n);
  return OK;
}
CUresult cuMemsetD32_v2(CUdeviceptr d, unsigned v, size_t n) {
  for (size_t i = 0; i < n; ++i) ((uint32_t*)(uintptr_t)d)[i] = v;
  return OK;
}
CUresult cuMemsetD16_v2(CUdeviceptr d, unsigned short v, size_t n) {
  for (size_t i = 0; i < n; ++i) ((uint16_t*)(uintptr_t)d)[i] = v;
  return OK;
}

CUresult cuGetErrorName(CUresult r, const char** s) {
  *s = r == ILLEGAL_ADDRESS ? "CUDA_ERROR_ILLEGAL_ADDRESS"
       : r == INVALID_PTX   ? "CUDA_ERROR_INVALID_PTX"
       : r == INVALID_IMAGE ? "CUDA_ERROR_INVALID_IMAGE"
       : r == NOT_FOUND     ? "CUDA_ERROR_NOT_FOUND"
       : r == INVALID_VALUE ? "CUDA_ERROR_INVALID_VALUE"
                            : "CUDA_ERROR_UNKNOWN";
  return OK;
}
CUresult cuGetErrorString(CUresult r, const char** s) {
  *s = r == ILLEGAL_ADDRESS ? "an illegal memory access was encountered"
       : r == INVALID_PTX   ? "a PTX JIT compilation failed"
       : r == NOT_FOUND     ? "named symbol not found"
       : r == INVALID_VALUE ? "invalid argument"
                            : "unknown error";
  return OK;
}
