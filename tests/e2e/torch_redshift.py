#!/usr/bin/python3
"""PyTorch equivalence: starc's models compute what the same network computes in PyTorch.

Usage: torch_redshift.py --starc BUILD/starc --source-dir REPO --tmp DIR

1. Redshift CNN (stdlib/astro/redshift.net), the acceptance criterion: `starc init` writes
   the initial weights to an .npz; the same weights are loaded into an equivalent
   torch.nn.Sequential (Conv1d(1,16,500), ReLU, MaxPool1d(2), Conv1d(16,32,200), ReLU,
   MaxPool1d(2), Conv1d(32,64,10), ReLU, MaxPool1d(2), Flatten, Linear(29440,256), ReLU,
   Linear(256,1)); a seeded random [2,1,4618] input is run through both
   (`starc run ... --in x.npy --weights w.npz --out y.npy`). Run a second time with every
   bias replaced by random values (written with numpy.savez), since `starc init` sets
   biases to zero.
2. A small 2D CNN (conv2d with padding and stride, batchnorm in inference with non-trivial
   running statistics, maxpool2d, avgpool2d, flatten, dense), from a temporary .net file.
3. Recurrent layers: std.nn lstm, gru and bidirectional(lstm) against torch.nn.LSTM/GRU.
4. Grouped convolutions: std.nn depthwise_conv2d (multiplier 1 and 2), separable_conv2d,
   conv2d and conv_transpose2d with groups, against nn.Conv2d / nn.ConvTranspose2d with
   groups (a MobileNet-like block).

Comparison metric (all in float32): rel = max|starc - torch| / max(max|torch|, 1e-6), i.e.
the largest absolute difference relative to the largest reference magnitude (the 1e-6
floor keeps an all-zero reference from dividing by zero). Pass: rel <= 1e-4.

Weight names map onto PyTorch modules as documented in docs/weights.md: starc's layouts
are PyTorch's (conv [out, in, k...], dense [out, in]), so arrays are copied unchanged.

Exit status 0 when every comparison passes, 1 otherwise; one line per comparison.
"""
import argparse
import os
import subprocess
import sys

import numpy as np
import torch
import torch.nn as nn

TOL = 1e-4


def rel_err(a, b):
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        return float("inf")
    return float(np.max(np.abs(a - b)) / max(float(np.max(np.abs(b))), 1e-6))


class Runner:
    def __init__(self, starc, source_dir, tmp):
        self.starc, self.src, self.tmp = starc, source_dir, tmp
        self.failures = 0

    def path(self, name):
        return os.path.join(self.tmp, name)

    def sh(self, *args):
        cmd = [self.starc, *args]
        r = subprocess.run(cmd, cwd=self.src, capture_output=True, text=True)
        if r.returncode != 0:
            raise RuntimeError(f"{' '.join(cmd)} failed ({r.returncode}):\n{r.stdout}{r.stderr}")
        return r.stdout

    def init(self, net, model, seed):
        out = self.path(f"{model}_init.npz")
        self.sh("init", net, "--model", model, "--seed", str(seed), "-o", out)
        with np.load(out) as z:
            return {k: z[k] for k in z.files}

    def run(self, net, model, weights, inputs, outputs):
        """inputs/outputs: {name: array} / [names]; returns {name: array}."""
        wpath = self.path(f"{model}_weights.npz")
        np.savez(wpath, **weights)
        args = ["run", net, "--model", model, "--weights", wpath, "--in"]
        for name, arr in inputs.items():
            p = self.path(f"{model}_in_{name}.npy")
            np.save(p, arr)
            args.append(f"{name}={p}")
        args.append("--out")
        for name in outputs:
            args.append(f"{name}={self.path(f'{model}_out_{name}.npy')}")
        self.sh(*args)
        return {name: np.load(self.path(f"{model}_out_{name}.npy")) for name in outputs}

    def compare(self, what, got, want):
        err = rel_err(got, want)
        ok = err <= TOL
        self.failures += 0 if ok else 1
        shape = "x".join(map(str, np.shape(want)))
        print(f"{'ok  ' if ok else 'FAIL'} {what}: rel = {err:.3g} (tolerance {TOL:g}; shape {shape}; "
              f"max|torch| = {float(np.max(np.abs(want))):.4g})")
        if not ok and np.shape(got) == np.shape(want):
            print(f"     starc: {np.ravel(got)[:6]}\n     torch: {np.ravel(want)[:6]}")


