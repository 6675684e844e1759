"""Monte Carlo teacher logits and NTK margin against the matrix products they need.

Shape: n = 2000 points in d = 50 dimensions, S = 20,000 Gaussian directions. Run through
``python -m benchmarks.run --sections mc``.

- teacher: ``teacher_logits(X, v, n_samples=S)`` with the max-margin field ``v`` of the data.
  Its products, for every direction block ``Z``: the masks ``Z X^T``, the field
  ``1(Z X_s^T > 0) D_s`` on the support ``s`` of ``q`` (its masks are columns of the first
  product's), and ``V X^T``.
- dual evaluation: one evaluation of the margin's sample dual and its gradient at the full S (the
  solver's unit of work). Its products: ``A D`` (S x n by n x d) and ``A^T U`` (n x S by S x d),
  in the dual's working dtype.
- margin: ``margin(X, y, n_samples=S)`` end to end, against the products of every dual evaluation
  it made (counted by wrapping the dual), of the masks it draws, of its certificate (the teacher's
  products on fresh directions) and of its kernel bound (``X X^T`` and one matrix-vector product
  ``Q q`` per evaluation of the kernel QP, counted by wrapping its solver).

Each floor is the BLAS time of those products on preallocated outputs, in blocks of 1024
directions (the size the implementation uses). Teacher and dual evaluation take turns with
their floors (the ratio is the median of the per-repeat ratios); so does the margin end to end
(about a second a run, so at most three repeats), with one callable running in turn every
product of what it did (counted in a first run).
"""

from __future__ import annotations

import numpy as np

from benchmarks.run import ratio, round_robin

N, D, S = 2000, 50, 20000
BLOCK = 1024


def _data(dtype=np.float64):
    rng = np.random.default_rng(11)
    X = rng.standard_normal((N, D))
    X /= np.linalg.norm(X, axis=1, keepdims=True)
    y = np.where(X @ rng.standard_normal(D) > 0, 1.0, -1.0)
    return X.astype(dtype), y


def _products(shapes, dtype, count=S, block=BLOCK):
    """A callable running ``(rows x k) @ (k x cols)`` products over ``count`` rows in blocks."""
    rng = np.random.default_rng(0)
    ops = []
    for k, cols in shapes:
        A = rng.standard_normal((block, k)).astype(dtype)
        Bm = rng.standard_normal((k, cols)).astype(dtype)
        out = np.empty((block, cols), dtype)
        ops.append((A, Bm, out))

    def run():
        for start in range(0, count, block):
            b = min(block, count - start)
            for A, Bm, out in ops:
                np.matmul(A[:b], Bm, out=out[:b])

    return run


def _transposed_products(k_rows, cols, dtype, count):
    """``(n x S) @ (S x cols)`` as a sum over direction blocks: the gradient product ``A^T U``."""
    rng = np.random.default_rng(1)
    A = rng.standard_normal((BLOCK, k_rows)).astype(dtype)
    U = rng.standard_normal((BLOCK, cols)).astype(dtype)
    out = np.empty((k_rows, cols), dtype)

    def run():
        for start in range(0, count, BLOCK):
            b = min(BLOCK, count - start)
            np.matmul(A[:b].T, U[:b], out=out)

    return run


