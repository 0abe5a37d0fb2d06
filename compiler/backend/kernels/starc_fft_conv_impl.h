/* The FFT convolutions for one element type T (included by starc_fft_conv.c with T,
   FFTW(name) and TSUF defined). Every op is three steps over split (re, im) spectra:
   transform the rows of its operands (zero-padded to one period), mix channels per
   frequency, transform the rows of the result back and cut out the window wanted:

     conv          Y[n,o]  = sum_c X[n,c] conj(W[o,c])     y = Y back, from 0
     conv_adjoint  DX[n,c] = sum_o DY[n,o] W[o,c]          x = DX back, from the padding
     weight_grad   DW[o,c] = sum_n conj(DY[n,o]) X[n,c]     w = DW back, every dilation-th

   with X the input placed after its padding and W the kernel with its dilation's holes
   (a cross-correlation is a product with a conjugate; a conv_adjoint, a true
   convolution, a plain product). With groups, each sum runs within one group: the
   mixing is one block per group of the same rows. */

#define KNAME(base) STARC_KERNEL(STARC_KERNEL_CAT(base, TSUF))
#define LOCAL(base) STARC_KERNEL_CAT(base, TSUF)

/* ---- plans ---- */

typedef struct LOCAL(plan_pair) {
  int64_t mh, mw;
  FFTW(plan) forward, inverse;
  struct LOCAL(plan_pair) * next;
} LOCAL(plan_pair);

static LOCAL(plan_pair) * LOCAL(plans);

/* The r2c and c2r plans of one transform size, on interleaved complex arrays (per-thread
   scratch; the mixing's split rows are copied in and out). Not FFTW's split-array plans:
   its split r2c is 2-3x slower, and a split plan may only run on arrays whose re-to-im
   distance is the one it was planned with. */
static LOCAL(plan_pair) * LOCAL(new_plans)(const fft_geo* g) {
  size_t real_bytes = sizeof(T) * (size_t)(g->mh * g->mw);
  LOCAL(plan_pair)* p = (LOCAL(plan_pair)*)workspace(sizeof *p, g->nomem);
  T* real = (T*)workspace(real_bytes, g->nomem);
  FFTW(complex)* spectrum = (FFTW(complex)*)workspace(sizeof(FFTW(complex)) * (size_t)g->f, g->nomem);
  if (p) p->forward = p->inverse = NULL;
  if (p && real && spectrum) {
    FFTW(iodim) fwd[2], inv[2];
    int rank = g->mh > 1 ? 2 : 1;
    fwd[rank - 1] = inv[rank - 1] = (FFTW(iodim)){(int)g->mw, 1, 1};
    if (rank == 2) {
      fwd[0] = (FFTW(iodim)){(int)g->mh, (int)g->mw, (int)g->fw};
      inv[0] = (FFTW(iodim)){(int)g->mh, (int)g->fw, (int)g->mw};
    }
    /* FFTW_ESTIMATE: planning is instant, leaves the arrays alone, and gives the same
       plan (and so the same rounding) on every run. */
    p->forward = FFTW(plan_guru_dft_r2c)(rank, fwd, 0, NULL, real, spectrum, FFTW_ESTIMATE);
    p->inverse = FFTW(plan_guru_dft_c2r)(rank, inv, 0, NULL, spectrum, real, FFTW_ESTIMATE);
  }
  wfree(real), wfree(spectrum);
  if (p && (!p->forward || !p->inverse)) { /* out of memory above, or FFTW could not plan */
    if (real && spectrum) atomic_store(g->nomem, (int64_t)real_bytes);
    if (p->forward) FFTW(destroy_plan)(p->forward);
    if (p->inverse) FFTW(destroy_plan)(p->inverse);
    wfree(p);
    return NULL;
  }
  return p;
}

/* NULL when out of memory (noted in g->nomem). */
static const LOCAL(plan_pair) * LOCAL(plans_for)(const fft_geo* g) {
  pthread_mutex_lock(&planner_lock);
  LOCAL(plan_pair)* p = LOCAL(plans);
  while (p && (p->mh != g->mh || p->mw != g->mw)) p = p->next;
  if (!p && (p = LOCAL(new_plans)(g))) {
    p->mh = g->mh, p->mw = g->mw;
    p->next = LOCAL(plans);
    LOCAL(plans) = p;
  }
  pthread_mutex_unlock(&planner_lock);
  return p;
}

/* ---- row transforms ---- */

/* rows of rh x rw values, element (i, k) placed at (off_h + i*step_h, off_w + k*step_w)
   of a zero period, transformed into rows of tiled re/im arrays of `rows` rows. */
