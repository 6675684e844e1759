"""Tests of ntkdistill.bounds against the formulas of THEORY.md, written out again here."""

from __future__ import annotations

import dataclasses
import math
import re
import warnings

import numpy as np
import pytest
from hypothesis import Phase, given, settings
from hypothesis import strategies as st

from ntkdistill import bounds
from ntkdistill.bounds import (
    C1_ALTERNATIVE,
    C1_PRINTED,
    corollary4,
    kl_risk_at_init,
    lemma3,
    lemma6_radius,
    neurons_required,
    proposition5,
    theorem2,
)

RTOL = 1e-12  # a handful of float64 roundings in either evaluation

# ------------------------------------------------------------- the formulas, written out again


def S_soft(n, delta, c):
    return math.sqrt(2 / math.pi) / c + 3 * math.sqrt(math.log(2 * n / delta))


def ref_theorem2(beta, n, delta, c, C1):
    return dict(m_bound=C1 / beta * S_soft(n, delta, c) ** 2, T_bound=9 / beta**2, eta=beta / 3, B=1.0)


def ref_corollary4(gamma, eps, n, delta, c, C1):
    return dict(
        m_bound=32 * C1 / (gamma**2 * eps) * S_soft(n, delta, c) ** 2,
        T_bound=9216 / (gamma**4 * eps**2),
        eta=gamma**2 * eps / 96,
        B=1.0,
        T_printed_bound=9 / (gamma**4 * eps**2),
        eta_printed=gamma**2 * eps / 3,
    )


def ref_proposition5(gamma, beta, n, delta, c, eta):
    L = math.log(2 / (math.log(2) * beta))
    return dict(
        L=L,
        B=2 * L / gamma,
        T_bound=8 / (gamma**2 * eta) * L**2 / (math.log(2) * beta),
        m_bound=16
        / gamma**4
        * (2 * math.sqrt(2) / (c * math.sqrt(math.pi)) * L + 3 * math.sqrt(math.log(2 * n / delta))) ** 2,
        eta=eta,
    )


def smallest_even_at_least(x):
    k = math.ceil(x)
    return k + (k % 2)


def check_rounding(r):
    """m is the smallest even integer >= m_bound, T the smallest integer >= T_bound."""
    m, mb, T, Tb = (np.asarray(v, dtype=np.float64) for v in (r.m, r.m_bound, r.T, r.T_bound))
    assert np.all(np.fmod(m, 2) == 0)
    assert np.all(m >= mb) and np.all(m - mb < 2)
    assert np.all(T == np.floor(T))
    assert np.all(T >= Tb) and np.all(T - Tb < 1)


# ---------------------------------------------------------------------------- values at points

THM2_POINTS = [
    (0.5, 1, 0.3, 1.0, "printed"),
    (0.01, 100, 0.01, 1.0, "printed"),
    (0.2, 1000, 0.1, 0.3, "alternative"),
    (1e-4, 60000, 1e-6, 0.05, 2.5),
]


@pytest.mark.parametrize("beta, n, delta, c, C1", THM2_POINTS)
def test_theorem2_values(beta, n, delta, c, C1):
    r = theorem2(beta, n, delta, c=c, C1=C1)
    C1v = {"printed": 96 / (1 + math.e**2), "alternative": 96 * (1 + math.e**2)}.get(C1, C1)
    ref = ref_theorem2(beta, n, delta, c, C1v)
    for k, v in ref.items():
        assert float(getattr(r, k)) == pytest.approx(v, rel=RTOL), k
    assert int(r.m) == smallest_even_at_least(ref["m_bound"])
    assert int(r.T) == math.ceil(ref["T_bound"] * (1 - 1e-15))  # 9/beta^2 may be an integer
    assert float(r.target) == beta
    assert float(r.confidence) == pytest.approx(1 - 3 * delta)
    assert float(r.C1) == pytest.approx(C1v, rel=1e-15)
    assert float(r.log10_m_bound) == pytest.approx(math.log10(ref["m_bound"]), rel=RTOL)
    assert float(r.log10_T_bound) == pytest.approx(math.log10(ref["T_bound"]), rel=RTOL)
    check_rounding(r)


COR4_POINTS = [
    (0.5, 0.5, 1, 0.3, 1.0, "printed"),
    (0.1, 0.1, 100, 0.01, 1.0, "printed"),
    (0.01, 0.3, 1000, 0.1, 0.5, "alternative"),
    (0.33, 1e-3, 10**6, 1e-9, 0.9, 7.0),
]


@pytest.mark.parametrize("gamma, eps, n, delta, c, C1", COR4_POINTS)
def test_corollary4_values(gamma, eps, n, delta, c, C1):
    r = corollary4(gamma, eps, n, delta, c=c, C1=C1)
    C1v = {"printed": 96 / (1 + math.e**2), "alternative": 96 * (1 + math.e**2)}.get(C1, C1)
    ref = ref_corollary4(gamma, eps, n, delta, c, C1v)
    for k, v in ref.items():
        assert float(getattr(r, k)) == pytest.approx(v, rel=RTOL), k
    assert int(r.m) == smallest_even_at_least(ref["m_bound"])
    assert float(r.target) == eps
    assert float(r.confidence) == pytest.approx(1 - 3 * delta)
    check_rounding(r)
    assert np.all(r.T_printed >= r.T_printed_bound) and np.all(r.T_printed - r.T_printed_bound < 1)


PROP5_POINTS = [
    (0.5, 0.5, 1, 0.3, 1.0, 1.0),
    (0.1, 0.1 * math.log(2), 100, 0.01, 1.0, 1.0),
    (0.02, 1e-3, 1000, 0.1, 0.4, 0.25),
    (0.45, 0.9, 10**7, 1e-12, 0.05, 1e-3),
]


