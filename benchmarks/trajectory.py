"""The compiled trajectory (``ntkdistill._fast.trajectory``) against its floor and against ``pgd``.

Run from the repository root::

    python -m benchmarks.trajectory                   # the table (about 2 minutes)
    python -m benchmarks.trajectory --corollary4      # + Corollary 4 at gamma = 1/2, n = 2, eps = 0.49
    python -m benchmarks.trajectory --no-table --shapes   # ns per neuron-step by n r (about 2 minutes)

Problem: an antipodal pair (n = 2, d = 5, :math:`x_2 = -x_1`, margin :math:`\\gamma = 1/2`), soft
labels :math:`\\mu(\\pm 1/2)`, width m = 131072, 5 seeds, Corollary 4's step and radius. Every
figure is in nanoseconds per neuron-step per core: the time of ``steps`` steps (the difference
between two run lengths, so that set-up and compilation drop out) times the threads, over
networks x width x steps. Both wall-clock and CPU time (``time.process_time``, all threads of
the process) are printed: on a shared machine the wall clock counts the time other programs
held the cores, CPU time does not (it counts a waiting thread's spinning instead).

Floor: the same kernel's forward pass (:func:`forward`, the pre-activations and the logits of
every neuron, no gradient, update or projection) over the same state, one thread: the least a
step has to do, reading the state once with its arithmetic. ``direct floor``: one pass over the
weights as ``pgd`` stores them, ``W`` and ``W(0)`` (m x d), with each row's distance and its
share of the logits, one thread: the floor of a kernel that updates ``W`` itself.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time

import numpy as np

if __package__ in (None, ""):  # run as a script: python benchmarks/trajectory.py
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from ntkdistill import bounds, pgd
from ntkdistill.losses import sigmoid
from ntkdistill.pgd import network_seeds
from ntkdistill.student import init_symmetric

N, D, M, SEEDS = 2, 5, 131072, 5


def problem(d=D):
    """The antipodal pair, its soft labels (teacher logits :math:`\\pm\\gamma`, gamma = 1/2) and labels."""
    X = np.zeros((2, d))
    X[0, 0], X[1, 0] = 1.0, -1.0
    y = np.array([1.0, -1.0])
    return X, sigmoid(0.5 * y), y


def inits(m, seeds, dtype, rng=0):
    """The initialisations ``pgd(..., seeds=seeds, rng=rng)`` draws: stacked (K, m, d) and (K, m)."""
    pairs = [init_symmetric(m, D, rng=np.random.default_rng(s), dtype=dtype) for s in network_seeds(seeds, rng)]
    return np.stack([w for w, _ in pairs]), np.stack([a for _, a in pairs])


def machine():
    import numba

    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as fh:
            cpu = next(line.split(":", 1)[1].strip() for line in fh if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    load = os.getloadavg() if hasattr(os, "getloadavg") else (float("nan"),) * 3
    return (f"{cpu}, {os.cpu_count()} logical CPUs; python {platform.python_version()}, numpy {np.__version__}, "
            f"numba {numba.__version__} ({numba.config.NUMBA_NUM_THREADS} threads); "
            f"load average {load[0]:.1f} {load[1]:.1f} {load[2]:.1f}")  # fmt: skip


def _timed(fn):
    w, c = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - w, time.process_time() - c


def per_step(run, short, long, repeats):
    """Median over ``repeats`` of (wall, cpu) seconds per step: ``run(long) - run(short)`` over the difference."""
    out = []
    for _ in range(repeats):
        w1, c1 = _timed(lambda: run(short))
        w2, c2 = _timed(lambda: run(long))
        out.append(((w2 - w1) / (long - short), (c2 - c1) / (long - short)))
    return np.median(np.array(out), axis=0)


def kernel_runner(dtype, threads, m=M, seeds=SEEDS):
    from ntkdistill._fast.trajectory import run_trajectory

    X, p, y = problem()
    W0, a = inits(m, seeds, dtype)
    req = bounds.corollary4(0.5, 0.49, n=2, delta=0.1)
    return lambda T: run_trajectory(X.astype(dtype), p, W0, a, eta=float(req.eta), T=T, B=1.0, labels=y,
                                    record_every=None, dtype=dtype, threads=threads)  # fmt: skip


def floor_runner(dtype, m=M, seeds=SEEDS):
    """``reps`` forward passes of the kernel over the blocked state of the benchmark problem (one thread)."""
    import numba

    from ntkdistill._fast import trajectory as tr

    X, _, _ = problem()
    W0, a = inits(m, seeds, dtype)
    fwd = tr._compile(2, 1, True).py_func.__globals__["forward"]
    h = m // 2
    CH = min(tr.CHUNK, -(-h // 16) * 16)
    NC = -(-h // CH)
    Hf = np.matmul(W0[:, :h], X.T.astype(dtype))  # (K, h, 2)
    flat = np.zeros((seeds, 2, NC * CH), dtype=dtype)
    flat[:, :, :h] = Hf.transpose(0, 2, 1)
    H1 = np.ascontiguousarray(flat.reshape(seeds, 2, NC, CH).transpose(0, 2, 1, 3))
    S1 = np.zeros((seeds, NC * CH), dtype=dtype)
    S1[:, :h] = a[:, :h] / np.sqrt(m)
    S1 = S1.reshape(seeds, NC, CH)
    C1 = np.full((seeds, NC, 1, CH), 1e-4, dtype=dtype)
    C2 = -C1
    XU = np.array([[1.0], [-1.0]], dtype=dtype)
    G = np.zeros((seeds, 2), dtype=dtype)
    part = np.zeros((seeds, NC, 2), dtype=dtype)

    @numba.njit(nogil=True)
    def passes(reps, C1, C2, H1, S1, XU, G, zero, part):
        for _ in range(reps):
            for k in range(C1.shape[0]):
                for c in range(C1.shape[1]):
                    fwd(C1[k, c], C2[k, c], H1[k, c], H1[k, c], S1[k, c], S1[k, c], XU, G[k], zero, zero, part[k, c])

    return lambda reps: passes(reps, C1, C2, H1, S1, XU, G, dtype(0), part)


def direct_floor_runner(dtype, m=M, seeds=SEEDS):
    """One pass over W and W(0) (stacked, m x d per network): each row's distance and logits."""
    import numba

    X, _, _ = problem()
    X = X.astype(dtype)
    W0, a = inits(m, seeds, dtype)
    W0 = W0.reshape(-1, D)
    W = W0 + dtype(1e-4)
    s = (a.reshape(-1) / np.sqrt(m)).astype(dtype)

    @numba.njit(nogil=True, fastmath={"contract", "reassoc"})
    def passes(reps, W, W0, s, X):
        zero = s[0] - s[0]
        f0 = zero
        f1 = zero
        m2 = zero
        for _ in range(reps):
            for j in range(W.shape[0]):
                ss = zero
                h0 = zero
                h1 = zero
                for t in range(W.shape[1]):
                    e = W[j, t] - W0[j, t]
                    ss += e * e
                    h0 += W[j, t] * X[0, t]
                    h1 += W[j, t] * X[1, t]
                m2 = max(m2, ss)
                f0 += s[j] * max(h0, zero)
                f1 += s[j] * max(h1, zero)
        return f0 + f1 + m2

    return lambda reps: passes(reps, W, W0, s, X)


