/* See starc_npz.h. Zip: PKWARE's APPNOTE (the central directory is authoritative: numpy's
   local headers carry zip64 fields, streamed writers data descriptors); .npy: NumPy's
   format (numpy.lib.format). */
#define _POSIX_C_SOURCE 200809L /* pread */
#include "starc_npz.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

enum {
  kMaxHeader = 65536, /* .npy header text (numpy itself reads 10000 by default) */
  kMaxRank = 32,
  kChunk = 1 << 16 /* compressed bytes read at a time */
};

typedef struct {
  int fd;                   /* the file, or -1 */
  const unsigned char* mem; /* or its bytes */
  uint64_t size;
  const char *path, *model;
  char* err;
  size_t cap;
} npz_src;

static int npz_fail(npz_src* s, int code, const char* fmt, ...) {
  if (!s->cap) return code;
  int k = snprintf(s->err, s->cap, "%s: ", s->path);
  if (k < 0 || (size_t)k >= s->cap) k = 0;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(s->err + k, s->cap - (size_t)k, fmt, ap);
  va_end(ap);
  return code;
}

static uint16_t le16(const unsigned char* p) { return (uint16_t)(p[0] | p[1] << 8); }
static uint32_t le32(const unsigned char* p) {
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static uint64_t le64(const unsigned char* p) { return le32(p) | (uint64_t)le32(p + 4) << 32; }

/* n bytes at off; a range past the end is a truncated archive. */
static int read_at(npz_src* s, uint64_t off, void* buf, size_t n, const char* what) {
  if (off > s->size || n > s->size - off)
    return npz_fail(s, STARC_NPZ_ERR_WEIGHTS, "truncated or corrupt zip archive: %s lies past its end", what);
  if (!n) return STARC_NPZ_OK;
  if (s->mem) {
    memcpy(buf, s->mem + off, n);
    return STARC_NPZ_OK;
  }
  for (size_t at = 0; at < n;) {
    ssize_t got = pread(s->fd, (char*)buf + at, n - at, (off_t)(off + at));
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) return npz_fail(s, STARC_NPZ_ERR_IO, "cannot read %s: %s", what, strerror(errno));
    if (got == 0) return npz_fail(s, STARC_NPZ_ERR_IO, "cannot read %s: the file shrank while it was read", what);
    at += (size_t)got;
  }
  return STARC_NPZ_OK;
}

/* ---- the central directory ---- */

typedef struct {
  uint64_t count, size, offset;
} npz_dir;

typedef struct {
  const char* name; /* in the directory's buffer, not terminated */
  size_t name_len;
  uint16_t flags, method;
  uint32_t crc;
  uint64_t csize, usize, offset;
} npz_entry;

static int zip64_end(npz_src* s, uint64_t eocd, npz_dir* d) {
  unsigned char loc[20], rec[56];
  int rc = eocd < 20 ? npz_fail(s, STARC_NPZ_ERR_WEIGHTS, "corrupt zip archive: no zip64 end record locator")
                     : read_at(s, eocd - 20, loc, 20, "the zip64 end record locator");
  if (rc) return rc;
  if (memcmp(loc, "PK\6\7", 4) != 0)
    return npz_fail(s, STARC_NPZ_ERR_WEIGHTS, "corrupt zip archive: no zip64 end record locator");
  if ((rc = read_at(s, le64(loc + 8), rec, sizeof rec, "the zip64 end record"))) return rc;
  if (memcmp(rec, "PK\6\6", 4) != 0)
    return npz_fail(s, STARC_NPZ_ERR_WEIGHTS, "corrupt zip archive: bad zip64 end record");
  if (le32(rec + 16) || le32(rec + 20) || le64(rec + 24) != le64(rec + 32))
    return npz_fail(s, STARC_NPZ_ERR_WEIGHTS, "a multi-part zip archive");
  d->count = le64(rec + 32), d->size = le64(rec + 40), d->offset = le64(rec + 48);
  return STARC_NPZ_OK;
}

/* The end-of-central-directory record: the last one in the file's final 64 KiB whose
   comment ends the file. */
