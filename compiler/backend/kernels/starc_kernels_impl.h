/* The kernels for one element type T (included by starc_kernels.c with T, TSUF and GEMM
   defined). The convolutions go through im2col / col2im one tile of output positions at
   a time, so that the column buffer (c*kh*kw rows by `tile` positions) stays in cache
   instead of streaming c*kh*kw copies of the input through memory. */

#define KNAME(base) STARC_KERNEL(STARC_KERNEL_CAT(base, TSUF))
#define LOCAL(base) STARC_KERNEL_CAT(base, TSUF)

/* Output positions per tile: about 2 MiB of columns, at least 64. */
static int64_t LOCAL(tile_of)(const geo_t* g) {
  int64_t ckk = g->c * g->kh * g->kw, t = (int64_t)(2u << 20) / ((int64_t)sizeof(T) * (ckk > 0 ? ckk : 1));
  int64_t pix = g->oh * g->ow;
  if (t < 64) t = 64;
  return t < pix ? t : pix;
}

/* cols[(ci,ki,kj), j] = x[ci, oi*sh - ph + ki*dh, oj*sw - pw + kj*dw] (0 outside x) for
   the output positions p0 + j, j < np, of one sample (p = oi * ow + oj). With `add`,
   the reverse: x += cols at the same places (col2im). One output row run at a time (the
   row found once per cols row, not divided out per run); the runs are a few dozen
   elements, so stride 1 copies them in loops rather than memset/memcpy calls (whose
   overhead per call was most of im2col's time; loop distribution would put them back). */
__attribute__((optimize("no-tree-loop-distribute-patterns"))) static void LOCAL(im2col)(const geo_t* g, T* x, T* cols,
                                                                                        int64_t p0, int64_t np,
                                                                                        int add) {
  const int64_t oi0 = p0 / g->ow, oj00 = p0 % g->ow;
  for (int64_t ci = 0; ci < g->c; ++ci)
    for (int64_t ki = 0; ki < g->kh; ++ki)
      for (int64_t kj = 0; kj < g->kw; ++kj) {
        T* row = cols + ((ci * g->kh + ki) * g->kw + kj) * np;
        int64_t base = kj * g->dw - g->pw;
        for (int64_t p = p0, oi = oi0, oj0 = oj00; p < p0 + np; ++oi, oj0 = 0) {
          int64_t cnt = g->ow - oj0;
          if (cnt > p0 + np - p) cnt = p0 + np - p;
          T* part = row + (p - p0);
          int64_t ih = oi * g->sh - g->ph + ki * g->dh;
          p += cnt;
          if (ih < 0 || ih >= g->h) {
            if (!add)
              for (int64_t j = 0; j < cnt; ++j) part[j] = 0;
            continue;
          }
          T* in = x + (ci * g->h + ih) * g->w;
          if (g->sw == 1) { /* a contiguous run, clipped to x */
            int64_t lo = -(oj0 + base), hi = g->w - (oj0 + base);
            if (lo < 0) lo = 0;
            if (lo > cnt) lo = cnt;
            if (hi > cnt) hi = cnt;
            if (hi < lo) hi = lo;
            const T* src = in + oj0 + base;
            if (add) {
              for (int64_t j = lo; j < hi; ++j) in[oj0 + base + j] += part[j];
            } else {
              for (int64_t j = 0; j < lo; ++j) part[j] = 0;
              for (int64_t j = lo; j < hi; ++j) part[j] = src[j];
              for (int64_t j = hi; j < cnt; ++j) part[j] = 0;
            }
            continue;
          }
          for (int64_t j = 0; j < cnt; ++j) {
            int64_t iw = (oj0 + j) * g->sw + base;
            int inside = iw >= 0 && iw < g->w;
            if (add) {
              if (inside) in[iw] += part[j];
            } else {
              part[j] = inside ? in[iw] : (T)0;
            }
          }
        }
      }
}

/* Rows [m0, m1) and columns [n0, n1) of c = op(a) @ op(b) for one matrix: op(a)'s rows
   are a's rows (with trans_a, its columns), op(b)'s columns b's columns (its rows). */
