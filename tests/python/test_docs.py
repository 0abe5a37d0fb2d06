"""docs/python.md runs: its python blocks, in order, in one namespace, from the repository root."""
import os
import re

import starc
from conftest import ROOT

DOC = os.path.join(ROOT, "docs", "python.md")


def blocks():
    with open(DOC) as f:
        return re.findall(r"^```python\n(.*?)^```", f.read(), flags=re.S | re.M)


def test_the_walk_through_runs(monkeypatch, capsys):
    monkeypatch.chdir(ROOT)
    code = blocks()
    assert len(code) >= 8
    namespace = {"__name__": "docs_python_md"}
    for i, block in enumerate(code):
        exec(compile(block, f"docs/python.md block {i + 1}", "exec"), namespace)
    out = capsys.readouterr().out
    # the printed results shown in the text are what the code prints
    assert "<starc.Model PhotozMLP(mags: f32[B,5]) -> (output: f32[B,1]); jit, cpu>" in out
    assert "bad.net 2 16 unknown name 'y'" in out
    assert "input 'mags': expected f32[B,5], got f32[8,4]" in out


def test_every_public_name_is_documented():
    with open(DOC) as f:
        text = f.read()
    for name in starc.__all__:
        assert name in text, f"docs/python.md does not mention starc.{name}"
