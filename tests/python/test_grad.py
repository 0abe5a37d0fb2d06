"""Model.grad against PyTorch's autograd on the same weights and inputs."""
import shutil

import numpy as np
import pytest
import starc
import torch
import torch.nn.functional as F
from conftest import PHOTOZ

SMALL_CNN = """use std.nn
model SmallCNN(x: f32[B, 2, 32]) -> f32[B, 3] {
    return x |> conv1d(4, kernel: 5, padding: 2) |> relu |> maxpool1d(2) |> flatten |> dense(3)
}
"""


def torch_small_cnn(w, x):
    y = F.conv1d(x, w["conv1d0.weight"], w["conv1d0.bias"], padding=2)
    y = F.max_pool1d(F.relu(y), 2).flatten(1)
    return F.linear(y, w["dense0.weight"], w["dense0.bias"])


def torch_photoz(w, x):
    h = F.relu(F.linear(x, w["dense0.weight"], w["dense0.bias"]))
    h = F.relu(F.linear(h, w["dense1.weight"], w["dense1.bias"]))
    return F.linear(h, w["dense2.weight"], w["dense2.bias"])


def torch_gradients(fn, weights, x):
    """d sum(fn(x)) / d x and / d each weight, as numpy arrays keyed like Model.grad."""
    w = {k: torch.tensor(np.array(v), requires_grad=True) for k, v in weights.items()}
    xt = torch.tensor(x, requires_grad=True)
    fn(w, xt).sum().backward()
    out = {k: t.grad.numpy() for k, t in w.items()}
    out["x"] = xt.grad.numpy()
    return out


def check_against_torch(m, fn, x, input_name):
    g = m.grad(x)
    want = torch_gradients(fn, m.weights, x)
    want[input_name] = want.pop("x")
    assert set(g) == set(want)
    for k in want:
        np.testing.assert_allclose(g[k], want[k], rtol=2e-5, atol=2e-6, err_msg=k)


@pytest.mark.parametrize("backend", ["jit", "ref"])
def test_small_cnn_gradients_equal_pytorch(rng, backend):
    m = starc.load_string(SMALL_CNN, backend=backend)
    m.init(seed=5)
    x = rng.standard_normal((3, 2, 32)).astype(np.float32)
    check_against_torch(m, torch_small_cnn, x, "x")
    np.testing.assert_allclose(m.grad(x, wrt="x"), m.grad(x=x)["x"], rtol=0)
    assert set(m.grad(x, wrt=["x", "dense0.bias"])) == {"x", "dense0.bias"}


def test_photoz_gradients_equal_pytorch_on_the_reference_backend(rng):
    m = starc.load(PHOTOZ, backend="ref")
    m.init(seed=6)
    check_against_torch(m, torch_photoz, rng.standard_normal((4, 5)).astype(np.float32), "mags")


# A regression case: emit.cpp once named a temporary buffer like an output argument (%out6).
def test_photoz_gradients_through_the_jit(rng):
    m = starc.load(PHOTOZ)
    m.init(seed=6)
    check_against_torch(m, torch_photoz, rng.standard_normal((4, 5)).astype(np.float32), "mags")


def test_gradient_of_one_chosen_output():
    m = starc.load_string("model Two(x: f64[B, 3]) -> (a: f64[B, 3], b: f64[B]) {\n"
                          "    return (x * x, sum(x * 3.0, axes: [1]))\n}\n")
    x = np.arange(6, dtype=np.float64).reshape(2, 3)
    assert np.array_equal(m.grad("a", x, wrt="x"), 2 * x)          # d sum(x*x) / dx
    assert np.array_equal(m.grad("b", x, wrt="x"), np.full((2, 3), 3.0))
    assert np.array_equal(m.grad(x, wrt="x"), 2 * x + 3.0)         # every float output
    with pytest.raises(starc.Error, match="no output 'c'"):
        m.grad("c", x)


def test_repr_svg_draws_the_graph():
    m = starc.load(PHOTOZ)
    svg = m._repr_svg_()
    if shutil.which("dot") is None:
        assert svg is None
    else:
        assert svg.lstrip().startswith("<?xml") or "<svg" in svg
        assert "matmul" in svg
