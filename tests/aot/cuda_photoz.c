/* A program linking a `starc compile --device cuda` library of stdlib/astro/photoz.net
   (batch 4, forward and train_step), for tests/unit/gpu_test.cpp.
     cuda_photoz no-device   expects PhotozMLP_create to fail with PhotozMLP_ERR_DEVICE
     cuda_photoz run         creates, runs forward and two train steps, saves weights
   It prints each call's result and PhotozMLP_last_error. */
#include <stdio.h>
#include <string.h>

#include "PhotozMLP.h"

int main(int argc, char** argv) {
  if (argc < 2) return 2;
  PhotozMLP* m = NULL;
  int rc = PhotozMLP_create(NULL, &m);
  if (strcmp(argv[1], "no-device") == 0) {
    printf("create: %d %s\n", rc, PhotozMLP_last_error());
    return rc == PhotozMLP_ERR_DEVICE && m == NULL ? 0 : 1;
  }
  if (rc != PhotozMLP_OK) {
    printf("create failed: %d %s\n", rc, PhotozMLP_last_error());
    return 1;
  }
  float mags[4 * 5] = {0}, z[4] = {0}, out[4] = {0};
  rc = PhotozMLP_forward(m, mags, 20, out, 4);
  printf("forward: %d %s\n", rc, rc ? PhotozMLP_last_error() : "");
  double loss = -1;
  for (int step = 1; rc == PhotozMLP_OK && step <= 2; ++step) {
    rc = PhotozMLP_train_step(m, 1e-3, step, mags, 20, z, 4, &loss, NULL);
    printf("train_step %d: %d loss %g %s\n", step, rc, loss, rc ? PhotozMLP_last_error() : "");
  }
  if (rc == PhotozMLP_OK && argc > 2) {
    rc = PhotozMLP_save_weights(m, argv[2]);
    printf("save: %d %s\n", rc, rc ? PhotozMLP_last_error() : "");
  }
  PhotozMLP_destroy(m);
  return rc == PhotozMLP_OK ? 0 : 1;
}
