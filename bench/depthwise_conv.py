#!/usr/bin/python3
"""Speed of a grouped / depthwise conv2d: starc's JIT against PyTorch, same machine, same
input, same thread count, in one run.

Usage: PYTHONPATH=build/python /usr/bin/python3 bench/depthwise_conv.py [--threads 1]
       [--repeat 20] [--shape 8,64,56,56] [--kernel 3] [--groups 0 (= channels)]

The layer is MobileNet's depthwise 3x3 (stride 1, padding 1, no bias) unless told
otherwise. Both sides run f32 and report the median of `repeat` timed runs after a
warm-up (starc's first call compiles); the outputs are compared too.
"""
import argparse
import statistics
import time

import numpy as np
import starc
import torch
import torch.nn.functional as F


def median_seconds(fn, repeat):
    fn()
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--repeat", type=int, default=20)
    ap.add_argument("--shape", default="8,64,56,56")
    ap.add_argument("--kernel", type=int, default=3)
    ap.add_argument("--groups", type=int, default=0)
    a = ap.parse_args()
    n, c, h, w = (int(v) for v in a.shape.split(","))
    g, k = a.groups or c, a.kernel
    src = f"""
model Layer(x: f32[{n}, {c}, {h}, {w}]) -> f32[{n}, {c}, {h}, {w}] {{
    param weight: [{c}, {c // g}, {k}, {k}] = he_uniform
    return conv2d(x, weight, padding: {k // 2}, groups: {g})
}}
"""
    m = starc.load_string(src, name="layer.net", threads=a.threads)
    m.init(seed=0)
    x = np.random.default_rng(0).standard_normal((n, c, h, w)).astype(np.float32)
    weight = torch.from_numpy(np.array(m.weights["weight"]))
    xt = torch.from_numpy(x)
    torch.set_num_threads(a.threads)
    ours = median_seconds(lambda: m(x), a.repeat)
    with torch.no_grad():
        theirs = median_seconds(lambda: F.conv2d(xt, weight, padding=k // 2, groups=g), a.repeat)
        want = F.conv2d(xt, weight, padding=k // 2, groups=g).numpy()
    got = np.asarray(m(x))
    err = float(np.max(np.abs(got - want)) / max(float(np.max(np.abs(want))), 1e-6))
    print(f"conv2d x [{n},{c},{h},{w}] w [{c},{c // g},{k},{k}] groups {g}, {a.threads} thread(s), f32: "
          f"starc {ours * 1e3:.2f} ms, PyTorch {theirs * 1e3:.2f} ms, ratio {ours / theirs:.2f} "
          f"(max rel diff {err:.1e}; torch {torch.__version__})")


if __name__ == "__main__":
    main()
