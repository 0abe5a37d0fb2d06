"""Stdlib models against the same architecture written in PyTorch: forward outputs and the
gradients of their sum (Model.grad vs autograd) with the same weights, in inference mode
(batch norm on running statistics, randomised so that they matter; dropout off)."""
import os
import re

import numpy as np
import pytest
import starc
import torch
import torch.nn as nn
import torch.nn.functional as F
from conftest import ROOT

MOBILENET = os.path.join(ROOT, "stdlib", "astro", "galaxy_mobilenet.net")
SPECTRUM_TRANSFORMER = os.path.join(ROOT, "stdlib", "astro", "spectrum_transformer.net")
LIGHTCURVE_TRANSFORMER = os.path.join(ROOT, "stdlib", "astro", "lightcurve_transformer.net")


def randomize(m, rng):
    """Moves every weight away from its initialisation (biases and batch-norm statistics
    start at 0 and 1, which would hide a misplaced one)."""
    for name, w in m.weights.items():
        if name.endswith("running_var"):
            new = rng.uniform(0.5, 2.0, w.shape)
        else:
            new = w + 0.2 * rng.standard_normal(w.shape)
        m.set_weight(name, new.astype(w.dtype))


def torch_mobilenet(w, x):
    """galaxy_mobilenet.net's GalaxyMobileNet, functional, in eval mode."""
    def bn(y, scope):
        return F.batch_norm(y, w[scope + ".running_mean"], w[scope + ".running_var"], w[scope + ".weight"],
                            w[scope + ".bias"], training=False, eps=1e-5)

    y = F.relu(bn(F.conv2d(x, w["conv2d0.weight"], stride=2, padding=1), "batchnorm0"))
    units = [(32, 1), (64, 2), (64, 1), (128, 2), (128, 1), (256, 2)]
    for i, (_, stride) in enumerate(units):
        s = f"mobile_unit{i}"
        c = y.shape[1]
        y = F.conv2d(y, w[s + ".depthwise_conv2d0.weight"], stride=stride, padding=1, groups=c)
        y = F.relu(bn(y, s + ".batchnorm0"))
        y = F.relu(bn(F.conv2d(y, w[s + ".conv2d0.weight"]), s + ".batchnorm1"))
    y = y.mean(dim=(2, 3))
    return F.linear(y, w["dense0.weight"], w["dense0.bias"])


class Positions(nn.Module):
    def __init__(self, t, e):
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(t, e))


class SpectrumTransformer(nn.Module):
    """spectrum_transformer.net's SpectrumTransformer with torch.nn modules."""

    def __init__(self):
        super().__init__()
        self.patch_embed = nn.Conv1d(1, 64, 64, stride=64)
        self.positions = Positions(72, 64)
        self.layers = nn.ModuleList([nn.TransformerEncoderLayer(64, 4, 128, 0.1, "gelu", batch_first=True,
                                                                norm_first=True) for _ in range(2)])
        self.norm = nn.LayerNorm(64)
        self.head = nn.Linear(64, 2)

    def forward(self, flux):
        x = self.patch_embed(flux).transpose(1, 2) + self.positions.weight
        for layer in self.layers:
            x = layer(x)
        return self.head(self.norm(x).mean(dim=1))


def squash(x):
    return torch.sign(x) * torch.log(1.0 + torch.abs(x))


