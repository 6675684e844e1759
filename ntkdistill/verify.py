r"""Checks of the paper's claims: run what each theorem prescribes and compare with what it promises.

Each check computes the theorem's width ``m``, iterations ``T``, step ``eta`` and radius ``B``
(:mod:`ntkdistill.bounds`), estimates the cost of the run (:mod:`ntkdistill.cost`, the single
place that decides what runs), trains many seeds as one batch (:func:`ntkdistill.pgd`), and
reports the count of seeds that meet the claim next to the promised probability.

===============  ====================================================  =========================
check            claim tested                                          promised frequency
===============  ====================================================  =========================
Theorem 2        :math:`\frac1T\sum_{\tau<T} R_{KL}(W(\tau)) \le \beta`    :math:`\ge 1 - 3\delta`
Corollary 4      :math:`\frac1T\sum_{\tau<T} R(W(\tau)) \le \epsilon`      :math:`\ge 1 - 3\delta`
Proposition 5    :math:`\frac1T\sum_{\tau<T} R_h(W(\tau)) \le \beta`       :math:`\ge 1 - 3\delta`
Lemma 3          :math:`R(W) \le \frac{32}{\gamma^2} R_{KL}(W)` at every  always (deterministic)
                 recorded iterate
Lemma 6          :math:`\max_i |f^0_i(U) - z_i| \le r(m, n, \delta)`       :math:`\ge 1 - \delta`
===============  ====================================================  =========================

Verdicts (:data:`VERDICTS`; the same lines are printed under the table, in ``--help``, the
README and the docs). A statistical verdict uses the one-sided exact binomial test of
:math:`H_0: P(\text{success}) \ge \pi_0` at level :math:`\alpha` and its power against
:math:`\pi_0 / 2` (:func:`detection_power`); :func:`seeds_for_power` gives the smallest number
of seeds with power 0.8, the default.

- ``PASS``: not rejected, and power :math:`\ge 0.8`.
- ``FAIL``: rejected (:math:`p < \alpha`), or a deterministic inequality violated.
- ``INCONCLUSIVE``: not rejected, but power :math:`< 0.8`.
- ``VACUOUS``: the claim holds trivially (target above the risk at initialisation, bound
  met by any value).
- ``REFUSED``: too costly, and nothing smaller was run.
- ``EMPIRICAL``: the prescription did not fit; the same training ran at the largest width and
  length that fit, reported but never a PASS.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
from scipy import stats

from . import _results
from . import bounds as _bounds
from ._validation import check_int, check_labels, check_probabilities, check_real, check_matrix, root_seed
from . import _fast
from .cost import TRAJECTORY_COMPILE_SECONDS, estimate_cost, format_seconds, trajectory_seconds
from .losses import kl_risk, logit
from .pgd import network_seeds, pgd

if TYPE_CHECKING:
    from ._typing import ArrayLike, DTypeLike, Field, SeedLike
    from .pgd import PGDResult

__all__ = [
    "Check",
    "VERDICTS",
    "verdict_legend",
    "binomial_status",
    "detection_power",
    "seeds_for_power",
    "check_theorem2",
    "check_corollary4",
    "check_proposition5",
    "check_lemma3",
    "check_lemma6",
    "CHECKS",
    "VerifyReport",
    "run_verify",
]

PASS, FAIL, VACUOUS, REFUSED = "PASS", "FAIL", "VACUOUS", "REFUSED"
INCONCLUSIVE, EMPIRICAL = "INCONCLUSIVE", "EMPIRICAL"

#: Required power against half the promised frequency for a PASS.
POWER = 0.8

VERDICTS = {
    PASS: "consistent with the promise (exact one-sided binomial test at alpha = {alpha:g} does not reject it) "
    "and enough seeds for power >= 0.8 to detect a success rate of half the promise.",
    FAIL: "the frequency is significantly below the promise (p < alpha = {alpha:g}), or a deterministic "
    "inequality (Lemma 3) was violated.",
    INCONCLUSIVE: "not rejected, but too few seeds: power < 0.8 to detect a success rate of half the promise, "
    "so this is no evidence for the claim.",
    VACUOUS: "the claim holds trivially: the target is at or above the risk at initialisation, or the bound "
    "is met by any possible value.",
    REFUSED: "the estimated cost exceeds the budget and nothing was run; the note gives the estimate and the "
    "largest setting that fits (larger target, fewer seeds, fewer points).",
    EMPIRICAL: "the prescription did not fit the budget; the same training ran at the largest width and length "
    "that fit, and what it reached is reported (never a PASS).",
}
"""One line per verdict: what it means (``{alpha}`` is the test's level)."""


def verdict_legend(alpha: float = 0.01) -> str:
    r"""The verdict legend, one line per verdict, as printed under the table.

    PASS needs :math:`p \ge \alpha` and power :math:`\ge 0.8` against :math:`\pi_0 / 2`
    (:func:`binomial_status`); ``alpha`` is filled into the lines that name it.

    Examples
    --------
    >>> verdict_legend().splitlines()[0].startswith("PASS")
    True
    """
    return "\n".join(f"{k:<12} {v.format(alpha=alpha)}" for k, v in VERDICTS.items())


@dataclass(frozen=True)
class Check(_results.ResultMixin):
    """The outcome of one check: what was predicted, what was measured, and the verdict.

    Attributes
    ----------
    name : str
        "Theorem 2", "Corollary 4", "Proposition 5", "Lemma 3" or "Lemma 6".
    status : str
        PASS, FAIL, INCONCLUSIVE, VACUOUS, REFUSED or EMPIRICAL (:data:`VERDICTS`).
    claim : str
        The inequality checked, in words.
    predicted : dict
        The theorem's parameters and promise (m, T, eta, B, target, confidence).
    measured : dict
        Counts, intervals, averages over seeds, slack, cost.
    note : str
        Why the status is what it is.

    Examples
    --------
    >>> Check("Lemma 3", PASS, "R <= 32 R_KL / gamma^2", {}, {"violations": 0}).to_dict()["status"]
    'PASS'
    """

    name: str
    status: str
    claim: str
    predicted: dict = field(default_factory=dict)
    measured: dict = field(default_factory=dict)
    note: str = ""

    _frame_rows = _results.check_frame_rows  # to_frame(): one row per predicted or measured number

    def to_dict(self) -> dict:
        """JSON-ready dict."""
        return _jsonable(asdict(self))


_jsonable = _results.jsonable  # numpy scalars and arrays as JSON types, NaN as None, inf as "inf"


# ---------------------------------------------------------------------------- statistics


def _critical_count(trials: int, promised: float, alpha: float) -> int:
    """Largest success count the one-sided test rejects at ``alpha`` (-1 when none)."""
    ks = np.arange(trials + 1)
    rejected = ks[stats.binom.cdf(ks, trials, promised) < alpha]
    return int(rejected.max()) if rejected.size else -1


def detection_power(trials: int, promised: float, alpha: float = 0.01, ratio: float = 0.5) -> float:
    r"""Power of the one-sided binomial test to detect a success rate of ``ratio`` times the promise.

    .. math::

        k^* = \max\{k : P(\mathrm{Bin}(N, \pi_0) \le k) < \alpha\},\qquad
        \text{power} = P(\mathrm{Bin}(N, \rho\,\pi_0) \le k^*)

    (0 when no outcome can reject, :math:`k^* = -1`).

    Examples
    --------
    >>> round(detection_power(21, 0.7), 3), round(detection_power(5, 0.7), 3)
    (0.838, 0.116)
    """
    N = check_int("trials", trials, minimum=1)
    promised = check_real("promised", promised, low=0.0, high=1.0, low_open=True, high_open=False)
    k = _critical_count(N, promised, alpha)
    return 0.0 if k < 0 else float(stats.binom.cdf(k, N, ratio * promised))


def seeds_for_power(
    promised: float, alpha: float = 0.01, power: float = POWER, ratio: float = 0.5, max_seeds: int = 5000
) -> int:
    r"""The smallest number of seeds whose binomial test has ``power`` against ``ratio`` times the promise.

    .. math::

        N^* = \min\{N : \text{detection\_power}(N, \pi_0, \alpha, \rho) \ge 0.8\}

    (:func:`detection_power`). For :math:`\delta = 0.1`: 21 seeds for the training checks
    (:math:`\pi_0 = 1 - 3\delta = 0.7`), 9 for Lemma 6 (:math:`\pi_0 = 1 - \delta = 0.9`).

    Examples
    --------
    >>> seeds_for_power(0.7), seeds_for_power(0.9)
    (21, 9)
    """
    promised = check_real("promised", promised, low=0.0, high=1.0, low_open=True, high_open=False)
    for N in range(1, max_seeds + 1):
        if detection_power(N, promised, alpha, ratio) >= power:
            return N
    raise ValueError(
        f"promised == {promised:g}: no number of seeds up to {max_seeds} reaches power {power:g} "
        f"against a success rate of {ratio * promised:g}; use a smaller delta."
    )


def binomial_status(
    successes: int, trials: int, promised: float, alpha: float = 0.01
) -> tuple[str, float, tuple[float, float]]:
    r"""Verdict on a promised probability from ``successes`` out of ``trials``.

    One-sided exact binomial test of :math:`H_0: P(\text{success}) \ge` ``promised``: the p-value is
    :math:`P(\mathrm{Bin}(N, \text{promised}) \le k)`. FAIL when :math:`p < \alpha`; otherwise PASS
    when the test had power :math:`\ge 0.8` to detect half the promise (:func:`detection_power`),
    INCONCLUSIVE when not. Returns ``(status, p_value, (lo, hi))`` with the 95% Clopper-Pearson
    interval for the success probability.

    Examples
    --------
    >>> [binomial_status(k, 21, 0.7)[0] for k in (21, 2)], binomial_status(5, 5, 0.7)[0]
    (['PASS', 'FAIL'], 'INCONCLUSIVE')
    """
    k = check_int("successes", successes, minimum=0)
    n = check_int("trials", trials, minimum=1)
    if k > n:
        raise ValueError(f"successes == {k}, must be at most trials == {n}.")
    promised = check_real("promised", promised, low=0.0, high=1.0, low_open=False, high_open=False)
    alpha = check_real("alpha", alpha, low=0.0, high=1.0)
    pval = float(stats.binom.cdf(k, n, promised))
    ci = stats.binomtest(k, n).proportion_ci(confidence_level=0.95, method="exact")
    if pval < alpha:
        status = FAIL
    else:
        status = PASS if promised > 0 and detection_power(n, promised, alpha) >= POWER else INCONCLUSIVE
    return status, pval, (float(ci.low), float(ci.high))


def _slack(target, values):
    """``target / mean(values)`` with a 95% interval from the t-interval of the mean over seeds."""
    values = np.asarray(values, dtype=np.float64)
    mean = float(np.mean(values))

    def ratio(v):
        return float(target / v) if v > 0 else float("inf")

    if values.size < 2:
        return ratio(mean), (None, None)
    half = float(stats.t.ppf(0.975, values.size - 1) * np.std(values, ddof=1) / math.sqrt(values.size))
    return ratio(mean), (ratio(mean + half), ratio(mean - half))


# ---------------------------------------------------------------------------- shared machinery


def _rank(X):
    """The rank of ``X`` where the trajectory kernel may run (at most 16 points), else ``min(n, d)``."""
    n, d = X.shape
    return int(np.linalg.matrix_rank(X)) if n <= _fast.TRAJECTORY_MAX_POINTS else min(n, d)


def _cost(n, d, m, seeds, T, dtype, rank=None):
    """Estimated cost of the run :func:`ntkdistill.pgd` makes: the trajectory kernel's where it would
    run it (:func:`ntkdistill.cost.trajectory_seconds`, stated constants), else the engine's probe."""
    neurons, T = max(2, int(m) * seeds), int(T)
    r = min(n, d) if rank is None else rank
    if _fast.trajectory_pays(n, r, neurons, T):
        secs = trajectory_seconds(n, d, max(2, int(m)), T, seeds, rank=r, dtype=dtype)
        base = estimate_cost(n, d, neurons, T, dtype=dtype, measure=False)
        return type(base)(**{**asdict(base), "seconds": secs, "seconds_per_step": secs / T})
    return estimate_cost(n, d, neurons, T, dtype=dtype, max_probe_seconds=1.0)


def _scalar(v):
    v = np.asarray(v)
    return v.item() if v.ndim == 0 else v.tolist()


def _fitting_run(n, d, m, T, S, dtype, budget, rank=None):
    """The largest (m', T') at the same fraction of the prescribed m and T whose estimated cost fits.

    Returns ``(m', T', cost)`` or None when not even m' = 2, T' = 10 fits. Cost is taken linear in
    m T (per step it is linear in the neurons), re-measured at the chosen size, shrunk until it fits.
    The first fraction is the engine's (its probed rate, an upper bound); where the trajectory
    kernel would run the run its stated rate sizes it instead, so the run fills the budget.
    """
    if not (budget > 0 and math.isfinite(budget)):
        return None
    m_p = float(min(m, 2**20 // max(S, 1)))
    probe = _cost(n, d, max(2, int(m_p) - int(m_p) % 2), S, 1, dtype)  # the engine's rate: an upper bound
    rate = probe.seconds_per_step / max(probe.neurons, 1)  # seconds per neuron-step
    if not (rate > 0 and math.isfinite(rate)):
        return None
    frac = math.sqrt(min(1.0, budget / (rate * S * float(m) * float(T))))
    r = min(n, d) if rank is None else rank
    work = trajectory_seconds(n, d, max(2, int(m)), T, S, rank=r, dtype=dtype, compile=False)
    # 0.9: room for a machine a little slower than the one the stated rates were measured on
    f_traj = 0.9 * math.sqrt(min(1.0, max(0.0, budget - TRAJECTORY_COMPILE_SECONDS) / work))
    if f_traj > frac and _fast.trajectory_pays(n, r, S * int(m * f_traj), int(T * f_traj)):
        frac = f_traj
    for _ in range(6):
        mm = max(2, int(float(m) * frac))
        mm -= mm % 2
        TT = max(10, int(float(T) * frac))
        if mm < 2 or TT > T or mm > m:
            return None
        cost = _cost(n, d, mm, S, TT, dtype, rank)
        if cost.seconds <= budget:
            return mm, TT, cost
        if mm == 2 and TT == 10:
            return None
        frac *= 0.8 * math.sqrt(budget / cost.seconds)
    return None


def _seed_suggestion(cost_seconds, S, budget, promised, alpha):
    """Fewer seeds that would fit (cost is linear in the seeds), with the power they would have."""
    k = int(S * budget / cost_seconds) if cost_seconds > 0 else 0
    if k < 1:
        return None
    pw = detection_power(k, promised, alpha)
    tag = "" if pw >= POWER else " (too few for a PASS: INCONCLUSIVE at best)"
    return f"--seeds {k}{tag}"


def _run_check(
    name,
    claim,
    *,
    X,
    targets,
    labels,
    loss,
    bound,
    target,
    measure,
    seeds,
    rng,
    delta,
    budget,
    vacuous,
    vacuous_note,
    suggest,
    dtype,
    alpha,
    record_every,
    extra_measured=None,
    empirical=True,
    promised=None,
):
    """Shared body of the three training checks."""
    n, d = X.shape
    promised = 1 - 3 * delta if promised is None else promised
    m_f, T_f = float(bound.m), float(bound.T)
    predicted = {
        "m": m_f,
        "T": T_f,
        "eta": float(bound.eta),
        "B": float(bound.B),
        "target": float(target),
        "confidence": promised,
    }
    seed_list = network_seeds(seeds, rng)
    S = len(seed_list)
    huge = not (m_f * S * n < 2**40 and T_f < 2**40)
    if not huge:
        predicted["m"], predicted["T"] = int(m_f), int(T_f)
        cost = _cost(n, d, int(m_f), S, int(T_f), dtype, _rank(X))
        fits = cost.seconds <= budget and math.isfinite(cost.seconds)
        estimate = cost.describe()
        cost_seconds = cost.seconds
    else:
        cost = None
        fits = False
        estimate = f"about {4.0 * n * d * m_f * S * T_f:.3g} floating-point operations"
        cost_seconds = float("inf")
    m_run, T_run = (int(m_f), int(T_f)) if fits else (None, None)
    refusal = ""
    if not fits:
        refusal = (
            f"{name} prescribes m = {m_f:.6g}, T = {T_f:.6g} for {S} seeds: {estimate}, which exceeds the "
            f"budget of {format_seconds(budget)}."
        )
        sugg = list(suggest(budget))
        if math.isfinite(cost_seconds):
            s = _seed_suggestion(cost_seconds, S, budget, promised, alpha)
            if s:
                sugg.append(s)
        if sugg:
            refusal += " Largest settings that fit the budget: " + "; ".join(sugg) + "."
        else:
            refusal += " No larger target or smaller subset in the searched grid fits the budget."
        fit = _fitting_run(n, d, m_f, T_f, S, dtype, budget, _rank(X)) if empirical else None
        if fit is None:
            measured = {"cost": cost.to_dict() if cost else {"estimate": estimate}, "seeds": S}
            return Check(name, REFUSED, claim, predicted, measured, refusal), None
        m_run, T_run, cost = fit
    res = pgd(
        X,
        targets,
        m=m_run,
        eta=float(bound.eta),
        T=T_run,
        B=float(bound.B),
        loss=loss,
        labels=labels,
        seeds=seed_list,
        record_every=_record_interval(T_run, record_every),
        dtype=dtype,
    )
    values = np.asarray(measure(res), dtype=np.float64)
    ok = values <= target
    k = int(ok.sum())
    status, pval, ci = binomial_status(k, S, promised, alpha)
    slack, slack_ci = _slack(target, values)
    measured = {
        "seeds": S,
        "count_meeting_target": k,
        "fraction_meeting_target": k / S,
        "fraction_ci95": ci,
        "p_value": pval,
        "power_at_half_promise": detection_power(S, promised, alpha) if promised > 0 else 0.0,
        "mean_value": float(np.mean(values)),
        "max_value": float(np.max(values)),
        "values": values.tolist(),
        "slack": slack,
        "slack_ci95": slack_ci,
        "m_run": m_run,
        "T_run": T_run,
        "max_row_distance_times_sqrt_m": float(np.max(res.max_distance) * math.sqrt(m_run)),
        "cost": cost.to_dict(),
        "seed_entropy": [s.entropy for s in seed_list],
        "seed_spawn_keys": [list(s.spawn_key) for s in seed_list],
    }
    if extra_measured:
        measured.update(extra_measured(res))
    note = (
        f"{k}/{S} seeds meet the target (promised frequency {promised:.3g}, 95% interval "
        f"[{ci[0]:.3g}, {ci[1]:.3g}], p = {pval:.2g}, power {measured['power_at_half_promise']:.2f}); "
        f"slack target/mean = {slack:.3g}."
    )
    if not fits:
        status = EMPIRICAL
        measured["fraction_of_prescription"] = {"m": m_run / m_f, "T": T_run / T_f}
        note = (
            f"Ran at m = {m_run} ({m_run / m_f:.2g} of the prescription), T = {T_run} ({T_run / T_f:.2g}), "
            f"same eta and B: mean value reached {measured['mean_value']:.4g} against the target "
            f"{target:.4g}; " + note + " " + refusal
        )
    if vacuous:
        status = VACUOUS
        note = vacuous_note + " " + note
    elif status == FAIL and fits:
        note = f"The measured frequency is significantly below the promise (p = {pval:.2g}). " + note
    elif status == INCONCLUSIVE and fits:
        note = (
            f"Too few seeds for power {POWER} against half the promise (use --seeds "
            f"{seeds_for_power(promised, alpha) if promised > 0 else '?'}). " + note
        )
    return Check(name, status, claim, predicted, measured, note), res


def _record_interval(T, record_every):
    """Recording interval: the caller's, else about 400 records along the run."""
    if record_every is not None:
        return record_every
    return max(1, int(T) // 400)


def _default_seeds(seeds, delta, alpha):
    """``seeds``, or when None the smallest count with power 0.8 (:func:`seeds_for_power`)."""
    return seeds_for_power(1 - 3 * delta, alpha) if seeds is None else seeds


def _n_seeds(seeds) -> int:
    """How many networks ``seeds`` (an int or a list of seeds, as in :func:`ntkdistill.pgd`) means."""
    return check_int("seeds", seeds, minimum=1) if isinstance(seeds, (int, np.integer)) else len(seeds)


def _suggest(make_bound, betas, ns, n, d, seeds, dtype, budget, label="beta"):
    """Settings (beta or eps, n) whose prescribed run fits the budget, from a grid."""
    per_unit = None
    out = []
    for b in betas:
        for nn in ns:
            if nn > n:
                continue
            bd = make_bound(b, nn)
            if not (float(bd.m) * seeds * nn < 2**40 and float(bd.T) < 2**40):
                continue
            if per_unit is None:
                c = _cost(nn, d, int(bd.m), seeds, 1, dtype)
                per_unit = c.seconds_per_step / (int(bd.m) * seeds * nn)
            secs = per_unit * int(bd.m) * seeds * nn * int(bd.T)
            if secs <= budget:
                out.append((b, nn, int(bd.m), int(bd.T), secs))
                break
    return [f"{label}={b:.4g}, n={nn} (m={m}, T={T}, ~{format_seconds(s)})" for b, nn, m, T, s in out[:3]]


# ---------------------------------------------------------------------------- the checks


def check_theorem2(
    X: ArrayLike,
    p: ArrayLike,
    *,
    beta: float,
    delta: float,
    labels: ArrayLike | None = None,
    c: float = 1.0,
    C1: float | str = "printed",
    seeds: int | None = None,
    rng: SeedLike = None,
    budget: float = 60.0,
    dtype: DTypeLike | None = None,
    alpha: float = 0.01,
    record_every: int | None = None,
    empirical: bool = True,
) -> tuple[Check, PGDResult | None]:
    r"""Check Theorem 2: soft-label PGD at the prescribed (m, T, eta, B) reaches average KL risk beta.

    .. math::

        \frac1T \sum_{\tau < T} R_{KL}(W(\tau)) \le \beta \quad\text{with probability} \ge 1 - 3\delta,

    at :math:`m, T, \eta = \beta/3` (E7), :math:`B = 1` from :func:`ntkdistill.bounds.theorem2`.
    The claim is vacuous when :math:`\beta \ge R_{KL}(W(0)) = \frac1n\sum_i \mathrm{KL}(p_i\|1/2)`.

    ``seeds`` (default: :func:`seeds_for_power` at :math:`1 - 3\delta`, 21 at :math:`\delta = 0.1`) networks
    train as one batch. A prescription whose estimated cost exceeds ``budget`` seconds runs at the
    largest width and length that fit instead (EMPIRICAL), or is REFUSED with ``empirical=False``.

    Returns
    -------
    (Check, PGDResult or None)

    Examples
    --------
    >>> import numpy as np
    >>> X = np.eye(2); p = np.array([0.6, 0.4])
    >>> chk, _ = check_theorem2(X, p, beta=0.015, delta=0.3, seeds=4, rng=0, budget=1e-6)
    >>> chk.status
    'REFUSED'
    """
    X = check_matrix("X", X, dtype=dtype)
    n, d = X.shape
    p = check_probabilities("p", p, n=n)
    beta = check_real("beta", beta, low=0.0, high=1.0)
    delta = check_real("delta", delta, low=0.0, high=1.0 / 3)
    budget = check_real("budget", budget, low=0.0, allow_inf=True)
    bound = _bounds.theorem2(beta, n, delta, c=c, C1=C1)
    r0 = float(kl_risk(p, np.zeros(n)))
    seeds = _default_seeds(seeds, delta, alpha)
    S = _n_seeds(seeds)

    def suggest(b):
        betas = sorted(bb for bb in {min(beta * f, r0 * 0.95) for f in (1.2, 1.5, 2, 3, 5)} | {r0 * 0.9} if bb > beta)
        return _suggest(
            lambda bb, nn: _bounds.theorem2(bb, nn, delta, c=c, C1=C1),
            betas,
            sorted({n, max(1, n // 2), max(1, n // 4)}, reverse=True),
            n,
            d,
            S,
            X.dtype,
            b,
        )

    return _run_check(
        "Theorem 2",
        "average KL risk over iterations <= beta",
        X=X,
        targets=p,
        labels=labels,
        loss="kl",
        bound=bound,
        target=beta,
        measure=lambda r: r.avg_risk,
        seeds=seeds,
        rng=rng,
        delta=delta,
        budget=budget,
        vacuous=beta >= r0,
        vacuous_note=f"beta = {beta:g} >= R_KL(W(0)) = {r0:.4g}: the claim holds at initialisation.",
        suggest=suggest,
        dtype=X.dtype,
        alpha=alpha,
        record_every=record_every,
        extra_measured=lambda r: {"risk_at_init": r0},
        empirical=empirical,
    )


def check_corollary4(
    X: ArrayLike,
    p: ArrayLike,
    y: ArrayLike,
    *,
    gamma: float,
    eps: float,
    delta: float,
    c: float = 1.0,
    C1: float | str = "printed",
    seeds: int | None = None,
    rng: SeedLike = None,
    budget: float = 60.0,
    dtype: DTypeLike | None = None,
    alpha: float = 0.01,
    record_every: int | None = None,
    empirical: bool = True,
) -> tuple[Check, PGDResult | None]:
    r"""Check Corollary 4: soft-label PGD reaches average classification error eps.

    .. math::

        \frac1T \sum_{\tau<T} R(W(\tau)) \le \epsilon \quad\text{w.p.} \ge 1 - 3\delta,\qquad
        \eta = \frac{\gamma^2\epsilon}{96},\ T = \frac{9216}{\gamma^4\epsilon^2}\ \text{(derived, E11)}

    It needs :math:`y_i z_i \ge \gamma` for the teacher logits :math:`z_i = \mathrm{logit}(p_i)`;
    the check reports :math:`\min_i y_i z_i`. The error at initialisation is 1 (ties, E6), so the
    claim is never vacuous for :math:`\epsilon < 1`.
    At its prescription it is long even on two points at :math:`\gamma = 1/2` and
    :math:`\epsilon = 0.45 < 1/n`: :math:`m \approx 1.4 \times 10^5`,
    :math:`T \approx 7.3 \times 10^5`. :func:`ntkdistill.pgd` runs it with its trajectory backend
    (numba), 7.3 minutes for 21 seeds in float32 on an idle 2-core machine; the cost
    estimate decides whether it runs there within ``budget``.

    ``seeds`` (default: :func:`seeds_for_power` at :math:`1 - 3\delta`, 21 at :math:`\delta = 0.1`) networks
    train as one batch. A prescription whose estimated cost exceeds ``budget`` seconds runs at the
    largest width and length that fit instead (EMPIRICAL), or is REFUSED with ``empirical=False``.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.eye(2); y = np.array([1.0, -1.0]); p = 1 / (1 + np.exp(-0.42 * y))
    >>> check_corollary4(X, p, y, gamma=0.42, eps=0.5, delta=0.3, seeds=2, rng=0, budget=1e-6)[0].status
    'REFUSED'
    """
    X = check_matrix("X", X, dtype=dtype)
    n, d = X.shape
    p = check_probabilities("p", p, n=n)
    y = check_labels("y", y, n=n)
    gamma = check_real("gamma", gamma, low=0.0, high=0.5, high_open=False)
    eps = check_real("eps", eps, low=0.0, high=1.0)
    delta = check_real("delta", delta, low=0.0, high=1.0 / 3)
    bound = _bounds.corollary4(gamma, eps, n, delta, c=c, C1=C1)
    with np.errstate(divide="ignore"):
        margin_z = float(np.min(y * logit(p)))
    seeds = _default_seeds(seeds, delta, alpha)
    S = _n_seeds(seeds)

    def suggest(b):
        epss = [e for e in (0.5, 0.7, 0.9, 0.99) if e > eps]
        return _suggest(
            lambda ee, nn: _bounds.corollary4(gamma, ee, nn, delta, c=c, C1=C1),
            epss,
            sorted({n, max(1, n // 2)}, reverse=True),
            n,
            d,
            S,
            X.dtype,
            b,
            label="eps",
        )

    chk, res = _run_check(
        "Corollary 4",
        "average classification error over iterations <= eps",
        X=X,
        targets=p,
        labels=y,
        loss="kl",
        bound=bound,
        target=eps,
        measure=lambda r: r.avg_error,
        seeds=seeds,
        rng=rng,
        delta=delta,
        budget=budget,
        vacuous=False,
        vacuous_note="",
        suggest=suggest,
        dtype=X.dtype,
        alpha=alpha,
        record_every=record_every,
        extra_measured=lambda r: {"teacher_margin_min_yz": margin_z},
        empirical=empirical,
    )
    printed = {
        "eta_printed": _scalar(getattr(bound, "eta_printed", float("nan"))),
        "T_printed": _scalar(getattr(bound, "T_printed", float("nan"))),
    }
    chk.predicted.update(printed)
    if margin_z < gamma * (1 - 1e-9) and chk.status != REFUSED:
        chk = Check(
            chk.name,
            chk.status,
            chk.claim,
            chk.predicted,
            chk.measured,
            chk.note + f" Warning: min_i y_i z_i = {margin_z:.4g} < gamma = {gamma:.4g}, so the "
            "corollary's assumption is not met by these soft labels.",
        )
    return chk, res


def check_proposition5(
    X: ArrayLike,
    y: ArrayLike,
    *,
    gamma: float,
    beta: float,
    delta: float,
    c: float = 1.0,
    eta: float = 1.0,
    seeds: int | None = None,
    rng: SeedLike = None,
    budget: float = 60.0,
    dtype: DTypeLike | None = None,
    alpha: float = 0.01,
    record_every: int | None = None,
    empirical: bool = True,
) -> tuple[Check, PGDResult | None]:
    r"""Check Proposition 5: hard-label PGD reaches average logistic risk beta.

    .. math::

        \frac1T\sum_{\tau<T} R_h(W(\tau)) \le \beta \quad\text{w.p.} \ge 1 - 3\delta,\qquad
        B = \frac{2L}{\gamma},\ L = \ln\frac{2}{\ln(2)\beta}

    The claim is vacuous when :math:`\beta \ge R_h(W(0)) = \ln 2`. The implied classification error
    bound :math:`\beta / \ln 2` is reported beside it.

    ``seeds`` (default: :func:`seeds_for_power` at :math:`1 - 3\delta`, 21 at :math:`\delta = 0.1`) networks
    train as one batch. A prescription whose estimated cost exceeds ``budget`` seconds runs at the
    largest width and length that fit instead (EMPIRICAL), or is REFUSED with ``empirical=False``.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.eye(2); y = np.array([1.0, -1.0])
    >>> check_proposition5(X, y, gamma=0.42, beta=0.5, delta=0.3, seeds=2, rng=0, budget=1e-6)[0].status
    'REFUSED'
    """
    X = check_matrix("X", X, dtype=dtype)
    n, d = X.shape
    y = check_labels("y", y, n=n)
    gamma = check_real("gamma", gamma, low=0.0, high=0.5, high_open=False)
    beta = check_real("beta", beta, low=0.0, high=1.0)
    delta = check_real("delta", delta, low=0.0, high=1.0 / 3)
    bound = _bounds.proposition5(gamma, beta, n, delta, c=c, eta=eta)
    seeds = _default_seeds(seeds, delta, alpha)
    S = _n_seeds(seeds)

    def suggest(b):
        betas = [bb for bb in (0.3, 0.5, 0.65) if bb > beta]
        return _suggest(
            lambda bb, nn: _bounds.proposition5(gamma, bb, nn, delta, c=c, eta=eta),
            betas,
            sorted({n, max(1, n // 2)}, reverse=True),
            n,
            d,
            S,
            X.dtype,
            b,
        )

    def extra(res):
        ok = res.avg_error <= beta / math.log(2)
        return {"fraction_error_below_beta_over_ln2": float(ok.mean()), "mean_avg_error": float(np.mean(res.avg_error))}

    return _run_check(
        "Proposition 5",
        "average logistic risk over iterations <= beta",
        X=X,
        targets=y,
        labels=y,
        loss="logistic",
        bound=bound,
        target=beta,
        measure=lambda r: r.avg_risk,
        seeds=seeds,
        rng=rng,
        delta=delta,
        budget=budget,
        vacuous=beta >= math.log(2),
        vacuous_note=f"beta = {beta:g} >= R_h(W(0)) = ln 2: the claim holds at initialisation.",
        suggest=suggest,
        dtype=X.dtype,
        alpha=alpha,
        record_every=record_every,
        extra_measured=extra,
        empirical=empirical,
    )


def check_lemma3(p: ArrayLike, y: ArrayLike, risk_kl: ArrayLike, error: ArrayLike) -> Check:
    r"""Check Lemma 3 at every recorded iterate of every run: a deterministic inequality.

    .. math::

        R(W) \le \frac{32}{\gamma_z^2} R_{KL}(W),\qquad \gamma_z = \min_i y_i z_i,\ z_i = \mathrm{logit}(p_i)

    (ordinary Pinsker, E10). It holds whenever :math:`0 < p_i < 1` and :math:`\gamma_z > 0`; a single
    violation is a bug, not noise, so the status is FAIL on any violation beyond rounding (1e-12).
    An iterate where the bound is at least 1 checks nothing (the error never exceeds 1): with no
    iterate below 1 the status is VACUOUS, otherwise PASS; the count of informative iterates
    (bound below 1) is reported.

    Parameters
    ----------
    p, y : soft labels and labels (n,)
    risk_kl, error : arrays of the same shape: recorded KL risk and classification error.

    Examples
    --------
    >>> import numpy as np
    >>> check_lemma3(np.array([0.6, 0.4]), np.array([1.0, -1.0]), np.array([0.02, 0.001]), np.array([1.0, 0.0])).status
    'PASS'
    """
    p = check_probabilities("p", p)
    y = check_labels("y", y, n=p.shape[0])
    risk_kl = np.asarray(risk_kl, dtype=np.float64)
    error = np.asarray(error, dtype=np.float64)
    if risk_kl.shape != error.shape:
        raise ValueError(f"risk_kl and error must have the same shape, got {risk_kl.shape} and {error.shape}.")
    claim = "classification error <= 32 R_KL / gamma^2 at every recorded iterate"
    with np.errstate(divide="ignore"):
        gz = float(np.min(y * logit(p)))
    if not (gz > 0) or np.any((p <= 0) | (p >= 1)):
        return Check(
            "Lemma 3",
            VACUOUS,
            claim,
            {"gamma_z": gz},
            {},
            "Lemma 3 needs 0 < p_i < 1 and y_i z_i > 0 for all i; not met by these soft labels.",
        )
    # y_i z_i >= gz >= min(gz, 1/2): the lemma at the smaller margin is weaker, hence still implied;
    # a gz above 1/2 (impossible for the NTK teacher, possible for arbitrary p) is capped there.
    bound = _bounds.lemma3(risk_kl, min(gz, 0.5))
    bound = np.asarray(bound, dtype=np.float64)
    slack = bound - error
    violations = int(np.sum(slack < -1e-12))
    informative = int(np.sum(bound < 1))
    measured = {
        "iterates_checked": int(error.size),
        "informative_iterates": informative,
        "violations": violations,
        "min_bound_minus_error": float(slack.min()) if slack.size else None,
    }
    status = FAIL if violations else (PASS if informative else VACUOUS)
    note = (
        f"checked at {error.size} recorded iterates with gamma_z = min_i y_i z_i = {gz:.4g}, "
        f"{informative} of them with a bound below 1; {violations} violation(s)."
        + (" This is a bug: please report it." if violations else "")
        + ("" if informative or violations else " The bound is at least 1 everywhere, so it is met trivially.")
    )
    return Check("Lemma 3", status, claim, {"gamma_z": gz}, measured, note)


def check_lemma6(
    X: ArrayLike,
    v: Field,
    z: ArrayLike,
    inits: Sequence[tuple[np.ndarray, np.ndarray]],
    *,
    delta: float,
    alpha: float = 0.01,
) -> Check:
    r"""Check Lemma 6 over initialisations: the linearised teacher approximates the soft labels.

    .. math::

        \max_i |f^0_i(U) - z_i| \le r,\qquad U_j = \frac{a_j}{\sqrt m} v(W_j(0)),

    with probability at least :math:`1 - \delta`, for both radii of E13: the printed
    :math:`\sqrt{2\ln(2n/\delta)/m}` (independent neurons) and :math:`2\sqrt{\ln(2n/\delta)/m}`
    (symmetric initialisation, the one that applies here). ``z`` must be accurate (exact or a
    Monte Carlo estimate with standard error well below the radius). The verdict is the binomial
    one of :func:`binomial_status` at the promise :math:`1 - \delta` (9 initialisations give power
    0.8 at :math:`\delta = 0.1`, :func:`seeds_for_power`); VACUOUS when the radius is at least
    :math:`\tfrac32 \max_i \|x_i\|`, which no deviation can exceed (:math:`|f^0_i| \le \|x_i\|`,
    :math:`|z_i| \le \|x_i\|/2`).

    Parameters
    ----------
    X : (n, d); v : callable (K, d) -> (K, d); z : (n,) teacher logits;
    inits : list of (W0, a) pairs.

    Examples
    --------
    >>> import numpy as np
    >>> from ntkdistill import init_symmetric
    >>> X = np.eye(2)
    >>> check_lemma6(X, lambda Z: np.zeros_like(Z), np.zeros(2), [init_symmetric(8, 2, rng=s) for s in range(9)],
    ...              delta=0.1).status
    'PASS'
    """
    X = check_matrix("X", X)
    n = X.shape[0]
    z = np.asarray(z, dtype=np.float64)
    if z.shape != (n,):
        raise ValueError(f"z must have shape ({n},), got {z.shape}.")
    delta = check_real("delta", delta, low=0.0, high=1.0)
    devs = _lemma6_deviations(X, v, z, inits)
    widths = np.asarray([W0.shape[0] for W0, _ in inits])
    r_sym = np.asarray(_bounds.lemma6_radius(widths, n, delta, init="symmetric"), dtype=np.float64)
    r_ind = np.asarray(_bounds.lemma6_radius(widths, n, delta, init="independent"), dtype=np.float64)
    ok_sym = devs <= r_sym
    ok_ind = devs <= r_ind
    k = int(ok_sym.sum())
    status, pval, ci = binomial_status(k, len(devs), 1 - delta, alpha)
    trivial = 1.5 * float(np.max(np.linalg.norm(X, axis=1)))
    measured = {
        "networks": len(devs),
        "count_within_symmetric_radius": k,
        "fraction_within_symmetric_radius": float(ok_sym.mean()),
        "fraction_within_printed_radius": float(ok_ind.mean()),
        "fraction_ci95": ci,
        "p_value": pval,
        "power_at_half_promise": detection_power(len(devs), 1 - delta, alpha),
        "max_deviation": float(devs.max()),
        "median_deviation": float(np.median(devs)),
        "deviations": devs.tolist(),
        "slack": float(np.min(r_sym) / devs.max()) if devs.max() > 0 else float("inf"),
    }
    predicted = {
        "radius_symmetric": _scalar(r_sym[0]) if len(set(widths)) == 1 else r_sym.tolist(),
        "radius_printed": _scalar(r_ind[0]) if len(set(widths)) == 1 else r_ind.tolist(),
        "confidence": 1 - delta,
        "m": widths.tolist() if len(set(widths)) > 1 else int(widths[0]),
    }
    note = (
        f"{int(ok_sym.sum())}/{len(devs)} initialisations within the symmetric-initialisation radius "
        f"(E13, the one that applies; promised frequency {1 - delta:.3g}, 95% interval [{ci[0]:.3g}, "
        f"{ci[1]:.3g}], p = {pval:.2g}, power {measured['power_at_half_promise']:.2f}), "
        f"{int(ok_ind.sum())}/{len(devs)} within the printed radius."
    )
    if np.all(r_sym >= trivial):
        status = VACUOUS
        note = f"The radius is at least {trivial:.3g}, which no deviation can exceed. " + note
    elif status == INCONCLUSIVE:
        note = f"Too few initialisations for power {POWER} against half the promise. " + note
    return Check("Lemma 6", status, "max_i |f^0_i(U) - z_i| <= radius", predicted, measured, note)


# ---------------------------------------------------------------------------- the whole job


@dataclass
class VerifyReport(_results.ResultMixin):
    """Everything :func:`run_verify` measured, with the configuration that produced it.

    Attributes
    ----------
    config : dict
        Data set, targets, seeds, budget, library version.
    data : dict
        n, d, the margin (estimate, certified interval, known value where there is one), the
        teacher logits' range and Monte Carlo standard error, the KL risk at initialisation.
    checks : list of Check
    curves : dict
        What the figures draw (:mod:`ntkdistill._verify_plots`): per training check the recorded
        iterations and values per seed, the target and the prescribed and run lengths; Lemma 3's
        two sides along a trajectory; Lemma 6's deviations against the width. Not part of
        :meth:`to_dict`.

    Examples
    --------
    >>> rep = VerifyReport({"dataset": "demo"}, {"n": 1}, [Check("Lemma 3", PASS, "claim", {}, {})])
    >>> rep.to_dict()["checks"][0]["status"]
    'PASS'
    """

    config: dict
    data: dict
    checks: list
    curves: dict = field(default_factory=dict)

    _frame_rows, __repr__ = _results.report_frame_rows, _results.report_repr

    def to_dict(self) -> dict:
        """JSON-ready dict."""
        return _jsonable({"config": self.config, "data": self.data, "checks": [c.to_dict() for c in self.checks]})

    def format_table(self, legend: bool = True) -> str:
        """The predicted-against-measured table, one row per check, its notes and the verdict legend."""
        rows = [
            ("check", "status", "predicted (m, T, eta, B)", "promise", "measured: count, 95% interval", "slack [95%]")
        ]
        for c in self.checks:
            pr = c.predicted
            if "T" in pr:
                pred = f"m={_fmt(pr['m'])}, T={_fmt(pr['T'])}, eta={_fmt(pr['eta'])}, B={_fmt(pr['B'])}"
            elif "radius_symmetric" in pr:
                pred = (
                    f"m={_fmt(pr['m'])}, r_sym={_fmt(pr['radius_symmetric'])}, r_printed={_fmt(pr['radius_printed'])}"
                )
            else:
                pred = f"gamma_z={_fmt(pr.get('gamma_z'))}"
            target = (
                f"<= {_fmt(pr['target'])} w.p. >= {_fmt(pr['confidence'])}"
                if "target" in pr
                else (f"w.p. >= {_fmt(pr['confidence'])}" if "confidence" in pr else "always")
            )
            me = c.measured
            slack = "-"
            if "count_meeting_target" in me:
                lo, hi = me["fraction_ci95"]
                run = "" if c.status != EMPIRICAL else f" at m={me['m_run']}, T={me['T_run']}"
                meas = (
                    f"{me['count_meeting_target']}/{me['seeds']} [{lo:.2f}, {hi:.2f}]{run}; mean {me['mean_value']:.4g}"
                )
                slack = f"{_fmt(me['slack'])} [{_fmt(me['slack_ci95'][0])}, {_fmt(me['slack_ci95'][1])}]"
            elif "count_within_symmetric_radius" in me:
                N = me["networks"]
                lo, hi = me["fraction_ci95"]
                k_ind = int(round(me["fraction_within_printed_radius"] * N))
                meas = (
                    f"{me['count_within_symmetric_radius']}/{N} [{lo:.2f}, {hi:.2f}] "
                    f"(printed radius: {k_ind}/{N}); max dev {me['max_deviation']:.3g}"
                )
                slack = _fmt(me["slack"])
            elif "violations" in me:
                meas = (
                    f"{me['violations']} violations in {me['iterates_checked']} iterates "
                    f"({me['informative_iterates']} with bound < 1)"
                )
            else:
                meas = "not run"
            rows.append((c.name, c.status, pred, target, meas, slack))
        widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
        lines = ["  ".join(cell.ljust(w) for cell, w in zip(r, widths)).rstrip() for r in rows]
        lines.insert(1, "  ".join("-" * w for w in widths))
        notes = [f"- {c.name}: {c.note}" for c in self.checks if c.note]
        out = lines + [""] + notes
        if legend:
            out += ["", "Verdicts:", verdict_legend(self.config.get("alpha", 0.01))]
        return "\n".join(out)


def _fmt(v) -> str:
    if v is None:
        return "-"
    if isinstance(v, str):
        return v
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_fmt(x) for x in v[:3]) + (", ..." if len(v) > 3 else "") + "]"
    if isinstance(v, (int, np.integer)):
        return str(int(v))
    v = float(v)
    if math.isinf(v):
        return "inf"
    if v.is_integer() and abs(v) < 1e15:
        return str(int(v))
    return f"{v:.4g}"


CHECKS = {
    "theorem2": "Theorem 2",
    "corollary4": "Corollary 4",
    "proposition5": "Proposition 5",
    "lemma3": "Lemma 3",
    "lemma6": "Lemma 6",
}
"""The checks :func:`run_verify` can run, by the key its ``checks`` argument takes."""


def _training_curve(chk, res, *, value, ylabel, target, init_value):
    """What the training figure draws for one check (values per seed along the recorded iterations)."""
    return {
        "name": chk.name,
        "status": chk.status,
        "iterations": np.asarray(res.iterations),
        "values": np.asarray(getattr(res, value)),
        "ylabel": ylabel,
        "target": float(target),
        "T_prescribed": float(chk.predicted["T"]),
        "T_run": int(res.T),
        "m_run": int(res.widths[0]),
        "m_prescribed": float(chk.predicted["m"]),
        "init_value": init_value,
    }


def run_verify(
    X: ArrayLike,
    y: ArrayLike,
    *,
    gamma_known: float | None = None,
    beta: float | None = None,
    eps: float | None = None,
    beta_hard: float = 0.5,
    delta: float = 0.1,
    c: float | None = None,
    C1: float | str = "printed",
    seeds: int | None = None,
    rng: SeedLike = 0,
    budget: float = 30.0,
    n_samples: int = 20000,
    dtype: DTypeLike | None = None,
    dataset: str = "custom",
    log: Callable[[str], Any] | None = None,
    checks: Iterable[str] | None = None,
    empirical: bool = True,
    alpha: float = 0.01,
    on_data: Callable[[dict], Any] | None = None,
    z_known: ArrayLike | None = None,
) -> VerifyReport:
    r"""Run every check of the paper on one data set and collect the report.

    1. The NTK margin :math:`\gamma` with its certified interval (:func:`ntkdistill.margin`), and the
       teacher logits :math:`z_i` and soft labels :math:`p_i = \mu(z_i)` of the max-margin teacher.
    2. Theorem 2 at ``beta`` (default: 90% of :math:`R_{KL}(W(0))`, the largest non-vacuous level
       rounded down), Lemma 3 along its trajectories, Lemma 6 on its initialisations (and, for the
       figure, on fresh initialisations over a range of widths).
    3. Corollary 4 at (:math:`\gamma`, ``eps``) and Proposition 5 at (:math:`\gamma`, ``beta_hard``).

    The margin used by the bounds is the known one when ``gamma_known`` is given, otherwise the
    certified lower bound (conservative: a smaller margin only enlarges the prescribed widths).
    The soft labels are :math:`\mu(z_i)` of the exact teacher logits ``z_known`` where given (the
    built-in data), otherwise of their Monte Carlo estimate; Lemma 6 always compares with the
    Monte Carlo logits of the field it uses. A prescribed run whose estimated cost exceeds ``budget`` runs at the largest width and length
    that fit instead (EMPIRICAL), or is REFUSED with ``empirical=False``.

    Parameters
    ----------
    X, y : data with :math:`\|x_i\| \le 1` and labels in {-1, +1}.
    eps : float, optional
        Corollary 4's target error; default :math:`0.9/n`, below :math:`1/n`, so that it asks for
        every point to be classified right on average over the iterations.
    seeds : int, optional
        Networks per check, trained as one batch; default the smallest count with power 0.8 to
        detect half the promised frequency (:func:`seeds_for_power`: 21 at ``delta = 0.1``).
    rng : None, int, SeedSequence or Generator
        Root seed (:func:`ntkdistill._validation.root_seed`); each step gets its own spawned stream.
    budget : float
        Seconds allowed per training check (estimated by :mod:`ntkdistill.cost` before it runs).
    checks : iterable of str, optional
        Keys of :data:`CHECKS` to run (default all).
    empirical : bool
        Run what fits the budget when the prescription does not (EMPIRICAL) instead of refusing.
    log : callable, optional
        Called with one progress line per step (e.g. ``print``).
    on_data : callable, optional
        Called with the ``data`` dict (n, d, margin) once the margin is certified, before any training.
    z_known : array_like (n,), optional
        Exact teacher logits (:attr:`ntkdistill.datasets.synthetic.SyntheticData.z`).

    Returns
    -------
    VerifyReport

    Examples
    --------
    >>> import numpy as np
    >>> X = np.array([[1.0, 0.0], [-1.0, 0.0]]); y = np.array([1.0, -1.0])
    >>> rep = run_verify(X, y, gamma_known=0.5, seeds=2, budget=0.01, n_samples=2000, rng=0,
    ...                  checks=["theorem2", "lemma6"], empirical=False)
    >>> [(c.name, c.status) for c in rep.checks]
    [('Theorem 2', 'REFUSED'), ('Lemma 6', 'PASS')]
    """
    say = log or (lambda s: None)
    (X, y, norms, c, delta, alpha, eps, beta_hard, seeds, n_samples, budget, beta, selected) = _verify_arguments(
        X,
        y,
        dtype=dtype,
        c=c,
        delta=delta,
        alpha=alpha,
        eps=eps,
        beta_hard=beta_hard,
        seeds=seeds,
        n_samples=n_samples,
        budget=budget,
        beta=beta,
        checks=checks,
    )
    root = root_seed(rng)
    s_margin, s_teacher, s_t2, s_c4, s_p5 = root.spawn(5)
    mres, gamma, z, p, beta, data = _verify_margin_teacher(
        X,
        y,
        norms,
        c=c,
        gamma_known=gamma_known,
        z_known=z_known,
        beta=beta,
        n_samples=n_samples,
        delta=delta,
        s_margin=s_margin,
        s_teacher=s_teacher,
        say=say,
    )
    if on_data is not None:
        on_data(data)
    report = _verify_report(
        root,
        data,
        dataset=dataset,
        beta=beta,
        eps=eps,
        beta_hard=beta_hard,
        delta=delta,
        C1=C1,
        alpha=alpha,
        seeds=seeds,
        budget=budget,
        empirical=empirical,
        selected=selected,
        n_samples=n_samples,
        dtype=X.dtype,
    )
    t2_bound = _bounds.theorem2(beta, data["n"], delta, c=c, C1=C1)
    res2, res4 = _verify_training(
        report,
        X,
        y,
        p,
        selected=selected,
        gamma=gamma,
        beta=beta,
        eps=eps,
        beta_hard=beta_hard,
        delta=delta,
        c=c,
        C1=C1,
        seeds=seeds,
        streams=(s_t2, s_c4, s_p5),
        budget=budget,
        alpha=alpha,
        empirical=empirical,
        r0=data["kl_risk_at_init"],
        say=say,
    )
    if "lemma3" in selected:
        _verify_lemma3(
            report,
            X,
            y,
            p,
            [r for r in (res2, res4) if r is not None],
            t2_bound=t2_bound,
            seeds=seeds,
            s_t2=s_t2,
            budget=budget,
            say=say,
        )
    if "lemma6" in selected:
        _verify_lemma6(
            report,
            X,
            mres.v,
            z,
            res2,
            m2=float(t2_bound.m),
            seeds=seeds,
            delta=delta,
            alpha=alpha,
            s_margin=s_margin,
            say=say,
        )
    return report


def _verify_arguments(X, y, *, dtype, c, delta, alpha, eps, beta_hard, seeds, n_samples, budget, beta, checks):
    """Validate :func:`run_verify`'s arguments in its order and fill in the defaults, before any work."""
    from ._validation import check_norms

    X = check_matrix("X", X, dtype=dtype)
    n, d = X.shape
    y = check_labels("y", y, n=n)
    norms = check_norms("X", X)
    if c is None:
        c = float(min(1.0, norms.min()))
    delta = check_real("delta", delta, low=0.0, high=1.0 / 3)
    alpha = check_real("alpha", alpha, low=0.0, high=1.0)
    eps = 0.9 / n if eps is None else check_real("eps", eps, low=0.0, high=1.0)
    beta_hard = check_real("beta_hard", beta_hard, low=0.0, high=1.0)
    seeds = seeds_for_power(1 - 3 * delta, alpha) if seeds is None else check_int("seeds", seeds, minimum=1)
    n_samples = check_int("n_samples", n_samples, minimum=100)
    budget = check_real("budget", budget, low=0.0, allow_inf=True)
    if beta is not None:
        beta = check_real("beta", beta, low=0.0, high=1.0)
    selected = list(CHECKS) if checks is None else list(checks)
    unknown = [k for k in selected if k not in CHECKS]
    if unknown or not selected:
        raise ValueError(f"checks == {selected!r}: each must be one of {list(CHECKS)} (at least one).")
    return X, y, norms, c, delta, alpha, eps, beta_hard, seeds, n_samples, budget, beta, selected


def _verify_margin_teacher(X, y, norms, *, c, gamma_known, z_known, beta, n_samples, delta, s_margin, s_teacher, say):
    """Certify the margin, estimate the teacher logits and soft labels, default ``beta``; return the data dict."""
    from .margin import margin as _margin
    from .teacher import soft_labels, teacher_logits

    n, d = X.shape
    say(f"margin: solving the dual and certifying it on {n_samples} fresh samples")
    mres = _margin(X, y, n_samples=n_samples, delta=delta, rng=np.random.default_rng(s_margin))
    gamma = float(gamma_known) if gamma_known is not None else float(mres.lower)
    if not gamma > 0:
        raise ValueError(
            f"the certified margin lower bound is {mres.lower:.3g} <= 0, so the theorems say nothing here; "
            "use more Monte Carlo samples (n_samples) or data with a positive NTK margin."
        )
    gamma = min(gamma, 0.5)
    tl = teacher_logits(X, mres.v, n_samples=n_samples, rng=np.random.default_rng(s_teacher))
    z, z_se = np.asarray(tl[0]), np.asarray(tl[1])
    # |z_i| <= ||x_i|| / 2 holds for the exact teacher; keep the Monte Carlo estimate in that range
    z = np.clip(z, -norms / 2, norms / 2)
    if z_known is not None:
        zk = np.asarray(z_known, dtype=np.float64)
        if zk.shape != (n,) or not np.all(np.abs(zk) <= norms / 2 + 1e-12):
            raise ValueError(f"z_known must have shape ({n},) with |z_i| <= ||x_i|| / 2, got shape {zk.shape}.")
        p = soft_labels(zk)
    else:
        p = soft_labels(z)
    r0 = float(_bounds.kl_risk_at_init(p))
    if beta is None:
        beta = float(np.floor(0.9 * r0 * 1e4) / 1e4) if r0 > 2e-4 else 0.9 * r0
    data = {
        "n": n,
        "d": d,
        "c": c,
        "gamma_used": gamma,
        "gamma_known": gamma_known,
        "gamma_source": "known" if gamma_known is not None else "certified lower bound",
        "margin_estimate": float(mres.gamma),
        "margin_lower": float(mres.lower),
        "margin_upper": float(mres.upper),
        "teacher_logits_source": "known" if z_known is not None else "Monte Carlo estimate",
        "teacher_logits_min_yz": float(np.min(y * (z if z_known is None else zk))),
        "teacher_logits_max_abs": float(np.max(np.abs(z if z_known is None else zk))),
        "teacher_logits_max_se": float(np.max(z_se)),
        "kl_risk_at_init": r0,
    }
    return mres, gamma, z, p, beta, data


def _verify_report(
    root, data, *, dataset, beta, eps, beta_hard, delta, C1, alpha, seeds, budget, empirical, selected, n_samples, dtype
):
    """The empty :class:`VerifyReport` with :func:`run_verify`'s configuration and the data summary."""
    from . import __version__

    config = {
        "dataset": dataset,
        "beta": beta,
        "eps": eps,
        "beta_hard": beta_hard,
        "delta": delta,
        "C1": C1,
        "alpha": alpha,
        "seeds": seeds,
        "root_seed_entropy": root.entropy,
        "budget_seconds_per_check": budget,
        "empirical": bool(empirical),
        "checks": selected,
        "n_samples": n_samples,
        "dtype": str(dtype),
        "version": __version__,
    }
    return VerifyReport(config, data, [])


def _verify_training(
    report,
    X,
    y,
    p,
    *,
    selected,
    gamma,
    beta,
    eps,
    beta_hard,
    delta,
    c,
    C1,
    seeds,
    streams,
    budget,
    alpha,
    empirical,
    r0,
    say,
):
    """Run the selected training checks (Theorem 2, Corollary 4, Proposition 5); return the first two's runs."""
    s_t2, s_c4, s_p5 = streams
    curves = report.curves
    res2 = res4 = None
    if "theorem2" in selected:
        say(f"Theorem 2 at beta = {beta:.4g} (R_KL(W(0)) = {r0:.4g}), {seeds} seeds")
        t2, res2 = check_theorem2(
            X,
            p,
            beta=beta,
            delta=delta,
            labels=y,
            c=c,
            C1=C1,
            seeds=seeds,
            rng=s_t2,
            budget=budget,
            dtype=X.dtype,
            alpha=alpha,
            empirical=empirical,
        )
        report.checks.append(t2)
        if res2 is not None:
            curves["Theorem 2"] = _training_curve(
                t2, res2, value="risk", ylabel="KL risk $R_{KL}(W(t))$", target=beta, init_value=r0
            )

    if "corollary4" in selected:
        say(f"Corollary 4 at gamma = {gamma:.4g}, eps = {eps:g}")
        c4, res4 = check_corollary4(
            X,
            p,
            y,
            gamma=gamma,
            eps=eps,
            delta=delta,
            c=c,
            C1=C1,
            seeds=seeds,
            rng=s_c4,
            budget=budget,
            dtype=X.dtype,
            alpha=alpha,
            empirical=empirical,
        )
        report.checks.append(c4)
        if res4 is not None:
            curves["Corollary 4"] = _training_curve(
                c4, res4, value="error", ylabel="classification error $R(W(t))$", target=eps, init_value=1.0
            )

    if "proposition5" in selected:
        say(f"Proposition 5 at gamma = {gamma:.4g}, beta = {beta_hard:g}")
        p5, res5 = check_proposition5(
            X,
            y,
            gamma=gamma,
            beta=beta_hard,
            delta=delta,
            c=c,
            seeds=seeds,
            rng=s_p5,
            budget=budget,
            dtype=X.dtype,
            alpha=alpha,
            empirical=empirical,
        )
        report.checks.append(p5)
        if res5 is not None:
            curves["Proposition 5"] = _training_curve(
                p5, res5, value="risk", ylabel="logistic risk $R_h(W(t))$", target=beta_hard, init_value=math.log(2)
            )
    return res2, res4


def _verify_lemma3(report, X, y, p, runs, *, t2_bound, seeds, s_t2, budget, say):
    """Check Lemma 3 along the soft-label runs, training Theorem 2's setting (fit to the budget) if none ran."""
    n, d = X.shape
    m2 = float(t2_bound.m)
    l3_note = ""
    if not runs:
        # Lemma 3 is a deterministic inequality: any soft-label trajectory checks it. Theorem 2's
        # training, at its prescription when it fits the budget, else at the largest size that does.
        T2 = float(t2_bound.T)
        fit = None
        if m2 * seeds * n < 2**40 and T2 < 2**40:
            cost = _cost(n, d, int(m2), seeds, int(T2), X.dtype, _rank(X))
            if cost.seconds <= budget:
                fit = (int(m2), int(T2))
        if fit is None:
            small = _fitting_run(n, d, m2, T2, seeds, X.dtype, budget, _rank(X))
            fit = small[:2] if small else (2, 10)
        m_l3, T_l3 = fit
        say(f"Lemma 3 along Theorem 2's training at m = {m_l3}, T = {T_l3}")
        runs = [
            pgd(
                X,
                p,
                m=m_l3,
                eta=float(t2_bound.eta),
                T=T_l3,
                B=1.0,
                loss="kl",
                labels=y,
                seeds=network_seeds(seeds, s_t2),
                record_every=_record_interval(T_l3, None),
                dtype=X.dtype,
            )
        ]
        l3_note = f" Along Theorem 2's training (eta = beta/3, B = 1) at m = {m_l3}, T = {T_l3}" + (
            " (its prescription)."
            if (m_l3, T_l3) == (int(m2), int(T2))
            else f" (prescription m = {_fmt(m2)}, T = {_fmt(T2)} does not fit the budget)."
        )
    risk = np.concatenate([r.risk.ravel() for r in runs])
    err = np.concatenate([r.error.ravel() for r in runs])
    l3 = check_lemma3(p, y, risk, err)
    if l3_note:
        l3 = Check(l3.name, l3.status, l3.claim, l3.predicted, l3.measured, l3.note + l3_note)
    report.checks.append(l3)
    r = runs[0]
    gz = l3.predicted.get("gamma_z", float("nan"))
    if gz > 0:
        report.curves["Lemma 3"] = {
            "iterations": np.asarray(r.iterations),
            "error": np.asarray(r.error),
            "bound": np.asarray(_bounds.lemma3(r.risk, min(gz, 0.5))),
            "gamma_z": gz,
            "m_run": int(r.widths[0]),
            "T_run": int(r.T),
            "status": l3.status,
        }


def _verify_lemma6(report, X, v, z, res2, *, m2, seeds, delta, alpha, s_margin, say):
    """Check Lemma 6 on Theorem 2's initialisations (or fresh ones) and add the deviation-against-width curve."""
    from .student import init_symmetric

    n, d = X.shape
    n6 = max(seeds, seeds_for_power(1 - delta, alpha))
    if res2 is not None and int(res2.widths[0]) == int(m2) and len(res2) >= n6:
        inits = list(zip(res2.W0, res2.a))
    else:
        # Lemma 6 needs only initialisations: draw them at Theorem 2's width
        m6 = int(m2) if math.isfinite(m2) and m2 <= 10**6 else 10**6
        inits = [
            init_symmetric(m6, d, rng=np.random.default_rng(s), dtype=X.dtype)
            for s in network_seeds(n6, s_margin.spawn(1)[0])
        ]
    m6 = inits[0][0].shape[0]
    say(f"Lemma 6 on {len(inits)} initialisations of width {m6}")
    l6 = check_lemma6(X, v, z, inits, delta=delta, alpha=alpha)
    report.checks.append(l6)
    # the figure: deviations against the width, from 16 up to the checked width
    widths = sorted({int(w) - int(w) % 2 for w in np.geomspace(16, max(m6, 32), 6)} | {m6})
    devs = []
    for w, s in zip(widths, s_margin.spawn(len(widths))):
        devs.append(
            _lemma6_deviations(
                X, v, z, [init_symmetric(w, d, rng=np.random.default_rng(si), dtype=X.dtype) for si in s.spawn(n6)]
            )
        )
    report.curves["Lemma 6"] = {
        "widths": np.asarray(widths),
        "deviations": devs,
        "n": n,
        "delta": delta,
        "m_checked": m6,
        "checked_deviations": np.asarray(l6.measured["deviations"]),
        "status": l6.status,
    }


def _lemma6_deviations(X, v, z, inits):
    r""":math:`\max_i |f^0_i(U) - z_i|` for each initialisation."""
    from .student import linearised

    out = []
    for W0, a in inits:
        m = W0.shape[0]
        U = (a[:, None] / math.sqrt(m)) * np.asarray(v(W0), dtype=np.float64)
        out.append(float(np.max(np.abs(linearised(X, W0, a, U) - z))))
    return np.asarray(out)
