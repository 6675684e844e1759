"""Table 1 end to end at a tiny size, and its command line."""

import json
import math
import struct

import numpy as np
import pytest

from ntkdistill.cli import main
from ntkdistill.datasets._base import ImageData
from ntkdistill.experiments.table1 import PAPER_TABLE1, Table1Result, run_table1

TINY = dict(widths=(4, 2), teacher_width=16, seeds=3, T=15, etas=(8.0, 64.0), radii=(1.0, np.inf),
            teacher_T=15, teacher_etas=(64.0,))


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


def test_rows_and_sweep_cover_every_setting(tiny):
    assert isinstance(tiny, Table1Result)
    assert [(r.variant, r.width) for r in tiny.rows] == [("full", 4), ("full", 2), ("reduced", 4), ("reduced", 2)]
    assert len(tiny.sweep) == 2 * 2 * 2  # variants x radii x widths
    assert {t.variant for t in tiny.teachers} == {"full", "reduced"}
    for r in tiny.rows:
        assert len(r.hard_test) == len(r.soft_test) == 3
        assert all(0 <= a <= 100 for a in r.hard_test + r.soft_test)


def test_reduced_split_is_the_full_split_without_1_7_4_9(tiny):
    full, reduced = tiny.teachers
    # 12 toy digits of each class split 60/20/20 within the class: round(7.2) = 7, round(2.4) = 2,
    # the rest 3; the reduced parts keep 6 of the 10 digits
    assert (full.n_train, full.n_val, full.n_test) == (70, 20, 30)
    assert (reduced.n_train, reduced.n_val, reduced.n_test) == (42, 12, 18)


def test_the_task_is_learned(tiny):
    # the toy task is separable with a margin; the teacher and the best students should beat chance clearly
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


def test_main_table_takes_the_best_validation_setting_of_the_sweep(tiny):
    for r in tiny.rows:
        sweep = [s for s in tiny.sweep if s.variant == r.variant and s.width == r.width]
        for kind in ("hard", "soft"):
            vals = [getattr(s, f"{kind}_val") for s in sweep]
            best = sweep[int(np.argmax(vals))]  # first maximum: the smaller B wins ties
            assert getattr(r, f"{kind}_val") == max(vals)
            assert getattr(r, f"{kind}_B") == best.B
            assert getattr(r, f"{kind}_eta") == getattr(best, f"{kind}_eta")
            assert getattr(r, f"{kind}_mean") == pytest.approx(getattr(best, f"{kind}_mean"))


def test_paper_numbers_are_attached(tiny):
    assert tiny.row("full", 4).paper_hard == PAPER_TABLE1[("full", 4)][1] == 88.84
    assert tiny.row("full", 2).paper_hard is None  # the paper has no width-2 student
    text = tiny.format_table()
    assert "88.84" in text and "95.62" in text and "inf" in text


def test_json_is_standard(tiny):
    d = tiny.to_dict()
    text = json.dumps(d, allow_nan=False)  # inf written as "inf", NaN as null
    back = json.loads(text)
    assert back["settings"]["radii"] == [1.0, "inf"]
    assert len(back["rows"]) == 4 and back["rows"][0]["paper_teacher"] == 98.34


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
    for ra, rb in zip(a.rows, b.rows):
        assert (ra.hard_B, ra.hard_eta, ra.soft_B, ra.soft_eta) == (rb.hard_B, rb.hard_eta, rb.soft_B, rb.soft_eta)
        assert (ra.hard_val, ra.soft_val) == (rb.hard_val, rb.soft_val)
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


def test_cli_on_idx_files(tmp_path, monkeypatch, capsys):
    import ntkdistill.cli.table1 as cli

    monkeypatch.setattr(cli, "QUICK", dict(TINY_CLI))
    for split, prefix, n, seed in (("train", "train", 8, 0), ("test", "t10k", 2, 1)):
        d = _toy_digits(n_per_digit=n, side=28, seed=seed)
        _write_idx(tmp_path / f"{prefix}-images-idx3-ubyte", np.round(d.images()[:, 0] * 255).astype(np.uint8), 0x803)
        _write_idx(tmp_path / f"{prefix}-labels-idx1-ubyte", d.labels.astype(np.uint8), 0x801)
    out = tmp_path / "out"
    status = main(["table1", "--mnist-dir", str(tmp_path), "--quick", "--seeds", "2", "--out", str(out), "--json"])
    assert status == 0
    printed = json.loads(capsys.readouterr().out)
    saved = json.loads((out / "table1.json").read_text())
    assert printed == saved
    assert saved["settings"]["seeds"] == 2 and "IDX files in" in saved["settings"]["source"]
    assert saved["teachers"][0]["n_test"] == 20  # the 20 digits of the t10k files
    assert "paper: teacher" in (out / "table1.txt").read_text()


TINY_CLI = dict(T=5, teacher_T=5, etas=(8.0,), teacher_etas=(8.0,), radii=(np.inf,))


def test_cli_missing_folder(tmp_path, capsys):
    status = main(["table1", "--mnist-dir", str(tmp_path / "nowhere"), "--out", str(tmp_path / "out")])
    assert status == 2
    err = capsys.readouterr().err
    assert "--mnist-dir" in err and "does not exist" in err and "Traceback" not in err


def test_cli_bad_seeds(tmp_path, capsys):
    assert main(["table1", "--seeds", "0", "--out", str(tmp_path)]) == 2
    assert "--seeds 0: must be >= 1" in capsys.readouterr().err
