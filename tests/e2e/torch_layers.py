#!/usr/bin/python3
"""PyTorch equivalence of std.nn's attention and recurrent layers (issue 31): forward values
and gradients.

Usage: torch_layers.py --starc BUILD/starc --tmp DIR (PYTHONPATH must reach the starc
module: BUILD/python)

Each case is a small model written with std.nn (multi_head_attention with a float
attention mask, a key padding mask or causal; transformer_encoder_layer post-norm with a
padding mask and pre-norm gelu causal; positional_encoding, learned_positions,
layernorm(affine: false); lstm/gru with initial states, final states, two layers, and in
reverse) and the same network in torch.nn with the same weights: starc's random initial
weights, every one perturbed (so biases and norms are not zero or one), copied into the
torch module by name (starc's names are PyTorch's under the layer's scope; recurrent
layers map layerK.weight_ih to weight_ih_lK). Both are evaluated in inference mode on
the same inputs; the loss is sum(y * dy) (plus the final states times their own seeds)
for random seeds, so that the gradients carry no symmetry (the plain sum of a layernorm
output has a zero gradient). Compared: every output and the gradient of the loss w.r.t.
every float input and every parameter, in float64 (reference interpreter, tolerance
1e-10) and float32 (JIT, 1e-5), as rel = max|starc - torch| / max(max|torch|, 1e-6).

Then a short training run: a transformer classifier trained by `starc train` (Adam)
on a task that needs attention (is the first token larger than the last?); the loss must
fall to under half its first value.

Exit status 0 when everything passes; one line per comparison.
"""
import argparse
import csv
import os
import string
import subprocess
import sys

import numpy as np
import starc
import torch
import torch.nn as nn

TOLS = {"f64": 1e-10, "f32": 1e-5}
N, T, S, E, H, FF, U = 3, 5, 4, 8, 2, 16, 6

SOURCE = string.Template("""
use std.nn

model Cross(q: $DT[B, $T, $E], kv: $DT[B, $S, $E], kpm: bool[B, $S], am: $DT[$T, $S], dy: $DT[B, $T, $E]) -> (
        y: $DT[B, $T, $E], loss: $DT[]) {
    let y = multi_head_attention(q, kv, kv, $H, mask: am, key_padding_mask: kpm)
    return (y, sum(y * dy))
}

model Causal(x: $DT[B, $T, $E], dy: $DT[B, $T, $E]) -> (y: $DT[B, $T, $E], loss: $DT[]) {
    let y = multi_head_attention(x, x, x, $H, causal: true)
    return (y, sum(y * dy))
}

model PostNorm(x: $DT[B, $T, $E], kpm: bool[B, $T], dy: $DT[B, $T, $E]) -> (y: $DT[B, $T, $E], loss: $DT[]) {
    let y = transformer_encoder_layer(x, $H, dim_feedforward: $FF, key_padding_mask: kpm)
    return (y, sum(y * dy))
}

model PreNorm(x: $DT[B, $T, $E], dy: $DT[B, $T, $E]) -> (y: $DT[B, $T, $E], loss: $DT[]) {
    let y = transformer_encoder_layer(x, $H, dim_feedforward: $FF, activation: "gelu", norm_first: true,
                                      causal: true)
    return (y, sum(y * dy))
}

model Positions(x: $DT[B, $T, $E], dy: $DT[B, $T, $E]) -> (y: $DT[B, $T, $E], loss: $DT[]) {
    let y = x |> positional_encoding |> learned_positions(max_len: 7) |> layernorm(affine: false)
    return (y, sum(y * dy))
}

model LstmStack(x: $DT[B, $T, $E], h0: $DT[2, B, $U], c0: $DT[2, B, $U], dy: $DT[B, $T, $U], dh: $DT[2, B, $U],
                dc: $DT[2, B, $U]) -> (y: $DT[B, $T, $U], h: $DT[2, B, $U], c: $DT[2, B, $U], loss: $DT[]) {
    (y, hc) = lstm(x, $U, initial: (h0, c0), num_layers: 2, dropout: 0.5, return_state: true)
    (h, c) = hc
    return (y, h, c, sum(y * dy) + sum(h * dh) + sum(c * dc))
}

model GruStack(x: $DT[B, $T, $E], h0: $DT[2, B, $U], dy: $DT[B, $T, $U], dh: $DT[2, B, $U]) -> (
        y: $DT[B, $T, $U], h: $DT[2, B, $U], loss: $DT[]) {
    (y, h) = gru(x, $U, initial: h0, num_layers: 2, return_state: true)
    return (y, h, sum(y * dy) + sum(h * dh))
}

model GruReverse(x: $DT[B, $T, $E], h0: $DT[1, B, $U], dy: $DT[B, $T, $U], dh: $DT[1, B, $U]) -> (
        y: $DT[B, $T, $U], h: $DT[1, B, $U], loss: $DT[]) {
    (y, h) = gru(x, $U, reverse: true, initial: h0, return_state: true)
    return (y, h, sum(y * dy) + sum(h * dh))
}

model LstmReverse(x: $DT[B, $T, $E], dy: $DT[B, $T, $U], dh: $DT[1, B, $U], dc: $DT[1, B, $U]) -> (
        y: $DT[B, $T, $U], h: $DT[1, B, $U], c: $DT[1, B, $U], loss: $DT[]) {
    (y, hc) = lstm(x, $U, reverse: true, return_state: true)
    (h, c) = hc
    return (y, h, c, sum(y * dy) + sum(h * dh) + sum(c * dc))
}
""")