static int find_directory(npz_src* s, npz_dir* d) {
  if (s->size < 22)
    return npz_fail(s, STARC_NPZ_ERR_WEIGHTS, "not a zip archive (%llu bytes)", (unsigned long long)s->size);
  size_t tail = s->size < 22 + 65535 ? (size_t)s->size : 22 + 65535, at = SIZE_MAX;
  unsigned char* buf = (unsigned char*)malloc(tail);
  if (!buf) return npz_fail(s, STARC_NPZ_ERR_NOMEM, "out of memory");
  int rc = read_at(s, s->size - tail, buf, tail, "the end of the archive");
  for (size_t i = tail - 22 + 1; !rc && i-- > 0;)
    if (memcmp(buf + i, "PK\5\6", 4) == 0 && i + 22 + le16(buf + i + 20) == tail) {
      at = i;
      break;
    }
  if (!rc && at == SIZE_MAX)
    rc = npz_fail(s, STARC_NPZ_ERR_WEIGHTS, "not a zip archive, or a truncated one (no end of central directory)");
  if (!rc) {
    const unsigned char* e = buf + at;
    uint64_t eocd = s->size - tail + at;
    d->count = le16(e + 10), d->size = le32(e + 12), d->offset = le32(e + 16);
    if (le16(e + 4) || le16(e + 6) || le16(e + 8) != le16(e + 10))
      rc = npz_fail(s, STARC_NPZ_ERR_WEIGHTS, "a multi-part zip archive");
    else if (d->count == 0xFFFF || d->size == 0xFFFFFFFF || d->offset == 0xFFFFFFFF)
      rc = zip64_end(s, eocd, d);
    if (!rc && (d->offset > eocd || d->size > eocd - d->offset))
      rc = npz_fail(s, STARC_NPZ_ERR_WEIGHTS, "corrupt zip archive: its central directory lies outside the file");
  }
  free(buf);
  return rc;
}

/* The sizes and offset that the classic fields mark 0xFFFFFFFF, from the zip64 field. */
static int zip64_fields(npz_src* s, npz_entry* e, const unsigned char* x, size_t n) {
  uint64_t* fields[3] = {&e->usize, &e->csize, &e->offset};
  if (e->usize != 0xFFFFFFFF && e->csize != 0xFFFFFFFF && e->offset != 0xFFFFFFFF) return STARC_NPZ_OK;
  while (n >= 4) {
    size_t id = le16(x), len = le16(x + 2);
    if (len > n - 4) break;
    if (id == 1) {
      const unsigned char *p = x + 4, *end = x + 4 + len;
      for (int f = 0; f < 3; ++f)
        if (*fields[f] == 0xFFFFFFFF) {
          if (end - p < 8) goto bad;
          *fields[f] = le64(p), p += 8;
        }
      return STARC_NPZ_OK;
    }
    x += 4 + len, n -= 4 + len;
  }
bad:
  return npz_fail(s, STARC_NPZ_ERR_WEIGHTS, "corrupt zip archive: entry '%.*s' lacks its zip64 sizes",
                  (int)(e->name_len > 100 ? 100 : e->name_len), e->name);
}

/* The directory's entries, read whole: no more than `limit` bytes (it grows with the
   model's tensors, not with the file). Names point into *buf, which the caller frees. */
static int read_entries(npz_src* s, const npz_dir* d, uint64_t limit, unsigned char** buf, npz_entry** out) {
  if (d->size > limit)
    return npz_fail(s, STARC_NPZ_ERR_WEIGHTS,
                    "its central directory is %llu bytes, more than the weights of model %s could need (%llu)",
                    (unsigned long long)d->size, s->model, (unsigned long long)limit);
  if (d->count > d->size / 46)
    return npz_fail(s, STARC_NPZ_ERR_WEIGHTS, "corrupt zip archive: %llu entries in a central directory of %llu bytes",
                    (unsigned long long)d->count, (unsigned long long)d->size);
  *buf = (unsigned char*)malloc(d->size ? (size_t)d->size : 1);
  *out = (npz_entry*)calloc(d->count ? (size_t)d->count : 1, sizeof **out);
  if (!*buf || !*out) return npz_fail(s, STARC_NPZ_ERR_NOMEM, "out of memory for its central directory");
  int rc = read_at(s, d->offset, *buf, (size_t)d->size, "the central directory");
  size_t at = 0;
  for (uint64_t i = 0; !rc && i < d->count; ++i) {
    const unsigned char* h = *buf + at;
    if (d->size - at < 46 || memcmp(h, "PK\1\2", 4) != 0)
      return npz_fail(s, STARC_NPZ_ERR_WEIGHTS, "corrupt zip archive: bad central directory entry %llu",
                      (unsigned long long)i);
    npz_entry* e = &(*out)[i];
    size_t name = le16(h + 28), extra = le16(h + 30), comment = le16(h + 32);
    if (d->size - at - 46 < name + extra + comment)
      return npz_fail(s, STARC_NPZ_ERR_WEIGHTS, "corrupt zip archive: bad central directory entry %llu",
                      (unsigned long long)i);
    e->flags = le16(h + 8), e->method = le16(h + 10), e->crc = le32(h + 16);
    e->csize = le32(h + 20), e->usize = le32(h + 24), e->offset = le32(h + 42);
    e->name = (const char*)h + 46, e->name_len = name;
    rc = zip64_fields(s, e, h + 46 + name, extra);
    at += 46 + name + extra + comment;
  }
  return rc;
}

