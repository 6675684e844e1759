"""Losses in logit form: values, gradients, stability at extreme logits, dtype."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from ntkdistill import losses
from ntkdistill.testing import check_grad

logits = st.floats(-1e4, 1e4, allow_nan=False)
probs = st.floats(0.0, 1.0)


def _kl_direct(p, f):
    # the textbook formula, in high precision through mu(f) computed safely for moderate f
    mu = 1.0 / (1.0 + np.exp(-f))
    out = 0.0
    if p > 0:
        out += p * np.log(p / mu)
    if p < 1:
        out += (1 - p) * np.log((1 - p) / (1 - mu))
    return out


@pytest.mark.parametrize("p", [0.0, 1e-12, 0.1, 0.5, 0.9, 1 - 1e-12, 1.0])
@pytest.mark.parametrize("f", [-20.0, -1.3, 0.0, 0.7, 15.0])
def test_kl_matches_direct_formula(p, f):
    # moderate logits, where the direct formula is itself accurate to ~1e-12
    assert losses.kl_loss(p, f) == pytest.approx(_kl_direct(p, f), rel=1e-9, abs=1e-12)


@given(probs, logits)
def test_kl_nonnegative_and_finite(p, f):
    v = losses.kl_loss(p, f)
    assert np.isfinite(v) and v >= 0


@given(st.floats(1e-6, 1 - 1e-6))
def test_kl_zero_exactly_at_logit(p):
    # equality at f = logit(p), up to rounding of the entropy terms (a few ulps of ~1)
    assert losses.kl_loss(p, losses.logit(p)) <= 1e-12


@given(st.floats(0.01, 0.99), st.floats(-30, 30))
def test_kl_positive_away_from_logit(p, f):
    if abs(f - losses.logit(p)) > 1e-3:
        assert losses.kl_loss(p, f) > 0


@pytest.mark.parametrize("f", [1e4, -1e4])
@pytest.mark.parametrize("p", [0.0, 0.3, 1.0])
def test_extreme_logits_are_linear_asymptotes(p, f):
    # KL(p || mu(f)) ~ p * softplus(-f) + (1-p) softplus(f) - H(p): linear in |f| for |f| = 1e4
    h = 0.0 if p in (0.0, 1.0) else -(p * np.log(p) + (1 - p) * np.log(1 - p))
    expected = (p if f < 0 else 1 - p) * abs(f) - h
    with np.errstate(over="raise", invalid="raise", divide="raise"):  # underflow to 0 is fine
        assert losses.kl_loss(p, f) == pytest.approx(expected, rel=1e-12, abs=1e-12)
        assert losses.logistic_loss(1.0, f) == pytest.approx(max(-f, 0.0), rel=1e-12)
        assert np.isfinite(losses.kl_grad(p, f)) and np.isfinite(losses.logistic_grad(-1.0, f))


@given(probs, st.floats(-50, 50))
def test_kl_grad_is_derivative(p, f):
    check_grad(lambda x: losses.kl_loss(p, x[0]), lambda x: np.array([losses.kl_grad(p, x[0])]), np.array([f]), rng=0)


@given(st.sampled_from([-1.0, 1.0]), st.floats(-50, 50))
def test_logistic_grad_is_derivative(y, f):
    check_grad(
        lambda x: losses.logistic_loss(y, x[0]),
        lambda x: np.array([losses.logistic_grad(y, x[0])]),
        np.array([f]),
        rng=0,
    )


def test_kl_grad_sign_e1():
    # E1: d l_KL / d f = mu(f) - p, positive when the prediction overshoots p
    assert losses.kl_grad(0.2, 3.0) > 0
    assert losses.kl_grad(0.8, -3.0) < 0


def test_classification_error_counts_ties():
    y = np.array([1, -1, 1, -1])
    f = np.array([0.0, 0.0, 1.0, 1.0])
    # ties (f = 0) are errors (E6), plus one wrong sign
    assert losses.classification_error(y, f) == 0.75


def test_float32_stays_float32():
    f = np.linspace(-1e4, 1e4, 7, dtype=np.float32)
    p = np.full(7, 0.3, dtype=np.float32)
    for out in (
        losses.kl_loss(p, f),
        losses.kl_grad(p, f),
        losses.logistic_loss(1, f),
        losses.logistic_grad(-1, f),
        losses.sigmoid(f),
        losses.softplus(f),
    ):
        assert out.dtype == np.float32
        assert np.all(np.isfinite(out))


def test_risks_are_means():
    p = np.array([0.1, 0.9])
    f = np.array([0.5, -0.5])
    assert losses.kl_risk(p, f) == pytest.approx(np.mean([_kl_direct(0.1, 0.5), _kl_direct(0.9, -0.5)]))
    assert losses.logistic_risk([1, -1], f) == pytest.approx(np.log1p(np.exp(-0.5)))
