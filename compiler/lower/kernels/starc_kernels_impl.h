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

void KNAME(matmul)(int64_t batch, int64_t m, int64_t n, int64_t k, int64_t trans_a, int64_t trans_b, const T* a,
                   int64_t stride_a, const T* b, int64_t stride_b, T* c, int64_t stride_c) {
  for (int64_t i = 0; i < batch; ++i)
    GEMM(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans, trans_b ? CblasTrans : CblasNoTrans, (int)m, (int)n,
         (int)k, 1, a + i * stride_a, (int)(trans_a ? m : k), b + i * stride_b, (int)(trans_b ? k : n), 0,
         c + i * stride_c, (int)n);
}

/* y[i][:, tile] = weight [o, c*kh*kw] @ cols(tile) */
void KNAME(conv)(STARC_CONV_ARGS, const T* x, const T* weight, T* y) {
  geo_t g = GEO_INIT;
  int64_t ckk = c * kh * kw, pix = oh * ow, tile = LOCAL(tile_of)(&g);
  T* cols = LOCAL(columns)(&g, tile);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t p0 = 0; p0 < pix; p0 += tile) {
      int64_t np = pix - p0 < tile ? pix - p0 : tile;
      LOCAL(im2col)(&g, (T*)(x + i * c * h * w), cols, p0, np, 0);
      GEMM(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)o, (int)np, (int)ckk, 1, weight, (int)ckk, cols, (int)np,
           0, y + i * o * pix + p0, (int)pix);
    }
  free(cols);
}

/* cols(tile) = weight^T [c*kh*kw, o] @ y[i][:, tile], added back into x[i] */
void KNAME(conv_adjoint)(STARC_CONV_ARGS, const T* y, const T* weight, T* x) {
  geo_t g = GEO_INIT;
  int64_t ckk = c * kh * kw, pix = oh * ow, tile = LOCAL(tile_of)(&g);
  T* cols = LOCAL(columns)(&g, tile);
  memset(x, 0, sizeof(T) * (size_t)(n * c * h * w));
  for (int64_t i = 0; i < n; ++i)
    for (int64_t p0 = 0; p0 < pix; p0 += tile) {
      int64_t np = pix - p0 < tile ? pix - p0 : tile;
      GEMM(CblasRowMajor, CblasTrans, CblasNoTrans, (int)ckk, (int)np, (int)o, 1, weight, (int)ckk,
           y + i * o * pix + p0, (int)pix, 0, cols, (int)np);
      LOCAL(im2col)(&g, x + i * c * h * w, cols, p0, np, 1);
    }
  free(cols);
}

/* weight [o, c*kh*kw] = sum over samples and tiles of y[i][:, tile] @ cols(tile)^T */
void KNAME(conv_weight_grad)(STARC_CONV_ARGS, const T* x, const T* y, T* weight) {
  geo_t g = GEO_INIT;
  int64_t ckk = c * kh * kw, pix = oh * ow, tile = LOCAL(tile_of)(&g);
  T* cols = LOCAL(columns)(&g, tile);
  memset(weight, 0, sizeof(T) * (size_t)(o * ckk));
  for (int64_t i = 0; i < n; ++i)
    for (int64_t p0 = 0; p0 < pix; p0 += tile) {
      int64_t np = pix - p0 < tile ? pix - p0 : tile;
      LOCAL(im2col)(&g, (T*)(x + i * c * h * w), cols, p0, np, 0);
      GEMM(CblasRowMajor, CblasNoTrans, CblasTrans, (int)o, (int)ckk, (int)np, 1, y + i * o * pix + p0, (int)pix,
           cols, (int)np, 1, weight, (int)ckk);
    }
  free(cols);
}

#undef KNAME
#undef LOCAL
