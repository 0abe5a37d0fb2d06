/* The redshift CNN, compiled ahead of time, called from plain C.
     starc compile stdlib/astro/redshift.net --weights weights.npz -o lib/
     cc examples/aot/redshift.c -I lib lib/libRedshiftCNN.a -lm -o redshift
     ./redshift spectra.npy            (float32 [N, 1, 4618] or [N, 4618])
   prints one redshift per spectrum. Only the generated RedshiftCNN.h is needed. */
#include <stdio.h>
#include <stdlib.h>

#include "RedshiftCNN.h"
#include "npy_read.h"

int main(int argc, char** argv) {
  if (argc < 2 || argc > 3) {
    fprintf(stderr, "usage: %s SPECTRA.npy [WEIGHTS.weights]\n", argv[0]);
    return 2;
  }
  size_t count;
  int64_t shape[8];
  int rank;
  float* flux = npy_read_f32(argv[1], &count, shape, &rank);
  if (!flux) return 1;
  const size_t per = RedshiftCNN_INPUT_FLUX_COUNT; /* one spectrum: the library's batch is 1 */
  if (count % per != 0) {
    fprintf(stderr, "%s: %zu values is not a whole number of %zu-pixel spectra\n", argv[1], count, per);
    return 1;
  }
  RedshiftCNN* model;
  if (RedshiftCNN_create(argc == 3 ? argv[2] : NULL, &model) != RedshiftCNN_OK) {
    fprintf(stderr, "error: %s\n", RedshiftCNN_last_error());
    return 1;
  }
  for (size_t i = 0; i < count / per; ++i) {
    float z;
    if (RedshiftCNN_forward(model, flux + i * per, per, &z, 1) != RedshiftCNN_OK) {
      fprintf(stderr, "error: %s\n", RedshiftCNN_last_error());
      return 1;
    }
    printf("%.9g\n", z);
  }
  RedshiftCNN_destroy(model);
  free(flux);
  return 0;
}
