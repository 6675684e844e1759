"""Results as data: to_dict (JSON round trip), to_frame, to_xarray / to_netcdf, short reprs."""

import json
import math
import os

import numpy as np
import pytest

import ntkdistill as nd
from ntkdistill import _results
from ntkdistill.experiments.figure1 import Figure1Result
from ntkdistill.requirement import RequirementStudy, WidthSearch, fit_loglog_slope
from ntkdistill.sweep import run_sweep
from ntkdistill.verify import PASS, Check, VerifyReport

REPR_MAX = 400


@pytest.fixture(scope="module")
def pgd_result():
    X = np.array([[1.0, 0.0], [0.6, 0.8], [0.0, 1.0]])
    return nd.pgd(X, np.array([0.7, 0.5, 0.2]), m=[2, 4], eta=1.0, T=6, seeds=3, rng=0, record_every=2)


@pytest.fixture(scope="module")
def margin_result():
    return nd.margin([[1.0, 0.0], [0.0, 1.0]], [1, -1], n_samples=500, rng=0)


def _results_of_every_kind(pgd_result, margin_result):
    X = np.eye(2)
    check = Check(
        "Lemma 3",
        PASS,
        "R <= 32 R_KL / gamma^2",
        {"m": np.float64(4.0), "target": np.inf},
        {"violations": np.int64(0), "slack": np.float64(0.25)},
    )
    fit = fit_loglog_slope([0.4, 0.2], [5.0, 20.0])  # two points: NaN interval
    records = [
        dict(noise=s, run=r, teacher_test=0.9, hard_test=0.8 - s / 10, soft_test=0.85, gap=0.05 + s / 10)
        for s in (0.0, 1.0)
        for r in range(2)
    ]
    return {
        "PGDResult": pgd_result,
        "MarginResult": margin_result,
        "TeacherLogits": nd.teacher_logits(X, margin_result.v, n_samples=50, rng=0),
        "TeacherLogits (running)": nd.teacher_logits(X, margin_result.v, n_samples=[10, 50], rng=0),
        "Lemma6Check": nd.lemma6_check(X, lambda Z: np.zeros_like(Z), np.zeros(2), *nd.init_symmetric(4, 2, rng=0)),
        "Theorem2Requirement": nd.theorem2([0.02, 0.05], 10, 0.1),
        "Corollary4Requirement": nd.corollary4(0.2, 0.1, 10, 0.1),
        "Proposition5Requirement": nd.proposition5(0.2, 0.05, 10, 0.1),
        "Comparison": nd.neurons_required([0.1, 0.2], 0.1, 100, 0.01),
        "Check": check,
        "VerifyReport": VerifyReport({"dataset": "demo"}, {"n": 2, "d": 2}, [check, check]),
        "WidthSearch": WidthSearch(6, {4: 0.5, 6: 0.1}, {4: [0.5, 0.5], 6: [0.1, 0.0]}, eps=0.1),
        "SlopeFit": fit,
        "RequirementStudy": RequirementStudy(_study_summary()),
        "Figure1Result": Figure1Result(records, (0.0, 1.0), 2, {"data": "toy"}),
    }


@pytest.fixture(scope="module")
def every(pgd_result, margin_result):
    return _results_of_every_kind(pgd_result, margin_result)


def test_to_dict_is_json_and_round_trips(every):
    for name, res in every.items():
        d = res.to_dict()
        text = json.dumps(d, allow_nan=False)
        assert json.loads(text) == d, name


def test_counts_are_ints(every, pgd_result):
    comp = every["Comparison"].to_dict()
    assert all(type(v) is int for v in comp["soft"]["m"] + comp["hard"]["m"] + comp["soft"]["T"])
    assert type(every["Theorem2Requirement"].to_dict()["n"][0]) is int
    d = pgd_result.to_dict()
    assert all(type(w) is int for w in d["widths"]) and type(d["T"]) is int
    assert "W" not in d and len(pgd_result.to_dict(weights=True)["W"]) == len(pgd_result)
    assert d["seeds"][0] == {"entropy": 0, "spawn_key": [0]}