typedef struct {
  const fft_geo* g;
  FFTW(plan) plan;
  const T* src;
  int64_t rows, rh, rw, off_h, off_w, step_h, step_w;
  T *re, *im;
} LOCAL(forward_job);

static void LOCAL(forward_rows)(void* ctx, int64_t begin, int64_t end) {
  const LOCAL(forward_job)* j = (const LOCAL(forward_job)*)ctx;
  const fft_geo* g = j->g;
  size_t period = (size_t)(g->mh * g->mw);
  T* buf = (T*)workspace(sizeof(T) * period, g->nomem);
  FFTW(complex)* spectrum = (FFTW(complex)*)workspace(sizeof(FFTW(complex)) * (size_t)g->f, g->nomem);
  for (int64_t r = begin; buf && spectrum && r < end; ++r) {
    memset(buf, 0, sizeof(T) * period);
    const T* row = j->src + r * j->rh * j->rw;
    for (int64_t i = 0; i < j->rh; ++i) {
      T* to = buf + (j->off_h + i * j->step_h) * g->mw + j->off_w;
      const T* from = row + i * j->rw;
      if (j->step_w == 1)
        memcpy(to, from, sizeof(T) * (size_t)j->rw);
      else
        for (int64_t k = 0; k < j->rw; ++k) to[k * j->step_w] = from[k];
    }
    FFTW(execute_dft_r2c)(j->plan, buf, spectrum);
    for (int64_t t0 = 0; t0 < g->fs; t0 += kTile) {
      T *re = j->re + tile_at(j->rows, r, t0), *im = j->im + tile_at(j->rows, r, t0);
      int64_t n = g->f - t0 < kTile ? g->f - t0 : kTile;
      for (int64_t f = 0; f < n; ++f) re[f] = spectrum[t0 + f][0], im[f] = spectrum[t0 + f][1];
      for (int64_t f = n > 0 ? n : 0; f < kTile; ++f) re[f] = im[f] = 0; /* the padding the mixing reads */
    }
  }
  wfree(buf);
  wfree(spectrum);
}

/* The spectra of `rows` rows of src (see forward_job), in fresh arrays (both NULL when
   out of memory). */
static void LOCAL(spectra)(const fft_geo* g, const T* src, int64_t rows, int64_t rh, int64_t rw, int64_t off_h,
                           int64_t off_w, int64_t step_h, int64_t step_w, T** re, T** im) {
  *re = (T*)workspace(sizeof(T) * (size_t)(rows * g->fs), g->nomem);
  *im = (T*)workspace(sizeof(T) * (size_t)(rows * g->fs), g->nomem);
  const LOCAL(plan_pair)* plans = *re && *im ? LOCAL(plans_for)(g) : NULL;
  if (!plans) {
    wfree(*re), wfree(*im);
    *re = *im = NULL;
    return;
  }
  LOCAL(forward_job) j = {g, plans->forward, src, rows, rh, rw, off_h, off_w, step_h, step_w, *re, *im};
  parallel_for(rows, LOCAL(forward_rows), &j);
}

/* rows of re/im transformed back; dst row r element (i, k) is period
   element (start_h + i*step_h, start_w + k*step_w) / (mh*mw). */
typedef struct {
  const fft_geo* g;
  FFTW(plan) plan;
  T *re, *im, *dst;
  int64_t rows, rh, rw, start_h, start_w, step_h, step_w;
} LOCAL(inverse_job);

static void LOCAL(inverse_rows)(void* ctx, int64_t begin, int64_t end) {
  const LOCAL(inverse_job)* j = (const LOCAL(inverse_job)*)ctx;
  const fft_geo* g = j->g;
  T* buf = (T*)workspace(sizeof(T) * (size_t)(g->mh * g->mw), g->nomem);
  FFTW(complex)* spectrum = (FFTW(complex)*)workspace(sizeof(FFTW(complex)) * (size_t)g->f, g->nomem);
  const T scale = (T)1 / (T)(g->mh * g->mw);
  for (int64_t r = begin; buf && spectrum && r < end; ++r) {
    for (int64_t f = 0; f < g->f; ++f) {
      int64_t at = tile_at(j->rows, r, f);
      spectrum[f][0] = j->re[at], spectrum[f][1] = j->im[at];
    }
    FFTW(execute_dft_c2r)(j->plan, spectrum, buf); /* destroys spectrum, our scratch */
    T* row = j->dst + r * j->rh * j->rw;
    for (int64_t i = 0; i < j->rh; ++i) {
      const T* from = buf + (j->start_h + i * j->step_h) * g->mw + j->start_w;
      T* to = row + i * j->rw;
      for (int64_t k = 0; k < j->rw; ++k) to[k] = from[k * j->step_w] * scale;
    }
  }
  wfree(buf);
  wfree(spectrum);
}