@pytest.mark.parametrize("gamma, beta, n, delta, c, eta", PROP5_POINTS)
def test_proposition5_values(gamma, beta, n, delta, c, eta):
    r = proposition5(gamma, beta, n, delta, c=c, eta=eta)
    ref = ref_proposition5(gamma, beta, n, delta, c, eta)
    for k, v in ref.items():
        assert float(getattr(r, k)) == pytest.approx(v, rel=RTOL), k
    assert int(r.m) == smallest_even_at_least(ref["m_bound"])
    assert float(r.target) == beta
    assert float(r.error_target) == pytest.approx(beta / math.log(2), rel=1e-15)
    assert float(r.confidence) == pytest.approx(1 - 3 * delta)
    assert float(r.log10_m_bound) == pytest.approx(math.log10(ref["m_bound"]), rel=RTOL)
    assert float(r.log10_T_bound) == pytest.approx(math.log10(ref["T_bound"]), rel=RTOL)
    check_rounding(r)


def test_c1_presets():
    assert C1_PRINTED == pytest.approx(11.4435, abs=1e-4)
    assert C1_ALTERNATIVE == pytest.approx(805.35, abs=1e-2)
    assert bounds.C1_PRESETS == {"printed": C1_PRINTED, "alternative": C1_ALTERNATIVE}
    p = theorem2(0.1, 100, 0.01, C1="printed")
    a = theorem2(0.1, 100, 0.01, C1="alternative")
    assert float(a.m_bound / p.m_bound) == pytest.approx((1 + math.e**2) ** 2, rel=RTOL)
    assert float(theorem2(0.1, 100, 0.01, C1=C1_PRINTED).m_bound) == float(p.m_bound)
    # T, eta and B do not depend on C1
    assert (a.T, a.eta, a.B) == (p.T, p.eta, p.B)


# -------------------------------------------------------------------- identities and relations


def test_corollary4_is_theorem2_at_beta():
    gamma = np.array([0.5, 0.1, 0.013])[:, None]
    eps = np.array([0.9, 0.1, 1e-4])
    cor = corollary4(gamma, eps, 500, 0.02, c=0.7, C1="alternative")
    thm = theorem2(gamma**2 * eps / 32, 500, 0.02, c=0.7, C1="alternative")
    np.testing.assert_allclose(cor.m_bound, thm.m_bound, rtol=RTOL)
    np.testing.assert_allclose(cor.T_bound, thm.T_bound, rtol=RTOL)
    np.testing.assert_allclose(cor.eta, thm.eta, rtol=RTOL)
    np.testing.assert_array_equal(cor.B, thm.B)


def test_printed_vs_derived_corollary4():
    gamma = np.array([0.5, 0.2, 0.01])[:, None]
    eps = np.array([0.5, 0.05, 1e-3])
    r = corollary4(gamma, eps, 100, 0.01)
    # E11: the printed step is 32 times the derived one, the printed count 1/1024 of it
    np.testing.assert_allclose(r.eta_printed, 32 * r.eta, rtol=1e-15)
    np.testing.assert_allclose(r.T_printed_bound * 1024, r.T_bound, rtol=1e-15)
    np.testing.assert_allclose(r.T_printed_bound, 9 / (gamma**4 * eps**2), rtol=RTOL)
    np.testing.assert_allclose(r.eta_printed, gamma**2 * eps / 3, rtol=RTOL)
    assert np.all(r.T_printed < r.T) and np.all(r.eta_printed > r.eta)


def test_soft_scaling_identity():
    gamma = np.geomspace(1e-4, 0.5, 7)[:, None]
    eps = np.geomspace(1e-6, 0.99, 9)
    r = corollary4(gamma, eps, 100, 0.01)
    k = r.m_bound * gamma**2 * eps
    np.testing.assert_allclose(k, k[0, 0], rtol=RTOL)
    np.testing.assert_allclose(r.T_bound * gamma**4 * eps**2, 9216.0, rtol=RTOL)
    np.testing.assert_allclose(r.eta / (gamma**2 * eps), 1 / 96, rtol=RTOL)


def test_hard_scaling_identity():
    gamma = np.geomspace(1e-4, 0.5, 11)
    for beta in (1e-6, 0.01, 0.7):
        r = proposition5(gamma, beta, 100, 0.01, eta=0.5)
        k = r.m_bound * gamma**4
        np.testing.assert_allclose(k, k[0], rtol=RTOL)
        np.testing.assert_allclose(r.T_bound * gamma**2, r.T_bound[0] * gamma[0] ** 2, rtol=RTOL)
        np.testing.assert_allclose(r.B * gamma, r.B[0] * gamma[0], rtol=RTOL)
    # T is inversely proportional to eta
    eta = np.array([1.0, 0.5, 1e-3])
    r = proposition5(0.1, 0.01, 100, 0.01, eta=eta)
    np.testing.assert_allclose(r.T_bound * eta, r.T_bound[0], rtol=RTOL)


def test_hard_width_grows_as_log_squared():
    # E12: with the n/delta term removed (huge c only shrinks the L term; use the ratio at tiny
    # beta), m_hard ~ L^2 / gamma^4, so m(beta^2) / m(beta) -> 4 as beta -> 0.
    b1, b2 = 1e-100, 1e-200
    r1, r2 = proposition5(0.1, b1, 2, 0.3), proposition5(0.1, b2, 2, 0.3)
    L1, L2 = float(r1.L), float(r2.L)
    assert float(r2.m_bound / r1.m_bound) == pytest.approx(4.0, rel=0.05)
    assert L2 / L1 == pytest.approx(2.0, rel=0.01)


# --------------------------------------------------------------------------------- monotonicity

unit = st.floats(0.0, 1.0)


def _between(lo, hi, u):
    """A value in [lo, hi] on a log scale, from u in [0, 1] (clamped: exp(log(hi)) can round above hi)."""
    return min(hi, max(lo, math.exp(math.log(lo) + u * (math.log(hi) - math.log(lo)))))