def load(module, weights):
    """Copies numpy arrays into a module's parameters/buffers by name (shapes must match)."""
    state = module.state_dict()
    for name, arr in weights.items():
        assert name in state, f"torch module has no {name}"
        assert tuple(state[name].shape) == arr.shape, f"{name}: torch {tuple(state[name].shape)} vs starc {arr.shape}"
        state[name] = torch.from_numpy(np.ascontiguousarray(arr))
    missing = set(module.state_dict()) - set(weights) - {k for k in state if k.endswith("num_batches_tracked")}
    assert not missing, f"no starc weights for {sorted(missing)}"
    module.load_state_dict(state)


# ---------------------------------------------------------------------------- redshift

def redshift_torch():
    return nn.Sequential(
        nn.Conv1d(1, 16, 500), nn.ReLU(), nn.MaxPool1d(2),
        nn.Conv1d(16, 32, 200), nn.ReLU(), nn.MaxPool1d(2),
        nn.Conv1d(32, 64, 10), nn.ReLU(), nn.MaxPool1d(2),
        nn.Flatten(), nn.Linear(29440, 256), nn.ReLU(), nn.Linear(256, 1))


# starc dotted name -> torch.nn.Sequential index
REDSHIFT_MAP = {"conv1d0": "0", "conv1d1": "3", "conv1d2": "6", "dense0": "10", "dense1": "12"}


def to_torch_names(weights, mapping):
    out = {}
    for name, arr in weights.items():
        layer, leaf = name.rsplit(".", 1)
        out[f"{mapping[layer]}.{leaf}"] = arr
    return out


def check_redshift(r, rng):
    net = "stdlib/astro/redshift.net"
    w = r.init(net, "RedshiftCNN", seed=1)
    assert sorted(w) == sorted(f"{l}.{p}" for l in REDSHIFT_MAP for p in ("weight", "bias")), sorted(w)
    assert w["conv1d0.weight"].shape == (16, 1, 500) and w["dense0.weight"].shape == (256, 29440)
    x = rng.standard_normal((2, 1, 4618)).astype(np.float32)
    model = redshift_torch().eval()
    for label, weights in [("starc init weights", w), ("random biases", None)]:
        if weights is None:
            weights = dict(w)
            for k in weights:
                if k.endswith(".bias"):
                    weights[k] = (0.1 * rng.standard_normal(weights[k].shape)).astype(np.float32)
        # The acceptance run uses exactly the CLI command of the brief.
        wpath = r.path("redshift_w.npz")
        np.savez(wpath, **weights)
        np.save(r.path("x.npy"), x)
        r.sh("run", net, "--in", r.path("x.npy"), "--weights", wpath, "--out", r.path("y.npy"))
        got = np.load(r.path("y.npy"))
        load(model, to_torch_names(weights, REDSHIFT_MAP))
        with torch.no_grad():
            want = model(torch.from_numpy(x)).numpy()
        r.compare(f"redshift CNN [2,1,4618] -> [2,1], {label}", got, want)


# ---------------------------------------------------------------------------- 2D CNN

SMALL_NET = """
use std.nn
model Small2d(img: f32[B, 3, 12, 10]) -> f32[B, 5] {
    x = img |> conv2d(out: 4, kernel: 3, padding: 1) |> batchnorm |> relu |> maxpool2d(2)
    x = x |> conv2d(out: 6, kernel: 3, stride: 2) |> relu |> avgpool2d(2)
    return x |> flatten |> dense(5)
}

model Mobile(img: f32[B, 4, 9, 8]) -> f32[B, 8, 5, 4] {
    x = img |> depthwise_conv2d(kernel: 3, padding: 1) |> relu
    x = x |> separable_conv2d(out: 8, kernel: 3, stride: 2, padding: 1, multiplier: 2)
    x = x |> conv2d(out: 8, kernel: 3, padding: 1, groups: 4) |> relu
    return x |> conv_transpose2d(out: 8, kernel: 3, padding: 1, groups: 2)
}

model Seq(xs: f32[B, 7, 3]) -> (l: f32[B, 7, 4], g: f32[B, 7, 4], bi: f32[B, 7, 8]) {
    return (lstm(xs, 4), gru(xs, 4), bidirectional(xs, |s, r| lstm(s, 4, reverse: r)))
}
"""


def randomize(weights, rng):
    out = {}
    for k, v in weights.items():
        if k.endswith("running_var"):
            out[k] = rng.uniform(0.5, 2.0, v.shape).astype(v.dtype)
        else:
            out[k] = (v + 0.2 * rng.standard_normal(v.shape)).astype(v.dtype)
    return out