static void LOCAL(inverse)(const fft_geo* g, T* re, T* im, int64_t rows, T* dst, int64_t rh, int64_t rw,
                           int64_t start_h, int64_t start_w, int64_t step_h, int64_t step_w) {
  const LOCAL(plan_pair)* plans = LOCAL(plans_for)(g);
  if (!plans) return;
  LOCAL(inverse_job) j = {g, plans->inverse, re, im, dst, rows, rh, rw, start_h, start_w, step_h, step_w};
  parallel_for(rows, LOCAL(inverse_rows), &j);
}

/* ---- channel mixing: C[p,r] = sum_q op(A[p,q]) op(B[r,q]) at every frequency ----
   per group G: A's row (p, q) is row G*ag + p*ap + q*aq of its a_rows, B's (r, q) row
   G*bg + r*bp + q*bq of its b_rows, C's (p, r) row G*cg + p*cp + r of its c_rows (all
   tiled). The frequency axis is innermost, so that
   the loops vectorise for any channel or batch size (batch 1 included). A task is one p
   and one tile of kTile frequencies, whose B rows (kernel spectra, in conv: R*Q*kTile
   complex numbers, contiguous, 512 KiB at 32x32 channels) stay in L2 while the tasks of
   the other p's of the tile, which run next, read them again. Within a task, four r at
   a time keep their accumulators in vector registers over the whole sum on q, and each
   load of A serves four of them. Rows are padded to a whole tile with zeros, so vectors never
   need a tail. */
enum { LOCAL(kLanes) = 64 / (int)sizeof(T) };
typedef T LOCAL(vec) __attribute__((vector_size(64)));

typedef struct {
  const T *ar, *ai, *br, *bi;
  T *cr, *ci;
  int64_t P, R, Q, ap, aq, bp, bq, a_rows, b_rows;
  int64_t groups, ag, bg, cg, cp, c_rows;
  int conj;
} LOCAL(mix_job);

/* One operand's strides: its rows per tile, the row step of each index, per group. */
typedef struct {
  int64_t rows, p, q, g;
} LOCAL(layout);

/* Vector loads and stores (macros: a function returning a 64-byte vector would change
   ABI between the target clones). */
#define VLOAD(v, p) memcpy(&(v), (p), sizeof(v))
#define VSTORE(p, v) memcpy((p), &(v), sizeof(v))

/* Output rows r0 .. r0+RB-1 of p over the frequencies [f0, f1), RB a constant. */
#define MIX_ROWS(RB)                                                              \
  for (int64_t f = 0; f < kTile; f += LOCAL(kLanes)) {                            \
    LOCAL(vec) accr[RB], acci[RB];                                                \
    for (int k = 0; k < RB; ++k) accr[k] = acci[k] = (LOCAL(vec)){0};             \
    for (int64_t q = 0; q < j->Q; ++q) {                                          \
      const int64_t arow = a_tile + (p * j->ap + q * j->aq) * kTile + f;          \
      LOCAL(vec) xr, xi;                                                          \
      VLOAD(xr, j->ar + arow);                                                    \
      VLOAD(xi, j->ai + arow);                                                    \
      if (j->conj == CONJ_A) xi = -xi;                                            \
      for (int k = 0; k < RB; ++k) {                                              \
        const int64_t brow = b_tile + ((r0 + k) * j->bp + q * j->bq) * kTile + f; \
        LOCAL(vec) yr, yi;                                                        \
        VLOAD(yr, j->br + brow);                                                  \
        VLOAD(yi, j->bi + brow);                                                  \
        if (j->conj == CONJ_B) yi = -yi;                                          \
        accr[k] += xr * yr - xi * yi;                                             \
        acci[k] += xr * yi + xi * yr;                                             \
      }                                                                           \
    }                                                                             \
    for (int k = 0; k < RB; ++k) {                                                \
      VSTORE(j->cr + c_tile + (p * j->cp + r0 + k) * kTile + f, accr[k]);         \
      VSTORE(j->ci + c_tile + (p * j->cp + r0 + k) * kTile + f, acci[k]);         \
    }                                                                             \
  }

