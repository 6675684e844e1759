"""The compiled trajectory (ntkdistill._fast.trajectory) against the plain PGD loop.

Every result of ``run_trajectory`` (final weights, recorded risks and errors, their averages,
the final risk and error, the largest distance to W(0)) must be those of the plain loop written
from THEORY.md: to 1e-12 in float64 and to float32 precision in float32; and the same bit for
bit on one thread and on two. Each (n, rank of X, symmetric or not) compiles its own sweep
(a few seconds), so the problems are drawn from a few shapes. No speed is asserted here;
``python -m benchmarks.trajectory`` measures it.
"""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

numba = pytest.importorskip("numba", reason="the trajectory kernel needs numba (the 'fast' extra)")

import ntkdistill as nd
from ntkdistill._fast.trajectory import MAX_POINTS, run_trajectory
from ntkdistill.losses import sigmoid
from ntkdistill.student import init_symmetric


def reference(X, targets, W0, a, *, eta, T, B, loss, labels, record_every, symmetric=True):
    """The reference loop's results (``pgd(backend="reference")``) in the layout of ``run_trajectory``.

    The one place to change. The reference loop's logits are the paired forward pass, exactly 0 at
    a symmetric W(0), where every tie is an error (E6), as in the kernel.
    """
    res = nd.pgd(
        X,
        targets,
        m=None,
        eta=eta,
        T=T,
        B=B,
        loss=loss,
        labels=labels,
        record_every=record_every,
        init=[(np.asarray(W0k), np.asarray(ak)) for W0k, ak in zip(W0, a)],
        backend="reference",
        dtype=np.asarray(X).dtype,
    )
    out = {
        k: np.asarray(getattr(res, k))
        for k in ("risk", "error", "avg_risk", "avg_error", "final_risk", "final_error", "max_distance", "iterations")
    }
    out["W"] = np.array(res.W)
    return out


def _tol(dtype):
    # float32: eps = 1.2e-7; the two computations round in different orders (and the kernel keeps
    # W - W(0) in its own coordinates), a few ulps of order-one quantities over a few steps
    return {"rtol": 1e-12, "atol": 1e-12} if dtype == np.float64 else {"rtol": 2e-5, "atol": 2e-6}


def _problem(n, d, m, K, seed, dtype, loss):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    X /= np.linalg.norm(X, axis=1, keepdims=True)
    z = 2.0 * rng.normal(size=n)
    targets = sigmoid(z) if loss == "kl" else np.where(z > 0, 1.0, -1.0)
    inits = [init_symmetric(m, d, rng=rng, dtype=dtype) for _ in range(K)]
    W0 = np.stack([w for w, _ in inits])
    a = np.stack([v for _, v in inits])
    return X.astype(dtype), targets, W0, a


def _compare(out, ref, dtype):
    tol = _tol(dtype)
    assert out["W"].dtype == dtype
    np.testing.assert_array_equal(out["iterations"], ref["iterations"])
    for key in ("W", "risk", "avg_risk", "final_risk", "max_distance"):
        np.testing.assert_allclose(out[key], ref[key], err_msg=key, **tol)
    for key in ("error", "final_error"):  # fractions of points: equal
        np.testing.assert_array_equal(out[key], ref[key], err_msg=key)
    np.testing.assert_allclose(out["avg_error"], ref["avg_error"], rtol=1e-14, atol=1e-15)  # a sum of T of them


# (n, d): the rank of X is 2 in both, so two compiled sweeps serve every draw
SHAPES = [(2, 3), (3, 2)]


@settings(max_examples=12)
@given(
    shape=st.sampled_from(SHAPES),
    half=st.integers(1, 9),
    K=st.integers(1, 3),
    loss=st.sampled_from(["kl", "logistic"]),
    B=st.sampled_from([np.inf, 0.5, 3.0]),
    eta=st.sampled_from([0.5, 2.0]),
    T=st.integers(1, 12),
    record_every=st.integers(1, 5),
    seed=st.integers(0, 2**16),
)
def test_float64_matches_the_plain_loop(shape, half, K, loss, B, eta, T, record_every, seed):
    n, d = shape
    X, t, W0, a = _problem(n, d, 2 * half, K, seed, np.float64, loss)
    labels = np.sign(t - 0.5) if loss == "kl" else t
    labels[labels == 0] = 1.0
    kw = {"eta": eta, "T": T, "B": B, "loss": loss, "labels": labels, "record_every": record_every}
    _compare(run_trajectory(X, t, W0, a, **kw), reference(X, t, W0, a, **kw), np.float64)


@pytest.mark.parametrize("loss", ["kl", "logistic"])
@pytest.mark.parametrize("B", [np.inf, 0.3])
def test_float32_matches_the_plain_loop_to_float32_precision(loss, B):
    X, t, W0, a = _problem(2, 3, 14, 2, 7, np.float32, loss)
    labels = np.where(t > 0.5, 1.0, -1.0) if loss == "kl" else t
    kw = {"eta": 1.0, "T": 9, "B": B, "loss": loss, "labels": labels.astype(np.float32), "record_every": 2}
    out = run_trajectory(X, t, W0, a, **kw)
    _compare(out, reference(X, t.astype(np.float32), W0, a, **kw), np.float32)


