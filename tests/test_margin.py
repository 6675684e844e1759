"""The NTK margin: known answers, the certified interval and its coverage, the kernel bound, errors."""

import math
import warnings

import numpy as np
import pytest

from ntkdistill.datasets.synthetic import (
    circle,
    orthonormal,
    orthonormal_margin,
    two_points,
    two_points_margin,
)
from ntkdistill.margin import MaxMarginField, kernel_margin_bound, margin
from ntkdistill.teacher import teacher_logits


def _pair(theta):
    return np.array([[1.0, 0.0], [math.cos(theta), math.sin(theta)]])


def _estimate_tolerance(res):
    # The estimate is a sample mean of ||g_q(z)|| in [0, 1], standard deviation <= 1/2: allow four
    # standard errors, plus the optimisation gap.
    return 4 * 0.5 / math.sqrt(res.n_samples) + res.gap


@pytest.mark.parametrize("theta", [math.pi / 3, 1.0, 2.2])
@pytest.mark.parametrize("same_label", [False, True])
def test_two_points_known_answer(theta, same_label):
    exact = two_points_margin(theta, same_label=same_label)
    y = [1, 1] if same_label else [1, -1]
    res = margin(_pair(theta), y, n_samples=8000, rng=11)
    assert res.lower <= exact <= res.upper  # fixed seed; fails with probability <= delta
    assert abs(res.gamma - exact) <= _estimate_tolerance(res)
    assert res.converged and res.gap <= res.tol


def test_two_points_at_pi_over_3_is_one_third_with_equal_weights():
    res = margin(_pair(math.pi / 3), [1, -1], n_samples=20000, rng=5)
    assert res.lower <= 1 / 3 <= res.upper
    # the sample optimum of q moves by O(S^-1/2) around (1/2, 1/2): a loose 0.05
    np.testing.assert_allclose(res.q, [0.5, 0.5], atol=0.05)
    assert res.support.tolist() == [0, 1]


@pytest.mark.parametrize("n", [1, 2, 3, 6])
def test_orthonormal_known_answer(n):
    data = orthonormal(n, rng=n)
    res = margin(data.X, data.y, n_samples=8000, rng=n)
    assert res.lower <= data.gamma <= res.upper
    assert abs(res.gamma - data.gamma) <= _estimate_tolerance(res)
    assert data.gamma == pytest.approx([0.5, 0.42678, 0.37395, 0.33459, 0.30437, 0.28052][n - 1], abs=5e-6)


def test_orthonormal_teacher_logits_are_y_gamma():
    data = orthonormal(4, labels=[1, 1, -1, 1])
    v = MaxMarginField(data.X, data.y, np.full(4, 0.25))  # the exact maximiser (uniform q)
    z, se, _ = teacher_logits(data.X, v, n_samples=20000, rng=0)
    # four standard errors per logit (fixed seed)
    assert np.all(np.abs(z - data.y * data.gamma) <= 4 * se)


def test_linearly_separable_lower_bound():
    rng = np.random.default_rng(7)
    X = rng.standard_normal((40, 5))
    X /= np.linalg.norm(X, axis=1, keepdims=True)
    u = np.array([1.0, 0, 0, 0, 0])
    y = np.where(X @ u > 0, 1.0, -1.0)
    res = margin(X, y, n_samples=8000, rng=1)
    # v = u gives z_i = <u, x_i> / 2 exactly, so gamma >= min_i y_i <u, x_i> / 2 (THEORY.md)
    assert res.upper >= np.min(y * (X @ u)) / 2
    assert res.lower <= res.gamma <= res.upper


def test_certified_lower_holds_for_the_logits_of_v():
    data = circle(8, math.pi / 8, rng=0)
    res = margin(data.X, data.y, n_samples=4000, rng=2)
    z, se, _ = teacher_logits(data.X, res.v, n_samples=20000, rng=3)
    # lower <= min_i y_i z_i(v); the independent estimate may fall 4 standard errors short
    assert np.all(data.y * z >= res.lower - 4 * se)
    assert np.all(np.abs(z) <= np.linalg.norm(data.X, axis=1) / 2 + 4 * se)


@pytest.mark.parametrize(
    "data",
    [two_points(math.pi / 8), orthonormal(5), circle(8, math.pi / 4), circle(6, math.pi / 16)],
    ids=["two_points", "orthonormal", "circle_a", "circle_b"],
)
def test_known_gammas_of_datasets_agree_with_margin(data):
    res = margin(data.X, data.y, n_samples=8000, rng=9)
    assert res.lower <= data.gamma <= res.upper
    assert abs(res.gamma - data.gamma) <= _estimate_tolerance(res)
    # the kernel bound is deterministic: gamma <= sqrt(min q^T Q q)
    assert data.gamma <= res.kernel_bound + 1e-12


