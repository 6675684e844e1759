"""Teacher logits, soft labels and Lemma 6."""

import math

import numpy as np
import pytest

from ntkdistill.bounds import lemma6_radius
from ntkdistill.datasets.synthetic import circle, orthonormal
from ntkdistill.losses import sigmoid
from ntkdistill.margin import MaxMarginField, margin
from ntkdistill.student import forward, init_symmetric
from ntkdistill.teacher import (
    lemma6_check,
    network_soft_labels,
    soft_labels,
    teacher_logits,
)


def _constant(u):
    u = np.asarray(u, dtype=float)
    return lambda Z: np.broadcast_to(u, Z.shape)


@pytest.fixture(scope="module")
def points():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((7, 3))
    return X / np.linalg.norm(X, axis=1, keepdims=True) * rng.uniform(0.3, 1.0, size=(7, 1))


def test_constant_field_gives_half_the_projection(points):
    u = np.array([0.6, 0.0, -0.8])
    z, se, count = teacher_logits(points, _constant(u), n_samples=20000, rng=1)
    assert count == 20000
    # exact value <u, x> / 2 (THEORY.md); four standard errors, fixed seed
    assert np.all(np.abs(z - points @ u / 2) <= 4 * se)


def test_logits_of_the_max_margin_field_are_bounded_by_half_the_norm(points):
    y = np.where(points[:, 0] > 0, 1, -1)
    res = margin(points, y, n_samples=4000, rng=2)
    z, se, _ = teacher_logits(points, res, n_samples=10000, rng=3)  # a MarginResult is accepted
    norms = np.linalg.norm(points, axis=1)
    assert np.all(np.abs(z) <= norms / 2 + 4 * se)
    p = soft_labels(z)
    assert np.all((p >= sigmoid(-0.5) - 1e-3) & (p <= sigmoid(0.5) + 1e-3))


def test_orthonormal_logits_and_soft_labels():
    data = orthonormal(3)
    v = MaxMarginField(data.X, data.y, data.q)
    z, se, _ = teacher_logits(data.X, v, n_samples=20000, rng=4)
    assert np.all(np.abs(z - data.z) <= 4 * se)


def test_running_estimates_match_the_single_call():
    data = circle(6, 0.4)
    v = MaxMarginField(data.X, data.y, data.q)
    run = teacher_logits(data.X, v, n_samples=[100, 1000, 4000], rng=5)
    one = teacher_logits(data.X, v, n_samples=4000, rng=5)
    assert run.z.shape == run.stderr.shape == (3, 6)
    np.testing.assert_allclose(run.z[-1], one.z)
    np.testing.assert_allclose(run.stderr[-1], one.stderr)
    # 40x the samples: standard errors about sqrt(40) ~ 6.3x smaller
    ratio = np.median(run.stderr[0] / run.stderr[-1])
    assert 4 < ratio < 10


def test_field_output_is_checked():
    X = np.eye(2)
    with pytest.raises(ValueError, match="v returned shape"):
        teacher_logits(X, lambda Z: Z[:, :1], n_samples=10, rng=0)
    with pytest.raises(ValueError, match="norm at most 1|\\|\\|v\\(z\\)\\|\\| <= 1"):
        teacher_logits(X, lambda Z: 3 * np.ones_like(Z), n_samples=10, rng=0)
    with pytest.raises(ValueError, match="non-finite"):
        teacher_logits(X, lambda Z: np.full_like(Z, np.nan), n_samples=10, rng=0)
    with pytest.raises(TypeError, match="v must be a callable"):
        teacher_logits(X, 3.0, n_samples=10)


def test_soft_labels_values_dtype_and_errors():
    np.testing.assert_allclose(soft_labels([0.0, 1.0, -1.0]), sigmoid(np.array([0.0, 1.0, -1.0])))
    np.testing.assert_allclose(soft_labels([2.0], temperature=2.0), sigmoid(np.array([1.0])))
    assert soft_labels(np.zeros(3, dtype=np.float32)).dtype == np.float32
    assert soft_labels(np.zeros((2, 3))).shape == (2, 3)
    with pytest.raises(ValueError, match="temperature == 0, must lie in"):
        soft_labels([0.0], temperature=0)
    with pytest.raises(ValueError, match="non-finite"):
        soft_labels([np.nan])