def run(repeats):
    import importlib

    from ntkdistill.teacher import teacher_logits

    margin_mod = importlib.import_module("ntkdistill.margin")  # the module (the package exports a function)

    print(f"Monte Carlo teacher and margin: n={N}, d={D}, {S} directions; medians of {repeats} repeats")
    print("(margin end to end: of min(repeats, 3)); floors: BLAS products on preallocated outputs, blocks of")
    print(f"{BLOCK} directions.")
    X, y = _data()

    # the margin end to end, with its dual evaluations counted
    calls = []
    qp_calls = []
    original = margin_mod._Dual.__call__
    original_qp = margin_mod._kernel_qp
    original_spg = margin_mod._spg

    def counted(self, q, count=None):
        calls.append((self.dirs.total if count is None else count, self.dtype))
        return original(self, q, count)

    def counted_spg(fg, q, **kw):
        def fg_counted(p):
            qp_calls.append(1)
            return fg(p)

        return original_spg(fg_counted, q, **kw)

    def counted_qp(*args, **kw):
        margin_mod._spg = counted_spg
        try:
            return original_qp(*args, **kw)
        finally:
            margin_mod._spg = original_spg

    # one run with the wrappers on, to count what the margin does
    margin_mod._Dual.__call__ = counted
    margin_mod._kernel_qp = counted_qp
    try:
        res = margin_mod.margin(X, y, n_samples=S, rng=5)
    finally:
        margin_mod._Dual.__call__ = original
        margin_mod._kernel_qp = original_qp
    support = int(np.count_nonzero(res.q > 0))

    # teacher logits with the max-margin field, against its products, in turns
    teacher_floor_fn = _products([(D, N), (support, D), (D, N)], X.dtype)
    t = round_robin(
        {"teacher": lambda: teacher_logits(X, res.v, n_samples=S, rng=6), "floor": teacher_floor_fn}, repeats
    )
    f_teacher, t_teacher, r_teacher = np.median(t["floor"]), np.median(t["teacher"]), ratio(t["teacher"], t["floor"])

    # one dual evaluation at the full sample, in the dual's working dtype, against its products
    work = calls[-1][1] if calls else np.float64
    dirs = margin_mod._Directions(X, seed=7, total=S, dtype=work)
    dual = margin_mod._Dual(X, y, dirs, work)
    q = res.q
    fwd_S = _products([(N, D)], work, count=S)
    bwd_S = _transposed_products(N, D, work, S)
    t = round_robin({"eval": lambda: dual(q), "floor": lambda: (fwd_S(), bwd_S())}, repeats)
    f_eval, t_eval, r_eval = np.median(t["floor"]), np.median(t["eval"]), ratio(t["eval"], t["floor"])
    # the margin end to end against the products of everything it did, taking turns with them
    # (min(repeats, 3) repeats: a run takes about a second)
    eval_fns = {}
    for c, dt in calls:
        key = (c, np.dtype(dt).name)
        if key not in eval_fns:
            eval_fns[key] = (_products([(N, D)], dt, count=c), _transposed_products(N, D, dt, c))
    masks_fn = _products([(D, N)], work)
    G = np.empty((N, N))
    qv = np.full(N, 1.0 / N)
    Gq = np.empty(N)
    kernel = res.kernel_bound is not None

    def margin_floor():
        for c, dt in calls:
            fwd, bwd = eval_fns[(c, np.dtype(dt).name)]
            fwd()
            bwd()
        masks_fn()
        teacher_floor_fn()
        if kernel:
            np.matmul(X, X.T, out=G)
            for _ in qp_calls:
                np.matmul(G, qv, out=Gq)

    t = round_robin(
        {"margin": lambda: margin_mod.margin(X, y, n_samples=S, rng=5), "floor": margin_floor}, min(repeats, 3)
    )
    f_margin, t_margin, r_margin = np.median(t["floor"]), np.median(t["margin"]), ratio(t["margin"], t["floor"])

    print(f"{'computation':<44}{'floor ms':>10}{'time ms':>10}{'time/floor':>12}")
    rows = [
        (f"teacher_logits (support {support}/{N})", f_teacher, t_teacher, r_teacher),
        (f"one dual evaluation ({np.dtype(work).name})", f_eval, t_eval, r_eval),
        (f"margin end to end ({len(calls)} duals, {len(qp_calls)} QP steps)", f_margin, t_margin, r_margin),
    ]
    for name, fl, tm, r in rows:
        print(f"{name:<44}{fl * 1e3:>10.1f}{tm * 1e3:>10.1f}{r:>12.2f}", flush=True)