/* ---- matching the entries to the model's tensors ---- */

/* A checkpoint's optimizer slots and counters (docs/weights.md). */
static int optional_name(const char* name, size_t len) {
  return (len >= 4 && memcmp(name, "opt.", 4) == 0) || (len >= 6 && memcmp(name, "starc.", 6) == 0);
}

static int is_npy(const npz_entry* e) { return e->name_len >= 4 && memcmp(e->name + e->name_len - 4, ".npy", 4) == 0; }

/* Appends 'name' to a list of at most three names in buf (with " and N more" after). */
static void list_add(char* buf, size_t cap, int* count, const char* name, size_t len, const char* type) {
  size_t k = strlen(buf);
  if (++*count <= 3 && k < cap)
    snprintf(buf + k, cap - k, "%s'%.*s'%s%s%s", *count > 1 ? ", " : "", (int)(len > 100 ? 100 : len), name,
             type ? " (" : "", type ? type : "", type ? ")" : "");
}
static void list_end(char* buf, size_t cap, int count) {
  size_t k = strlen(buf);
  if (count > 3 && k < cap) snprintf(buf + k, cap - k, " and %d more", count - 3);
}

/* entry_of[i]: the entry of tensor i, or -1 when it may stay as it is. Every array must
   be a model tensor, or a checkpoint's (opt.*, starc.*) that the model lacks. */
static int match_entries(npz_src* s, const npz_entry* e, uint64_t count, const starc_npz_tensor* t, int n,
                         int64_t* entry_of) {
  char unexpected[512] = "", missing[512] = "";
  int n_unexpected = 0, n_missing = 0;
  for (int i = 0; i < n; ++i) entry_of[i] = -1;
  for (uint64_t j = 0; j < count; ++j) {
    size_t key = is_npy(&e[j]) ? e[j].name_len - 4 : e[j].name_len;
    int found = -1;
    for (int i = 0; is_npy(&e[j]) && found < 0 && i < n; ++i)
      if (strlen(t[i].name) == key && memcmp(t[i].name, e[j].name, key) == 0) found = i;
    if (found >= 0 && entry_of[found] >= 0)
      return npz_fail(s, STARC_NPZ_ERR_WEIGHTS, "array '%s' appears twice", t[found].name);
    if (found >= 0)
      entry_of[found] = (int64_t)j;
    else if (!optional_name(e[j].name, key))
      list_add(unexpected, sizeof unexpected, &n_unexpected, e[j].name, key, NULL);
  }
  for (int i = 0; i < n; ++i)
    if (entry_of[i] < 0 && !optional_name(t[i].name, strlen(t[i].name)))
      list_add(missing, sizeof missing, &n_missing, t[i].name, strlen(t[i].name), t[i].type);
  list_end(unexpected, sizeof unexpected, n_unexpected);
  list_end(missing, sizeof missing, n_missing);
  if (n_missing && n_unexpected)
    return npz_fail(s, STARC_NPZ_ERR_WEIGHTS, "missing weight%s %s of model %s; unexpected array%s %s",
                    n_missing > 1 ? "s" : "", missing, s->model, n_unexpected > 1 ? "s" : "", unexpected);
  if (n_missing)
    return npz_fail(s, STARC_NPZ_ERR_WEIGHTS, "missing weight%s %s of model %s", n_missing > 1 ? "s" : "", missing,
                    s->model);
  if (n_unexpected)
    return npz_fail(s, STARC_NPZ_ERR_WEIGHTS, "unexpected array%s %s: model %s has no such weight%s",
                    n_unexpected > 1 ? "s" : "", unexpected, s->model, n_unexpected > 1 ? "s" : "");
  return STARC_NPZ_OK;
}

