/* Convolution in the frequency domain (see starc_kernels.h): FFTW transforms, channel
   mixing as a batched complex matmul over frequencies, and a cache of kernel spectra.
   The per-type code is in starc_fft_conv_impl.h; this file holds what both types share:
   the FFT sizes, the thread fan-out and the spectrum cache.

   Threads are plain pthreads rather than OpenMP: this file is linked into
   ahead-of-time libraries that carry no OpenMP runtime, and a process must not end up
   with two of them (the JIT's generated code uses LLVM's libomp). */
#include <fftw3.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "starc_kernels.h"

static int fft_threads = 1;

void STARC_KERNEL(set_fft_threads)(int threads) { fft_threads = threads > 0 ? threads : 1; }

/* A size FFTW transforms fast (2^a 3^b 5^c 7^d, even), at least n. */
static int64_t smooth_size(int64_t n) {
  for (int64_t m = n < 2 ? 2 : n + (n & 1);; m += 2) {
    int64_t r = m;
    for (int64_t p = 2; p <= 7; ++p)
      while (r % p == 0) r /= p;
    if (r == 1) return m;
  }
}

/* Spectrum row stride: a multiple of 16 elements, so that every row of an
   fftw_malloc'd array has the alignment the plans were made for. */
static int64_t row_stride(int64_t f) { return (f + 15) / 16 * 16; }

static void* checked_malloc(size_t bytes) {
  void* p = fftw_malloc(bytes ? bytes : 1);
  if (!p) abort(); /* as the generated code's own allocations would fail */
  return p;
}

/* ---- threads: run fn(ctx, begin, end) over [0, n) in fft_threads contiguous parts ---- */

typedef void (*range_fn)(void* ctx, int64_t begin, int64_t end);
typedef struct {
  range_fn fn;
  void* ctx;
  int64_t begin, end;
} range_job;

static void* run_range(void* arg) {
  range_job* j = (range_job*)arg;
  j->fn(j->ctx, j->begin, j->end);
  return NULL;
}

static void parallel_for(int64_t n, range_fn fn, void* ctx) {
  enum { kMaxThreads = 64 };
  int t = fft_threads < kMaxThreads ? fft_threads : kMaxThreads;
  if (t > n) t = (int)n;
  if (t <= 1) {
    if (n > 0) fn(ctx, 0, n);
    return;
  }
  range_job jobs[kMaxThreads];
  pthread_t ids[kMaxThreads];
  int started[kMaxThreads] = {0};
  for (int i = 0; i < t; ++i) jobs[i] = (range_job){fn, ctx, n * i / t, n * (i + 1) / t};
  for (int i = 1; i < t; ++i) started[i] = pthread_create(&ids[i], NULL, run_range, &jobs[i]) == 0;
  run_range(&jobs[0]);
  for (int i = 1; i < t; ++i) {
    if (started[i]) pthread_join(ids[i], NULL);
    else run_range(&jobs[i]); /* no thread to be had: do its share here */
  }
}

/* ---- FFTW plans: one per (type, direction, size), made once, executed concurrently ---- */

static pthread_mutex_t planner_lock = PTHREAD_MUTEX_INITIALIZER; /* the FFTW planner is not thread-safe */

/* ---- the kernel-spectrum cache ----------------------------------------------------------
   conv and conv_adjoint transform their weight. In inference the weight is the same on
   every call and in training the forward conv and the backward adjoint of one step see
   the same weight, so spectra are kept, keyed by the call site (the weight's graph
   value), the geometry, and a copy of the weight itself: a hit is exact, never a guess.
   One entry per key (a new weight replaces the old spectrum), at most kCacheBytes in all
   (least recently used entries go first). */

typedef struct {
  int64_t site, type_size, o, c, kh, kw, dh, dw, mh, mw;
} spectrum_key;

typedef struct spectrum_entry {
  spectrum_key key;
  void* weight; /* a copy, o*c*kh*kw elements */
  size_t weight_bytes;
  void *re, *im; /* o*c rows of row_stride(F) elements */
  size_t bytes;
  int64_t last_use;
  int refs;  /* callers using re/im now */
  int stale; /* replaced or evicted while in use: freed when released */
  struct spectrum_entry* next;
} spectrum_entry;

static pthread_mutex_t cache_lock = PTHREAD_MUTEX_INITIALIZER;
static spectrum_entry* cache_head;
static size_t cache_bytes;
static int64_t cache_clock;
static const size_t kCacheBytes = (size_t)256 << 20;

static void entry_free(spectrum_entry* e) {
  fftw_free(e->weight);
  fftw_free(e->re);
  fftw_free(e->im);
  free(e);
}

