"""Theorem checks: a small non-vacuous Theorem 2, Proposition 5, Lemma 3 along trajectories, refusals."""

import math

import numpy as np
import pytest

import ntkdistill as nd
from ntkdistill import bounds, verify


def _one_point():
    # a single unit vector: gamma = 1/2 and the max-margin teacher logit is exactly y/2
    X = np.array([[1.0, 0.0]])
    y = np.array([1.0])
    p = nd.sigmoid(0.5 * y)
    return X, y, p


def test_theorem2_small_nonvacuous_setting_holds():
    X, y, p = _one_point()
    r0 = float(bounds.kl_risk_at_init(p))
    beta = 0.95 * r0  # below R_KL(W(0)), so the claim says something
    chk, res = verify.check_theorem2(X, p, beta=beta, delta=0.3, labels=y, seeds=3, rng=0, budget=600,
                                     record_every=100)
    assert chk.status == "PASS", chk.note
    # the promise is frequency >= 1 - 3 delta = 0.1; with fixed seeds every run meets it here
    assert chk.measured["fraction_meeting_target"] == 1.0
    assert chk.predicted["m"] == int(bounds.theorem2(beta, 1, 0.3).m)
    assert chk.predicted["eta"] == pytest.approx(beta / 3)  # E7
    assert np.all(res.avg_risk <= beta) and chk.measured["slack"] > 1
    # the radius B = 1 holds: every row stays within 1/sqrt(m) of its initialisation
    assert chk.measured["max_row_distance_times_sqrt_m"] <= 1 + 1e-9
    # and Lemma 3 holds at every recorded iterate of these runs
    l3 = verify.check_lemma3(p, y, res.risk, res.error)
    assert l3.status == "PASS" and l3.measured["violations"] == 0


def test_theorem2_vacuous_above_initial_risk():
    X, y, p = _one_point()
    r0 = float(bounds.kl_risk_at_init(p))
    beta = 0.5  # far above R_KL(W(0)) ~ 0.03, and cheap: m and T shrink as beta grows
    assert beta >= r0
    chk, res = verify.check_theorem2(X, p, beta=beta, delta=0.3, seeds=2, rng=0, budget=600)
    assert chk.status == "VACUOUS" and "holds at initialisation" in chk.note
    assert chk.measured["risk_at_init"] == pytest.approx(r0)


def test_refusal_says_cost_and_alternatives():
    X = np.eye(2)
    y = np.array([1.0, -1.0])
    p = nd.sigmoid(0.42678 * y)
    chk, res = verify.check_theorem2(X, p, beta=0.005, delta=0.1, seeds=4, rng=0, budget=5.0)
    assert res is None and chk.status == "REFUSED"
    assert "exceeds the budget of 5 s" in chk.note and "on this machine" in chk.note
    assert "Raise the budget" in chk.note
    c4, res4 = verify.check_corollary4(X, p, y, gamma=0.42678, eps=0.01, delta=0.1, seeds=4, rng=0, budget=5.0)
    assert res4 is None and c4.status == "REFUSED"


def test_proposition5_small_setting():
    X = np.eye(2)
    y = np.array([1.0, -1.0])
    gamma = 0.5 * (1 + 2 ** -0.5) / 2  # orthonormal n = 2: 2^-2 (0 + 2 + sqrt 2) / 2
    chk, res = verify.check_proposition5(X, y, gamma=gamma, beta=0.5, delta=0.3, seeds=3, rng=0, budget=600)
    b = bounds.proposition5(gamma, 0.5, 2, 0.3)
    assert chk.predicted["B"] == pytest.approx(float(b.B)) and chk.predicted["T"] == int(b.T)
    assert chk.status == "PASS", chk.note
    assert np.all(res.avg_risk <= 0.5)
    assert chk.measured["max_row_distance_times_sqrt_m"] <= float(b.B) * (1 + 1e-9)


def test_lemma3_flags_a_violation():
    p = np.array([0.6, 0.4])
    y = np.array([1.0, -1.0])
    # a fabricated record: error 1 while the KL risk is tiny breaks 32 R_KL / gamma_z^2
    chk = verify.check_lemma3(p, y, np.array([1e-6, 0.02]), np.array([1.0, 1.0]))
    assert chk.status == "FAIL" and chk.measured["violations"] == 1 and "bug" in chk.note


def test_lemma3_needs_margin_in_the_soft_labels():
    chk = verify.check_lemma3(np.array([0.6, 0.6]), np.array([1.0, -1.0]), np.zeros(1), np.zeros(1))
    assert chk.status == "VACUOUS"


def test_binomial_status_matches_exact_test():
    status, pval, (lo, hi) = verify.binomial_status(7, 10, 0.9)
    assert pval == pytest.approx(sum(math.comb(10, k) * 0.9**k * 0.1 ** (10 - k) for k in range(8)))
    assert status == "PASS" and lo < 0.7 < hi
    assert verify.binomial_status(3, 10, 0.9)[0] == "FAIL"


def test_report_table_and_json():
    X, y, p = _one_point()
    chk, _ = verify.check_theorem2(X, p, beta=0.02, delta=0.3, seeds=2, rng=0, budget=1e-9)
    rep = verify.VerifyReport({"dataset": "one point"}, {"n": 1}, [chk])
    text = rep.format_table()
    assert "Theorem 2" in text and "REFUSED" in text
    d = rep.to_dict()
    import json

    json.dumps(d, allow_nan=False)  # strict JSON, no NaN or inf
