"""``ntkdistill verify``: check every theorem and lemma on one data set (the README's main job)."""

from __future__ import annotations

import json
import os
import sys
import time

from .. import _guards
from . import CLIError
from ._paths import prepare_out, write_atomic

DEFAULT_OUT = os.path.join("ntkdistill-out", "verify")


def register(sub):
    p = sub.add_parser(
        "verify",
        help="run each theorem's prescribed training and compare with its promise",
        description=(
            "Compute the margin and the teacher's soft labels, run Theorem 2, Corollary 4 and Proposition 5 at "
            "the widths, iterations and steps they prescribe (refusing what exceeds the budget), check Lemma 3 "
            "along every trajectory and Lemma 6 over initialisations, and write a table, a JSON report and "
            "figures. With no arguments it runs a built-in synthetic default (a single unit vector, gamma = 1/2) in "
            "about a minute."
        ),
    )
    src = p.add_mutually_exclusive_group()
    src.add_argument("--dataset", default="orthonormal",
                     help="built-in synthetic family (default: orthonormal, whose margin is known exactly)")
    src.add_argument("--data", metavar="FILE.npz", help="your data: a .npz with X (n, d), ||x_i|| <= 1, and y in {-1,+1}")
    p.add_argument("--level", type=float, default=None,
                   help="difficulty level of the family (default: its first level; for orthonormal that is n = 1, a "
                        "single unit vector with gamma = 1/2, the cheapest setting where Theorem 2 is non-vacuous)")
    p.add_argument("--n", type=int, default=None, help="points in the built-in data set, where the family allows a choice")
    p.add_argument("--beta", type=float, default=None,
                   help="Theorem 2 target (default: 90%% of the KL risk at initialisation, the largest non-vacuous level)")
    p.add_argument("--eps", type=float, default=0.5, help="Corollary 4 target classification error (default 0.5)")
    p.add_argument("--beta-hard", type=float, default=0.5, help="Proposition 5 target logistic risk (default 0.5)")
    p.add_argument("--delta", type=float, default=0.1, help="failure probability delta in (0, 1/3) (default 0.1)")
    p.add_argument("--C1", default="printed", help="Theorem 2 constant: printed, alternative, or a number (E8)")
    p.add_argument("--seeds", type=int, default=5, help="networks per check (default 5)")
    p.add_argument("--seed", type=int, default=0, help="root random seed (default 0)")
    p.add_argument("--budget", type=float, default=60.0,
                   help="seconds allowed per training check; costlier checks are refused (default 60)")
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


def run(args) -> int:
    prepare_out("--out", args.out)
    if args.seed < 0:
        raise CLIError(f"--seed {args.seed}: must be >= 0.")
    from .. import verify as _verify
    from ._data import builtin, load_npz

    start = time.perf_counter()
    if args.data:
        X, y = load_npz(args.data)
        gamma_known, name = None, os.path.abspath(args.data)
    else:
        level = args.level
        if level is None:
            from ..datasets.families import FAMILIES

            level = FAMILIES[args.dataset].default_levels[0] if args.dataset in FAMILIES else None
        if level is not None and float(level).is_integer():
            level = int(level)
        X, y, gamma_known, name = builtin(args.dataset, level, args.n, args.seed)
    _guards.announce("verify", f"the margin and the teacher logits at --n-samples {args.n_samples}",
                     _guards.margin_seconds(*X.shape, args.n_samples) + _guards.teacher_seconds(*X.shape, args.n_samples),
                     "--n-samples")
    log = None if (args.quiet or args.json) else (lambda s: print(f"[verify] {s}", file=sys.stderr, flush=True))
    report = _verify.run_verify(
        X, y, gamma_known=gamma_known, beta=args.beta, eps=args.eps, beta_hard=args.beta_hard, delta=args.delta,
        C1=_c1(args.C1), seeds=args.seeds, rng=args.seed, budget=args.budget, n_samples=args.n_samples,
        dtype="float32" if args.float32 else None, dataset=name, log=log,
    )
    data = report.to_dict()
    data["config"]["command"] = "ntkdistill verify " + " ".join(sys.argv[2:]) if sys.argv[1:2] == ["verify"] else None
    data["config"]["seconds"] = time.perf_counter() - start
    write_atomic(os.path.join(args.out, "report.json"), json.dumps(data, indent=2))
    table = report.format_table()
    write_atomic(os.path.join(args.out, "table.txt"), table + "\n")
    figures = []
    if not args.no_figures:
        try:
            from ..plotting import plot_bound_curves

            figures.append(plot_bound_curves(os.path.join(args.out, "bounds.png"), n=X.shape[0], delta=args.delta))
        except ImportError as exc:
            print(f"[verify] figures skipped: {exc}", file=sys.stderr)
    if args.json:
        print(json.dumps(data, indent=2))
    else:
        d = report.data
        print(f"data: {name}; n = {d['n']}, d = {d['d']}; margin gamma: estimate {d['margin_estimate']:.4g}, "
              f"certified [{d['margin_lower']:.4g}, {d['margin_upper']:.4g}]"
              + (f", known {d['gamma_known']:.5g}" if d["gamma_known"] is not None else "")
              + f"; used {d['gamma_used']:.4g}")
        print(f"teacher: max |z_i| = {d['teacher_logits_max_abs']:.4g}, min y_i z_i = {d['teacher_logits_min_yz']:.4g}, "
              f"R_KL(W(0)) = {d['kl_risk_at_init']:.4g}\n")
        print(table)
        print(f"\nwrote {os.path.join(args.out, 'report.json')}, table.txt" + (", bounds.png" if figures else "")
              + f" ({time.perf_counter() - start:.0f} s)")
    failed = [c.name for c in report.checks if c.status == "FAIL"]
    return 1 if failed else 0