def test_network_soft_labels():
    rng = np.random.default_rng(6)
    X = rng.standard_normal((5, 3))
    W = rng.standard_normal((8, 3))
    a = np.where(np.arange(8) % 3, 1.0, -1.0)
    np.testing.assert_allclose(network_soft_labels(X, W, a, temperature=2.0), sigmoid(forward(X, W, a) / 2.0))


def test_lemma6_builds_U_and_reports_both_radii(points):
    u = np.array([0.0, 1.0, 0.0])
    z = points @ u / 2
    W0, a = init_symmetric(64, 3, rng=7)
    res = lemma6_check(points, _constant(u), z, W0, a, delta=0.1)
    # f^0_i(U) = (1/m) sum_j 1(W_j(0) . x_i > 0) <v(W_j(0)), x_i>
    manual = ((W0 @ points.T > 0) * (points @ u)[None, :]).mean(axis=0)
    np.testing.assert_allclose(res.deviation, manual - z, atol=1e-12)
    assert res.init == "symmetric"
    assert res.radius_printed == pytest.approx(math.sqrt(2 * math.log(2 * 7 / 0.1) / 64))
    assert res.radius_symmetric == pytest.approx(2 * math.sqrt(math.log(2 * 7 / 0.1) / 64))
    assert res.radius == res.radius_symmetric == pytest.approx(float(lemma6_radius(64, 7, 0.1)))
    # independent neurons (no pairing) use the printed radius
    Wi = np.random.default_rng(8).standard_normal((64, 3))
    ind = lemma6_check(points, _constant(u), z, Wi, a, delta=0.1)
    assert ind.init == "independent" and ind.radius == ind.radius_printed


def test_lemma6_holds_at_the_stated_frequency_and_deviation_scales_with_m_over_2():
    data = circle(8, math.pi / 8)
    u = np.array([1.0, 0.0, 0.0])
    z = data.X @ u / 2
    m, delta, trials = 40, 0.1, 300
    seeds = np.random.SeedSequence(11).spawn(trials)
    results = [lemma6_check(data.X, _constant(u), z, *init_symmetric(m, 3, rng=s), delta=delta) for s in seeds]
    freq = np.mean([r.holds for r in results])
    # Lemma 6 (E13 radius): holds with probability >= 1 - delta; 3 binomial standard deviations of slack
    assert freq >= 1 - delta - 3 * math.sqrt(delta * (1 - delta) / trials)
    # Under the symmetric initialisation f^0_0(U) averages m/2 independent terms
    # <u, x_0> 1(w . x_0 > 0), standard deviation |<u, x_0>| / (2 sqrt(m/2)). The sample standard
    # deviation over 300 draws is within 20% (about 5 of its standard errors, ~4%); with m
    # independent terms it would be sqrt(2) = 41% smaller.
    dev0 = np.array([r.deviation[0] for r in results])
    expected = abs(data.X[0] @ u) / (2 * math.sqrt(m / 2))
    assert dev0.std(ddof=1) == pytest.approx(expected, rel=0.2)


def test_lemma6_accepts_teacher_logits_and_checks_shapes(points):
    u = np.array([1.0, 0.0, 0.0])
    tl = teacher_logits(points, _constant(u), n_samples=2000, rng=0)
    W0, a = init_symmetric(10, 3, rng=0)
    res = lemma6_check(points, _constant(u), tl, W0, a)
    assert res.z_stderr == pytest.approx(float(tl.stderr.max()))
    with pytest.raises(ValueError, match="z must have shape \\(7,\\)"):
        lemma6_check(points, _constant(u), np.zeros(3), W0, a)
    with pytest.raises(ValueError, match="a must have shape \\(10,\\)"):
        lemma6_check(points, _constant(u), tl, W0, a[:4])
    with pytest.raises(ValueError, match="W0 has 2 columns but X has 3"):
        lemma6_check(points, _constant(u), tl, W0[:, :2], a)
