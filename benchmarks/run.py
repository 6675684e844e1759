"""Benchmark suite: the PGD step against its matrix-product floor, PyTorch, a loop over networks and ``pgd`` itself.

Run from the repository root::

    python -m benchmarks.run                 # everything
    python -m benchmarks.run --repeats 11    # more repeats
    python -m benchmarks.run --sections step,batch --shapes a
    python -m benchmarks.run --sections public --shapes c --dtypes float32
    python -m benchmarks.run --sections step,public --shapes 200x10x2000 --repeats 1   # a quick check

Every ratio is the median over ``--repeats`` round-robin repeats of the ratio measured within
one repeat, where every contender runs back to back, so that the load of the machine at that
moment weighs on all of them alike. See ``benchmarks/README.md`` for what each figure means.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import platform
import sys
import time

import numpy as np

if __package__ in (None, ""):  # run as a script: python benchmarks/run.py
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from ntkdistill import pgd
from ntkdistill._fast.engine import Engine
from ntkdistill._fast.threads import blas_threads
from ntkdistill.pgd import _Stack, project_rows
from ntkdistill.student import init_symmetric, risk_and_grad

SHAPES = {"a": (60000, 784, 8), "b": (2000, 50, 4096), "c": (200, 10, 20000)}


def shape_of(key):
    """``(n, d, m)`` of a named shape (``a``, ``b``, ``c``) or of one written ``NxDxM`` (m even)."""
    if key in SHAPES:
        return SHAPES[key]
    try:
        n, d, m = (int(v) for v in key.lower().split("x"))
    except ValueError:
        raise ValueError(f"{key!r} is neither one of {sorted(SHAPES)} nor NxDxM (e.g. 200x10x2000)") from None
    if min(n, d, m) < 1 or m % 2:
        raise ValueError(f"{key!r}: n, d and m must be positive and m even")
    return n, d, m


DTYPES = {"float64": np.float64, "float32": np.float32}
LOSSES = ("kl", "logistic")
ETA = 1.0
B = 1.0


# ---------------------------------------------------------------------------------------- timing
PAUSE = 0.25  # seconds: longer than OpenBLAS (about 0.1 s) and OpenMP threads spin after a call
SETTLE = 0.1  # seconds of untimed runs (at least two) before each timed one


def round_robin(fns, repeats, settle=SETTLE, pause=PAUSE):
    """Seconds of each callable in each repeat, timed in turns: ``{name: array (repeats,)}``.

    Every repeat visits each callable in order: it waits ``pause`` seconds, runs the callable
    untimed for ``settle`` seconds (at least twice) and then once timed. The pause lets the
    thread pools of the previous contender (OpenBLAS, OpenMP) stop spinning, which would
    otherwise take a core from the next one; the untimed runs bring its data into cache and its
    threads up. Each timing is then of a steady state, as in a training loop, while the turns
    expose every contender to the same load of the machine.
    """
    times = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            time.sleep(pause)
            t0 = time.perf_counter()
            runs = 0
            while runs < 2 or time.perf_counter() - t0 < settle:
                fn()
                runs += 1
            t0 = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - t0)
    return {name: np.array(v) for name, v in times.items()}


def ratio(num, den):
    """Median over the repeats of the ratio of two contenders timed back to back in each repeat.

    A ratio taken within a repeat cancels the load that the machine had at that moment, which a
    ratio of two medians does not.
    """
    return float(np.median(np.asarray(num) / np.asarray(den)))


def med_ms(t):
    return float(np.median(t)) * 1e3


# ---------------------------------------------------------------------------------------- setup
def environment(with_torch=True):
    """Lines describing the machine, the BLAS and its thread count, and torch if present (``with_torch``)."""
    lines = [
        (
            f"{cpu_model()}, {platform.machine()}, {os.cpu_count()} logical CPUs; "
            f"python {platform.python_version()}, numpy {np.__version__}"
        ),
    ]
    try:
        from threadpoolctl import threadpool_info

        for lib in threadpool_info():
            if lib.get("user_api") == "blas":
                path = lib.get("filepath") or ""
                owner = "numpy" if "numpy" in path else ("scipy" if "scipy" in path else "other")
                lines.append(
                    f"BLAS ({owner}: {os.path.basename(path)}): {lib.get('internal_api')} "
                    f"{lib.get('version')} ({lib.get('architecture')}, {lib.get('threading_layer')}), "
                    f"{lib.get('num_threads')} threads"
                )
    except ImportError:
        lines.append("numpy BLAS: unknown (threadpoolctl is not installed); PGD runs on one thread")
    lines.append(f"PGD step threads: {blas_threads()} (the BLAS thread count)")
    if importlib.util.find_spec("numba") is None:
        lines.append("compiled loops of the PGD step: off (numba is not installed; NumPy and the BLAS only)")
    else:
        import numba

        lines.append(f"compiled loops of the PGD step: on (numba {numba.__version__})")
    if with_torch:
        torch = _torch()
        if torch is None:
            lines.append("torch: not installed; the torch comparison is skipped")
        else:
            blas = "MKL" if torch.backends.mkl.is_available() else "no MKL"
            lines.append(f"torch {torch.__version__} ({blas}), {torch.get_num_threads()} threads")
    return lines


def cpu_model():
    """The processor's model name (from /proc/cpuinfo where there is one)."""
    try:
        with open("/proc/cpuinfo") as fh:
            return next(line.split(":", 1)[1].strip() for line in fh if line.startswith("model name"))
    except (OSError, StopIteration):
        return platform.processor() or "unknown processor"


