"""Theorem checks: the verdict statistics, a case that produces each verdict, refusals and the report.

Every training check here runs on the antipodal pair (n = 2, gamma = 1/2 exactly) at tiny cost:
Proposition 5 at beta = 0.65 prescribes m = 16964, T = 158 (about 2 s for 21 seeds on 2 cores).
"""

import dataclasses
import json
import math

import numpy as np
import pytest

import ntkdistill as nd
from ntkdistill import bounds, verify
from ntkdistill.datasets.synthetic import antipodal
from ntkdistill.student import init_symmetric

ALPHA = 0.01


def _pair():
    ds = antipodal(5)
    return ds.X, ds.y, nd.sigmoid(ds.z)


# ------------------------------------------------------------------ the statistics, derived again


def _reject_max(N, p0):
    """Largest k with P(Bin(N, p0) <= k) < alpha, summed from the pmf (-1 if none)."""
    cdf, best = 0.0, -1
    for k in range(N + 1):
        cdf += math.comb(N, k) * p0**k * (1 - p0) ** (N - k)
        if cdf < ALPHA:
            best = k
    return best


def _power(N, p0):
    k = _reject_max(N, p0)
    p1 = p0 / 2
    return sum(math.comb(N, j) * p1**j * (1 - p1) ** (N - j) for j in range(k + 1)) if k >= 0 else 0.0


@pytest.mark.parametrize("delta,promise", [(0.1, "training"), (0.1, "lemma6"), (0.05, "training")])
def test_default_seeds_are_the_smallest_with_power_08(delta, promise):
    p0 = 1 - 3 * delta if promise == "training" else 1 - delta
    N = next(N for N in range(1, 500) if _power(N, p0) >= 0.8)
    assert verify.seeds_for_power(p0) == N
    assert all(_power(k, p0) < 0.8 for k in range(1, N))
    assert verify.detection_power(N, p0) == pytest.approx(_power(N, p0), rel=1e-9)


def test_default_seeds_of_run_verify_and_the_checks():
    # the training checks default to seeds_for_power(1 - 3 delta): 21 at delta = 0.1
    X, y, p = _pair()
    chk, _ = verify.check_theorem2(X, p, beta=0.02, delta=0.1, rng=0, budget=1e-9, empirical=False)
    assert chk.status == "REFUSED" and chk.measured["seeds"] == verify.seeds_for_power(0.7) == 21


def test_binomial_status_pass_needs_power():
    # the old rule passed 1 of 5 seeds at promise 0.7 (p = 0.031): now never a PASS with 5 seeds
    status, pval, (lo, hi) = verify.binomial_status(1, 5, 0.7)
    assert pval == pytest.approx(5 * 0.7 * 0.3**4 + 0.3**5) and status == "INCONCLUSIVE"
    assert {verify.binomial_status(k, 5, 0.7)[0] for k in range(1, 6)} == {"INCONCLUSIVE"}
    assert verify.binomial_status(0, 5, 0.7)[0] == "FAIL"  # p = 0.0024 < alpha: a rejection is valid at any N
    # with 21 seeds: all meeting is a PASS, 9 of 21 a FAIL (p < 0.01), and the interval is Clopper-Pearson 95%
    assert verify.binomial_status(21, 21, 0.7)[0] == "PASS"
    assert verify.binomial_status(9, 21, 0.7)[0] == "FAIL"
    _, _, (lo, hi) = verify.binomial_status(21, 21, 0.7)
    assert hi == 1.0 and lo == pytest.approx(0.025 ** (1 / 21), rel=1e-9)
    with pytest.raises(ValueError, match="successes == 6, must be at most trials == 5"):
        verify.binomial_status(6, 5, 0.7)


# ------------------------------------------------------------------ each verdict, produced


def _p5(**kw):
    X, y, _ = _pair()
    return verify.check_proposition5(X, y, gamma=0.5, beta=0.65, delta=0.1, rng=0, budget=600, **kw)


