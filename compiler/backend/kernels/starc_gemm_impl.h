/* The GEMM of starc_gemm.h for one element type T (included by starc_gemm.c with T and
   TSUF defined). Four loop nests, by shape:
   - rows: c in tiles of up to 6 rows by NB columns (two vector registers per row) held
     in registers while k runs; each step loads NB values of a row of op(b) and
     multiplies them by one element of each of the tile's rows of op(a). op(b) is read in
     place when its rows are contiguous (no trans_b) and the tile is whole; otherwise
     KC x NB blocks of it are first copied into a panel on the stack (zero-padded past
     column n). Each element is summed in order of k.
   - narrow: a short k against b stored transposed, with few rows (the first dense layer
     of a small batch): scalar rows of c, summed in order of k.
   - thin: at most one vector of columns (no trans_b): a vector per row of c, in order of k.
   - dots: b stored transposed (x @ w^T, dense layers) with few rows or columns, where
     the panel copy would cost as much as the product: each element is a dot product of
     two contiguous rows, summed in vector lanes (k mod LANES), then across the lanes
     pairwise, then the k % LANES tail in order. */

#define GNAME(base) STARC_KERNEL(STARC_KERNEL_CAT(base, TSUF))
#define GL(base) STARC_KERNEL_CAT(gemm_##base, TSUF)
#define LANES ((int)(STARC_GEMM_VBYTES / sizeof(T)))
#define NB (2 * LANES)
#define KC 256 /* panel rows */

typedef T GL(vec) __attribute__((vector_size(STARC_GEMM_VBYTES)));
typedef TI GL(ivec) __attribute__((vector_size(STARC_GEMM_VBYTES))); /* its bits, for masks */

static inline GL(vec) GL(load)(const T* p) {
  GL(vec) v;
  memcpy(&v, p, sizeof v);
  return v;
}
static inline void GL(store)(T* p, GL(vec) v) { memcpy(p, &v, sizeof v); }

/* Rows [0, R) by columns [0, cols) of c += op(a) @ p over kc steps (load 0: c = ...),
   where op(a)(i, k) = a[i * ars + k * aks] and p's rows are ps apart. */
static inline __attribute__((always_inline)) void GL(tile)(const int R, int64_t kc, const T* a, int64_t ars,
                                                           int64_t aks, const T* p, int64_t ps, T* c, int64_t ldc,
                                                           int cols, int load) {
  GL(vec) acc[6][2];
  T part[6][NB]; /* a tile narrower than NB goes through here */
  for (int r = 0; r < R; ++r) {
    if (!load) {
      acc[r][0] = acc[r][1] = (GL(vec)){0};
    } else if (cols == NB) {
      acc[r][0] = GL(load)(c + r * ldc), acc[r][1] = GL(load)(c + r * ldc + LANES);
    } else {
      for (int j = 0; j < NB; ++j) part[r][j] = j < cols ? c[r * ldc + j] : (T)0;
      acc[r][0] = GL(load)(part[r]), acc[r][1] = GL(load)(part[r] + LANES);
    }
  }
  for (int64_t k = 0; k < kc; ++k) {
    GL(vec) b0 = GL(load)(p + k * ps), b1 = GL(load)(p + k * ps + LANES);
    for (int r = 0; r < R; ++r) {
      T x = a[r * ars + k * aks];
      acc[r][0] += x * b0, acc[r][1] += x * b1;
    }
  }
  for (int r = 0; r < R; ++r) {
    if (cols == NB) {
      GL(store)(c + r * ldc, acc[r][0]), GL(store)(c + r * ldc + LANES, acc[r][1]);
    } else {
      GL(store)(part[r], acc[r][0]), GL(store)(part[r] + LANES, acc[r][1]);
      memcpy(c + r * ldc, part[r], sizeof(T) * (size_t)cols);
    }
  }
}

/* Every row of c's column block [0, cols): 6 rows at a time (12 accumulators: AVX's 16
   registers less the two of op(b) and one of op(a)), the rest by 4, 2, 1. */
