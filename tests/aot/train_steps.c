/* Training inside an AOT library (tests/unit/aot_test.cpp builds this against the
   redshift CNN compiled with --entry forward,train_step): argv FLUX.npy Z.npy
   STEPS OUT.weights. Runs STEPS updates of Adam on the one batch (lr 1e-3), printing the
   loss of each, and saves the weights (with the optimizer state). Then checks that a
   learning rate that the language refuses (negative, NaN, infinite), step 0 and a short
   batch are refused and change nothing. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "RedshiftCNN.h"
#include "npy_read.h"

#define CHECK(call)                                                 \
  do {                                                              \
    if ((call) != RedshiftCNN_OK) {                                 \
      fprintf(stderr, "%s: %s\n", #call, RedshiftCNN_last_error()); \
      return 1;                                                     \
    }                                                               \
  } while (0)

int main(int argc, char** argv) {
  if (argc != 5) return 2;
  size_t nf, nz;
  int64_t shape[8];
  int rank;
  float* flux = npy_read_f32(argv[1], &nf, shape, &rank);
  float* z = npy_read_f32(argv[2], &nz, shape, &rank);
  if (!flux || !z) return 1;
  RedshiftCNN* m;
  CHECK(RedshiftCNN_create(NULL, &m));
  int steps = atoi(argv[3]);
  for (int s = 1; s <= steps; ++s) {
    double loss, metrics[8];
    CHECK(RedshiftCNN_train_step(m, 1e-3, s, flux, nf, z, nz, &loss, metrics));
    printf("loss %.9g %s %.9g\n", loss, RedshiftCNN_metric_name(0), metrics[0]);
  }
  CHECK(RedshiftCNN_save_weights(m, argv[4]));

  float before[RedshiftCNN_BATCH], after[RedshiftCNN_BATCH];
  CHECK(RedshiftCNN_forward(m, flux, nf, before, RedshiftCNN_BATCH));
  const double bad_lr[] = {INFINITY, -1, NAN, 1e300 /* infinite as f32 */};
  for (int i = 0; i < 4; ++i) {
    int rc = RedshiftCNN_train_step(m, bad_lr[i], steps + 1, flux, nf, z, nz, NULL, NULL);
    printf("lr %g: code %d: %s\n", bad_lr[i], rc, RedshiftCNN_last_error());
    if (rc != RedshiftCNN_ERR_RANGE || !strstr(RedshiftCNN_last_error(), "must be >= 0 and finite")) return 1;
  }
  int rc = RedshiftCNN_train_step(m, 1e-3, 0, flux, nf, z, nz, NULL, NULL);
  printf("step 0: code %d: %s\n", rc, RedshiftCNN_last_error());
  if (rc != RedshiftCNN_ERR_RANGE) return 1;
  rc = RedshiftCNN_train_step(m, 1e-3, steps + 1, flux, nf - 1, z, nz, NULL, NULL);
  printf("short batch: code %d: %s\n", rc, RedshiftCNN_last_error());
  if (rc != RedshiftCNN_ERR_SIZE) return 1;
  CHECK(RedshiftCNN_forward(m, flux, nf, after, RedshiftCNN_BATCH));
  for (int i = 0; i < RedshiftCNN_BATCH; ++i)
    if (before[i] != after[i]) {
      printf("a refused step changed the model: %g vs %g\n", before[i], after[i]);
      return 1;
    }
  printf("refused steps changed nothing\n");
  RedshiftCNN_destroy(m);
  free(flux);
  free(z);
  return 0;
}
