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
from dataclasses import asdict, dataclass, field

import numpy as np
from scipy import stats

from . import _results
from ._validation import check_int, check_real
from .pgd import network_seeds, pgd

__all__ = ["WidthSearch", "min_width", "SlopeFit", "fit_loglog_slope", "RequirementStudy", "requirement_study", "requirement_job"]

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
    X,
    targets,
    *,
    eps,
    T,
    eta,
    B=np.inf,
    loss="kl",
    labels=None,
    seeds=5,
    rng=None,
    m_max=1024,
    criterion="final",
    method="bisect",
    dtype=None,
):
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
            res = pgd(X, targets, m=m, eta=eta, T=T, B=B, loss=loss, labels=labels, seeds=seed_list,
                      record_every=None, dtype=dtype)
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
    return WidthSearch(found, dict(sorted(evaluated.items())), dict(sorted(errors.items())), eps, criterion,
                       method, m_max)


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


def fit_loglog_slope(gamma, widths, level=0.95) -> SlopeFit:
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


# ---------------------------------------------------------------------------- the study over a family


@dataclass
class RequirementStudy(_results.ResultMixin):
    r"""Measured minimal widths across a synthetic family, with fitted exponents and looseness.

    Attributes
    ----------
    config : dict
        Family, levels, target, budget, seeds, library version.
    levels : list of dict
        Per level: ``gamma``, ``soft_width``, ``hard_width`` (None where not reached), the widths the
        bounds predict (``soft_predicted``: Corollary 4 at (gamma, eps); ``hard_predicted``:
        Proposition 5 at beta = eps ln 2), and the looseness (predicted over measured).
    soft_fit, hard_fit : SlopeFit
        Exponent of :math:`m^* \propto (1/\gamma)^k`, to compare with 2 (soft) and 4 (hard).

    Examples
    --------
    >>> fit = fit_loglog_slope([0.4, 0.2], [4, 16])
    >>> study = RequirementStudy({}, [], fit, fit)
    >>> print(study.format_table().splitlines()[-1][:30])
    hard: fitted exponent 2.00, no
    """

    config: dict
    levels: list
    soft_fit: SlopeFit
    hard_fit: SlopeFit

    _frame_rows = _results.records_rows("levels")  # to_frame(): one row per level
    to_xarray = _results.records_xarray("levels", "level")  # dimension: level
    __repr__ = _results.list_repr("levels", ("level", "gamma", "soft_width", "hard_width"))

    def to_dict(self) -> dict:
        """JSON-ready dict."""
        return _results.jsonable({"config": self.config, "levels": self.levels, "soft_fit": self.soft_fit.to_dict(),
                                  "hard_fit": self.hard_fit.to_dict()})

    def format_table(self) -> str:
        """One row per level, then the fitted slopes beside the theory's exponents."""
        head = ("level", "gamma", "soft m*", "soft bound", "loose", "hard m*", "hard bound", "loose")
        rows = [head]
        for lv in self.levels:
            rows.append((str(lv["level"]), f"{lv['gamma']:.4g}", _w(lv["soft_width"]), f"{lv['soft_predicted']:.3g}",
                         _ratio(lv["soft_looseness"]), _w(lv["hard_width"]), f"{lv['hard_predicted']:.3g}",
                         _ratio(lv["hard_looseness"])))
        widths = [max(len(r[i]) for r in rows) for i in range(len(head))]
        lines = ["  ".join(c.rjust(w) for c, w in zip(r, widths)) for r in rows]
        lines.insert(1, "  ".join("-" * w for w in widths))
        for name, fit, k in (("soft", self.soft_fit, 2), ("hard", self.hard_fit, 4)):
            if math.isfinite(fit.slope):
                ci = (f"{fit.level:.0%} CI [{fit.ci_low:.2f}, {fit.ci_high:.2f}]" if math.isfinite(fit.ci_low)
                      else "no CI (fewer than 3 points)")
                lines.append(f"{name}: fitted exponent {fit.slope:.2f}, {ci}, from {fit.n_points} levels; "
                             f"the bound's exponent is {k}.")
            else:
                lines.append(f"{name}: no exponent fitted (fewer than 2 levels reached the target, or one gamma).")
        return "\n".join(lines)