def _pair(lo, hi, u, v):
    """Two values x < y in [lo, hi] with y >= x (1 + 1e-6): far enough apart that rounding cannot tie them."""
    x = _between(lo, hi / (1 + 1e-6), u)
    y = _between(x * (1 + 1e-6), hi, v)
    return x, y


RANGES = {
    "gamma": (1e-6, 0.5),
    "eps": (1e-9, 0.999),
    "beta": (1e-9, 0.999),
    "delta": (1e-12, 0.333),
    "c": (1e-3, 1.0),
    "eta": (1e-6, 1.0),
    "C1": (1e-3, 1e6),
}


def _strict(a, b, direction):
    a, b = float(a), float(b)
    assert (b > a) if direction > 0 else (b < a), (a, b)


def _weak(a, b, direction):
    a, b = float(a), float(b)
    assert (b >= a) if direction > 0 else (b <= a), (a, b)


# (function, base point, argument, {field: +1 increasing, -1 decreasing, 0 constant})
MONOTONE = [
    (
        theorem2,
        dict(beta=0.05, n=100, delta=0.01, c=1.0, C1=C1_PRINTED),
        "beta",
        {"m_bound": -1, "T_bound": -1, "eta": +1},
    ),
    (theorem2, dict(beta=0.05, n=100, delta=0.01, c=1.0, C1=C1_PRINTED), "delta", {"m_bound": -1, "T_bound": 0}),
    (theorem2, dict(beta=0.05, n=100, delta=0.01, c=1.0, C1=C1_PRINTED), "c", {"m_bound": -1, "T_bound": 0}),
    (theorem2, dict(beta=0.05, n=100, delta=0.01, c=1.0, C1=C1_PRINTED), "C1", {"m_bound": +1, "T_bound": 0}),
    (
        corollary4,
        dict(gamma=0.1, eps=0.1, n=100, delta=0.01, c=1.0, C1=C1_PRINTED),
        "gamma",
        {"m_bound": -1, "T_bound": -1, "eta": +1, "T_printed_bound": -1, "eta_printed": +1},
    ),
    (
        corollary4,
        dict(gamma=0.1, eps=0.1, n=100, delta=0.01, c=1.0, C1=C1_PRINTED),
        "eps",
        {"m_bound": -1, "T_bound": -1, "eta": +1},
    ),
    (
        corollary4,
        dict(gamma=0.1, eps=0.1, n=100, delta=0.01, c=1.0, C1=C1_PRINTED),
        "delta",
        {"m_bound": -1, "T_bound": 0, "eta": 0},
    ),
    (corollary4, dict(gamma=0.1, eps=0.1, n=100, delta=0.01, c=1.0, C1=C1_PRINTED), "c", {"m_bound": -1}),
    (corollary4, dict(gamma=0.1, eps=0.1, n=100, delta=0.01, c=1.0, C1=C1_PRINTED), "C1", {"m_bound": +1}),
    (
        proposition5,
        dict(gamma=0.1, beta=0.05, n=100, delta=0.01, c=1.0, eta=1.0),
        "gamma",
        {"m_bound": -1, "T_bound": -1, "B": -1},
    ),
    (
        proposition5,
        dict(gamma=0.1, beta=0.05, n=100, delta=0.01, c=1.0, eta=1.0),
        "beta",
        {"m_bound": -1, "T_bound": -1, "B": -1, "L": -1},
    ),
    (
        proposition5,
        dict(gamma=0.1, beta=0.05, n=100, delta=0.01, c=1.0, eta=1.0),
        "delta",
        {"m_bound": -1, "T_bound": 0, "B": 0},
    ),
    (proposition5, dict(gamma=0.1, beta=0.05, n=100, delta=0.01, c=1.0, eta=1.0), "c", {"m_bound": -1, "T_bound": 0}),
    (
        proposition5,
        dict(gamma=0.1, beta=0.05, n=100, delta=0.01, c=1.0, eta=1.0),
        "eta",
        {"m_bound": 0, "T_bound": -1, "B": 0},
    ),
]

ROUNDED = {"m_bound": "m", "T_bound": "T", "T_printed_bound": "T_printed"}


@pytest.mark.parametrize("func, base, arg, fields", MONOTONE, ids=lambda x: getattr(x, "__name__", None))
@settings(max_examples=40, deadline=None)
@given(u=unit, v=unit, w=unit)
def test_monotone_in_each_real_argument(func, base, arg, fields, u, v, w):
    lo, hi = RANGES[arg]
    x, y = _pair(lo, hi, u, v)
    # move one other real argument too, so the check is not only at one base point
    others = [k for k in base if k != arg and k in RANGES]
    other = others[int(w * (len(others) - 1e-9))]
    kw = dict(base, **{other: _between(*RANGES[other], w)})
    rx, ry = func(**dict(kw, **{arg: x})), func(**dict(kw, **{arg: y}))
    for field, direction in fields.items():
        if direction == 0:
            assert float(getattr(rx, field)) == float(getattr(ry, field)), field
            continue
        _strict(getattr(rx, field), getattr(ry, field), direction)
        if field in ROUNDED:
            _weak(getattr(rx, ROUNDED[field]), getattr(ry, ROUNDED[field]), direction)


@settings(max_examples=40, deadline=None)
@given(a=st.integers(1, 10**12), b=st.integers(1, 10**6), gamma=st.floats(1e-4, 0.5), eps=st.floats(1e-6, 0.99))
def test_monotone_in_n(a, b, gamma, eps):
    n1, n2 = a, a + b
    _strict(theorem2(eps, n1, 0.01).m_bound, theorem2(eps, n2, 0.01).m_bound, +1)
    s1, s2 = corollary4(gamma, eps, n1, 0.01), corollary4(gamma, eps, n2, 0.01)
    _strict(s1.m_bound, s2.m_bound, +1)
    _weak(s1.m, s2.m, +1)
    assert float(s1.T_bound) == float(s2.T_bound)
    h1, h2 = proposition5(gamma, eps, n1, 0.01), proposition5(gamma, eps, n2, 0.01)
    _strict(h1.m_bound, h2.m_bound, +1)
    assert float(h1.T_bound) == float(h2.T_bound) and float(h1.B) == float(h2.B)


