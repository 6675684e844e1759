r"""Checks of the paper's claims: run what each theorem prescribes and compare with what it promises.

Each check computes the theorem's width ``m``, iterations ``T``, step ``eta`` and radius ``B``
(:mod:`ntkdistill.bounds`), estimates the cost of the run (:mod:`ntkdistill.cost`) and refuses
it when it exceeds the budget, trains many seeds as one batch (:func:`ntkdistill.pgd`), and
reports the fraction of seeds that meet the claim next to the promised probability.

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

Statuses: ``PASS`` (the measured frequency is consistent with the promise: a one-sided binomial
test at level ``alpha`` does not reject it), ``FAIL`` (it does), ``VACUOUS`` (the claim holds at
initialisation already, e.g. :math:`\beta \ge R_{KL}(W(0))`, THEORY.md), ``REFUSED`` (the
prescribed run exceeds the cost budget; the message says what it would cost and what would fit).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

import numpy as np
from scipy import stats

from . import _results
from . import bounds as _bounds
from ._validation import check_int, check_labels, check_probabilities, check_real, check_matrix
from .cost import estimate_cost, format_seconds
from .losses import kl_risk, logit
from .pgd import network_seeds, pgd

__all__ = [
    "Check",
    "binomial_status",
    "check_theorem2",
    "check_corollary4",
    "check_proposition5",
    "check_lemma3",
    "check_lemma6",
    "VerifyReport",
    "run_verify",
]

PASS, FAIL, VACUOUS, REFUSED = "PASS", "FAIL", "VACUOUS", "REFUSED"


@dataclass(frozen=True)
class Check(_results.ResultMixin):
    """The outcome of one check: what was predicted, what was measured, and the verdict.

    Attributes
    ----------
    name : str
        "Theorem 2", "Corollary 4", "Proposition 5", "Lemma 3" or "Lemma 6".
    status : str
        PASS, FAIL, VACUOUS or REFUSED.
    claim : str
        The inequality checked, in words.
    predicted : dict
        The theorem's parameters and promise (m, T, eta, B, target, confidence).
    measured : dict
        Frequencies, averages over seeds, slack, cost.
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


def _jsonable(obj):
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return _jsonable(obj.tolist())
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
        return None if math.isnan(obj) else ("inf" if obj > 0 else "-inf")
    return obj


def binomial_status(successes: int, trials: int, promised: float, alpha: float = 0.01):
    r"""Verdict on a promised probability from ``successes`` out of ``trials``.

    One-sided exact binomial test of :math:`H_0: P(\text{success}) \ge` ``promised``: the p-value is
    :math:`P(\mathrm{Bin}(N, \text{promised}) \le k)`. Returns ``(status, p_value, (lo, hi))`` with the
    Clopper-Pearson interval at level :math:`1 - \alpha` for the success probability.

    Examples
    --------
    >>> binomial_status(20, 20, 0.7)[0], binomial_status(2, 20, 0.7)[0]
    ('PASS', 'FAIL')
    """
    k = check_int("successes", successes, minimum=0)
    n = check_int("trials", trials, minimum=1)
    promised = check_real("promised", promised, low=0.0, high=1.0, low_open=False, high_open=False)
    pval = float(stats.binom.cdf(k, n, promised))
    ci = stats.binomtest(k, n).proportion_ci(confidence_level=1 - alpha)
    return (PASS if pval >= alpha else FAIL), pval, (float(ci.low), float(ci.high))


# ---------------------------------------------------------------------------- shared machinery


def _refusal(name, claim, predicted, cost, budget, suggestions):
    text = (
        f"{name} prescribes m = {predicted['m']}, T = {predicted['T']}: {cost.describe()}, which exceeds the "
        f"budget of {format_seconds(budget)}."
    )
    if suggestions:
        text += " Feasible within the budget: " + "; ".join(suggestions) + "."
    text += " Raise the budget (--budget SECONDS) to run it anyway."
    return Check(name, REFUSED, claim, predicted, {"cost": cost.to_dict()}, text)


def _cost(n, d, m, seeds, T, dtype):
    return estimate_cost(n, d, int(m) * seeds, int(T), dtype=dtype, max_probe_seconds=1.0)