def test_kernel_bound_for_orthonormal_points_is_one_over_sqrt_2n():
    for n in (1, 3, 10):
        X = np.eye(n)
        y = np.where(np.arange(n) % 2, -1, 1)
        # Q = I / 2, min over the simplex of q^T Q q = 1 / (2n)
        assert kernel_margin_bound(X, y) == pytest.approx(1 / math.sqrt(2 * n), rel=1e-6)
        assert orthonormal_margin(n) <= 1 / math.sqrt(2 * n)


def test_coverage_over_many_seeds_is_at_least_one_minus_delta():
    delta = 0.2
    trials = 150
    X = _pair(math.pi / 3)
    roots = np.random.SeedSequence(2024).spawn(trials)
    hits = 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for s in roots:
            res = margin(X, [1, -1], n_samples=300, delta=delta, rng=s, kernel_bound=False)
            hits += res.lower <= 1 / 3 <= res.upper
    # coverage >= 1 - delta by construction; allow 3 binomial standard deviations below it
    assert hits / trials >= 1 - delta - 3 * math.sqrt(delta * (1 - delta) / trials)


def test_interval_narrows_with_more_samples():
    data = orthonormal(3)
    small = margin(data.X, data.y, n_samples=1000, rng=0)
    large = margin(data.X, data.y, n_samples=16000, rng=0)
    # Hoeffding widths scale like S^-1/2: 16x the samples, about 4x narrower
    assert (large.upper - large.lower) < 0.5 * (small.upper - small.lower)


def test_v_is_a_batch_field_of_norm_at_most_one_and_reproducible():
    data = circle(6, 0.5, rng=1)
    res = margin(data.X, data.y, n_samples=2000, rng=4)
    Z = np.random.default_rng(0).standard_normal((50, 3))
    V = res.v(Z)
    assert V.shape == (50, 3)
    assert np.all(np.linalg.norm(V, axis=1) <= 1 + 1e-12)
    assert np.all(res.q >= 0) and res.q.sum() == pytest.approx(1)
    again = margin(data.X, data.y, n_samples=2000, rng=4)
    assert again.gamma == res.gamma and again.lower == res.lower
    np.testing.assert_array_equal(again.q, res.q)
    with pytest.raises(ValueError, match="Z has 2 columns but the data have d = 3"):
        res.v(np.ones((4, 2)))


def test_coarse_to_fine_without_kernel_bound_agrees():
    data = orthonormal(6)
    res = margin(data.X, data.y, n_samples=10000, rng=3, kernel_bound=False)
    assert res.kernel_bound is None
    assert res.lower <= data.gamma <= res.upper
    assert abs(res.gamma - data.gamma) <= _estimate_tolerance(res)


def test_float32_input_runs_in_float32():
    data = orthonormal(3)
    res = margin(data.X.astype(np.float32), data.y, n_samples=2000, rng=0)
    assert res.z.dtype == np.float64  # logits are accumulated in float64
    assert res.v(np.ones((2, 3), dtype=np.float32)).dtype == np.float32
    assert res.lower <= data.gamma <= res.upper


def test_warns_when_the_solver_stops_early():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((30, 4))
    X /= np.linalg.norm(X, axis=1, keepdims=True)
    y = np.where(np.arange(30) % 2, 1, -1)
    with pytest.warns(UserWarning, match="optimisation gap"):
        res = margin(X, y, n_samples=1000, rng=0, max_iter=1, tol=1e-9, kernel_bound=False)
    assert not res.converged and res.gap > res.tol


def test_errors_for_data_violating_the_assumptions():
    with pytest.raises(ValueError, match="norm above 1"):
        margin([[2.0, 0.0], [0.0, 1.0]], [1, -1])
    with pytest.raises(ValueError, match=r"X\[0\] and X\[1\] point in the same direction but have opposite labels"):
        margin([[0.5, 0.5], [0.2, 0.2], [0.0, 1.0]], [1, -1, 1])
    with pytest.raises(ValueError, match="zero row"):
        margin([[0.0, 0.0], [0.0, 1.0]], [1, -1])
    with pytest.raises(ValueError, match="only -1 and \\+1"):
        margin(np.eye(2), [0, 1])
    with pytest.raises(ValueError, match="delta == 1, must lie in"):
        margin(np.eye(2), [1, -1], delta=1.0)
    with pytest.raises(ValueError, match="n_samples == 1, must be >= 2"):
        margin(np.eye(2), [1, -1], n_samples=1)
    with pytest.raises(TypeError, match="kernel_bound must be"):
        margin(np.eye(2), [1, -1], kernel_bound="yes")
    # parallel with equal labels is harmless (the margin stays positive)
    res = margin([[0.5, 0.5], [0.2, 0.2], [0.0, 1.0]], [1, 1, -1], n_samples=2000, rng=0)
    assert res.upper > 0