def _torch():
    if importlib.util.find_spec("torch") is None:
        return None
    import torch

    torch.set_num_threads(blas_threads())
    return torch


def problem(n, d, dtype, seed=0):
    """Unit-norm inputs, soft labels in (0, 1) and the matching hard labels."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    X /= np.linalg.norm(X, axis=1, keepdims=True)
    z = 0.5 * rng.standard_normal(n)
    p = 1.0 / (1.0 + np.exp(-z))
    y = np.where(z > 0, 1.0, -1.0)
    return X.astype(dtype), p.astype(dtype), y.astype(dtype)


def plain_step(X, tgt, W, W0, a, loss):
    """One step of ``pgd(..., backend="reference")``: the risk and gradient, the step, the projection."""
    _, grad = risk_and_grad(X, tgt, W, a, loss)
    return project_rows(W - ETA * grad, W0, B / np.sqrt(W.shape[0]))


def engine_for(X, tgt, y, inits, loss):
    """The PGD engine of :func:`ntkdistill.pgd` for these networks, and their stacked weights."""
    st = _Stack(inits, X.dtype)
    radius = (B / np.sqrt(st.widths[st.owner])).astype(X.dtype)
    radius = np.concatenate([radius, radius])
    return Engine(X, tgt, y, st, loss, ETA, radius), st.W0.copy()


def floor_contenders(X, m):
    """The two matrix products of a step, each in every orientation, outputs preallocated.

    Forward ``H = X W^T`` (or its transpose ``W X^T``) and backward ``G^T X`` (or ``X^T G``), on
    arrays of the step's shapes and dtype. The floor is the fastest forward plus the fastest
    backward.
    """
    n, d = X.shape
    rng = np.random.default_rng(1)
    dt = X.dtype
    W = rng.standard_normal((m, d)).astype(dt)
    XT = np.ascontiguousarray(X.T)
    H = np.empty((n, m), dt)
    HT = np.empty((m, n), dt)
    G = rng.standard_normal((n, m)).astype(dt)
    GT = np.ascontiguousarray(G.T)
    out = np.empty((m, d), dt)
    outT = np.empty((d, m), dt)
    fwd = {
        "fwd X@W.T": lambda: np.matmul(X, W.T, out=H),
        "fwd W@X.T": lambda: np.matmul(W, XT, out=HT),
    }
    bwd = {
        "bwd G.T@X": lambda: np.matmul(G.T, X, out=out),
        "bwd GT@X": lambda: np.matmul(GT, X, out=out),
        "bwd X.T@G": lambda: np.matmul(XT, G, out=outT),
    }
    return fwd, bwd


def floor_times(t, fwd, bwd):
    """The floor in each repeat of ``round_robin``'s times ``t``: its fastest forward plus its fastest backward."""
    return np.min([t[k] for k in fwd], axis=0) + np.min([t[k] for k in bwd], axis=0)