def _scalar(v):
    v = np.asarray(v)
    return v.item() if v.ndim == 0 else v.tolist()


def _run_check(name, claim, *, X, targets, labels, loss, bound, target, measure, seeds, rng, delta,
               budget, vacuous, vacuous_note, suggest, dtype, alpha, record_every, extra_measured=None):
    """Shared body of the three training checks."""
    n, d = X.shape
    m_f, T_f = float(bound.m), float(bound.T)
    predicted = {"m": m_f, "T": T_f, "eta": float(bound.eta), "B": float(bound.B), "target": float(target),
                 "confidence": 1 - 3 * delta}
    seed_list = network_seeds(seeds, rng)
    S = len(seed_list)
    if not (m_f * S * n < 2**40 and T_f < 2**40):
        flops = 4.0 * n * d * m_f * S * T_f
        text = (f"{name} prescribes m = {m_f:.4g}, T = {T_f:.4g}: about {flops:.3g} floating-point operations; "
                "no run of that size can finish here.")
        sugg = suggest(budget)
        if sugg:
            text += " Feasible within the budget: " + "; ".join(sugg) + "."
        return Check(name, REFUSED, claim, predicted, {"flops": flops}, text), None
    m, T = int(m_f), int(T_f)
    predicted["m"], predicted["T"] = m, T
    cost = _cost(n, d, m, S, T, dtype)
    if cost.seconds > budget or not math.isfinite(cost.seconds):
        return _refusal(name, claim, predicted, cost, budget, suggest(budget)), None
    res = pgd(X, targets, m=m, eta=float(bound.eta), T=T, B=float(bound.B), loss=loss, labels=labels,
              seeds=seed_list, record_every=record_every, dtype=dtype)
    values = measure(res)
    ok = values <= target
    status, pval, ci = binomial_status(int(ok.sum()), S, 1 - 3 * delta, alpha)
    mean = float(np.mean(values))
    measured = {
        "seeds": S,
        "fraction_meeting_target": float(ok.mean()),
        "fraction_ci": ci,
        "p_value": pval,
        "mean_value": mean,
        "max_value": float(np.max(values)),
        "slack": float(target / mean) if mean > 0 else float("inf"),
        "max_row_distance_times_sqrt_m": float(np.max(res.max_distance) * math.sqrt(m)),
        "cost": cost.to_dict(),
        "seed_entropy": [s.entropy for s in seed_list],
        "seed_spawn_keys": [list(s.spawn_key) for s in seed_list],
    }
    if extra_measured:
        measured.update(extra_measured(res))
    note = (f"{int(ok.sum())}/{S} seeds meet the target (promised frequency {1 - 3 * delta:.3g}); "
            f"slack target/mean = {measured['slack']:.3g}.")
    if vacuous:
        status = VACUOUS
        note = vacuous_note + " " + note
    elif status == FAIL:
        note = f"The measured frequency is significantly below the promise (p = {pval:.2g}). " + note
    return Check(name, status, claim, predicted, measured, note), res


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