static void GL(rows)(int64_t m, int64_t kc, const T* a, int64_t ars, int64_t aks, const T* p, int64_t ps, T* c,
                     int64_t ldc, int cols, int load) {
  int64_t i = 0;
  for (; i + 6 <= m; i += 6) GL(tile)(6, kc, a + i * ars, ars, aks, p, ps, c + i * ldc, ldc, cols, load);
  if (i + 4 <= m) GL(tile)(4, kc, a + i * ars, ars, aks, p, ps, c + i * ldc, ldc, cols, load), i += 4;
  if (i + 2 <= m) GL(tile)(2, kc, a + i * ars, ars, aks, p, ps, c + i * ldc, ldc, cols, load), i += 2;
  if (i < m) GL(tile)(1, kc, a + i * ars, ars, aks, p, ps, c + i * ldc, ldc, cols, load);
}

/* The lanes of v summed pairwise (a tree, not a chain of dependent adds). */
static inline T GL(lanes)(GL(vec) v) {
  T part[LANES];
  memcpy(part, &v, sizeof part);
  for (int w = LANES / 2; w > 0; w /= 2)
    for (int l = 0; l < w; ++l) part[l] += part[l + w];
  return part[0];
}

/* c[i, j] (+)= a[i] . b[j] for i < I, j < 4 (J, 1 or 4): k-long contiguous rows of a
   (lda apart) and of b (ldb apart). One row of a keeps two vectors per dot in flight. */
static inline __attribute__((always_inline)) void GL(dot)(const int I, const int J, int64_t k, const T* a, int64_t lda,
                                                          const T* b, int64_t ldb, T* c, int64_t ldc, int load) {
  GL(vec) acc[2][4][2];
  for (int i = 0; i < I; ++i)
    for (int j = 0; j < J; ++j) acc[i][j][0] = acc[i][j][1] = (GL(vec)){0};
  int64_t kk = 0;
  if (I == 1) {
    for (; kk + NB <= k; kk += NB) {
      GL(vec) a0 = GL(load)(a + kk), a1 = GL(load)(a + kk + LANES);
      for (int j = 0; j < J; ++j)
        acc[0][j][0] += a0 * GL(load)(b + j * ldb + kk), acc[0][j][1] += a1 * GL(load)(b + j * ldb + kk + LANES);
    }
  } else {
    for (; kk + LANES <= k; kk += LANES)
      for (int j = 0; j < J; ++j) {
        GL(vec) bj = GL(load)(b + j * ldb + kk);
        for (int i = 0; i < I; ++i) acc[i][j][0] += GL(load)(a + i * lda + kk) * bj;
      }
  }
  for (int i = 0; i < I; ++i)
    for (int j = 0; j < J; ++j) {
      T s = kk ? GL(lanes)(acc[i][j][0] + acc[i][j][1]) : (T)0;
      for (int64_t t = kk; t < k; ++t) s += a[i * lda + t] * b[j * ldb + t];
      c[i * ldc + j] = load ? c[i * ldc + j] + s : s;
    }
}

/* c = op(a) @ b^T by dot products; op(a)'s rows must be contiguous (no trans_a). */
static void GL(dots)(int64_t m, int64_t n, int64_t k, const T* a, int64_t lda, const T* b, int64_t ldb, T* c,
                     int64_t ldc, int load) {
  int64_t i = 0;
  for (; i + 2 <= m; i += 2) {
    int64_t j = 0;
    for (; j + 4 <= n; j += 4) GL(dot)(2, 4, k, a + i * lda, lda, b + j * ldb, ldb, c + i * ldc + j, ldc, load);
    for (; j < n; ++j) GL(dot)(2, 1, k, a + i * lda, lda, b + j * ldb, ldb, c + i * ldc + j, ldc, load);
  }
  for (; i < m; ++i) {
    int64_t j = 0;
    for (; j + 4 <= n; j += 4) GL(dot)(1, 4, k, a + i * lda, lda, b + j * ldb, ldb, c + i * ldc + j, ldc, load);
    for (; j < n; ++j) GL(dot)(1, 1, k, a + i * lda, lda, b + j * ldb, ldb, c + i * ldc + j, ldc, load);
  }
}