def test_reprs_are_short(every):
    for name, res in every.items():
        text = repr(res)
        assert len(text) <= REPR_MAX * 2, (name, len(text))
        assert "array(" not in text and "np.float64" not in text, (name, text)
    comp = repr(every["Comparison"])
    assert "m=[38389150, 9597288]" in comp and "38389150.0" not in comp


def test_pgd_repr_has_no_weights():
    X = np.random.default_rng(0).random((5, 3))
    res = nd.pgd(X, np.full(5, 0.6), m=64, eta=1.0, T=2, seeds=6, rng=0)
    assert len(repr(res)) < 250 and "W=" not in repr(res)


def test_to_frame(every, pgd_result):
    pytest.importorskip("pandas")
    for name, res in every.items():
        frame = res.to_frame()
        assert len(frame) > 0, name
    hist = pgd_result.to_frame()
    assert list(hist.columns) == ["network", "width", "seed", "iteration", "risk", "error"]
    assert len(hist) == len(pgd_result) * len(pgd_result.iterations)
    row = hist[(hist.width == 4) & (hist.seed == 1) & (hist.iteration == 6)]
    k = 4  # width 4, seed 1: networks are width-major with 3 seeds
    assert float(row.risk.iloc[0]) == pgd_result.risk[k, -1]
    nets = pgd_result.to_frame("networks")
    np.testing.assert_array_equal(nets.final_error.to_numpy(), pgd_result.final_error)
    comp = every["Comparison"].to_frame()
    assert comp["soft_m"].tolist() == [38389150, 9597288] and comp["soft_m"].dtype.kind == "i"
    running = every["TeacherLogits (running)"].to_frame()
    assert running.n_samples.tolist() == [10, 10, 50, 50]
    rep = every["VerifyReport"].to_frame()
    assert set(rep.columns) == {"check", "status", "kind", "quantity", "value"} and len(rep) == 8
    assert every["Figure1Result"].to_frame("summary").gap_mean.tolist() == pytest.approx([0.05, 0.15])
    with pytest.raises(ValueError, match="what must be"):
        pgd_result.to_frame("weights")


def test_to_frame_names_the_extra_without_pandas(monkeypatch, pgd_result):
    import builtins

    real = builtins.__import__

    def no_pandas(name, *args, **kwargs):
        if name == "pandas":
            raise ImportError("No module named 'pandas'")
        return real(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_pandas)
    monkeypatch.delitem(__import__("sys").modules, "pandas", raising=False)
    with pytest.raises(ImportError, match=r"ntkdistill\[frames\]"):
        pgd_result.to_frame()


def test_pgd_to_xarray_and_netcdf(pgd_result, tmp_path):
    xr = pytest.importorskip("xarray")
    pytest.importorskip("scipy.io")
    ds = pgd_result.to_xarray()
    assert ds.risk.dims == ("width", "seed", "iteration")
    assert ds.width.values.tolist() == [2, 4] and ds.iteration.values.tolist() == [0, 2, 4, 6]
    np.testing.assert_array_equal(ds.risk.sel(width=4, seed=2).values, pgd_result.risk[5])
    path = os.path.join(tmp_path, "pgd.nc")
    pgd_result.to_netcdf(path)
    with xr.open_dataset(path, engine="scipy") as back:
        np.testing.assert_array_equal(back.risk.values, ds.risk.values)
        assert back.attrs["loss"] == "kl" and math.isinf(back.attrs["B"])


def _study_summary():
    """A requirement study's summary (the schema of docs/sweeps.md) with one level, censored at T = 10."""
    side = {"m_star": {"10": None, "100": 4}, "censored": False, "lower_bound": 64}
    return {
        "config": {"T_grid": [10, 100]},
        "conclusions": ["a generated line"],
        "levels": [
            {"family": "pairs", "level": 3, "gamma": 0.14, "soft": side, "hard": dict(side, m_star={"10": 2, "100": 2})}
        ],
    }