/* ---- one entry's bytes, inflated as they are read ---- */

typedef struct {
  npz_src* s;
  const npz_entry* e;
  const char* name;  /* the tensor's */
  uint64_t at, left; /* compressed bytes: next offset, how many remain */
  uint64_t out;      /* uncompressed bytes delivered */
  uint32_t crc;
  int deflated, open;
  z_stream z;
  unsigned char in[kChunk];
} entry_reader;

static int reader_open(entry_reader* r, npz_src* s, const npz_entry* e, const char* name) {
  memset(r, 0, offsetof(entry_reader, in));
  r->s = s, r->e = e, r->name = name, r->crc = (uint32_t)crc32(0, Z_NULL, 0);
  if (e->flags & 1) return npz_fail(s, STARC_NPZ_ERR_WEIGHTS, "array '%s' is encrypted", name);
  if (e->method != 0 && e->method != 8)
    return npz_fail(s, STARC_NPZ_ERR_WEIGHTS,
                    "array '%s' uses zip compression method %u; starc reads stored and deflated entries", name,
                    e->method);
  /* Deflate adds at most 5 bytes per 16 KiB stored block (zlib's deflateBound). */
  if (e->method == 0 ? e->csize != e->usize : e->csize > e->usize + e->usize / 1024 + 64)
    return npz_fail(s, STARC_NPZ_ERR_WEIGHTS, "corrupt zip archive: array '%s' is %llu bytes compressed for %llu", name,
                    (unsigned long long)e->csize, (unsigned long long)e->usize);
  unsigned char h[30];
  int rc = read_at(s, e->offset, h, sizeof h, "a local header");
  if (rc) return rc;
  if (memcmp(h, "PK\3\4", 4) != 0)
    return npz_fail(s, STARC_NPZ_ERR_WEIGHTS, "corrupt zip archive: no local header for array '%s'", name);
  r->at = e->offset + 30 + le16(h + 26) + le16(h + 28), r->left = e->csize;
  if (r->at > s->size || r->left > s->size - r->at)
    return npz_fail(s, STARC_NPZ_ERR_WEIGHTS, "truncated zip archive: array '%s' lies past its end", name);
  r->deflated = e->method == 8;
  if (r->deflated && inflateInit2(&r->z, -MAX_WBITS) != Z_OK)
    return npz_fail(s, STARC_NPZ_ERR_NOMEM, "out of memory for inflating '%s'", name);
  r->open = r->deflated;
  return STARC_NPZ_OK;
}

static void reader_close(entry_reader* r) {
  if (r->open) inflateEnd(&r->z);
  r->open = 0;
}

/* The next n uncompressed bytes, which the entry must have. */
static int reader_read(entry_reader* r, void* buf, size_t n) {
  npz_src* s = r->s;
  for (const size_t part = (size_t)1 << 30; n > part; buf = (char*)buf + part, n -= part) { /* zlib counts in uInt */
    int rc = reader_read(r, buf, part);
    if (rc) return rc;
  }
  if (n > r->e->usize - r->out)
    return npz_fail(s, STARC_NPZ_ERR_WEIGHTS, "array '%s' is shorter than its header says", r->name);
  int rc = STARC_NPZ_OK;
  if (!r->deflated) {
    rc = read_at(s, r->at, buf, n, "an array");
    r->at += n, r->left -= n;
  } else {
    r->z.next_out = (Bytef*)buf, r->z.avail_out = (uInt)n;
  }
  while (!rc && r->deflated && r->z.avail_out > 0) {
    if (r->z.avail_in == 0 && r->left > 0) {
      size_t k = r->left < kChunk ? (size_t)r->left : kChunk;
      if ((rc = read_at(s, r->at, r->in, k, "an array"))) break;
      r->at += k, r->left -= k, r->z.next_in = r->in, r->z.avail_in = (uInt)k;
    }
    int z = inflate(&r->z, Z_NO_FLUSH);
    if (z == Z_STREAM_END && r->z.avail_out > 0)
      rc = npz_fail(s, STARC_NPZ_ERR_WEIGHTS,
                    "array '%s' is damaged: it inflates to fewer bytes than its zip entry declares", r->name);
    else if (z == Z_MEM_ERROR)
      rc = npz_fail(s, STARC_NPZ_ERR_NOMEM, "out of memory for inflating '%s'", r->name);
    else if (z != Z_OK && z != Z_STREAM_END && !(z == Z_BUF_ERROR && r->left > 0))
      rc = npz_fail(s, STARC_NPZ_ERR_WEIGHTS, "array '%s' is damaged (%s)", r->name,
                    r->z.msg ? r->z.msg : "truncated deflate data");
  }
  if (rc) return rc;
  r->out += n;
  r->crc = (uint32_t)crc32(r->crc, (const Bytef*)buf, (uInt)n);
  return STARC_NPZ_OK;
}

