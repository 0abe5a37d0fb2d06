#!/usr/bin/python3
"""The Python module's calling overhead: the photo-z MLP's forward pass from Python
(`m(x)`, `m(mags=x)`) against the same call through the C++ API (build/bench/api_call,
api::Model::run), same machine, same thread count, same weights and code.

Usage: bench/python_overhead.py [--threads 1] [--rounds 5] [--write]

Each measurement is the median, over 15 chunks, of the mean time of back-to-back calls
(2000 at batch 1, fewer for larger batches); the two sides alternate for --rounds rounds,
and the table gives the best round (the least disturbed by other processes) and the median. Batch 1 shows the overhead (the compiled function
itself takes a few microseconds); batch 4096 shows that large batches cost the same
from Python. --write replaces the "Python call overhead" section of bench/results.md.
"""
import argparse
import os
import re
import statistics
import subprocess
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "build", "python"))
import starc  # noqa: E402

MODEL = os.path.join(ROOT, "stdlib", "astro", "photoz.net")
BATCHES = [1, 64, 4096]
CALLS, CHUNKS = 2000, 15


def calls_for(batch):
    return max(1, CALLS // max(1, batch // 64))


def python_us(fn, calls):
    for _ in range(calls):
        fn()
    means = []
    for _ in range(CHUNKS):
        t0 = time.perf_counter_ns()
        for _ in range(calls):
            fn()
        means.append((time.perf_counter_ns() - t0) / calls / 1e3)
    return statistics.median(means)


def cpp_us(threads):
    exe = os.path.join(ROOT, "build", "bench", "api_call")
    out = subprocess.run([exe, MODEL, str(threads), str(CALLS), str(CHUNKS), *map(str, BATCHES)],
                         capture_output=True, text=True, check=True).stdout
    return {int(b): float(us) for b, us in re.findall(r"batch (\d+): ([\d.]+) us", out)}


def one_round(m, threads):
    row = {("C++ api::Model::run", b): us for b, us in cpp_us(threads).items()}
    for b in BATCHES:
        x = (20.0 + 0.01 * (np.arange(b * 5) % 97)).astype(np.float32).reshape(b, 5)
        row[("Python m(x)", b)] = python_us(lambda: m(x), calls_for(b))
        row[("Python m(mags=x)", b)] = python_us(lambda: m(mags=x), calls_for(b))
    return row


def table(rounds, threads):
    lo = {k: min(r[k] for r in rounds) for k in rounds[0]}
    med = {k: statistics.median(r[k] for r in rounds) for k in rounds[0]}
    sides = ["C++ api::Model::run", "Python m(x)", "Python m(mags=x)"]
    lines = [f"## Python call overhead ({time.strftime('%Y-%m-%d %H:%M')}, {threads} thread"
             f"{'s' if threads != 1 else ''}, {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}, "
             "bench/python_overhead.py)", "",
             f"The photo-z MLP's forward pass, µs per call: the best and the median of {len(rounds)} alternating "
             "rounds (each the median of 15 chunks of back-to-back calls), from Python and through the C++ API it "
             "wraps; overhead: Python minus C++ (best rounds).", "",
             "| batch | C++ api::Model::run | Python m(x) | Python m(mags=x) | overhead m(x) | overhead m(mags=x) |",
             "|---|---|---|---|---|---|"]
    for b in BATCHES:
        cells = [f"{lo[(s, b)]:.2f} ({med[(s, b)]:.2f})" for s in sides]
        c = lo[(sides[0], b)]
        lines.append(f"| {b} | {' | '.join(cells)} | {lo[(sides[1], b)] - c:+.2f} | {lo[(sides[2], b)] - c:+.2f} |")
    return "\n".join(lines) + "\n"


def write_section(text):
    path = os.path.join(HERE, "results.md")
    with open(path) as f:
        old = f.read()
    head = old.split("\n## Python call overhead")[0].rstrip("\n")
    with open(path, "w") as f:
        f.write(head + "\n\n" + text)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--write", action="store_true", help="replace the section of bench/results.md")
    a = ap.parse_args()
    m = starc.load(MODEL, threads=a.threads)
    m.init(0)
    rounds = [one_round(m, a.threads) for _ in range(a.rounds)]
    text = table(rounds, a.threads)
    print(text)
    if a.write:
        write_section(text)


if __name__ == "__main__":
    main()
