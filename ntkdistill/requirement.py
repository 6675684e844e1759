r"""The measured neuron requirement: the smallest width that reaches a target, and its scaling.

The theorems only bound the width: Corollary 4 needs :math:`m = O(1/(\gamma^2\epsilon))` neurons
with soft labels, Proposition 5 :math:`m = O(\ln^2(1/\epsilon)/\gamma^4)` with hard labels (E12).
This module measures the width that is actually needed,

.. math::

    m^*(\epsilon, T) = \min\{\, m \in 2\mathbb{N} : \operatorname{median}_{s}\, R(W_s(T)) \le \epsilon \,\}

(the median over seeds :math:`s` of the classification error after :math:`T` PGD iterations), and
fits the exponent :math:`k` of :math:`m^* \propto (1/\gamma)^k` across data sets of falling margin,
to set beside the theory's :math:`k = 2` (soft) and :math:`k = 4` (hard).
"""

from __future__ import annotations

import math
import os
import concurrent.futures as cf
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
from scipy import stats

from . import _results
from ._validation import check_int, check_real
from .pgd import network_seeds, pgd

if TYPE_CHECKING:
    import pandas
    import xarray

    from ._typing import ArrayLike, DTypeLike, SeedLike

__all__ = [
    "WidthSearch",
    "min_width",
    "SlopeFit",
    "fit_loglog_slope",
    "averaged_risk",
    "is_converged",
    "converged_at",
    "CensoredFit",
    "fit_censored_slope",
    "paired_difference",
    "conclusions",
    "width_grid",
    "search_widths",
    "median_width",
    "requirement_job",
    "PRESETS",
    "RequirementStudy",
    "requirement_study",
    "summarize_requirement",
    "summary_frame",
]

_CRITERIA = ("final", "average")
_METHODS = ("bisect", "scan")


@dataclass(frozen=True)
class WidthSearch(_results.ResultMixin):
    """Result of :func:`min_width`.

    Attributes
    ----------
    width : int or None
        The smallest even width found to reach the target, ``None`` if none up to ``m_max`` did.
    evaluated : dict
        ``{width: median error}`` for every width trained.
    errors : dict
        ``{width: list of the per-seed errors}``.
    eps, criterion, method, m_max : the search settings.

    Examples
    --------
    >>> WidthSearch(6, {4: 0.5, 8: 0.0, 6: 0.1}, eps=0.1).to_dict()["evaluated"]
    {'4': 0.5, '8': 0.0, '6': 0.1}
    """

    width: int | None
    evaluated: dict = field(default_factory=dict)
    errors: dict = field(default_factory=dict)
    eps: float = 0.0
    criterion: str = "final"
    method: str = "bisect"
    m_max: int = 0

    _frame_rows = _results.width_search_rows  # to_frame(): one row per width and seed

    def to_dict(self) -> dict:
        """JSON-ready dict (width keys as strings)."""
        out = asdict(self)
        out["evaluated"] = {str(k): v for k, v in self.evaluated.items()}
        out["errors"] = {str(k): v for k, v in self.errors.items()}
        return out


def min_width(
    X: ArrayLike,
    targets: ArrayLike,
    *,
    eps: float,
    T: int,
    eta: float,
    B: float = np.inf,
    loss: str = "kl",
    labels: ArrayLike | None = None,
    seeds: int | Sequence[int | np.random.SeedSequence] = 5,
    rng: SeedLike = None,
    m_max: int = 1024,
    criterion: str = "final",
    method: str = "bisect",
    dtype: DTypeLike | None = None,
) -> WidthSearch:
    r"""Smallest even width whose median error over seeds reaches ``eps`` within ``T`` iterations.

    .. math::

        m^* = \min\{ m \in \{2, 4, \dots, m_{max}\} : \operatorname{median}_s R_s(m) \le \epsilon \}

    with :math:`R_s(m)` the classification error (ties count, E6) of seed ``s`` at width ``m``,
    after ``T`` iterations (``criterion="final"``) or averaged over :math:`\tau < T` as the theorems
    do (``criterion="average"``). Every width uses the same seeds (common random numbers).

    ``method="bisect"`` doubles the width from 2 until the target is reached and then bisects
    between the last failure and the first success; it finds :math:`m^*` when the median error
    does not increase with the width between those two points, which is the usual case but not
    a theorem. ``method="scan"`` tries every even width in turn (brute force).

    Parameters
    ----------
    X, targets, labels, T, eta, B, loss, dtype
        As in :func:`ntkdistill.pgd`; ``labels`` are the labels the error is measured against.
    eps : float in (0, 1)
        Target classification error.
    seeds : int or list
        Networks per width (spawned once from ``rng`` and reused at every width).
    m_max : int
        Largest width tried.

    Returns
    -------
    WidthSearch

    Examples
    --------
    >>> import numpy as np
    >>> X = np.array([[1.0, 0.0], [0.0, 1.0]]); y = np.array([1.0, -1.0])
    >>> s = min_width(X, y, eps=0.4, T=50, eta=2.0, loss="logistic", seeds=3, rng=0)
    >>> s.width, sorted(s.evaluated)
    (4, [2, 4])
    """
    eps = check_real("eps", eps, low=0.0, high=1.0)
    m_max = check_int("m_max", m_max, minimum=2, even=True)
    if criterion not in _CRITERIA:
        raise ValueError(f"criterion == {criterion!r}, must be one of {_CRITERIA}.")
    if method not in _METHODS:
        raise ValueError(f"method == {method!r}, must be one of {_METHODS}.")
    seed_list = network_seeds(seeds, rng)
    evaluated: dict[int, float] = {}
    errors: dict[int, list] = {}

    def reaches(m: int) -> bool:
        if m not in evaluated:
            res = pgd(
                X,
                targets,
                m=m,
                eta=eta,
                T=T,
                B=B,
                loss=loss,
                labels=labels,
                seeds=seed_list,
                record_every=None,
                dtype=dtype,
            )
            errs = res.final_error if criterion == "final" else res.avg_error
            errors[m] = [float(e) for e in errs]
            evaluated[m] = float(np.median(errs))
        return evaluated[m] <= eps

    # a first call validates every argument before the search proper
    found = None
    if method == "scan":
        for m in range(2, m_max + 1, 2):
            if reaches(m):
                found = m
                break
    else:
        lo, hi = 0, None  # lo: largest failing width (0 = none), hi: a succeeding width
        m = 2
        while m <= m_max:
            if reaches(m):
                hi = m
                break
            lo = m
            m = min(2 * m, m_max) if m < m_max else m_max + 2
        if hi is not None:
            while hi - lo > 2:
                mid = (lo + hi) // 2
                mid -= mid % 2
                if mid <= lo:
                    mid = lo + 2
                if reaches(mid):
                    hi = mid
                else:
                    lo = mid
            found = hi
    return WidthSearch(
        found, dict(sorted(evaluated.items())), dict(sorted(errors.items())), eps, criterion, method, m_max
    )


@dataclass(frozen=True)
class SlopeFit(_results.ResultMixin):
    r"""Least-squares fit of :math:`\ln m^* = k \ln(1/\gamma) + b`.

    Attributes
    ----------
    slope, intercept : float
        :math:`k` and :math:`b`.
    ci_low, ci_high : float
        Two-sided confidence interval for :math:`k` at level ``level`` (Student t with
        ``n_points - 2`` degrees of freedom); ``nan`` with fewer than 3 points.
    stderr : float
    n_points : int
    level : float

    Examples
    --------
    >>> fit = fit_loglog_slope([0.4, 0.2, 0.1], [5.0, 20.0, 80.0])
    >>> round(fit.slope, 6), fit.n_points
    (2.0, 3)
    """

    slope: float
    intercept: float
    ci_low: float
    ci_high: float
    stderr: float
    n_points: int
    level: float

    def to_dict(self) -> dict:
        """The fields as a JSON-ready dict (NaN as None)."""
        return _results.jsonable(asdict(self))

    def contains(self, k: float) -> bool:
        """Whether the exponent ``k`` lies in the confidence interval."""
        return bool(self.ci_low <= k <= self.ci_high)


