/* A minimal reader of little-endian float32 .npy files (C order), enough for the AOT
   examples: no dependency beyond the C library. Usable from C and C++. */
#ifndef STARC_EXAMPLES_NPY_READ_H
#define STARC_EXAMPLES_NPY_READ_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Reads `path` into a malloc'ed float array; *count gets the element count and
   shape[0..*rank) the shape (up to 8 dims). Returns NULL and prints why on failure. */
static float* npy_read_f32(const char* path, size_t* count, int64_t* shape, int* rank) {
  FILE* f = fopen(path, "rb");
  if (!f) {
    fprintf(stderr, "cannot open %s\n", path);
    return NULL;
  }
  unsigned char pre[10];
  if (fread(pre, 1, 10, f) != 10 || memcmp(pre, "\x93NUMPY", 6) != 0) {
    fprintf(stderr, "%s: not a .npy file\n", path);
    fclose(f);
    return NULL;
  }
  size_t hlen = pre[8] | (size_t)pre[9] << 8;
  if (pre[6] >= 2) { /* version 2+: a 4-byte header length */
    unsigned char more[2];
    if (fread(more, 1, 2, f) != 2) hlen = 0;
    hlen |= (size_t)more[0] << 16 | (size_t)more[1] << 24;
  }
  char* header = (char*)calloc(hlen + 1, 1);
  if (!header || fread(header, 1, hlen, f) != hlen || !strstr(header, "'<f4'") || strstr(header, "True")) {
    fprintf(stderr, "%s: expected a little-endian float32 array in C order\n", path);
    free(header);
    fclose(f);
    return NULL;
  }
  const char* p = strchr(strstr(header, "'shape'"), '(');
  *rank = 0;
  *count = 1;
  while (p && *++p && *p != ')' && *rank < 8) {
    while (*p == ' ' || *p == ',') ++p;
    if (*p == ')') break;
    shape[*rank] = strtoll(p, (char**)&p, 10);
    *count *= (size_t)shape[(*rank)++];
    --p;
  }
  free(header);
  float* data = (float*)malloc(*count * sizeof(float) + 1);
  if (!data || fread(data, sizeof(float), *count, f) != *count) {
    fprintf(stderr, "%s: truncated data\n", path);
    free(data);
    data = NULL;
  }
  fclose(f);
  return data;
}

#endif
