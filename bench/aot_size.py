#!/usr/bin/python3
"""Size and speed of ahead-of-time libraries (`starc compile`): the photo-z MLP and the
redshift CNN, as built by default and with the builder's overrides (bench/README.md):
STARC_AOT_GEMM=openblas (OpenBLAS instead of the small GEMM) and
STARC_AOT_OPENBLAS_CORE=all (every CPU's OpenBLAS kernels, as libraries were built
before they were pinned to the target's). Each library is timed from C by
bench/aot_time.c; the programs of one model run in alternation, round after round, so
that the machine's drift hits them alike; the median of the rounds is reported.

Usage: /usr/bin/python3 bench/aot_size.py [--starc build/starc] [--rounds 15]
Prints a Markdown table: model, batch, threads, build, .so and .a bytes, ms per forward.
"""
import argparse
import os
import statistics
import subprocess
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
BUILDS = [("default", {}), ("OpenBLAS", {"STARC_AOT_GEMM": "openblas"}),
          ("OpenBLAS, all CPUs", {"STARC_AOT_GEMM": "openblas", "STARC_AOT_OPENBLAS_CORE": "all"})]
# model, .net, batch, threads, calls per timed round, builds
CASES = [("PhotozMLP", "photoz.net", 1, 1, 20000, BUILDS), ("PhotozMLP", "photoz.net", 64, 1, 2000, BUILDS),
         ("RedshiftCNN", "redshift.net", 1, 1, 1, [BUILDS[0], BUILDS[2]]),
         ("RedshiftCNN", "redshift.net", 8, 2, 1, [BUILDS[0], BUILDS[2]])]


def build(starc, tmp, model, net, batch, threads, name, env):
    lib = os.path.join(tmp, f"{model}_{batch}_{threads}_{len(name)}")
    weights = os.path.join(tmp, f"{model}.npz")
    path = os.path.join(ROOT, "stdlib", "astro", net)
    if not os.path.exists(weights):
        subprocess.run([starc, "init", path, "--seed", "1", "-o", weights], check=True, capture_output=True)
    subprocess.run([starc, "compile", path, "--weights", weights, "--batch", str(batch), "--threads", str(threads),
                    "-o", lib], check=True, capture_output=True, env=dict(os.environ, **env))
    prog = lib + "/aot_time"
    subprocess.run(["cc", "-O2", f"-DMODEL={model}", os.path.join(HERE, "aot_time.c"), "-I", lib,
                    os.path.join(lib, f"lib{model}.so"), "-Wl,-rpath," + lib, "-o", prog], check=True)
    size = lambda ext: os.path.getsize(os.path.join(lib, f"lib{model}.{ext}"))
    return prog, size("so"), size("a")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--starc", default=os.path.join(ROOT, "build", "starc"))
    ap.add_argument("--rounds", type=int, default=15)
    a = ap.parse_args()
    print("| model | batch | threads | build | .so bytes | .a bytes | ms per forward |")
    print("|---|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        for model, net, batch, threads, calls, builds in CASES:
            progs = [(name,) + build(a.starc, tmp, model, net, batch, threads, name, env) for name, env in builds]
            times = {name: [] for name, *_ in progs}
            env = dict(os.environ, OMP_NUM_THREADS=str(threads))
            for _ in range(a.rounds):
                for name, prog, *_ in progs:
                    out = subprocess.run([prog, "1", str(calls)], capture_output=True, text=True, check=True, env=env)
                    times[name].append(float(out.stdout.split()[0]))
            for name, prog, so, ar in progs:
                print(f"| {model} | {batch} | {threads} | {name} | {so:,} | {ar:,} | {statistics.median(times[name]):.4g} |")


if __name__ == "__main__":
    main()
