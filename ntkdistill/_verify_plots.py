r"""Figures of what :func:`ntkdistill.run_verify` measured (optional extra ``plot``: matplotlib).

One figure per training check (the risk or error along the iterations for every seed, against
the target, the prescribed :math:`T` marked), Lemma 3's two sides along a trajectory, and
Lemma 6's deviations against the radius over widths. Each function draws into ``ax`` (a new
figure when None), saves only when given ``path``, and returns the Axes. The data are the
entries of :attr:`ntkdistill.verify.VerifyReport.curves`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from matplotlib.axes import Axes

    from .verify import VerifyReport

__all__ = ["plot_lemma3", "plot_lemma6", "plot_training_check", "save_verify_figures"]


def _axes(ax, figsize=(6.4, 4.3)):
    try:
        import matplotlib.pyplot as plt
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError("figures need matplotlib: pip install 'ntkdistill[plot]'.") from exc
    if ax is None:
        _, ax = plt.subplots(figsize=figsize)
    return ax


def _finish(ax, path):
    if path is not None:
        import matplotlib.pyplot as plt

        fig = ax.figure
        fig.tight_layout()
        fig.savefig(path, dpi=110)
        plt.close(fig)
    return ax


def plot_training_check(
    curve: Mapping[str, Any], ax: Axes | None = None, path: str | os.PathLike[str] | None = None
) -> Axes:
    r"""Risk (or error) along the iterations for every seed of one training check, against its target.

    .. math::

        R(W(t)),\ t = 0, \dots, T_{run},\quad\text{and}\quad \frac1t\sum_{\tau<t} R(W(\tau))

    (the running average from the recorded iterates, which the theorems bound at :math:`t = T`),
    the target as a horizontal line and the prescribed :math:`T` as a vertical one; log axes.

    Parameters
    ----------
    curve : dict
        ``report.curves["Theorem 2"]`` (or Corollary 4, Proposition 5).
    ax : matplotlib Axes, optional
    path : str, optional
        Where to save the figure.

    Returns
    -------
    matplotlib Axes

    Examples
    --------
    >>> import numpy as np
    >>> c = {"name": "Theorem 2", "status": "PASS", "iterations": np.arange(0, 11), "values": np.ones((2, 11)) * 0.02,
    ...      "ylabel": "KL risk", "target": 0.03, "T_prescribed": 10, "T_run": 10, "m_run": 8, "m_prescribed": 8,
    ...      "init_value": 0.03}
    >>> plot_training_check(c).get_title().startswith("Theorem 2")
    True
    """
    ax = _axes(ax)
    it = np.asarray(curve["iterations"], dtype=np.float64)
    vals = np.atleast_2d(np.asarray(curve["values"], dtype=np.float64))
    x = np.maximum(it, 0.5)  # t = 0 drawn at 1/2 on the log axis
    running = np.cumsum(vals, axis=1) / np.arange(1, vals.shape[1] + 1)
    for k in range(vals.shape[0]):
        ax.plot(x, vals[k], color="C0", lw=0.7, alpha=0.5, label="every seed: value at iterate t" if k == 0 else None)
        ax.plot(
            x,
            running[k],
            color="C1",
            lw=1.2,
            alpha=0.7,
            label="every seed: running average (recorded iterates)" if k == 0 else None,
        )
    ax.axhline(curve["target"], color="k", ls="--", label=f"target {curve['target']:.4g}")
    if curve.get("init_value") is not None:
        ax.axhline(curve["init_value"], color="0.4", ls=":", label=f"value at W(0): {curve['init_value']:.4g}")
    ax.axvline(curve["T_prescribed"], color="C3", lw=1.2, label=f"prescribed T = {curve['T_prescribed']:.4g}")
    if curve["T_run"] != curve["T_prescribed"]:
        ax.axvline(curve["T_run"], color="C2", lw=1.0, ls="-.", label=f"run's T = {curve['T_run']}")
    ax.set_xscale("log")
    positive = vals[vals > 0]
    if positive.size and positive.max() / max(positive.min(), 1e-300) > 20:
        ax.set_yscale("log")
    ax.set_xlim(0.4, max(float(curve["T_prescribed"]), float(curve["T_run"])) * 1.5)
    ax.set_xlabel("iteration t (t = 0 drawn at 1/2)")
    ax.set_ylabel(curve["ylabel"])
    ax.set_title(
        f"{curve['name']} [{curve['status']}]: m = {curve['m_run']} "
        f"(prescribed {curve['m_prescribed']:.4g}), {vals.shape[0]} seeds",
        fontsize=10,
    )
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7)
    return _finish(ax, path)


def plot_lemma3(curve: Mapping[str, Any], ax: Axes | None = None, path: str | os.PathLike[str] | None = None) -> Axes:
    r"""Lemma 3's two sides along a trajectory: the error and :math:`\min(1, 32 R_{KL}/\gamma_z^2)`.

    .. math::

        R(W(t)) \le \min\Bigl(1, \frac{32}{\gamma_z^2} R_{KL}(W(t))\Bigr)

    One pair of curves per seed (the error solid, the bound dashed); log x axis.

    Examples
    --------
    >>> import numpy as np
    >>> c = {"iterations": np.arange(5), "error": np.zeros((1, 5)), "bound": np.ones((1, 5)), "gamma_z": 0.5,
    ...      "m_run": 8, "T_run": 4, "status": "VACUOUS"}
    >>> plot_lemma3(c).get_ylabel()
    'classification error'
    """
    ax = _axes(ax)
    x = np.maximum(np.asarray(curve["iterations"], dtype=np.float64), 0.5)
    err = np.atleast_2d(np.asarray(curve["error"], dtype=np.float64))
    bnd = np.atleast_2d(np.asarray(curve["bound"], dtype=np.float64))
    for k in range(err.shape[0]):
        ax.plot(
            x,
            bnd[k],
            color="k",
            ls="--",
            lw=0.8,
            alpha=0.6,
            label=r"bound $\min(1, 32 R_{KL}/\gamma_z^2)$" if k == 0 else None,
        )
        ax.plot(
            x,
            err[k],
            color="C3",
            lw=0.8,
            alpha=0.6,
            drawstyle="steps-post",
            label="classification error (ties count)" if k == 0 else None,
        )
    ax.set_xscale("log")
    ax.set_ylim(-0.03, 1.05)
    ax.set_xlabel("iteration t (t = 0 drawn at 1/2)")
    ax.set_ylabel("classification error")
    ax.set_title(
        f"Lemma 3 [{curve['status']}]: gamma_z = {curve['gamma_z']:.4g}, m = {curve['m_run']}, T = {curve['T_run']}",
        fontsize=10,
    )
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7)
    return _finish(ax, path)


def plot_lemma6(curve: Mapping[str, Any], ax: Axes | None = None, path: str | os.PathLike[str] | None = None) -> Axes:
    r"""Lemma 6: :math:`\max_i |f^0_i(U) - z_i|` per initialisation against the width, with both radii.

    .. math::

        r_{sym} = 2\sqrt{\ln(2n/\delta)/m}\ \text{(E13)},\qquad r_{printed} = \sqrt{2\ln(2n/\delta)/m}

    Examples
    --------
    >>> import numpy as np
    >>> c = {"widths": np.array([16, 64]), "deviations": [np.array([0.1, 0.2]), np.array([0.05, 0.1])], "n": 2,
    ...      "delta": 0.1, "m_checked": 64, "checked_deviations": np.array([0.05]), "status": "PASS"}
    >>> plot_lemma6(c).get_xscale()
    'log'
    """
    from . import bounds

    ax = _axes(ax)
    widths = np.asarray(curve["widths"])
    for k, (w, devs) in enumerate(zip(widths, curve["deviations"])):
        devs = np.asarray(devs)
        jitter = np.exp(np.linspace(-0.06, 0.06, devs.size))
        ax.plot(w * jitter, devs, ".", color="C0", alpha=0.5, label="fresh initialisations" if k == 0 else None)
    chk = np.asarray(curve["checked_deviations"])
    ax.plot(np.full(chk.size, curve["m_checked"]), chk, "x", color="C3", label="initialisations of the check")
    mm = np.unique(2 * np.round(np.geomspace(widths.min(), widths.max(), 60) / 2).astype(int))
    ax.plot(mm, bounds.lemma6_radius(mm, curve["n"], curve["delta"]), "k-", label="radius, symmetric init (E13)")
    ax.plot(
        mm, bounds.lemma6_radius(mm, curve["n"], curve["delta"], init="independent"), "k--", label="radius as printed"
    )
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("width m")
    ax.set_ylabel(r"$\max_i |f^0_i(U) - z_i|$")
    ax.set_title(f"Lemma 6 [{curve['status']}]: n = {curve['n']}, delta = {curve['delta']:g}", fontsize=10)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7)
    return _finish(ax, path)


_FILES = {
    "Theorem 2": "theorem2.png",
    "Corollary 4": "corollary4.png",
    "Proposition 5": "proposition5.png",
    "Lemma 3": "lemma3.png",
    "Lemma 6": "lemma6.png",
}


def save_verify_figures(report: VerifyReport, out: str | os.PathLike[str]) -> list[str]:
    """Draw every figure ``report.curves`` has data for into the folder ``out``; return the paths.

    Examples
    --------
    >>> from ntkdistill.verify import VerifyReport
    >>> save_verify_figures(VerifyReport({}, {}, []), ".")
    []
    """
    paths: list[str] = []
    for name, curve in report.curves.items():
        path = os.path.join(out, _FILES[name])
        if name == "Lemma 3":
            plot_lemma3(curve, path=path)
        elif name == "Lemma 6":
            plot_lemma6(curve, path=path)
        else:
            plot_training_check(curve, path=path)
        paths.append(path)
    return paths