__attribute__((target_clones("avx512f", "avx2", "default"))) static void LOCAL(mix_range)(void* ctx, int64_t begin,
                                                                                          int64_t end) {
  const LOCAL(mix_job)* j = (const LOCAL(mix_job)*)ctx;
  for (int64_t t = begin; t < end; ++t) {
    const int64_t p = t % j->P, grp = t / j->P % j->groups, tile = t / (j->P * j->groups);
    const int64_t a_tile = (tile * j->a_rows + grp * j->ag) * kTile, b_tile = (tile * j->b_rows + grp * j->bg) * kTile,
                  c_tile = (tile * j->c_rows + grp * j->cg) * kTile;
    int64_t r0 = 0;
    for (; r0 + 4 <= j->R; r0 += 4) MIX_ROWS(4)
    for (; r0 < j->R; ++r0) MIX_ROWS(1)
  }
}

/* C (fresh arrays of c.rows rows; both NULL when out of memory) from A and B, for P x R
   outputs per group summed over Q; see mix_job. */
static void LOCAL(mix)(const fft_geo* g, const T* ar, const T* ai, LOCAL(layout) a, const T* br, const T* bi,
                       LOCAL(layout) b, LOCAL(layout) c, int64_t P, int64_t R, int64_t Q, int conj, T** cr, T** ci) {
  *cr = (T*)workspace(sizeof(T) * (size_t)(c.rows * g->fs), g->nomem);
  *ci = (T*)workspace(sizeof(T) * (size_t)(c.rows * g->fs), g->nomem);
  if (!*cr || !*ci) {
    wfree(*cr), wfree(*ci);
    *cr = *ci = NULL;
    return;
  }
  LOCAL(mix_job)
  j = {ar, ai, br, bi, *cr, *ci, P, R, Q, a.p, a.q, b.p, b.q, a.rows, b.rows, g->gr, a.g, b.g, c.g, c.p, c.rows, conj};
  parallel_for(P * g->gr * (g->fs / kTile), LOCAL(mix_range), &j);
}

/* ---- the kernel spectrum, cached ---- */

static spectrum_entry* LOCAL(weight_spectrum)(const fft_geo* g, int64_t site, const T* weight) {
  const int64_t rows = g->gr * g->o * g->c; /* the weight's, whatever the grouping */
  spectrum_key k = {site, (int64_t)sizeof(T), rows, 1, g->kh, g->kw, g->dh, g->dw, g->mh, g->mw};
  size_t bytes = sizeof(T) * (size_t)(rows * g->kh * g->kw);
  spectrum_entry* e = cache_find(&k, weight, bytes);
  if (e) return e;
  e = (spectrum_entry*)calloc(1, sizeof *e);
  T *re = NULL, *im = NULL;
  if (e && (e->weight = workspace(bytes, g->nomem)))
    LOCAL(spectra)(g, weight, rows, g->kh, g->kw, 0, 0, g->dh, g->dw, &re, &im);
  if (!re) { /* out of memory */
    if (!e) atomic_store(g->nomem, (int64_t)sizeof *e);
    if (e) wfree(e->weight);
    free(e);
    return NULL;
  }
  e->key = k;
  memcpy(e->weight, weight, bytes);
  e->weight_bytes = bytes;
  e->re = re, e->im = im;
  e->bytes = bytes + 2 * sizeof(T) * (size_t)(rows * g->fs);
  cache_insert(e);
  return e;
}

/* ---- the three ops (stride 1; any other stride takes the direct kernel) ---- */

/* Whether p[0..n) holds no NaN or infinity. A transform spreads one non-finite value over
   its whole row (and inf - inf makes NaN), where the direct kernel, like PyTorch, gives
   NaN only in the windows that read it; such operands take the direct kernel. p - p is
   0 for every finite value: the loop is one vectorised compare-and-or, cheap next to
   the transforms. */
static int LOCAL(all_finite)(const T* p, int64_t n) {
  int bad = 0;
  for (int64_t i = 0; i < n; ++i) bad |= (p[i] - p[i]) != 0;
  return !bad;
}
#define DIRECT_IF(a, na, b, nb) (sh != 1 || sw != 1 || !LOCAL(all_finite)(a, na) || !LOCAL(all_finite)(b, nb))

/* g, the call's geometry, with its out-of-memory note (fft_done reports it). */
#define FFT_CALL_GEO                                                     \
  _Atomic int64_t nomem = 0;                                             \
  fft_geo g = fft_geo_of(n, c, h, w, o, kh, kw, oh, ow, ph, pw, dh, dw); \
  g.gr = groups, g.nomem = &nomem
#define CONV_ARG_NAMES n, c, h, w, o, kh, kw, oh, ow, sh, sw, ph, pw, dh, dw, groups
/* C = groups*c and O = groups*o channels in all: the operands' row layouts below. */
#define LAYOUT(rows, p, q, g) ((LOCAL(layout)){rows, p, q, g})

