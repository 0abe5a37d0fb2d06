/* Convolution in the frequency domain (see starc_kernels.h): FFTW transforms, channel
   mixing as a batched complex matmul over frequencies, and a cache of kernel spectra.
   The per-type code is in starc_fft_conv_impl.h; this file holds what both types share:
   the FFT sizes, the thread fan-out and the spectrum cache.

   Threads: compiled with OpenMP (the JIT, whose generated code runs on LLVM's libomp,
   and `starc compile --threads N`, which links libomp), the work runs on that same
   pool: a second pool's threads would compete with its spinning workers for the
   cores. Without it (single-threaded libraries, which carry no OpenMP runtime), plain
   pthreads. */
#include <fftw3.h>
#include <pthread.h>
#include <stdatomic.h>
#ifdef _OPENMP
#include <omp.h>
#endif
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

/* Spectra are stored in tiles: the frequencies of every row are cut into kTile-long
   pieces, and tile t of all rows is one contiguous block ([tile][row][kTile]), so that
   the channel mixing of one block of frequencies reads contiguous memory (row-major
   rows 10 KiB apart cost it a TLB miss per row). A row holds row_stride(F) elements,
   the tail zero. */
enum { kTile = 64 };
static int64_t row_stride(int64_t f) { return (f + kTile - 1) / kTile * kTile; }
static inline int64_t tile_at(int64_t rows, int64_t row, int64_t f) {
  return (f / kTile) * rows * kTile + row * kTile + f % kTile;
}

/* A call's workspace; NULL when it cannot be had, noted in *nomem (one per call, shared by
   its parts on any thread), which the call reports on its own thread (fft_done). */
static void* workspace(size_t bytes, _Atomic int64_t* nomem) {
  void* p = fftw_malloc(bytes ? bytes : 1);
  if (!p) atomic_store(nomem, (int64_t)bytes);
  return p;
}
static void wfree(void* p) {
  if (p) fftw_free(p);
}

/* ---- threads: run fn(ctx, begin, end) over [0, n) in fft_threads contiguous parts ---- */

typedef void (*range_fn)(void* ctx, int64_t begin, int64_t end);
typedef struct {
  range_fn fn;
  void* ctx;
  int64_t begin, end;
} range_job;

#ifndef _OPENMP
static void* run_range(void* arg) {
  range_job* j = (range_job*)arg;
  j->fn(j->ctx, j->begin, j->end);
  return NULL;
}
#endif

static void parallel_for(int64_t n, range_fn fn, void* ctx) {
  enum { kMaxThreads = 64 };
  int t = fft_threads < kMaxThreads ? fft_threads : kMaxThreads;
  if (t > n) t = (int)n;
  if (t <= 1) {
    if (n > 0) fn(ctx, 0, n);
    return;
  }
#ifdef _OPENMP
#pragma omp parallel num_threads(t)
  {
    int64_t i = omp_get_thread_num(), parts = omp_get_num_threads();
    fn(ctx, n * i / parts, n * (i + 1) / parts);
  }
#else
  range_job jobs[kMaxThreads];
  pthread_t ids[kMaxThreads];
  int started[kMaxThreads] = {0};
  for (int i = 0; i < t; ++i) jobs[i] = (range_job){fn, ctx, n * i / t, n * (i + 1) / t};
  for (int i = 1; i < t; ++i) started[i] = pthread_create(&ids[i], NULL, run_range, &jobs[i]) == 0;
  run_range(&jobs[0]);
  for (int i = 1; i < t; ++i) {
    if (started[i])
      pthread_join(ids[i], NULL);
    else
      run_range(&jobs[i]); /* no thread to be had: do its share here */
  }
#endif
}

/* ---- FFTW plans: one per (type, direction, size), made once, executed concurrently ---- */

static pthread_mutex_t planner_lock = PTHREAD_MUTEX_INITIALIZER; /* the FFTW planner is not thread-safe */

