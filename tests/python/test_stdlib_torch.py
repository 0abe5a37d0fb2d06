"""Stdlib models against the same architecture written in PyTorch: forward outputs and the
gradients of their sum (Model.grad vs autograd) with the same weights, in inference mode
(batch norm on running statistics, randomised so that they matter; dropout off)."""
import os

import numpy as np
import pytest
import starc
import torch
import torch.nn.functional as F
from conftest import ROOT

MOBILENET = os.path.join(ROOT, "stdlib", "astro", "galaxy_mobilenet.net")


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


def compare_with_torch(m, torch_fn, x, input_name, rtol):
    g = m.grad(x)
    trainable = {k for k in m.weights if not k.endswith(("running_mean", "running_var"))}
    assert set(g) == trainable | {input_name}
    w = {k: torch.tensor(np.array(v), requires_grad=k in trainable) for k, v in m.weights.items()}
    xt = torch.tensor(x, requires_grad=True)
    want_y = torch_fn(w, xt)
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
