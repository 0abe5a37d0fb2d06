/* compiler/backend/kernels: NumPy .npz weights for ahead-of-time libraries. M_load_weights
   and M_create (compiler/aot/aot_api.cpp) read, besides starc's own weights files, the
   .npz files of `starc train --out`, `starc init -o`, training checkpoints and
   numpy.savez / savez_compressed (docs/weights.md): a zip of NAME.npy entries, stored
   or deflated (zlib, linked statically into the library).

   The archive is checked against the model before anything is copied: every model
   tensor present once with its exact dtype ('<f4', '<f8', '<i8', '|b1'), shape and C
   order, no array the model does not have (a checkpoint's `opt.*` and `starc.*` arrays
   are skipped unless the library has such tensors; a library's `opt.*` tensors missing
   from the file keep their values), every entry's CRC. Reads are bounded by the model:
   only the central directory and the entries of the model's tensors are read, each
   entry's declared sizes are checked against its tensor before it is inflated (a zip
   bomb is refused unread), and inflating stops at the declared size.

   Compiled into each library with -DSTARC_KERNEL_PREFIX=MODEL_, as starc_kernels.c. */
#ifndef STARC_NPZ_H
#define STARC_NPZ_H

#include <stddef.h>
#include <stdint.h>

#include "starc_kernels.h" /* STARC_KERNEL */

#ifdef __cplusplus
extern "C" {
#endif

/* One tensor of the library instance. */
typedef struct {
  const char* name;     /* dotted name: the entry is NAME.npy */
  const char* type;     /* "f32[64,5]", for messages */
  uint32_t code;        /* dtype: 0 f32, 1 f64, 2 i64, 3 bool (the weights-file codes) */
  int rank;             /* at most 32 */
  const int64_t* shape; /* rank dims */
  size_t bytes;         /* elements x element size */
  void* dst;            /* receives the data once the whole archive checked out */
} starc_npz_tensor;

/* Return codes: the values of the AOT API's M_OK, M_ERR_WEIGHTS, M_ERR_IO and
   M_ERR_NOMEM (compiler/aot/aot_api.cpp), which passes them on. */
enum { STARC_NPZ_OK = 0, STARC_NPZ_ERR_WEIGHTS = 4, STARC_NPZ_ERR_IO = 5, STARC_NPZ_ERR_NOMEM = 6 };

/* Whether `head` (the first n bytes of a file) starts like a zip archive. */
int STARC_KERNEL(npz_is_zip)(const unsigned char* head, size_t n);

/* Loads the archive in the open file `fd` (`size` bytes; `path` names it in messages)
   into the n tensors of model `model`. On failure returns a code, writes the reason
   ("PATH: ...") into err (cap bytes), and no tensor has changed. */
int STARC_KERNEL(npz_load)(int fd, uint64_t size, const char* path, const char* model, starc_npz_tensor* t, int n,
                           char* err, size_t cap);

/* The same from memory (tests, fuzzing). */
int STARC_KERNEL(npz_load_buffer)(const unsigned char* data, size_t size, const char* what, const char* model,
                                  starc_npz_tensor* t, int n, char* err, size_t cap);

#ifdef __cplusplus
}
#endif
#endif