static void LOCAL(gemm_block)(int64_t m, int64_t n, int64_t k, int64_t trans_a, int64_t trans_b, const T* a, const T* b,
                              T* c, int64_t m0, int64_t m1, int64_t n0, int64_t n1) {
#ifdef GEMV
  /* A one-row product (a dense layer at batch 1): c[0, n0:n1] = op(b)^T op(a)[0, :]. Only
     when the whole product has one row, never for one thread's share of a larger one, so
     that the sums' order, and the bits of the result, do not depend on the thread count. */
  if (m == 1 && m1 - m0 == 1 && k > 0) {
    T* out = c + m0 * n + n0;
    memset(out, 0, sizeof(T) * (size_t)(n1 - n0)); /* beta 0 scales c: no NaN of a fresh buffer survives */
    if (trans_b)
      GEMV(CblasRowMajor, CblasNoTrans, (int)(n1 - n0), (int)k, 1, b + n0 * k, (int)k, trans_a ? a + m0 : a + m0 * k,
           (int)(trans_a ? m : 1), 0, out, 1);
    else
      GEMV(CblasRowMajor, CblasTrans, (int)k, (int)(n1 - n0), 1, b + n0, (int)n, trans_a ? a + m0 : a + m0 * k,
           (int)(trans_a ? m : 1), 0, out, 1);
    return;
  }
#endif
  GEMM(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans, trans_b ? CblasTrans : CblasNoTrans, (int)(m1 - m0),
       (int)(n1 - n0), (int)k, 1, trans_a ? a + m0 : a + m0 * k, (int)(trans_a ? m : k), trans_b ? b + n0 * k : b + n0,
       (int)(trans_b ? k : n), 0, c + m0 * n + n0, (int)n);
}

/* The kernels' arguments, for the parts that run_parts hands to threads. */
typedef struct {
  geo_t g;
  int64_t m, n, k, trans_a, trans_b, stride_a, stride_b, stride_c; /* matmul */
  int64_t tile, tiles, size, chunks;                               /* convolutions */
  const T *a, *b;
  T *out, *part;
  _Atomic int64_t nomem; /* a part's workspace that could not be had (workspace()) */
} LOCAL(job_t);

/* One part's column buffer (c*kh*kw rows by j->tile positions); NULL when out of memory. */
static T* LOCAL(columns)(LOCAL(job_t) * j) {
  return (T*)workspace(sizeof(T) * (size_t)(j->g.c * j->g.kh * j->g.kw * j->tile + 1), &j->nomem);
}

static void LOCAL(matmul_batches)(void* ctx, int64_t lo, int64_t hi) {
  LOCAL(job_t)* j = (LOCAL(job_t)*)ctx;
  for (int64_t i = lo; i < hi; ++i)
    LOCAL(gemm_block)(j->m, j->n, j->k, j->trans_a, j->trans_b, j->a + i * j->stride_a, j->b + i * j->stride_b,
                      j->out + i * j->stride_c, 0, j->m, 0, j->n);
}
static void LOCAL(matmul_side)(void* ctx, int64_t lo, int64_t hi) { /* rows (m >= n) or columns of one matrix */
  LOCAL(job_t)* j = (LOCAL(job_t)*)ctx;
  if (j->m >= j->n)
    LOCAL(gemm_block)(j->m, j->n, j->k, j->trans_a, j->trans_b, j->a, j->b, j->out, lo, hi, 0, j->n);
  else
    LOCAL(gemm_block)(j->m, j->n, j->k, j->trans_a, j->trans_b, j->a, j->b, j->out, 0, j->m, lo, hi);
}

/* Matrices in parallel when there are enough of them; otherwise each one's larger side
   split over the threads (16 rows or columns at least per part). */
void KNAME(matmul)(int64_t batch, int64_t m, int64_t n, int64_t k, int64_t trans_a, int64_t trans_b, const T* a,
                   int64_t stride_a, const T* b, int64_t stride_b, T* c, int64_t stride_c) {
  const double work = (double)batch * (double)m * (double)n * (double)k;
  LOCAL(job_t)
  j = {.m = m,
       .n = n,
       .k = k,
       .trans_a = trans_a,
       .trans_b = trans_b,
       .stride_a = stride_a,
       .stride_b = stride_b,
       .stride_c = stride_c,
       .a = a,
       .b = b,
       .out = c};
  if (batch >= kernel_threads) {
    run_parts(threads_for(batch, work), batch, LOCAL(matmul_batches), &j);
    return;
  }
  const int64_t side = m >= n ? m : n;
  for (int64_t i = 0; i < batch; ++i) {
    j.a = a + i * stride_a, j.b = b + i * stride_b, j.out = c + i * stride_c;
    run_parts(threads_for(side / 16, work / (double)batch), side, LOCAL(matmul_side), &j);
  }
}

