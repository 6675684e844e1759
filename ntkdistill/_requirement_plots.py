r"""Figures of the requirement study (optional extra ``plot``: matplotlib), drawn from ``summary.json``.

.. math::

    m^* \text{ against } 1/\gamma \text{ on log-log axes},\qquad m^*(T),\qquad m^*(\tau)

Every function takes the summary dict of :func:`ntkdistill.requirement.requirement_study` (or
``json.load`` of ``summary.json``) and ``ax=None`` (a new figure), returns the Axes and writes a
file only when given ``path``. Censored levels (not reached up to ``m_max``) are drawn as upward
arrows from ``m_max``: they are lower bounds on :math:`m^*`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = ["plot_mstar", "plot_mstar_T", "plot_temperature", "plot_requirement_figure"]

_COLORS = {"soft": "C0", "hard": "C3"}


def _plt():
    try:
        import matplotlib.pyplot as plt
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError("figures need matplotlib: pip install 'ntkdistill[plot]'.") from exc
    return plt


def _axes(ax):
    if ax is None:
        plt = _plt()
        _, ax = plt.subplots(figsize=(5, 4))
    return ax


def _save(ax, path):
    if path is not None:
        ax.figure.savefig(path, dpi=120, bbox_inches="tight")


def _Tkey(summary, T):
    return str(summary["config"]["T_grid"][-1] if T is None else T)


def plot_mstar(
    summary: Mapping[str, Any],
    family: str,
    *,
    criterion: str = "error",
    T: int | str | None = None,
    ax: Axes | None = None,
    path: str | os.PathLike[str] | None = None,
) -> Axes:
    r"""Measured :math:`m^*` against :math:`1/\gamma`, soft and hard, with fitted lines, bands and the bounds' slopes.

    .. math::

        m^* = e^{b}(1/\gamma)^{k}\quad(\text{fit}),\qquad \text{guides: } (1/\gamma)^2,\ (1/\gamma)^4

    The band spans the slopes of the 95% interval, pivoting at the centroid of the levels;
    censored levels are arrows up from ``m_max``.

    Examples
    --------
    >>> s = {"config": {"T_grid": [10]}, "levels": [
    ...     {"family": "f", "gamma": g, "soft": {"m_star": {"10": w}, "m_star_risk": {"10": w}, "m_max": 64},
    ...      "hard": {"m_star": {"10": None}, "m_star_risk": {"10": None}, "m_max": 64}} for g, w in
    ...     [(0.4, 4), (0.2, 16), (0.1, None)]],
    ...     "fits": {"f": {"soft": {"slope": 2.0, "intercept": -0.4, "ci": [1.5, 2.5]}, "hard": {"slope": None}}}}
    >>> ax = plot_mstar(s, "f")
    >>> ax.get_xscale(), ax.get_yscale()
    ('log', 'log')
    """
    ax = _axes(ax)
    Tk = _Tkey(summary, T)
    key = "m_star" if criterion == "error" else "m_star_risk"
    fits = summary.get("fits" if criterion == "error" else "fits_risk", {}).get(family, {})
    rows = [lv for lv in summary["levels"] if lv["family"] == family]
    if not rows:
        raise ValueError(
            f"family {family!r} is not in the summary; it has {sorted({lv['family'] for lv in summary['levels']})}."
        )
    x_all = np.array([1.0 / lv["gamma"] for lv in rows])
    for lab in ("soft", "hard"):
        col = _COLORS[lab]
        obs = [(1.0 / lv["gamma"], lv[lab][key][Tk]) for lv in rows if lv[lab][key][Tk] is not None]
        cen = [
            (1.0 / lv["gamma"], lv[lab].get("lower_bound", lv[lab]["m_max"])) for lv in rows if lv[lab][key][Tk] is None
        ]
        if obs:
            ax.plot(*zip(*obs), "o", color=col, label=f"{lab} m*")
        for xv, mm in cen:
            ax.annotate("", xy=(xv, mm * 2.2), xytext=(xv, mm), arrowprops=dict(arrowstyle="->", color=col, lw=1.5))
            ax.plot([xv], [mm], "_", color=col, ms=10)
        f = fits.get(lab, {})
        if f.get("slope") is not None:
            xs = np.geomspace(x_all.min(), x_all.max(), 50)
            lx = np.log(xs)
            xc = float(np.mean(np.log(x_all)))
            yc = f["intercept"] + f["slope"] * xc
            ax.plot(
                xs, np.exp(yc + f["slope"] * (lx - xc)), "-", color=col, lw=1, label=f"{lab} fit k={f['slope']:.2f}"
            )
            lo, hi = f["ci"]
            if lo is not None and hi is not None:
                a, b = np.exp(yc + lo * (lx - xc)), np.exp(yc + hi * (lx - xc))
                ax.fill_between(xs, np.minimum(a, b), np.maximum(a, b), color=col, alpha=0.15)
    anchor = [
        (1.0 / lv["gamma"], lv[lab][key][Tk]) for lab in ("soft", "hard") for lv in rows if lv[lab][key][Tk] is not None
    ]
    if anchor:
        x0, y0 = min(anchor)
        xs = np.geomspace(x_all.min(), x_all.max(), 20)
        for k, ls in ((2, ":"), (4, "--")):
            ax.plot(xs, y0 * (xs / x0) ** k, ls, color="0.5", lw=1, label=f"slope {k} (bound)")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel(r"$1/\gamma$")
    ax.set_ylabel(f"m* ({'error' if criterion == 'error' else 'risk'}, T={Tk})")
    ax.set_title(family)
    ax.legend(fontsize=7)
    _save(ax, path)
    return ax


def plot_mstar_T(
    summary: Mapping[str, Any],
    family: str,
    *,
    labels: str = "soft",
    criterion: str = "error",
    ax: Axes | None = None,
    path: str | os.PathLike[str] | None = None,
) -> Axes:
    r"""Measured :math:`m^*(T)` against :math:`T`, one line per level: the convergence in :math:`T`.

    .. math::

        T \mapsto m^*(\epsilon, T),\quad T \in \text{the T grid}

    Censored points are drawn at ``m_max`` with an upward triangle.

    Examples
    --------
    >>> s = {"config": {"T_grid": [10, 100]}, "levels": [{"family": "f", "gamma": 0.1, "level": 1,
    ...      "soft": {"m_star": {"10": None, "100": 8}, "m_max": 64}}]}
    >>> plot_mstar_T(s, "f").get_xscale()
    'log'
    """
    ax = _axes(ax)
    key = "m_star" if criterion == "error" else "m_star_risk"
    Ts = summary["config"]["T_grid"]
    rows = [lv for lv in summary["levels"] if lv["family"] == family]
    for i, lv in enumerate(rows):
        r = lv[labels]
        ys = [r[key][str(t)] for t in Ts]
        col = f"C{i % 10}"
        ax.plot(
            Ts,
            [r.get("lower_bound", r["m_max"]) if v is None else v for v in ys],
            "-",
            color=col,
            lw=1,
            label=f"gamma={lv['gamma']:.3g}",
        )
        ax.plot([t for t, v in zip(Ts, ys) if v is not None], [v for v in ys if v is not None], "o", color=col)
        ax.plot(
            [t for t, v in zip(Ts, ys) if v is None],
            [r.get("lower_bound", r["m_max"]) for v in ys if v is None],
            "^",
            color=col,
        )
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("T (iterations)")
    ax.set_ylabel(f"{labels} m*")
    ax.set_title(f"{family}: {labels} m*(T) (triangles: censored)")
    ax.legend(fontsize=6)
    _save(ax, path)
    return ax


def plot_temperature(
    summary: Mapping[str, Any], *, ax: Axes | None = None, path: str | os.PathLike[str] | None = None
) -> Axes:
    r"""Soft :math:`m^*` against the temperature :math:`\tau` of the labels :math:`p = \mu(z/\tau)`, at one margin.

    .. math::

        \tau \mapsto m^*_{soft}(\tau),\qquad \text{hard } m^* \text{ as a horizontal line}

    Examples
    --------
    >>> s = {"config": {"T_grid": [10]}, "temperature": [{"family": "f", "gamma": 0.1, "tau": t, "m_max": 64,
    ...      "m_star": {"10": w}, "hard_m_star": 8} for t, w in [(1.0, 32), (0.1, 8)]]}
    >>> plot_temperature(s).get_xscale()
    'log'
    """
    ax = _axes(ax)
    rows = summary.get("temperature") or []
    Ts = summary["config"]["T_grid"]
    for i, t in enumerate(Ts):
        taus = [r["tau"] for r in rows]
        ys = [r["m_star"][str(t)] for r in rows]
        col = f"C{i}"
        ax.plot(
            taus,
            [r.get("lower_bound", r["m_max"]) if v is None else v for r, v in zip(rows, ys)],
            "-",
            color=col,
            lw=1,
            label=f"T={t}",
        )
        ax.plot([a for a, v in zip(taus, ys) if v is not None], [v for v in ys if v is not None], "o", color=col)
        ax.plot(
            [a for a, v in zip(taus, ys) if v is None],
            [r.get("lower_bound", r["m_max"]) for r, v in zip(rows, ys) if v is None],
            "^",
            color=col,
        )
    if rows and rows[0].get("hard_m_star") is not None:
        ax.axhline(rows[0]["hard_m_star"], color="C3", ls="--", lw=1, label=f"hard m* (T={Ts[-1]})")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel(r"temperature $\tau$ ($p = \mu(z/\tau)$; theory: $\tau = 1$)")
    ax.set_ylabel("soft m*")
    if rows:
        ax.set_title(f"{rows[0]['family']}, gamma = {rows[0]['gamma']:.3g}")
    ax.legend(fontsize=7)
    _save(ax, path)
    return ax


def plot_requirement_figure(summary: Mapping[str, Any], *, path: str | os.PathLike[str] | None = None) -> Figure:
    r"""The study's figure: per family :math:`m^*` against :math:`1/\gamma` and :math:`m^*(T)`, and :math:`m^*(\tau)`.

    .. math::

        \text{row 1: } m^*(1/\gamma),\quad \text{rows 2, 3: } m^*_{soft}(T),\ m^*_{hard}(T),\quad
        \text{last panel: } m^*_{soft}(\tau)

    Returns the Figure; writes it to ``path`` when given.

    Examples
    --------
    >>> s = {"config": {"T_grid": [10]}, "temperature": [], "fits": {"f": {}}, "levels": [
    ...     {"family": "f", "gamma": g, "level": 1, "soft": {"m_star": {"10": 4}, "m_star_risk": {"10": 4}, "m_max": 8},
    ...      "hard": {"m_star": {"10": 8}, "m_star_risk": {"10": None}, "m_max": 8}} for g in (0.4, 0.2, 0.1)]}
    >>> len(plot_requirement_figure(s).axes)
    3
    """
    plt = _plt()
    fams = list(dict.fromkeys(lv["family"] for lv in summary["levels"]))
    cols = max(1, len(fams)) + (1 if summary.get("temperature") else 0)
    fig, axes = plt.subplots(3, cols, figsize=(4.2 * cols, 11), squeeze=False)
    for j, fam in enumerate(fams):
        plot_mstar(summary, fam, ax=axes[0, j])
        plot_mstar_T(summary, fam, labels="soft", ax=axes[1, j])
        plot_mstar_T(summary, fam, labels="hard", ax=axes[2, j])
    if summary.get("temperature"):
        plot_temperature(summary, ax=axes[0, cols - 1])
        axes[1, cols - 1].axis("off")
        axes[2, cols - 1].axis("off")
    fig.tight_layout()
    if path is not None:
        fig.savefig(path, dpi=110, bbox_inches="tight")
        plt.close(fig)
    return fig
