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
   the reverse: x += cols at the same places (col2im). */
static void LOCAL(im2col)(const geo_t* g, T* x, T* cols, int64_t p0, int64_t np, int add) {
  for (int64_t ci = 0; ci < g->c; ++ci)
    for (int64_t ki = 0; ki < g->kh; ++ki)
      for (int64_t kj = 0; kj < g->kw; ++kj) {
        T* row = cols + ((ci * g->kh + ki) * g->kw + kj) * np;
        int64_t base = kj * g->dw - g->pw;
        for (int64_t p = p0; p < p0 + np;) {
          int64_t oi = p / g->ow, oj0 = p % g->ow, cnt = g->ow - oj0;
          if (cnt > p0 + np - p) cnt = p0 + np - p;
          T* part = row + (p - p0);
          int64_t ih = oi * g->sh - g->ph + ki * g->dh;
          p += cnt;
          if (ih < 0 || ih >= g->h) {
            if (!add) memset(part, 0, sizeof(T) * (size_t)cnt);
            continue;
          }
          T* in = x + (ci * g->h + ih) * g->w;
          if (g->sw == 1) { /* a contiguous run, clipped to x */
            int64_t lo = -(oj0 + base), hi = g->w - (oj0 + base);
            if (lo < 0) lo = 0;
            if (hi > cnt) hi = cnt;
            if (hi < lo) hi = lo;
            if (add) {
              for (int64_t j = lo; j < hi; ++j) in[oj0 + base + j] += part[j];
            } else {
              memset(part, 0, sizeof(T) * (size_t)lo);
              memcpy(part + lo, in + oj0 + base + lo, sizeof(T) * (size_t)(hi - lo));
              memset(part + hi, 0, sizeof(T) * (size_t)(cnt - hi));
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

static T* LOCAL(columns)(const geo_t* g, int64_t tile) {
  T* cols = (T*)malloc(sizeof(T) * (size_t)(g->c * g->kh * g->kw * tile + 1));
  if (!cols) abort(); /* as the generated code's own allocations would fail */
  return cols;
}

/* Rows [m0, m1) and columns [n0, n1) of c = op(a) @ op(b) for one matrix: op(a)'s rows
   are a's rows (with trans_a, its columns), op(b)'s columns b's columns (its rows). */
static void LOCAL(gemm_block)(int64_t m, int64_t n, int64_t k, int64_t trans_a, int64_t trans_b, const T* a,
                              const T* b, T* c, int64_t m0, int64_t m1, int64_t n0, int64_t n1) {
  GEMM(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans, trans_b ? CblasTrans : CblasNoTrans, (int)(m1 - m0),
       (int)(n1 - n0), (int)k, 1, trans_a ? a + m0 : a + m0 * k, (int)(trans_a ? m : k), trans_b ? b + n0 * k : b + n0,
       (int)(trans_b ? k : n), 0, c + m0 * n + n0, (int)n);
}

/* Matrices in parallel when there are enough of them; otherwise each one's larger side
   split over the threads (16 rows or columns at least per part). */
void KNAME(matmul)(int64_t batch, int64_t m, int64_t n, int64_t k, int64_t trans_a, int64_t trans_b, const T* a,
                   int64_t stride_a, const T* b, int64_t stride_b, T* c, int64_t stride_c) {
  const double work = (double)batch * (double)m * (double)n * (double)k;
  if (batch >= kernel_threads) {
    int t = threads_for(batch, work);
    (void)t;
#pragma omp parallel for num_threads(t) schedule(static) if (t > 1)
    for (int64_t i = 0; i < batch; ++i)
      LOCAL(gemm_block)(m, n, k, trans_a, trans_b, a + i * stride_a, b + i * stride_b, c + i * stride_c, 0, m, 0, n);
    return;
  }
  const int64_t side = m >= n ? m : n;
  for (int64_t i = 0; i < batch; ++i) {
    int t = threads_for(side / 16, work / (double)batch);
#pragma omp parallel for num_threads(t) schedule(static) if (t > 1)
    for (int part = 0; part < t; ++part) {
      int64_t lo = side * part / t, hi = side * (part + 1) / t;
      const T *ai = a + i * stride_a, *bi = b + i * stride_b;
      T* ci = c + i * stride_c;
      if (m >= n) LOCAL(gemm_block)(m, n, k, trans_a, trans_b, ai, bi, ci, lo, hi, 0, n);
      else LOCAL(gemm_block)(m, n, k, trans_a, trans_b, ai, bi, ci, 0, m, lo, hi);
    }
  }
}

/* y[i][:, tile] = weight [o, c*kh*kw] @ cols(tile), the (sample, tile) pairs in
   parallel; a batch smaller than the thread count is cut into smaller tiles. */
void KNAME(conv)(STARC_CONV_ARGS, const T* x, const T* weight, T* y) {
  geo_t g = GEO_INIT;
  int64_t ckk = c * kh * kw, pix = oh * ow, tile = LOCAL(tile_of)(&g);
  if (n > 0 && n < kernel_threads) {
    int64_t want = (kernel_threads + n - 1) / n, small = (pix + want - 1) / want;
    if (small < 64) small = 64;
    if (small < tile) tile = small;
  }
  const int64_t tiles = tile > 0 ? (pix + tile - 1) / tile : 0, items = n * tiles;
  int t = threads_for(items, (double)n * (double)o * (double)pix * (double)ckk);
  (void)t;
#pragma omp parallel num_threads(t) if (t > 1)
  {
    T* cols = LOCAL(columns)(&g, tile);
#pragma omp for schedule(static)
    for (int64_t it = 0; it < items; ++it) {
      int64_t i = it / tiles, p0 = (it % tiles) * tile, np = pix - p0 < tile ? pix - p0 : tile;
      LOCAL(im2col)(&g, (T*)(x + i * c * h * w), cols, p0, np, 0);
      GEMM(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)o, (int)np, (int)ckk, 1, weight, (int)ckk, cols, (int)np,
           0, y + i * o * pix + p0, (int)pix);
    }
    free(cols);
  }
}

/* cols(tile) = weight^T [c*kh*kw, o] @ y[i][:, tile], added back into x[i]; samples in
   parallel (the tiles of one sample add into the same x). */
void KNAME(conv_adjoint)(STARC_CONV_ARGS, const T* y, const T* weight, T* x) {
  geo_t g = GEO_INIT;
  int64_t ckk = c * kh * kw, pix = oh * ow, tile = LOCAL(tile_of)(&g);
  int t = threads_for(n, (double)n * (double)o * (double)pix * (double)ckk);
  (void)t;
#pragma omp parallel num_threads(t) if (t > 1)
  {
    T* cols = LOCAL(columns)(&g, tile);
#pragma omp for schedule(static)
    for (int64_t i = 0; i < n; ++i) {
      memset(x + i * c * h * w, 0, sizeof(T) * (size_t)(c * h * w));
      for (int64_t p0 = 0; p0 < pix; p0 += tile) {
        int64_t np = pix - p0 < tile ? pix - p0 : tile;
        GEMM(CblasRowMajor, CblasTrans, CblasNoTrans, (int)ckk, (int)np, (int)o, 1, weight, (int)ckk,
             y + i * o * pix + p0, (int)pix, 0, cols, (int)np);
        LOCAL(im2col)(&g, x + i * c * h * w, cols, p0, np, 1);
      }
    }
    free(cols);
  }
}

/* weight [o, c*kh*kw] = sum over samples and tiles of y[i][:, tile] @ cols(tile)^T: each
   of kWeightGradChunks fixed runs of samples sums into its own partial (the runs in
   parallel), and the partials are added in order. */
void KNAME(conv_weight_grad)(STARC_CONV_ARGS, const T* x, const T* y, T* weight) {
  geo_t g = GEO_INIT;
  int64_t ckk = c * kh * kw, pix = oh * ow, tile = LOCAL(tile_of)(&g), size = o * ckk;
  int64_t chunks = n < kWeightGradChunks ? n : kWeightGradChunks;
  T* part = chunks > 1 ? (T*)malloc(sizeof(T) * (size_t)(chunks * size)) : weight;
  if (!part) abort();
  int t = threads_for(chunks, (double)n * (double)o * (double)pix * (double)ckk);
  (void)t;
  if (chunks < 1) memset(weight, 0, sizeof(T) * (size_t)size);
#pragma omp parallel num_threads(t) if (t > 1)
  {
    T* cols = LOCAL(columns)(&g, tile);
#pragma omp for schedule(static)
    for (int64_t ch = 0; ch < chunks; ++ch) {
      T* acc = part + ch * size;
      memset(acc, 0, sizeof(T) * (size_t)size);
      for (int64_t i = n * ch / chunks; i < n * (ch + 1) / chunks; ++i)
        for (int64_t p0 = 0; p0 < pix; p0 += tile) {
          int64_t np = pix - p0 < tile ? pix - p0 : tile;
          LOCAL(im2col)(&g, (T*)(x + i * c * h * w), cols, p0, np, 0);
          GEMM(CblasRowMajor, CblasNoTrans, CblasTrans, (int)o, (int)ckk, (int)np, 1, y + i * o * pix + p0, (int)pix,
               cols, (int)np, 1, acc, (int)ckk);
        }
    }
    free(cols);
    if (chunks > 1) {
#pragma omp for schedule(static)
      for (int64_t e = 0; e < size; ++e) {
        T s = part[e];
        for (int64_t ch = 1; ch < chunks; ++ch) s += part[ch * size + e];
        weight[e] = s;
      }
    }
  }
  if (chunks > 1) free(part);
}

#undef KNAME
#undef LOCAL