@settings(max_examples=30, deadline=None)
@given(u=unit, v=unit, w=unit)
def test_lemma_monotone(u, v, w):
    g1, g2 = _pair(1e-4, 0.5, u, v)
    r = _between(1e-12, 1e-2, w)
    _weak(lemma3(r, g1), lemma3(r, g2), -1)
    r1, r2 = _pair(1e-12, 1.0, u, v)
    _weak(lemma3(r1, 0.3), lemma3(r2, 0.3), +1)
    m1 = 2 * (1 + int(u * 1e6))
    m2 = m1 + 2 * (1 + int(v * 1e6))
    for init in ("symmetric", "independent"):
        _strict(lemma6_radius(m1, 100, 0.05, init=init), lemma6_radius(m2, 100, 0.05, init=init), -1)
        d1, d2 = _pair(1e-9, 0.999, u, w)
        _strict(lemma6_radius(m1, 100, d1, init=init), lemma6_radius(m1, 100, d2, init=init), -1)


# ------------------------------------------------------------------ broadcasting and evenness


def test_broadcast_shapes_and_elementwise_agreement():
    gamma = np.array([0.5, 0.1, 0.01])[:, None, None]
    eps = np.array([0.2, 0.01])[None, :, None]
    n = np.array([10, 1000, 10**6, 7])
    r = neurons_required(gamma, eps, n, 0.01)
    shape = (3, 2, 4)
    for obj in (r, r.soft, r.hard):
        for f in dataclasses.fields(obj):
            value = getattr(obj, f.name)
            if dataclasses.is_dataclass(value):
                continue
            assert np.shape(value) == shape, (type(obj).__name__, f.name)
    for i, j, k in [(0, 0, 0), (1, 1, 2), (2, 0, 3), (2, 1, 1)]:
        one = neurons_required(float(gamma[i, 0, 0]), float(eps[0, j, 0]), int(n[k]), 0.01)
        assert float(one.soft.m) == r.soft.m[i, j, k]
        assert float(one.hard.m) == r.hard.m[i, j, k]
        assert float(one.hard.T) == r.hard.T[i, j, k]
        assert float(one.ratio) == r.ratio[i, j, k]
        assert one.fewer == r.fewer[i, j, k]


def test_lists_and_every_argument_broadcast():
    r = theorem2([0.1, 0.2], [[10], [20], [30]], 0.01, c=[1.0, 0.5], C1=[[1.0], [2.0], [3.0]])
    assert r.m.shape == r.C1.shape == r.eta.shape == r.n.shape == (3, 2)
    r = proposition5(0.1, 0.01, 100, 0.01, eta=[[1.0, 0.5, 0.1]])
    assert r.T.shape == r.B.shape == r.eta.shape == (1, 3)
    assert lemma3([[0.0], [1e-5]], [0.1, 0.2, 0.3]).shape == (2, 3)
    assert lemma6_radius([2, 4, 6], [[10], [20]], 0.05).shape == (2, 3)


def test_scalar_inputs_give_scalars():
    r = corollary4(0.1, 0.1, 100, 0.01)
    for f in dataclasses.fields(r):
        assert np.ndim(getattr(r, f.name)) == 0, f.name
    assert isinstance(r.m, np.float64) and isinstance(r.n, int)
    assert isinstance(neurons_required(0.1, 0.1, 100, 0.01).fewer, str)
    assert isinstance(kl_risk_at_init([0.3, 0.6]), float)


def test_results_are_frozen():
    r = theorem2(0.1, 100, 0.01)
    with pytest.raises(dataclasses.FrozenInstanceError):
        r.m = 4.0
    assert r.result == "Theorem 2" and "R_KL" in r.guarantee
    assert corollary4(0.1, 0.1, 10, 0.1).result == "Corollary 4"
    assert "R_h" in proposition5(0.1, 0.1, 10, 0.1).guarantee


@settings(max_examples=60, deadline=None)
@given(
    g=st.floats(1e-8, 0.5),
    e=st.floats(1e-12, 0.999),
    n=st.integers(1, 10**9),
    d=st.floats(1e-12, 0.333),
    c=st.floats(1e-6, 1.0),
)
def test_widths_are_even_and_minimal(g, e, n, d, c):
    for r in (corollary4(g, e, n, d, c), proposition5(g, e, n, d, c), theorem2(e, n, d, c)):
        m = float(r.m)
        assert m % 2 == 0 and m >= 2
        if math.isfinite(m):
            exact = int(m)  # exact: m holds an integer
            assert exact % 2 == 0 and exact >= float(r.m_bound)
            # no smaller even float64 integer lies above the bound
            assert exact - 2 < float(r.m_bound) or float(exact - 2) == float(r.m_bound) == m
        check_rounding(r)


def test_huge_widths_are_exact_even_integers():
    r = corollary4(1e-6, 1e-6, 100, 0.01)
    m = int(r.m)
    assert m > 2**53 and m % 2 == 0
    assert float(m) == float(r.m) and m >= float(r.m_bound)
    ref = ref_corollary4(1e-6, 1e-6, 100, 0.01, 1.0, C1_PRINTED)["m_bound"]
    assert float(r.m_bound) == pytest.approx(ref, rel=RTOL)
    # around 2**52..2**54 the rounding up to even is still exact
    for target in (2.0**52 + 1, 2.0**53 - 1, 2.0**53 + 2, 2.0**54 + 4):
        beta = C1_PRINTED * S_soft(100, 0.01, 1.0) ** 2 / target
        r = theorem2(beta, 100, 0.01)
        assert int(r.m) % 2 == 0 and int(r.m) >= float(r.m_bound) and int(r.m) - float(r.m_bound) < 2


