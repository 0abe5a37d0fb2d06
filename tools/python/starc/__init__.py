"""starc: compile, run, differentiate and train .net models on NumPy arrays.

    import numpy as np, starc
    m = starc.load("stdlib/astro/photoz.net")
    m.init(seed=0)
    z = m(np.zeros((8, 5), np.float32))

The walk-through is docs/python.md; the module is a thin layer over starc's C++ API
(runtime/api/starc.h, docs/api.md).
"""
import os as _os
import shutil as _shutil
import subprocess as _subprocess
import sys as _sys

from ._starc import (  # noqa: F401
    CompileError,
    DataError,
    Diagnostic,
    Error,
    Model,
    Program,
    ShapeError,
    TensorSpec,
    _import_onnx,
    compile,
    load,
    load_string,
    simulate,
    simulation_tasks,
)

__all__ = [
    "CompileError", "DataError", "Diagnostic", "Error", "Model", "Program", "ShapeError", "TensorSpec",
    "compile", "import_onnx", "load", "load_string", "simulate", "simulation_tasks",
]


def _progress_line(epoch, epochs, logs):
    values = "  ".join(f"{k} {v:.6g}" for k, v in logs.items() if k not in ("lr", "seconds"))
    return f"epoch {epoch}/{epochs}  {values}  ({logs['seconds']:.2f} s)"


def _fit(self, data, epochs=1, batch=32, val=None, seed=0, checkpoint=None, resume=False, history_csv=None,
         on_epoch=None, progress=True, early_stop=0, monitor="val_loss", on_step=None, shuffle=True):
    """Trains the model with its `train` block, as `starc train` (the same numbers for the same
    data, seed and batch).

    data, val: dicts name -> array (the first axis is the samples) for the inputs of the
    model and of its train block. Starts from the model's weights (init/load_weights) or
    initialises them with `seed`, and leaves the trained weights in the model.
    checkpoint: a folder for checkpoint.npz (every epoch, and on Ctrl-C); resume=True
    continues from it. on_epoch(epoch, logs) after every epoch, logs a dict ("loss", the
    metrics, "val_loss", ..., "lr", "seconds"); on_step(epoch, batch, loss) after every
    batch (the epoch's running mean loss); progress=True prints one line per epoch.
    early_stop=N stops when the history column `monitor` ("val_loss", "train_loss",
    "val_<metric>"; "...:max" when higher is better) has not improved for N epochs; with
    checkpoint, checkpoint/best.npz keeps the best epoch's weights. shuffle=False visits the
    samples in the data's order every epoch (starc train --no-shuffle).
    Ctrl-C finishes the batch in flight, writes the checkpoint and raises KeyboardInterrupt.
    Returns the list of every epoch's logs.
    """
    def report(epoch, logs):
        if progress:
            print(_progress_line(epoch, epochs, logs), file=_sys.stdout, flush=True)
        if on_epoch is not None:
            on_epoch(epoch, logs)

    return self._fit(data, val, report, on_step, epochs=epochs, batch=batch, seed=seed, checkpoint=checkpoint,
                     resume=resume, history_csv=history_csv, early_stop=early_stop, monitor=monitor,
                     shuffle=shuffle)


Model.fit = _fit


def _repr_svg_(self):
    """The graph as SVG in Jupyter, drawn by Graphviz's `dot` when it is installed (else none)."""
    dot = _shutil.which("dot")
    if dot is None:
        return None
    return _subprocess.run([dot, "-Tsvg"], input=self._dot(), capture_output=True, text=True, check=True).stdout


Model._repr_svg_ = _repr_svg_


def import_onnx(path, out, name=None, dims=None, **options):
    """An ONNX model (PyTorch's torch.onnx.export, tf2onnx) as a starc model, as `starc
    import` (docs/onnx.md): writes out/<Name>.net (readable source) and out/weights.npz,
    then loads the model with those weights. dims={"B": 8} fixes a dynamic dim; options
    as for load (backend, threads, ...)."""
    net = _import_onnx(path, out, name or "", dims or {})
    m = load(net, **options)
    m.load_weights(_os.path.join(_os.fspath(out), "weights.npz"))
    return m
