/* Misuse of an AOT library's C API (tests/unit/aot_test.cpp builds this against the
   compiled redshift CNN): every bad call must return its error code with a message, and
   change nothing. Prints one line per check; exits 1 on the first unexpected result.
   argv: GOOD.weights OTHER_MODEL.weights OUT_DIR */
#define _POSIX_C_SOURCE 200809L /* mkfifo */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "RedshiftCNN.h"

static int failures = 0;

static void expect(int got, int want, const char* what, const char* needle) {
  const char* msg = RedshiftCNN_last_error();
  int ok = got == want && (!needle || strstr(msg, needle));
  printf("%s %s: code %d, message: %s\n", ok ? "ok" : "FAIL", what, got, want ? msg : "");
  if (!ok) failures++;
}

static void write_file(const char* path, const void* data, size_t n) {
  FILE* f = fopen(path, "wb");
  fwrite(data, 1, n, f);
  fclose(f);
}

int main(int argc, char** argv) {
  if (argc != 4) return 2;
  char path[4096];
  static float flux[RedshiftCNN_INPUT_FLUX_COUNT];
  for (int i = 0; i < RedshiftCNN_INPUT_FLUX_COUNT; ++i) flux[i] = (float)((i * 37) % 101) / 50.0f - 1.0f;
  float z = 0, z_again = 0;

  RedshiftCNN* m = NULL;
  expect(RedshiftCNN_create(NULL, NULL), RedshiftCNN_ERR_NULL, "create with out NULL", "out is NULL");
  expect(RedshiftCNN_create("/nonexistent/w.weights", &m), RedshiftCNN_ERR_IO, "create from a missing file",
         "cannot open");
  if (m) failures++;
  expect(RedshiftCNN_create(NULL, &m), RedshiftCNN_OK, "create (embedded weights)", NULL);

  expect(RedshiftCNN_forward(NULL, flux, RedshiftCNN_INPUT_FLUX_COUNT, &z, 1), RedshiftCNN_ERR_NULL, "forward on NULL",
         "model is NULL");
  expect(RedshiftCNN_forward(m, NULL, RedshiftCNN_INPUT_FLUX_COUNT, &z, 1), RedshiftCNN_ERR_NULL,
         "forward with input NULL", "input 'flux' is NULL");
  expect(RedshiftCNN_forward(m, flux, RedshiftCNN_INPUT_FLUX_COUNT, NULL, 1), RedshiftCNN_ERR_NULL,
         "forward with output NULL", "output 'output' is NULL");
  expect(RedshiftCNN_forward(m, flux, 100, &z, 1), RedshiftCNN_ERR_SIZE, "forward with a short input",
         "input 'flux' has 100 elements, expected 4618 (f32[1,1,4618])");
  expect(RedshiftCNN_forward(m, flux, RedshiftCNN_INPUT_FLUX_COUNT, &z, 2), RedshiftCNN_ERR_SIZE,
         "forward with a wrong output size", "output 'output' has 2 elements, expected 1");
  expect(RedshiftCNN_forward(m, flux, RedshiftCNN_INPUT_FLUX_COUNT, flux + 7, 1), RedshiftCNN_ERR_ALIAS,
         "forward writing into its input", "overlaps");
  expect(RedshiftCNN_forward(m, flux, RedshiftCNN_INPUT_FLUX_COUNT, &z, 1), RedshiftCNN_OK, "forward", NULL);

  /* Shape queries, in and out of range. */
  int ok = RedshiftCNN_num_inputs() == 1 && RedshiftCNN_num_outputs() == 1 &&
           strcmp(RedshiftCNN_input_name(0), "flux") == 0 && RedshiftCNN_input_rank(0) == 3 &&
           RedshiftCNN_input_shape(0)[2] == 4618 && RedshiftCNN_input_count(0) == 4618 &&
           strcmp(RedshiftCNN_input_dtype(0), "f32") == 0 && RedshiftCNN_output_count(0) == 1 &&
           RedshiftCNN_num_params() == 10 && RedshiftCNN_abi_version() == RedshiftCNN_ABI_VERSION;
  printf("%s shape queries\n", ok ? "ok" : "FAIL");
  failures += !ok;
  expect(RedshiftCNN_input_name(5) == NULL ? RedshiftCNN_ERR_RANGE : 0, RedshiftCNN_ERR_RANGE,
         "input_name out of range", "index 5 out of range");
  expect(RedshiftCNN_output_rank(-1) == -1 ? RedshiftCNN_ERR_RANGE : 0, RedshiftCNN_ERR_RANGE,
         "output_rank out of range", "index -1 out of range");

  /* Bad weights files: each fails and leaves the weights as they were. */
  snprintf(path, sizeof path, "%s/garbage.weights", argv[3]);
  write_file(path, "hello, world", 12);
  expect(RedshiftCNN_load_weights(m, path), RedshiftCNN_ERR_WEIGHTS, "load a non-weights file", "no STARCWT1 header");
  snprintf(path, sizeof path, "%s/truncated.weights", argv[3]);
  {
    FILE* f = fopen(argv[1], "rb");
    static unsigned char buf[1 << 16];
    size_t n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    write_file(path, buf, n / 2);
  }
  expect(RedshiftCNN_load_weights(m, path), RedshiftCNN_ERR_WEIGHTS, "load a truncated file", "truncated");
  expect(RedshiftCNN_load_weights(m, argv[2]), RedshiftCNN_ERR_WEIGHTS, "load another model's weights",
         "model RedshiftCNN has 10");
  expect(RedshiftCNN_load_weights(m, NULL), RedshiftCNN_ERR_NULL, "load from NULL", "path is NULL");
  /* Files that are not weights files of this size: a device (read until memory ran out),
     a FIFO (blocked), a folder, a file longer than the model's weights. */
  expect(RedshiftCNN_load_weights(m, "/dev/zero"), RedshiftCNN_ERR_IO, "load /dev/zero", "not a regular file");
  RedshiftCNN* none = NULL;
  expect(RedshiftCNN_create("/dev/zero", &none), RedshiftCNN_ERR_IO, "create from /dev/zero", "not a regular file");
  if (none) failures++;
  snprintf(path, sizeof path, "%s/fifo.weights", argv[3]);
  remove(path);
  if (mkfifo(path, 0600) == 0)
    expect(RedshiftCNN_load_weights(m, path), RedshiftCNN_ERR_IO, "load a FIFO", "not a regular file");
  expect(RedshiftCNN_load_weights(m, argv[3]), RedshiftCNN_ERR_IO, "load a folder", "not a regular file");
  snprintf(path, sizeof path, "%s/long.weights", argv[3]);
  {
    FILE* in = fopen(argv[1], "rb");
    FILE* out = fopen(path, "wb");
    for (int ch; (ch = fgetc(in)) != EOF;) fputc(ch, out);
    fputc(0, out);
    fclose(in);
    fclose(out);
  }
  expect(RedshiftCNN_load_weights(m, path), RedshiftCNN_ERR_WEIGHTS, "load a file one byte too long",
         "a weights file of model RedshiftCNN is");
  expect(RedshiftCNN_forward(m, flux, RedshiftCNN_INPUT_FLUX_COUNT, &z_again, 1), RedshiftCNN_OK,
         "forward after failed loads", NULL);
  printf("%s failed loads changed nothing (%.9g vs %.9g)\n", z_again == z ? "ok" : "FAIL", z, z_again);
  failures += z_again != z;

  /* Save, then load into a second instance: the same outputs. */
  snprintf(path, sizeof path, "%s/saved.weights", argv[3]);
  expect(RedshiftCNN_save_weights(m, path), RedshiftCNN_OK, "save", NULL);
  RedshiftCNN* m2 = NULL;
  expect(RedshiftCNN_create(path, &m2), RedshiftCNN_OK, "create from the saved file", NULL);
  expect(RedshiftCNN_forward(m2, flux, RedshiftCNN_INPUT_FLUX_COUNT, &z_again, 1), RedshiftCNN_OK,
         "forward on the reloaded instance", NULL);
  printf("%s saved and reloaded weights give the same output\n", z_again == z ? "ok" : "FAIL");
  failures += z_again != z;
  expect(RedshiftCNN_save_weights(m, "/nonexistent/dir/w.weights"), RedshiftCNN_ERR_IO, "save into a missing folder",
         "cannot write");
  RedshiftCNN_destroy(m2);
  RedshiftCNN_destroy(m);
  RedshiftCNN_destroy(NULL);
  printf("%d failures\n", failures);
  return failures ? 1 : 0;
}
