#!/usr/bin/env python3
"""The expected data-parallel scaling of every stdlib model (docs/distributed.md).

Time per training step on N nodes, each taking B samples of the global batch:

    compute   = train FLOPs per sample * B / single-core FLOP rate
    allreduce = 2 * (N - 1) / N * gradient bytes / bandwidth + latency * log2(N)
    step      = compute + allreduce        (starc's all-reduce does not overlap backward)

FLOPs and parameters come from `starc summary` (so the table follows the models); the
single-core rate from bench/results.md's one-thread OpenBLAS GEMM. Prints the markdown
table; --check DOC fails unless DOC holds exactly that table between the
<!-- scaling-model --> markers, --write DOC puts it there.
"""
import argparse
import math
import pathlib
import re
import subprocess
import sys

# Assumptions, stated in the table's preamble.
BATCH_PER_RANK = 64  # samples per rank per step (weak scaling: the global batch is 64 N)
TRAIN_FLOPS_PER_FORWARD = 3  # backward costs about twice the forward (dx and dw per layer)
BYTES_PER_VALUE = 8  # starc all-reduces gradients and state as f64 (runtime/dist)
NODES = (4, 16, 64)
NETWORKS = (  # name, bits/s, per-message latency in seconds
    ("10 Gb/s Ethernet (TCP, 50 µs)", 10e9, 50e-6),
    ("100 Gb/s InfiniBand (5 µs)", 100e9, 5e-6),
)
MARK = "<!-- scaling-model -->"


def single_core_rate(results_md):
    """FLOP/s of the one-thread OpenBLAS dw GEMM 256x256x4096 in bench/results.md."""
    row = re.search(r"^\| dw \| 256 \| 256 \| 4096 \| (\d+) \| [\d.]+ \| ([\d.]+) \|", results_md, re.M)
    if not row:
        sys.exit("bench/results.md: no one-thread OpenBLAS row 'dw | 256 | 256 | 4096' to take the FLOP rate from")
    macs, micros = int(row.group(1)), float(row.group(2))
    return 2 * macs / (micros * 1e-6)


def summary(starc, path, model=None):
    cmd = [starc, "summary", str(path), "--batch", "1"] + (["--model", model] if model else [])
    r = subprocess.run(cmd, capture_output=True, text=True)
    return r.returncode, r.stdout + r.stderr


def models_of(starc, path):
    """(model name, total params, forward FLOPs per sample) for each model of a file."""
    code, out = summary(starc, path)
    many = re.search(r"defines \d+ models; choose one with --model \(([^)]*)\)", out)
    names = [n.strip() for n in many.group(1).split(",")] if many else [None]
    rows = []
    for name in names:
        code, out = summary(starc, path, name) if name else (code, out)
        head = re.search(r"^model (\S+) at batch 1", out, re.M)
        total = re.search(r"^total: ([\d,]+) parameters .*?, ([\d,]+) FLOPs per batch of 1", out, re.M)
        if code != 0 or not head or not total:
            sys.exit(f"starc summary {path} {name or ''}: unexpected output:\n{out}")
        rows.append((head.group(1), int(total.group(1).replace(",", "")), int(total.group(2).replace(",", ""))))
    return rows


def ms(seconds):
    """Milliseconds: whole ones from 100 up, else three significant digits."""
    v = seconds * 1e3
    return f"{v:,.0f}" if v >= 100 else f"{v:.3g}"


def table(starc, stdlib, rate):
    lines = [
        f"Single-core rate: {rate / 1e9:.1f} GFLOP/s (bench/results.md, one-thread OpenBLAS sgemm 256x256x4096; "
        "real training steps reach less, so compute is a lower bound). "
        f"Train FLOPs per sample = {TRAIN_FLOPS_PER_FORWARD} x `starc summary`'s forward FLOPs; "
        f"{BATCH_PER_RANK} samples per rank per step, one core per rank; gradient bytes = "
        f"{BYTES_PER_VALUE} x parameters (f64 all-reduce, state included). "
        "Cells: step time in ms at 4 / 16 / 64 nodes, then the efficiency compute / step at 64 nodes.",
        "",
        "| model | parameters | compute ms/step | " + " | ".join(f"{n}: ms/step (eff. 64)" for n, _, _ in NETWORKS) + " |",
        "|---|---:|---:|" + "---|" * len(NETWORKS),
    ]
    for path in sorted(pathlib.Path(stdlib).glob("*.net")):
        for name, params, fwd in models_of(starc, path):
            compute = TRAIN_FLOPS_PER_FORWARD * fwd * BATCH_PER_RANK / rate
            cells = []
            for _, bits, latency in NETWORKS:
                steps = [compute + 2 * (n - 1) / n * params * BYTES_PER_VALUE * 8 / bits + latency * math.log2(n)
                         for n in NODES]
                cells.append(" / ".join(ms(s) for s in steps) + f" ({compute / steps[-1]:.0%})")
            lines.append(f"| {name} | {params:,} | {ms(compute)} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--starc", default="build/starc")
    ap.add_argument("--stdlib", default="stdlib/astro")
    ap.add_argument("--results", default="bench/results.md")
    ap.add_argument("--check", metavar="DOC", help="fail unless DOC holds this table between the markers")
    ap.add_argument("--write", metavar="DOC", help="put the table into DOC between the markers")
    a = ap.parse_args()
    t = table(a.starc, a.stdlib, single_core_rate(pathlib.Path(a.results).read_text()))
    doc = a.check or a.write
    if not doc:
        return print(t, end="")
    text = pathlib.Path(doc).read_text()
    parts = text.split(MARK)
    if len(parts) != 3:
        sys.exit(f"{doc}: needs exactly two '{MARK}' lines around the table")
    if a.write:
        pathlib.Path(doc).write_text(parts[0] + MARK + "\n" + t + MARK + parts[2])
    elif parts[1] != "\n" + t:
        sys.exit(f"{doc}: the scaling table is out of date; run: python3 bench/scaling_model.py --write {doc}\n"
                 f"expected:\n{t}")


if __name__ == "__main__":
    main()