def _w(v):
    return "-" if v is None else str(int(v))


def _ratio(v):
    return "-" if v is None else f"{v:.3g}"


def requirement_job(config: dict, seed) -> dict:
    r"""One configuration of :func:`requirement_study`: one level, one label type (a sweep job).

    .. math::

        m^* = \min\{m : \operatorname{median}_s R_s(m) \le \epsilon\}\ \text{for one } (\gamma, \text{label type})

    ``config`` holds ``family, level, n, labels ("soft" | "hard"), eps, delta, T, eta, seeds, m_max, B,
    n_samples, data_seed, method, criterion``; ``delta`` is the confidence parameter of the
    predicted widths (Corollary 4, Proposition 5). The data and the teacher depend only on
    ``data_seed`` and the level, so the soft and hard jobs of a level see the same data.

    Examples
    --------
    >>> import numpy as np
    >>> cfg = dict(family="orthonormal", level=2, level_index=0, n=2, labels="hard", eps=0.4, delta=0.1, T=30, eta=2.0,
    ...            seeds=2, m_max=8, B="theory", n_samples=2000, data_seed=0, method="bisect", criterion="final")
    >>> out = requirement_job(cfg, np.random.SeedSequence(1))
    >>> out["width"], round(out["gamma"], 4)
    (2, 0.4268)
    """
    from . import bounds
    from .datasets.families import make_family
    from .margin import margin
    from .teacher import soft_labels, teacher_logits

    level = config["level"]
    data_root = np.random.SeedSequence(config["data_seed"], spawn_key=(int(config["level_index"]),))
    s_data, s_margin, s_teacher = data_root.spawn(3)
    ds = make_family(config["family"], level, n=config["n"], rng=np.random.default_rng(s_data))
    X, y = ds.X, ds.y
    mres = margin(X, y, n_samples=config["n_samples"], rng=np.random.default_rng(s_margin))
    gamma = float(ds.gamma) if getattr(ds, "gamma", None) is not None else float(mres.gamma)
    eps = config["eps"]
    if config["labels"] == "soft":
        z = np.asarray(teacher_logits(X, mres.v, n_samples=config["n_samples"],
                                      rng=np.random.default_rng(s_teacher))[0])
        targets, loss = soft_labels(z), "kl"
        B = 1.0 if config["B"] == "theory" else float(config["B"])
        predicted = float(bounds.corollary4(gamma, eps, len(y), config["delta"]).m_bound)
    else:
        targets, loss = y, "logistic"
        hard = bounds.proposition5(gamma, eps * math.log(2), len(y), config["delta"])
        B = float(hard.B) if config["B"] == "theory" else float(config["B"])
        predicted = float(hard.m_bound)
    search = min_width(X, targets, eps=eps, T=config["T"], eta=config["eta"], B=B, loss=loss, labels=y,
                       seeds=config["seeds"], rng=seed, m_max=config["m_max"], criterion=config["criterion"],
                       method=config["method"])
    return {"gamma": gamma, "gamma_estimate": float(mres.gamma), "gamma_lower": float(mres.lower),
            "gamma_upper": float(mres.upper), "width": search.width, "B": B, "predicted": predicted,
            "search": search.to_dict()}