/* A short k and few rows, where neither vectors along k nor a panel copy pay:
   c[i, :] (+)= sum over k of op(a)(i, k) * op(b)(k, :), in order of k, reading op(b) in
   place (op(b)(k, j) = b[k * bks + j * bjs]), R rows of c at a time. */
static inline __attribute__((always_inline)) void GL(narrow_rows)(const int R, int64_t n, int64_t k, const T* a,
                                                                  int64_t ars, int64_t aks, const T* b, int64_t bks,
                                                                  int64_t bjs, T* c, int64_t ldc, int load) {
  for (int r = 0; r < R && !load; ++r) memset(c + r * ldc, 0, sizeof(T) * (size_t)n);
  for (int64_t kk = 0; kk < k; ++kk) {
    T x[4];
    for (int r = 0; r < R; ++r) x[r] = a[r * ars + kk * aks];
    for (int64_t j = 0; j < n; ++j) {
      const T bj = b[kk * bks + j * bjs];
      for (int r = 0; r < R; ++r) c[r * ldc + j] += x[r] * bj;
    }
  }
}
static void GL(narrow)(int64_t m, int64_t n, int64_t k, const T* a, int64_t ars, int64_t aks, const T* b, int64_t bks,
                       int64_t bjs, T* c, int64_t ldc, int load) {
  int64_t i = 0;
  for (; i + 4 <= m; i += 4) GL(narrow_rows)(4, n, k, a + i * ars, ars, aks, b, bks, bjs, c + i * ldc, ldc, load);
  for (; i < m; ++i) GL(narrow_rows)(1, n, k, a + i * ars, ars, aks, b, bks, bjs, c + i * ldc, ldc, load);
}

/* At most LANES columns of b with contiguous rows (no trans_b): each row of c is one
   vector while k runs, in order of k. A row of op(b) is a vector load masked to its n
   columns where the load stays inside b (all but its last rows), else built lane by lane
   (not through memory: a vector load of scalars just stored stalls on forwarding).
   R rows of c at a time. */
static inline __attribute__((always_inline)) void GL(thin_rows)(const int R, int n, int64_t k, const T* a, int64_t ars,
                                                                int64_t aks, const T* b, int64_t ldb, T* c, int64_t ldc,
                                                                int load) {
  GL(vec) acc[4];
  GL(ivec) mask;
  for (int l = 0; l < LANES; ++l) mask[l] = l < n ? -1 : 0;
  /* Lanes by constant index only (loops of LANES, unrolled), so that acc stays in
     registers. */
  for (int r = 0; r < R; ++r) {
    acc[r] = (GL(vec)){0};
    for (int l = 0; l < LANES; ++l)
      if (load && l < n) acc[r][l] = c[r * ldc + l];
  }
  /* rows kk < safe end at least LANES elements before the end of b */
  const int64_t last = (k - 1) * ldb + n, safe = last < LANES ? 0 : (last - LANES) / ldb + 1;
  for (int64_t kk = 0; kk < k; ++kk) {
    GL(vec) bv = (GL(vec)){0};
    if (kk < safe) {
      bv = (GL(vec))((GL(ivec))GL(load)(b + kk * ldb) & mask);
    } else {
      for (int l = 0; l < LANES; ++l)
        if (l < n) bv[l] = b[kk * ldb + l];
    }
    for (int r = 0; r < R; ++r) acc[r] += a[r * ars + kk * aks] * bv;
  }
  for (int r = 0; r < R; ++r)
    for (int l = 0; l < LANES; ++l)
      if (l < n) c[r * ldc + l] = acc[r][l];
}
static void GL(thin)(int64_t m, int n, int64_t k, const T* a, int64_t ars, int64_t aks, const T* b, int64_t ldb, T* c,
                     int64_t ldc, int load) {
  int64_t i = 0;
  for (; i + 4 <= m; i += 4) GL(thin_rows)(4, n, k, a + i * ars, ars, aks, b, ldb, c + i * ldc, ldc, load);
  for (; i < m; ++i) GL(thin_rows)(1, n, k, a + i * ars, ars, aks, b, ldb, c + i * ldc, ldc, load);
}