/* Where group gi of sample i starts: in x (c channels of h*w), in y (o channels of
   oh*ow), and the group's weight rows (o rows of c*kh*kw). */
static int64_t LOCAL(x_at)(const geo_t* g, int64_t i, int64_t gi) { return (i * g->gr + gi) * g->c * g->h * g->w; }
static int64_t LOCAL(y_at)(const geo_t* g, int64_t i, int64_t gi) { return (i * g->gr + gi) * g->o * g->oh * g->ow; }
static int64_t LOCAL(w_at)(const geo_t* g, int64_t gi) { return gi * g->o * g->c * g->kh * g->kw; }

/* out[j] += sum over kj of wrow[kj] * in[j + kj*dw] for j in [lo, hi) (stride 1, every
   tap inside the row): the taps in one pass when kw = 3 (MobileNet's kernels), so that
   out is loaded and stored once instead of once per tap. */
static inline void LOCAL(row_taps)(T* out, const T* in, const T* wrow, int64_t kw, int64_t dw, int64_t lo, int64_t hi) {
  if (kw == 3) {
    const T w0 = wrow[0], w1 = wrow[1], w2 = wrow[2];
    const T *a = in, *b = in + dw, *c = in + 2 * dw;
    for (int64_t j = lo; j < hi; ++j) out[j] += w0 * a[j] + w1 * b[j] + w2 * c[j];
    return;
  }
  for (int64_t kj = 0; kj < kw; ++kj) {
    const T wt = wrow[kj], *a = in + kj * dw;
    for (int64_t j = lo; j < hi; ++j) out[j] += wt * a[j];
  }
}

/* One tap of one output row run: out[j] += wt * row[(oj0 + j) * sw + base] for the j in
   [lo, hi) whose read lies inside the row. */
static void LOCAL(edge_tap)(const geo_t* g, T* out, const T* row, T wt, int64_t oj0, int64_t base, int64_t lo,
                            int64_t hi) {
  const int64_t sw = g->sw;
  if (g->w - 1 - base < 0) return;
  int64_t first = (base >= 0 ? 0 : (-base + sw - 1) / sw) - oj0, last = (g->w - 1 - base) / sw - oj0 + 1;
  if (first > lo) lo = first;
  if (last < hi) hi = last;
  for (int64_t j = lo; j < hi; ++j) out[j] += wt * row[(oj0 + j) * sw + base];
}

/* A depthwise tile (c = o = 1): the output positions p0 .. p0+np-1 of one channel, y
   (at position p0) = sum over taps of weight[tap] * x at the tap, read straight from the
   input plane x, one output row run at a time: no column buffer (im2col copied each
   input kh*kw times, and a GEMM of one row is a GEMV). With stride 1 the row's interior,
   where every tap is inside x, is one pass of row_taps; the edges go tap by tap. */
__attribute__((target_clones("avx2", "default"))) static void LOCAL(depthwise_tile)(const geo_t* g, const T* x,
                                                                                    const T* weight, T* y, int64_t p0,
                                                                                    int64_t np) {
  memset(y, 0, sizeof(T) * (size_t)np);
  for (int64_t p = p0; p < p0 + np;) {
    int64_t oi = p / g->ow, oj0 = p % g->ow, cnt = g->ow - oj0;
    if (cnt > p0 + np - p) cnt = p0 + np - p;
    T* out = y + (p - p0);
    p += cnt;
    for (int64_t ki = 0; ki < g->kh; ++ki) {
      int64_t ih = oi * g->sh - g->ph + ki * g->dh;
      if (ih < 0 || ih >= g->h) continue;
      const T *row = x + ih * g->w, *wrow = weight + ki * g->kw;
      int64_t lo = 0, hi = 0; /* the interior: every tap inside the row (stride 1 only) */
      if (g->sw == 1) {
        lo = g->pw - oj0, hi = g->w + g->pw - (g->kw - 1) * g->dw - oj0;
        if (lo < 0) lo = 0;
        if (hi > cnt) hi = cnt;
        if (hi < lo) hi = lo = 0;
        if (hi > lo) LOCAL(row_taps)(out, row + oj0 - g->pw, wrow, g->kw, g->dw, lo, hi);
      }
      for (int64_t kj = 0; kj < g->kw; ++kj) {
        const int64_t base = kj * g->dw - g->pw;
        LOCAL(edge_tap)(g, out, row, wrow[kj], oj0, base, 0, hi > lo ? lo : cnt);
        if (hi > lo) LOCAL(edge_tap)(g, out, row, wrow[kj], oj0, base, hi, cnt);
      }
    }
  }
}