def requirement_study(family, levels, *, n, eps=0.1, delta=0.1, T=2000, eta=1.0, seeds=5, m_max=256, B="theory",
                      n_samples=20000, rng=0, results_path, executor=None, progress=None,
                      method="bisect", criterion="final") -> RequirementStudy:
    r"""Measure :math:`m^*` for soft and hard labels at every level of a synthetic family and fit exponents.

    .. math::

        m^*_{soft}(\gamma),\ m^*_{hard}(\gamma)\quad\text{and}\quad
        \ln m^* = k \ln(1/\gamma) + b,\ \text{theory: } k_{soft} = 2,\ k_{hard} = 4

    Every (level, label type) is one job of :func:`ntkdistill.sweep.run_sweep`: it is appended to
    ``results_path`` as soon as it finishes, and re-running the same call resumes. Both label
    types use the same step ``eta``, iteration budget ``T``, seeds and width search; the
    projection radius is each theorem's (``B="theory"``: 1 for soft, :math:`2L/\gamma` for hard) or
    the given number for both.

    Parameters
    ----------
    family : str
        A family of :mod:`ntkdistill.datasets.synthetic`.
    levels : sequence
        Difficulty levels of the family (gamma falls along them).
    n : int
        Points per data set.
    eps : float
        Target classification error (final error by default, see :func:`min_width`).
    delta : float in (0, 1/3)
        Confidence parameter of the predicted widths (Corollary 4, Proposition 5) set beside the
        measured ones.
    rng : int
        Root seed: the data seed and the sweep's seeds derive from it.
    executor : concurrent.futures.Executor, optional
        Runs the jobs in parallel (one BLAS thread per worker).

    Returns
    -------
    RequirementStudy

    Examples
    --------
    >>> import tempfile, os
    >>> with tempfile.TemporaryDirectory() as d:
    ...     st = requirement_study("two_points", [1, 2], n=2, eps=0.4, T=30, eta=2.0, seeds=2, m_max=8,
    ...                            n_samples=2000, results_path=os.path.join(d, "r.jsonl"), progress=False)
    >>> [lv["hard_width"] for lv in st.levels]
    [6, 2]
    """
    from . import __version__
    from .sweep import run_sweep

    eps = check_real("eps", eps, low=0.0, high=1.0)
    delta = check_real("delta", delta, low=0.0, high=1.0 / 3)
    n = check_int("n", n, minimum=2)
    T = check_int("T", T, minimum=1)
    eta = check_real("eta", eta, low=0.0)
    seeds = check_int("seeds", seeds, minimum=1)
    m_max = check_int("m_max", m_max, minimum=2, even=True)
    if B != "theory":
        B = check_real("B", B, low=0.0, allow_inf=True)
    if method not in _METHODS:
        raise ValueError(f"method == {method!r}, must be one of {_METHODS}.")
    if criterion not in _CRITERIA:
        raise ValueError(f"criterion == {criterion!r}, must be one of {_CRITERIA}.")
    rng = check_int("rng", rng, minimum=0)
    levels = list(levels)
    if len(levels) < 2:
        raise ValueError(f"levels must hold at least 2 levels to fit an exponent, got {levels!r}.")
    base = {"family": family, "n": n, "eps": eps, "delta": delta, "T": T, "eta": eta, "seeds": seeds, "m_max": m_max,
            "B": B if B == "theory" else (float(B) if math.isfinite(B) else "inf"), "n_samples": n_samples,
            "data_seed": rng, "method": method, "criterion": criterion}
    configs = [dict(base, level=lv, level_index=i, labels=lab) for i, lv in enumerate(levels)
               for lab in ("soft", "hard")]
    # fail fast on an unknown family before any job starts
    from .datasets.families import make_family

    make_family(family, levels[0], n=n, rng=np.random.default_rng(0))
    records = run_sweep(requirement_job, configs, results_path=results_path, executor=executor, rng=rng,
                        progress=progress, desc=f"{family} widths")
    out = []
    for i, lv in enumerate(levels):
        soft = records[2 * i]
        hard = records[2 * i + 1]
        row = {"level": lv, "gamma": soft["gamma"], "gamma_lower": soft["gamma_lower"],
               "gamma_upper": soft["gamma_upper"], "soft_width": soft["width"], "hard_width": hard["width"],
               "soft_predicted": soft["predicted"], "hard_predicted": hard["predicted"],
               "soft_B": soft["B"], "hard_B": hard["B"],
               "soft_search": soft["search"], "hard_search": hard["search"]}
        row["soft_looseness"] = soft["predicted"] / soft["width"] if soft["width"] else None
        row["hard_looseness"] = hard["predicted"] / hard["width"] if hard["width"] else None
        out.append(row)
    gam = [r["gamma"] for r in out]
    soft_fit = fit_loglog_slope(gam, [r["soft_width"] for r in out])
    hard_fit = fit_loglog_slope(gam, [r["hard_width"] for r in out])
    config = dict(base, levels=levels, version=__version__, results_path=str(results_path))
    return RequirementStudy(config, out, soft_fit, hard_fit)