# --------------------------------------------------------------------------- no overflow, ever


def test_no_inf_where_a_finite_value_exists():
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no overflow/underflow RuntimeWarning either
        # 2 / (ln 2 beta) overflows float64 here, but L, B and the width are finite
        beta = 1e-310
        r = proposition5(0.5, beta, 10, 0.1)
        L = math.log(2) - math.log(math.log(2)) - math.log(beta)
        assert float(r.L) == pytest.approx(L, rel=1e-14)
        assert float(r.B) == pytest.approx(4 * L, rel=1e-14)
        m_ref = 16 / 0.5**4 * (2 * math.sqrt(2 / math.pi) * L + 3 * math.sqrt(math.log(200))) ** 2
        assert float(r.m_bound) == pytest.approx(m_ref, rel=1e-13)
        # T really exceeds the float64 range: inf, with a finite logarithm
        assert r.T_bound == np.inf
        logT = math.log10(8) + 2 * math.log10(L) - 2 * math.log10(0.5) - math.log10(math.log(2)) - math.log10(beta)
        assert float(r.log10_T_bound) == pytest.approx(logT, rel=1e-13)
        # gamma^2 underflows, yet with a tiny C1 the width is an ordinary number
        r = corollary4(1e-160, 0.5, 10, 0.1, C1=1e-300)
        log10_ref = math.log10(32e-300) + 2 * math.log10(S_soft(10, 0.1, 1.0)) + 320 - math.log10(0.5)
        assert math.isfinite(float(r.m_bound))
        assert math.log10(float(r.m_bound)) == pytest.approx(log10_ref, rel=1e-13)
        # sqrt(2/pi)/c overflows, the width does not
        r = theorem2(0.5, 10, 0.1, c=1e-165, C1=1e-300)
        # sqrt(C1) (sqrt(2/pi)/c + 3 sqrt(ln(2n/delta))) with sqrt(C1) = 1e-150, 1/c = 1e165
        ref = (math.sqrt(2 / math.pi) * 1e15 + 3e-150 * math.sqrt(math.log(200))) ** 2 / 0.5
        assert float(r.m_bound) == pytest.approx(ref, rel=1e-12)
        # a subnormal margin: the width is beyond float64, its logarithm is not
        r = corollary4(5e-324, 1e-300, 10**400, 1e-300, c=5e-324)
        assert r.m == np.inf and r.m_bound == np.inf and math.isfinite(float(r.log10_m_bound))
        assert float(r.log10_m_bound) > 308
        n_big = neurons_required(1e-200, 1e-300, 10, 0.1)
        assert math.isfinite(float(n_big.ratio)) and n_big.fewer == "soft"
        diff = float(n_big.hard.log10_m_bound - n_big.soft.log10_m_bound)
        assert math.log10(float(n_big.ratio)) == pytest.approx(diff, rel=1e-12)


def test_huge_n_as_python_int():
    n = 10**400  # beyond float64
    r = corollary4(0.1, 0.1, n, 0.01)
    assert math.isfinite(float(r.m_bound))
    ell = math.log(2) + 400 * math.log(10) - math.log(0.01)
    ref = 32 * C1_PRINTED / 1e-3 * (math.sqrt(2 / math.pi) + 3 * math.sqrt(ell)) ** 2
    assert float(r.m_bound) == pytest.approx(ref, rel=RTOL)
    assert r.n == n


# ------------------------------------------------------------------------------- the comparison


@pytest.mark.parametrize("gamma, eps", [(0.01, 0.1), (0.4, 0.01), (0.1, 0.1), (0.2, 0.3)])
def test_neurons_required_is_the_two_results(gamma, eps):
    r = neurons_required(gamma, eps, 100, 0.01, c=0.8)
    s = corollary4(gamma, eps, 100, 0.01, c=0.8)
    h = proposition5(gamma, eps * math.log(2), 100, 0.01, c=0.8, eta=1.0)
    for f in ("m", "m_bound", "T", "eta", "B"):
        assert float(getattr(r.soft, f)) == float(getattr(s, f))
        assert float(getattr(r.hard, f)) == float(getattr(h, f))
    assert float(r.hard.error_target) == pytest.approx(eps, rel=1e-15)
    assert float(r.ratio) == float(h.m) / float(s.m)
    assert r.fewer == ("soft" if h.m > s.m else "hard" if h.m < s.m else "equal")


def test_soft_needs_fewer_when_margin_is_small():
    # THEORY.md: the soft bound is the smaller one roughly when gamma < eps
    assert neurons_required(0.001, 0.1, 100, 0.01).fewer == "soft"
    assert neurons_required(0.4, 0.001, 100, 0.01).fewer == "hard"


# ----------------------------------------------------------------------------------- the lemmas


def test_lemma3_values_and_cap():
    risk = np.array([0.0, 1e-6, 1e-4, 3e-4, 1.0])
    for g in (0.5, 0.1, 0.03):
        expected = np.minimum(32 * risk / g**2, 1.0)
        np.testing.assert_allclose(lemma3(risk, g), expected, rtol=1e-15)
    assert float(lemma3(1e300, 1e-200)) == 1.0
    assert float(lemma3(0.0, 1e-300)) == 0.0