/* After the last byte: the deflate stream ends there, and the CRC matches. */
static int reader_finish(entry_reader* r) {
  npz_src* s = r->s;
  if (r->deflated) {
    unsigned char extra;
    int z = Z_OK;
    for (;;) {
      r->z.next_out = &extra, r->z.avail_out = 1;
      if (r->z.avail_in == 0 && r->left > 0) {
        size_t k = r->left < kChunk ? (size_t)r->left : kChunk;
        int rc = read_at(s, r->at, r->in, k, "an array");
        if (rc) return rc;
        r->at += k, r->left -= k, r->z.next_in = r->in, r->z.avail_in = (uInt)k;
      }
      z = inflate(&r->z, Z_NO_FLUSH);
      if (z != Z_OK || r->z.avail_out == 0) break;
    }
    if (z != Z_STREAM_END || r->z.avail_out == 0)
      return npz_fail(s, STARC_NPZ_ERR_WEIGHTS, "array '%s' does not end where its zip entry declares (%s)", r->name,
                      r->z.avail_out == 0 ? "more data follows"
                      : r->z.msg          ? r->z.msg
                                          : "truncated deflate data");
  }
  if (r->crc != r->e->crc)
    return npz_fail(s, STARC_NPZ_ERR_WEIGHTS, "array '%s' is damaged: its CRC-32 is %08x, the archive says %08x",
                    r->name, r->crc, r->e->crc);
  return STARC_NPZ_OK;
}

/* ---- .npy headers ---- */

typedef struct {
  char descr[16];
  int fortran, rank;
  int64_t dims[kMaxRank];
} npy_header;

static const char* skip_ws(const char* p, const char* end) {
  while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')) ++p;
  return p;
}

/* A Python string literal into out (at most cap - 1 characters); NULL if malformed. */
static const char* py_string(const char* p, const char* end, char* out, size_t cap) {
  if (p >= end || (*p != '\'' && *p != '"')) return NULL;
  char q = *p++;
  size_t n = 0;
  while (p < end && *p != q) {
    if (n + 1 >= cap || *p == '\\') return NULL;
    out[n++] = *p++;
  }
  out[n] = 0;
  return p < end ? p + 1 : NULL;
}

/* A shape tuple: "()", "(5,)", "(64, 5)". */
static const char* py_shape(const char* p, const char* end, npy_header* h) {
  if (p >= end || *p != '(') return NULL;
  p = skip_ws(p + 1, end);
  h->rank = 0;
  while (p < end && *p != ')') {
    if (h->rank == kMaxRank || *p < '0' || *p > '9') return NULL;
    int64_t v = 0;
    for (; p < end && *p >= '0' && *p <= '9'; ++p) {
      if (v > (INT64_MAX - 9) / 10) return NULL;
      v = v * 10 + (*p - '0');
    }
    h->dims[h->rank++] = v;
    p = skip_ws(p, end);
    if (p < end && *p == ',')
      p = skip_ws(p + 1, end);
    else if (p < end && *p != ')')
      return NULL;
  }
  return p < end ? p + 1 : NULL;
}