/* ---- the kernel-spectrum cache ----------------------------------------------------------
   conv and conv_adjoint transform their weight. In inference the weight is the same on
   every call and in training the forward conv and the backward adjoint of one step see
   the same weight, so spectra are kept, keyed by the call site (the weight's graph
   value), the geometry, and a copy of the weight itself: a hit is exact, never a guess.
   One entry per key (a new weight replaces the old spectrum), at most cache_limit bytes
   in all ($STARC_FFT_CACHE_MB, default 512). When full, only cold entries (unused for
   4x as many lookups as there are entries) make room; otherwise the new spectrum is used
   once and dropped. Least-recently-used eviction would miss on every call of a model
   whose spectra cycle through more than the limit (FNet's are 460 MB); this way the
   ones that fit keep hitting. */

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
static int64_t cache_clock, cache_entries;

static size_t cache_limit(void) {
  static size_t limit;
  if (!limit) {
    const char* mb = getenv("STARC_FFT_CACHE_MB");
    limit = (mb && *mb ? (size_t)strtoull(mb, NULL, 10) : 512) << 20;
    if (!limit) limit = 1; /* 0: cache nothing */
  }
  return limit;
}

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
  cache_entries--;
  if (e->refs > 0)
    e->stale = 1;
  else
    entry_free(e);
}

static spectrum_entry* cache_find(const spectrum_key* k, const void* weight, size_t weight_bytes) {
  pthread_mutex_lock(&cache_lock);
  spectrum_entry* hit = NULL;
  ++cache_clock;
  for (spectrum_entry* e = cache_head; e; e = e->next)
    if (!memcmp(&e->key, k, sizeof *k)) {
      if (e->weight_bytes == weight_bytes && !memcmp(e->weight, weight, weight_bytes)) {
        hit = e;
        e->refs++;
        e->last_use = cache_clock;
      }
      break;
    }
  pthread_mutex_unlock(&cache_lock);
  return hit;
}

/* Adds a freshly computed entry (refs = 1 for the caller), replacing the key's old one;
   when it does not fit, it is only marked stale, so that releasing it frees it. */
static void cache_insert(spectrum_entry* n) {
  pthread_mutex_lock(&cache_lock);
  for (spectrum_entry** link = &cache_head; *link; link = &(*link)->next)
    if (!memcmp(&(*link)->key, &n->key, sizeof n->key)) {
      cache_drop(link);
      break;
    }
  int64_t now = ++cache_clock, cold_after = 4 * (cache_entries + 1);
  for (spectrum_entry** link = &cache_head; *link && cache_bytes + n->bytes > cache_limit();)
    if (now - (*link)->last_use > cold_after)
      cache_drop(link);
    else
      link = &(*link)->next;
  n->refs = 1;
  n->last_use = now;
  if (cache_bytes + n->bytes <= cache_limit()) {
    n->next = cache_head;
    cache_head = n;
    cache_bytes += n->bytes;
    cache_entries++;
  } else {
    n->stale = 1;
  }
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
  int64_t n = cache_entries;
  pthread_mutex_unlock(&cache_lock);
  return n;
}

/* ---- the FFT geometry of one call ---- */

typedef struct {
  int64_t n, c, h, w, o, kh, kw, oh, ow, ph, pw, dh, dw; /* c, o: per group */
  int64_t gr;                                            /* groups */
  int64_t mh, mw;                                        /* transform sizes: no wrap-around for any of the three ops */
  int64_t fw, f, fs;      /* complex columns (mw/2+1), per-row spectrum size mh*fw, its stride */
  _Atomic int64_t* nomem; /* the call's failed workspace (workspace()) */
} fft_geo;

static fft_geo fft_geo_of(int64_t n, int64_t c, int64_t h, int64_t w, int64_t o, int64_t kh, int64_t kw, int64_t oh,
                          int64_t ow, int64_t ph, int64_t pw, int64_t dh, int64_t dw) {
  fft_geo g = {n, c, h, w, o, kh, kw, oh, ow, ph, pw, dh, dw, 1, 0, 0, 0, 0, 0, NULL};
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

/* After a call: its failed workspace, if any, recorded for the generated code's check. */
static void fft_done(const fft_geo* g) {
  int64_t bytes = atomic_load(g->nomem);
  if (bytes) STARC_KERNEL(mem_note_failure)(bytes, -1);
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