# ---------------------------------------------------------------------------------------- torch
def torch_step_fn(torch, X, tgt, W0, a, loss):
    """A hand-written-gradient PGD step in torch (CPU), buffers preallocated, same formula.

    Of the ways of forming ``G = 1(H > 0) * g a^T / sqrt(m)`` tried (bool mask times ``g`` then
    times ``a``, ``torch.where``, the float mask times the outer product), the last was the fastest.
    """
    n, d = X.shape
    m = W0.shape[0]
    Xt = torch.from_numpy(X)
    tt = torch.from_numpy(tgt)
    W0t = torch.from_numpy(W0.copy())
    Wt = W0t.clone()
    s = torch.from_numpy((a / np.sqrt(m)).astype(X.dtype))
    radius = float(B / np.sqrt(m))
    H = torch.empty((n, m), dtype=Xt.dtype)
    mask = torch.empty((n, m), dtype=Xt.dtype)
    f = torch.empty(n, dtype=Xt.dtype)
    g = torch.empty(n, dtype=Xt.dtype)
    G = torch.empty((n, m), dtype=Xt.dtype)
    grad = torch.empty((m, d), dtype=Xt.dtype)
    diff = torch.empty((m, d), dtype=Xt.dtype)
    inv_n = 1.0 / n

    def step():
        with torch.no_grad():
            torch.matmul(Xt, Wt.T, out=H)
            torch.gt(H, 0, out=mask)  # 1(W_j . x_i > 0) as a float array
            H.clamp_(min=0)
            torch.mv(H, s, out=f)
            if loss == "kl":
                torch.sigmoid(f, out=g)
                g.sub_(tt).mul_(inv_n)
            else:
                torch.mul(f, tt, out=g)
                g.neg_().sigmoid_().mul_(tt).mul_(-inv_n)
            torch.outer(g, s, out=G)  # g_i a_j / sqrt(m) ...
            G.mul_(mask)  # ... 1(W_j . x_i > 0)
            torch.matmul(G.T, Xt, out=grad)
            Wt.add_(grad, alpha=-ETA)
            torch.sub(Wt, W0t, out=diff)
            norms = torch.linalg.vector_norm(diff, dim=1)
            factor = torch.clamp(radius / norms, max=1.0)
            torch.addcmul(W0t, diff, factor[:, None], out=Wt)

    return step


# ---------------------------------------------------------------------------------------- sections
def section_step(shapes, dtypes, repeats, use_torch):
    torch = _torch() if use_torch else None
    print()
    print("PGD step (one network, B = 1: projection included) against the floor of its two matrix")
    print("products (fastest orientation of each, outputs preallocated), the plain NumPy step")
    print("(pgd's backend='reference') and a hand-written torch step; medians of", repeats, "repeats.")
    if use_torch and torch is None:
        print("torch is not installed: the torch column is skipped.")
    head = f"{'shape':<22}{'dtype':<9}{'loss':<10}{'floor ms':>9}{'step ms':>9}{'step/floor':>11}{'plain/floor':>12}"
    if torch is not None:
        head += f"{'torch ms':>10}{'step/torch':>11}"
    print(head)
    for key in shapes:
        n, d, m = shape_of(key)
        for dname in dtypes:
            X, p, y = problem(n, d, DTYPES[dname])
            W0, a = init_symmetric(m, d, rng=2, dtype=X.dtype)
            fwd, bwd = floor_contenders(X, m)
            for loss in LOSSES:
                tgt = p if loss == "kl" else y
                eng, W = engine_for(X, tgt, y, [(W0, a)], loss)
                state = {"W": W0.copy()}

                def plain(tgt=tgt, loss=loss, W0=W0, a=a, X=X, state=state):
                    state["W"] = plain_step(X, tgt, state["W"], W0, a, loss)

                with eng:
                    fns = dict(fwd)
                    fns.update(bwd)
                    fns["step"] = lambda eng=eng, W=W: eng.step(W)
                    fns["plain"] = plain
                    if torch is not None:
                        fns["torch"] = torch_step_fn(torch, X, tgt, W0, a, loss)
                    t = round_robin(fns, repeats)
                floor = floor_times(t, fwd, bwd)
                line = (
                    shape_label(key, n, d, m) + f"{dname:<9}{loss:<10}{med_ms(floor):>9.2f}{med_ms(t['step']):>9.2f}"
                    f"{ratio(t['step'], floor):>11.2f}{ratio(t['plain'], floor):>12.2f}"
                )
                if torch is not None:
                    line += f"{med_ms(t['torch']):>10.2f}{ratio(t['step'], t['torch']):>11.2f}"
                print(line, flush=True)


def shape_label(key, n, d, m):
    name = key if key in SHAPES else "-"
    return f"{name} n={n} d={d} m={m:<6}"[:22].ljust(22)


def public_lengths(step_seconds, target=0.1):
    """Run lengths ``(T1, T2 = 4 T1)`` of ``pgd`` for the public section: ``T2 - T1`` steps take about ``3 target`` s."""
    t1 = max(2, int(round(target / max(step_seconds, 1e-6))))
    return t1, 4 * t1