def test_pass_at_the_prescription():
    chk, res = _p5()
    b = bounds.proposition5(0.5, 0.65, 2, 0.1)
    assert chk.status == "PASS", chk.note
    assert chk.predicted["m"] == int(b.m) == chk.measured["m_run"] and chk.measured["T_run"] == int(b.T)
    me = chk.measured
    assert me["seeds"] == 21 and me["count_meeting_target"] == 21 and me["power_at_half_promise"] >= 0.8
    assert me["fraction_ci95"][0] < 1 and me["slack"] > 1
    lo, hi = me["slack_ci95"]
    assert lo <= me["slack"] <= hi
    assert np.all(res.avg_risk <= 0.65) and me["max_row_distance_times_sqrt_m"] <= float(b.B) * (1 + 1e-9)


def test_inconclusive_with_too_few_seeds():
    chk, _ = _p5(seeds=3)
    assert chk.measured["count_meeting_target"] == 3 and chk.status == "INCONCLUSIVE"
    assert "--seeds 21" in chk.note


def test_fail_with_a_planted_broken_step(monkeypatch):
    # the planted fault: a step a million times too small, so the weights barely move from W(0)
    real = bounds.proposition5

    def broken(*a, **k):
        b = real(*a, **k)
        return dataclasses.replace(b, eta=b.eta * 1e-6)

    monkeypatch.setattr(verify._bounds, "proposition5", broken)
    chk, res = _p5()
    assert chk.status == "FAIL" and chk.measured["count_meeting_target"] == 0
    assert "significantly below the promise" in chk.note
    assert np.allclose(res.avg_risk, math.log(2), atol=1e-3)


def test_vacuous_above_initial_risk():
    X, y, p = _pair()
    r0 = float(bounds.kl_risk_at_init(p))
    chk, _ = verify.check_theorem2(X, p, beta=0.5, delta=0.1, seeds=2, rng=0, budget=600)
    assert 0.5 >= r0 and chk.status == "VACUOUS" and "holds at initialisation" in chk.note
    assert chk.measured["risk_at_init"] == pytest.approx(r0)


def test_refused_says_the_estimate_and_what_fits():
    X, y, p = _pair()
    chk, res = verify.check_theorem2(X, p, beta=0.02, delta=0.1, rng=0, budget=1e-9)
    assert res is None and chk.status == "REFUSED"  # not even m = 2, T = 10 fits in a nanosecond
    assert "exceeds the budget" in chk.note and "on this machine" in chk.note
    assert "fit" in chk.note
    # the suggestion of fewer seeds states its power
    assert (
        verify._seed_suggestion(100.0, 21, 20.0, 0.7, ALPHA) == "--seeds 4 (too few for a PASS: INCONCLUSIVE at best)"
    )
    assert verify._seed_suggestion(100.0, 42, 50.0, 0.7, ALPHA) == "--seeds 21"
    assert verify._seed_suggestion(100.0, 21, 1.0, 0.7, ALPHA) is None


def test_empirical_runs_what_fits_and_never_passes():
    X, y, p = _pair()
    r0 = float(bounds.kl_risk_at_init(p))
    chk, res = verify.check_theorem2(X, p, beta=0.9 * r0, delta=0.1, labels=y, rng=0, budget=1.5)
    assert chk.status == "EMPIRICAL" and res is not None
    me = chk.measured
    assert me["m_run"] < chk.predicted["m"] and me["T_run"] < chk.predicted["T"]
    assert me["fraction_of_prescription"]["m"] == pytest.approx(me["m_run"] / chk.predicted["m"])
    assert "of the prescription" in chk.note and "exceeds the budget" in chk.note
    assert res.T == me["T_run"] and int(res.widths[0]) == me["m_run"]


def test_lemma3_fail_pass_vacuous():
    p = np.array([0.6, 0.4])
    y = np.array([1.0, -1.0])
    # a fabricated record: error 1 while the KL risk is tiny breaks 32 R_KL / gamma_z^2
    chk = verify.check_lemma3(p, y, np.array([1e-6, 0.02]), np.array([1.0, 1.0]))
    assert chk.status == "FAIL" and chk.measured["violations"] == 1 and "bug" in chk.note
    ok = verify.check_lemma3(p, y, np.array([1e-6, 0.02]), np.array([0.0, 1.0]))
    assert ok.status == "PASS" and ok.measured["informative_iterates"] == 1
    # every bound at least 1: nothing checked
    triv = verify.check_lemma3(p, y, np.array([0.02, 0.03]), np.array([1.0, 0.5]))
    assert triv.status == "VACUOUS" and triv.measured["informative_iterates"] == 0
    assert verify.check_lemma3(np.array([0.6, 0.6]), y, np.zeros(1), np.zeros(1)).status == "VACUOUS"


