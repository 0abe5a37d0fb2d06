"""starc.Model: specs, outputs equal to the CLI's, weights, conversions, compile stages."""
import numpy as np
import pytest
import starc
from conftest import PHOTOZ, REDSHIFT, run_cli

TWO_OUTPUTS = """use std.nn
model Two(x: f64[B, 3], scale: f64[]) -> (y: f64[B, 2], n: f64[]) {
    let y = x |> dense(2)
    return (y * scale, sum(y * y))
}
"""


def test_specs_name_dtypes_and_symbolic_dims():
    m = starc.load(PHOTOZ)
    assert m.name == "PhotozMLP"
    assert m.inputs == [starc.TensorSpec("mags", np.dtype(np.float32), ("B", 5))]
    assert m.outputs[0].shape == ("B", 1)
    names = [p.name for p in m.params]
    assert names == sorted(names) and "dense0.weight" in names
    assert dict((p.name, p.shape) for p in m.params)["dense0.weight"] == (64, 5)
    assert "PhotozMLP(mags: f32[B,5]) -> (output: f32[B,1])" in repr(m)


def test_program_lists_models_and_picks_one():
    p = starc.Program.from_string(TWO_OUTPUTS + "model Other(a: f32[2]) -> f32[2] {\n    return a\n}\n")
    assert p.models == ["Two", "Other"]
    with pytest.raises(starc.Error, match="name one"):
        p.model()
    assert p.model("Other", backend="ref").name == "Other"
    assert starc.Program(PHOTOZ).models == ["PhotozMLP"]


@pytest.mark.parametrize("path,shape", [(PHOTOZ, (16, 5)), (REDSHIFT, (2, 1, 4618))])
def test_outputs_equal_the_cli_on_the_same_inputs_and_weights(tmp_path, rng, path, shape):
    m = starc.load(path)
    m.init(seed=3)
    m.save_weights(tmp_path / "w.npz")
    x = rng.standard_normal(shape).astype(np.float32)
    np.save(tmp_path / "x.npy", x)
    run_cli("run", path, "--in", tmp_path / "x.npy", "--weights", tmp_path / "w.npz", "--out", tmp_path / "y.npy")
    np.testing.assert_array_equal(m(x), np.load(tmp_path / "y.npy"))
    # and the other way: weights the CLI wrote, loaded here
    run_cli("init", path, "--seed", 9, "-o", tmp_path / "w9.npz")
    m.load_weights(tmp_path / "w9.npz")
    run_cli("run", path, "--in", tmp_path / "x.npy", "--weights", tmp_path / "w9.npz", "--out", tmp_path / "y9.npy")
    np.testing.assert_array_equal(m(mags=x) if path == PHOTOZ else m(flux=x), np.load(tmp_path / "y9.npy"))


def test_jit_and_reference_agree_and_several_outputs_come_as_a_dict(rng):
    jit, ref = starc.load_string(TWO_OUTPUTS), starc.load_string(TWO_OUTPUTS, backend="ref")
    jit.init(7)
    ref.init(7)
    x = rng.standard_normal((5, 3))
    a, b = jit(x=x, scale=2.0), ref(x, np.float64(2.0))
    assert list(a) == ["y", "n"] and a["y"].shape == (5, 2) and a["n"].shape == ()
    np.testing.assert_allclose(a["y"], b["y"], rtol=1e-12)
    np.testing.assert_allclose(a["n"], b["n"], rtol=1e-12)


def test_weights_are_read_only_views_and_set_weight_copies(tmp_path):
    m = starc.load(PHOTOZ)
    m.init(seed=1)
    w = m.weights
    assert set(w) == {p.name for p in m.params}
    assert not w["dense0.bias"].flags.writeable
    x = np.ones((1, 5), np.float32)
    before = m(x).copy()
    bias = np.full((1,), 10.0, np.float32)
    m.set_weight("dense2.bias", bias)
    bias[0] = -100.0  # the model kept its own copy
    np.testing.assert_allclose(m(x), before - w["dense2.bias"] + 10.0, rtol=1e-6)
    m.save_weights(tmp_path / "w.npz")
    saved = np.load(tmp_path / "w.npz")
    assert saved["dense2.bias"][0] == 10.0
    with pytest.raises(starc.ShapeError, match="shape"):
        m.set_weight("dense2.bias", np.zeros(3, np.float32))
    with pytest.raises(starc.ShapeError, match="no parameter"):
        m.set_weight("nope", np.zeros(1, np.float32))


def test_arrays_of_other_layouts_and_dtypes_are_converted_once(rng):
    m = starc.load(PHOTOZ)
    m.init(seed=2)
    x = rng.standard_normal((6, 5))  # float64: converted to float32
    want = m(x.astype(np.float32))
    np.testing.assert_array_equal(m(x), want)
    np.testing.assert_array_equal(m(np.asfortranarray(x.astype(np.float32))), want)
    np.testing.assert_array_equal(m(x.astype(np.float32).T.copy().T), want)
    np.testing.assert_array_equal(m(x.astype(">f4")), want)  # big-endian
    np.testing.assert_array_equal(m(x.tolist()), want)
    with pytest.raises(starc.ShapeError, match="same_kind"):
        m(x.astype(np.complex64))


def test_inputs_are_left_unchanged(rng):
    m = starc.load(REDSHIFT)
    m.init(seed=0)
    x = rng.standard_normal((2, 1, 4618)).astype(np.float32)
    keep = x.copy()
    m(x)
    m.grad(x, wrt="flux")
    np.testing.assert_array_equal(x, keep)


def test_every_stage_prints():
    m = starc.load(PHOTOZ)
    assert "graph PhotozMLP" in m.graph()
    assert "tensor<4x5xf32>" in m.graph(emit="mlir", batch=4)
    assert "define" in m.graph(emit="llvm")
    with pytest.raises(ValueError):
        m.graph(emit="nope")
    with pytest.raises(starc.Error, match="batch"):
        m.graph(batch=0)


def test_options(tmp_path):
    m = starc.load(PHOTOZ, threads=1, conv_algo="direct", seed=4, cache_dir=tmp_path / "cache")
    m.init()
    m(np.zeros((2, 5), np.float32))
    assert any((tmp_path / "cache").iterdir())  # the disk cache went where it was told
    with pytest.raises(TypeError, match="unexpected keyword"):
        starc.load(PHOTOZ, thread=1)
    with pytest.raises(ValueError, match="backend"):
        starc.load(PHOTOZ, backend="gpu")
    with pytest.raises(ValueError, match="conv_algo"):
        starc.load(PHOTOZ, conv_algo="fast")
    assert "ref, cpu, training" in repr(starc.load(PHOTOZ, backend="ref", training=True))
