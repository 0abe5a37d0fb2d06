"""starc: compile, run and differentiate .net models on NumPy arrays.

    import numpy as np, starc
    m = starc.load("stdlib/astro/photoz.net")
    m.init(seed=0)
    z = m(np.zeros((8, 5), np.float32))

The walk-through is docs/python.md; the module is a thin layer over starc's C++ API
(runtime/api/starc.h, docs/api.md).
"""
from ._starc import (  # noqa: F401
    CompileError,
    DataError,
    Diagnostic,
    Error,
    Model,
    Program,
    ShapeError,
    TensorSpec,
    load,
    load_string,
)

__all__ = [
    "CompileError", "DataError", "Diagnostic", "Error", "Model", "Program", "ShapeError", "TensorSpec",
    "load", "load_string",
]
