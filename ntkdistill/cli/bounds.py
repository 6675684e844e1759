r"""``ntkdistill bounds``: the widths, iterations, steps and radii that Corollary 4 and Proposition 5 ask for.

Prints the soft-label (Corollary 4) and hard-label (Proposition 5 at :math:`\beta = \epsilon\ln 2`,
:math:`\eta = 1`) requirements side by side for one classification-error target, and the ratio
of the widths; ``--json`` prints the same as one JSON object (integers exact, ``null`` where a
value exceeds the float64 range, with its base-10 logarithm beside it).
"""

from __future__ import annotations

import argparse
import json
import math

from .. import bounds
from . import CLIError

__all__ = ["register", "run", "report"]


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``bounds`` sub-command to ``subparsers``."""
    p = subparsers.add_parser(
        "bounds",
        help="neurons, iterations, step and radius required by Corollary 4 (soft) and Proposition 5 (hard)",
        description=(
            "Closed-form requirements for an averaged classification error <= EPS with probability "
            ">= 1 - 3 DELTA: soft labels (Corollary 4, derived step and iteration count, E11) and "
            "hard labels (Proposition 5 at beta = EPS ln 2, eta = 1), side by side."
        ),
    )
    p.add_argument("--gamma", type=float, required=True, help="NTK margin, in (0, 1/2]")
    p.add_argument("--eps", type=float, required=True, help="target classification error, in (0, 1)")
    p.add_argument("--n", type=int, required=True, help="number of training points, >= 1")
    p.add_argument("--delta", type=float, required=True, help="confidence parameter, in (0, 1/3)")
    p.add_argument("--c", type=float, default=1.0, help="lower bound on the input norms, in (0, 1] (default 1)")
    p.add_argument(
        "--C1",
        default="printed",
        help=(
            "constant of Theorem 2 (E8): 'printed' (96/(1+e^2), default), 'alternative' (96(1+e^2)) "
            "or a positive number"
        ),
    )
    p.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    p.set_defaults(func=run)


def _C1(text: str):
    if text in bounds.C1_PRESETS:
        return text
    try:
        return float(text)
    except ValueError:
        raise CLIError(f"--C1 == {text!r}, must be 'printed', 'alternative' or a positive number.") from None


def _int(x):
    """An exact Python int for a finite float64 integer, else None."""
    x = float(x)
    return int(x) if math.isfinite(x) else None


def _real(x):
    x = float(x)
    return x if math.isfinite(x) else None


def report(result: bounds.Comparison) -> dict:
    r"""The JSON-ready content of a scalar :class:`ntkdistill.bounds.Comparison`.

    Soft labels: Corollary 4 at :math:`(\gamma, \epsilon)` with the derived step and count (E11),
    the printed ones under ``"printed"``; hard labels: Proposition 5 at :math:`\beta = \epsilon\ln 2`,
    :math:`\eta = 1`; and

    .. math::

        \text{ratio} = m_{\text{hard}} / m_{\text{soft}}.

    Widths and iteration counts are exact Python ints; a value beyond the float64 range is
    ``None`` (``null``) and its base-10 logarithm is given beside it.

    Examples
    --------
    >>> from ntkdistill.bounds import neurons_required
    >>> d = report(neurons_required(0.1, 0.1, n=100, delta=0.01))
    >>> d["soft"]["m"], d["hard"]["m"], d["fewer"]
    (38389150, 37902144, 'hard')
    """
    s, h = result.soft, result.hard
    common = {
        "gamma": float(result.gamma),
        "eps": float(result.eps),
        "n": int(result.n),
        "delta": float(result.delta),
        "c": float(result.c),
        "confidence": float(s.confidence),
    }
    soft = {
        "result": s.result,
        "C1": float(s.C1),
        "m": _int(s.m),
        "m_bound": _real(s.m_bound),
        "log10_m_bound": float(s.log10_m_bound),
        "T": _int(s.T),
        "T_bound": _real(s.T_bound),
        "log10_T_bound": float(s.log10_T_bound),
        "eta": float(s.eta),
        "B": float(s.B),
        "target": float(s.target),
        "guarantee": s.guarantee,
        "beta": float(s.gamma) ** 2 * float(s.eps) / 32.0,
        "printed": {
            "eta": float(s.eta_printed),
            "T": _int(s.T_printed),
            "T_bound": _real(s.T_printed_bound),
            "log10_T_bound": float(s.log10_T_bound) - math.log10(1024.0),
        },
    }
    hard = {
        "result": h.result,
        "beta": float(h.beta),
        "L": float(h.L),
        "m": _int(h.m),
        "m_bound": _real(h.m_bound),
        "log10_m_bound": float(h.log10_m_bound),
        "T": _int(h.T),
        "T_bound": _real(h.T_bound),
        "log10_T_bound": float(h.log10_T_bound),
        "eta": float(h.eta),
        "B": float(h.B),
        "target": float(h.target),
        "error_target": float(h.error_target),
        "guarantee": h.guarantee,
    }
    return {"inputs": common, "soft": soft, "hard": hard, "ratio": _real(result.ratio), "fewer": str(result.fewer)}


def _show_int(x, log10):
    return f"{x:,}" if x is not None else f"~10^{log10:.2f}"


def _show_real(x, log10=None):
    if x is None:
        return f"~10^{log10:.2f}"
    return f"{x:.6g}"


def _table(d: dict) -> str:
    i, s, h = d["inputs"], d["soft"], d["hard"]
    rows = [
        ("", "soft labels (Corollary 4)", "hard labels (Proposition 5)"),
        ("width m", _show_int(s["m"], s["log10_m_bound"]), _show_int(h["m"], h["log10_m_bound"])),
        ("  real bound", _show_real(s["m_bound"], s["log10_m_bound"]), _show_real(h["m_bound"], h["log10_m_bound"])),
        ("iterations T", _show_int(s["T"], s["log10_T_bound"]), _show_int(h["T"], h["log10_T_bound"])),
        ("step eta", _show_real(s["eta"]), _show_real(h["eta"])),
        ("radius B", _show_real(s["B"]), _show_real(h["B"])),
        ("surrogate target", f"R_KL <= beta = {s['beta']:.6g}", f"R_h <= beta = {h['beta']:.6g}"),
        ("guarantee", f"avg error <= {s['target']:.6g}", f"avg error <= {h['error_target']:.6g}"),
        ("confidence", f"{i['confidence']:.6g}", f"{i['confidence']:.6g}"),
    ]
    w0 = max(len(r[0]) for r in rows)
    w1 = max(len(r[1]) for r in rows)
    w2 = max(len(r[2]) for r in rows)
    lines = [
        f"Neurons required for an averaged classification error <= {i['eps']:g} "
        f"with probability >= {i['confidence']:g}",
        f"(gamma = {i['gamma']:g}, n = {i['n']}, delta = {i['delta']:g}, c = {i['c']:g}, C1 = {s['C1']:.6g})",
        "",
    ]
    lines += [f"{a:<{w0}}   {b:>{w1}}   {c:>{w2}}" for a, b, c in rows]
    lines += [
        "",
        f"printed Corollary 4 (E11): eta <= {s['printed']['eta']:.6g}, "
        f"T >= {_show_int(s['printed']['T'], s['printed']['log10_T_bound'])} "
        f"(derived: eta = {s['eta']:.6g}, T = {_show_int(s['T'], s['log10_T_bound'])})",
    ]
    ratio = d["ratio"]
    ratio_text = f"{ratio:.6g}" if ratio is not None else "> 1.8e308"
    verdict = {
        "soft": "soft labels need fewer neurons",
        "hard": "hard labels need fewer neurons",
        "equal": "both need the same number of neurons",
    }[d["fewer"]]
    lines.append(f"ratio hard m / soft m = {ratio_text}: {verdict}")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    r"""Compute :func:`ntkdistill.bounds.neurons_required` for the parsed arguments and print it.

    .. math::

        m_{\text{soft}} \ge \frac{32 C_1}{\gamma^2\epsilon}\Bigl(\sqrt{\tfrac2\pi}\frac1c
        + 3\sqrt{\ln\tfrac{2n}{\delta}}\Bigr)^2,\qquad
        m_{\text{hard}} \ge \frac{16}{\gamma^4}\Bigl(\frac{2\sqrt2}{c\sqrt\pi}L
        + 3\sqrt{\ln\tfrac{2n}{\delta}}\Bigr)^2

    (Corollary 4 and Proposition 5; see :mod:`ntkdistill.bounds`).

    Examples
    --------
    >>> from ntkdistill.cli import main
    >>> argv = ["bounds", "--gamma", "0.1", "--eps", "0.1", "--n", "100", "--delta", "0.01", "--json"]
    >>> main(argv)  # doctest: +ELLIPSIS
    {
      "inputs": {
    ...
    0
    """
    result = bounds.neurons_required(args.gamma, args.eps, args.n, args.delta, c=args.c, C1=_C1(args.C1))
    d = report(result)
    if args.json:
        print(json.dumps(d, indent=2, allow_nan=False))
    else:
        print(_table(d))
    return 0
