#!/usr/bin/python3
"""Forward-pass speed of the redshift CNN: starc's JIT, the same model compiled ahead of
time (`starc compile`, timed from C by bench/aot_time.c) and PyTorch, same machine, same
batch, same thread count, in one run.

Usage: /usr/bin/python3 bench/redshift_forward.py [--starc build/starc] [--batch 8]
       [--threads 2] [--repeat 5]

starc: `starc run --timings --repeat N` (the first run compiles; the median of the
others is reported). PyTorch: torch.nn.Sequential of the same layers with the same
weights, torch.set_num_threads(threads), median of N timed runs after one warm-up.
Prints both times and the ratio starc / PyTorch (below 1 means starc is faster).
"""
import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np
import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "e2e"))
from torch_redshift import REDSHIFT_MAP, load, redshift_torch, to_torch_names  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--starc", default="build/starc")
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeat", type=int, default=5)
    a = ap.parse_args()
    net = "stdlib/astro/redshift.net"
    with tempfile.TemporaryDirectory() as tmp:
        w_path, x_path = os.path.join(tmp, "w.npz"), os.path.join(tmp, "x.npy")
        subprocess.run([a.starc, "init", net, "--seed", "1", "-o", w_path], check=True, capture_output=True)
        x = np.random.default_rng(0).standard_normal((a.batch, 1, 4618)).astype(np.float32)
        np.save(x_path, x)
        r = subprocess.run([a.starc, "run", net, "--in", x_path, "--weights", w_path, "--timings",
                            "--repeat", str(a.repeat + 1), "--threads", str(a.threads)],
                           capture_output=True, text=True, check=True)
        runs = [float(m) for m in re.findall(r"run ([0-9.]+) ms", r.stderr)]
        compile_ms = float(re.search(r"compile total ([0-9.]+) ms", r.stderr).group(1)) if "compile total" in r.stderr else 0
        starc_ms = statistics.median(runs[1:])
        with np.load(w_path) as z:
            weights = {k: z[k] for k in z.files}
        lib = os.path.join(tmp, "lib")
        subprocess.run([a.starc, "compile", net, "--weights", w_path, "--batch", str(a.batch), "--threads",
                        str(a.threads), "-o", lib], check=True, capture_output=True)
        here = os.path.dirname(os.path.abspath(__file__))
        prog = os.path.join(tmp, "aot_time")
        subprocess.run(["cc", "-O2", os.path.join(here, "aot_time.c"), "-I", lib, os.path.join(lib, "libRedshiftCNN.so"),
                        "-Wl,-rpath," + lib, "-o", prog], check=True)
        out = subprocess.run([prog, str(a.repeat)], capture_output=True, text=True, check=True,
                             env=dict(os.environ, OMP_NUM_THREADS=str(a.threads))).stdout
        aot_ms = statistics.median(float(t) for t in out.split())
    torch.set_num_threads(a.threads)
    model = redshift_torch().eval()
    load(model, to_torch_names(weights, REDSHIFT_MAP))
    xt = torch.from_numpy(x)
    with torch.no_grad():
        model(xt)
        times = []
        for _ in range(a.repeat):
            t0 = time.perf_counter()
            model(xt)
            times.append((time.perf_counter() - t0) * 1e3)
    torch_ms = statistics.median(times)
    print(f"redshift CNN forward, batch {a.batch}, {a.threads} threads, median of {a.repeat}:")
    print(f"  starc JIT : {starc_ms:9.2f} ms   (cold compile {compile_ms:.0f} ms, not included)")
    print(f"  starc AOT : {aot_ms:9.2f} ms   (libRedshiftCNN.so from starc compile, called from C)")
    print(f"  PyTorch   : {torch_ms:9.2f} ms   (torch {torch.__version__})")
    print(f"  ratio starc / PyTorch = {starc_ms / torch_ms:.2f} (JIT), {aot_ms / torch_ms:.2f} (AOT); "
          f"AOT / JIT = {aot_ms / starc_ms:.2f}")


if __name__ == "__main__":
    main()
