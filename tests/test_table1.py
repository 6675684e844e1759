"""Table 1 end to end at a tiny size, its pieces (temperature, selection, teacher, checkpoints), and its command line."""

import json
import re
import math
import struct

import numpy as np
import pytest

import ntkdistill.experiments.table1 as t1
from ntkdistill.cli import main
from ntkdistill.datasets._base import ImageData
from ntkdistill.experiments.table1 import (
    PAPER_TABLE1,
    UNSETTLED_CHANGE,
    Table1Result,
    _train_checkpoints,
    conclusions,
    run_table1,
    select_config,
    soft_labels,
    train_teacher,
)
from ntkdistill.losses import kl_loss, kl_risk, sigmoid
from ntkdistill.pgd import pgd
from ntkdistill.student import init_symmetric

TINY = dict(
    widths=(4, 2),
    teacher_width=16,
    seeds=3,
    steps=(10, 20),
    etas=(8.0, 64.0),
    radii=(1.0, np.inf),
    taus=(1.0, 4.0),
    teacher_grid={"layers": ("both",), "lr": (1e-2,)},
    teacher_max_epochs=10,
)


def _toy_digits(n_per_digit=12, side=4, seed=0):
    """Images whose upper half is bright for digits above 4, plus noise: a learnable binary task."""
    gen = np.random.default_rng(seed)
    digits = np.repeat(np.arange(10), n_per_digit)
    p = side * side
    signal = (digits[:, None] > 4) * (np.arange(p) < p // 2) + (digits[:, None] <= 4) * (np.arange(p) >= p // 2)
    X = np.clip(0.5 * signal + 0.5 * gen.random((digits.size, p)), 0, 1)
    return ImageData(X, digits, (1, side, side), "toy digits", "train")


@pytest.fixture(scope="module")
def tiny():
    return run_table1(_toy_digits(), rng=0, **TINY)


# ------------------------------------------------------------------------------ temperature


def test_soft_labels_against_the_direct_formula():
    z = np.array([-30.0, -2.5, -0.1, 0.0, 0.7, 4.0, 25.0])
    for tau in (0.5, 1.0, 2.0, 8.0):
        assert np.allclose(soft_labels(z, tau), 1.0 / (1.0 + np.exp(-z / tau)), rtol=1e-14, atol=0)
    # tau = 1 is the paper's p = mu(z), the soft labels before the temperature existed
    assert np.array_equal(soft_labels(z, 1.0), sigmoid(z))
    # stable at any magnitude, and softer with tau
    big = soft_labels(np.array([-1e6, 1e6]), 3.0)
    assert big.tolist() == [0.0, 1.0] and np.all(np.isfinite(big))
    assert np.all(np.abs(soft_labels(z, 8.0) - 0.5) <= np.abs(soft_labels(z, 2.0) - 0.5))
    with pytest.raises(ValueError, match="tau"):
        soft_labels(z, 0.0)


def test_temperature_in_the_loss_against_the_direct_formula():
    # the KL loss the soft student minimises, at targets mu(z / tau), written out
    gen = np.random.default_rng(0)
    z, f = 3 * gen.standard_normal(50), 2 * gen.standard_normal(50)
    for tau in (1.0, 4.0):
        p = 1.0 / (1.0 + np.exp(-z / tau))
        q = 1.0 / (1.0 + np.exp(-f))
        direct = p * np.log(p / q) + (1 - p) * np.log((1 - p) / (1 - q))
        assert np.allclose(kl_loss(soft_labels(z, tau), f), direct, rtol=1e-10, atol=1e-13)


def test_every_tau_of_the_grid_is_run_and_reported(tiny):
    assert {r.tau for r in tiny.sweep} == {1.0, 4.0}
    assert all(r.soft_tau in (1.0, 4.0) for r in tiny.rows)
    for t in tiny.teachers:
        assert set(t.soft_fraction) == {"1", "4"}
        assert t.soft_fraction["4"] >= t.soft_fraction["1"]  # softer labels at the higher temperature


# ------------------------------------------------------------------------------ selection


def test_select_config_one_standard_error_rule():
    v = np.array([[90.0, 91.0], [90.4, 91.4], [80.0, 80.0]])  # best row 1, se 0.5: row 0 is within
    assert select_config(v) == 0 and select_config(v, rule="max") == 1
    v = np.array([[89.0, 90.0], [90.4, 91.4]])  # row 0 is 1.4 below, more than one se
    assert select_config(v) == 1
    assert select_config(np.array([[1.0], [2.0]])) == 1  # one seed: no se, the best
    with pytest.raises(ValueError, match="rule"):
        select_config(v, rule="min")


def test_one_selection_code_path_for_both_label_types(monkeypatch):
    # every choice goes through select_config: forced to the first (simplest) configuration, both
    # sides pick the smallest B, steps, step size (and tau)
    calls = []

    def first(val_acc, rule="one-se"):
        calls.append(np.asarray(val_acc).shape)
        return 0

    monkeypatch.setattr(t1, "select_config", first)
    res = run_table1(_toy_digits(), rng=0, variants=("full",), **TINY)
    for r in res.rows:
        assert (r.hard_B, r.hard_T, r.hard_eta) == (1.0, 10, 8.0)
        assert (r.soft_B, r.soft_T, r.soft_eta, r.soft_tau) == (1.0, 10, 8.0, 1.0)
    for r in res.sweep:
        assert (r.hard_T, r.hard_eta, r.soft_T, r.soft_eta) == (10, 8.0, 10, 8.0)
    # the hard side's main choice over B x steps x etas, the soft side's over that x taus
    assert (2 * 2 * 2, 3) in calls and (2 * 2 * 2 * 2, 3) in calls


def test_main_table_takes_the_rule_over_the_whole_grid(tiny):
    for r in tiny.rows:
        sweep = [s for s in tiny.sweep if s.variant == r.variant and s.width == r.width]
        # the chosen configuration's validation accuracy is within one se of the best of the grid
        assert r.hard_val <= max(s.hard_val for s in sweep) + 1e-9
        assert r.soft_val <= max(s.soft_val for s in sweep) + 1e-9
        assert r.soft_share == tiny.teachers[0 if r.variant == "full" else 1].soft_fraction[format(r.soft_tau, "g")]


# ------------------------------------------------------------------------------ training pieces


def test_checkpoints_equal_separate_pgd_runs():
    gen = np.random.default_rng(0)
    X = gen.standard_normal((40, 6))
    X /= 1.2 * np.linalg.norm(X, axis=1, keepdims=True)
    y = np.sign(X[:, 0] + 0.1)
    p = sigmoid(3 * X[:, 1])
    radii, widths = [0.5, np.inf], [4, 2]
    seeds = [np.random.SeedSequence(i) for i in range(2)]
    inits = [init_symmetric(w, 6, rng=np.random.default_rng(s)) for _ in radii for w in widths for s in seeds]
    for loss, tgt in (("logistic", y), ("kl", p)):
        out, _change = _train_checkpoints(X, tgt, y, inits, np.repeat(radii, 4), loss, 4.0, [3, 12], [(X, y)])
        for c, T in enumerate((3, 12)):
            ref = np.concatenate(
                [
                    100
                    * (
                        1
                        - pgd(
                            X, tgt, m=widths, eta=4.0, T=T, B=B, loss=loss, seeds=seeds, labels=y, record_every=None
                        ).error_on(X, y)
                    )
                    for B in radii
                ]
            )
            # accuracies are counts / n: equal up to the rounding of the percentage's arithmetic
            assert np.allclose(out[0, c], ref, rtol=0, atol=1e-9), (loss, T)


def _near_half_problem():
    gen = np.random.default_rng(0)
    X = gen.standard_normal((40, 6))
    X /= 1.2 * np.linalg.norm(X, axis=1, keepdims=True)
    y = np.sign(X[:, 0] + 0.1)
    seeds = [np.random.SeedSequence(i) for i in range(3)]
    inits = [init_symmetric(4, 6, rng=np.random.default_rng(s)) for s in seeds]
    return X, y, sigmoid(0.3 * X[:, 0]), seeds, inits


def test_last_step_risk_change_equals_two_pgd_runs():
    X, y, p, seeds, inits = _near_half_problem()
    _out, change = _train_checkpoints(X, p, y, inits, np.repeat(2.0, 3), "kl", 16.0, [50, 200], [(X, y)])
    runs = [pgd(X, p, m=4, eta=16.0, T=T, B=2.0, seeds=seeds, record_every=None) for T in (199, 200)]
    before, now = (np.array([kl_risk(p, r.predict(X)[k]) for k in range(3)]) for r in runs)
    assert np.allclose(change, np.abs(now - before) / before, rtol=1e-9, atol=1e-15)


def test_a_step_above_the_stable_range_is_flagged_unsettled():
    # soft labels near 1/2 keep the logits where the KL loss is most curved: a step of 16
    # converges (change below 0.1% per step), one of 1024 alternates between two points
    X, y, p, _seeds, inits = _near_half_problem()
    _out, small = _train_checkpoints(X, p, y, inits, np.repeat(2.0, 3), "kl", 16.0, [50, 200], [(X, y)])
    _out, large = _train_checkpoints(X, p, y, inits, np.repeat(2.0, 3), "kl", 1024.0, [50, 200], [(X, y)])
    assert np.all(small < 1e-3) and np.all(small <= UNSETTLED_CHANGE)
    assert np.all(large > 10 * UNSETTLED_CHANGE)


def test_stability_is_recorded_for_every_configuration(tiny):
    rec = tiny.to_dict()
    s = tiny.settings
    n = len(s["variants"]) * (1 + len(s["taus"])) * len(s["radii"]) * len(s["etas"]) * len(s["widths"])
    assert len(rec["stability"]) == n
    assert all(0 <= r["unsettled"] <= r["seeds"] == s["seeds"] for r in rec["stability"])
    pytest.importorskip("pandas")
    frame = tiny.to_frame("stability")
    assert len(frame) == n and set(frame.label) == {"hard", "soft"}


def test_stability_conclusion_counts_the_chosen_unsettled_configurations(tiny):
    rec = json.loads(json.dumps(tiny.to_dict()))
    row = rec["rows"][0]
    for r in rec["stability"]:
        r["unsettled"] = 0
        if r["variant"] == row["variant"] and r["label"] == "soft" and r["width"] == row["width"]:
            if r["tau"] == row["soft_tau"] and r["B"] == row["soft_B"] and r["eta"] == row["soft_eta"]:
                r["unsettled"] = r["seeds"]
    lines = [ln for ln in conclusions(rec) if ln.startswith(f"Stability, {row['variant']} data")]
    assert len(lines) == 1
    assert lines[0].startswith(f"Stability, {row['variant']} data: 1 of ")
    assert "validation chose one for 1 of the main table's" in lines[0]
    others = [ln for ln in conclusions(rec) if ln.startswith("Stability") and ln != lines[0]]
    assert all(": 0 of " in ln and "[none]" in ln for ln in others)
    del rec["stability"]
    assert not any(ln.startswith("Stability") for ln in conclusions(rec))


def test_teacher_stops_early_and_keeps_its_best_epoch():
    gen = np.random.default_rng(0)
    X = gen.standard_normal((200, 5))
    X /= np.linalg.norm(X, axis=1, keepdims=True)
    y = np.where(X[:, 0] + 0.3 * X[:, 1] > 0, 1.0, -1.0)
    fit = train_teacher(
        X[:150], y[:150], X[150:], y[150:], width=32, lr=1e-2, batch=16, max_epochs=200, patience=3, rng=1
    )
    assert fit["epochs"] < 200 and fit["epochs"] - fit["best_epoch"] == 3
    f = np.maximum(X[150:] @ fit["W"].T, 0) @ fit["a"] / math.sqrt(32)
    assert 100 * np.mean(y[150:] * f > 0) == fit["val_acc"] > 90
    hidden = train_teacher(X[:150], y[:150], X[150:], y[150:], width=32, layers="hidden", lr=1e-2, max_epochs=5, rng=1)
    a0 = init_symmetric(32, 5, rng=np.random.default_rng(1))[1]
    assert np.array_equal(hidden["a"], a0)  # only the hidden layer trained
    with pytest.raises(ValueError, match="layers"):
        train_teacher(X, y, X, y, layers="output")


# ------------------------------------------------------------------------------ end to end


def test_rows_and_sweep_cover_every_setting(tiny):
    assert isinstance(tiny, Table1Result)
    assert [(r.variant, r.width) for r in tiny.rows] == [("full", 4), ("full", 2), ("reduced", 4), ("reduced", 2)]
    assert len(tiny.sweep) == 2 * 2 * 2 * 2  # variants x radii x taus x widths
    assert {t.variant for t in tiny.teachers} == {"full", "reduced"}
    for r in tiny.rows:
        assert len(r.hard_test) == len(r.soft_test) == 3
        assert all(0 <= a <= 100 for a in r.hard_test + r.soft_test)
        assert r.hard_T in (10, 20) and r.matched_T in (10, 20)


def test_reduced_split_is_the_full_split_without_1_7_4_9(tiny):
    full, reduced = tiny.teachers
    assert (full.n_train, full.n_val, full.n_test) == (70, 20, 30)
    assert (reduced.n_train, reduced.n_val, reduced.n_test) == (42, 12, 18)
    assert full.n_student_train == full.n_train


def test_student_subsample_gives_the_teacher_more_data():
    res = run_table1(_toy_digits(), rng=0, variants=("full",), student_subsample=40, **TINY)
    t = res.teachers[0]
    assert t.n_train == 70 and t.n_student_train == 40


def test_the_task_is_learned(tiny):
    assert all(t.val_acc > 80 for t in tiny.teachers)
    assert max(r.hard_mean for r in tiny.rows) > 80 and max(r.soft_mean for r in tiny.rows) > 80


def test_summaries_match_the_per_seed_accuracies(tiny):
    for r in tiny.rows:
        hard, soft = np.array(r.hard_test), np.array(r.soft_test)
        assert r.hard_mean == pytest.approx(hard.mean()) and r.hard_std == pytest.approx(hard.std(ddof=1))
        assert r.soft_mean == pytest.approx(soft.mean()) and r.soft_std == pytest.approx(soft.std(ddof=1))
        gap = soft - hard  # paired by seed
        assert r.gap_mean == pytest.approx(gap.mean())
        assert r.gap_se == pytest.approx(gap.std(ddof=1) / math.sqrt(gap.size))


def test_conclusions_are_computed_from_the_record(tiny):
    rec = tiny.to_dict()
    lines = conclusions(rec)
    assert lines == tiny.conclusions() and all(line in tiny.format_table() for line in lines)
    rec["rows"][0].update(gap_mean=5.0, gap_se=0.5)
    assert "m = 4: +5.00 (se 0.50, win" in conclusions(rec)[0]
    rec["rows"][0].update(gap_mean=-5.0)
    assert "m = 4: -5.00 (se 0.50, loss" in conclusions(rec)[0]
    for s in rec["sweep"]:
        s.update(gap_mean=1.0, gap_se=0.1)
    assert "win in 8 of 8 cells" in " ".join(conclusions(rec))
    # one loss: its cell is named with its width, and the names list every win's width (7 in all)
    lost = rec["sweep"][0]
    lost.update(gap_mean=-1.0)
    (line,) = [ln for ln in conclusions(rec) if ln.startswith(f"Sensitivity grid, {lost['variant']} data")]
    tau, B = f"{lost['tau']:g}", ("inf" if lost["B"] in ("inf", float("inf")) else f"{lost['B']:g}")
    assert f"and lose in 1 [tau {tau}/B {B} (m {lost['width']})]" in line
    named = line.split("] and lose")[0].split("[", 1)[1]
    widths = sum(len(g.split(", ")) for g in re.findall(r"\(m ([0-9, ]+)\)", named))
    wins = sum(1 for s in rec["sweep"] if s["variant"] == lost["variant"]) - 1
    assert f"win in {wins} of" in line and widths == wins


def test_paper_numbers_are_attached(tiny):
    assert tiny.row("full", 4).paper_hard == PAPER_TABLE1[("full", 4)][1] == 88.84
    assert tiny.row("full", 2).paper_hard is None
    text = tiny.format_table()
    assert "88.84" in text and "95.62" in text and "inf" in text


def test_json_is_standard(tiny):
    back = json.loads(json.dumps(tiny.to_dict(), allow_nan=False))
    assert back["settings"]["radii"] == [1.0, "inf"] and back["settings"]["taus"] == [1.0, 4.0]
    assert len(back["rows"]) == 4 and back["rows"][0]["paper_teacher"] == 98.34


def test_plot_gap_vs_B(tiny, tmp_path):
    pytest.importorskip("matplotlib")
    import matplotlib

    matplotlib.use("Agg")
    ax = t1.plot_gap_vs_B(tiny, "full", 4, path=tmp_path / "g.png")
    assert len(ax.lines) >= 2 and (tmp_path / "g.png").exists()


def test_reproducible_from_the_seed():
    a = run_table1(_toy_digits(), rng=3, variants=("reduced",), **TINY)
    b = run_table1(_toy_digits(), rng=3, variants=("reduced",), **TINY)
    assert [r.hard_test for r in a.rows] == [r.hard_test for r in b.rows]
    assert [r.soft_test for r in a.rows] == [r.soft_test for r in b.rows]


def test_test_labels_never_influence_the_choices():
    data = _toy_digits(seed=1)
    test = _toy_digits(n_per_digit=3, seed=2)
    gen = np.random.default_rng(0)
    scrambled = ImageData(test.X, gen.permutation(test.labels), test.shape, "scrambled", "test")
    kw = dict(TINY, variants=("full",), rng=5)
    a = run_table1(data, test_data=test, **kw)
    b = run_table1(data, test_data=scrambled, **kw)
    keys = (
        "hard_B",
        "hard_eta",
        "hard_T",
        "soft_B",
        "soft_eta",
        "soft_T",
        "soft_tau",
        "matched_B",
        "matched_T",
        "matched_tau",
        "hard_val",
        "soft_val",
    )
    for ra, rb in zip(a.rows, b.rows):
        assert [getattr(ra, k) for k in keys] == [getattr(rb, k) for k in keys]
    assert a.teachers[0].n_test == 30 and a.teachers[0].val_acc == b.teachers[0].val_acc


@pytest.mark.parametrize(
    "kwargs, exc, match",
    [
        (dict(variants=("full", "half")), ValueError, "variants =="),
        (dict(widths=(4, 3)), ValueError, "widths == 3, must be even"),
        (dict(seeds=0), ValueError, "seeds == 0, must be >= 1"),
        (dict(etas=()), ValueError, "etas must not be empty"),
        (dict(etas=(1.0, -1.0)), ValueError, r"etas\[1\] == -1"),
        (dict(radii=(1.0, 1.0)), ValueError, "repeated"),
        (dict(taus=(1.0, 0.0)), ValueError, r"taus\[1\] == 0"),
        (dict(steps=(10, 2.5)), TypeError, r"steps\[1\]"),
        (dict(teacher_grid={"lr": (0.1,), "momentum": (0.9,)}), ValueError, "unknown keys"),
        (dict(teacher_grid={"layers": ("output",)}), ValueError, "teacher_grid\\['layers'\\]"),
        (dict(selection="best"), ValueError, "selection =="),
        (dict(student_subsample=3), ValueError, "student_subsample == 3"),
        (dict(fractions=(0.5, 0.0, 0.5)), ValueError, "must be non-empty"),
        (dict(center="yes"), TypeError, "center must be True or False"),
        (dict(rng="seed"), TypeError, "rng must be"),
        (dict(log=3), TypeError, "log must be a callable"),
    ],
)
def test_bad_arguments_fail_before_work(kwargs, exc, match):
    with pytest.raises(exc, match=match):
        run_table1(_toy_digits(n_per_digit=2), **kwargs)


def test_data_must_be_image_data():
    with pytest.raises(TypeError, match="data must be an ImageData"):
        run_table1(np.zeros((10, 4)))


def test_too_little_data_is_reported():
    with pytest.raises(ValueError, match=r"the val part of the 'full' data has 0 digit\(s\); give more data"):
        run_table1(_toy_digits(n_per_digit=1), **TINY)


# ------------------------------------------------------------------------------ command line


def _write_idx(path, arr, magic):
    path.write_bytes(struct.pack(">I", magic) + struct.pack(f">{arr.ndim}I", *arr.shape) + arr.tobytes())


TINY_CLI = dict(
    steps=(5,),
    etas=(8.0,),
    radii=(np.inf,),
    taus=(1.0, 2.0),
    teacher_width=8,
    teacher_grid={"layers": ("both",), "lr": (1e-2,)},
    teacher_max_epochs=3,
)


def test_cli_on_idx_files(tmp_path, monkeypatch, capsys):
    import ntkdistill.cli.table1 as cli

    monkeypatch.setitem(cli.PRESETS, "quick", dict(TINY_CLI))
    for split, prefix, n, seed in (("train", "train", 8, 0), ("test", "t10k", 2, 1)):
        d = _toy_digits(n_per_digit=n, side=28, seed=seed)
        _write_idx(tmp_path / f"{prefix}-images-idx3-ubyte", np.round(d.images()[:, 0] * 255).astype(np.uint8), 0x803)
        _write_idx(tmp_path / f"{prefix}-labels-idx1-ubyte", d.labels.astype(np.uint8), 0x801)
    out = tmp_path / "out"
    status = main(
        [
            "table1",
            "--mnist-dir",
            str(tmp_path),
            "--quick",
            "--seeds",
            "2",
            "--widths",
            "4,2",
            "--out",
            str(out),
            "--json",
        ]
    )
    assert status == 0
    printed = json.loads(capsys.readouterr().out)
    saved = json.loads((out / "table1.json").read_text())
    assert printed == saved
    assert saved["settings"]["seeds"] == 2 and "IDX files in" in saved["settings"]["source"]
    assert saved["settings"]["taus"] == [1.0, 2.0] and saved["settings"]["widths"] == [4, 2]
    assert saved["teachers"][0]["n_test"] == 20  # the 20 digits of the t10k files
    assert saved["machine"]["cpu_count"] >= 1
    assert "Conclusions (computed" in (out / "table1.txt").read_text()


def test_cli_missing_folder(tmp_path, capsys):
    status = main(["table1", "--mnist-dir", str(tmp_path / "nowhere"), "--out", str(tmp_path / "out")])
    assert status == 2
    err = capsys.readouterr().err
    assert "--mnist-dir" in err and "does not exist" in err and "Traceback" not in err


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--seeds", "0"], "--seeds 0: must be >= 1"),
        (["--student-subsample", "2"], "--student-subsample 2: must be >= 10"),
    ],
)
def test_cli_bad_values(tmp_path, capsys, argv, message):
    assert main(["table1", *argv, "--out", str(tmp_path)]) == 2
    assert message in capsys.readouterr().err


def test_cli_bad_list(tmp_path, capsys):
    with pytest.raises(SystemExit):
        main(["table1", "--taus", "1,two", "--out", str(tmp_path)])
    assert "--taus" in capsys.readouterr().err
