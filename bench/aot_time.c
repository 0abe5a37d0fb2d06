/* Times MODEL_forward of an ahead-of-time compiled library of a model with one f32 input
   and one f32 output (default the redshift CNN; bench/redshift_forward.py builds it
   against the library): one warm-up call, then prints the time of each of argv[1] timed
   rounds in ms, one per line, each round the mean of argv[2] calls (default 1: short
   forwards, such as the photo-z MLP's microseconds, need more). The input is a fixed
   pseudo-random batch.

     cc -O2 bench/aot_time.c -I lib lib/libRedshiftCNN.so -Wl,-rpath,lib -o aot_time
     cc -O2 -DMODEL=PhotozMLP bench/aot_time.c -I lib lib/libPhotozMLP.a -lm -o aot_time */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#ifndef MODEL
#define MODEL RedshiftCNN
#endif
#define CAT2(a, b) a##_##b
#define CAT(a, b) CAT2(a, b)
#define API(name) CAT(MODEL, name)
#define STR2(x) #x
#define STR(x) STR2(x)
#include STR(MODEL.h)

int main(int argc, char** argv) {
  int repeat = argc > 1 ? atoi(argv[1]) : 5, calls = argc > 2 ? atoi(argv[2]) : 1;
  size_t nx = API(input_count)(0), ny = API(output_count)(0);
  float *x = malloc(nx * sizeof *x), *y = malloc(ny * sizeof *y);
  for (size_t i = 0; i < nx; ++i) x[i] = (float)((i * 7919) % 2000) / 1000.0f - 1.0f;
  MODEL* m;
  if (API(num_inputs)() != 1 || API(num_outputs)() != 1 || API(create)(NULL, &m) != API(OK)) {
    fprintf(stderr, "%s\n", API(last_error)());
    return 1;
  }
  for (int r = -1; r < repeat; ++r) {
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (int c = 0; c < (r < 0 ? 1 : calls); ++c)
      if (API(forward)(m, x, nx, y, ny)) {
        fprintf(stderr, "%s\n", API(last_error)());
        return 1;
      }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    if (r >= 0) printf("%.6f\n", ((t1.tv_sec - t0.tv_sec) * 1e3 + (t1.tv_nsec - t0.tv_nsec) / 1e6) / calls);
  }
  API(destroy)(m);
  free(x), free(y);
  return 0;
}