def section_public(shapes, dtypes, repeats, lengths=None):
    print()
    print("One step of the public ntkdistill.pgd, called as a user calls it (pgd(X, targets, m=m, eta=1, T=T, B=1,")
    print("loss=loss, labels=y, rng=2): backend 'auto', a record at every step, the default), timed as the")
    print("difference of two run lengths T1 and T2 over T2 - T1 (set-up, validation and the final evaluation")
    print("drop out), against the engine's step of the step section ('engine ms', the same networks) and the")
    print(f"floor of its two matrix products; the two runs, the engine and the floor take turns; medians of {repeats}")
    print("repeats of ratios within a repeat. 'pgd/engine': what pgd adds to the engine's step per step.")
    print(f"{'shape':<22}{'dtype':<9}{'loss':<10}{'T1,T2':>10}{'floor ms':>9}{'engine ms':>10}{'pgd ms':>9}"
          f"{'engine/floor':>13}{'pgd/floor':>10}{'pgd/engine':>11}")  # fmt: skip
    for key in shapes:
        n, d, m = shape_of(key)
        for dname in dtypes:
            X, p, y = problem(n, d, DTYPES[dname])
            W0, a = init_symmetric(m, d, rng=2, dtype=X.dtype)
            fwd, bwd = floor_contenders(X, m)
            for loss in LOSSES:
                tgt = p if loss == "kl" else y
                eng, W = engine_for(X, tgt, y, [(W0, a)], loss)
                with eng:
                    if lengths is None:
                        eng.step(W)
                        t0 = time.perf_counter()
                        for _ in range(3):
                            eng.step(W)
                        t1, t2 = public_lengths((time.perf_counter() - t0) / 3)
                    else:
                        t1, t2 = lengths

                    def run(T, tgt=tgt, loss=loss, X=X, y=y, m=m):
                        pgd(X, tgt, m=m, eta=ETA, T=T, B=B, loss=loss, labels=y, rng=2)

                    fns = dict(fwd)
                    fns.update(bwd)
                    fns["engine"] = lambda eng=eng, W=W: eng.step(W)
                    fns["pgd T1"] = lambda run=run, t1=t1: run(t1)
                    fns["pgd T2"] = lambda run=run, t2=t2: run(t2)
                    t = round_robin(fns, repeats)
                floor = floor_times(t, fwd, bwd)
                public = (t["pgd T2"] - t["pgd T1"]) / (t2 - t1)
                print(
                    shape_label(key, n, d, m) + f"{dname:<9}{loss:<10}{f'{t1},{t2}':>10}{med_ms(floor):>9.2f}"
                    f"{med_ms(t['engine']):>10.2f}{med_ms(public):>9.2f}{ratio(t['engine'], floor):>13.2f}"
                    f"{ratio(public, floor):>10.2f}{ratio(public, t['engine']):>11.2f}",
                    flush=True,
                )


def gemm_peak(dtype, repeats, size=1536):
    """Flops per second of a large square product: what the BLAS reaches at best on this machine."""
    rng = np.random.default_rng(4)
    A = rng.standard_normal((size, size)).astype(dtype)
    Bm = rng.standard_normal((size, size)).astype(dtype)
    out = np.empty((size, size), dtype)
    t = round_robin({"gemm": lambda: np.matmul(A, Bm, out=out)}, repeats)["gemm"]
    return 2.0 * size**3 / float(np.median(t))