def pgd_runner(dtype, m=M, seeds=SEEDS):
    X, p, y = problem()
    req = bounds.corollary4(0.5, 0.49, n=2, delta=0.1)
    return lambda T: pgd(X.astype(dtype), p, m=m, eta=float(req.eta), T=T, B=1.0, seeds=seeds, rng=0, labels=y,
                         record_every=None, dtype=dtype)  # fmt: skip


def table(repeats, threads_list, dtypes, with_pgd=True):
    import numba

    neurons = M * SEEDS
    rows = []
    for name in dtypes:
        dt = np.dtype(name).type
        fl = floor_runner(dt)
        fl(1)
        _fw, fc = per_step(fl, 5, 25, repeats)
        dfl = direct_floor_runner(dt)
        dfl(1)
        _dw, dc = per_step(dfl, 5, 25, repeats)
        if with_pgd:
            pr = pgd_runner(dt)
            pr(1)
            pw, pc = per_step(pr, 3, 9, max(1, repeats // 2 + 1))
            pgd_threads = _blas_threads()
        for th in threads_list:
            if th > numba.config.NUMBA_NUM_THREADS:
                continue
            run = kernel_runner(dt, th)
            run(2)  # compiles
            kw, kc = per_step(run, 100, 600, repeats)
            row = {
                "dtype": name, "threads": th,
                "kernel_wall_ns": kw * th / neurons * 1e9, "kernel_cpu_ns": kc / neurons * 1e9,
                "floor_ns": fc / neurons * 1e9, "direct_floor_ns": dc / neurons * 1e9,
            }  # fmt: skip
            row["kernel_over_floor"] = row["kernel_cpu_ns"] / row["floor_ns"]
            if with_pgd:
                row["pgd_wall_ns"] = pw * pgd_threads / neurons * 1e9
                row["pgd_cpu_ns"] = pc / neurons * 1e9
                row["pgd_threads"] = pgd_threads
                row["pgd_over_kernel_cpu"] = row["pgd_cpu_ns"] / row["kernel_cpu_ns"]
            rows.append(row)
    return rows


def _blas_threads():
    from ntkdistill._kernels import blas_threads

    return max(1, blas_threads() or 1)


def print_table(rows):
    print("ns per neuron-step per core (n = 2, d = 5, m = 131072, 5 seeds; wall: wall clock x threads; cpu: CPU time)")
    head = (f"{'dtype':8} {'thr':>3} {'kernel wall':>11} {'kernel cpu':>10} {'floor':>7} {'kernel/floor':>12} "
            f"{'direct floor':>12} {'pgd wall':>9} {'pgd cpu':>8} {'pgd/kernel':>10}")  # fmt: skip
    print(head)
    for r in rows:
        print(f"{r['dtype']:8} {r['threads']:>3} {r['kernel_wall_ns']:>11.2f} {r['kernel_cpu_ns']:>10.2f} "
              f"{r['floor_ns']:>7.2f} {r['kernel_over_floor']:>12.2f} {r['direct_floor_ns']:>12.2f} "
              f"{r.get('pgd_wall_ns', float('nan')):>9.1f} {r.get('pgd_cpu_ns', float('nan')):>8.1f} "
              f"{r.get('pgd_over_kernel_cpu', float('nan')):>10.1f}")  # fmt: skip


def corollary4(runs, threads=None, out=None):
    """Corollary 4 at gamma = 1/2, n = 2, eps = 0.49, delta = 0.1: the prescribed run, timed, per dtype.

    ``runs``: ``{dtype name: seeds}``; the seeds are the first ones of ``pgd(..., seeds=5, rng=0)``
    whatever their number. Prints, per dtype, the wall and CPU time, and per seed the averaged classification error
    (the corollary's claim: at most eps) and the averaged KL risk (Theorem 2's: at most
    beta = gamma^2 eps / 32); then whether float32 decides every claim as float64 does.
    """
    from ntkdistill._fast.trajectory import run_trajectory

    gamma, eps, delta = 0.5, 0.49, 0.1
    req = bounds.corollary4(gamma, eps, n=N, delta=delta)
    beta = gamma**2 * eps / 32
    m, T = int(req.m), int(req.T)
    X, p, y = problem()
    print(f"Corollary 4: gamma = {gamma}, eps = {eps}, n = {N}, delta = {delta}: m = {m}, T = {T}, "
          f"eta = {float(req.eta):.6g}, B = {float(req.B):g}; Theorem 2's beta = {beta:.6g}")  # fmt: skip
    results = {}
    for name, seeds in runs.items():
        dt = np.dtype(name).type
        W0, a = inits(m, seeds, dt)
        run_trajectory(X.astype(dt), p, W0[:1, :32], a[:1, :32], eta=1.0, T=2, labels=y)  # compile first
        w, c = time.perf_counter(), time.process_time()
        res = run_trajectory(X.astype(dt), p, W0, a, eta=float(req.eta), T=T, B=float(req.B), labels=y,
                             record_every=None, threads=threads)  # fmt: skip
        wall, cpu = time.perf_counter() - w, time.process_time() - c
        results[name] = {"wall_s": wall, "cpu_s": cpu, "avg_error": res["avg_error"].tolist(),
                         "avg_risk": res["avg_risk"].tolist(), "final_error": res["final_error"].tolist(),
                         "final_risk": res["final_risk"].tolist(), "max_distance": res["max_distance"].tolist()}  # fmt: skip
        ns = cpu / (m * seeds * T) * 1e9
        print(
            f"{name}, {seeds} seeds: {wall:.0f} s wall, {cpu:.0f} s CPU ({ns:.2f} ns per neuron-step per core of "
            f"CPU time)",
            flush=True,
        )
        for k in range(seeds):
            print(f"  seed {k}: avg error {res['avg_error'][k]:.6f} (<= eps: {res['avg_error'][k] <= eps}), "
                  f"avg KL risk {res['avg_risk'][k]:.6g} (<= beta: {res['avg_risk'][k] <= beta}), "
                  f"final error {res['final_error'][k]:.3g}, max distance {res['max_distance'][k]:.4g} "
                  f"(radius {float(req.B) / np.sqrt(m):.4g})", flush=True)  # fmt: skip
    if "float32" in results and "float64" in results:
        results["same_decisions"] = compare(results["float32"], results["float64"], eps, beta)
    if out:
        with open(out, "w") as fh:
            json.dump(results, fh, indent=1)
    return results


def compare(r32, r64, eps=0.49, beta=0.5**2 * 0.49 / 32):
    """Whether float32 decides Corollary 4's and Theorem 2's claims as float64 does, seed by seed.

    ``r32``, ``r64``: results of :func:`corollary4` for one dtype each (their common first seeds
    are compared). Prints the largest differences and float64's nearest distance to each level.
    """
    pairs = list(zip(r32["avg_error"], r64["avg_error"]))
    risks = list(zip(r32["avg_risk"], r64["avg_risk"]))
    same = all((u <= eps) == (v <= eps) for u, v in pairs) and all((u <= beta) == (v <= beta) for u, v in risks)
    derr = max(abs(u - v) for u, v in pairs)
    drisk = max(abs(u - v) / abs(v) for u, v in risks)
    margin_e = min(abs(v - eps) for _, v in pairs)
    margin_r = min(abs(v - beta) / beta for _, v in risks)
    print(f"float32 against float64 on {len(pairs)} seeds: every decision the same: {same}; largest difference "
          f"of the averaged error {derr:.3g} (float64's nearest distance to eps {margin_e:.3g}); of the averaged "
          f"KL risk {drisk:.3g} relative (float64's nearest relative distance to beta {margin_r:.3g})")  # fmt: skip
    return same


SHAPES = ((2, 1), (2, 2), (4, 4), (8, 8), (16, 16))


def shapes(dtypes, repeats, m=65536):
    """Nanoseconds per neuron-step by (n, r), one thread, one network of ``m`` neurons: the table
    behind :func:`ntkdistill.cost.trajectory_seconds` (its ``_TRAJ_NR`` and ``_TRAJ_NS``).

    ``r = 1``: the antipodal pair in d = 5; otherwise n unit vectors in d = r (rank r). Steps 50 and
    350 (3 and 23 where the sweep is scalar, n r > 16), their difference over the 300 (20) steps.
    """
    from ntkdistill._fast.trajectory import run_trajectory

    print("\ntrajectory kernel by shape, one thread, one network, m =", m)
    print(f"{'dtype':<8} {'n':>3} {'r':>3} {'n r':>4} {'ns per neuron-step':>19} {'first call s':>13}")
    for dtype in dtypes:
        for n, r in SHAPES:
            rng = np.random.default_rng(0)
            if r == 1:
                X = np.zeros((n, D))
                X[0, 0], X[1, 0] = 1.0, -1.0
            else:
                X = rng.standard_normal((n, r))
                X /= np.linalg.norm(X, axis=1, keepdims=True)
            y = np.where(np.arange(n) % 2 == 0, 1.0, -1.0)
            W0, a = init_symmetric(m, X.shape[1], rng=np.random.default_rng(1), dtype=dtype)
            Xd = X.astype(dtype)

            def run(T, Xd=Xd, y=y, W0=W0, a=a, dtype=dtype):
                return run_trajectory(Xd, sigmoid(0.3 * y), W0[None], a[None], eta=0.5, T=T, B=1.0, labels=y,
                                      record_every=None, dtype=dtype, threads=1)  # fmt: skip

            first, _ = _timed(lambda: run(2))
            short, long = (50, 350) if n * r <= 16 else (3, 23)
            wall, _ = per_step(run, short, long, repeats)
            print(f"{dtype:<8} {n:>3} {r:>3} {n * r:>4} {wall / m * 1e9:>19.3f} {first:>13.1f}", flush=True)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--dtypes", default="float32,float64")
    ap.add_argument("--threads", default="1,2", help="thread counts of the kernel rows")
    ap.add_argument("--no-pgd", action="store_true", help="skip the pgd column")
    ap.add_argument("--no-table", action="store_true")
    ap.add_argument(
        "--shapes", action="store_true", help="ns per neuron-step by (n, r): cost.trajectory_seconds's table"
    )
    ap.add_argument(
        "--corollary4",
        nargs="?",
        const="float32:5,float64:5",
        default=None,
        help="run Corollary 4's prescription (minutes): dtype:seeds,... (default float32:5,float64:5)",
    )
    ap.add_argument("--corollary4-threads", type=int, default=None, help="threads of Corollary 4's runs")
    ap.add_argument("--json", default=None, help="write Corollary 4's results here")
    ap.add_argument(
        "--compare",
        nargs=2,
        metavar=("FLOAT32_JSON", "FLOAT64_JSON"),
        default=None,
        help="compare two runs' --json outputs (float32 and float64) and stop",
    )
    args = ap.parse_args(argv)
    try:
        import numba  # noqa: F401
    except ImportError:
        print("numba is not installed: the trajectory kernel needs the 'fast' extra; nothing to measure.")
        return
    if args.compare:
        r32, r64 = (json.load(open(f))[k] for f, k in zip(args.compare, ("float32", "float64")))
        compare(r32, r64)
        return
    print(machine())
    if not args.no_table:
        rows = table(args.repeats, [int(t) for t in args.threads.split(",")], args.dtypes.split(","), not args.no_pgd)
        print_table(rows)
    if args.shapes:
        shapes(args.dtypes.split(","), args.repeats)
    if args.corollary4:
        runs = {k: int(v) for k, v in (x.split(":") for x in args.corollary4.split(","))}
        corollary4(runs, threads=args.corollary4_threads, out=args.json)


if __name__ == "__main__":
    main()
