"""Progress bars: shown in a Jupyter kernel (a real one, and a simulated one), silent in logs."""

import io
import sys
from pathlib import Path

import numpy as np
import pytest

import ntkdistill as nd
from ntkdistill import _progress
from ntkdistill.sweep import run_sweep

ROOT = Path(__file__).resolve().parent.parent


def _job(config, seed):
    return {"x": config["i"]}


def _fit(progress, T=40):
    return nd.pgd(np.eye(2), np.array([0.6, 0.4]), m=2, eta=1.0, T=T, rng=0, progress=progress)


def test_silent_in_a_log_even_when_asked(capsys, tmp_path):
    pytest.importorskip("tqdm")
    _fit(True)
    run_sweep(_job, [{"i": 1}, {"i": 2}], results_path=tmp_path / "r.jsonl", rng=0, progress=True)
    assert capsys.readouterr().err == ""  # standard error is captured: neither a terminal nor a notebook


def test_simulated_notebook_shows_the_bar(monkeypatch, tmp_path):
    pytest.importorskip("tqdm")
    monkeypatch.setattr(_progress, "in_notebook", lambda: True)
    monkeypatch.setattr(_progress, "_widgets", lambda: False)  # the text bar, which a notebook shows too
    out = io.StringIO()  # not a terminal
    monkeypatch.setattr(sys, "stderr", out)
    _fit(True)
    assert "pgd" in out.getvalue() and "40/40" in out.getvalue()
    out.truncate(0)
    out.seek(0)
    run_sweep(_job, [{"i": 1}, {"i": 2}], results_path=tmp_path / "r.jsonl", rng=0, progress=True, desc="toy")
    assert "toy" in out.getvalue() and "2/2" in out.getvalue()
    out.truncate(0)
    out.seek(0)
    _fit(None)  # a quick run: nothing by default
    _fit(False)
    assert out.getvalue() == ""


def test_bad_progress_is_refused():
    with pytest.raises(TypeError, match="progress must be None, True or False, got 'yes'"):
        _fit("yes")


def test_real_jupyter_kernel_shows_the_bar():
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    pytest.importorskip("ipykernel")
    pytest.importorskip("tqdm")
    code = (
        "import numpy as np, ntkdistill as nd\n"
        "res = nd.pgd(np.eye(2), np.array([0.6, 0.4]), m=2, eta=1.0, T=40, rng=0, progress=True)"
    )
    quiet = "res = nd.pgd(np.eye(2), np.array([0.6, 0.4]), m=2, eta=1.0, T=40, rng=0)"
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(code), nbformat.v4.new_code_cell(quiet)])
    nbclient.NotebookClient(
        nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(ROOT)}}
    ).execute()
    shown, quiet_out = nb.cells[0].outputs, nb.cells[1].outputs

    def text(outputs):
        parts = []
        for o in outputs:
            parts.append(o.get("text", ""))
            parts.extend(str(v) for v in o.get("data", {}).values())
        return "".join(parts)

    assert "pgd" in text(shown) and "40/40" in text(shown), shown
    assert not any(o.get("output_type") == "error" for o in shown + quiet_out)
    assert text(quiet_out) == ""  # the default shows nothing for a run of milliseconds