/* NumPy's header dict: exactly the keys descr (a plain type string), fortran_order, shape. */
static int parse_header(const char* p, const char* end, npy_header* h) {
  int seen = 0;
  p = skip_ws(p, end);
  if (p >= end || *p++ != '{') return 0;
  for (;;) {
    char key[16];
    p = skip_ws(p, end);
    if (p < end && *p == '}') break;
    if (!(p = py_string(p, end, key, sizeof key))) return 0;
    p = skip_ws(p, end);
    if (p >= end || *p++ != ':') return 0;
    p = skip_ws(p, end);
    if (strcmp(key, "descr") == 0 && !(seen & 1)) {
      p = py_string(p, end, h->descr, sizeof h->descr), seen |= 1;
    } else if (strcmp(key, "fortran_order") == 0 && !(seen & 2)) {
      h->fortran = end - p >= 4 && memcmp(p, "True", 4) == 0;
      p = h->fortran ? p + 4 : end - p >= 5 && memcmp(p, "False", 5) == 0 ? p + 5 : NULL, seen |= 2;
    } else if (strcmp(key, "shape") == 0 && !(seen & 4)) {
      p = py_shape(p, end, h), seen |= 4;
    } else {
      return 0;
    }
    if (!p) return 0;
    p = skip_ws(p, end);
    if (p < end && *p == ',') {
      ++p;
      continue;
    }
    if (p < end && *p == '}') break;
    return 0;
  }
  return seen == 7;
}

static void shape_text(char* buf, size_t cap, const npy_header* h) {
  size_t k = (size_t)snprintf(buf, cap, "(");
  for (int i = 0; i < h->rank && k < cap; ++i)
    k += (size_t)snprintf(buf + k, cap - k, "%s%lld%s", i ? ", " : "", (long long)h->dims[i], h->rank == 1 ? "," : "");
  if (k < cap) snprintf(buf + k, cap - k, ")");
}

/* The entry's .npy preamble and header, checked against tensor t; *data: the bytes
   before the data. */
static int read_npy_header(entry_reader* r, const starc_npz_tensor* t, uint64_t* data) {
  static const char* const descr[] = {"<f4", "<f8", "<i8", "|b1"};
  npz_src* s = r->s;
  unsigned char pre[12];
  int rc = reader_read(r, pre, 10);
  if (rc) return rc;
  if (memcmp(pre, "\x93NUMPY", 6) != 0 || pre[6] < 1 || pre[6] > 3)
    return npz_fail(s, STARC_NPZ_ERR_WEIGHTS, "array '%s' is not a .npy array (no NUMPY magic)", t->name);
  uint64_t prefix = pre[6] == 1 ? 10 : 12, len = le16(pre + 8);
  if (prefix == 12 && !(rc = reader_read(r, pre + 10, 2))) len = le32(pre + 8);
  if (rc) return rc;
  if (len > kMaxHeader)
    return npz_fail(s, STARC_NPZ_ERR_WEIGHTS, "array '%s' has a %llu-byte .npy header", t->name,
                    (unsigned long long)len);
  char* text = (char*)malloc(len ? (size_t)len : 1);
  if (!text) return npz_fail(s, STARC_NPZ_ERR_NOMEM, "out of memory");
  npy_header h;
  memset(&h, 0, sizeof h);
  if (!(rc = reader_read(r, text, (size_t)len)) && !parse_header(text, text + len, &h))
    rc = npz_fail(s, STARC_NPZ_ERR_WEIGHTS, "array '%s' has a malformed or unsupported .npy header (%.*s)", t->name,
                  (int)(len > 120 ? 120 : len), text);
  free(text);
  if (rc) return rc;
  int same = h.rank == t->rank;
  for (int i = 0; same && i < h.rank; ++i) same = h.dims[i] == t->shape[i];
  char got[256];
  shape_text(got, sizeof got, &h);
  if (t->code > 3 || strcmp(h.descr, descr[t->code]) != 0 || !same)
    return npz_fail(s, STARC_NPZ_ERR_WEIGHTS, "array '%s' has dtype '%s' and shape %s; model %s needs %s ('%s')",
                    t->name, h.descr, got, s->model, t->type, t->code <= 3 ? descr[t->code] : "?");
  if (h.fortran)
    return npz_fail(s, STARC_NPZ_ERR_WEIGHTS,
                    "array '%s' is in Fortran order; save it in C order (numpy.ascontiguousarray)", t->name);
  *data = prefix + len;
  return STARC_NPZ_OK;
}