def test_lemma6_radius_values():
    for m, n, delta in [(2, 1, 0.5), (1000, 100, 0.05), (10**6, 60000, 1e-6)]:
        ell = math.log(2 * n / delta)
        assert float(lemma6_radius(m, n, delta)) == pytest.approx(2 * math.sqrt(ell / m), rel=1e-14)
        assert float(lemma6_radius(m, n, delta, init="independent")) == pytest.approx(math.sqrt(2 * ell / m), rel=1e-14)
    ratio = lemma6_radius(1000, 100, 0.05) / lemma6_radius(1000, 100, 0.05, init="independent")
    assert float(ratio) == pytest.approx(math.sqrt(2), rel=1e-14)
    # odd widths are fine for independent neurons
    assert float(lemma6_radius(3, 1, 0.5, init="independent")) == pytest.approx(math.sqrt(2 * math.log(4) / 3))
    # widths beyond float64
    huge = lemma6_radius(10**400, 10, 0.1)
    assert float(huge) == pytest.approx(2 * math.sqrt(math.log(200)) * 1e-200, rel=1e-12)
    assert float(lemma6_radius(1e20, 10, 0.1)) == pytest.approx(2 * math.sqrt(math.log(200) / 1e20), rel=1e-14)


def test_kl_risk_at_init():
    p = np.array([0.5, 0.3775, 0.6225, 0.9, 0.0, 1.0])
    H = [-(q * math.log(q) + (1 - q) * math.log(1 - q)) if 0 < q < 1 else 0.0 for q in p]
    expected = math.log(2) - sum(H) / len(H)
    assert kl_risk_at_init(p) == pytest.approx(expected, rel=1e-13)
    assert kl_risk_at_init([0.5]) == 0.0
    # soft labels of a max-margin teacher lie in [mu(-1/2), mu(1/2)]: threshold at most ~0.0303
    edge = 1 / (1 + math.exp(-0.5))
    top = kl_risk_at_init([edge, 1 - edge])
    assert top == pytest.approx(math.log(2) + edge * math.log(edge) + (1 - edge) * math.log(1 - edge), rel=1e-13)
    assert 0.0302 < top < 0.0304


# ------------------------------------------------------------------------------ error messages

GAMMA_RANGE = "must lie in (0, 1/2] (the NTK margin cannot exceed 1/2 when ||x_i|| <= 1)."
C1_TEXT = "'printed' (96/(1+e^2) = 11.4435), 'alternative' (96(1+e^2) = 805.35)"

ERRORS = [
    (corollary4, dict(gamma=0.6), ValueError, "gamma == 0.6, " + GAMMA_RANGE),
    (corollary4, dict(gamma=0.0), ValueError, "gamma == 0.0, " + GAMMA_RANGE),
    (corollary4, dict(gamma=float("nan")), ValueError, "gamma == nan, " + GAMMA_RANGE),
    (
        corollary4,
        dict(gamma=[0.1, 0.2, 0.7, 0.8]),
        ValueError,
        "gamma[2] == 0.7, must lie in (0, 1/2] (the NTK margin cannot exceed 1/2 when ||x_i|| <= 1); "
        "2 of 4 entries are outside.",
    ),
    (corollary4, dict(gamma="0.1"), TypeError, "gamma must be a real number or an array of real numbers, got '0.1'."),
    (corollary4, dict(gamma=True), TypeError, "gamma must be a real number or an array of real numbers, got True."),
    (corollary4, dict(eps=1.0), ValueError, "eps == 1.0, must lie in (0, 1)."),
    (
        corollary4,
        dict(eps=[[0.1], [float("inf")]]),
        ValueError,
        "eps[1, 0] == inf, must lie in (0, 1); 1 of 2 entries are outside.",
    ),
    (corollary4, dict(n=0), ValueError, "n == 0, must be >= 1."),
    (corollary4, dict(n=2.5), TypeError, "n must be an integer, got 2.5."),
    (corollary4, dict(n=[5, -1]), ValueError, "n[1] == -1, must be >= 1; 1 of 2 entries are outside."),
    (corollary4, dict(n=[5.0, 2.5]), TypeError, "n[1] == 2.5, must be an integer."),
    (
        corollary4,
        dict(delta=1 / 3),
        ValueError,
        f"delta == {1 / 3!r}, must lie in (0, 1/3) (the confidence is 1 - 3 delta).",
    ),
    (corollary4, dict(c=1.5), ValueError, "c == 1.5, must lie in (0, 1]."),
    (corollary4, dict(C1="paper"), ValueError, f"C1 == 'paper', must be {C1_TEXT} or a positive real number."),
    (corollary4, dict(C1=0.0), ValueError, f"C1 == 0.0, must be {C1_TEXT} or a positive finite real number."),
    (
        corollary4,
        dict(gamma=[0.1, 0.2], eps=[0.1, 0.2, 0.3]),
        ValueError,
        "the array arguments do not broadcast together: gamma with shape (2,), eps with shape (3,). Give them "
        "shapes that numpy can broadcast, e.g. gamma[:, None] against eps[None, :] for a grid.",
    ),
    (theorem2, dict(beta=0.0), ValueError, "beta == 0.0, must lie in (0, 1)."),
    (proposition5, dict(beta=1.0), ValueError, "beta == 1.0, must lie in (0, 1)."),
    (proposition5, dict(eta=1.5), ValueError, "eta == 1.5, must lie in (0, 1]."),
    (proposition5, dict(eta=0.0), ValueError, "eta == 0.0, must lie in (0, 1]."),
    (neurons_required, dict(eps=0.0), ValueError, "eps == 0.0, must lie in (0, 1)."),
    (lemma3, dict(risk_kl=-0.1), ValueError, "risk_kl == -0.1, must be a finite real number >= 0."),
    (lemma3, dict(gamma=0.51), ValueError, "gamma == 0.51, " + GAMMA_RANGE),
    (
        lemma6_radius,
        dict(m=3),
        ValueError,
        "m == 3, must be even (the symmetric initialisation pairs neuron j with neuron j + m/2).",
    ),
    (
        lemma6_radius,
        dict(m=[2, 4, 5]),
        ValueError,
        "m[2] == 5, must be >= 2 and even (the symmetric initialisation pairs neuron j with neuron j + m/2); "
        "1 of 3 entries are outside.",
    ),
    (lemma6_radius, dict(m=0, init="independent"), ValueError, "m == 0, must be >= 1."),
    (lemma6_radius, dict(init="paired"), ValueError, "init == 'paired', must be 'symmetric' or 'independent'."),
    (lemma6_radius, dict(delta=1.0), ValueError, "delta == 1.0, must lie in (0, 1)."),
    (
        kl_risk_at_init,
        dict(p=[0.5, 1.2]),
        ValueError,
        # the value's repr comes from the shared validation helper: match up to it
        "p must lie in [0, 1] (soft labels p_i = mu(z_i)), got 1 value(s) outside, e.g. ",
    ),
    (kl_risk_at_init, dict(p=[]), ValueError, "p is empty; it needs at least one soft label."),
]