/* y[i][group][:, tile] = weight[group] [o, c*kh*kw] @ cols(tile) for the (sample, group,
   tile) triples lo..hi */
static void LOCAL(conv_items)(void* ctx, int64_t lo, int64_t hi) {
  LOCAL(job_t)* j = (LOCAL(job_t)*)ctx;
  const geo_t* g = &j->g;
  int64_t ckk = g->c * g->kh * g->kw, pix = g->oh * g->ow, tile = j->tile;
  T* cols = LOCAL(columns)(j);
  if (!cols) return;
  for (int64_t it = lo; it < hi; ++it) {
    int64_t i = it / (j->tiles * g->gr), gi = it / j->tiles % g->gr, p0 = (it % j->tiles) * tile,
            np = pix - p0 < tile ? pix - p0 : tile;
    T* y = j->out + LOCAL(y_at)(g, i, gi) + p0;
    if (g->c == 1 && g->o == 1) {
      LOCAL(depthwise_tile)(g, j->a + LOCAL(x_at)(g, i, gi), j->b + LOCAL(w_at)(g, gi), y, p0, np);
      continue;
    }
    LOCAL(im2col)(g, (T*)(j->a + LOCAL(x_at)(g, i, gi)), cols, p0, np, 0);
    GEMM(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)g->o, (int)np, (int)ckk, 1, j->b + LOCAL(w_at)(g, gi),
         (int)ckk, cols, (int)np, 0, y, (int)pix);
  }
  free(cols);
}

/* The (sample, group, tile) triples in parallel; a batch smaller than the thread count
   is cut into smaller tiles. */
void KNAME(conv)(STARC_CONV_ARGS, const T* x, const T* weight, T* y) {
  LOCAL(job_t) j = {.g = GEO_INIT, .a = x, .b = weight, .out = y};
  int64_t pix = oh * ow, tile = LOCAL(tile_of)(&j.g), items = n * groups;
  if (items > 0 && items < kernel_threads) {
    int64_t want = (kernel_threads + items - 1) / items, small = (pix + want - 1) / want;
    if (small < 64) small = 64;
    if (small < tile) tile = small;
  }
  j.tile = tile, j.tiles = tile > 0 ? (pix + tile - 1) / tile : 0;
  run_parts(threads_for(items * j.tiles, (double)items * (double)o * (double)pix * (double)(c * kh * kw)),
            items * j.tiles, LOCAL(conv_items), &j);
  report_workspace(&j.nomem);
}

/* For the (sample, group) pairs lo..hi: cols(tile) = weight[group]^T [c*kh*kw, o] @
   y[i][group][:, tile], added back into x[i][group] */
static void LOCAL(adjoint_items)(void* ctx, int64_t lo, int64_t hi) {
  LOCAL(job_t)* j = (LOCAL(job_t)*)ctx;
  const geo_t* g = &j->g;
  int64_t ckk = g->c * g->kh * g->kw, pix = g->oh * g->ow, tile = j->tile, xs = g->c * g->h * g->w;
  T* cols = LOCAL(columns)(j);
  if (!cols) return;
  for (int64_t it = lo; it < hi; ++it) {
    int64_t i = it / g->gr, gi = it % g->gr;
    T* x = j->out + LOCAL(x_at)(g, i, gi);
    memset(x, 0, sizeof(T) * (size_t)xs);
    for (int64_t p0 = 0; p0 < pix; p0 += tile) {
      int64_t np = pix - p0 < tile ? pix - p0 : tile;
      GEMM(CblasRowMajor, CblasTrans, CblasNoTrans, (int)ckk, (int)np, (int)g->o, 1, j->b + LOCAL(w_at)(g, gi),
           (int)ckk, j->a + LOCAL(y_at)(g, i, gi) + p0, (int)pix, 0, cols, (int)np);
      LOCAL(im2col)(g, x, cols, p0, np, 1);
    }
  }
  free(cols);
}

