"""``ntkdistill verify`` end to end on tiny settings, and their input errors."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from ntkdistill.cli import main


def test_verify_end_to_end_tiny(tmp_path, capsys):
    out = tmp_path / "v"
    # one point (gamma = 1/2): the cheapest non-vacuous setting; a small budget refuses the big runs
    status = main(["verify", "--dataset", "orthonormal", "--level", "1", "--seeds", "2", "--budget", "0.05",
                   "--n-samples", "2000", "--out", str(out), "--no-figures", "--quiet"])
    text = capsys.readouterr().out
    assert status == 0
    for name in ("Theorem 2", "Corollary 4", "Proposition 5", "Lemma 3", "Lemma 6"):
        assert name in text
    assert "REFUSED" in text and "Raise the budget" in text
    report = json.loads((out / "report.json").read_text())
    assert report["config"]["version"] and report["config"]["seeds"] == 2
    assert report["data"]["gamma_known"] == pytest.approx(0.5)
    assert {c["name"] for c in report["checks"]} == {"Theorem 2", "Corollary 4", "Proposition 5", "Lemma 3", "Lemma 6"}
    assert (out / "table.txt").exists()


def test_verify_json_on_user_npz(tmp_path, capsys):
    path = tmp_path / "d.npz"
    np.savez(path, X=np.array([[0.6, 0.8], [0.8, -0.6]]), y=np.array([1, -1]))
    status = main(["verify", "--data", str(path), "--seeds", "2", "--budget", "0.05", "--n-samples", "2000",
                   "--out", str(tmp_path / "o"), "--no-figures", "--json"])
    assert status == 0
    report = json.loads(capsys.readouterr().out)
    assert report["data"]["n"] == 2 and report["data"]["gamma_known"] is None
    assert 0 < report["data"]["margin_lower"] <= report["data"]["margin_upper"]


@pytest.mark.parametrize(
    "setup,args,message",
    [
        (None, ["--dataset", "spiral"], "--dataset 'spiral' is not a built-in family"),
        (None, ["--data", "missing.npz"], "no such file; expected a .npz file with arrays X (n, d) and y (n,)"),
        ("wrongkeys", [], "it must hold X (n, d) and y (n,)"),
        ("objects", [], "holds object arrays, which need pickle and are refused"),
        ("norms", [], "violates the assumption ||x_i|| <= 1"),
        ("labels01", [], "To convert 0/1 labels use y = 2 * y01 - 1"),
        (None, ["--delta", "0.5"], "delta == 0.5, must lie in (0, 0.333333)"),
    ],
)
def test_verify_user_errors_exit_2_without_traceback(tmp_path, capsys, setup, args, message):
    path = tmp_path / "bad.npz"
    if setup == "wrongkeys":
        np.savez(path, A=np.eye(2), b=np.ones(2))
    elif setup == "objects":
        np.savez(path, X=np.array([[1.0, 0.0]], dtype=object), y=np.array([1], dtype=object))
    elif setup == "norms":
        np.savez(path, X=np.array([[2.0, 0.0], [0.0, 1.0]]), y=np.array([1.0, -1.0]))
    elif setup == "labels01":
        np.savez(path, X=np.array([[1.0, 0.0], [0.0, 1.0]]), y=np.array([1, 0]))
    if setup:
        args = ["--data", str(path)]
    elif "missing.npz" in args:
        args = ["--data", str(tmp_path / "missing.npz")]
    status = main(["verify", *args, "--out", str(tmp_path / "o"), "--no-figures", "--quiet"])
    err = capsys.readouterr().err
    assert status == 2
    assert message in err and "Traceback" not in err