/* panel[kk, jj] = op(b)(k0 + kk, j0 + jj), 0 past column j0 + cols. */
static void GL(pack)(int trans_b, const T* b, int64_t ldb, int64_t k0, int64_t kc, int64_t j0, int cols, T* panel) {
  for (int jj = 0; jj < NB; ++jj)
    for (int64_t kk = 0; kk < kc; ++kk)
      panel[kk * NB + jj] = jj >= cols ? (T)0 : trans_b ? b[(j0 + jj) * ldb + k0 + kk] : b[(k0 + kk) * ldb + j0 + jj];
}

/* alpha other than 1 (which starc_kernels.c never passes): a plain loop. */
static void GL(scaled)(int64_t m, int64_t n, int64_t k, T alpha, const T* a, int64_t ars, int64_t aks, const T* b,
                       int64_t bks, int64_t bjs, int load, T* c, int64_t ldc) {
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < n; ++j) {
      T s = 0;
      for (int64_t kk = 0; kk < k; ++kk) s += a[i * ars + kk * aks] * b[kk * bks + j * bjs];
      c[i * ldc + j] = alpha * s + (load ? c[i * ldc + j] : (T)0);
    }
}

void GNAME(gemm)(int trans_a, int trans_b, int64_t m, int64_t n, int64_t k, T alpha, const T* a, int64_t lda,
                 const T* b, int64_t ldb, T beta, T* c, int64_t ldc) {
  if (m <= 0 || n <= 0) return;
  for (int64_t i = 0; beta != 0 && beta != 1 && i < m; ++i)
    for (int64_t j = 0; j < n; ++j) c[i * ldc + j] *= beta;
  const int load = beta != 0; /* c holds beta * c now */
  if (k <= 0 || alpha == 0) {
    for (int64_t i = 0; !load && i < m; ++i) memset(c + i * ldc, 0, sizeof(T) * (size_t)n);
    return;
  }
  const int64_t ars = trans_a ? 1 : lda, aks = trans_a ? lda : 1;
  const int64_t bks = trans_b ? 1 : ldb, bjs = trans_b ? ldb : 1; /* op(b)(k, j) = b[k * bks + j * bjs] */
  if (alpha != 1) {
    GL(scaled)(m, n, k, alpha, a, ars, aks, b, bks, bjs, load, c, ldc);
    return;
  }
  if (trans_b && k < NB && m < 6) {
    GL(narrow)(m, n, k, a, ars, aks, b, bks, bjs, c, ldc, load);
    return;
  }
  if (!trans_b && n <= LANES) {
    GL(thin)(m, (int)n, k, a, ars, aks, b, ldb, c, ldc, load);
    return;
  }
  if (trans_b && !trans_a && (m < 4 || n < NB / 2)) {
    GL(dots)(m, n, k, a, lda, b, ldb, c, ldc, load);
    return;
  }
  T panel[KC * NB];
  for (int64_t j0 = 0; j0 < n; j0 += NB) {
    const int cols = n - j0 < NB ? (int)(n - j0) : NB;
    if (!trans_b && cols == NB) {
      GL(rows)(m, k, a, ars, aks, b + j0, ldb, c + j0, ldc, cols, load);
      continue;
    }
    for (int64_t k0 = 0; k0 < k; k0 += KC) {
      const int64_t kc = k - k0 < KC ? k - k0 : KC;
      GL(pack)(trans_b, b, ldb, k0, kc, j0, cols, panel);
      GL(rows)(m, kc, a + k0 * aks, ars, aks, panel, NB, c + j0, ldc, cols, load || k0 > 0);
    }
  }
}

#undef GNAME
#undef GL
#undef LANES
#undef NB
#undef KC
