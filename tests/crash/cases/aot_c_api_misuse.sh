# AOT C API: M_create("/dev/zero") read until memory ran out, a FIFO blocked, a file longer than
# the model's weights was read whole, and a dynamic batch whose element count overflows size_t
# (batch * count wrapped) passed the size check; now each is refused with its code
# expect: /dev/zero: code 5: weights file '/dev/zero' is not a regular file
# expect: fifo: code 5: weights file 'fifo' is not a regular file
# expect: long: code 4: 'long.weights' is 1000 bytes; a weights file of model Photoz is 77 bytes
# expect: batch: code 2: Photoz_forward: batch 3689348814741910324 of f32[1,5] per sample does not fit in memory
cat > m.net <<'EOF2'
model Photoz(mags: f32[B, 5]) -> f32[B, 1] {
    param w: [5, 1] = normal
    return mags @ w
}
EOF2
$STARC compile m.net --weights-file --batch dynamic -o lib > /dev/null 2>&1 || exit 3
mkfifo fifo || exit 3
head -c 1000 /dev/zero > long.weights
cat > t.c <<'EOF2'
#include <stdio.h>
#include "Photoz.h"
int main(void) {
  const char* paths[] = {"/dev/zero", "fifo", "long.weights"};
  const char* names[] = {"/dev/zero", "fifo", "long"};
  for (int i = 0; i < 3; ++i) {
    Photoz* m = NULL;
    int rc = Photoz_create(paths[i], &m);
    printf("%s: code %d: %s\n", names[i], rc, Photoz_last_error());
    if (rc == 0 || m) return 2;
  }
  Photoz* m = NULL;
  if (Photoz_create("lib/Photoz.weights", &m)) return 2;
  static float x[4 * 5], y[4];
  /* 3689348814741910324 * 5 wraps to 4 (mod 2^64): the old check let 4 values pass */
  int rc = Photoz_forward(m, 3689348814741910324u, x, 4, y, 4);
  printf("batch: code %d: %s\n", rc, Photoz_last_error());
  Photoz_destroy(m);
  return 1;
}
EOF2
cc -std=c11 t.c -I lib lib/libPhotoz.a -lm -o t || exit 3
./t