/* ---- loading ---- */

/* Tensor t's array from entry e into dst: header, then exactly t->bytes of data, whose
   size the entry must declare (checked before the data is inflated). */
static int read_array(npz_src* s, const npz_entry* e, const starc_npz_tensor* t, unsigned char* dst) {
  entry_reader* r = (entry_reader*)malloc(sizeof *r);
  if (!r) return npz_fail(s, STARC_NPZ_ERR_NOMEM, "out of memory");
  uint64_t header = 0;
  int rc = reader_open(r, s, e, t->name);
  if (!rc) rc = read_npy_header(r, t, &header);
  if (!rc && e->usize != header + t->bytes)
    rc = npz_fail(s, STARC_NPZ_ERR_WEIGHTS,
                  "array '%s' declares %llu bytes uncompressed, but its header and %s make %llu: refused unread",
                  t->name, (unsigned long long)e->usize, t->type, (unsigned long long)(header + t->bytes));
  if (!rc) rc = reader_read(r, dst, t->bytes);
  if (!rc) rc = reader_finish(r);
  reader_close(r);
  free(r);
  return rc;
}

/* Every tensor's array into one staging buffer; copied into the tensors only when all of
   them read without error. */
static int load_arrays(npz_src* s, const npz_entry* e, starc_npz_tensor* t, int n, const int64_t* entry_of) {
  size_t total = 0;
  for (int i = 0; i < n; ++i)
    if (entry_of[i] >= 0) {
      if (t[i].bytes > SIZE_MAX - total) return npz_fail(s, STARC_NPZ_ERR_NOMEM, "the weights do not fit in memory");
      total += t[i].bytes;
    }
  unsigned char* staging = (unsigned char*)malloc(total ? total : 1);
  if (!staging) return npz_fail(s, STARC_NPZ_ERR_NOMEM, "out of memory (%zu bytes of weights)", total);
  int rc = STARC_NPZ_OK;
  size_t at = 0;
  for (int i = 0; !rc && i < n; ++i)
    if (entry_of[i] >= 0) rc = read_array(s, &e[entry_of[i]], &t[i], staging + at), at += t[i].bytes;
  at = 0;
  for (int i = 0; !rc && i < n; ++i)
    if (entry_of[i] >= 0) {
      if (t[i].bytes) memcpy(t[i].dst, staging + at, t[i].bytes);
      at += t[i].bytes;
    }
  free(staging);
  return rc;
}

static int load(npz_src* s, starc_npz_tensor* t, int n) {
  npz_dir d = {0, 0, 0};
  int rc = find_directory(s, &d);
  if (rc) return rc;
  /* A directory entry: 46 bytes, the name and extra fields; a checkpoint has a few per
     tensor, plus its counters. */
  uint64_t limit = ((uint64_t)1 << 20) + 4096 * (uint64_t)(n > 0 ? n : 0);
  unsigned char* dir = NULL;
  npz_entry* e = NULL;
  int64_t* entry_of = (int64_t*)malloc(sizeof(int64_t) * (size_t)(n > 0 ? n : 1));
  if (!entry_of) rc = npz_fail(s, STARC_NPZ_ERR_NOMEM, "out of memory");
  if (!rc) rc = read_entries(s, &d, limit, &dir, &e);
  if (!rc) rc = match_entries(s, e, d.count, t, n, entry_of);
  if (!rc) rc = load_arrays(s, e, t, n, entry_of);
  free(entry_of);
  free(e);
  free(dir);
  return rc;
}

int STARC_KERNEL(npz_is_zip)(const unsigned char* head, size_t n) {
  return n >= 4 && (memcmp(head, "PK\3\4", 4) == 0 || memcmp(head, "PK\5\6", 4) == 0);
}

int STARC_KERNEL(npz_load)(int fd, uint64_t size, const char* path, const char* model, starc_npz_tensor* t, int n,
                           char* err, size_t cap) {
  npz_src s = {fd, NULL, size, path, model, err, cap};
  return load(&s, t, n);
}

int STARC_KERNEL(npz_load_buffer)(const unsigned char* data, size_t size, const char* what, const char* model,
                                  starc_npz_tensor* t, int n, char* err, size_t cap) {
  npz_src s = {-1, data, size, what, model, err, cap};
  return load(&s, t, n);
}