DEFAULTS = {
    theorem2: dict(beta=0.1, n=10, delta=0.1),
    corollary4: dict(gamma=0.1, eps=0.1, n=10, delta=0.1),
    proposition5: dict(gamma=0.1, beta=0.1, n=10, delta=0.1),
    neurons_required: dict(gamma=0.1, eps=0.1, n=10, delta=0.1),
    lemma3: dict(risk_kl=0.01, gamma=0.1),
    lemma6_radius: dict(m=10, n=10, delta=0.1),
    kl_risk_at_init: dict(p=[0.5]),
}


@pytest.mark.parametrize(
    "func, bad, exc, message", ERRORS, ids=[f"{f.__name__}-{'-'.join(b)}-{i}" for i, (f, b, _, _) in enumerate(ERRORS)]
)
def test_error_messages(func, bad, exc, message):
    end = "" if message.endswith("e.g. ") else "$"  # a prefix only where marked above
    with pytest.raises(exc, match="^" + re.escape(message) + end):
        func(**dict(DEFAULTS[func], **bad))


# ------------------------------------------------------------------ properties that can fail
#
# Each property below is built by a factory that takes the function under test, so the same
# property runs on the library (it must hold) and on a planted mutant with a wrong exponent or
# constant (it must fail): a test of the test. On a mutant hypothesis stops at the first failing
# example (no shrinking), to keep the suite fast.


def _prop_settings(max_examples, mutant):
    if mutant:
        return settings(max_examples=max_examples, deadline=None, database=None, phases=[Phase.generate])
    return settings(max_examples=max_examples, deadline=None)


def _mutate(func, field, factor):
    """``func`` with one output field multiplied by ``factor(**arguments)``: a planted wrong exponent or constant."""

    def mutant(*args, **kw):
        names = (
            ("gamma", "eps", "n", "delta")
            if func is corollary4
            else (("gamma", "beta", "n", "delta") if func is proposition5 else ("beta", "n", "delta"))
        )
        named = dict(zip(names, args), **kw)
        r = func(*args, **kw)
        return dataclasses.replace(r, **{field: getattr(r, field) * factor(**named)})

    return mutant


def _exponent(f1, f2, x1, x2):
    return math.log(float(f2) / float(f1)) / math.log(x2 / x1)


def _scaling_property(t2, c4, p5, mutant=False):
    """Exponents of every bound in its real arguments, each from a ratio at two points."""

    @_prop_settings(40, mutant)
    @given(
        a=st.floats(1e-3, 0.5),
        b=st.floats(1e-3, 0.5),
        e1=st.floats(1e-4, 0.9),
        e2=st.floats(1e-4, 0.9),
        n1=st.integers(1, 10**6),
        n2=st.integers(1, 10**6),
        d1=st.floats(1e-6, 0.3),
        d2=st.floats(1e-6, 0.3),
    )
    def prop(a, b, e1, e2, n1, n2, d1, d2):
        if abs(a - b) < 1e-3 * a or abs(e1 - e2) < 1e-3 * e1:
            return
        # Theorem 2: m ~ 1/beta, T ~ 1/beta^2, eta ~ beta; n and delta only through ln(2n/delta)
        r1, r2 = t2(e1, n1, d1), t2(e2, n1, d1)
        assert _exponent(r1.m_bound, r2.m_bound, e1, e2) == pytest.approx(-1, rel=1e-9)
        assert _exponent(r1.T_bound, r2.T_bound, e1, e2) == pytest.approx(-2, rel=1e-9)
        assert _exponent(r1.eta, r2.eta, e1, e2) == pytest.approx(1, rel=1e-9)
        q1, q2 = t2(e1, n1, d1), t2(e1, n2, d2)
        s = [(math.sqrt(float(q.m_bound) * e1 / float(q.C1)) - math.sqrt(2 / math.pi)) / 3 for q in (q1, q2)]
        assert s[1] ** 2 / s[0] ** 2 == pytest.approx(math.log(2 * n2 / d2) / math.log(2 * n1 / d1), rel=1e-9)
        # Corollary 4: m ~ gamma^-2 eps^-1, T ~ gamma^-4 eps^-2, eta ~ gamma^2 eps
        g1, g2 = c4(a, e1, n1, d1), c4(b, e1, n1, d1)
        assert _exponent(g1.m_bound, g2.m_bound, a, b) == pytest.approx(-2, rel=1e-9)
        assert _exponent(g1.T_bound, g2.T_bound, a, b) == pytest.approx(-4, rel=1e-9)
        assert _exponent(g1.eta, g2.eta, a, b) == pytest.approx(2, rel=1e-9)
        h1, h2 = c4(a, e1, n1, d1), c4(a, e2, n1, d1)
        assert _exponent(h1.m_bound, h2.m_bound, e1, e2) == pytest.approx(-1, rel=1e-9)
        assert _exponent(h1.T_bound, h2.T_bound, e1, e2) == pytest.approx(-2, rel=1e-9)
        # Proposition 5 at a fixed beta: m ~ gamma^-4 only at a fixed bracket, T ~ gamma^-2, B ~ gamma^-1
        k1, k2 = p5(a, e1, n1, d1), p5(b, e1, n1, d1)
        assert _exponent(k1.T_bound, k2.T_bound, a, b) == pytest.approx(-2, rel=1e-9)
        assert _exponent(k1.B, k2.B, a, b) == pytest.approx(-1, rel=1e-9)
        L = math.log(2 / (math.log(2) * e1))
        for k, g in ((k1, a), (k2, b)):
            root = math.sqrt(float(k.m_bound) * g**4 / 16)  # (2 sqrt 2 / sqrt pi) L + 3 sqrt(ln(2n/delta))
            assert root == pytest.approx(
                2 * math.sqrt(2 / math.pi) * L + 3 * math.sqrt(math.log(2 * n1 / d1)), rel=1e-9
            )

    return prop


