"""``ntkdistill verify``: check every theorem and lemma on one data set (the README's main job)."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

from .. import _guards
from . import CLIError
from ._paths import prepare_out, write_atomic

DEFAULT_OUT = os.path.join("ntkdistill-out", "verify")

#: One command per result that runs it at its prescribed m, T, eta, B on the default data (an
#: antipodal pair in d = 5: n = 2, gamma = 1/2), with what it costs on a 2-core machine (measured;
#: the prescriptions in braces are computed by :func:`_prescriptions`). The README and the docs
#: list the same commands (a test keeps them in step).
COMMANDS = (
    (
        "Theorem 2, Lemma 3, Lemma 6",
        "ntkdistill verify --only theorem2,lemma3,lemma6 --budget 540",
        "21 seeds at m = {t2_m}, T = {t2_T}: about 2.5 min of CPU, 2-3 min on an idle 2-core machine",
    ),
    ("Proposition 5", "ntkdistill verify --only proposition5", "21 seeds at m = {p5_m}, T = {p5_T}: seconds"),
    ("Lemma 3", "ntkdistill verify --only lemma3 --budget 540", "along Theorem 2's prescribed training: as Theorem 2"),
    ("Lemma 6", "ntkdistill verify --only lemma6", "initialisations at Theorem 2's width: seconds"),
    (
        "Corollary 4",
        "ntkdistill verify --only corollary4 --float32 --budget 900",
        (
            "eps = 0.45 < 1/n at m = {c4_m}, T = {c4_T}, the whole trajectory compiled (pgd's trajectory backend, "
            "numba): 7.3 min for 21 seeds in float32 on an idle 2-core machine (17 min estimated in float64); "
            "with a smaller budget it runs EMPIRICAL at the largest m and T that fit"
        ),
    ),
)


def _prescriptions():
    """m and T of each result on the default data at the default targets (closed form)."""
    import math

    import numpy as np

    from .. import bounds
    from ..losses import sigmoid

    n, delta = 2, 0.1
    r0 = bounds.kl_risk_at_init(sigmoid(np.array([0.5, -0.5])))  # teacher logits +-1/2
    beta = math.floor(0.9 * r0 * 1e4) / 1e4
    t2 = bounds.theorem2(beta, n, delta)
    p5 = bounds.proposition5(0.5, 0.5, n, delta)
    c4 = bounds.corollary4(0.5, 0.9 / n, n, delta)
    return {
        "t2_m": int(t2.m),
        "t2_T": int(t2.T),
        "p5_m": int(p5.m),
        "p5_T": int(p5.T),
        "c4_m": int(c4.m),
        "c4_T": int(c4.T),
    }


def commands() -> list[tuple[str, str, str]]:
    """The list of (results, command, cost) with the prescriptions filled in."""
    values = _prescriptions()
    return [(what, cmd, cost.format(**values)) for what, cmd, cost in COMMANDS]


def _epilog():
    from ..verify import verdict_legend

    cmds = "\n".join(f"  {what}:\n    {cmd}\n      ({cost})" for what, cmd, cost in commands())
    return (
        "each result at its prescription (default data):\n"
        + cmds
        + "\n\nverdicts:\n"
        + "\n".join("  " + line for line in verdict_legend().splitlines())
    )


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "verify",
        help="run each theorem's prescribed training and compare with its promise",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description=(
            "Compute the margin and the teacher's soft labels, run Theorem 2, Corollary 4 and Proposition 5 at\n"
            "the widths, iterations and steps they prescribe (what the cost estimate says exceeds the budget\n"
            "runs at the largest width and length that fit, reported as EMPIRICAL), check Lemma 3 along the\n"
            "soft-label trajectories and Lemma 6 over initialisations, and write a table, a JSON report and\n"
            "figures. With no arguments: an antipodal pair in d = 5 (n = 2, gamma = 1/2 exactly), 21 seeds\n"
            "(the fewest with power 0.8), about a minute."
        ),
        epilog=_epilog(),
    )
    src = p.add_mutually_exclusive_group()
    src.add_argument(
        "--dataset",
        default="antipodal",
        help="antipodal (default: x and -x with opposite labels, gamma = 1/2 exactly) or a built-in "
        "synthetic family (two_points, orthonormal, circle), whose margin is known exactly",
    )
    src.add_argument(
        "--data", metavar="FILE.npz", help="your data: a .npz with X (n, d), ||x_i|| <= 1, and y in {-1,+1}"
    )
    p.add_argument("--d", type=int, default=5, help="dimension of the antipodal pair (default 5)")
    p.add_argument("--level", type=float, default=None, help="difficulty level of a family (default: its first level)")
    p.add_argument("--n", type=int, default=None, help="points in the built-in family, where it allows a choice")
    p.add_argument(
        "--only",
        default=None,
        metavar="CHECKS",
        help="comma-separated checks to run: theorem2, corollary4, proposition5, lemma3, lemma6 (default all)",
    )
    p.add_argument(
        "--beta",
        type=float,
        default=None,
        help="Theorem 2 target (default: 90%% of the KL risk at initialisation, the largest non-vacuous level)",
    )
    p.add_argument(
        "--eps",
        type=float,
        default=None,
        help="Corollary 4 target classification error (default 0.9/n, below 1/n: every point right)",
    )
    p.add_argument("--beta-hard", type=float, default=0.5, help="Proposition 5 target logistic risk (default 0.5)")
    p.add_argument("--delta", type=float, default=0.1, help="failure probability delta in (0, 1/3) (default 0.1)")
    p.add_argument("--C1", default="printed", help="Theorem 2 constant: printed, alternative, or a number (E8)")
    p.add_argument(
        "--seeds",
        type=int,
        default=None,
        help="networks per check (default: the fewest with power 0.8 to detect half the promised "
        "frequency at alpha = 0.01; 21 at delta = 0.1). Fewer seeds give INCONCLUSIVE, never PASS",
    )
    p.add_argument("--seed", type=int, default=0, help="root random seed (default 0)")
    p.add_argument(
        "--budget",
        type=float,
        default=30.0,
        help="seconds allowed per training check, by the cost estimate made before it runs (default 30)",
    )
    p.add_argument(
        "--no-empirical",
        action="store_true",
        help="refuse (REFUSED) a prescription that exceeds the budget instead of running what fits",
    )
    p.add_argument("--n-samples", type=int, default=20000, help="Monte Carlo samples for margin and teacher")
    p.add_argument("--float32", action="store_true", help="train in float32")
    p.add_argument("--out", default=DEFAULT_OUT, help=f"output folder (default {DEFAULT_OUT})")
    p.add_argument("--json", action="store_true", help="print the JSON report instead of the table")
    p.add_argument("--no-figures", action="store_true", help="do not draw figures")
    p.add_argument("--quiet", action="store_true", help="no progress lines")
    p.set_defaults(func=run)


def _c1(text):
    if text in ("printed", "alternative"):
        return text
    try:
        return float(text)
    except ValueError:
        raise CLIError(f"--C1 {text!r}: must be 'printed', 'alternative' or a positive number.") from None


def _checks(text):
    from ..verify import CHECKS

    if text is None:
        return None
    keys = [k.strip().lower().replace(" ", "") for k in text.split(",") if k.strip()]
    bad = [k for k in keys if k not in CHECKS]
    if bad or not keys:
        raise CLIError(f"--only {text!r}: each entry must be one of {', '.join(CHECKS)}.")
    return keys


def _output_dir(path):
    """The output folder, checked and created before any work (a file there is an error naming --out)."""
    prepare_out("--out", path)
    return path


def _load(args):
    """(X, y, known gamma, known teacher logits, description) from --data, --dataset antipodal or a family."""
    from ._data import builtin, load_npz

    if args.data:
        X, y = load_npz(args.data)
        return X, y, None, None, os.path.abspath(args.data)
    if args.dataset == "antipodal":
        from ..datasets.synthetic import antipodal

        if args.d < 1:
            raise CLIError(f"--d {args.d}: the dimension must be a positive integer.")
        if args.level is not None:
            raise CLIError(
                f"--level {args.level}: the antipodal pair has no levels (it takes --d); give --dataset "
                "with a family to choose a level."
            )
        ds = antipodal(args.d)
        return ds.X, ds.y, ds.gamma, ds.z, f"antipodal pair x, -x in d = {args.d} (labels +1, -1)"
    level = args.level
    if level is None:
        from ..datasets.families import FAMILIES

        level = FAMILIES[args.dataset].default_levels[0] if args.dataset in FAMILIES else None
    if level is not None and float(level).is_integer():
        level = int(level)
    X, y, gamma, name = builtin(args.dataset, level, args.n, args.seed)
    return X, y, gamma, None, name


def _data_lines(name, d):
    """The first lines of the output: what the data are (n, d, gamma known or certified)."""
    cert = f"certified interval [{d['margin_lower']:.4g}, {d['margin_upper']:.4g}]"
    if d["gamma_known"] is not None:
        gamma = f"gamma = {d['gamma_known']:.5g} (known exactly; {cert})"
    else:
        gamma = f"gamma in {cert} (estimate {d['margin_estimate']:.4g}); the bounds use the lower end"
    return [
        f"data: {name}",
        f"n = {d['n']}, d = {d['d']}, {gamma}",
        (
            f"teacher: max |z_i| = {d['teacher_logits_max_abs']:.4g}, "
            f"min y_i z_i = {d['teacher_logits_min_yz']:.4g}, R_KL(W(0)) = {d['kl_risk_at_init']:.4g}"
        ),
    ]


def run(args: argparse.Namespace) -> int:
    from .. import verify as _verify

    start = time.perf_counter()
    out = _output_dir(args.out)
    if args.seed < 0:
        raise CLIError(f"--seed {args.seed}: must be >= 0.")
    checks = _checks(args.only)
    X, y, gamma_known, z_known, name = _load(args)
    n, d = X.shape
    _guards.announce(
        "verify",
        f"the margin and the teacher logits at --n-samples {args.n_samples}",
        _guards.margin_seconds(n, d, args.n_samples) + _guards.teacher_seconds(n, d, args.n_samples),
        "--n-samples",
    )
    log = None if (args.quiet or args.json) else (lambda s: print(f"[verify] {s}", file=sys.stderr, flush=True))

    def on_data(d):
        if not args.json:
            print("\n".join(_data_lines(name, d)) + "\n", flush=True)

    report = _verify.run_verify(
        X,
        y,
        gamma_known=gamma_known,
        beta=args.beta,
        eps=args.eps,
        beta_hard=args.beta_hard,
        delta=args.delta,
        C1=_c1(args.C1),
        seeds=args.seeds,
        rng=args.seed,
        budget=args.budget,
        n_samples=args.n_samples,
        dtype="float32" if args.float32 else None,
        dataset=name,
        log=log,
        checks=checks,
        empirical=not args.no_empirical,
        on_data=on_data,
        z_known=z_known,
    )
    figures = []
    if not args.no_figures:
        try:
            from .._verify_plots import save_verify_figures
            from ..plotting import plot_bound_curves

            bounds_png = os.path.join(out, "bounds.png")
            plot_bound_curves(bounds_png, n=X.shape[0], delta=args.delta)
            figures.append(bounds_png)
            figures += save_verify_figures(report, out)
        except ImportError as exc:
            print(f"[verify] figures skipped: {exc}", file=sys.stderr)
    data = report.to_dict()
    data["config"]["command"] = "ntkdistill verify " + " ".join(sys.argv[2:]) if sys.argv[1:2] == ["verify"] else None
    data["config"]["seconds"] = time.perf_counter() - start
    data["figures"] = [os.path.basename(f) for f in figures]
    write_atomic(os.path.join(out, "report.json"), json.dumps(data, indent=2))
    table = report.format_table()
    write_atomic(os.path.join(out, "table.txt"), table + "\n")
    if args.json:
        print(json.dumps(data, indent=2))
    else:
        print(table)
        print(
            f"\nwrote {os.path.join(out, 'report.json')}, table.txt"
            + "".join(f", {os.path.basename(f)}" for f in figures)
            + f" ({time.perf_counter() - start:.0f} s)"
        )
    failed = [c.name for c in report.checks if c.status == "FAIL"]
    return 1 if failed else 0