def source(dt):
    return SOURCE.substitute(DT=dt, T=T, S=S, E=E, H=H, FF=FF, U=U)


def sinusoid(t, e):  # the PyTorch tutorial's PositionalEncoding table
    pos = torch.arange(t, dtype=torch.float64).unsqueeze(1)
    div = torch.exp(torch.arange(0, e, 2, dtype=torch.float64) * (-np.log(10000.0) / e))
    pe = torch.zeros(t, e, dtype=torch.float64)
    pe[:, 0::2] = torch.sin(pos * div)
    pe[:, 1::2] = torch.cos(pos * div)
    return pe


class TorchPositions(nn.Module):
    def __init__(self):
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(7, E))

    def forward(self, x):
        y = x + sinusoid(T, E).to(x.dtype) + self.weight[:T]
        return nn.functional.layer_norm(y, (E,))


def strip(prefix):
    return lambda name: name[len(prefix):]


def recurrent_name(name):
    """lstm0.layer1.weight_ih -> weight_ih_l1; a one-layer gru0.bias_ih -> bias_ih_l0; starc's one
    LSTM bias is PyTorch's bias_ih (its bias_hh is held at zero)."""
    parts = name.split(".")
    layer = parts[1][len("layer"):] if len(parts) == 3 else "0"
    leaf = "bias_ih" if parts[-1] == "bias" else parts[-1]
    return f"{leaf}_l{layer}"


def flip(t):
    return torch.flip(t, [1])


def torch_case(name):
    """(module, starc parameter name -> torch name, forward(module, inputs) -> {output: tensor})"""
    causal = torch.triu(torch.ones(T, T, dtype=torch.bool), 1)
    if name == "Cross":
        return (nn.MultiheadAttention(E, H, batch_first=True), strip("multi_head_attention0."),
                lambda m, i: {"y": m(i["q"], i["kv"], i["kv"], key_padding_mask=i["kpm"], attn_mask=i["am"],
                                     need_weights=False)[0]})
    if name == "Causal":
        return (nn.MultiheadAttention(E, H, batch_first=True), strip("multi_head_attention0."),
                lambda m, i: {"y": m(i["x"], i["x"], i["x"], attn_mask=causal, need_weights=False)[0]})
    if name == "PostNorm":
        return (nn.TransformerEncoderLayer(E, H, FF, batch_first=True), strip("transformer_encoder_layer0."),
                lambda m, i: {"y": m(i["x"], src_key_padding_mask=i["kpm"])})
    if name == "PreNorm":
        m = nn.TransformerEncoderLayer(E, H, FF, activation="gelu", norm_first=True, batch_first=True)
        return m, strip("transformer_encoder_layer0."), lambda m, i: {"y": m(i["x"], src_mask=causal)}
    if name == "Positions":
        return TorchPositions(), strip("learned_positions0."), lambda m, i: {"y": m(i["x"])}

    def outputs(res):
        y, st = res
        return {"y": y, "h": st[0], "c": st[1]} if isinstance(st, tuple) else {"y": y, "h": st}

    if name == "LstmStack":  # inter-layer dropout is off in inference, as in PyTorch's eval()
        m = nn.LSTM(E, U, num_layers=2, dropout=0.5, batch_first=True)
        return m, recurrent_name, lambda m, i: outputs(m(i["x"], (i["h0"], i["c0"])))
    if name == "GruStack":
        return nn.GRU(E, U, num_layers=2, batch_first=True), recurrent_name, lambda m, i: outputs(m(i["x"], i["h0"]))
    # A reverse layer is the forward one over the reversed sequence, its outputs reversed back.
    if name == "GruReverse":
        return (nn.GRU(E, U, batch_first=True), recurrent_name,
                lambda m, i: {k: flip(v) if k == "y" else v for k, v in outputs(m(flip(i["x"]), i["h0"])).items()})
    return (nn.LSTM(E, U, batch_first=True), recurrent_name,
            lambda m, i: {k: flip(v) if k == "y" else v for k, v in outputs(m(flip(i["x"]))).items()})


def inputs_for(model, dt, rng):
    np_dt = np.float64 if dt == "f64" else np.float32
    out = {}
    for spec in model.inputs:
        shape = tuple(N if d == "B" else d for d in spec.shape)
        if spec.name == "kpm":  # a padded tail on two of the sequences, never a whole row
            m = np.zeros(shape, bool)
            m[0, -1] = m[2, -2:] = True
            out[spec.name] = m
        elif spec.name == "am":  # an additive float mask, one -inf
            a = rng.standard_normal(shape)
            a[1, 2] = -np.inf
            out[spec.name] = a.astype(np_dt)
        else:
            out[spec.name] = rng.standard_normal(shape).astype(np_dt)
    return out


