r"""Figures (optional extra ``plot``: matplotlib): bound curves and the measured neuron requirement.

Every function draws on the Axes ``ax`` it is given (a new figure when ``ax=None``), returns that
Axes, and writes a file only when given ``path``; a figure it created for a file is closed after
writing, so scripts do not accumulate open figures. In a notebook, call it without ``path`` and
the figure shows as any matplotlib figure does.

matplotlib is imported inside each function, so the rest of the library works without it.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from matplotlib.axes import Axes

    from ._typing import ArrayLike
    from .requirement import SlopeFit

__all__ = ["plot_bound_curves", "plot_requirement"]


def _plt():
    try:
        import matplotlib.pyplot as plt
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError("figures need matplotlib: pip install 'ntkdistill[plot]'.") from exc
    return plt


def _axes(ax, figsize=(6, 4.2)):
    """``ax``, or the Axes of a new figure."""
    if ax is not None:
        return ax
    return _plt().subplots(figsize=figsize)[1]


def _finish(ax, path, created: bool):
    """Lay out, write ``path`` if given, close a figure created only for the file; return ``ax``."""
    fig = ax.figure
    if created:
        fig.tight_layout()
    if path is not None:
        fig.savefig(path, dpi=120)
        if created:
            _plt().close(fig)
    return ax


def plot_bound_curves(
    path: str | os.PathLike | None = None,
    *,
    n: int = 100,
    delta: float = 0.01,
    eps_values: Sequence[float] = (0.01, 0.1),
    c: float = 1.0,
    C1: float | str = "printed",
    ax: Axes | None = None,
) -> Axes:
    r"""Neurons required by Corollary 4 (soft) and Proposition 5 (hard) against :math:`\gamma`.

    .. math::

        m_{soft} = \frac{32 C_1}{\gamma^2\epsilon}(\cdots)^2,\qquad
        m_{hard} = \frac{16}{\gamma^4}(\cdots)^2

    (:func:`ntkdistill.bounds.neurons_required`), on log-log axes, one pair of curves per
    :math:`\epsilon`. Draws on ``ax`` (a new figure if None), writes ``path`` if given, returns the Axes.

    Examples
    --------
    >>> import tempfile, os
    >>> with tempfile.TemporaryDirectory() as d:
    ...     ax = plot_bound_curves(os.path.join(d, "b.png"))
    ...     os.path.exists(os.path.join(d, "b.png")), len(ax.lines)
    (True, 4)
    """
    from . import bounds

    created = ax is None
    ax = _axes(ax)
    gamma = np.logspace(-3, np.log10(0.5), 60)
    for k, eps in enumerate(eps_values):
        cmp = bounds.neurons_required(gamma, eps, n, delta, c=c, C1=C1)
        color = f"C{k}"
        ax.loglog(gamma, cmp.soft.m_bound, color=color, label=f"soft (Cor. 4), eps={eps:g}")
        ax.loglog(gamma, cmp.hard.m_bound, color=color, ls="--", label=f"hard (Prop. 5), eps={eps:g}")
    ax.set_xlabel(r"NTK margin $\gamma$")
    ax.set_ylabel("neurons required (upper bound)")
    ax.set_title(f"Width bounds, n={n}, delta={delta:g}")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    return _finish(ax, path, created)


def plot_requirement(
    gamma: ArrayLike,
    soft_width: Sequence[float | None],
    hard_width: Sequence[float | None],
    soft_fit: SlopeFit | None = None,
    hard_fit: SlopeFit | None = None,
    title: str | None = None,
    *,
    ax: Axes | None = None,
    path: str | os.PathLike | None = None,
) -> Axes:
    r"""Measured minimal width against :math:`1/\gamma` on log-log axes, soft and hard, with fitted slopes.

    .. math::

        \ln m^* = k \ln(1/\gamma) + b

    ``soft_fit``/``hard_fit`` are :class:`ntkdistill.requirement.SlopeFit` results (drawn as lines).
    Missing widths (target not reached) are left out. Draws on ``ax`` (a new figure if None),
    writes ``path`` if given, returns the Axes.

    Examples
    --------
    >>> import tempfile, os
    >>> with tempfile.TemporaryDirectory() as d:
    ...     ax = plot_requirement([0.4, 0.2, 0.1], [2, 6, 20], [4, None, 60], path=os.path.join(d, "r.png"))
    ...     os.path.exists(os.path.join(d, "r.png")), len(ax.lines)
    (True, 2)
    """
    created = ax is None
    ax = _axes(ax)
    g = np.asarray(gamma, dtype=float)
    for label, w, fit, color, marker in (
        ("soft", soft_width, soft_fit, "C0", "o"),
        ("hard", hard_width, hard_fit, "C3", "s"),
    ):
        wv = np.array([np.nan if v is None else v for v in w], dtype=float)
        keep = np.isfinite(wv)
        text = label
        if fit is not None and np.isfinite(fit.slope):
            if keep.any():
                xs = np.linspace(np.log(1 / g[keep]).min(), np.log(1 / g[keep]).max(), 20)
                ax.plot(np.exp(xs), np.exp(fit.intercept + fit.slope * xs), color=color, lw=1)
            ci = "" if not np.isfinite(fit.ci_low) else f" [{fit.ci_low:.2f}, {fit.ci_high:.2f}]"
            text = f"{label}: slope {fit.slope:.2f}{ci}"
        ax.plot(1 / g[keep], wv[keep], marker=marker, ls="none", color=color, label=text)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel(r"$1/\gamma$")
    ax.set_ylabel("measured minimal width $m^*$")
    ax.set_title(title or "Measured neuron requirement (theory: slope 2 soft, 4 hard)")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    return _finish(ax, path, created)
