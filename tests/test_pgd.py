"""Projected gradient descent: the update formula, projection invariants, batching, records, dtypes."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import ntkdistill as nd
from ntkdistill import losses
from ntkdistill.pgd import project_rows


def _data(n=12, d=4, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    X /= np.linalg.norm(X, axis=1, keepdims=True)
    y = np.where(X[:, 0] * X[:, 1] > 0, 1.0, -1.0)
    p = losses.sigmoid(0.4 * y + 0.1 * rng.normal(size=n))
    return X, y, p


def _direct_step(X, t, W, W0, a, eta, B, loss):
    """THEORY.md's update written out neuron by neuron, sample by sample."""
    m, _ = W.shape
    n = X.shape[0]
    f = np.array([sum(a[j] * max(0.0, W[j] @ x) for j in range(m)) / np.sqrt(m) for x in X])
    if loss == "kl":
        dl = 1 / (1 + np.exp(-f)) - t
    else:
        dl = -t / (1 + np.exp(t * f))
    W_new = np.empty_like(W)
    for j in range(m):
        grad = sum(dl[i] * a[j] / np.sqrt(m) * (W[j] @ X[i] > 0) * X[i] for i in range(n)) / n
        w_hat = W[j] - eta * grad
        diff = w_hat - W0[j]
        r = B / np.sqrt(m)
        norm = np.linalg.norm(diff)
        W_new[j] = W0[j] + diff * min(1.0, r / norm) if norm > 0 else w_hat
    return W_new


@pytest.mark.parametrize("backend", ["reference", "auto"])
@pytest.mark.parametrize("loss", ["kl", "logistic"])
@pytest.mark.parametrize("B", [np.inf, 0.05])
def test_steps_match_update_formula(loss, B, backend):
    """Both backends follow THEORY.md's update written neuron by neuron, sample by sample."""
    X, y, p = _data()
    t = p if loss == "kl" else y
    T = 3
    res = nd.pgd(X, t, m=6, eta=0.7, T=T, B=B, loss=loss, seeds=[11], backend=backend)
    W0, a = res.W0[0], res.a[0]
    W = W0.copy()
    for _ in range(T):
        W = _direct_step(X, t, W, W0, a, 0.7, B, loss)
    np.testing.assert_allclose(res.W[0], W, rtol=1e-12, atol=1e-13)
    if np.isfinite(B):
        # the radius is small enough that the projection is active
        assert res.max_distance[0] == pytest.approx(B / np.sqrt(6), rel=1e-12)


vectors = st.lists(st.floats(-5, 5), min_size=3, max_size=3)


@settings(max_examples=100, deadline=None)
@given(st.lists(vectors, min_size=1, max_size=4), st.floats(0.01, 3.0), st.integers(0, 1000))
def test_projection_invariants(rows, r, seed):
    W = np.array(rows)
    W0 = np.random.default_rng(seed).normal(size=W.shape)
    P = project_rows(W, W0, r)
    dist_before = np.linalg.norm(W - W0, axis=1)
    dist_after = np.linalg.norm(P - W0, axis=1)
    inside = dist_before <= r
    # a point inside the ball is unchanged
    np.testing.assert_array_equal(P[inside], W[inside])
    # a point outside lands on the sphere, along the same direction
    np.testing.assert_allclose(dist_after[~inside], r, rtol=1e-12)
    for j in np.flatnonzero(~inside):
        u = (W[j] - W0[j]) / dist_before[j]
        v = (P[j] - W0[j]) / dist_after[j]
        np.testing.assert_allclose(u, v, rtol=1e-10, atol=1e-12)
    # projecting twice changes nothing more than rounding
    np.testing.assert_allclose(project_rows(P, W0, r), P, rtol=1e-14, atol=1e-14)


def test_error_at_init_is_one_and_risk_is_kl_to_half():
    X, y, p = _data()
    res = nd.pgd(X, p, m=4, eta=1.0, T=2, seeds=3, rng=0, labels=y)
    assert np.all(res.error[:, 0] == 1.0)  # f(W(0)) = 0 exactly, ties are errors (E6)
    kl_half = np.mean(p * np.log(2 * p) + (1 - p) * np.log(2 * (1 - p)))
    np.testing.assert_allclose(res.risk[:, 0], kl_half, rtol=1e-12)