def rel_err(a, b):
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    if a.shape != b.shape:
        return float("inf")
    return float(np.max(np.abs(a - b)) / max(float(np.max(np.abs(b))), 1e-6))


def check_case(name, dt, rng):
    # f64 on the reference interpreter (each op's reference kernel), f32 through the JIT.
    model = starc.load_string(source(dt), model=name, name="layers.net", backend="ref" if dt == "f64" else "jit")
    model.init(seed=7)
    for k, w in model.weights.items():
        model.set_weight(k, (w + 0.3 * rng.standard_normal(w.shape)).astype(w.dtype))
    ins = inputs_for(model, dt, rng)
    got = model(**ins)
    got_g = model.grad("loss", **ins)

    tm, rename, fwd = torch_case(name)
    tm = tm.double() if dt == "f64" else tm.float()
    state = {k: torch.zeros_like(v) for k, v in tm.state_dict().items()}  # LSTM's bias_hh stays zero
    for k, v in model.weights.items():
        assert rename(k) in state, f"{name}: torch has no {rename(k)} for {k} (it has {sorted(state)})"
        state[rename(k)] = torch.from_numpy(np.array(v))
    tm.load_state_dict(state)
    tm.eval()
    t_in = {k: torch.from_numpy(v).requires_grad_(v.dtype != bool) for k, v in ins.items()}
    outs = fwd(tm, t_in)
    sum((v * t_in["d" + k]).sum() for k, v in outs.items()).backward()
    want = {k: (got[k], v.detach().numpy()) for k, v in outs.items()}
    for k, v in t_in.items():
        if k not in ("kpm", "am") and not k.startswith("d"):
            want["d " + k] = (got_g[k], v.grad.numpy())
    params = dict(tm.named_parameters())
    for k in model.weights:
        want["d " + k] = (got_g[k], params[rename(k)].grad.numpy())
    failures = 0
    for what, (a, b) in want.items():
        err = rel_err(a, b)
        ok = err <= TOLS[dt]
        failures += not ok
        print(f"{'ok  ' if ok else 'FAIL'} {name} {dt} {what}: rel = {err:.3g} (tolerance {TOLS[dt]:g})")
    return failures


TRAIN = """
use std.nn
use std.losses

model Cls(x: f32[B, 6, 4]) -> f32[B, 2] {
    h = x |> dense(16) |> positional_encoding
    h = h |> transformer_encoder_layer(nhead: 4, dim_feedforward: 32, dropout: 0.0)
    return mean(h, axes: [1]) |> dense(2)
}

train Cls(label: i64[B]) {
    loss = cross_entropy(output, label)
    optimizer = adam(lr: 3e-3)
}
"""


def check_training(rng, starc_bin, tmp):
    x = rng.standard_normal((512, 6, 4)).astype(np.float32)
    label = (x[:, 0, 0] > x[:, -1, 0]).astype(np.int64)
    files = {n: os.path.join(tmp, n) for n in ("cls.net", "x.npy", "label.npy", "history.csv", "w.npz")}
    with open(files["cls.net"], "w") as fh:
        fh.write(TRAIN)
    np.save(files["x.npy"], x)
    np.save(files["label.npy"], label)
    r = subprocess.run([starc_bin, "train", files["cls.net"], "--data", f"x={files['x.npy']}",
                    f"label={files['label.npy']}", "--epochs", "30", "--batch", "32", "--seed", "3", "--progress",
                    "none", "--history", files["history.csv"], "-o", files["w.npz"]], capture_output=True, text=True)
    if r.returncode != 0:
        print(f"FAIL starc train ({r.returncode}):\n{r.stdout}{r.stderr}")
        return 1
    with open(files["history.csv"]) as fh:
        rows = list(csv.DictReader(fh))
    first, last = float(rows[0]["train_loss"]), float(rows[-1]["train_loss"])
    ok = last < 0.5 * first
    print(f"{'ok  ' if ok else 'FAIL'} transformer classifier trains: loss {first:.4g} -> {last:.4g} in 30 epochs "
          "(must fall below half)")
    return 0 if ok else 1


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--starc", required=True)
    ap.add_argument("--tmp", required=True)
    a = ap.parse_args()
    os.makedirs(a.tmp, exist_ok=True)
    torch.set_num_threads(1)
    rng = np.random.default_rng(31)
    failures = 0
    for dt in ("f64", "f32"):
        for name in ("Cross", "Causal", "PostNorm", "PreNorm", "Positions", "LstmStack", "GruStack", "GruReverse",
                     "LstmReverse"):
            failures += check_case(name, dt, rng)
    failures += check_training(rng, a.starc, a.tmp)
    print("all comparisons passed" if failures == 0 else f"{failures} comparison(s) failed")
    return 0 if failures == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