def check_small2d(r, rng, net):
    w = randomize(r.init(net, "Small2d", seed=3), rng)
    x = rng.standard_normal((3, 3, 12, 10)).astype(np.float32)
    got = r.run(net, "Small2d", w, {"img": x}, ["output"])["output"]
    model = nn.Sequential(
        nn.Conv2d(3, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(4, 6, 3, stride=2), nn.ReLU(), nn.AvgPool2d(2),
        nn.Flatten(), nn.Linear(6, 5)).eval()
    load(model, to_torch_names(w, {"conv2d0": "0", "batchnorm0": "1", "conv2d1": "4", "dense0": "8"}))
    with torch.no_grad():
        want = model(torch.from_numpy(x)).numpy()
    r.compare("2D CNN (conv2d pad/stride, batchnorm eval, max/avg pool, dense)", got, want)


def check_recurrent(r, rng, net):
    w = randomize(r.init(net, "Seq", seed=4), rng)
    x = rng.standard_normal((2, 7, 3)).astype(np.float32)
    got = r.run(net, "Seq", w, {"xs": x}, ["l", "g", "bi"])
    zeros = lambda n: np.zeros(n, np.float32)

    lstm = nn.LSTM(3, 4, batch_first=True)
    # starc's lstm has one bias per gate block; PyTorch has two that are added.
    load(lstm, {"weight_ih_l0": w["lstm0.weight_ih"], "weight_hh_l0": w["lstm0.weight_hh"],
                "bias_ih_l0": w["lstm0.bias"], "bias_hh_l0": zeros(16)})
    gru = nn.GRU(3, 4, batch_first=True)
    load(gru, {"weight_ih_l0": w["gru0.weight_ih"], "weight_hh_l0": w["gru0.weight_hh"],
               "bias_ih_l0": w["gru0.bias_ih"], "bias_hh_l0": w["gru0.bias_hh"]})
    bi = nn.LSTM(3, 4, batch_first=True, bidirectional=True)
    f, b = "bidirectional0.forward.lstm0.", "bidirectional0.backward.lstm0."
    load(bi, {"weight_ih_l0": w[f + "weight_ih"], "weight_hh_l0": w[f + "weight_hh"],
              "bias_ih_l0": w[f + "bias"], "bias_hh_l0": zeros(16),
              "weight_ih_l0_reverse": w[b + "weight_ih"], "weight_hh_l0_reverse": w[b + "weight_hh"],
              "bias_ih_l0_reverse": w[b + "bias"], "bias_hh_l0_reverse": zeros(16)})
    xt = torch.from_numpy(x)
    with torch.no_grad():
        r.compare("lstm vs torch.nn.LSTM", got["l"], lstm(xt)[0].numpy())
        r.compare("gru vs torch.nn.GRU", got["g"], gru(xt)[0].numpy())
        r.compare("bidirectional(lstm) vs torch.nn.LSTM(bidirectional=True)", got["bi"], bi(xt)[0].numpy())


def check_grouped(r, rng, net):
    w = randomize(r.init(net, "Mobile", seed=5), rng)
    x = rng.standard_normal((2, 4, 9, 8)).astype(np.float32)
    got = r.run(net, "Mobile", w, {"img": x}, ["output"])["output"]
    model = nn.Sequential(
        nn.Conv2d(4, 4, 3, padding=1, groups=4), nn.ReLU(),
        nn.Conv2d(4, 8, 3, stride=2, padding=1, groups=4, bias=False), nn.Conv2d(8, 8, 1),
        nn.Conv2d(8, 8, 3, padding=1, groups=4), nn.ReLU(),
        nn.ConvTranspose2d(8, 8, 3, padding=1, groups=2)).eval()
    load(model, to_torch_names(w, {"depthwise_conv2d0": "0", "separable_conv2d0.depthwise": "2",
                                   "separable_conv2d0.pointwise": "3", "conv2d0": "4", "conv_transpose2d0": "6"}))
    with torch.no_grad():
        want = model(torch.from_numpy(x)).numpy()
    r.compare("grouped convs (depthwise, separable, groups 4, transposed groups 2)", got, want)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--starc", required=True)
    ap.add_argument("--source-dir", required=True)
    ap.add_argument("--tmp", required=True)
    ap.add_argument("--redshift-only", action="store_true")
    a = ap.parse_args()
    torch.manual_seed(0)
    torch.set_num_threads(1)
    os.makedirs(a.tmp, exist_ok=True)
    r = Runner(os.path.abspath(a.starc), os.path.abspath(a.source_dir), os.path.abspath(a.tmp))
    rng = np.random.default_rng(20240601)
    try:
        check_redshift(r, rng)
        if not a.redshift_only:
            net = r.path("small.net")
            with open(net, "w") as fh:
                fh.write(SMALL_NET)
            check_small2d(r, rng, net)
            check_recurrent(r, rng, net)
            check_grouped(r, rng, net)
    except Exception as e:  # a failed command or a weight mismatch: report, do not hide
        print(f"FAIL {type(e).__name__}: {e}")
        return 1
    print("all comparisons passed" if r.failures == 0 else f"{r.failures} comparison(s) failed")
    return 0 if r.failures == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