def test_batched_networks_equal_networks_trained_alone():
    X, y, p = _data(n=20, d=5, seed=3)
    res = nd.pgd(X, p, m=[4, 6, 8], eta=2.0, T=25, B=1.0, seeds=3, rng=42, labels=y)
    assert len(res) == 9 and res.widths.tolist() == [4, 4, 4, 6, 6, 6, 8, 8, 8]
    for k in range(len(res)):
        alone = nd.pgd(X, p, m=int(res.widths[k]), eta=2.0, T=25, B=1.0, seeds=[res.seeds[k]], labels=y)
        np.testing.assert_array_equal(alone.W0[0], res.W0[k])
        np.testing.assert_allclose(alone.W[0], res.W[k], rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(alone.risk[0], res.risk[k], rtol=1e-12, atol=1e-14)
        np.testing.assert_array_equal(alone.error[0], res.error[k])


def test_reproducible_from_seed_and_different_across_seeds():
    X, y, p = _data()
    r1 = nd.pgd(X, y, m=6, eta=1.0, T=10, loss="logistic", seeds=2, rng=5)
    r2 = nd.pgd(X, y, m=6, eta=1.0, T=10, loss="logistic", seeds=2, rng=5)
    for a, b in zip(r1.W, r2.W):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(r1.W0[0], r1.W0[1])  # spawned streams differ
    r3 = nd.pgd(X, y, m=6, eta=1.0, T=10, loss="logistic", seeds=2, rng=np.random.default_rng(5))
    assert len(r3) == 2


def test_averages_are_exact_with_and_without_recording():
    X, y, p = _data()
    full = nd.pgd(X, p, m=4, eta=1.0, T=30, seeds=2, rng=1, labels=y)
    every7 = nd.pgd(X, p, m=4, eta=1.0, T=30, seeds=2, rng=1, labels=y, record_every=7)
    off = nd.pgd(X, p, m=4, eta=1.0, T=30, seeds=2, rng=1, labels=y, record_every=None)
    np.testing.assert_allclose(full.avg_risk, full.risk[:, :30].mean(axis=1), rtol=1e-13)
    np.testing.assert_allclose(full.avg_error, full.error[:, :30].mean(axis=1), rtol=1e-13)
    for other in (every7, off):
        np.testing.assert_allclose(other.avg_risk, full.avg_risk, rtol=1e-13)
        np.testing.assert_array_equal(other.avg_error, full.avg_error)
    assert every7.iterations.tolist() == [0, 7, 14, 21, 28]
    np.testing.assert_array_equal(every7.risk, full.risk[:, every7.iterations])
    assert off.iterations.tolist() == [0] and off.risk.shape == (2, 1)
    np.testing.assert_allclose(full.final_risk, full.risk[:, 30], rtol=1e-13)


def test_projection_keeps_rows_in_their_balls():
    X, y, _ = _data()
    for B in (0.1, 1.0):
        res = nd.pgd(X, y, m=8, eta=5.0, T=40, B=B, loss="logistic", seeds=2, rng=0)
        for W, W0 in zip(res.W, res.W0):
            assert np.linalg.norm(W - W0, axis=1).max() <= B / np.sqrt(8) * (1 + 1e-12)
        assert np.all(res.max_distance <= B / np.sqrt(8) * (1 + 1e-12))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_each_networks_largest_distance_is_the_max_over_its_rows(dtype):
    """The stacked rows' distances reduced per network (both halves of the stack), NaN kept, in float64."""
    from ntkdistill.pgd import _segment_max, _Stack
    from ntkdistill.student import init_symmetric

    rng = np.random.default_rng(3)
    inits = [init_symmetric(w, 3, rng=k, dtype=dtype) for k, w in enumerate([2, 6, 4, 10])]
    st = _Stack(inits, dtype)
    for trial in range(3):
        values = rng.random(2 * st.h).astype(dtype)
        if trial == 2:
            values[st.h + st.starts[1] + 1] = np.nan  # the second network's second half
        got = _segment_max(values, st.starts, st.h)
        per_net = st.unstack(values[:, None])  # each network's rows, as pgd returns its weights
        want = np.array([np.max(v.astype(np.float64)) for v in per_net])
        assert got.dtype == np.float64
        np.testing.assert_array_equal(got, want)
        assert np.isnan(got[1]) == (trial == 2)


def test_training_reduces_risk_and_predict_agrees():
    X, y, p = _data(n=30)
    res = nd.pgd(X, y, m=16, eta=4.0, T=200, loss="logistic", seeds=2, rng=0)
    assert np.all(res.final_risk < res.risk[:, 0])
    f = res.predict(X)
    np.testing.assert_allclose(losses.logistic_risk(y, f, axis=1), res.final_risk, rtol=1e-10)
    np.testing.assert_allclose(res.error_on(X, y), res.final_error)


def test_float32_in_float32_out():
    X, y, p = _data()
    res = nd.pgd(X.astype(np.float32), p, m=6, eta=1.0, T=5, seeds=2, rng=0)
    assert all(W.dtype == np.float32 for W in res.W + res.W0)
    res64 = nd.pgd(X, p, m=6, eta=1.0, T=5, seeds=2, rng=0)
    np.testing.assert_allclose(res.W[0], res64.W[0], rtol=1e-5, atol=1e-6)
    res_req = nd.pgd(X, p, m=6, eta=1.0, T=5, seeds=2, rng=0, dtype="float32")
    assert res_req.W[0].dtype == np.float32
    assert res_req.predict(X).dtype == np.float32


@pytest.mark.parametrize(
    "kwargs,exc,msg",
    [
        (dict(m=5), ValueError, r"m == 5, must be even"),
        (dict(m=0), ValueError, r"m == 0, must be >= 2"),
        (dict(eta=0.0), ValueError, r"eta == 0, must lie in \(0, inf\)"),
        (dict(eta=float("nan")), ValueError, r"eta == nan, must be a finite real number"),
        (dict(T=0), ValueError, r"T == 0, must be >= 1"),
        (dict(T=2.5), TypeError, r"T must be an integer, got 2.5"),
        (dict(B=-1.0), ValueError, r"B == -1, must lie in \(0, inf\)"),
        (dict(loss="mse"), ValueError, r"loss == 'mse', must be one of \('kl', 'logistic'\)"),
        (dict(seeds=0), ValueError, r"seeds == 0, must be >= 1"),
        (dict(seeds=[1.5]), TypeError, r"seeds must be a positive int"),
        (dict(dtype="int32"), ValueError, r"dtype == int32, must be float32 or float64"),
        (
            dict(backend="numba"),
            ValueError,
            r"backend == 'numba', must be one of \('auto', 'reference', 'fast', 'trajectory'\)",
        ),
    ],
)
def test_validation_messages(kwargs, exc, msg):
    X, y, p = _data()
    args = dict(m=4, eta=1.0, T=3)
    args.update(kwargs)
    with pytest.raises(exc, match=msg):
        nd.pgd(X, p, **args)


def test_label_validation_messages():
    X, y, p = _data()
    with pytest.raises(
        ValueError,
        match=r"targets must contain only -1 and \+1, got values \[0, 1\]. To convert 0/1 labels use y = 2 \* y01 - 1",
    ):
        nd.pgd(X, (y > 0).astype(int), m=4, eta=1.0, T=1, loss="logistic")
    with pytest.raises(ValueError, match=r"targets must lie in \[0, 1\]"):
        nd.pgd(X, p + 1, m=4, eta=1.0, T=1)
    with pytest.raises(ValueError, match="targets has 11 entries but X has 12 rows"):
        nd.pgd(X, p[:-1], m=4, eta=1.0, T=1)
    bad = X.copy()
    bad[0, 0] = np.nan
    with pytest.raises(ValueError, match=r"X contains 1 non-finite value"):
        nd.pgd(bad, p, m=4, eta=1.0, T=1)
    with pytest.raises(ValueError, match=r"X must be a 2-D array"):
        nd.pgd(X[0], p[:1], m=4, eta=1.0, T=1)
    with pytest.raises(TypeError, match=r"X must be a real numeric array, got dtype complex128"):
        nd.pgd(X.astype(complex), p, m=4, eta=1.0, T=1)


def test_explicit_init_is_used():
    X, y, p = _data()
    W0, a = nd.init_symmetric(6, X.shape[1], rng=3)
    res = nd.pgd(X, p, m=6, eta=1.0, T=4, init=(W0, a))
    ref = nd.pgd(X, p, m=6, eta=1.0, T=4, seeds=[3])
    np.testing.assert_allclose(res.W[0], ref.W[0], rtol=1e-13)
