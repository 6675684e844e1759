"""The infinite-width NTK: closed form, its invariants, and the Monte Carlo estimators."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from ntkdistill.kernel import empirical_ntk, monte_carlo_kernel, ntk_kernel


def _unit(theta):
    return np.array([math.cos(theta), math.sin(theta)])


@pytest.mark.parametrize("theta", [0.0, 0.3, math.pi / 3, math.pi / 2, 2.0, math.pi])
def test_closed_form_two_unit_vectors(theta):
    # K = cos(theta) (pi - theta) / (2 pi) for unit vectors at angle theta (THEORY.md)
    X = np.stack([_unit(0.0), _unit(theta)])
    K = ntk_kernel(X)
    assert K[0, 1] == pytest.approx(math.cos(theta) * (math.pi - theta) / (2 * math.pi), abs=1e-12)
    assert K[0, 0] == pytest.approx(0.5)


def test_diagonal_scaling_symmetry_and_zero_rows():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((5, 4))
    K = ntk_kernel(X)
    np.testing.assert_allclose(np.diag(K), (X**2).sum(1) / 2, rtol=1e-12)
    np.testing.assert_allclose(K, K.T, atol=1e-15)
    # positive homogeneity: K(a x, b x') = a b K(x, x') for a, b > 0
    a = rng.uniform(0.1, 2, size=5)
    np.testing.assert_allclose(ntk_kernel(a[:, None] * X), a[:, None] * a[None, :] * K, rtol=1e-10, atol=1e-14)
    Z = np.vstack([X[:2], np.zeros((1, 4))])
    assert np.all(ntk_kernel(Z, X)[2] == 0)
    assert ntk_kernel(X[:2], X[2:]).shape == (2, 3)


@settings(max_examples=30, deadline=None)
@given(arrays(np.float64, (6, 3), elements=st.floats(-1, 1, allow_nan=False)))
def test_gram_is_positive_semidefinite(X):
    K = ntk_kernel(X)
    scale = max(1.0, float(np.abs(K).max()))
    assert np.linalg.eigvalsh(K).min() >= -1e-10 * scale


def test_float32_is_kept():
    X = np.eye(3, dtype=np.float32)
    assert ntk_kernel(X).dtype == np.float32
    assert monte_carlo_kernel(X, n_samples=10, rng=0).mean.dtype == np.float32


def test_monte_carlo_matches_closed_form_within_four_standard_errors():
    rng = np.random.default_rng(1)
    X = rng.standard_normal((6, 4))
    X /= np.linalg.norm(X, axis=1, keepdims=True)
    Y = rng.standard_normal((3, 4))
    est = monte_carlo_kernel(X, Y, n_samples=20000, rng=2)
    K = ntk_kernel(X, Y)
    # each entry is a mean of 20000 bounded i.i.d. terms: 4 standard errors (fixed seed)
    assert np.all(np.abs(est.mean - K) <= 4 * est.stderr + 1e-12)
    assert est.mean.shape == est.stderr.shape == (6, 3)


def test_running_estimates_are_prefixes_and_converge():
    X = np.array([[1.0, 0.0], _unit(1.0), [0.0, 0.5]])
    counts = [50, 500, 5000]
    run = monte_carlo_kernel(X, n_samples=counts, rng=3)
    assert run.mean.shape == (3, 3, 3)
    assert run.n_samples.tolist() == counts
    last = monte_carlo_kernel(X, n_samples=5000, rng=3)
    np.testing.assert_allclose(run.mean[-1], last.mean)
    np.testing.assert_allclose(run.stderr[-1], last.stderr)
    # the standard error of the off-diagonal entry shrinks like 1/sqrt(S): 100x samples, ~10x smaller
    ratio = run.stderr[0, 0, 1] / run.stderr[-1, 0, 1]
    assert 5 < ratio < 20


def test_empirical_ntk_is_the_gradient_gram_and_symmetric_init_duplicates():
    rng = np.random.default_rng(4)
    X = rng.standard_normal((4, 3))
    W = rng.standard_normal((7, 3))
    mask = (X @ W.T > 0).astype(float)
    expected = (X @ X.T) * (mask @ mask.T) / 7
    np.testing.assert_allclose(empirical_ntk(X, W=W), expected)
    # duplicated rows (symmetric initialisation) give the same kernel as the distinct half
    np.testing.assert_allclose(empirical_ntk(X, W=np.vstack([W, W])), empirical_ntk(X, W=W))


def test_bad_arguments():
    X = np.eye(2)
    with pytest.raises(ValueError, match="n_samples == 1, must be >= 2"):
        monte_carlo_kernel(X, n_samples=1)
    with pytest.raises(ValueError, match="strictly increasing"):
        monte_carlo_kernel(X, n_samples=[100, 50])
    with pytest.raises(TypeError, match="n_samples must be an int"):
        monte_carlo_kernel(X, n_samples="many")
    with pytest.raises(ValueError, match="X2 has 3 columns but X1 has 2"):
        ntk_kernel(X, np.ones((1, 3)))
    with pytest.raises(ValueError, match="W has 3 columns but X1 has 2"):
        empirical_ntk(X, W=np.ones((2, 3)))
    with pytest.raises(ValueError, match="non-finite"):
        ntk_kernel([[np.nan, 1.0]])