def fit_loglog_slope(gamma: ArrayLike, widths: Sequence[float | None], level: float = 0.95) -> SlopeFit:
    r"""Fit the exponent :math:`k` in :math:`m^* \propto \gamma^{-k}` by least squares on log-log axes.

    .. math::

        \ln m^*_\ell = k \ln(1/\gamma_\ell) + b + \text{noise}_\ell

    Points with a missing width (``None`` or ``nan``: the target was not reached) are dropped.

    Examples
    --------
    >>> fit = fit_loglog_slope([0.4, 0.2, 0.1, 0.05], [2 * 0.4**-2, 2 * 0.2**-2, 2 * 0.1**-2, 2 * 0.05**-2])
    >>> round(fit.slope, 10), fit.contains(2.0)
    (2.0, True)
    """
    level = check_real("level", level, low=0.0, high=1.0)
    g = np.asarray(gamma, dtype=np.float64)
    w = np.asarray([np.nan if v is None else v for v in widths], dtype=np.float64)
    if g.shape != w.shape or g.ndim != 1:
        raise ValueError(f"gamma and widths must be 1-D of the same length, got {g.shape} and {w.shape}.")
    keep = np.isfinite(w) & np.isfinite(g) & (g > 0) & (w > 0)
    x = np.log(1.0 / g[keep])
    yv = np.log(w[keep])
    k = int(keep.sum())
    if k < 2 or np.ptp(x) == 0:
        nan = float("nan")
        return SlopeFit(nan, nan, nan, nan, nan, k, level)
    res = stats.linregress(x, yv)
    if k >= 3:
        tq = stats.t.ppf(0.5 + level / 2, k - 2)
        se = float(res.stderr)
        lo, hi = res.slope - tq * se, res.slope + tq * se
    else:
        se = lo = hi = float("nan")
    return SlopeFit(float(res.slope), float(res.intercept), float(lo), float(hi), float(se), k, level)


# ---------------------------------------------------------------------------- convergence in T


def averaged_risk(risk: ArrayLike) -> np.ndarray:
    r"""Iteration-averaged risk :math:`A(T) = \frac1T\sum_{\tau<T} R(\tau)` for every :math:`T \ge 1`.

    .. math::

        A(T) = \frac1T \sum_{\tau = 0}^{T - 1} R(W(\tau))

    (the average the theorems bound). ``risk`` holds :math:`R(W(\tau))` for
    :math:`\tau = 0, 1, \dots` along its last axis; entry ``T - 1`` of the result is :math:`A(T)`.

    Examples
    --------
    >>> averaged_risk([4.0, 2.0, 0.0]).tolist()
    [4.0, 3.0, 2.0]
    """
    r = np.asarray(risk, dtype=np.float64)
    return np.cumsum(r, axis=-1) / np.arange(1, r.shape[-1] + 1)


def is_converged(avg_at_T: ArrayLike, avg_at_half: ArrayLike, *, rtol: float = 0.01, atol: float = 0.0) -> np.ndarray:
    r"""The convergence criterion on the iteration-averaged risk.

    .. math::

        |A(T) - A(\lfloor T/2 \rfloor)| \le \mathrm{rtol}\cdot A(T) + \mathrm{atol}

    The average the theorems bound changed by less than ``rtol`` (1%) of itself over the last
    half of the run, or by less than ``atol`` (the sweep sets it to 1% of the risk target
    :math:`\beta`, below which no change can flip the risk criterion). Works elementwise.

    Examples
    --------
    >>> bool(is_converged(1.000, 1.005)), bool(is_converged(1.0, 1.5)), bool(is_converged(0.01, 0.02, atol=0.02))
    (True, False, True)
    """
    a = np.asarray(avg_at_T, dtype=np.float64)
    b = np.asarray(avg_at_half, dtype=np.float64)
    return np.abs(a - b) <= rtol * np.abs(a) + atol


