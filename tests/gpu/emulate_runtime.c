/* tests/gpu: the runtime of the CPU emulation of the GPU kernel library (see
   emulate_kernels.py, which turns each gpu.launch_func into a call of emu_launch).

   A launch runs the grid's blocks one after another; a block's threads run as
   coroutines (ucontext) on one OS thread: each runs until its next barrier or its end,
   then the next one runs. Everything is deterministic, and a missing barrier shows: a
   thread that reads the shared tile before the others wrote it (or after the next tile
   overwrote it) reads NaN or the wrong tile. Odd blocks run their threads in reverse
   order, so that a race shows whichever thread reads whose data. Shared buffers are
   NaN before each block (the generated poison functions).

   Checked at run time, as the CUDA driver or the hardware would: a grid or block
   dimension that is zero or over CUDA's limits (grid y/z: emu_grid_yz_limit(), lowered
   by emulate_kernels.py --grid-yz-limit), a block size other than the kernel's
   known_block_size, and a barrier that not every thread of the block reaches. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <ucontext.h>

void emu_dispatch(int64_t kid, int64_t* ctx, int64_t tid); /* generated */
int64_t emu_grid_yz_limit(void);                           /* generated */

enum { kMaxThreads = 1024, kStackBytes = 64 * 1024, kGuardBytes = 64 * 1024 };

static ucontext_t sched_ctx, fiber_ctx[kMaxThreads];
static char* stacks[kMaxThreads];
static int state[kMaxThreads]; /* 0 running/ready, 1 at a barrier, 2 finished */
static int64_t cur_tid, cur_kid;
static int64_t* cur_ctx;
static int in_block;
static int64_t n_launches, n_blocks, n_barriers; /* emu_stats */

void emu_stats(int64_t* launches, int64_t* blocks, int64_t* barriers) {
  *launches = n_launches, *blocks = n_blocks, *barriers = n_barriers;
}

static void die(const char* what) {
  fprintf(stderr, "GPU emulation: %s (kernel %lld)\n", what, (long long)cur_kid);
  fflush(stderr);
  abort();
}

void emu_bad_block_size(void) { die("launch with a block size other than the kernel's known_block_size"); }
void emu_bad_kernel_id(void) { die("unknown kernel id"); }

void emu_barrier(void) {
  if (!in_block) die("barrier outside a block");
  state[cur_tid] = 1;
  ++n_barriers;
  swapcontext(&fiber_ctx[cur_tid], &sched_ctx);
}

static void fiber_main(void) {
  emu_dispatch(cur_kid, cur_ctx, cur_tid);
  state[cur_tid] = 2; /* returns to sched_ctx through uc_link */
}

static void run_block(int64_t nthreads, int reverse) {
  for (int64_t t = 0; t < nthreads; ++t) {
    if (!stacks[t]) { /* with a PROT_NONE page below: an overflow faults */
      void* m = mmap(NULL, kStackBytes + kGuardBytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
      if (m == MAP_FAILED || mprotect(m, kGuardBytes, PROT_NONE)) die("cannot map a thread stack");
      stacks[t] = (char*)m + kGuardBytes;
    }
    getcontext(&fiber_ctx[t]);
    fiber_ctx[t].uc_stack.ss_sp = stacks[t];
    fiber_ctx[t].uc_stack.ss_size = kStackBytes;
    fiber_ctx[t].uc_link = &sched_ctx;
    makecontext(&fiber_ctx[t], fiber_main, 0);
    state[t] = 0;
  }
  in_block = 1;
  for (;;) {
    int64_t finished = 0, waiting = 0;
    for (int64_t i = 0; i < nthreads; ++i) {
      int64_t t = reverse ? nthreads - 1 - i : i;
      if (state[t] == 2) continue;
      state[t] = 0;
      cur_tid = t;
      swapcontext(&sched_ctx, &fiber_ctx[t]);
    }
    for (int64_t t = 0; t < nthreads; ++t) finished += state[t] == 2, waiting += state[t] == 1;
    if (finished == nthreads) break;
    if (finished) die("a barrier that some threads of the block never reach (they returned)");
    (void)waiting;
  }
  in_block = 0;
}

void emu_launch(int64_t kid, int64_t* ctx, int64_t gx, int64_t gy, int64_t gz, int64_t bx, int64_t by, int64_t bz) {
  cur_kid = kid, cur_ctx = ctx;
  int64_t yz = emu_grid_yz_limit();
  if (gx < 1 || gy < 1 || gz < 1) die("launch with an empty grid (CUDA_ERROR_INVALID_VALUE)");
  if (gx > INT32_MAX || gy > yz || gz > yz) die("launch with a grid over CUDA's limits");
  if (bx < 1 || by < 1 || bz < 1 || bx * by * bz > kMaxThreads || bz > 64) die("launch with an invalid block size");
  if (in_block) die("launch from inside a kernel");
  ++n_launches;
  ctx[3] = gx, ctx[4] = gy, ctx[5] = gz, ctx[6] = bx, ctx[7] = by, ctx[8] = bz;
  int64_t block = 0;
  for (int64_t z = 0; z < gz; ++z)
    for (int64_t y = 0; y < gy; ++y)
      for (int64_t x = 0; x < gx; ++x, ++block) {
        ctx[0] = x, ctx[1] = y, ctx[2] = z;
        ++n_blocks;
        emu_dispatch(kid, ctx, -1); /* shared buffers := NaN */
        run_block(bx * by * bz, (int)(block & 1));
      }
}
