"""Shared set-up of the Python module's tests (tests/python; ctest -R Python).

Run: PYTHONPATH=build/python /usr/bin/python3 -m pytest -q tests/python
"""
import os
import subprocess

import numpy as np
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
STARC = os.environ.get("STARC_BINARY", os.path.join(ROOT, "build", "starc"))
PHOTOZ = os.path.join(ROOT, "stdlib", "astro", "photoz.net")
REDSHIFT = os.path.join(ROOT, "stdlib", "astro", "redshift.net")


def run_cli(*args):
    """Runs the starc command; fails the test with its output when it fails."""
    p = subprocess.run([STARC, *map(str, args)], capture_output=True, text=True)
    assert p.returncode == 0, f"starc {' '.join(map(str, args))}: exit {p.returncode}\n{p.stdout}\n{p.stderr}"
    return p.stdout


@pytest.fixture
def rng():
    return np.random.default_rng(12345)