def converged_at(risk: ArrayLike, T: int, *, rtol: float = 0.01, atol: float = 0.0) -> bool:
    r"""Whether a risk curve :math:`R(W(\tau))`, :math:`\tau = 0, 1, \dots`, has converged by :math:`T`.

    .. math::

        |A(T) - A(\lfloor T/2 \rfloor)| \le \mathrm{rtol}\, A(T) + \mathrm{atol},\qquad
        A(T) = \frac1T\sum_{\tau<T} R(W(\tau))

    (:func:`is_converged`). ``risk`` must hold at least ``T`` values.

    Examples
    --------
    >>> import numpy as np
    >>> t = np.arange(100000)
    >>> converged_at(0.1 + np.exp(-t / 100), 100000), converged_at(0.1 + np.exp(-t / 100), 1000)
    (True, False)
    """
    T = check_int("T", T, minimum=2)
    r = np.asarray(risk, dtype=np.float64)
    if r.ndim != 1 or r.size < T:
        raise ValueError(f"risk must be 1-D with at least T = {T} values, got shape {r.shape}.")
    A = averaged_risk(r[:T])
    return bool(is_converged(A[T - 1], A[T // 2 - 1], rtol=rtol, atol=atol))


# ---------------------------------------------------------------------------- the censored slope fit


@dataclass(frozen=True)
class CensoredFit:
    r"""Maximum-likelihood fit of :math:`\ln m^* = k\ln(1/\gamma) + b + \sigma\,\xi`, some points right-censored.

    Attributes
    ----------
    slope, intercept, sigma : float
        :math:`k`, :math:`b`, :math:`\sigma` at the maximum (``nan`` when not identifiable).
    ci : list of two floats
        Profile-likelihood interval for :math:`k` at ``level`` (``-inf``/``inf`` where the
        likelihood does not fall far enough on that side: then the data only bound the exponent).
    n_levels, n_observed, n_censored : int
        Levels; measured; right-censored (not reached up to the largest width).
    n_left : int
        Left-censored levels (reached at the grid's smallest width: :math:`m^*` at most that).
    level : float
    method : str

    Examples
    --------
    >>> fit = fit_censored_slope([0.4, 0.2, 0.1], [5.0, 20.0, 80.0], [False, False, False])
    >>> round(fit.slope, 6), fit.n_censored
    (2.0, 0)
    """

    slope: float
    intercept: float
    sigma: float
    ci: list
    n_levels: int
    n_observed: int
    n_censored: int
    level: float
    method: str = "tobit-profile"
    n_left: int = 0

    def to_dict(self) -> dict:
        """JSON-ready dict (non-finite numbers as None)."""
        out = asdict(self)
        for key in ("slope", "intercept", "sigma"):
            out[key] = _num(out[key])
        out["ci"] = [_num(v) for v in self.ci]
        return out

    def contains(self, k: float) -> bool:
        """Whether ``k`` lies in the interval (False when there is none)."""
        lo, hi = self.ci
        return bool(lo <= k <= hi) if not (math.isnan(lo) or math.isnan(hi)) else False


def _num(v):
    return None if v is None or not math.isfinite(v) else float(v)


_LOG_SIGMA_MIN, _LOG_SIGMA_MAX = math.log(1e-4), math.log(1e2)


def _tobit_nll(params, x, y, cens, left=None):
    """Negative log-likelihood of the censored normal regression and its gradient in (a, k, log sigma).

    ``cens``: right-censored points (:math:`m^* > w`); ``left``: left-censored ones (:math:`m^* <= w`).
    """
    from scipy.special import log_ndtr

    a, k, s_raw = params
    # sigma held in [1e-4, 1e2] (a perfect fit would send it to 0); no gradient beyond the clamp
    s = min(max(float(s_raw), _LOG_SIGMA_MIN), _LOG_SIGMA_MAX)
    inside = 1.0 if s == s_raw else 0.0
    sigma = math.exp(s)
    z = (y - a - k * x) / sigma
    if left is None:
        left = np.zeros_like(cens)
    o = ~(cens | left)
    nll = 0.5 * float(z[o] @ z[o]) + o.sum() * (s + 0.5 * math.log(2 * math.pi))
    ga = -z[o].sum() / sigma
    gk = -(z[o] * x[o]).sum() / sigma
    gs = -float(z[o] @ z[o]) + o.sum()
    if cens.any():
        zc = z[cens]
        logsf = log_ndtr(-zc)
        nll -= float(logsf.sum())
        with np.errstate(over="ignore", invalid="ignore"):
            lam = np.exp(-0.5 * zc**2 - 0.5 * math.log(2 * math.pi) - logsf)  # inverse Mills ratio
        lam = np.where(np.isfinite(lam), lam, np.maximum(zc, 0.0))  # its limit z at extreme trial points
        ga += -lam.sum() / sigma
        gk += -(lam * x[cens]).sum() / sigma
        gs += -(lam * zc).sum()
    if left.any():
        zl = z[left]
        logcdf = log_ndtr(zl)
        nll -= float(logcdf.sum())
        with np.errstate(over="ignore", invalid="ignore"):
            lam = np.exp(-0.5 * zl**2 - 0.5 * math.log(2 * math.pi) - logcdf)  # phi / Phi
        lam = np.where(np.isfinite(lam), lam, np.maximum(-zl, 0.0))
        ga += lam.sum() / sigma
        gk += (lam * x[left]).sum() / sigma
        gs += (lam * zl).sum()
    return nll, np.array([ga, gk, gs * inside])


def _profile(k, x, y, cens, start, left=None):
    from scipy.optimize import minimize

    def f(p):
        v, g = _tobit_nll((p[0], k, p[1]), x, y, cens, left)
        return v, g[[0, 2]]

    res = minimize(f, start, jac=True, method="BFGS")
    return float(res.fun), res.x


def fit_censored_slope(
    gamma: ArrayLike,
    widths: Sequence[float | None],
    censored: ArrayLike,
    level: float = 0.95,
    left: ArrayLike | None = None,
) -> CensoredFit:
    r"""Fit the exponent :math:`k` of :math:`m^* \propto \gamma^{-k}` with right-censored widths (Tobit).

    .. math::

        \ln m^*_\ell = b + k\ln(1/\gamma_\ell) + \sigma\xi_\ell,\quad \xi_\ell \sim N(0, 1);\qquad
        \mathcal{L} = \prod_{\text{observed}} \tfrac1\sigma\varphi(z_\ell)
                      \prod_{\text{censored}} \big(1 - \Phi(z_\ell)\big),\quad
        z_\ell = \frac{\ln w_\ell - b - k\ln(1/\gamma_\ell)}{\sigma}

    A censored level (the target was not reached up to the largest width tried, ``w``) only says
    :math:`m^* > w`; it enters through the survival term, never silently dropped. The interval
    is the profile-likelihood one, :math:`\{k : 2(\ell(\hat\theta) - \ell_p(k)) \le c\}` with
    :math:`c = N\ln(1 + t^2_{N-2}/(N-2))`, :math:`t_{N-2}` the Student quantile at ``level`` and
    :math:`N` the number of levels: without censoring this interval *is* the exact least-squares
    Student-t interval, and with censoring it is its likelihood extension. Where the profile does
    not fall to the cutoff on one side (too few observed levels) that end is infinite: the data
    then only bound the exponent. A left-censored level (``left``: the target was already reached
    at the smallest width of the grid, ``w``) only says :math:`m^* \le w` and enters through
    :math:`\Phi(z_\ell)`: a floor of the grid is not read as a measured width.

    Parameters
    ----------
    gamma : sequence of float > 0
    widths : sequence of float
        The measured :math:`m^*`, or, where censored, the largest width tried.
    censored : sequence of bool
        Right-censored levels (:math:`m^* >` the width given).
    level : float in (0, 1)
    left : sequence of bool, optional
        Left-censored levels (:math:`m^* \le` the width given, the grid's smallest).

    Returns
    -------
    CensoredFit
        ``nan`` slope and interval with fewer than 2 observed levels or fewer than 3 levels.

    Examples
    --------
    >>> fit = fit_censored_slope([0.4, 0.2, 0.1, 0.05], [6.0, 26.0, 96.0, 128.0], [False, False, False, True])
    >>> fit.n_observed, fit.n_censored, fit.slope > 1.9
    (3, 1, True)
    """
    from scipy.optimize import brentq

    level = check_real("level", level, low=0.0, high=1.0)
    g = np.asarray(gamma, dtype=np.float64)
    w = np.asarray([np.nan if v is None else v for v in widths], dtype=np.float64)
    c = np.asarray(censored, dtype=bool)
    lft = np.zeros_like(c) if left is None else np.asarray(left, dtype=bool)
    if not (g.ndim == 1 and g.shape == w.shape == c.shape == lft.shape):
        raise ValueError(
            f"gamma, widths, censored and left must be 1-D of one length, got {g.shape}, {w.shape}, {c.shape}, "
            f"{lft.shape}."
        )
    if np.any(c & lft):
        raise ValueError(f"a level cannot be censored on both sides: censored {c.tolist()}, left {lft.tolist()}.")
    if not (np.all(np.isfinite(g)) and np.all(g > 0)):
        raise ValueError(f"gamma must be finite and positive, got {g.tolist()}.")
    if not (np.all(np.isfinite(w)) and np.all(w > 0)):
        raise ValueError(
            f"widths must be finite and positive (the largest width tried where censored), got {w.tolist()}."
        )
    x, y = np.log(1.0 / g), np.log(w)
    obs = ~(c | lft)
    N, n_obs, n_left = int(g.size), int(obs.sum()), int(lft.sum())
    nan = float("nan")
    if n_obs < 2 or N < 3 or np.ptp(x[obs]) == 0:
        return CensoredFit(nan, nan, nan, [nan, nan], N, n_obs, int(c.sum()), level, n_left=n_left)
    ols = stats.linregress(x[obs], y[obs])
    resid = y[obs] - ols.intercept - ols.slope * x[obs]
    s0 = math.log(max(float(np.sqrt(np.mean(resid**2))), 0.05))
    from scipy.optimize import minimize

    best = minimize(
        lambda p: _tobit_nll(p, x, y, c, lft), np.array([ols.intercept, ols.slope, s0]), jac=True, method="BFGS"
    )
    a_hat, k_hat, s_hat = (float(v) for v in best.x)
    nll_hat = float(best.fun)
    tq = stats.t.ppf(0.5 + level / 2, N - 2)
    cut = N * math.log1p(tq**2 / (N - 2))
    state = {"start": np.array([a_hat, s_hat])}

    def excess(k):
        v, p = _profile(k, x, y, c, state["start"], lft)
        return 2 * (v - nll_hat) - cut

    def end(sign):
        step = max(0.25, 2 * abs(float(ols.stderr)) if math.isfinite(ols.stderr) else 0.25)
        inner = k_hat
        state["start"] = np.array([a_hat, s_hat])
        while step < 200:
            outer = k_hat + sign * step
            if excess(outer) > 0:
                return brentq(excess, min(inner, outer), max(inner, outer), xtol=1e-4)
            inner = outer
            step *= 2
        return sign * math.inf

    ci = [end(-1), end(+1)]
    return CensoredFit(
        k_hat, a_hat, math.exp(s_hat), [float(v) for v in ci], N, n_obs, int(c.sum()), level, n_left=n_left
    )


def paired_difference(soft: Sequence[float | None], hard: Sequence[float | None], level: float = 0.95) -> dict:
    r"""Per-level paired difference :math:`\ln m^*_{soft,s} - \ln m^*_{hard,s}` over seeds, with a t interval.

    .. math::

        \bar d = \frac1S\sum_s d_s,\quad d_s = \ln m^*_{soft}(s) - \ln m^*_{hard}(s),\qquad
        \bar d \pm t_{S-1}\, \mathrm{sd}(d)/\sqrt S

    Seed :math:`s` has the same initialisation for both label types, so the pairs are matched.
    ``None`` marks a censored width; pairs with a censored member are counted
    (``n_censored_pairs``) and left out of the mean, and the number of those pairs in which soft
    was censored while hard was not (a lower bound on :math:`d_s`) and the reverse are reported.

    Returns
    -------
    dict
        ``mean``, ``ci`` ([low, high], None where fewer than 2 complete pairs), ``n_pairs``,
        ``n_censored_pairs``, ``soft_only_censored``, ``hard_only_censored``.

    Examples
    --------
    >>> out = paired_difference([8, 8, 16, None], [16, 16, 32, 8])
    >>> round(out["mean"], 4), out["n_pairs"], out["soft_only_censored"]
    (-0.6931, 3, 1)
    """
    level = check_real("level", level, low=0.0, high=1.0)
    if len(soft) != len(hard):
        raise ValueError(f"soft and hard must hold one width per seed each, got {len(soft)} and {len(hard)}.")
    d = [math.log(a) - math.log(b) for a, b in zip(soft, hard) if a is not None and b is not None]
    out: dict[str, Any] = {
        "n_pairs": len(d),
        "n_censored_pairs": len(soft) - len(d),
        "soft_only_censored": sum(a is None and b is not None for a, b in zip(soft, hard)),
        "hard_only_censored": sum(b is None and a is not None for a, b in zip(soft, hard)),
        "mean": None,
        "ci": None,
        "level": level,
    }
    if d:
        out["mean"] = float(np.mean(d))
    if len(d) >= 2:
        sd = float(np.std(d, ddof=1))
        h = float(stats.t.ppf(0.5 + level / 2, len(d) - 1)) * sd / math.sqrt(len(d))
        out["ci"] = [out["mean"] - h, out["mean"] + h]
    return out


# ---------------------------------------------------------------------------- the width search over a T grid


def width_grid(m_max: int) -> list[int]:
    r"""The geometric grid of even widths the search lands on: :math:`2\cdot 2^{j/4}` rounded to even, up to ``m_max``.

    .. math::

        G = \{\, 2\lfloor 2^{j/4} + 1/2 \rfloor : j \ge 0 \,\} \cap [2, m_{max}] \ \cup\ \{m_{max}\}

    (about 19% apart, so a measured :math:`m^*` is within 19% of the smallest width that works).

    Examples
    --------
    >>> width_grid(40)
    [2, 4, 6, 8, 10, 12, 14, 16, 20, 22, 26, 32, 38, 40]
    """
    m_max = check_int("m_max", m_max, minimum=2, even=True)
    out, j = set(), 0
    while True:
        w = 2 * int(math.floor(2 ** (j / 4) + 0.5))
        if w > m_max:
            break
        out.add(w)
        j += 1
    out.add(m_max)
    return sorted(out)


def _criteria_values(res, T_grid, beta, rtol, atol):
    """Per network: iteration-averaged error and risk at every T of the grid, and convergence flags."""
    A_risk = averaged_risk(res.risk)  # (K, T_max + 1): entry T - 1 is A(T)
    A_err = averaged_risk(res.error)
    idx = np.asarray(T_grid) - 1
    half = np.asarray(T_grid) // 2 - 1
    conv = is_converged(A_risk[:, idx], A_risk[:, half], rtol=rtol, atol=atol)
    return A_err[:, idx], A_risk[:, idx], conv


def search_widths(
    X: ArrayLike,
    targets: ArrayLike,
    labels: ArrayLike,
    *,
    loss: str,
    eta: float,
    B: float,
    T_grid: Sequence[int],
    eps: float,
    beta: float,
    seeds: Sequence[np.random.SeedSequence],
    m_max: int,
    rtol: float = 0.01,
    atol: float = 0.0,
    chunk: int = 2,
) -> dict:
    r"""Per seed and per :math:`T` of a grid: the smallest width reaching each criterion, from shared runs.

    .. math::

        m^*_s(c, T) = \min\{ m \in G : c_s(m, T) \text{ holds} \},\quad
        c \in \{\bar R_{0\text{-}1}(T) \le \epsilon,\ \bar R_{loss}(T) \le \beta\},\quad
        \bar R(T) = \frac1T\sum_{\tau<T} R(W(\tau))

    Every width is trained once, for all seeds, to the largest :math:`T` of the grid, with the
    risk and error recorded at every iteration, so :math:`m^*` is read at every :math:`T` of the
    grid from the same trajectories. The search doubles the width (2, 4, 8, ... up to
    ``m_max``, ``chunk`` widths per batched :func:`ntkdistill.pgd` call) until every
    (seed, criterion) is met at the largest :math:`T` or ``m_max`` is reached (a smaller
    :math:`T` not met by then is censored at the largest width tried, ``largest``: in the
    kernel regime more width does not make up for too few iterations), then bisects on the geometric grid
    :func:`width_grid` between the last failing and the first succeeding width of every
    (seed, criterion, T), all requests of a round trained in one batched call. It finds the
    transition when success is monotone in the width between those two points (the usual case;
    not a theorem). ``None`` marks a censored search (not met up to ``m_max``).

    Returns
    -------
    dict
        ``per_seed``: ``{"error"|"risk": {T: [width or None per seed]}}``; ``evaluated``:
        ``{width: {"error", "risk": (S, len(T_grid)) lists, "converged": ...}}``; ``largest``: the
        largest width trained (the lower bound of every censored search).

    Examples
    --------
    >>> import numpy as np
    >>> X = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.6, 0.0, 0.8]]); y = np.array([1.0, -1.0, -1.0])
    >>> out = search_widths(X, y, y, loss="logistic", eta=2.0, B=np.inf, T_grid=[10, 100], eps=0.4, beta=0.3,
    ...                     seeds=network_seeds(2, 0), m_max=16)
    >>> sorted(out["per_seed"]), sorted(out["per_seed"]["error"])
    (['error', 'risk'], [10, 100])
    """
    T_grid = sorted(int(t) for t in T_grid)
    T_max = T_grid[-1]
    grid = width_grid(m_max)
    S = len(seeds)
    evaluated: dict[int, dict] = {}

    def train(widths):
        widths = sorted(set(widths) - set(evaluated))
        if not widths:
            return
        res = pgd(X, targets, m=widths, eta=eta, T=T_max, B=B, loss=loss, labels=labels, seeds=seeds, record_every=1)
        err, risk, conv = _criteria_values(res, T_grid, beta, rtol, atol)
        for j, w in enumerate(widths):
            sl = slice(j * S, (j + 1) * S)
            evaluated[w] = {"error": err[sl], "risk": risk[sl], "converged": conv[sl]}

    def met(w, crit, s, t):
        v = evaluated[w][crit][s, t]
        return bool(v <= (eps if crit == "error" else beta))

    def first(crit, s, t):
        ok = [w for w in sorted(evaluated) if met(w, crit, s, t)]
        return ok[0] if ok else None

    keys = [(c, s, t) for c in ("error", "risk") for s in range(S) for t in range(len(T_grid))]
    doubling = [w for w in grid if w & (w - 1) == 0] + ([m_max] if m_max & (m_max - 1) else [])
    last_t = len(T_grid) - 1
    for start in range(0, len(doubling), chunk):
        train(doubling[start : start + chunk])
        if all(first(c, s, t) is not None for c, s, t in keys if t == last_t):
            break
    while True:
        requests = set()
        for k in keys:
            hi = first(*k)
            if hi is None:
                continue
            lo = max((w for w in evaluated if w < hi), default=0)
            between = [w for w in grid if lo < w < hi]
            if between:
                requests.add(between[len(between) // 2])
        if not requests:
            break
        train(requests)
    per_seed = {c: {T: [first(c, s, t) for s in range(S)] for t, T in enumerate(T_grid)} for c in ("error", "risk")}
    return {"per_seed": per_seed, "evaluated": evaluated, "T_grid": T_grid, "largest": max(evaluated)}


def median_width(per_seed: Sequence[float | None]) -> int | None:
    r"""The smallest width reached by at least half the seeds: :math:`m^* = w_{(\lceil S/2 \rceil)}`.

    .. math::

        m^* = \text{the } \lceil S/2\rceil\text{-th smallest of } m^*_1, \dots, m^*_S
        \quad(\text{censored } = +\infty)

    ``None`` (censored) when fewer than half the seeds reached the target.

    Examples
    --------
    >>> median_width([8, None, 4, 16, None]), median_width([8, None, None, 4, None])
    (16, None)
    """
    vals = sorted(math.inf if v is None else v for v in per_seed)
    v = vals[math.ceil(len(vals) / 2) - 1]
    return None if math.isinf(v) else int(v)


# ---------------------------------------------------------------------------- one job and the study

_ETA_RULES = ("grid", "theory")
_LABELS = ("soft", "hard")


def _family_key(name: str) -> int:
    import zlib

    return zlib.crc32(name.encode())


def _level_data(config):
    """The data set, its margin and teacher logits of one (family, level): the same for every label type."""
    from .datasets.families import make_family
    from .margin import margin

    root = np.random.SeedSequence(
        config["data_seed"], spawn_key=(_family_key(config["family"]), int(config["level_index"]))
    )
    s_data, s_margin, s_nets = root.spawn(3)
    ds = make_family(config["family"], config["level"], n=config["n"], rng=np.random.default_rng(s_data))
    if ds.gamma is not None and ds.z is not None:
        gamma = lower = upper = float(ds.gamma)
        z, kind = np.asarray(ds.z, dtype=np.float64), "exact"
    else:
        mres = margin(
            ds.X,
            ds.y,
            n_samples=config["n_samples"],
            n_certify=config["n_certify"],
            rng=np.random.default_rng(s_margin),
        )
        gamma, lower, upper = float(mres.gamma), float(mres.lower), float(mres.upper)
        z, kind = np.asarray(mres.z, dtype=np.float64), "certified"
    return ds, gamma, lower, upper, z, kind, s_nets


def requirement_job(config: dict, seed: object) -> dict:
    r"""One (family, level, label type, temperature) of the requirement study: a sweep job.

    .. math::

        m^*_s(c, T)\ \text{for}\ c \in \{\bar R_{0\text{-}1} \le \epsilon,\ \bar R_{loss} \le \beta\},\
        T \in \text{T grid};\qquad
        \beta_{soft} = \frac{(\gamma/\tau)^2\epsilon}{32}\ (\text{Corollary 4}),\quad
        \beta_{hard} = \epsilon\ln 2\ (\text{Proposition 5})

    The data, the margin (exact or certified), the teacher logits :math:`z` and the network seeds
    derive from ``config["data_seed"]``, the family and the level only (not from the job's own
    ``seed``, which is unused), so the soft and hard jobs of a level train the same
    initialisations on the same data: their differences are paired. Soft targets are
    :math:`p = \mu(z/\tau)` with the KL loss and :math:`B = 1` (Theorem 2); hard targets are
    :math:`y` with the logistic loss and :math:`B = 2L/\gamma` (Proposition 5), or ``config["B"]``
    for both. With ``tau`` the soft risk target uses the scaled margin :math:`\gamma/\tau` of the
    scaled logits (Lemma 3 applied to :math:`z/\tau`).

    The step: ``eta_rule="grid"`` trains a pilot width (``pilot_m``, the same seeds) for the
    smallest :math:`T` of the grid at every step of ``eta_grid`` and keeps the one with the lowest
    median iteration-averaged training risk (ties to the smaller step): the same rule for both
    label types, each on its own risk. ``eta_rule="theory"`` takes Theorem 2's
    :math:`\eta = \beta/3` (soft) and Proposition 5's :math:`\eta = 1` (hard).

    Examples
    --------
    >>> cfg = dict(family="circle", level=1, level_index=0, n=8, labels="hard", tau=1.0, eps=0.2, delta=0.1,
    ...            T_grid=[20, 40], eta_rule="grid", eta_grid=[1.0, 2.0], pilot_m=8, seeds=2, m_max=16, B="theory",
    ...            n_samples=2000, n_certify=2000, data_seed=0, rtol=0.01)
    >>> out = requirement_job(cfg, None)
    >>> sorted(out["m_star"]), out["margin_kind"]
    (['error', 'risk'], 'exact')
    """
    from . import bounds
    from .pgd import network_seeds
    from .teacher import soft_labels

    ds, gamma, lower, upper, z, kind, s_nets = _level_data(config)
    X, y = ds.X, ds.y
    eps, tau = float(config["eps"]), float(config["tau"])
    seeds = network_seeds(int(config["seeds"]), s_nets)
    if config["labels"] == "soft":
        targets, loss = soft_labels(z, tau), "kl"
        beta = (gamma / tau) ** 2 * eps / 32
        B = 1.0 if config["B"] == "theory" else float(config["B"])
        theory_eta = beta / 3
        predicted = float(bounds.corollary4(min(gamma / tau, 0.5), eps, len(y), config["delta"]).m_bound)
    else:
        targets, loss = y, "logistic"
        beta = eps * math.log(2)
        hard = bounds.proposition5(gamma, beta, len(y), config["delta"])
        B = float(hard.B) if config["B"] == "theory" else float(config["B"])
        theory_eta = 1.0
        predicted = float(hard.m_bound)
    T_grid = sorted(int(t) for t in config["T_grid"])
    pilot = {}
    if config["eta_rule"] == "theory":
        eta = theory_eta
    else:
        for e in config["eta_grid"]:
            res = pgd(
                X,
                targets,
                m=int(config["pilot_m"]),
                eta=float(e),
                T=T_grid[0],
                B=B,
                loss=loss,
                labels=y,
                seeds=seeds,
                record_every=None,
            )
            r = float(np.median(res.avg_risk))
            pilot[str(float(e))] = r if math.isfinite(r) else None
        finite = {float(e): r for e, r in pilot.items() if r is not None}
        if not finite:
            raise RuntimeError(f"every step of eta_grid {config['eta_grid']} diverged on the pilot run.")
        eta = min(finite, key=lambda e: (finite[e], e))
    atol = 0.01 * beta
    out = search_widths(
        X,
        targets,
        y,
        loss=loss,
        eta=eta,
        B=B,
        T_grid=T_grid,
        eps=eps,
        beta=beta,
        seeds=seeds,
        m_max=int(config["m_max"]),
        rtol=float(config["rtol"]),
        atol=atol,
    )
    m_star, censored, converged = {}, {}, {}
    for c in ("error", "risk"):
        m_star[c] = {str(T): median_width(out["per_seed"][c][T]) for T in T_grid}
        censored[c] = {str(T): m_star[c][str(T)] is None for T in T_grid}
    lower_bound = int(out["largest"])
    for t, T in enumerate(T_grid):
        w = m_star["error"][str(T)]
        converged[str(T)] = float(np.mean(out["evaluated"][w]["converged"][:, t])) if w is not None else None
    evaluated = {
        str(w): {"error": v["error"].tolist(), "risk": v["risk"].tolist(), "converged": v["converged"].tolist()}
        for w, v in sorted(out["evaluated"].items())
    }
    return {
        "gamma": gamma,
        "gamma_lower": lower,
        "gamma_upper": upper,
        "margin_kind": kind,
        "n": int(X.shape[0]),
        "d": int(X.shape[1]),
        "beta": beta,
        "B": B,
        "eta": eta,
        "eta_rule": config["eta_rule"],
        "eta_pilot": pilot,
        "theory_eta": theory_eta,
        "predicted": predicted,
        "T_grid": T_grid,
        "m_max": int(config["m_max"]),
        "lower_bound": lower_bound,
        "m_star": m_star,
        "censored": censored,
        "converged": converged,
        "per_seed": {c: {str(T): v for T, v in d.items()} for c, d in out["per_seed"].items()},
        "evaluated": evaluated,
    }


# ---------------------------------------------------------------------------- presets

ETA_GRID = tuple(0.5 * 2.0**k for k in range(12))
"""The step grid of the default and full presets, 0.5 to 1024 by factors of 2: the pilot runs chose
the largest step of a grid ending at 16 in 43 of 48 jobs. The summary's conclusions count how often
each end of the grid is chosen."""

PRESETS: dict[str, dict[str, Any]] = {
    "quick": dict(
        families={"pairs": (0, 2, 4, 6), "xor": (0, 1.5, 3, 4.5)},
        T_grid=(100, 1000),
        m_max=128,
        seeds=3,
        eta_grid=(1.0, 4.0),
        pilot_m=32,
        n_samples=10000,
        n_certify=100000,
        temperature=dict(family="pairs", level=4, taus=(1.0, 0.25)),
    ),
    "default": dict(
        families={
            "pairs": (0, 1.5, 3, 4.5, 6, 8),
            "xor": (0, 1, 2, 3, 4, 6),
            "circle": (0.5, 1, 1.5, 2, 3, 4),
            "mnist": (-1, 1, 3, 5, 7, 9),
        },
        T_grid=(100, 1000, 10000),
        m_max=512,
        seeds=5,
        eta_grid=ETA_GRID,
        pilot_m=64,
        n_samples=20000,
        n_certify=400000,
        temperature=dict(family="pairs", level=3, taus=(1.0, 0.5, 0.25, 0.1, 0.05)),
    ),
    "full": dict(
        families={
            "pairs": (0, 1, 2, 3, 4, 5, 6, 7, 8),
            "xor": (0, 0.75, 1.5, 2.25, 3, 3.75, 4.5, 5.25),
            "circle": (0.25, 0.5, 1, 1.5, 2, 2.5, 3, 3.5),
            "mnist": (-1, 0, 1, 3, 5, 7, 9, 11),
        },
        T_grid=(1000, 10000, 100000),
        m_max=4096,
        seeds=9,
        eta_grid=ETA_GRID,
        pilot_m=64,
        n_samples=20000,
        n_certify=1000000,
        temperature=dict(family="pairs", level=3, taus=(1.0, 0.5, 0.25, 0.1, 0.05, 0.02)),
    ),
}
"""The sizes of ``ntkdistill sweep --preset``: quick (minutes), default, full (meant for a cluster)."""


@dataclass
class RequirementStudy(_results.ResultMixin):
    r"""The requirement study's summary (the contents of ``summary.json``, see docs/sweeps.md).

    .. math::

        \ln m^* = b + k\ln(1/\gamma),\quad \text{theory: } k_{soft} = 2,\ k_{hard} = 4

    Attributes
    ----------
    summary : dict
        ``config``, ``levels``, ``fits``, ``fits_risk``, ``paired``, ``temperature``, ``conclusions``.

    Examples
    --------
    >>> RequirementStudy({"conclusions": ["a", "b"]}).format_conclusions()
    'a\nb'
    """

    summary: dict

    def to_dict(self) -> dict:
        """The summary as a JSON-ready dict."""
        return _results.jsonable(self.summary)

    def _frame_rows(self) -> list[dict]:
        """Rows of ``to_frame()``: one per family, level, label type and T (``m_star`` None where censored)."""
        rows = []
        for lv in self.summary.get("levels", []):
            for lab in ("soft", "hard"):
                for T, w in lv[lab]["m_star"].items():
                    rows.append(
                        {
                            "family": lv["family"],
                            "level": lv["level"],
                            "gamma": lv["gamma"],
                            "label": lab,
                            "T": int(T),
                            "m_star": None if w is None else int(w),
                            "censored": w is None,
                            "lower_bound": lv[lab].get("lower_bound"),
                        }
                    )
        return rows

    def to_xarray(self) -> xarray.Dataset:
        """An :class:`xarray.Dataset` of ``m_star`` with dimensions family, level, label and T (needs xarray)."""
        _results.require("xarray", "frames", "RequirementStudy.to_xarray()")
        return self.to_frame().set_index(["family", "level", "label", "T"]).to_xarray()

    def __repr__(self) -> str:
        levels = self.summary.get("levels", [])
        fams = sorted({lv["family"] for lv in levels})
        return (
            f"RequirementStudy({len(levels)} levels, families {fams}, "
            f"{len(self.summary.get('conclusions', []))} conclusion lines)"
        )

    def format_conclusions(self) -> str:
        """The generated conclusion lines."""
        return "\n".join(self.summary["conclusions"])

    def format_table(self) -> str:
        """Per level: gamma and m* at every T for soft and hard (``>W``: censored, not reached up to W)."""
        s = self.summary
        Ts = [str(t) for t in s["config"]["T_grid"]]
        head = ["family", "level", "gamma", "[certified]"] + [f"soft T={t}" for t in Ts] + [f"hard T={t}" for t in Ts]
        rows = [head]
        for lv in s["levels"]:
            cert = "exact" if lv["margin_kind"] == "exact" else f"[{lv['gamma_lower']:.3g}, {lv['gamma_upper']:.3g}]"
            r = [lv["family"], f"{lv['level']:g}", f"{lv['gamma']:.4g}", cert]
            for lab in ("soft", "hard"):
                r += [_w(lv[lab]["m_star"][t], lv[lab]["lower_bound"]) for t in Ts]
            rows.append(r)
        widths = [max(len(r[i]) for r in rows) for i in range(len(head))]
        lines = ["  ".join(c.rjust(w) for c, w in zip(r, widths)) for r in rows]
        lines.insert(1, "  ".join("-" * w for w in widths))
        lines.append(
            "'>W': censored, the target was not reached by half the seeds up to W, the largest width tried "
            "(a lower bound on m*); the fits use it as such, and a width of 2, the grid's smallest, as an upper "
            "bound (m* <= 2)."
        )
        return "\n".join(lines + [""] + s["conclusions"])


def _w(v, m_max):
    return f">{m_max}" if v is None else str(int(v))


def _fmt_ci(ci):
    if ci is None or ci[0] is None and ci[1] is None:
        return "no interval"
    lo = "-inf" if ci[0] is None else f"{ci[0]:.2f}"
    hi = "inf" if ci[1] is None else f"{ci[1]:.2f}"
    return f"[{lo}, {hi}]"


def _fit_dict(levels, lab, crit, T):
    gam = [lv["gamma"] for lv in levels]
    ws, cens, left = [], [], []
    for lv in levels:
        v = lv[lab]["m_star" if crit == "error" else "m_star_risk"][T]
        cens.append(v is None)
        left.append(v is not None and v <= width_grid(int(lv[lab]["m_max"]))[0])  # reached at the grid's floor
        ws.append(lv[lab]["lower_bound"] if v is None else v)
    fit = fit_censored_slope(gam, ws, cens, left=left)
    out = fit.to_dict()
    k = 2 if lab == "soft" else 4
    out["bound_exponent"] = k
    out["contains_bound"] = fit.contains(k) if math.isfinite(fit.slope) else None
    out["T"] = int(T)
    return out


def _floor(fit: Mapping[str, Any]) -> str:
    """The left-censored count of a fit, for the conclusion lines (empty when there is none)."""
    k = int(fit.get("n_left", 0) or 0)
    return f", {k} at the grid's smallest width (m* at most that)" if k else ""


def conclusions(summary: Mapping[str, Any]) -> list[str]:
    r"""The conclusion lines of a summary, generated from its numbers (never written by hand).

    .. math::

        k \in [k_-, k_+] \ni 2\ (\text{soft}),\ 4\ (\text{hard})?\qquad
        \bar d_\ell = \overline{\ln m^*_{soft} - \ln m^*_{hard}} \lessgtr 0?

    Per family and criterion: each exponent with its interval and whether it contains the bound's;
    whether the soft and hard intervals separate; at how many levels the paired difference is
    below or above 0; how often the step rule chose an end of its grid; the softness study.

    Examples
    --------
    >>> conclusions({"config": {"T_grid": [10], "eps": 0.1}, "fits": {}, "fits_risk": {}, "paired": {},
    ...              "levels": [], "temperature": []})
    []
    """
    cfg = summary["config"]
    T = str(cfg["T_grid"][-1])
    lines = []
    for fam in summary["fits"]:
        for crit, key in ((f"error <= {cfg['eps']:g}", "fits"), ("risk <= beta", "fits_risk")):
            parts = []
            for lab in ("soft", "hard"):
                f = summary[key][fam][lab]
                if f["slope"] is None:
                    parts.append(
                        f"{lab}: no exponent ({f['n_observed']} observed, {f['n_censored']} censored"
                        f"{_floor(f)} of {f['n_levels']} levels)"
                    )
                    continue
                verdict = "contains" if f["contains_bound"] else "excludes"
                parts.append(
                    f"{lab} exponent {f['slope']:.2f}, 95% CI {_fmt_ci(f['ci'])} ({f['n_observed']} observed, "
                    f"{f['n_censored']} censored{_floor(f)}), {verdict} the bound's {f['bound_exponent']}"
                )
            lines.append(f"{fam} [{crit}, T = {T}]: " + "; ".join(parts) + ".")
        pairs = summary["paired"][fam]
        below = sum(1 for p in pairs if p["ci"] is not None and p["ci"][1] < 0)
        above = sum(1 for p in pairs if p["ci"] is not None and p["ci"][0] > 0)
        soft_only = sum(1 for p in pairs if p["ci"] is None and p["soft_censored"] and not p["hard_censored"])
        hard_only = sum(1 for p in pairs if p["ci"] is None and p["hard_censored"] and not p["soft_censored"])
        rest = len(pairs) - below - above
        lines.append(
            f"{fam} [paired, error, T = {T}]: soft needed fewer neurons than hard at {below} of {len(pairs)} "
            f"levels (95% interval of the paired log-difference below 0), more at {above} (above 0), "
            f"undecided or censored at {rest} (of which soft alone censored at {soft_only}, hard alone at "
            f"{hard_only})."
        )
        fs, fh = summary["fits"][fam]["soft"], summary["fits"][fam]["hard"]
        if fs["slope"] is not None and fh["slope"] is not None and fs["ci"][1] is not None and fh["ci"][0] is not None:
            if fs["ci"][1] < fh["ci"][0]:
                order = "the soft exponent is below the hard one (intervals disjoint), as the bounds' 2 < 4 predicts"
            elif fh["ci"][1] is not None and fh["ci"][1] < fs["ci"][0]:
                order = "the soft exponent is above the hard one (intervals disjoint), against the bounds' 2 < 4"
            else:
                order = "the soft and hard exponents are not separated (intervals overlap)"
            lines.append(f"{fam} [error, T = {T}]: {order}.")
    if cfg.get("eta_rule") == "grid" and summary["levels"]:
        top, bottom = max(cfg["eta_grid"]), min(cfg["eta_grid"])
        jobs = [lv[lab]["eta"] for lv in summary["levels"] for lab in ("soft", "hard")]
        at_top, at_bottom = sum(e == top for e in jobs), sum(e == bottom for e in jobs)
        if at_top or at_bottom:
            lines.append(
                f"step rule: the grid's largest step ({top:g}) was chosen for {at_top} of {len(jobs)} jobs and "
                f"its smallest ({bottom:g}) for {at_bottom}; where it is the largest, a wider grid may lower m* "
                "at small T."
            )
    if summary["temperature"]:
        t = summary["temperature"]
        ws = ", ".join(f"tau={r['tau']:g}: {_w(r['m_star'][T], r['lower_bound'])}" for r in t)
        lines.append(
            f"temperature ({t[0]['family']}, gamma = {t[0]['gamma']:.3g}, error, T = {T}): soft m* {ws}"
            + f"; hard m* {_w(t[0]['hard_m_star'], t[0]['m_max'])}."
        )
    return lines


N_POINTS = 32
"""Points per data set in the study, for the families that take a size (circle, pairs, xor, mnist)."""


def _points(family):
    return family.default_n if family.default_n in (None, 2) else N_POINTS


def requirement_study(
    preset: str = "default",
    *,
    results_path: str | os.PathLike[str],
    families: Mapping[str, Sequence[float]] | None = None,
    eps: float = 0.1,
    delta: float = 0.1,
    T_grid: Sequence[int] | None = None,
    m_max: int | None = None,
    seeds: int | None = None,
    eta_rule: str = "grid",
    eta_grid: Sequence[float] | None = None,
    B: float | str = "theory",
    rtol: float = 0.01,
    rng: int = 0,
    executor: cf.Executor | None = None,
    progress: bool | None = None,
    temperature: bool = True,
) -> RequirementStudy:
    r"""Measure :math:`m^*(\epsilon, T)` soft and hard across families of falling margin; fit exponents with censoring.

    .. math::

        \ln m^*_\ell = b + k\ln(1/\gamma_\ell) + \sigma\xi_\ell\ \text{(Tobit, censored levels as bounds)},
        \qquad\text{theory: } k_{soft} = 2\ (\text{Corollary 4}),\ k_{hard} = 4\ (\text{Proposition 5})

    Every (family, level, label type) and every temperature of the softness study is one job of
    :func:`ntkdistill.sweep.run_sweep` (:func:`requirement_job`), appended to ``results_path`` as
    it finishes; re-running the same call resumes. The protocol: one step-size rule for both
    label types; every width trained to the largest :math:`T` of a geometric grid and
    :math:`m^*` read at each :math:`T`, with the convergence of the iteration-averaged risk
    (:func:`is_converged`) recorded; both criteria (error :math:`\le\epsilon`, risk
    :math:`\le\beta`); paired seeds.

    Parameters
    ----------
    preset : {"quick", "default", "full"}
        Sizes (:data:`PRESETS`); the keyword arguments below override them.
    results_path : str or os.PathLike
        The resumable JSON-lines results file.
    families : dict, optional
        ``{family name: levels}``.
    eps : float in (0, 1)
        Target averaged classification error.
    delta : float in (0, 1/3)
        Confidence parameter of the bounds' widths set beside the measured ones.
    T_grid : sequence of int, optional
        Iteration counts (increasing) at which :math:`m^*` is read.
    eta_rule : {"grid", "theory"}
    rng : int
        Root seed of the data, margins and networks.
    executor : concurrent.futures.Executor, optional
    temperature : bool
        Include the softness study (:math:`m^*` against :math:`\tau` at one level).

    Returns
    -------
    RequirementStudy

    Examples
    --------
    >>> import os, tempfile
    >>> with tempfile.TemporaryDirectory() as d:
    ...     st = requirement_study("quick", results_path=os.path.join(d, "r.jsonl"), families={"circle": (1, 2, 3)},
    ...                            T_grid=[20, 40], m_max=8, seeds=2, eta_grid=[2.0], temperature=False, progress=False)
    >>> len(st.summary["levels"]), sorted(st.summary["fits"]["circle"])
    (3, ['hard', 'soft'])
    """
    import time

    from . import __version__
    from .datasets.families import FAMILIES
    from .sweep import run_sweep

    if preset not in PRESETS:
        raise ValueError(f"preset == {preset!r}, must be one of {sorted(PRESETS)}.")
    P = dict(PRESETS[preset])
    if families is not None and not isinstance(families, dict):
        raise TypeError(f"families must be a dict {{family name: levels}}, got {type(families).__name__}.")
    families = dict(P["families"] if families is None else families)
    for name, lv in families.items():
        if name not in FAMILIES:
            raise ValueError(f"families has {name!r}, not a family; choose among {sorted(FAMILIES)}.")
        if len(list(lv)) < 3:
            raise ValueError(f"families[{name!r}] == {list(lv)!r}: at least 3 levels are needed to fit an exponent.")
    eps = check_real("eps", eps, low=0.0, high=1.0)
    delta = check_real("delta", delta, low=0.0, high=1.0 / 3)
    T_grid = [check_int("T_grid", t, minimum=2) for t in (P["T_grid"] if T_grid is None else T_grid)]
    if sorted(set(T_grid)) != T_grid:
        raise ValueError(f"T_grid == {T_grid}, must be strictly increasing.")
    m_max = check_int("m_max", P["m_max"] if m_max is None else m_max, minimum=2, even=True)
    seeds = check_int("seeds", P["seeds"] if seeds is None else seeds, minimum=1)
    if eta_rule not in _ETA_RULES:
        raise ValueError(f"eta_rule == {eta_rule!r}, must be one of {_ETA_RULES}.")
    eta_grid = [check_real("eta_grid", e, low=0.0) for e in (P["eta_grid"] if eta_grid is None else eta_grid)]
    if B != "theory":
        B = check_real("B", B, low=0.0, allow_inf=True)
    rtol = check_real("rtol", rtol, low=0.0)
    rng = check_int("rng", rng, minimum=0)
    pilot_m = min(int(P["pilot_m"]), m_max)
    base = {
        "eps": eps,
        "delta": delta,
        "T_grid": T_grid,
        "eta_rule": eta_rule,
        "eta_grid": eta_grid,
        "pilot_m": pilot_m,
        "seeds": seeds,
        "m_max": m_max,
        "B": B if isinstance(B, str) else (float(B) if math.isfinite(B) else "inf"),  # "theory" or a checked float
        "n_samples": P["n_samples"],
        "n_certify": P["n_certify"],
        "data_seed": rng,
        "rtol": rtol,
    }
    configs = []
    for name, lvs in families.items():
        for i, lv in enumerate(lvs):
            for lab in _LABELS:
                configs.append(
                    dict(base, family=name, level=lv, level_index=i, n=_points(FAMILIES[name]), labels=lab, tau=1.0)
                )
    temp = P.get("temperature") if temperature else None
    if temp:
        fam_t = temp["family"]
        lv_list = list(families.get(fam_t, ())) or [temp["level"]]
        lv_t = temp["level"] if temp["level"] in lv_list else lv_list[len(lv_list) // 2]
        i_t = lv_list.index(lv_t) if fam_t in families else 0
        for tau in temp["taus"]:
            if float(tau) != 1.0 or fam_t not in families:
                configs.append(
                    dict(
                        base,
                        family=fam_t,
                        level=lv_t,
                        level_index=i_t,
                        n=_points(FAMILIES[fam_t]),
                        labels="soft",
                        tau=float(tau),
                    )
                )
        if fam_t not in families:
            configs.append(
                dict(
                    base, family=fam_t, level=lv_t, level_index=i_t, n=_points(FAMILIES[fam_t]), labels="hard", tau=1.0
                )
            )
    t0 = time.perf_counter()
    records = run_sweep(
        requirement_job,
        configs,
        results_path=results_path,
        executor=executor,
        rng=rng,
        progress=progress,
        desc="requirement",
    )
    wall = time.perf_counter() - t0
    import platform

    config = dict(
        base,
        preset=preset,
        families={k: list(v) for k, v in families.items()},
        temperature_spec=dict(family=fam_t, level=lv_t, taus=[float(t) for t in temp["taus"]]) if temp else None,
        version=__version__,
        results_path=str(results_path),
        wall_s=wall,
        machine=f"{platform.machine()}, {os.cpu_count()} CPUs",
        jobs_planned=len(configs),
    )
    del records  # the summary is built from the whole results file, this run's records included
    return summarize_requirement(results_path, config)


_PROTOCOL = (
    "eps",
    "delta",
    "T_grid",
    "eta_rule",
    "eta_grid",
    "pilot_m",
    "seeds",
    "m_max",
    "B",
    "n_samples",
    "n_certify",
    "data_seed",
    "rtol",
)
"""The fields of a requirement job's configuration shared by every job of one study (its protocol)."""

_JOB_FIELDS = frozenset(_PROTOCOL) | {"family", "level", "level_index", "n", "labels", "tau"}


def _protocol_records(results_path, config):
    """The results of every requirement job in the file with ``config``'s protocol, by (family, index, level, labels, tau).

    Returns the mapping and the counts of records in the file and of those left out (another
    protocol, or not a requirement job).
    """
    import json

    from .sweep import _canonical_config, read_results

    want = json.dumps(_canonical_config({k: config[k] for k in _PROTOCOL}, "config"), sort_keys=True)
    records = read_results(results_path)
    by, other = {}, 0
    for rec in records.values():
        c = rec.get("config")
        if (
            not isinstance(c, dict)
            or set(c) != _JOB_FIELDS
            or json.dumps({k: c[k] for k in _PROTOCOL}, sort_keys=True) != want
        ):
            other += 1
            continue
        by.setdefault((c["family"], int(c["level_index"]), c["level"], c["labels"], float(c["tau"])), rec["result"])
    return by, len(records), other


def summarize_requirement(results_path: str | os.PathLike[str], config: Mapping[str, Any]) -> RequirementStudy:
    r"""The requirement study's summary built from every record of a results file with one protocol.

    .. math::

        \{(	ext{family}, \ell)\ :\ 	ext{soft and hard jobs of } \ell 	ext{ in the file}\}
        \ 	o\ 	ext{levels, Tobit fits, paired differences, temperature rows, conclusions}

    :func:`requirement_study` ends with this call; ``ntkdistill sweep`` calls it again under a
    lock before writing ``summary.json``, so that two sweeps sharing one results file (say one
    family each) both leave a summary of everything finished, whichever ends last. Records of
    another protocol (different ``eps``, grids, seeds, ``rng``...) are counted in
    ``config["records_other_protocol"]`` and left out; a level whose soft or hard job is not in
    the file yet is counted in ``config["levels_incomplete"]``; a family from the file outside
    ``config["families"]`` joins when it has at least 3 complete levels.

    Parameters
    ----------
    results_path : str or os.PathLike
        The JSON-lines results file of :func:`ntkdistill.sweep.run_sweep`.
    config : dict
        The protocol fields (``eps``, ``delta``, ``T_grid``, ``eta_rule``, ``eta_grid``,
        ``pilot_m``, ``seeds``, ``m_max``, ``B``, ``n_samples``, ``n_certify``, ``data_seed``,
        ``rtol``), ``families`` (``{name: levels}``, the order of the output) and optionally
        ``temperature_spec`` (``{"family", "level", "taus"}``): ``summary["config"]`` of a study.

    Returns
    -------
    RequirementStudy

    Examples
    --------
    >>> import os, tempfile
    >>> with tempfile.TemporaryDirectory() as d:
    ...     path = os.path.join(d, "r.jsonl")
    ...     st = requirement_study("quick", results_path=path, families={"circle": (1, 2, 3)},
    ...                            T_grid=[20, 40], m_max=8, seeds=2, eta_grid=[2.0], temperature=False, progress=False)
    ...     again = summarize_requirement(path, st.summary["config"])
    >>> again.summary["levels"] == st.summary["levels"], again.summary["config"]["records_of_protocol"]
    (True, 6)
    """
    missing = [k for k in _PROTOCOL + ("families",) if k not in config]
    if missing:
        raise ValueError(f"config lacks {missing}: pass summary['config'] of a requirement study.")
    by, n_file, n_other = _protocol_records(results_path, config)
    T_grid = [int(t) for t in config["T_grid"]]
    Tmax = str(T_grid[-1])
    order = list(config["families"]) + [f for f, *_ in by if f not in config["families"]]
    order = list(dict.fromkeys(order))
    levels, paired, fits, fits_risk, incomplete = [], {}, {}, {}, 0
    for name in order:
        keys = sorted({(i, lv) for f, i, lv, _, _ in by if f == name})
        fam_levels, fam_paired = [], []
        for i, lv in keys:
            ks, kh = (name, i, lv, "soft", 1.0), (name, i, lv, "hard", 1.0)
            if ks not in by or kh not in by:
                incomplete += 1
                continue
            row = _level_row(name, lv, by[ks], by[kh], Tmax)
            fam_levels.append(row)
            fam_paired.append(row["paired"])
        if not fam_levels or (name not in config["families"] and len(fam_levels) < 3):
            continue
        levels += fam_levels
        paired[name] = fam_paired
        fits[name] = {lab: _fit_dict(fam_levels, lab, "error", Tmax) for lab in _LABELS}
        fits_risk[name] = {lab: _fit_dict(fam_levels, lab, "risk", Tmax) for lab in _LABELS}
    temperature_rows = _temperature_rows(by, config.get("temperature_spec"), Tmax)
    cfg = dict(
        config,
        families={f: [lv["level"] for lv in levels if lv["family"] == f] for f in fits},
        records_in_file=n_file,
        records_of_protocol=len(by),
        records_other_protocol=n_other,
        levels_incomplete=incomplete,
        criterion="iteration-averaged error <= eps and iteration-averaged risk <= beta (soft: KL, "
        "beta = (gamma/tau)^2 eps / 32, Corollary 4; hard: logistic, beta = eps ln 2, Proposition 5)",
        convergence=f"|A(T) - A(T/2)| <= {config['rtol']} A(T) + 0.01 beta, A the iteration-averaged risk",
        m_star_rule="smallest width of the geometric grid reached by at least half the seeds",
    )
    summary = {
        "schema": "ntkdistill.requirement/2",
        "config": cfg,
        "levels": levels,
        "fits": fits,
        "fits_risk": fits_risk,
        "paired": paired,
        "temperature": temperature_rows,
    }
    summary["conclusions"] = conclusions(summary)
    return RequirementStudy(summary)


def _level_row(name, lv, soft, hard, Tmax):
    """One entry of ``summary["levels"]`` from the soft and hard results of a level."""
    row = {
        "family": name,
        "level": lv,
        "gamma": soft["gamma"],
        "gamma_lower": soft["gamma_lower"],
        "gamma_upper": soft["gamma_upper"],
        "margin_kind": soft["margin_kind"],
        "n": soft["n"],
        "d": soft["d"],
        "tau": 1.0,
    }
    for lab, r in (("soft", soft), ("hard", hard)):
        row[lab] = {
            "m_star": r["m_star"]["error"],
            "censored": r["censored"]["error"][Tmax],
            "m_star_risk": r["m_star"]["risk"],
            "censored_risk": r["censored"]["risk"][Tmax],
            "censored_by_T": r["censored"]["error"],
            "converged": r["converged"],
            "eta": r["eta"],
            "eta_pilot": r["eta_pilot"],
            "beta": r["beta"],
            "B": r["B"],
            "predicted": r["predicted"],
            "m_max": r["m_max"],
            "lower_bound": r["lower_bound"],
            "per_seed": r["per_seed"]["error"][Tmax],
        }
    pd_ = paired_difference(soft["per_seed"]["error"][Tmax], hard["per_seed"]["error"][Tmax])
    pd_.update(
        level=lv, gamma=soft["gamma"], soft_censored=row["soft"]["censored"], hard_censored=row["hard"]["censored"]
    )
    row["paired"] = pd_
    return row


def _temperature_rows(by, spec, Tmax):
    """The softness study's rows: every temperature of the spec's (family, level) in the file, hottest first."""
    if not spec:
        return []
    fam, level = spec["family"], spec["level"]
    soft = sorted(
        ((k, r) for k, r in by.items() if k[0] == fam and k[2] == level and k[3] == "soft"),
        key=lambda kr: (-kr[0][4], kr[0][1]),
    )
    rows = []
    for (f, i, lv, _, tau), r in soft:
        hard = by.get((f, i, lv, "hard", 1.0))
        if hard is None or any(row["tau"] == tau for row in rows):
            continue
        rows.append(
            {
                "family": f,
                "level": lv,
                "gamma": r["gamma"],
                "tau": tau,
                "m_star": r["m_star"]["error"],
                "m_star_risk": r["m_star"]["risk"],
                "censored": r["censored"]["error"][Tmax],
                "eta": r["eta"],
                "m_max": r["m_max"],
                "lower_bound": r["lower_bound"],
                "hard_m_star": hard["m_star"]["error"][Tmax],
            }
        )
    return rows


def summary_frame(summary: dict[str, Any] | str | os.PathLike[str]) -> pandas.DataFrame:
    r"""``summary.json`` (a path or the loaded dict) as a pandas DataFrame, one row per level (needs pandas).

    .. math::

        \text{row } \ell = (\text{family}, \gamma_\ell, m^*_{soft}(T), m^*_{hard}(T), \dots)

    The nested fields become dotted columns (``soft.m_star.1000``, ``hard.censored``, ...):
    this is ``pandas.json_normalize(summary["levels"])``.

    Examples
    --------
    >>> df = summary_frame({"levels": [{"family": "f", "gamma": 0.1, "soft": {"m_star": {"10": 4}}}]})  # doctest: +SKIP
    >>> list(df.columns)  # doctest: +SKIP
    ['family', 'gamma', 'soft.m_star.10']
    """
    import json

    import pandas as pd

    if not isinstance(summary, dict):
        with open(summary) as fh:
            summary = json.load(fh)
    return pd.json_normalize(summary["levels"])