def section_batch(dtypes, repeats, seeds=10, widths=(4, 6, 8)):
    n, d, _ = SHAPES["a"]
    K = seeds * len(widths)
    M = seeds * sum(widths)
    print()
    print(
        f"{K} networks ({seeds} seeds x widths {list(widths)}) on shape a (n={n}, d={d}): one batched step "
        f"against a loop of the same step network by network (fast), and a loop of the plain NumPy step "
        f"(plain); medians of {repeats} repeats. 'batched/floor': the batched step over its two matrix "
        f"products (M = {M} neurons; fastest orientation of each, outputs preallocated). 'ceiling' is the "
        f"loop time over the batched step's least possible time, its {4 * n * d * M / 1e9:.1f} GFLOP at the "
        f"rate of a large square product: no batched step can beat the loop by more."
    )
    print(
        f"{'dtype':<9}{'loss':<6}{'batched ms':>11}{'batched/floor':>15}{'loop ms':>10}{'loop/batched':>14}"
        f"{'ceiling':>9}{'plain loop ms':>15}{'plain loop/batched':>20}"
    )
    for dname in dtypes:
        X, p, y = problem(n, d, DTYPES[dname])
        seq = np.random.SeedSequence(3).spawn(seeds)
        inits = [init_symmetric(w, d, rng=np.random.default_rng(s), dtype=X.dtype) for w in widths for s in seq]
        loss = "kl"
        batched, Wb = engine_for(X, p, y, inits, loss)
        singles = [engine_for(X, p, y, [ini], loss) for ini in inits]
        plain_W = [W0.copy() for W0, _ in inits]

        def loop(singles=singles):
            for e, W in singles:
                e.step(W)

        def plain_loop(inits=inits, plain_W=plain_W, X=X, p=p, loss=loss):
            for k, (W0, a) in enumerate(inits):
                plain_W[k] = plain_step(X, p, plain_W[k], W0, a, loss)

        def one_batch(batched=batched, Wb=Wb):
            batched.step(Wb)

        try:
            batched.__enter__()
            for e, _ in singles:
                e.__enter__()
            fwd, bwd = floor_contenders(X, M)
            t = round_robin({**fwd, **bwd, "batched": one_batch, "loop": loop, "plain": plain_loop}, repeats)
        finally:
            batched.close()
            for e, _ in singles:
                e.close()
        least = 4.0 * n * d * M / gemm_peak(X.dtype, repeats)
        floor = floor_times(t, fwd, bwd)
        print(
            f"{dname:<9}{loss:<6}{med_ms(t['batched']):>11.1f}{ratio(t['batched'], floor):>15.2f}"
            f"{med_ms(t['loop']):>10.1f}"
            f"{ratio(t['loop'], t['batched']):>14.2f}{np.median(t['loop']) / least:>9.2f}"
            f"{med_ms(t['plain']):>15.1f}{ratio(t['plain'], t['batched']):>20.2f}",
            flush=True,
        )


def section_monte_carlo(repeats):
    print()
    missing = [
        name for name in ("kernel", "margin", "teacher") if importlib.util.find_spec(f"ntkdistill.{name}") is None
    ]
    if missing:
        print(f"Monte Carlo teacher and margin: skipped (ntkdistill.{', ntkdistill.'.join(missing)} not available).")
        return
    from benchmarks import monte_carlo

    monte_carlo.run(repeats)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7, help="round-robin repeats per figure (default 7)")
    parser.add_argument("--sections", default="step,public,batch,mc", help="comma-separated: step, public, batch, mc")
    parser.add_argument(
        "--shapes",
        default="a,b,c",
        help="comma-separated shapes of the step and public sections: a, b, c or NxDxM (e.g. 200x10x2000)",
    )
    parser.add_argument(
        "--lengths",
        default=None,
        metavar="T1,T2",
        help="run lengths of pgd in the public section (default: T2 = 4 T1, T2 - T1 steps about 0.3 s)",
    )
    parser.add_argument("--dtypes", default="float64,float32", help="comma-separated dtypes")
    parser.add_argument("--no-torch", action="store_true", help="skip the torch comparison")
    args = parser.parse_args(argv)
    sections = [s.strip() for s in args.sections.split(",") if s.strip()]
    shapes = [s.strip() for s in args.shapes.split(",") if s.strip()]
    dtypes = [s.strip() for s in args.dtypes.split(",") if s.strip()]
    for s in sections:
        if s not in ("step", "public", "batch", "mc"):
            parser.error(f"--sections: {s!r} is not one of step, public, batch, mc")
    for s in shapes:
        try:
            shape_of(s)
        except ValueError as exc:
            parser.error(f"--shapes: {exc}")
    lengths = None
    if args.lengths is not None:
        try:
            lengths = tuple(int(v) for v in args.lengths.split(","))
        except ValueError:
            lengths = ()
        if len(lengths) != 2 or not 1 <= lengths[0] < lengths[1]:
            parser.error(f"--lengths == {args.lengths!r}, must be T1,T2 with 1 <= T1 < T2")
    for s in dtypes:
        if s not in DTYPES:
            parser.error(f"--dtypes: {s!r} is not one of {sorted(DTYPES)}")
    if args.repeats < 1:
        parser.error(f"--repeats == {args.repeats}, must be >= 1")
    for line in environment():
        print(line)
    if "step" in sections:
        section_step(shapes, dtypes, args.repeats, use_torch=not args.no_torch)
    if "public" in sections:
        section_public(shapes, dtypes, args.repeats, lengths)
    if "batch" in sections:
        section_batch(dtypes, args.repeats)
    if "mc" in sections:
        section_monte_carlo(args.repeats)
    return 0


if __name__ == "__main__":
    sys.exit(main())