def check_theorem2(X, p, *, beta, delta, labels=None, c=1.0, C1="printed", seeds=20, rng=None,
                   budget=60.0, dtype=None, alpha=0.01, record_every=None):
    r"""Check Theorem 2: soft-label PGD at the prescribed (m, T, eta, B) reaches average KL risk beta.

    .. math::

        \frac1T \sum_{\tau < T} R_{KL}(W(\tau)) \le \beta \quad\text{with probability} \ge 1 - 3\delta,

    at :math:`m, T, \eta = \beta/3` (E7), :math:`B = 1` from :func:`ntkdistill.bounds.theorem2`.
    The claim is vacuous when :math:`\beta \ge R_{KL}(W(0)) = \frac1n\sum_i \mathrm{KL}(p_i\|1/2)`.

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
    S = _n_seeds(seeds)

    def suggest(b):
        betas = sorted({min(beta * f, r0 * 0.95) for f in (1.5, 2, 3, 5)} | {r0 * 0.9})
        return _suggest(lambda bb, nn: _bounds.theorem2(bb, nn, delta, c=c, C1=C1), betas,
                        sorted({n, max(1, n // 2), max(1, n // 4)}, reverse=True), n, d, S, X.dtype, b)

    return _run_check(
        "Theorem 2", "average KL risk over iterations <= beta", X=X, targets=p,
        labels=labels, loss="kl", bound=bound, target=beta, measure=lambda r: r.avg_risk, seeds=seeds,
        rng=rng, delta=delta, budget=budget, vacuous=beta >= r0,
        vacuous_note=f"beta = {beta:g} >= R_KL(W(0)) = {r0:.4g}: the claim holds at initialisation.",
        suggest=suggest, dtype=X.dtype, alpha=alpha, record_every=record_every,
        extra_measured=lambda r: {"risk_at_init": r0},
    )


def check_corollary4(X, p, y, *, gamma, eps, delta, c=1.0, C1="printed", seeds=20, rng=None, budget=60.0,
                     dtype=None, alpha=0.01, record_every=None):
    r"""Check Corollary 4: soft-label PGD reaches average classification error eps.

    .. math::

        \frac1T \sum_{\tau<T} R(W(\tau)) \le \epsilon \quad\text{w.p.} \ge 1 - 3\delta,\qquad
        \eta = \frac{\gamma^2\epsilon}{96},\ T = \frac{9216}{\gamma^4\epsilon^2}\ \text{(derived, E11)}

    It needs :math:`y_i z_i \ge \gamma` for the teacher logits :math:`z_i = \mathrm{logit}(p_i)`;
    the check reports :math:`\min_i y_i z_i`. The error at initialisation is 1 (ties, E6), so the
    claim is never vacuous for :math:`\epsilon < 1`.

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
    S = _n_seeds(seeds)

    def suggest(b):
        epss = [e for e in (0.5, 0.7, 0.9, 0.99) if e > eps]
        return _suggest(lambda ee, nn: _bounds.corollary4(gamma, ee, nn, delta, c=c, C1=C1), epss,
                        sorted({n, max(1, n // 2)}, reverse=True), n, d, S, X.dtype, b, label="eps")

    chk, res = _run_check(
        "Corollary 4", "average classification error over iterations <= eps", X=X, targets=p, labels=y,
        loss="kl", bound=bound, target=eps, measure=lambda r: r.avg_error, seeds=seeds, rng=rng, delta=delta,
        budget=budget, vacuous=False, vacuous_note="", suggest=suggest, dtype=X.dtype, alpha=alpha,
        record_every=record_every, extra_measured=lambda r: {"teacher_margin_min_yz": margin_z},
    )
    printed = {"eta_printed": _scalar(getattr(bound, "eta_printed", float("nan"))),
               "T_printed": _scalar(getattr(bound, "T_printed", float("nan")))}
    chk.predicted.update(printed)
    if margin_z < gamma * (1 - 1e-9) and chk.status != REFUSED:
        chk = Check(chk.name, chk.status, chk.claim, chk.predicted, chk.measured,
                    chk.note + f" Warning: min_i y_i z_i = {margin_z:.4g} < gamma = {gamma:.4g}, so the "
                    "corollary's assumption is not met by these soft labels.")
    return chk, res


def check_proposition5(X, y, *, gamma, beta, delta, c=1.0, eta=1.0, seeds=20, rng=None, budget=60.0,
                       dtype=None, alpha=0.01, record_every=None):
    r"""Check Proposition 5: hard-label PGD reaches average logistic risk beta.

    .. math::

        \frac1T\sum_{\tau<T} R_h(W(\tau)) \le \beta \quad\text{w.p.} \ge 1 - 3\delta,\qquad
        B = \frac{2L}{\gamma},\ L = \ln\frac{2}{\ln(2)\beta}

    The claim is vacuous when :math:`\beta \ge R_h(W(0)) = \ln 2`. The implied classification error
    bound :math:`\beta / \ln 2` is reported beside it.

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
    S = _n_seeds(seeds)

    def suggest(b):
        betas = [bb for bb in (0.3, 0.5, 0.65) if bb > beta]
        return _suggest(lambda bb, nn: _bounds.proposition5(gamma, bb, nn, delta, c=c, eta=eta), betas,
                        sorted({n, max(1, n // 2)}, reverse=True), n, d, S, X.dtype, b)

    def extra(res):
        ok = res.avg_error <= beta / math.log(2)
        return {"fraction_error_below_beta_over_ln2": float(ok.mean()),
                "mean_avg_error": float(np.mean(res.avg_error))}

    return _run_check(
        "Proposition 5", "average logistic risk over iterations <= beta", X=X, targets=y, labels=y,
        loss="logistic", bound=bound, target=beta, measure=lambda r: r.avg_risk, seeds=seeds, rng=rng,
        delta=delta, budget=budget, vacuous=beta >= math.log(2),
        vacuous_note=f"beta = {beta:g} >= R_h(W(0)) = ln 2: the claim holds at initialisation.",
        suggest=suggest, dtype=X.dtype, alpha=alpha, record_every=record_every, extra_measured=extra,
    )


def check_lemma3(p, y, risk_kl, error):
    r"""Check Lemma 3 at every recorded iterate of every run: a deterministic inequality.

    .. math::

        R(W) \le \frac{32}{\gamma_z^2} R_{KL}(W),\qquad \gamma_z = \min_i y_i z_i,\ z_i = \mathrm{logit}(p_i)

    (ordinary Pinsker, E10). It holds whenever :math:`0 < p_i < 1` and :math:`\gamma_z > 0`; a single
    violation is a bug, not noise, so the status is FAIL on any violation beyond rounding (1e-12).

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
        return Check("Lemma 3", VACUOUS, claim, {"gamma_z": gz}, {},
                     "Lemma 3 needs 0 < p_i < 1 and y_i z_i > 0 for all i; not met by these soft labels.")
    # y_i z_i >= gz >= min(gz, 1/2): the lemma at the smaller margin is weaker, hence still implied;
    # a gz above 1/2 (impossible for the NTK teacher, possible for arbitrary p) is capped there.
    bound = _bounds.lemma3(risk_kl, min(gz, 0.5))
    slack = np.asarray(bound) - error
    violations = int(np.sum(slack < -1e-12))
    measured = {"iterates_checked": int(error.size), "violations": violations,
                "min_bound_minus_error": float(slack.min())}
    status = PASS if violations == 0 else FAIL
    note = (f"checked at {error.size} recorded iterates with gamma_z = min_i y_i z_i = {gz:.4g}; "
            f"{violations} violation(s)." + (" This is a bug: please report it." if violations else ""))
    return Check("Lemma 3", status, claim, {"gamma_z": gz}, measured, note)


def check_lemma6(X, v, z, inits, *, delta, alpha=0.01):
    r"""Check Lemma 6 over initialisations: the linearised teacher approximates the soft labels.

    .. math::

        \max_i |f^0_i(U) - z_i| \le r,\qquad U_j = \frac{a_j}{\sqrt m} v(W_j(0)),

    with probability at least :math:`1 - \delta`, for both radii of E13: the printed
    :math:`\sqrt{2\ln(2n/\delta)/m}` (independent neurons) and :math:`2\sqrt{\ln(2n/\delta)/m}`
    (symmetric initialisation, the one that applies here). ``z`` must be accurate (exact or a
    Monte Carlo estimate with standard error well below the radius).

    Parameters
    ----------
    X : (n, d); v : callable (K, d) -> (K, d); z : (n,) teacher logits;
    inits : list of (W0, a) pairs.

    Examples
    --------
    >>> import numpy as np
    >>> from ntkdistill import init_symmetric
    >>> X = np.eye(2)
    >>> check_lemma6(X, lambda Z: np.zeros_like(Z), np.zeros(2), [init_symmetric(8, 2, rng=s) for s in range(5)],
    ...              delta=0.1).status
    'PASS'
    """
    from .student import linearised

    X = check_matrix("X", X)
    n = X.shape[0]
    z = np.asarray(z, dtype=np.float64)
    if z.shape != (n,):
        raise ValueError(f"z must have shape ({n},), got {z.shape}.")
    delta = check_real("delta", delta, low=0.0, high=1.0)
    devs = []
    widths = []
    for W0, a in inits:
        m = W0.shape[0]
        U = (a[:, None] / math.sqrt(m)) * np.asarray(v(W0), dtype=np.float64)
        f0 = linearised(X, W0, a, U)
        devs.append(float(np.max(np.abs(f0 - z))))
        widths.append(m)
    devs = np.asarray(devs)
    widths = np.asarray(widths)
    r_sym = np.asarray(_bounds.lemma6_radius(widths, n, delta, init="symmetric"), dtype=np.float64)
    r_ind = np.asarray(_bounds.lemma6_radius(widths, n, delta, init="independent"), dtype=np.float64)
    ok_sym = devs <= r_sym
    ok_ind = devs <= r_ind
    status, pval, ci = binomial_status(int(ok_sym.sum()), len(devs), 1 - delta, alpha)
    measured = {"networks": len(devs), "fraction_within_symmetric_radius": float(ok_sym.mean()),
                "fraction_within_printed_radius": float(ok_ind.mean()), "fraction_ci": ci, "p_value": pval,
                "max_deviation": float(devs.max()), "median_deviation": float(np.median(devs))}
    predicted = {"radius_symmetric": _scalar(r_sym[0]) if len(set(widths)) == 1 else r_sym.tolist(),
                 "radius_printed": _scalar(r_ind[0]) if len(set(widths)) == 1 else r_ind.tolist(),
                 "confidence": 1 - delta, "m": widths.tolist() if len(set(widths)) > 1 else int(widths[0])}
    note = (f"{int(ok_sym.sum())}/{len(devs)} initialisations within the symmetric-initialisation radius "
            f"(E13, the one that applies), {int(ok_ind.sum())}/{len(devs)} within the printed radius.")
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

    Examples
    --------
    >>> rep = VerifyReport({"dataset": "demo"}, {"n": 1}, [Check("Lemma 3", PASS, "claim", {}, {})])
    >>> rep.to_dict()["checks"][0]["status"]
    'PASS'
    """

    config: dict
    data: dict
    checks: list

    _frame_rows, __repr__ = _results.report_frame_rows, _results.report_repr

    def to_dict(self) -> dict:
        """JSON-ready dict."""
        return _jsonable({"config": self.config, "data": self.data, "checks": [c.to_dict() for c in self.checks]})

    def format_table(self) -> str:
        """The predicted-against-measured table, one row per check."""
        rows = [("check", "status", "predicted (m, T, eta, B)", "target", "measured", "slack")]
        for c in self.checks:
            pr = c.predicted
            if "T" in pr:
                pred = f"m={_fmt(pr['m'])}, T={_fmt(pr['T'])}, eta={_fmt(pr['eta'])}, B={_fmt(pr['B'])}"
            elif "radius_symmetric" in pr:
                pred = f"m={_fmt(pr['m'])}, r_sym={_fmt(pr['radius_symmetric'])}, r_printed={_fmt(pr['radius_printed'])}"
            else:
                pred = f"gamma_z={_fmt(pr.get('gamma_z'))}"
            target = (f"<= {_fmt(pr['target'])} w.p. >= {_fmt(pr['confidence'])}" if "target" in pr
                      else (f"w.p. >= {_fmt(pr['confidence'])}" if "confidence" in pr else "always"))
            me = c.measured
            if "fraction_meeting_target" in me:
                k = int(round(me["fraction_meeting_target"] * me["seeds"]))
                meas = f"{k}/{me['seeds']} seeds; mean {me['mean_value']:.4g}"
                slack = f"{me['slack']:.3g}"
            elif "fraction_within_symmetric_radius" in me:
                N = me["networks"]
                k_sym = int(round(me["fraction_within_symmetric_radius"] * N))
                k_ind = int(round(me["fraction_within_printed_radius"] * N))
                meas = f"{k_sym}/{N} (printed radius: {k_ind}/{N}); max dev {me['max_deviation']:.3g}"
                slack = "-"
            elif "violations" in me:
                meas = f"{me['violations']} violations in {me['iterates_checked']} iterates"
                slack = "-"
            else:
                meas, slack = "not run", "-"
            rows.append((c.name, c.status, pred, target, meas, slack))
        widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
        lines = ["  ".join(cell.ljust(w) for cell, w in zip(r, widths)).rstrip() for r in rows]
        lines.insert(1, "  ".join("-" * w for w in widths))
        notes = [f"- {c.name}: {c.note}" for c in self.checks if c.note]
        return "\n".join(lines + [""] + notes)


def _fmt(v) -> str:
    if v is None:
        return "-"
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


def run_verify(X, y, *, gamma_known=None, beta=None, eps=0.5, beta_hard=0.5, delta=0.1, c=None, C1="printed",
               seeds=8, rng=0, budget=60.0, n_samples=20000, dtype=None, dataset="custom", log=None):
    r"""Run every check of the paper on one data set and collect the report.

    1. The NTK margin :math:`\gamma` with its certified interval (:func:`ntkdistill.margin`), and the
       teacher logits :math:`z_i` and soft labels :math:`p_i = \mu(z_i)` of the max-margin teacher.
    2. Theorem 2 at ``beta`` (default: 90% of :math:`R_{KL}(W(0))`, the largest non-vacuous level
       rounded down), Lemma 3 along its trajectories, Lemma 6 on its initialisations.
    3. Corollary 4 at (:math:`\gamma`, ``eps``) and Proposition 5 at (:math:`\gamma`, ``beta_hard``).

    The margin used by the bounds is the known one when ``gamma_known`` is given, otherwise the
    certified lower bound (conservative: a smaller margin only enlarges the prescribed widths).

    Parameters
    ----------
    X, y : data with :math:`\|x_i\| \le 1` and labels in {-1, +1}.
    seeds : int
        Networks per check, trained as one batch.
    rng : int or SeedSequence
        Root seed; each step gets its own spawned stream.
    budget : float
        Seconds allowed per training check; a check whose estimated cost exceeds it is REFUSED.
    log : callable, optional
        Called with one progress line per step (e.g. ``print``).

    Returns
    -------
    VerifyReport

    Examples
    --------
    >>> import numpy as np
    >>> rep = run_verify(np.array([[1.0, 0.0]]), np.array([1.0]), gamma_known=0.5, seeds=2, budget=0.01,
    ...                  n_samples=2000, rng=0)
    >>> [(c.name, c.status) for c in rep.checks]  # doctest: +NORMALIZE_WHITESPACE
    [('Theorem 2', 'REFUSED'), ('Corollary 4', 'REFUSED'), ('Proposition 5', 'REFUSED'),
     ('Lemma 3', 'PASS'), ('Lemma 6', 'PASS')]
    """
    from . import __version__
    from ._validation import check_norms
    from .margin import margin as _margin
    from .teacher import soft_labels, teacher_logits

    say = log or (lambda s: None)
    X = check_matrix("X", X, dtype=dtype)
    n, d = X.shape
    y = check_labels("y", y, n=n)
    norms = check_norms("X", X)
    if c is None:
        c = float(min(1.0, norms.min()))
    delta = check_real("delta", delta, low=0.0, high=1.0 / 3)
    eps = check_real("eps", eps, low=0.0, high=1.0)
    beta_hard = check_real("beta_hard", beta_hard, low=0.0, high=1.0)
    seeds = check_int("seeds", seeds, minimum=1)
    n_samples = check_int("n_samples", n_samples, minimum=100)
    if beta is not None:
        beta = check_real("beta", beta, low=0.0, high=1.0)
    root = rng if isinstance(rng, np.random.SeedSequence) else np.random.SeedSequence(rng)
    s_margin, s_teacher, s_t2, s_c4, s_p5 = root.spawn(5)

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
    p = soft_labels(z)
    r0 = float(_bounds.kl_risk_at_init(p))
    if beta is None:
        beta = float(np.floor(0.9 * r0 * 1e4) / 1e4) if r0 > 2e-4 else 0.9 * r0
    data = {
        "n": n, "d": d, "c": c, "gamma_used": gamma, "gamma_known": gamma_known,
        "margin_estimate": float(mres.gamma), "margin_lower": float(mres.lower), "margin_upper": float(mres.upper),
        "teacher_logits_min_yz": float(np.min(y * z)), "teacher_logits_max_abs": float(np.max(np.abs(z))),
        "teacher_logits_max_se": float(np.max(z_se)), "kl_risk_at_init": r0,
    }
    config = {
        "dataset": dataset, "beta": beta, "eps": eps, "beta_hard": beta_hard, "delta": delta, "C1": C1,
        "seeds": seeds, "root_seed_entropy": root.entropy, "budget_seconds_per_check": budget,
        "n_samples": n_samples, "dtype": str(X.dtype), "version": __version__,
    }
    checks = []

    say(f"Theorem 2 at beta = {beta:.4g} (R_KL(W(0)) = {r0:.4g})")
    t2, res2 = check_theorem2(X, p, beta=beta, delta=delta, labels=y, c=c, C1=C1, seeds=seeds, rng=s_t2,
                              budget=budget, dtype=X.dtype, record_every=_record_every(beta, c, n, delta, C1))
    checks.append(t2)

    say(f"Corollary 4 at gamma = {gamma:.4g}, eps = {eps:g}")
    c4, res4 = check_corollary4(X, p, y, gamma=gamma, eps=eps, delta=delta, c=c, C1=C1, seeds=seeds, rng=s_c4,
                                budget=budget, dtype=X.dtype, record_every=1000)
    checks.append(c4)

    say(f"Proposition 5 at gamma = {gamma:.4g}, beta = {beta_hard:g}")
    p5, _ = check_proposition5(X, y, gamma=gamma, beta=beta_hard, delta=delta, c=c, seeds=seeds, rng=s_p5,
                               budget=budget, dtype=X.dtype)
    checks.append(p5)

    runs = [r for r in (res2, res4) if r is not None]
    m2 = float(_bounds.theorem2(beta, n, delta, c=c, C1=C1).m)
    l3_note = ""
    if not runs:
        # Lemma 3 is a deterministic inequality: any soft-label trajectory checks it. With the
        # prescribed runs refused, use Theorem 2's step on a width and length that fit the budget.
        m_l3 = int(min(m2, 2048)) if math.isfinite(m2) else 2048
        m_l3 -= m_l3 % 2
        T_l3 = 2000
        cost = _cost(n, d, m_l3, seeds, T_l3, X.dtype)
        if cost.seconds > budget:
            T_l3 = max(10, int(T_l3 * budget / cost.seconds))
        say(f"Lemma 3 along a soft-label trajectory of m = {m_l3}, T = {T_l3} (the prescribed runs were refused)")
        runs = [pgd(X, p, m=m_l3, eta=beta / 3, T=T_l3, B=1.0, loss="kl", labels=y, seeds=s_t2.spawn(seeds),
                    record_every=1)]
        l3_note = f" (along a substitute soft-label run with m = {m_l3}, T = {T_l3}, eta = beta/3, B = 1)"
    risk = np.concatenate([r.risk.ravel() for r in runs])
    err = np.concatenate([r.error.ravel() for r in runs])
    l3 = check_lemma3(p, y, risk, err)
    if l3_note:
        l3 = Check(l3.name, l3.status, l3.claim, l3.predicted, l3.measured, l3.note + l3_note)
    checks.append(l3)
    if res2 is not None:
        inits = list(zip(res2.W0, res2.a))
    else:
        # Lemma 6 needs only initialisations: draw them at Theorem 2's width, same seeds
        from .student import init_symmetric

        m6 = int(m2) if math.isfinite(m2) and m2 <= 10**7 else 10**6
        inits = [init_symmetric(m6, d, rng=np.random.default_rng(s), dtype=X.dtype)
                 for s in network_seeds(seeds, s_t2)]
    say(f"Lemma 6 on {len(inits)} initialisations of width {inits[0][0].shape[0]}")
    checks.append(check_lemma6(X, mres.v, z, inits, delta=delta))
    return VerifyReport(config, data, checks)


def _record_every(beta, c, n, delta, C1):
    T = float(_bounds.theorem2(beta, n, delta, c=c, C1=C1).T)
    return max(1, int(T // 500)) if math.isfinite(T) else 1
