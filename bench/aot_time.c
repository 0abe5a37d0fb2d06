/* Times RedshiftCNN_forward of an ahead-of-time compiled library (bench/redshift_forward.py
   builds it against the library): one warm-up call, then prints the time of each of
   argv[1] calls in ms, one per line. The input is a fixed pseudo-random spectrum batch. */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "RedshiftCNN.h"

int main(int argc, char** argv) {
  int repeat = argc > 1 ? atoi(argv[1]) : 5;
  static float flux[RedshiftCNN_INPUT_FLUX_COUNT], z[RedshiftCNN_OUTPUT_OUTPUT_COUNT];
  for (int i = 0; i < RedshiftCNN_INPUT_FLUX_COUNT; ++i) flux[i] = (float)((i * 7919) % 2000) / 1000.0f - 1.0f;
  RedshiftCNN* m;
  if (RedshiftCNN_create(NULL, &m) != RedshiftCNN_OK) {
    fprintf(stderr, "%s\n", RedshiftCNN_last_error());
    return 1;
  }
  for (int r = -1; r < repeat; ++r) {
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    if (RedshiftCNN_forward(m, flux, RedshiftCNN_INPUT_FLUX_COUNT, z, RedshiftCNN_OUTPUT_OUTPUT_COUNT)) {
      fprintf(stderr, "%s\n", RedshiftCNN_last_error());
      return 1;
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    if (r >= 0) printf("%.4f\n", (t1.tv_sec - t0.tv_sec) * 1e3 + (t1.tv_nsec - t0.tv_nsec) / 1e6);
  }
  RedshiftCNN_destroy(m);
  return 0;
}