/* (Sample, group) pairs in parallel (the tiles of one add into the same x). */
void KNAME(conv_adjoint)(STARC_CONV_ARGS, const T* y, const T* weight, T* x) {
  LOCAL(job_t) j = {.g = GEO_INIT, .a = y, .b = weight, .out = x};
  j.tile = LOCAL(tile_of)(&j.g);
  int64_t items = n * groups;
  run_parts(threads_for(items, (double)items * (double)o * (double)(oh * ow) * (double)(c * kh * kw)), items,
            LOCAL(adjoint_items), &j);
  report_workspace(&j.nomem);
}

/* Chunks lo..hi of the batch: part[ch][group] = sum over its samples and tiles of
   y[i][group][:, tile] @ cols(tile)^T */
static void LOCAL(weight_grad_chunks)(void* ctx, int64_t lo, int64_t hi) {
  LOCAL(job_t)* j = (LOCAL(job_t)*)ctx;
  const geo_t* g = &j->g;
  int64_t ckk = g->c * g->kh * g->kw, pix = g->oh * g->ow, tile = j->tile, n = g->n;
  T* cols = LOCAL(columns)(j);
  if (!cols) return;
  for (int64_t ch = lo; ch < hi; ++ch) {
    T* acc = j->part + ch * j->size;
    memset(acc, 0, sizeof(T) * (size_t)j->size);
    for (int64_t i = n * ch / j->chunks; i < n * (ch + 1) / j->chunks; ++i)
      for (int64_t gi = 0; gi < g->gr; ++gi)
        for (int64_t p0 = 0; p0 < pix; p0 += tile) {
          int64_t np = pix - p0 < tile ? pix - p0 : tile;
          LOCAL(im2col)(g, (T*)(j->a + LOCAL(x_at)(g, i, gi)), cols, p0, np, 0);
          GEMM(CblasRowMajor, CblasNoTrans, CblasTrans, (int)g->o, (int)ckk, (int)np, 1,
               j->b + LOCAL(y_at)(g, i, gi) + p0, (int)pix, cols, (int)np, 1, acc + LOCAL(w_at)(g, gi), (int)ckk);
        }
  }
  free(cols);
}
/* weight[e] = the partials' sum, in chunk order, for elements lo..hi */
static void LOCAL(sum_partials)(void* ctx, int64_t lo, int64_t hi) {
  LOCAL(job_t)* j = (LOCAL(job_t)*)ctx;
  for (int64_t e = lo; e < hi; ++e) {
    T s = j->part[e];
    for (int64_t ch = 1; ch < j->chunks; ++ch) s += j->part[ch * j->size + e];
    j->out[e] = s;
  }
}

/* weight[group] [o, c*kh*kw] = sum over samples and tiles of y[i][group][:, tile] @
   cols(tile)^T: each
   of kWeightGradChunks fixed runs of samples sums into its own partial (the runs in
   parallel), and the partials are added in order. */
void KNAME(conv_weight_grad)(STARC_CONV_ARGS, const T* x, const T* y, T* weight) {
  LOCAL(job_t) j = {.g = GEO_INIT, .a = x, .b = y, .out = weight};
  j.tile = LOCAL(tile_of)(&j.g), j.size = groups * o * c * kh * kw;
  j.chunks = n < kWeightGradChunks ? n : kWeightGradChunks;
  if (j.chunks < 1) {
    memset(weight, 0, sizeof(T) * (size_t)j.size);
    return;
  }
  j.part = j.chunks > 1 ? (T*)workspace(sizeof(T) * (size_t)(j.chunks * j.size), &j.nomem) : weight;
  if (j.part) {
    int t = threads_for(j.chunks, (double)n * (double)groups * (double)o * (double)(oh * ow) * (double)(c * kh * kw));
    run_parts(t, j.chunks, LOCAL(weight_grad_chunks), &j);
    if (j.chunks > 1) {
      run_parts(t, j.size, LOCAL(sum_partials), &j);
      free(j.part);
    }
  }
  report_workspace(&j.nomem);
}

#undef KNAME
#undef LOCAL
