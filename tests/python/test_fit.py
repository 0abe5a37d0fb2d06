"""Model.fit (the trainer of `starc train`) and starc.compile (the builder of `starc compile`)."""
import ctypes
import os
import signal
import threading

import numpy as np
import pytest
import starc
from conftest import PHOTOZ, run_cli


def photoz_data(n, seed=0):
    """Magnitudes and a redshift that depends on their colours: something an MLP can learn."""
    r = np.random.default_rng(seed)
    z = r.uniform(0.05, 0.95, (n, 1)).astype(np.float32)
    mags = (20.0 + z * np.arange(5) + 0.1 * r.standard_normal((n, 5))).astype(np.float32)
    return {"mags": mags, "z": z}


def test_fit_lowers_the_loss_and_equals_starc_train_bit_for_bit(tmp_path):
    data = photoz_data(64)
    np.save(tmp_path / "mags.npy", data["mags"])
    np.save(tmp_path / "z.npy", data["z"])
    m = starc.load(PHOTOZ)
    seen = []
    hist = m.fit(data, epochs=4, batch=16, seed=7, progress=False, on_epoch=lambda e, logs: seen.append(e))
    assert seen == [1, 2, 3, 4] and len(hist) == 4
    assert hist[-1]["loss"] < hist[0]["loss"]
    run_cli("train", PHOTOZ, "--data", f"mags={tmp_path / 'mags.npy'}", f"z={tmp_path / 'z.npy'}", "--epochs", 4,
            "--batch", 16, "--seed", 7, "--progress", "none", "-o", tmp_path / "w.npz")
    want = np.load(tmp_path / "w.npz")
    assert set(want.files) == set(m.weights)
    for name in want.files:
        assert want[name].tobytes() == m.weights[name].tobytes(), f"{name} differs from starc train's"


def test_fit_shuffle_false_equals_starc_train_no_shuffle(tmp_path):
    data = photoz_data(48)
    np.save(tmp_path / "mags.npy", data["mags"])
    np.save(tmp_path / "z.npy", data["z"])
    m, shuffled = starc.load(PHOTOZ), starc.load(PHOTOZ)
    m.fit(data, epochs=2, batch=16, seed=3, shuffle=False, progress=False)
    shuffled.fit(data, epochs=2, batch=16, seed=3, progress=False)
    run_cli("train", PHOTOZ, "--data", f"mags={tmp_path / 'mags.npy'}", f"z={tmp_path / 'z.npy'}", "--epochs", 2,
            "--batch", 16, "--seed", 3, "--no-shuffle", "--progress", "none", "-o", tmp_path / "w.npz")
    want = np.load(tmp_path / "w.npz")
    for name in want.files:
        assert want[name].tobytes() == m.weights[name].tobytes(), f"{name} differs from starc train --no-shuffle's"
    assert any(want[n].tobytes() != shuffled.weights[n].tobytes() for n in want.files)


def test_validation_logs_progress_and_a_failing_callback(capsys):
    m = starc.load(PHOTOZ)
    m.init(1)
    hist = m.fit(photoz_data(32), val=photoz_data(16, seed=1), epochs=2, batch=8)
    assert {"loss", "val_loss", "lr", "seconds"} <= set(hist[0])
    assert "epoch 2/2  loss" in capsys.readouterr().out

    def fail(epoch, logs):
        raise RuntimeError(f"stop at {epoch}")

    with pytest.raises(RuntimeError, match="stop at 1"):
        m.fit(photoz_data(32), epochs=5, batch=8, progress=False, on_epoch=fail)
    with pytest.raises(starc.Error, match="z"):
        m.fit({"mags": photoz_data(8)["mags"]}, progress=False)  # no target


def test_ctrl_c_stops_at_a_batch_boundary_with_the_checkpoint_written(tmp_path):
    m = starc.load(PHOTOZ)
    data = photoz_data(4096)
    first = []

    def interrupt_after_the_first_epoch(epoch, logs):
        first.append(epoch)
        threading.Timer(0.05, os.kill, (os.getpid(), signal.SIGINT)).start()

    with pytest.raises(KeyboardInterrupt):
        m.fit(data, epochs=1000, batch=4, seed=3, checkpoint=tmp_path, progress=False,
              on_epoch=interrupt_after_the_first_epoch)
    assert first[0] == 1 and len(first) < 1000
    ckpt = np.load(tmp_path / "checkpoint.npz")
    assert "dense0.weight" in ckpt.files
    w = m.weights["dense0.weight"].copy()
    hist = m.fit(data, epochs=len(first) + 2, batch=4, seed=3, checkpoint=tmp_path, resume=True, progress=False)
    assert len(hist) == len(first) + 2 and not np.array_equal(w, m.weights["dense0.weight"])
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # Python's handler is back


def test_compile_builds_a_library_that_reproduces_the_model(tmp_path):
    m = starc.load(PHOTOZ)
    m.init(3)
    files = starc.compile(m, tmp_path / "lib", batch=2)
    assert {"libPhotozMLP.so", "PhotozMLP.h"} <= set(files)
    lib = ctypes.CDLL(str(tmp_path / "lib" / "libPhotozMLP.so"))
    handle = ctypes.c_void_p()
    assert lib.PhotozMLP_create(None, ctypes.byref(handle)) == 0
    x = np.random.default_rng(0).standard_normal((2, 5)).astype(np.float32)
    z = np.zeros((2, 1), np.float32)
    ptr = ctypes.POINTER(ctypes.c_float)
    assert lib.PhotozMLP_forward(handle, x.ctypes.data_as(ptr), ctypes.c_size_t(10), z.ctypes.data_as(ptr),
                                 ctypes.c_size_t(2)) == 0
    lib.PhotozMLP_destroy(handle)
    np.testing.assert_allclose(z, m(x), rtol=1e-5)
    with pytest.raises(starc.Error):
        starc.compile(starc.load(PHOTOZ), tmp_path / "none")  # no weights


def test_evaluate_equals_the_last_epochs_validation_and_early_stopping(tmp_path):
    data = photoz_data(48)
    m = starc.load(PHOTOZ)
    hist = m.fit(data, val=data, epochs=2, batch=16, seed=3, progress=False)
    logs = m.evaluate(data, batch=16)
    assert list(logs) == ["loss"]
    assert logs["loss"] == hist[-1]["val_loss"]
    # train_loss only falls, so watched as "higher is better" epoch 1 stays the best
    stopped = starc.load(PHOTOZ).fit(data, epochs=10, batch=16, progress=False, early_stop=2,
                                     monitor="train_loss:max", checkpoint=tmp_path / "ck")
    assert len(stopped) == 3
    assert (tmp_path / "ck" / "best.npz").exists()


def test_simulate_returns_arrays_and_names_its_tasks():
    assert "photoz" in starc.simulation_tasks()
    d = starc.simulate("photoz", 8, seed=1)
    assert d["mags"].shape == (8, 5) and d["z"].shape == (8, 1)
    assert np.array_equal(d["mags"], starc.simulate("photoz", 8, seed=1)["mags"])
    with pytest.raises(starc.Error, match="photozz"):
        starc.simulate("photozz", 8)


def test_on_step_sees_every_batch():
    steps = []
    starc.load(PHOTOZ).fit(photoz_data(40), epochs=2, batch=16, progress=False,
                           on_step=lambda e, b, loss: steps.append((e, b, loss)))
    assert [(e, b) for e, b, _ in steps] == [(1, 1), (1, 2), (1, 3), (2, 1), (2, 2), (2, 3)]
    assert all(np.isfinite(loss) for _, _, loss in steps)