def test_lemma6_pass_fail_inconclusive_vacuous():
    X, y, _ = _pair()
    z = y / 2  # exact teacher logits of v = e_1
    v = lambda W: np.tile(np.eye(1, 5), (W.shape[0], 1))  # noqa: E731
    inits = [init_symmetric(4096, 5, rng=s) for s in range(9)]
    assert verify.check_lemma6(X, v, z, inits, delta=0.1).status == "PASS"
    assert verify.check_lemma6(X, v, z, inits[:5], delta=0.1).status == "INCONCLUSIVE"
    assert verify.check_lemma6(X, v, z + 0.5, inits, delta=0.1).status == "FAIL"  # a planted wrong teacher
    tiny = [init_symmetric(2, 5, rng=s) for s in range(9)]  # radius 3.8 >= 1.5: met by any deviation
    assert verify.check_lemma6(X, v, z, tiny, delta=0.1).status == "VACUOUS"


# ------------------------------------------------------------------ the report


def test_report_table_has_counts_intervals_slack_and_legend():
    chk, _ = _p5(seeds=3)
    rep = verify.VerifyReport({"dataset": "pair"}, {"n": 2}, [chk])
    text = rep.format_table()
    assert "3/3 [0.29, 1.00]" in text and "INCONCLUSIVE" in text
    for name, line in verify.VERDICTS.items():
        assert f"{name:<12} {line.format(alpha=0.01)}" in text
    json.dumps(rep.to_dict(), allow_nan=False)  # strict JSON, no NaN or inf


def test_run_verify_curves_for_the_figures():
    X, y, _ = _pair()
    rep = verify.run_verify(
        X,
        y,
        gamma_known=0.5,
        z_known=y / 2,
        seeds=2,
        budget=0.5,
        n_samples=2000,
        rng=0,
        checks=["proposition5", "lemma3", "lemma6"],
    )
    names = [c.name for c in rep.checks]
    assert names == ["Proposition 5", "Lemma 3", "Lemma 6"]
    assert rep.data["n"] == 2 and rep.data["d"] == 5 and rep.data["teacher_logits_source"] == "known"
    assert set(rep.curves) == {"Proposition 5", "Lemma 3", "Lemma 6"}
    c = rep.curves["Proposition 5"]
    assert c["values"].shape[0] == 2 and c["T_prescribed"] == rep.checks[0].predicted["T"]
    assert rep.curves["Lemma 6"]["widths"][-1] == rep.checks[2].predicted["m"]
    with pytest.raises(ValueError, match="checks == \\['theorem9'\\]"):
        verify.run_verify(X, y, checks=["theorem9"], n_samples=2000)


def test_figures_are_written(tmp_path):
    pytest.importorskip("matplotlib")
    from ntkdistill import _verify_plots

    X, y, _ = _pair()
    rep = verify.run_verify(
        X,
        y,
        gamma_known=0.5,
        z_known=y / 2,
        seeds=2,
        budget=0.5,
        n_samples=2000,
        rng=0,
        checks=["proposition5", "lemma3", "lemma6"],
    )
    paths = _verify_plots.save_verify_figures(rep, str(tmp_path))
    assert sorted(p.rsplit("/", 1)[-1] for p in paths) == ["lemma3.png", "lemma6.png", "proposition5.png"]
    assert all((tmp_path / p.rsplit("/", 1)[-1]).stat().st_size > 1000 for p in paths)
    ax = _verify_plots.plot_training_check(rep.curves["Proposition 5"])
    assert ax.get_xscale() == "log" and len(ax.lines) >= 2 * 2 + 1
