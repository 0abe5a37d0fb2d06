"""What the binding promises beyond the numbers: no copies of inputs and outputs, the GIL let go
while compiled code runs, and no memory growth over many calls."""
import threading
import time

import numpy as np
import pytest
import starc
from conftest import PHOTOZ

IDENTITY = "model Id(x: f32[B, 3]) -> f32[B, 3] {\n    return x\n}\n"
TOTAL = "model Total(x: f32[N, M]) -> f32[] {\n    return sum(x)\n}\n"


def test_the_input_buffer_reaches_the_executor():
    # The reference interpreter returns an input as it got it: the output array is over
    # the caller's own buffer only if the Tensor given to the executor was that buffer.
    m = starc.load_string(IDENTITY, backend="ref")
    x = np.arange(12, dtype=np.float32).reshape(4, 3)
    y = m(x)
    assert y.ctypes.data == x.ctypes.data and np.shares_memory(x, y)
    assert y.flags.writeable
    x.flags.writeable = False  # an output over a read-only input stays read-only
    assert not m(x).flags.writeable
    # a layout that needs the documented conversion is copied, once
    f = np.asfortranarray(np.arange(12, dtype=np.float32).reshape(4, 3))
    assert not np.shares_memory(m(f), f)
    np.testing.assert_array_equal(m(f), f)


def vm_hwm_bytes():
    with open("/proc/self/status") as s:
        for line in s:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    raise AssertionError("no VmHWM")


def reset_peak():
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")  # resets VmHWM to the current RSS (Linux 4.0+)
    except OSError:
        pytest.skip("cannot reset the peak RSS (/proc/self/clear_refs)")


def test_a_large_input_is_not_copied_by_the_jit():
    # 128 MiB in: the peak RSS of the call grows by far less than a copy would add, and by
    # about a copy when the layout forces the one conversion (the measurement sees copies).
    m = starc.load_string(TOTAL)
    x = np.ones((4096, 8192), np.float32)
    f = np.asfortranarray(x)
    assert m(np.ones((2, 2), np.float32)) == 4  # compiled before anything is measured
    reset_peak()
    base = vm_hwm_bytes()
    assert m(x) == x.size
    grew = vm_hwm_bytes() - base
    assert grew < x.nbytes / 8, f"the peak grew by {grew} bytes for a {x.nbytes}-byte input"
    reset_peak()
    base = vm_hwm_bytes()
    assert m(f) == x.size
    assert vm_hwm_bytes() - base > 0.9 * x.nbytes


def test_outputs_are_not_copied():
    m = starc.load(PHOTOZ)
    m.init(0)
    y = m(np.zeros((3, 5), np.float32))
    assert y.flags.writeable and y.flags.c_contiguous and y.base is not None  # over the Tensor's storage


def test_the_gil_is_released_while_compiled_code_runs():
    # A chain of large reference-backend matmuls (no compile time); a Python thread counts
    # while it runs. With the GIL held for the call, the thread would count ~nothing.
    m = starc.load_string("model P(a: f64[N, N]) -> f64[N, N] {\n    return a @ a @ a @ a @ a @ a\n}\n",
                          backend="ref")
    a = np.full((700, 700), 1e-3)
    count, stop, started = [0], threading.Event(), threading.Event()

    def spin():
        started.set()
        while not stop.is_set():
            count[0] += 1

    t = threading.Thread(target=spin)
    t.start()
    started.wait()
    before = count[0]
    t0 = time.perf_counter()
    m(a)
    seconds = time.perf_counter() - t0
    during = count[0] - before
    stop.set()
    t.join()
    assert seconds > 0.02, "the call was too short to tell"
    assert during > 1000, f"the other thread counted {during} in {seconds:.3f} s"


def test_threads_may_share_a_model():
    m = starc.load(PHOTOZ)
    m.init(0)
    x = np.random.default_rng(1).standard_normal((8, 5)).astype(np.float32)
    want = m(x)
    results = []
    threads = [threading.Thread(target=lambda: results.append([m(x) for _ in range(200)])) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(np.array_equal(y, want) for r in results for y in r) and len(results) == 4


def rss_bytes():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4096


def test_a_thousand_calls_do_not_grow_memory():
    m = starc.load(PHOTOZ)
    m.init(0)
    x = np.ones((64, 5), np.float32)
    ref = starc.load(PHOTOZ, backend="ref")
    ref.init(0)
    for _ in range(200):  # warm: the allocator's pools, the JIT's caches
        m(x), m(mags=x.astype(np.float64)), ref.grad(x)
    base = rss_bytes()
    for _ in range(1000):
        m(x), m(mags=x.astype(np.float64)), ref.grad(x)
    grew = rss_bytes() - base
    assert grew < 2 << 20, f"RSS grew by {grew} bytes over 1000 calls"