def test_bound_exponents_by_ratios():
    _scaling_property(theorem2, corollary4, proposition5)()


@pytest.mark.parametrize(
    "which",
    [
        "t2 m ~ beta^-0.9",
        "t2 m constant 8/9",
        "c4 m ~ gamma^-1",
        "c4 T ~ eps^-1",
        "p5 B ~ gamma^-2",
        "p5 m constant 17",
    ],
)
def test_bound_exponent_property_catches_a_planted_mutant(which):
    t2, c4, p5 = theorem2, corollary4, proposition5
    if which == "t2 m ~ beta^-0.9":
        t2 = _mutate(theorem2, "m_bound", lambda beta, **_: beta**0.1)
    elif which == "t2 m constant 8/9":
        # a wrong constant leaves the exponent in beta alone; it shows in the ratio in n and delta
        t2 = _mutate(theorem2, "m_bound", lambda **_: 8 / 9)
    elif which == "c4 m ~ gamma^-1":
        c4 = _mutate(corollary4, "m_bound", lambda gamma, **_: gamma)
    elif which == "c4 T ~ eps^-1":
        c4 = _mutate(corollary4, "T_bound", lambda eps, **_: eps)
    elif which == "p5 B ~ gamma^-2":
        p5 = _mutate(proposition5, "B", lambda gamma, **_: 1 / gamma)
    else:
        p5 = _mutate(proposition5, "m_bound", lambda **_: 17 / 16)
    with pytest.raises(AssertionError):
        _scaling_property(t2, c4, p5, mutant=True)()


def _lemma3_property(bound, mutant=False):
    """Lemma 3 on random small data sets along short PGD trajectories (every recorded iterate)."""
    from ntkdistill import pgd, sigmoid

    @_prop_settings(25, mutant)
    @given(
        n=st.integers(1, 4),
        d=st.integers(1, 3),
        seed=st.integers(0, 2**32 - 1),
        gmin=st.floats(0.005, 0.5),
        eta=st.floats(0.05, 20.0),
        m=st.sampled_from([2, 4, 16]),
    )
    def prop(n, d, seed, gmin, eta, m):
        gen = np.random.default_rng(seed)
        X = gen.standard_normal((n, d))
        X /= np.maximum(np.linalg.norm(X, axis=1, keepdims=True), 1.0)
        y = gen.choice([-1.0, 1.0], size=n)
        z = y * gen.uniform(gmin, 0.5, size=n)  # teacher logits with y_i z_i >= gmin
        p = sigmoid(z)
        gamma = float(np.min(y * z))
        res = pgd(X, p, m=m, eta=eta, T=15, loss="kl", labels=y, rng=seed)
        assert np.all(res.error <= bound(res.risk, gamma) + 1e-12)

    return prop


def test_lemma3_property():
    _lemma3_property(lemma3)()


@pytest.mark.parametrize(
    "mutant",
    [
        lambda r, g: lemma3(r, g) / 10,  # constant 3.2 instead of 32
        lambda r, g: np.minimum(32 * np.asarray(r) / g, 1.0),
    ],
)  # gamma^-1
def test_lemma3_property_catches_a_planted_mutant(mutant):
    with pytest.raises(AssertionError):
        _lemma3_property(mutant, mutant=True)()


DELTA_L6 = 1e-6  # the property fails with probability <= 1e-6 per example; hypothesis draws are derandomised


def _lemma6_property(radius, mutant=False):
    """Lemma 6 on random initialisations: max_i |f^0_i(U) - z_i| <= r(m, n, delta)."""
    from ntkdistill.student import init_symmetric, linearised

    @_prop_settings(40, mutant)
    @given(n=st.integers(1, 3), d=st.integers(2, 4), seed=st.integers(0, 2**32 - 1), half=st.integers(1, 2048))
    def prop(n, d, seed, half):
        m = 2 * half
        gen = np.random.default_rng(seed)
        X = gen.standard_normal((n, d))
        X /= np.linalg.norm(X, axis=1, keepdims=True)
        u = X[0]  # a constant unit field v = u: exact teacher logits z_i = <u, x_i> / 2 (THEORY.md)
        z = X @ u / 2
        W0, a = init_symmetric(m, d, rng=gen)
        U = (a[:, None] / math.sqrt(m)) * np.tile(u, (m, 1))
        dev = float(np.max(np.abs(linearised(X, W0, a, U) - z)))
        assert dev <= float(radius(m, n, DELTA_L6))

    return prop


def test_lemma6_property():
    _lemma6_property(lemma6_radius)()


@pytest.mark.parametrize(
    "mutant",
    [
        lambda m, n, dl: lemma6_radius(m, n, dl) / 10,  # constant 0.2
        lambda m, n, dl: lemma6_radius(m, n, dl) / math.sqrt(m),
    ],
)  # m^-1
def test_lemma6_property_catches_a_planted_mutant(mutant):
    with pytest.raises(AssertionError):
        _lemma6_property(mutant, mutant=True)()