def test_requirement_study_to_xarray(every):
    pytest.importorskip("xarray")
    ds = every["RequirementStudy"].to_xarray()
    assert ds.m_star.dims == ("family", "level", "label", "T")
    assert ds.m_star.sel(family="pairs", level=3, label="soft", T=100).item() == 4
    assert np.isnan(ds.m_star.sel(family="pairs", level=3, label="soft", T=10).item())


def _job(config, seed):
    return {
        "err": config["width"] / 10 + config["seed"] + np.random.default_rng(seed).random() / 100,
        "curve": [1.0, 2.0],
    }


def test_sweep_results_as_data(tmp_path):
    configs = [{"width": w, "seed": s} for w in (2, 4) for s in range(3)]
    res = run_sweep(_job, configs, results_path=os.path.join(tmp_path, "r.jsonl"), rng=0, progress=False)
    again = run_sweep(_job, configs, results_path=os.path.join(tmp_path, "r.jsonl"), rng=0, progress=False)
    assert res == again and isinstance(res, list) and json.loads(json.dumps(res)) == list(res)
    assert json.loads(json.dumps(res.to_dict()))["configs"] == configs
    assert len(repr(res)) < REPR_MAX
    pytest.importorskip("pandas")
    frame = res.to_frame()
    assert frame[["width", "seed"]].to_dict("records") == configs
    xr = pytest.importorskip("xarray")
    ds = res.to_xarray()
    assert ds.err.dims == ("width", "seed") and "curve" not in ds
    assert float(ds.err.sel(width=4, seed=1)) == res[4]["err"]
    path = os.path.join(tmp_path, "sweep.nc")
    res.to_netcdf(path)
    with xr.open_dataset(path, engine="scipy") as back:
        np.testing.assert_array_equal(back.err.values, ds.err.values)


def test_jsonable_edge_cases():
    out = _results.jsonable({1: np.float64(np.nan), "x": (np.int32(3), np.bool_(True)), "s": np.str_("a")})
    assert out == {"1": None, "x": [3, True], "s": "a"}
    assert _results.jsonable(np.array([[1e300, -np.inf]])) == [[1e300, "-inf"]]


def test_composition_takes_results_or_names_the_field(margin_result):
    X = np.eye(2)
    tl = nd.teacher_logits(X, margin_result, n_samples=100, rng=0)
    np.testing.assert_array_equal(nd.soft_labels(tl), nd.soft_labels(tl.z))
    np.testing.assert_array_equal(nd.soft_labels(margin_result), nd.soft_labels(margin_result.z))
    with pytest.raises(TypeError, match=r"targets=soft_labels\(result\.z\)"):
        nd.pgd(X, tl, m=2, eta=1.0, T=1)
    with pytest.raises(TypeError, match=r"gamma=result\.gamma; its fields are gamma, lower, upper"):
        nd.neurons_required(margin_result, 0.1, 10, 0.1)
    with pytest.raises(TypeError, match=r"labels must be an array of labels, got a MarginResult"):
        nd.pgd(X, nd.soft_labels(tl), m=2, eta=1.0, T=1, labels=margin_result)
    with pytest.raises(TypeError, match=r"X must be a 2-D array, got a TeacherLogits"):
        nd.margin(tl, [1, -1])


def test_readme_results_section_runs():
    pytest.importorskip("pandas")
    pytest.importorskip("xarray")
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    readme = (root / "README.md").read_text()
    section = readme.split("## Results as data", 1)[1].split("\n## ", 1)[0]
    code = section.split("```py\n", 1)[1].split("```", 1)[0]
    assert section in (root / "docs" / "index.md").read_text()  # the same text on the site
    namespace = {}
    exec(compile(code, "README.md", "exec"), namespace)
    assert repr(namespace["res"]).startswith("PGDResult(6 networks: widths [4, 8] x 3 seeds")
    assert list(namespace["curves"].columns) == ["network", "width", "seed", "iteration", "risk", "error"]
    assert namespace["ds"].risk.dims == ("width", "seed", "iteration")
    assert nd.neurons_required(0.1, 0.1, 100, 0.01).to_dict()["soft"]["m"] == 38389150