class LightCurveTransformer(nn.Module):
    """lightcurve_transformer.net's LightCurveTransformer with torch.nn modules."""

    def __init__(self):
        super().__init__()
        self.embed = nn.Linear(10, 64)
        self.layers = nn.ModuleList([nn.TransformerEncoderLayer(64, 4, 128, 0.1, "gelu", batch_first=True,
                                                                norm_first=True) for _ in range(2)])
        self.norm = nn.LayerNorm(64)
        self.head = nn.Linear(64, 3)

    @staticmethod
    def time_encoding(days, e=64, base=1000.0):
        j = torch.arange(e)
        even = (j // 2) * 2
        angle = days[..., None] * torch.exp(even.to(days.dtype) * (-np.log(base) / e))
        return torch.where(j == even, torch.sin(angle), torch.cos(angle))

    def forward(self, lc):
        feats = torch.cat([squash(lc[:, :, 1:9]), lc[:, :, 11:13]], dim=2)
        x = self.embed(feats) + self.time_encoding(lc[:, :, 0] * 100.0)
        padding = lc[:, :, 5] <= 0
        for layer in self.layers:
            x = layer(x, src_key_padding_mask=padding)
        x = self.norm(x)
        valid = (~padding).to(x.dtype)[..., None]
        return self.head((x * valid).sum(dim=1) / valid.sum(dim=1))


def torch_module_fn(module, rename):
    """A torch_fn (w, x) -> y over a torch.nn module: loads w (starc names, renamed) into it and
    hands its parameter tensors back in w, so that their .grad is filled."""
    def fn(w, x):
        state = {rename(k): v.detach() for k, v in w.items()}
        module.load_state_dict(state)
        module.eval()
        params = dict(module.named_parameters())
        for k in w:
            if rename(k) in params:
                w[k] = params[rename(k)]
        return module(x)
    return fn


def compare_with_torch(m, torch_fn, x, input_name, rtol):
    g = m.grad(x)
    trainable = {k for k in m.weights if not k.endswith(("running_mean", "running_var"))}
    assert set(g) == trainable | {input_name}
    w = {k: torch.tensor(np.array(v), requires_grad=k in trainable) for k, v in m.weights.items()}
    xt = torch.tensor(x, requires_grad=True)
    want_y = torch_fn(w, xt)  # may replace w's tensors by a module's own
    want_y.sum().backward()
    np.testing.assert_allclose(m(x), want_y.detach().numpy(), rtol=rtol, atol=rtol * float(want_y.abs().max()))
    for k in trainable:
        want = w[k].grad.numpy()
        np.testing.assert_allclose(g[k], want, rtol=rtol, atol=rtol * float(np.abs(want).max()), err_msg=k)
    want = xt.grad.numpy()
    np.testing.assert_allclose(g[input_name], want, rtol=rtol, atol=rtol * float(np.abs(want).max()))


@pytest.mark.parametrize("backend", ["jit", "ref"])
def test_galaxy_mobilenet_matches_pytorch(rng, backend):
    m = starc.load(MOBILENET, backend=backend, threads=2)
    m.init(seed=3)
    randomize(m, rng)
    x = rng.standard_normal((3, 1, 64, 64)).astype(np.float32)
    compare_with_torch(m, torch_mobilenet, x, "img", rtol=2e-4)


@pytest.mark.parametrize("backend", ["jit", "ref"])
def test_spectrum_transformer_matches_pytorch(rng, backend):
    m = starc.load(SPECTRUM_TRANSFORMER, backend=backend, threads=2)
    m.init(seed=3)
    randomize(m, rng)
    torch.manual_seed(0)
    rename = lambda k: k.replace("transformer_encoder_layer", "layers.")
    x = rng.standard_normal((3, 1, 4618)).astype(np.float32)
    compare_with_torch(m, torch_module_fn(SpectrumTransformer(), rename), x, "flux", rtol=2e-4)


@pytest.mark.parametrize("backend", ["jit", "ref"])
def test_lightcurve_transformer_matches_pytorch(rng, backend):
    m = starc.load(LIGHTCURVE_TRANSFORMER, model="LightCurveTransformer", backend=backend, threads=2)
    m.init(seed=3)
    randomize(m, rng)
    torch.manual_seed(0)

    def rename(k):
        return k.replace("lc_encoder0.", "").replace("transformer_encoder_layer", "layers.")

    lc = starc.simulate("supernova", 3, seed=5)["lc"]
    assert (lc[:, :, 5] == 0).any(), "the simulated light curves should include padding epochs"
    compare_with_torch(m, torch_module_fn(LightCurveTransformer(), rename), lc, "lc", rtol=2e-4)


def test_lightcurve_pretraining_carries_over_to_the_classifier():
    """docs/models.md's pre-training walk-through, run as written on 192 simulated light
    curves: LightCurveMAE's masked reconstruction learns, its encoder weights (the same
    names) start the classifier, which then trains."""
    with open(os.path.join(ROOT, "docs", "models.md")) as f:
        block = re.search(r"```python\n(.*?)```", f.read(), re.S).group(1)
    data = starc.simulate("supernova", 192, seed=7)
    ns = {"starc": starc, "unlabelled": data["lc"], "lc": data["lc"], "label": data["label"]}
    real_load = starc.load
    loaded = []

    def load(*args, **kwargs):  # the walk-through's models, on 2 threads, kept for the checks
        loaded.append(real_load(*args, threads=2, **kwargs))
        return loaded[-1]

    starc.load = load
    try:
        exec(compile(block, "docs/models.md", "exec"), ns)
    finally:
        starc.load = real_load
    pre, hist = ns["pre"], ns["hist"]
    assert pre[-1]["loss"] < 0.7 * pre[0]["loss"], pre
    assert hist[-1]["loss"] < hist[0]["loss"], hist
    mae, cls = loaded
    shared = [k for k in mae.weights if k.startswith("lc_encoder0.")]
    assert len(shared) == 28 and set(shared) <= set(cls.weights)
