/* .npz weights in an AOT library (tests/unit/aot_test.cpp builds this against the
   photo-z MLP compiled with a fixed batch, with or without --entry train_step):
     run X.npy FILE...         for each FILE: PhotozMLP_load_weights, then forward on X,
                               printing "FILE: y0 y1 ..."; PhotozMLP_create(FILE) must
                               give the same outputs
     bad X.npy FILE...         for each FILE: the load's code and message as
                               "FILE: code N: MESSAGE"; a failed load must change nothing
                               and PhotozMLP_create(FILE) must fail the same way
     save FILE BEFORE AFTER    save the embedded weights to BEFORE, load FILE, save AFTER
   Exits 1 on the first broken promise. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "PhotozMLP.h"
#include "npy_read.h"

#define NOUT PhotozMLP_OUTPUT_OUTPUT_COUNT

static int forward(PhotozMLP* m, const float* x, size_t n, float* y) {
  int rc = PhotozMLP_forward(m, x, n, y, NOUT);
  if (rc) fprintf(stderr, "forward: %s\n", PhotozMLP_last_error());
  return rc;
}

static int run(const float* x, size_t n, int files, char** paths) {
  PhotozMLP *m, *fresh;
  float y[NOUT], y2[NOUT];
  if (PhotozMLP_create(NULL, &m)) return 1;
  for (int f = 0; f < files; ++f) {
    if (PhotozMLP_load_weights(m, paths[f]) || forward(m, x, n, y)) {
      fprintf(stderr, "%s: %s\n", paths[f], PhotozMLP_last_error());
      return 1;
    }
    printf("%s:", paths[f]);
    for (int i = 0; i < NOUT; ++i) printf(" %.9g", y[i]);
    printf("\n");
    if (PhotozMLP_create(paths[f], &fresh) || forward(fresh, x, n, y2) || memcmp(y, y2, sizeof y) != 0) {
      fprintf(stderr, "%s: create differs from load: %s\n", paths[f], PhotozMLP_last_error());
      return 1;
    }
    PhotozMLP_destroy(fresh);
  }
  PhotozMLP_destroy(m);
  return 0;
}

static int bad(const float* x, size_t n, int files, char** paths) {
  PhotozMLP *m, *none = NULL;
  float before[NOUT], after[NOUT];
  if (PhotozMLP_create(NULL, &m) || forward(m, x, n, before)) return 1;
  for (int f = 0; f < files; ++f) {
    int rc = PhotozMLP_load_weights(m, paths[f]);
    printf("%s: code %d: %s\n", paths[f], rc, PhotozMLP_last_error());
    if (rc == PhotozMLP_OK || forward(m, x, n, after) || memcmp(before, after, sizeof before) != 0) {
      fprintf(stderr, "%s: loaded, or changed the weights\n", paths[f]);
      return 1;
    }
    if (PhotozMLP_create(paths[f], &none) != rc || none) {
      fprintf(stderr, "%s: create does not fail as load does\n", paths[f]);
      return 1;
    }
  }
  PhotozMLP_destroy(m);
  return 0;
}

int main(int argc, char** argv) {
  if (argc == 5 && strcmp(argv[1], "save") == 0) {
    PhotozMLP* m;
    int ok = PhotozMLP_create(NULL, &m) == 0 && PhotozMLP_save_weights(m, argv[3]) == 0 &&
             PhotozMLP_load_weights(m, argv[2]) == 0 && PhotozMLP_save_weights(m, argv[4]) == 0;
    if (!ok) fprintf(stderr, "%s\n", PhotozMLP_last_error());
    return ok ? 0 : 1;
  }
  if (argc < 4) return 2;
  size_t count;
  int64_t shape[8];
  int rank;
  float* x = npy_read_f32(argv[2], &count, shape, &rank);
  if (!x) return 2;
  int rc = strcmp(argv[1], "run") == 0 ? run(x, count, argc - 3, argv + 3) : bad(x, count, argc - 3, argv + 3);
  free(x);
  return rc;
}
