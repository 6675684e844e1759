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


class _FakeClock:
    """A clock that PGD runs advance by a stated cost: a one-off compilation, set-up, T steps."""

    def __init__(self, compile_s=100.0, setup_s=0.0005, step_s=0.002):
        self.now = 0.0
        self.compile_s, self.setup_s, self.step_s = compile_s, setup_s, step_s
        self.calls = []

    def perf_counter(self):
        return self.now

    def pgd(self, X, p, *, m, eta, T, record_every, rng):
        self.now += (self.compile_s if not self.calls else 0.0) + self.setup_s + self.step_s * T
        self.calls.append((X.shape, m, T))


@pytest.mark.parametrize(
    "n, d, neurons, probe",
    [(10, 2, 1000, 1000), (1000, 3, 10000, 2000)],  # the second probes a slice of 2e6 / n neurons
    ids=["whole", "slice"],
)
def test_cost_probe_times_steps_without_the_compilation_and_scales_to_all_neurons(monkeypatch, n, d, neurons, probe):
    """What the probe computes, on a fake clock (no wall time is measured or asserted)."""
    import sys
    import types

    from ntkdistill import cost as cost_module

    clock = _FakeClock()
    monkeypatch.setattr(cost_module, "time", types.SimpleNamespace(perf_counter=clock.perf_counter))
    monkeypatch.setattr(sys.modules["ntkdistill.pgd"], "pgd", clock.pgd)
    cost = estimate_cost(n, d, neurons, 500)
    # an untimed run first (it compiles), then one step with set-up, then three steps
    assert clock.calls == [((n, d), probe, 1), ((n, d), probe, 1), ((n, d), probe, 3)]
    # (three-step run - one-step run) / 2 = one step; the 100 s compilation is not in it
    assert cost.seconds_per_step == pytest.approx(clock.step_s * neurons / probe, rel=1e-9)
    assert cost.seconds == pytest.approx(500 * cost.seconds_per_step, rel=1e-12)


def test_cost_probe_over_its_budget_uses_the_one_step_run(monkeypatch):
    import sys
    import types

    from ntkdistill import cost as cost_module

    clock = _FakeClock()
    monkeypatch.setattr(cost_module, "time", types.SimpleNamespace(perf_counter=clock.perf_counter))
    monkeypatch.setattr(sys.modules["ntkdistill.pgd"], "pgd", clock.pgd)
    cost = estimate_cost(10, 2, 100, 7, max_probe_seconds=0.001)  # one step (2.5 ms) * 3 > budget
    assert [c[2] for c in clock.calls] == [1, 1]
    assert cost.seconds_per_step == pytest.approx(clock.setup_s + clock.step_s, rel=1e-12)
    assert cost.seconds == pytest.approx(7 * (clock.setup_s + clock.step_s), rel=1e-12)