/* Unlinks e (lock held); frees it unless a caller still reads it. */
static void cache_drop(spectrum_entry** link) {
  spectrum_entry* e = *link;
  *link = e->next;
  cache_bytes -= e->bytes;
  if (e->refs > 0) e->stale = 1;
  else entry_free(e);
}

static spectrum_entry* cache_find(const spectrum_key* k, const void* weight, size_t weight_bytes) {
  pthread_mutex_lock(&cache_lock);
  spectrum_entry* hit = NULL;
  for (spectrum_entry* e = cache_head; e; e = e->next)
    if (!memcmp(&e->key, k, sizeof *k)) {
      if (e->weight_bytes == weight_bytes && !memcmp(e->weight, weight, weight_bytes)) {
        hit = e;
        e->refs++;
        e->last_use = ++cache_clock;
      }
      break;
    }
  pthread_mutex_unlock(&cache_lock);
  return hit;
}

/* Adds a freshly computed entry (refs = 1 for the caller), replacing the key's old one. */
static void cache_insert(spectrum_entry* n) {
  pthread_mutex_lock(&cache_lock);
  for (spectrum_entry** link = &cache_head; *link; link = &(*link)->next)
    if (!memcmp(&(*link)->key, &n->key, sizeof n->key)) {
      cache_drop(link);
      break;
    }
  while (cache_head && cache_bytes + n->bytes > kCacheBytes) { /* evict the least recently used */
    spectrum_entry **oldest = &cache_head;
    for (spectrum_entry** link = &cache_head; *link; link = &(*link)->next)
      if ((*link)->last_use < (*oldest)->last_use) oldest = link;
    cache_drop(oldest);
  }
  n->refs = 1;
  n->last_use = ++cache_clock;
  n->next = cache_head;
  cache_head = n;
  cache_bytes += n->bytes;
  pthread_mutex_unlock(&cache_lock);
}

static void cache_release(spectrum_entry* e) {
  pthread_mutex_lock(&cache_lock);
  int gone = --e->refs == 0 && e->stale;
  pthread_mutex_unlock(&cache_lock);
  if (gone) entry_free(e);
}

void STARC_KERNEL(fft_cache_clear)(void) {
  pthread_mutex_lock(&cache_lock);
  while (cache_head) cache_drop(&cache_head);
  pthread_mutex_unlock(&cache_lock);
}

int64_t STARC_KERNEL(fft_cache_entries)(void) {
  pthread_mutex_lock(&cache_lock);
  int64_t n = 0;
  for (spectrum_entry* e = cache_head; e; e = e->next) ++n;
  pthread_mutex_unlock(&cache_lock);
  return n;
}

/* ---- the FFT geometry of one call ---- */

typedef struct {
  int64_t n, c, h, w, o, kh, kw, oh, ow, ph, pw, dh, dw;
  int64_t mh, mw;      /* transform sizes: no wrap-around for any of the three ops */
  int64_t fw, f, fs;   /* complex columns (mw/2+1), per-row spectrum size mh*fw, its stride */
} fft_geo;

static fft_geo fft_geo_of(int64_t n, int64_t c, int64_t h, int64_t w, int64_t o, int64_t kh, int64_t kw, int64_t oh,
                          int64_t ow, int64_t ph, int64_t pw, int64_t dh, int64_t dw) {
  fft_geo g = {n, c, h, w, o, kh, kw, oh, ow, ph, pw, dh, dw, 0, 0, 0, 0, 0};
  /* The input with its padding, and the full linear convolution of the output with the
     dilated kernel, must both fit in one period. */
  int64_t need_h = h + 2 * ph, need_w = w + 2 * pw;
  if (oh + dh * (kh - 1) > need_h) need_h = oh + dh * (kh - 1);
  if (ow + dw * (kw - 1) > need_w) need_w = ow + dw * (kw - 1);
  g.mh = need_h > 1 ? smooth_size(need_h) : 1;
  g.mw = smooth_size(need_w);
  g.fw = g.mw / 2 + 1;
  g.f = g.mh * g.fw;
  g.fs = row_stride(g.f);
  return g;
}

enum { CONJ_NONE, CONJ_A, CONJ_B }; /* which mixing operand is conjugated */

#define T float
#define FFTW(name) fftwf_##name
#define TSUF _f32
#include "starc_fft_conv_impl.h"
#undef T
#undef FFTW
#undef TSUF

#define T double
#define FFTW(name) fftw_##name
#define TSUF _f64
#include "starc_fft_conv_impl.h"
