"""pgd(backend="trajectory") and its dispatch from backend="auto", against backend="reference"."""

import numpy as np
import pytest

pytest.importorskip("numba", reason="the trajectory kernel needs numba (the 'fast' extra)")

import ntkdistill as nd  # noqa: E402
from ntkdistill import _fast  # noqa: E402

_FIELDS = ("risk", "error", "avg_risk", "avg_error", "final_risk", "final_error", "max_distance")


def _problem(n, d, seed):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    X /= np.maximum(1.0, np.linalg.norm(X, axis=1, keepdims=True))
    p = rng.uniform(0.2, 0.8, n)
    return X, p, np.where(p > 0.5, 1.0, -1.0)


def _assert_same(res, ref, rtol, atol):
    np.testing.assert_array_equal(res.iterations, ref.iterations)
    np.testing.assert_array_equal(res.widths, ref.widths)
    for name in _FIELDS:
        np.testing.assert_allclose(getattr(res, name), getattr(ref, name), rtol=rtol, atol=atol, err_msg=name)
    for W, Wr in zip(res.W, ref.W):
        np.testing.assert_allclose(W, Wr, rtol=rtol, atol=atol)


@pytest.mark.parametrize("loss", ["kl", "logistic"])
@pytest.mark.parametrize("B, record_every", [(1.0, 1), (np.inf, 4), (0.3, None)])
def test_trajectory_backend_equals_the_reference_float64(loss, B, record_every):
    # tolerance 1e-12 in float64 (the kernel sums in another order: rounding only)
    X, p, y = _problem(3, 4, 1)
    targets = p if loss == "kl" else y
    kw = dict(m=[4, 6], eta=2.0, T=12, B=B, loss=loss, seeds=2, rng=3, record_every=record_every, labels=y)
    res = nd.pgd(X, targets, backend="trajectory", **kw)
    ref = nd.pgd(X, targets, backend="reference", **kw)
    _assert_same(res, ref, rtol=1e-12, atol=1e-12)


def test_trajectory_backend_float32_within_float32_precision():
    X, p, y = _problem(2, 5, 2)
    kw = dict(m=8, eta=1.0, T=20, B=1.0, seeds=3, rng=0, dtype="float32")
    res = nd.pgd(X.astype(np.float32), p, backend="trajectory", **kw)
    ref = nd.pgd(X.astype(np.float32), p, backend="reference", **kw)
    assert res.W[0].dtype == np.float32
    _assert_same(res, ref, rtol=1e-4, atol=1e-5)


def test_auto_runs_the_trajectory_where_it_pays_and_the_engine_elsewhere(monkeypatch):
    calls = []
    real = _fast.run_trajectory

    def spy(*args, **kwargs):
        calls.append(kwargs["T"])
        return real(*args, **kwargs)

    monkeypatch.setattr(_fast, "run_trajectory", spy)
    X, p, y = _problem(2, 3, 4)
    small = nd.pgd(X, p, m=4, eta=1.0, T=5, rng=0)  # far below 1e9 neuron-steps: the engine
    assert calls == [] and not _fast.trajectory_pays(2, 2, 4, 5)
    monkeypatch.setattr(_fast, "trajectory_pays", lambda n, rank, neurons, T: True)
    chosen = nd.pgd(X, p, m=4, eta=1.0, T=5, rng=0)
    assert calls == [5]
    _assert_same(chosen, small, rtol=1e-12, atol=1e-12)
    nd.pgd(X, p, m=4, eta=1.0, T=5, rng=0, progress=False, backend="fast")  # an explicit backend is kept
    assert calls == [5]


def test_trajectory_rule_and_refusals():
    assert _fast.trajectory_pays(2, 1, 5 * 128636, 614145)  # Corollary 4 at gamma = 1/2, n = 2
    assert not _fast.trajectory_pays(8, 8, 10**6, 10**6)  # n r = 64: the sweep no longer vectorises
    assert not _fast.trajectory_pays(2, 1, 1000, 1000)  # too little work to amortise the compilation
    X = np.eye(17)
    with pytest.raises(ValueError, match="backend='trajectory' is for at most 16 points; X has n = 17"):
        nd.pgd(X, np.full(17, 0.6), m=4, eta=1.0, T=2, backend="trajectory")


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_verify_sizes_an_empirical_run_by_the_rate_of_the_path_that_runs_it(dtype):
    # Corollary 4's prescription on the antipodal pair (n = 2, rank 1) does not fit 30 s; the run
    # that fits is long enough for the trajectory kernel, so its estimate (not the engine's slower
    # probed rate) sizes it: the run's work (its estimate less the compilation) fills at least 75%
    # of what the budget leaves after the compilation (0.9 squared by design), never more
    from ntkdistill.cost import TRAJECTORY_COMPILE_SECONDS as compile_s
    from ntkdistill.verify import _fitting_run

    m, T, S, budget = 140070, 728178, 21, 30.0
    mm, TT, cost = _fitting_run(2, 5, m, T, S, np.dtype(dtype), budget, 1)
    assert _fast.trajectory_pays(2, 1, S * mm, TT)
    assert 0.75 * (budget - compile_s) <= cost.seconds - compile_s and cost.seconds <= budget
    assert mm <= m and TT <= T and abs(mm / m - TT / T) < 0.01  # the same fraction of both


def test_the_estimate_counts_the_threads_the_kernel_takes():
    # inside a sweep's job the BLAS has one thread and so has the kernel: 5 networks take 5 rounds
    threadpoolctl = pytest.importorskip("threadpoolctl")
    from ntkdistill.cost import trajectory_seconds

    args = (2, 5, 1000, 10**5, 5)
    with threadpoolctl.threadpool_limits(1):
        assert _fast.trajectory_threads() == 1
        assert trajectory_seconds(*args, rank=1, compile=False) == trajectory_seconds(
            *args, rank=1, compile=False, threads=1
        )
    one, two = (trajectory_seconds(*args, rank=1, compile=False, threads=p) for p in (1, 2))
    assert one == pytest.approx(5 / 3 * two)  # whole networks per thread: ceil(5 / 2) = 3 rounds
