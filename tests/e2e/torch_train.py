#!/usr/bin/python3
"""PyTorch parity of training: the same initial weights and batch, updated by `starc
train` and by torch.optim, give the same weights.

Usage: torch_train.py --starc BUILD/starc --source-dir REPO --tmp DIR

1. Redshift CNN (stdlib/astro/redshift.net) with its train block `loss = mse(output, z);
   optimizer = adam(lr: 1e-3)`: one Adam step on a batch of 2 random spectra, in f64 (the
   model's f32 replaced by f64, torch in double). In f32 the two frameworks' gradients
   differ by rounding (~1e-6 relative), and for the few of the 7.5M dense weights whose
   gradient nearly cancels over the batch, Adam's g / (sqrt(v) + eps) turns that into a
   visible difference (max 1.6e-4 of the weight scale, measured): f64 compares the
   algorithm, not the rounding.
2. A small MLP (dense 5 -> 16 -> tanh -> 3) with mse, three full-batch steps of
   SGD with momentum 0.9 (and Nesterov), RMSProp, Adagrad and AdamW.

Every batch is the whole data set (--batch = number of samples), so the shuffle order
cannot matter. Comparison (float32): rel = max|starc - torch| / max|torch| per tensor.
Pass: rel <= 1e-4. Exit status 0 when every comparison passes.
"""
import argparse
import os
import sys

import numpy as np
import torch
import torch.nn as nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from torch_redshift import REDSHIFT_MAP, Runner, load, redshift_torch, to_torch_names  # noqa: E402

TOL = 1e-4


def train_starc(r, net, model, weights, data, epochs):
    init = r.path(f"{model}_train_init.npz")
    np.savez(init, **weights)
    args = ["train", net, "--model", model, "--weights", init, "--epochs", str(epochs),
            "--batch", str(len(next(iter(data.values())))), "--progress", "none",
            "--out", r.path(f"{model}_trained.npz")]
    for name, arr in data.items():
        p = r.path(f"{model}_data_{name}.npy")
        np.save(p, arr)
        args += ["--data", f"{name}={p}"]
    r.sh(*args)
    with np.load(r.path(f"{model}_trained.npz")) as z:
        return {k: z[k] for k in z.files}


def train_torch(module, opt, x, y, steps):
    for _ in range(steps):
        opt.zero_grad()
        loss = nn.functional.mse_loss(module(torch.from_numpy(x)), torch.from_numpy(y))
        loss.backward()
        opt.step()
    return {k: v.detach().numpy() for k, v in module.state_dict().items()}


def compare_all(r, what, got, want_torch, mapping):
    for name in sorted(got):
        if name.startswith("opt.") or name.startswith("starc."):
            continue
        r.compare(f"{what}: {name}", got[name], want_torch[mapping(name)])


def check_redshift(r, rng):
    # The stdlib file with its own train block (mse, adam(lr: 1e-3)), in f64.
    src = open(os.path.join(r.src, "stdlib/astro/redshift.net")).read().replace("f32", "f64")
    assert "optimizer = adam(lr: 1e-3)" in src and "loss = mse(output, z)" in src
    net = r.path("redshift_train.net")
    with open(net, "w") as f:
        f.write(src)
    w = r.init(net, "RedshiftCNN", seed=3)
    for k in w:  # non-zero biases, so their updates are not all alike
        if k.endswith(".bias"):
            w[k] = 0.05 * rng.standard_normal(w[k].shape)
    x = rng.standard_normal((2, 1, 4618))
    z = rng.uniform(0.5, 3.0, (2, 1))
    got = train_starc(r, net, "RedshiftCNN", w, {"flux": x, "z": z}, epochs=1)
    model = redshift_torch().double()
    load(model, to_torch_names(w, REDSHIFT_MAP))
    want = train_torch(model, torch.optim.Adam(model.parameters(), lr=1e-3), x, z, steps=1)
    layer = lambda n: f"{REDSHIFT_MAP[n.rsplit('.', 1)[0]]}.{n.rsplit('.', 1)[1]}"
    compare_all(r, "redshift CNN (f64), one Adam step", got, want, layer)
    # Adam's first step moves every weight with a non-zero gradient by about lr: check the
    # weights moved, so the comparison above is not of two copies of w.
    moved = max(float(np.max(np.abs(got[k] - w[k]))) for k in w)
    ok = 0.5e-3 < moved < 2e-3
    r.failures += 0 if ok else 1
    print(f"{'ok  ' if ok else 'FAIL'} redshift CNN: largest weight change {moved:.3g} (expected about lr = 1e-3)")


MLP_NET = """use std.nn
use std.losses
model Mlp(x: f32[B, 5]) -> f32[B, 3] {
    return x |> dense(16) |> tanh |> dense(3)
}
train Mlp(y: f32[B, 3]) {
    loss = mse(output, y)
    optimizer = OPT
}
"""

MLP_OPTIMIZERS = [
    ("sgd(lr: 0.1, momentum: 0.9)", lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9)),
    ("sgd(lr: 0.1, momentum: 0.9, nesterov: true)", lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9, nesterov=True)),
    ("rmsprop(lr: 0.01)", lambda p: torch.optim.RMSprop(p, lr=0.01)),
    ("rmsprop(lr: 0.01, momentum: 0.5, weight_decay: 0.01)",
     lambda p: torch.optim.RMSprop(p, lr=0.01, momentum=0.5, weight_decay=0.01)),
    ("adagrad(lr: 0.1)", lambda p: torch.optim.Adagrad(p, lr=0.1)),
    ("adamw(lr: 0.01, weight_decay: 0.1)", lambda p: torch.optim.AdamW(p, lr=0.01, weight_decay=0.1)),
]


def check_mlp(r, rng):
    x = rng.standard_normal((8, 5)).astype(np.float32)
    y = rng.standard_normal((8, 3)).astype(np.float32)
    mapping = {"dense0": "0", "dense1": "2"}
    layer = lambda n: f"{mapping[n.rsplit('.', 1)[0]]}.{n.rsplit('.', 1)[1]}"
    for i, (opt_src, make_opt) in enumerate(MLP_OPTIMIZERS):
        net = r.path(f"mlp{i}.net")
        with open(net, "w") as f:
            f.write(MLP_NET.replace("OPT", opt_src))
        w = r.init(net, "Mlp", seed=5)
        got = train_starc(r, net, "Mlp", w, {"x": x, "y": y}, epochs=3)
        model = nn.Sequential(nn.Linear(5, 16), nn.Tanh(), nn.Linear(16, 3))
        load(model, to_torch_names(w, mapping))
        want = train_torch(model, make_opt(model.parameters()), x, y, steps=3)
        compare_all(r, f"MLP, 3 steps of {opt_src}", got, want, layer)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--starc", required=True)
    ap.add_argument("--source-dir", required=True)
    ap.add_argument("--tmp", required=True)
    a = ap.parse_args()
    os.makedirs(a.tmp, exist_ok=True)
    torch.manual_seed(0)
    torch.set_num_threads(1)
    rng = np.random.default_rng(11)
    r = Runner(a.starc, a.source_dir, a.tmp)
    check_mlp(r, rng)
    check_redshift(r, rng)
    if r.failures:
        print(f"{r.failures} comparison(s) failed")
        return 1
    print("all comparisons passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
