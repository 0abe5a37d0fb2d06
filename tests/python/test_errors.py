"""Exceptions: every failure is a starc.Error subclass with the library's message, never a crash."""
import numpy as np
import pytest
import starc
from conftest import PHOTOZ

BAD = "use std.nn\nmodel M(x: f32[B, 4]) -> f32[B, 4] {\n    return x + y\n}\n"


def test_a_source_error_carries_its_located_diagnostics():
    with pytest.raises(starc.CompileError) as e:
        starc.load_string(BAD, name="bad.net")
    (d,) = e.value.diagnostics
    assert (d.file, d.line, d.col) == ("bad.net", 3, 16)
    assert "'y'" in d.message and "^" in d.text
    assert "bad.net:3:16" in str(e.value) and "return x + y" in str(e.value)  # the caret line too
    assert isinstance(e.value, starc.Error)
    with pytest.raises(starc.CompileError):
        starc.load_string("model M(x: f32[4]) -> f32[4] {\n    return x +\n}\n")  # a syntax error
    with pytest.raises(starc.CompileError):
        starc.load("/nonexistent/m.net")


def test_inputs_that_do_not_fit_are_shape_errors():
    m = starc.load(PHOTOZ)
    m.init(0)
    with pytest.raises(starc.ShapeError, match=r"input 'mags': expected f32\[B,5\], got f32\[2,4\]") as e:
        m(np.zeros((2, 4), np.float32))
    assert isinstance(e.value, ValueError) and e.value.diagnostics == []
    with pytest.raises(starc.ShapeError, match="expected f32"):
        m(np.zeros(5, np.float32))  # rank
    with pytest.raises(starc.ShapeError, match="same_kind"):
        m(np.zeros((2, 5), np.complex128))
    with pytest.raises(starc.ShapeError, match="takes 1 input, got 2"):
        m(np.zeros((2, 5), np.float32), np.zeros((2, 5), np.float32))
    with pytest.raises(starc.ShapeError, match="no input 'flux'"):
        m(flux=np.zeros((2, 5), np.float32))
    with pytest.raises(starc.ShapeError, match="'mags' is missing"):
        starc.load_string("model Two(a: f32[2], mags: f32[2]) -> f32[2] {\n    return a + mags\n}\n")(a=[1, 2])
    with pytest.raises(TypeError, match="twice"):
        m(np.zeros((2, 5), np.float32), mags=np.zeros((2, 5), np.float32))
    with pytest.raises(starc.ShapeError, match="expected i64"):
        starc.load_string("model I(k: i64[3]) -> i64[3] {\n    return k\n}\n")(np.zeros(3))  # float -> int


def test_symbolic_dims_bind_consistently():
    m = starc.load_string("model S(a: f32[B, 2], b: f32[B, 2]) -> f32[B, 2] {\n    return a + b\n}\n")
    with pytest.raises(starc.ShapeError, match="dim B is 3 here but 2"):
        m(a=np.zeros((2, 2), np.float32), b=np.zeros((3, 2), np.float32))


def test_bad_weights_files_are_data_errors(tmp_path):
    m = starc.load(PHOTOZ)
    corrupt = tmp_path / "corrupt.npz"
    corrupt.write_bytes(b"PK\x03\x04 this is not a zip archive" * 10)
    with pytest.raises(starc.DataError):
        m.load_weights(corrupt)
    with pytest.raises(starc.DataError, match="cannot open"):
        m.load_weights(tmp_path / "missing.npz")
    np.savez(tmp_path / "wrong.npz", **{"dense0.weight": np.zeros((3, 3), np.float32)})
    with pytest.raises(starc.DataError, match="wrong.npz"):
        m.load_weights(tmp_path / "wrong.npz")
    m.init(0)
    with pytest.raises(starc.DataError):
        m.save_weights(tmp_path / "no" / "such" / "folder" / "w.npz")


def test_misuse_is_an_error_not_a_crash():
    m = starc.load(PHOTOZ)
    with pytest.raises(starc.Error, match="no weights"):
        m(np.zeros((1, 5), np.float32))
    with pytest.raises(starc.Error, match="no weights to save"):
        m.save_weights("/tmp/never.npz")
    with pytest.raises(starc.Error, match="defines 2 models"):
        starc.load_string("model A(x: f32[1]) -> f32[1] {\n    return x\n}\nmodel B(x: f32[1]) -> f32[1] {\n"
                          "    return x\n}\n")
    m.init(0)
    ref = starc.load(PHOTOZ, backend="ref")
    ref.init(0)
    with pytest.raises(starc.Error, match="no gradient with respect to 'nope'"):
        ref.grad(np.zeros((1, 5), np.float32), wrt="nope")
    with pytest.raises(ValueError):
        m(np.array([[object()] * 5]))
    with pytest.raises(TypeError):
        m.init(seed="x")
    with pytest.raises(ValueError, match="at least 0"):
        starc.load(PHOTOZ, seed=-1)
    with pytest.raises(starc.Error):
        starc.load(PHOTOZ, model="Nope")
