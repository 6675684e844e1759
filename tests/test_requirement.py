"""The measured neuron requirement: width search against brute force, slope fit, cost estimate."""

import numpy as np
import pytest

from ntkdistill import losses
from ntkdistill.cost import estimate_cost
from ntkdistill.requirement import fit_loglog_slope, min_width


def _xor(n=16, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 3))
    X[:, 2] = 0.3
    X /= np.linalg.norm(X, axis=1, keepdims=True)
    y = np.where(X[:, 0] * X[:, 1] > 0, 1.0, -1.0)
    return X, y


@pytest.mark.parametrize("loss", ["logistic", "kl"])
def test_bisection_finds_the_brute_force_width(loss):
    X, y = _xor()
    targets = y if loss == "logistic" else losses.sigmoid(2.0 * y)
    kw = dict(eps=0.2, T=150, eta=3.0, loss=loss, labels=y, seeds=3, rng=1, m_max=24)
    scan = min_width(X, targets, method="scan", **kw)
    bis = min_width(X, targets, method="bisect", **kw)
    assert scan.width is not None and scan.width > 2  # a case where the search has work to do
    # brute force: every smaller even width fails, the found one succeeds
    assert all(scan.evaluated[m] > 0.2 for m in range(2, scan.width, 2))
    assert scan.evaluated[scan.width] <= 0.2
    # the doubling-and-bisection search agrees with brute force here
    assert bis.width == scan.width
    for m in set(bis.evaluated) & set(scan.evaluated):  # same seeds, same widths: same numbers
        assert bis.evaluated[m] == scan.evaluated[m]


def test_unreached_target_gives_none():
    X, y = _xor()
    res = min_width(X, y, eps=0.01, T=2, eta=0.01, loss="logistic", seeds=2, rng=0, m_max=8)
    assert res.width is None and sorted(res.evaluated) == [2, 4, 8]


def test_min_width_validation():
    X, y = _xor()
    with pytest.raises(ValueError, match=r"eps == 1.5, must lie in \(0, 1\)"):
        min_width(X, y, eps=1.5, T=2, eta=1.0, loss="logistic")
    with pytest.raises(ValueError, match=r"m_max == 7, must be even"):
        min_width(X, y, eps=0.1, T=2, eta=1.0, loss="logistic", m_max=7)
    with pytest.raises(ValueError, match=r"method == 'grid', must be one of \('bisect', 'scan'\)"):
        min_width(X, y, eps=0.1, T=2, eta=1.0, loss="logistic", method="grid")


def test_slope_fit_recovers_exponent_and_covers_it():
    rng = np.random.default_rng(0)
    gamma = np.array([0.4, 0.3, 0.2, 0.1, 0.05, 0.03])
    width = 3.0 * gamma ** -2.0 * np.exp(0.05 * rng.normal(size=gamma.size))
    fit = fit_loglog_slope(gamma, width)
    # noise sd 0.05 on log width over a log range of ~2.6: the slope's standard error is ~0.03
    assert abs(fit.slope - 2.0) < 4 * fit.stderr
    assert fit.contains(2.0) and not fit.contains(4.0)
    # missing widths are dropped, fewer than 3 points gives no interval
    fit2 = fit_loglog_slope([0.4, 0.2, 0.1], [10, None, 160])
    assert fit2.n_points == 2 and np.isnan(fit2.ci_low) and fit2.slope == pytest.approx(2.0)


def test_cost_estimate_scales_and_measures():
    a = estimate_cost(100, 10, 1000, 50, measure=False)
    b = estimate_cost(100, 10, 2000, 100, measure=False)
    assert b.flops == 4 * a.flops and b.memory_bytes > a.memory_bytes
    assert np.isnan(a.seconds)
    c = estimate_cost(50, 5, 200, 10, measure=True)
    assert c.seconds > 0 and c.seconds == pytest.approx(c.seconds_per_step * 10)
    f32 = estimate_cost(100, 10, 1000, 50, measure=False, dtype="float32")
    assert f32.memory_bytes == pytest.approx(a.memory_bytes / 2)
    with pytest.raises(ValueError, match="neurons == 1, must be >= 2"):
        estimate_cost(10, 2, 1, 5)


def test_cost_probe_leaves_one_off_compilation_out(monkeypatch):
    """A compilation of the compiled loops on first use (seconds) must not be read as step time."""
    pytest.importorskip("numba", reason="the compiled loops need numba (the 'fast' extra)")
    import time

    from ntkdistill._fast import compiled as _compiled
    from ntkdistill._fast import engine as _engine

    calls = []
    real_warm_up = _compiled.warm_up

    def slow_warm_up(dtype, readonly_x=False, workers=1):
        # every variant compiles once (each number of workers of the compiled update is one); the
        # real warm-up too, so that no compilation is left for the timed steps
        real_warm_up(dtype, readonly_x=readonly_x, workers=workers)
        key = (np.dtype(dtype), readonly_x, workers)
        if key not in calls:
            calls.append(key)
            time.sleep(0.6)  # what compiling takes on a fresh machine

    monkeypatch.setattr(_compiled, "warm_up", slow_warm_up)
    for threads in (1, 4):  # BLAS thread counts (engines with 1 to 4 workers)
        monkeypatch.setattr(_engine, "blas_threads", lambda controller=None, threads=threads: threads)
        # the neuron strategy; the BLAS rows path (update_sum) on all workers, and on 3 of 4
        # (300 rows in blocks of at least 128)
        for n, d, m in ((1, 1, 20000), (2000, 50, 1000), (300, 800, 200)):
            cost = estimate_cost(n, d, m, 1000)
            # a step of these takes milliseconds; with 0.6 s of compilation inside the probe's
            # timed warm-up run the estimate was at least 0.6 s / 4 per step
            assert cost.seconds_per_step < 0.1, (threads, n, d, m)
    assert calls  # the probe warmed the loops up before timing
