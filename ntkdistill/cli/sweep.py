"""``ntkdistill sweep``: the measured neuron requirement against the margin, soft against hard."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

from . import CLIError
from ._paths import folder_lock, prepare_out, write_atomic

DEFAULT_OUT = os.path.join("ntkdistill-out", "sweep")
DASK_TIMEOUT = 5.0


def _connect_dask(Client, address, timeout):
    """A dask.distributed client of the scheduler at ``address``, or a one-line CLIError within
    about ``timeout`` seconds when none answers."""
    if not timeout > 0:
        raise CLIError(f"--dask-timeout {timeout}: must be a positive number of seconds.")
    try:
        return Client(address, timeout=timeout)
    except (OSError, TimeoutError, ValueError) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise CLIError(
            f"--dask {address!r}: no dask scheduler reachable within {timeout:g} s ({reason}); check "
            "the address, or raise --dask-timeout."
        ) from None


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "sweep",
        help="measure the smallest width reaching a target, soft vs hard, as the margin falls",
        description=(
            "For every level of every family of the preset: the smallest width (on a geometric grid) reached by at "
            "least half the seeds, at every T of a geometric grid, for soft labels (KL to the max-margin teacher, "
            "p = mu(z / tau)) and hard labels (logistic), by two criteria: iteration-averaged error <= EPS and "
            "iteration-averaged risk <= beta (Corollary 4, Proposition 5). One step-size rule for both label types, "
            "paired seeds, censored levels (not reached up to --m-max) fitted as lower bounds (Tobit), exponents "
            "with 95% intervals beside the bounds' 2 and 4, and conclusions generated from the numbers. Writes "
            "OUT/summary.json (schema in docs/sweeps.md), OUT/table.txt and figures; every finished job is "
            "appended to OUT/results.jsonl at once, and re-running the same command resumes."
        ),
    )
    p.add_argument(
        "--preset",
        choices=("quick", "default", "full"),
        default="default",
        help="sizes: quick (under a minute on 2 cores), default (about 2.5 minutes with --workers 2 on an idle 2-core machine), full (hours on 2 cores, see docs/sweeps.md: "
        "meant for --dask ADDRESS or many --workers)",
    )
    p.add_argument("--quick", action="store_true", help="same as --preset quick")
    p.add_argument(
        "--family",
        action="append",
        default=None,
        help="run only this family of the preset (repeatable); with --levels, any family",
    )
    p.add_argument("--levels", default=None, help="comma-separated levels for the --family given (one family)")
    p.add_argument("--eps", type=float, default=0.1, help="target averaged training error (default 0.1)")
    p.add_argument(
        "--delta",
        type=float,
        default=0.1,
        help="confidence parameter of the bounds' widths set beside the measured ones (default 0.1)",
    )
    p.add_argument("--T-grid", default=None, help="comma-separated increasing iteration counts (default: the preset's)")
    p.add_argument("--m-max", type=int, default=None, help="largest width tried (default: the preset's)")
    p.add_argument("--seeds", type=int, default=None, help="networks per width, shared by soft and hard")
    p.add_argument(
        "--eta-rule",
        choices=("grid", "theory"),
        default="grid",
        help="grid: the step of the preset's grid with the lowest averaged training risk on a pilot run, "
        "the same rule for both label types (default); theory: beta/3 soft, 1 hard",
    )
    p.add_argument("--B", default="theory", help="projection radius: 'theory' (each theorem's), a number, or inf")
    p.add_argument("--no-temperature", action="store_true", help="skip the softness study (m* against tau)")
    p.add_argument("--seed", type=int, default=0, help="root random seed (default 0)")
    p.add_argument("--workers", type=int, default=1, help="local worker processes (default 1: serial)")
    p.add_argument(
        "--dask",
        metavar="ADDRESS",
        default=None,
        help="run on a dask.distributed scheduler at ADDRESS (e.g. tcp://host:8786)",
    )
    p.add_argument(
        "--dask-timeout",
        type=float,
        default=DASK_TIMEOUT,
        metavar="SECONDS",
        help=f"seconds to wait for the --dask scheduler before giving up (default {DASK_TIMEOUT:g})",
    )
    p.add_argument("--out", default=DEFAULT_OUT, help=f"output folder (default {DEFAULT_OUT})")
    p.add_argument("--json", action="store_true", help="print the JSON summary instead of the table")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--no-figures", action="store_true")
    p.set_defaults(func=run)


def _numbers(flag, text, cast):
    try:
        return [cast(v) for v in text.split(",")]
    except ValueError:
        raise CLIError(f"{flag} {text!r}: must be comma-separated numbers.") from None


def run(args: argparse.Namespace) -> int:
    prepare_out("--out", args.out)
    if args.seed < 0:
        raise CLIError(f"--seed {args.seed}: must be >= 0.")
    from ..datasets.families import FAMILIES
    from ..requirement import PRESETS, requirement_study, summarize_requirement

    preset = "quick" if args.quick else args.preset
    families = dict(PRESETS[preset]["families"])
    if args.family:
        for name in args.family:
            if name not in FAMILIES:
                raise CLIError(f"--family {name!r} is not a family; choose one of {sorted(FAMILIES)}.")
        if args.levels:
            if len(args.family) != 1:
                raise CLIError(f"--levels needs exactly one --family, got {len(args.family)}.")
            levels = _numbers("--levels", args.levels, lambda v: float(v) if "." in v else int(v))
            families = {args.family[0]: levels}
        else:
            missing = [f for f in args.family if f not in families]
            if missing:
                raise CLIError(
                    f"--family {missing[0]!r} is not in preset {preset!r} ({sorted(families)}); give its --levels."
                )
            families = {f: families[f] for f in args.family}
    elif args.levels:
        raise CLIError("--levels needs one --family.")
    T_grid = _numbers("--T-grid", args.T_grid, int) if args.T_grid else None
    if args.B == "theory":
        B = "theory"
    else:
        try:
            B = float(args.B)
        except ValueError:
            raise CLIError(f"--B {args.B!r}: must be 'theory', a positive number or inf.") from None
    if args.workers < 1:
        raise CLIError(f"--workers {args.workers}: must be >= 1.")
    results = os.path.join(args.out, "results.jsonl")
    executor = client = None
    t0 = time.perf_counter()
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
        try:
            study = requirement_study(
                preset,
                results_path=results,
                families=families,
                eps=args.eps,
                delta=args.delta,
                T_grid=T_grid,
                m_max=args.m_max,
                seeds=args.seeds,
                eta_rule=args.eta_rule,
                B=B,
                rng=args.seed,
                executor=executor,
                progress=False if args.no_progress else None,
                temperature=not args.no_temperature,
            )
        except (ValueError, TypeError) as exc:
            raise CLIError(str(exc)) from exc
    finally:
        if executor is not None and client is None:
            executor.shutdown()
        if client is not None:
            client.close()
    with folder_lock(args.out):  # the summary of the whole results file, whichever sweep sharing it ends last
        study = summarize_requirement(results, study.summary["config"])
        summary = study.to_dict()
        summary["config"]["command"] = (
            "ntkdistill sweep " + " ".join(sys.argv[2:]) if sys.argv[1:2] == ["sweep"] else None
        )
        summary["config"]["command_wall_s"] = time.perf_counter() - t0
        write_atomic(os.path.join(args.out, "summary.json"), json.dumps(summary, indent=2, allow_nan=False))
        table = study.format_table()
        write_atomic(os.path.join(args.out, "table.txt"), table + "\n")
        if not args.no_figures:
            try:
                from .._requirement_plots import plot_requirement_figure

                plot_requirement_figure(summary, path=os.path.join(args.out, "requirement.png"))
            except ImportError as exc:
                print(f"[sweep] figures skipped: {exc}", file=sys.stderr)
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        print(table)
        print(f"\nresults in {results}; summary.json, table.txt in {args.out}")
    return 0
