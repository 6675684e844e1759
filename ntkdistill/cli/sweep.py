"""``ntkdistill sweep``: the measured neuron requirement across a synthetic family."""

from __future__ import annotations

import json
import os
import sys

from .. import _guards
from . import CLIError
from ._paths import prepare_out, write_atomic

DEFAULT_OUT = os.path.join("ntkdistill-out", "sweep")
DASK_TIMEOUT = 5.0


def _announce_monte_carlo(family, levels, n, n_samples):
    """Refuse (or state) the time of the margin and teacher logits of every level, before any work."""
    if not isinstance(n_samples, int) or n_samples < 2 or not levels:
        return  # the library names the argument
    from ..datasets.families import make_family

    X = make_family(family, levels[0], n=n).X
    per_level = _guards.margin_seconds(*X.shape, n_samples) + _guards.teacher_seconds(*X.shape, n_samples)
    _guards.announce("sweep", f"the margin and the teacher logits of {len(levels)} level(s) at --n-samples {n_samples}",
                     per_level * len(levels), "--n-samples")


def _connect_dask(Client, address, timeout):
    """A dask.distributed client of the scheduler at ``address``, or a one-line CLIError within
    about ``timeout`` seconds when none answers."""
    if not timeout > 0:
        raise CLIError(f"--dask-timeout {timeout}: must be a positive number of seconds.")
    try:
        return Client(address, timeout=timeout)
    except (OSError, TimeoutError, ValueError) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise CLIError(f"--dask {address!r}: no dask scheduler reachable within {timeout:g} s ({reason}); check "
                       "the address, or raise --dask-timeout.") from None


def register(sub):
    p = sub.add_parser(
        "sweep",
        help="measure the smallest width reaching a target, soft vs hard, as the margin falls",
        description=(
            "For every level of a synthetic family: the smallest even width whose median training error over "
            "seeds reaches --eps within --T iterations, with soft labels (KL to the max-margin teacher) and with "
            "hard labels (logistic), then the fitted log-log exponent against 1/gamma with a confidence interval, "
            "beside the theory's 2 (soft) and 4 (hard). Every finished job is appended to OUT/results.jsonl at "
            "once; re-running the same command resumes."
        ),
    )
    p.add_argument("--family", default="circle", help="synthetic family (default circle: 8 alternating points on an arc)")
    p.add_argument("--levels", default=None, help="comma-separated difficulty levels (default: the family's own)")
    p.add_argument("--n", type=int, default=None, help="points per data set (default: the family's own)")
    p.add_argument("--eps", type=float, default=0.1, help="target training error (default 0.1)")
    p.add_argument("--delta", type=float, default=0.1,
                   help="confidence parameter of the predicted widths set beside the measured ones (default 0.1)")
    p.add_argument("--T", type=int, default=1000, help="iteration budget (default 1000)")
    p.add_argument("--eta", type=float, default=2.0, help="step size, the same for soft and hard (default 2)")
    p.add_argument("--B", default="theory", help="projection radius: 'theory' (each theorem's), a number, or inf")
    p.add_argument("--seeds", type=int, default=5, help="networks per width (default 5)")
    p.add_argument("--m-max", type=int, default=512, help="largest width tried (default 512)")
    p.add_argument("--method", choices=("bisect", "scan"), default="bisect")
    p.add_argument("--criterion", choices=("final", "average"), default="final")
    p.add_argument("--seed", type=int, default=0, help="root random seed (default 0)")
    p.add_argument("--n-samples", type=int, default=20000, help="Monte Carlo samples for margin and teacher")
    p.add_argument("--workers", type=int, default=1, help="local worker processes (default 1: serial)")
    p.add_argument("--dask", metavar="ADDRESS", default=None,
                   help="run on a dask.distributed scheduler at ADDRESS (e.g. tcp://host:8786)")
    p.add_argument("--dask-timeout", type=float, default=DASK_TIMEOUT, metavar="SECONDS",
                   help=f"seconds to wait for the --dask scheduler before giving up (default {DASK_TIMEOUT:g})")
    p.add_argument("--out", default=DEFAULT_OUT, help=f"output folder (default {DEFAULT_OUT})")
    p.add_argument("--json", action="store_true", help="print the JSON summary instead of the table")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--no-figures", action="store_true")
    p.set_defaults(func=run)


def run(args) -> int:
    prepare_out("--out", args.out)
    if args.seed < 0:
        raise CLIError(f"--seed {args.seed}: must be >= 0.")
    from ..datasets.families import FAMILIES
    from ..requirement import requirement_study

    if args.family not in FAMILIES:
        raise CLIError(f"--family {args.family!r} is not a built-in family; choose one of {sorted(FAMILIES)}.")
    fam = FAMILIES[args.family]
    if args.levels:
        try:
            levels = [float(v) if "." in v else int(v) for v in args.levels.split(",")]
        except ValueError:
            raise CLIError(f"--levels {args.levels!r}: must be comma-separated numbers.") from None
    else:
        levels = list(fam.default_levels)
    n = args.n if args.n is not None else fam.default_n
    if args.B == "theory":
        B = "theory"
    else:
        try:
            B = float(args.B)
        except ValueError:
            raise CLIError(f"--B {args.B!r}: must be 'theory', a positive number or inf.") from None
    if args.workers < 1:
        raise CLIError(f"--workers {args.workers}: must be >= 1.")
    _announce_monte_carlo(args.family, levels, n, args.n_samples)
    results = os.path.join(args.out, "results.jsonl")
    executor = client = None
    try:
        if args.dask:
            try:
                from dask.distributed import Client
            except ImportError:
                raise CLIError("--dask needs dask.distributed: pip install 'ntkdistill[parallel]'.") from None
            client = _connect_dask(Client, args.dask, args.dask_timeout)
            executor = client.get_executor()
        elif args.workers > 1:
            from concurrent.futures import ProcessPoolExecutor

            executor = ProcessPoolExecutor(max_workers=args.workers)
        study = requirement_study(
            args.family, levels, n=n, eps=args.eps, delta=args.delta, T=args.T, eta=args.eta, seeds=args.seeds, m_max=args.m_max,
            B=B, n_samples=args.n_samples, rng=args.seed, results_path=results, executor=executor,
            progress=False if args.no_progress else None, method=args.method, criterion=args.criterion,
        )
    finally:
        if executor is not None and client is None:
            executor.shutdown()
        if client is not None:
            client.close()
    summary = study.to_dict()
    write_atomic(os.path.join(args.out, "summary.json"), json.dumps(summary, indent=2, default=float))
    table = study.format_table()
    write_atomic(os.path.join(args.out, "table.txt"), table + "\n")
    if not args.no_figures:
        try:
            from ..plotting import plot_requirement

            plot_requirement([r["gamma"] for r in study.levels], [r["soft_width"] for r in study.levels],
                             [r["hard_width"] for r in study.levels], study.soft_fit, study.hard_fit,
                             path=os.path.join(args.out, "requirement.png"))
        except ImportError as exc:
            print(f"[sweep] figure skipped: {exc}", file=sys.stderr)
    if args.json:
        print(json.dumps(summary, indent=2, default=float))
    else:
        print(table)
        print(f"\nresults in {results}; summary.json, table.txt in {args.out}")
    return 0