def test_several_chunks_and_threads_give_the_same_bits(monkeypatch):
    """Chunks of 16 pairs (a width of 70 leaves a padded last chunk), three networks shared by one
    thread or by two: the same results bit for bit, equal to the plain loop."""
    from ntkdistill._fast import trajectory

    monkeypatch.setattr(trajectory, "CHUNK", 16)
    X, t, W0, a = _problem(2, 3, 70, 3, 3, np.float64, "kl")
    kw = {"eta": 2.0, "T": 7, "B": 0.4, "loss": "kl", "labels": np.where(t > 0.5, 1.0, -1.0), "record_every": 3}
    runs = [run_trajectory(X, t, W0, a, threads=th, **kw) for th in (1, min(2, numba.config.NUMBA_NUM_THREADS))]
    for key in runs[0]:
        np.testing.assert_array_equal(runs[0][key], runs[1][key], err_msg=key)
    _compare(runs[0], reference(X, t, W0, a, **kw), np.float64)


def test_default_threads_follow_the_blas_limit(monkeypatch):
    """Inside a sweep's job (one BLAS thread) the kernel runs on one thread, not on all of numba's:
    two pool workers do not each take every core."""
    pytest.importorskip("threadpoolctl", reason="the BLAS thread count needs threadpoolctl")
    from ntkdistill.sweep import single_blas_thread

    seen = []
    real = numba.set_num_threads
    monkeypatch.setattr(numba, "set_num_threads", lambda k: (seen.append(k), real(k))[1])
    X, t, W0, a = _problem(2, 3, 8, 1, 3, np.float64, "kl")
    kw = {"eta": 1.0, "T": 3, "B": 1.0, "loss": "kl", "labels": np.where(t > 0.5, 1.0, -1.0)}
    with single_blas_thread():
        run_trajectory(X, t, W0, a, **kw)
    assert seen and seen[0] == 1
    seen.clear()
    run_trajectory(X, t, W0, a, threads=1, **kw)
    assert seen[0] == 1


def test_segments_continue_the_trajectory(monkeypatch):
    """A run cut into compiled calls of a few steps each gives the run in one call, bit for bit."""
    from ntkdistill._fast import trajectory

    X, t, W0, a = _problem(3, 2, 10, 2, 5, np.float64, "logistic")
    kw = {"eta": 1.0, "T": 11, "B": 1.0, "loss": "logistic", "record_every": 2}
    whole = run_trajectory(X, t, W0, a, **kw)
    monkeypatch.setattr(trajectory, "_SEGMENT_WORK", 3 * 2 * 10)  # three steps per call
    cut = run_trajectory(X, t, W0, a, **kw)
    for key in whole:
        np.testing.assert_array_equal(whole[key], cut[key], err_msg=key)


@pytest.mark.parametrize("B", [np.inf, 0.7])
def test_any_initialisation(B):
    """Pairs that do not share W(0) (not the symmetric initialisation): each neuron its own h0 and s."""
    rng = np.random.default_rng(11)
    X, t, _, _ = _problem(2, 3, 8, 1, 11, np.float64, "kl")
    W0 = rng.normal(size=(2, 8, 3))
    a = rng.choice([-1.0, 1.0], size=(2, 8))
    kw = {"eta": 1.5, "T": 6, "B": B, "loss": "kl", "labels": np.where(t > 0.5, 1.0, -1.0), "record_every": 1}
    out = run_trajectory(X, t, W0, a, **kw)
    _compare(out, reference(X, t, W0, a, symmetric=False, **kw), np.float64)


def test_exact_zero_at_the_symmetric_initialisation():
    X, t, W0, a = _problem(3, 2, 12, 2, 1, np.float64, "kl")
    out = run_trajectory(X, t, W0, a, eta=1.0, T=1, record_every=1)
    assert np.all(out["error"][:, 0] == 1.0)  # f(W(0)) = 0 exactly: every tie is an error (E6)
    p = t
    kl_half = np.mean(p * np.log(2 * p) + (1 - p) * np.log(2 * (1 - p)))
    np.testing.assert_allclose(out["risk"][:, 0], kl_half, rtol=1e-14)


def test_rank_one_data_moves_weights_only_along_the_data():
    """An antipodal pair in d = 5 (rank 1): W(T) - W(0) lies along x, as in the plain loop."""
    X = np.zeros((2, 5))
    X[0, 0], X[1, 0] = 1.0, -1.0
    W0, a = init_symmetric(20, 5, rng=2)
    kw = {"eta": 3.0, "T": 8, "B": 0.5, "loss": "kl", "labels": np.array([1.0, -1.0]), "record_every": 4}
    t = np.array([0.6225, 0.3775])
    out = run_trajectory(X, t, W0[None], a[None], **kw)
    _compare(out, reference(X, t, W0[None], a[None], **kw), np.float64)
    assert np.array_equal(out["W"][0][:, 1:], W0[:, 1:])


def test_bad_input_is_refused_before_any_work():
    X, t, W0, a = _problem(2, 3, 4, 1, 0, np.float64, "kl")
    with pytest.raises(ValueError, match=f"n <= {MAX_POINTS}"):
        run_trajectory(np.ones((MAX_POINTS + 1, 3)), np.full(MAX_POINTS + 1, 0.5), W0, a, eta=1.0, T=1)
    with pytest.raises(ValueError, match=r"a must have shape \(1, 4\)"):
        run_trajectory(X, t, W0, a[:, :2], eta=1.0, T=1)
    with pytest.raises(ValueError, match="W0 must have shape"):
        run_trajectory(X, t, W0[:, :3], a, eta=1.0, T=1)
    with pytest.raises(ValueError, match="loss =="):
        run_trajectory(X, t, W0, a, eta=1.0, T=1, loss="hinge")
    with pytest.raises(ValueError, match="threads =="):
        run_trajectory(X, t, W0, a, eta=1.0, T=1, threads=10**6)