void KNAME(conv_fft)(STARC_CONV_ARGS, int64_t site, const T* x, const T* weight, T* y) {
  if (DIRECT_IF(x, n * groups * c * h * w, weight, groups * o * c * kh * kw)) {
    KNAME(conv)(CONV_ARG_NAMES, x, weight, y);
    return;
  }
  FFT_CALL_GEO;
  T *xr, *xi, *yr = NULL, *yi = NULL;
  const int64_t C = groups * c, O = groups * o;
  LOCAL(spectra)(&g, x, n * C, h, w, ph, pw, 1, 1, &xr, &xi);
  spectrum_entry* ws = xr ? LOCAL(weight_spectrum)(&g, site, weight) : NULL;
  if (ws) { /* Y[n, G*o + r] = sum_q X[n, G*c + q] conj(W[G*o + r, q]) */
    LOCAL(mix)(&g, xr, xi, LAYOUT(n * C, C, 1, c), (const T*)ws->re, (const T*)ws->im, LAYOUT(O * c, c, 1, o * c),
               LAYOUT(n * O, O, 0, o), n, o, c, CONJ_B, &yr, &yi);
    cache_release(ws);
  }
  wfree(xr), wfree(xi);
  if (yr) LOCAL(inverse)(&g, yr, yi, n * O, y, oh, ow, 0, 0, 1, 1);
  wfree(yr), wfree(yi);
  fft_done(&g);
}

void KNAME(conv_adjoint_fft)(STARC_CONV_ARGS, int64_t site, const T* y, const T* weight, T* x) {
  if (DIRECT_IF(y, n * groups * o * oh * ow, weight, groups * o * c * kh * kw)) {
    KNAME(conv_adjoint)(CONV_ARG_NAMES, y, weight, x);
    return;
  }
  FFT_CALL_GEO;
  T *yr, *yi, *xr = NULL, *xi = NULL;
  const int64_t C = groups * c, O = groups * o;
  LOCAL(spectra)(&g, y, n * O, oh, ow, 0, 0, 1, 1, &yr, &yi);
  spectrum_entry* ws = yr ? LOCAL(weight_spectrum)(&g, site, weight) : NULL;
  if (ws) { /* DX[n, G*c + r] = sum_q DY[n, G*o + q] W[G*o + q, r] */
    LOCAL(mix)(&g, yr, yi, LAYOUT(n * O, O, 1, o), (const T*)ws->re, (const T*)ws->im, LAYOUT(O * c, 1, c, o * c),
               LAYOUT(n * C, C, 0, c), n, c, o, CONJ_NONE, &xr, &xi);
    cache_release(ws);
  }
  wfree(yr), wfree(yi);
  if (xr) LOCAL(inverse)(&g, xr, xi, n * C, x, h, w, ph, pw, 1, 1);
  wfree(xr), wfree(xi);
  fft_done(&g);
}

void KNAME(conv_weight_grad_fft)(STARC_CONV_ARGS, const T* x, const T* y, T* weight) {
  if (DIRECT_IF(x, n * groups * c * h * w, y, n * groups * o * oh * ow)) {
    KNAME(conv_weight_grad)(CONV_ARG_NAMES, x, y, weight);
    return;
  }
  FFT_CALL_GEO;
  T *xr, *xi, *yr = NULL, *yi = NULL, *wr = NULL, *wi = NULL;
  const int64_t C = groups * c, O = groups * o;
  LOCAL(spectra)(&g, x, n * C, h, w, ph, pw, 1, 1, &xr, &xi);
  if (xr) LOCAL(spectra)(&g, y, n * O, oh, ow, 0, 0, 1, 1, &yr, &yi);
  if (yr) /* DW[G*o + p, r] = sum_n conj(DY[n, G*o + p]) X[n, G*c + r] */
    LOCAL(mix)(&g, yr, yi, LAYOUT(n * O, 1, O, o), xr, xi, LAYOUT(n * C, 1, C, c), LAYOUT(O * c, c, 0, o * c), o, c, n,
               CONJ_A, &wr, &wi);
  wfree(xr), wfree(xi), wfree(yr), wfree(yi);
  if (wr) LOCAL(inverse)(&g, wr, wi, O * c, weight, kh, kw, 0, 0, dh, dw);
  wfree(wr), wfree(wi);
  fft_done(&g);
}

#undef FFT_CALL_GEO
#undef DIRECT_IF
#undef CONV_ARG_NAMES
#undef LAYOUT
#undef MIX_ROWS
#undef VLOAD
#undef VSTORE
#undef KNAME
#undef LOCAL
