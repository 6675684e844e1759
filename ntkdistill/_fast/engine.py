r"""The batched PGD step, written for speed (private; :func:`ntkdistill.pgd` is the public entry).

One step of THEORY.md's projected gradient descent for ``K`` networks stacked in the paired layout
of :class:`ntkdistill.pgd._Stack` (rows ``[0, h)`` the first halves, rows ``[h, 2h)`` the
matching second halves; :math:`s_j = a_j / \sqrt{m}`):

.. math::

    H = X W^\top,\quad f_{ik} = \sum_{j \in k} s_j \max(0, H_{ij}),\quad
    g_{ik} = \ell'(f_{ik}) / n,\quad
    \nabla_{W_j} R = s_j \sum_i g_{i k(j)} 1(H_{ij} > 0)\, x_i,

    W_j \leftarrow W_j(0) + (W_j - \eta \nabla_{W_j} R - W_j(0))
    \min\Bigl(1, \frac{B/\sqrt m}{\|W_j - \eta \nabla_{W_j} R - W_j(0)\|}\Bigr).

The arithmetic is the plain one (``pgd(..., backend="reference")`` runs it as written); only the order
of the work changes, so the results agree with it to rounding (tested to 1e-12 in float64). Two
strategies, chosen by the shape:

``"rows"`` (few neurons, ``M <= d`` or narrow networks; with numba also every problem of at least
``_ROWS_MIN_N`` rows)
    Rows of ``X`` in blocks: for each block the forward product, the loss derivative and the
    backward product ``G_b^T X_b`` are done while ``X_b`` is still in cache, so ``X`` (the large
    operand) travels from memory once per step instead of twice. With numba, one of two compiled
    forms:

    - few neurons (``M`` at most ``_FUSED_MAX_NEURONS`` and ``d / _FUSED_FEATURES_PER_NEURON``,
      ``2 M d`` entries within ``_FUSED_MAX_BYTES``): one compiled loop
      (:func:`ntkdistill._fast.compiled.rows_fused`) does a worker's whole range of rows, four rows at
      a time, products included (``X`` read in place);
    - more neurons: the BLAS products on blocks of rows (``H_b`` about
      ``_ROW_BLOCK_BYTES_COMPILED``) and one compiled pass between them
      (:func:`ntkdistill._fast.compiled.rows_middle`: logits, loss derivative and ``G_b`` in place of
      ``H_b``), the backward product added into each worker's gradient; when ``M <= d`` in the
      transposed layout (``W X_b^T`` and ``G_b^T X_b``,
      :func:`ntkdistill._fast.compiled.rows_middle_t`), which the BLAS runs faster for such shapes;
      in float32 with ``M > d`` and at least ``_FOLD_MIN_PAIRS`` pairs in every network, in the
      transposed layout folded (:func:`ntkdistill._fast.compiled.rows_mask_t`: the pass that sums the
      logits leaves the mask :math:`1(H_b^\top > 0)` in place of :math:`H_b^\top`, the backward
      product is :math:`1(H_b^\top > 0)\,(g \odot X_b)` and the output weights are applied in the
      update, so ``H_b`` is read once).

      The workers' gradients are then summed and the rows updated on the workers, each its share
      of the neurons, in one compiled pass (:func:`ntkdistill._fast.compiled.update_sum`).

    Either way ``X`` is copied to C order once when it is not C-contiguous.
``"neurons"`` (many neurons, fewer than ``_ROWS_MIN_N`` rows with numba)
    Blocks of neuron pairs (the two rows of each pair side by side, never across networks),
    sized so that their ``n x b`` pre-activations stay in cache, in two passes. Pass 1 forms
    them, keeps the activation mask as booleans (one byte per entry) and adds the block's share
    of ``f`` by a matrix-vector product, with :math:`2\max(0, h) = h + |h|` (exact;
    ``np.maximum`` is slower because of its NaN handling) and the factor 1/2 folded into
    :math:`s/2` (exact, a power of two), so every term :math:`s_j \max(0, H_{ij})` is the one
    ``np.maximum`` would give, bit for bit. Pass 2 folds the loss derivative into the small operand,
    :math:`\nabla_{W_j} R = s_j \bigl(1(H > 0)^\top (g \odot X)\bigr)_j`, then updates and
    projects each worker's rows. No ``n x M`` array of floats goes to main memory. With numba
    installed, each pass is one compiled call per worker for all its blocks, the products
    included (:func:`ntkdistill._fast.compiled.neurons_forward`, :func:`~ntkdistill._fast.compiled.neurons_backward`:
    ``np.dot`` on SciPy's BLAS, no Python work between blocks); pass 1 computes
    :math:`s_j \max(0, H_{ij})` as written (a ``-inf`` pre-activation gives 0 there and NaN in the
    NumPy pass; NaN stays NaN in both).

With numba, in both strategies, the update and projection of each row is one compiled pass
(:func:`ntkdistill._fast.compiled.update_rows`, or :func:`~ntkdistill._fast.compiled.update_sum` with the
sum of the workers' gradients), and so are the risk and the error of every network
(:func:`risk_sums`: the softplus's exponential and logarithm by NumPy's vectorised ``exp`` and
``log1p``, then :func:`ntkdistill._fast.compiled.risk_err`; rows split among the workers when there
are at least ``_RISK_PARALLEL_MIN`` logits, and always in the single hand-over of strategy
"rows" with the BLAS products).

Both strategies run their blocks on a thread pool with as many workers as the BLAS has threads
(NumPy and the BLAS release the GIL; blocks are large enough that each call runs long next to
the time a thread waits for the GIL between calls), with the BLAS limited to one thread
meanwhile (threadpoolctl), and fall back to one worker when threadpoolctl is absent, the BLAS
has one thread, or the problem is small. Blocks are split among the workers in a fixed way and
partial sums are added in a fixed order, so a run is reproducible bit for bit for a given thread
count.

Exact zero at the symmetric initialisation: a pair of rows that are bitwise equal (``W_j = W_{j+h}``,
true for every pair at :math:`W(0)`) gets bitwise equal pre-activations (copied, whatever the BLAS
does), and the two neurons of a pair are subtracted before the sum over neurons (as in
``PGDResult.predict``), so :math:`f(W(0)) = 0` exactly and every tie counts as an error (E6).
"""

from __future__ import annotations

import contextlib

import numpy as np
from scipy.special import expit

from ..losses import _neg_entropy, kl_loss, logistic_loss
from . import compiled as _compiled
from .options import current
from .threads import blas_controller, blas_threads

__all__: list[str] = []

# The constants below decide the path and the block sizes from the shape and dtype alone, never
# from the thread count; the measurements behind each are in benchmarks/README.md ("The engine's
# constants").

# below this many multiply-adds per product, one worker (thread start-up would dominate)
_PARALLEL_MIN_FLOPS = 4_000_000
# NumPy engine: a block of neuron pairs' (2, b, n) pre-activations, and a block of rows of X,
# about this many bytes (in the caches, with calls long enough for the Python work between them)
_NEURON_BLOCK_BYTES = 1536 * 1024
_ROW_BLOCK_BYTES = 3 * 1024 * 1024
# compiled loops: no Python work between blocks, so smaller neuron blocks; a block of rows' H_b
# about this many bytes, 128 to 1024 rows (the backward product's inner dimension)
_NEURON_BLOCK_BYTES_COMPILED = 1024 * 1024
_ROW_BLOCK_BYTES_COMPILED = 16 * 1024 * 1024
# compiled loops: strategy "rows" from this many rows on (the backward product's inner dimension
# is the rows of a block)
_ROWS_MIN_N = 1000
# the compiled risk pass on the worker threads from this many logits (n K) on
_RISK_PARALLEL_MIN = 50_000
# the compiled rows loop for at most this many stacked neurons, at least this many features per
# neuron, and weights plus one worker's gradient (2 M d entries) within this many bytes: its tiles'
# fixed costs do not shrink with d, and the weights must stay in cache while every tile passes
_FUSED_MAX_NEURONS = 16
_FUSED_FEATURES_PER_NEURON = 16
_FUSED_MAX_BYTES = 512 * 1024
# rows of the workers' gradients summed at a time by the compiled update
_UPDATE_CHUNK = 64
# the folded transposed layout when every network has at least this many pairs (its backward
# product is one product per half-network)
_FOLD_MIN_PAIRS = 64
# rows of logits per chunk of the risk pass: its softplus logarithms, (rows, K), about this many
# bytes, in cache between NumPy's exp and log1p and the compiled pass
_RISK_CHUNK_BYTES = 128 * 1024


def risk_sums(f, lo, hi, tgt, y, ent, kl, L, sums, errs):
    r"""Add the surrogate losses and errors of the rows ``[lo, hi)`` of the logits ``f`` (n, K).

    The softplus's exponential and logarithm, :math:`\ln(1 + e^{-|u|})` with :math:`u = f`
    (``kl``) or :math:`u = t f` (hard labels), by NumPy's vectorised ``exp`` and ``log1p`` on
    chunks of rows in ``L`` (scratch, (rows, K), dtype of ``f``), the rest by one compiled pass
    per chunk (:func:`ntkdistill._fast.compiled.risk_err`, which says what ``tgt``, ``y``, ``ent``,
    ``sums`` and ``errs`` are): about ten times faster than a compiled loop calling the scalar
    ``exp`` and ``log1p`` (benchmarks/README.md).
    """
    rows = L.shape[0]
    with np.errstate(under="ignore"):  # exp(-|u|) underflows to 0 for large |u|, as it should
        for a in range(lo, hi, rows):
            b = min(a + rows, hi)
            u = L[: b - a]
            if kl:
                np.abs(f[a:b], out=u)
            else:
                np.multiply(f[a:b], tgt[a:b, None], out=u)
                np.abs(u, out=u)
            np.negative(u, out=u)
            np.exp(u, out=u)
            np.log1p(u, out=u)
            _compiled.risk_err(f, u, a, b, (tgt, y, ent, kl, f.dtype.type(0)), sums, errs)


def _split(count, parts):
    """``parts`` contiguous ranges covering ``range(count)`` as evenly as possible."""
    edges = np.linspace(0, count, parts + 1).round().astype(int)
    return [(int(edges[i]), int(edges[i + 1])) for i in range(parts)]


class Engine:
    r"""The fast PGD step for the networks of one :class:`~ntkdistill.pgd._Stack` (private).

    Use as a context manager, which starts and stops its worker threads (outside one, or with one
    worker, everything runs on the calling thread); each call holds the BLAS at one thread while
    the workers run and restores it afterwards::

        with Engine(X, tgt, y, st, loss, eta, radius) as eng:
            risk, err, dist = eng.step(W)      # risk/error at W, then W updated in place
            risk, err = eng.evaluate(W)        # risk/error only

    ``radius`` is the per-row radius :math:`B/\sqrt{m}` (shape (M,), dtype of ``X``) or None for
    :math:`B = \infty`; ``workers``, ``strategy``, ``block``, ``compiled`` (False: NumPy and the
    BLAS only) and ``fused`` (strategy "rows" with numba: True the compiled rows loop, False the
    BLAS products with the compiled pass; True elsewhere is a ``ValueError``, False a no-op)
    override the automatic choices. Attributes ``strategy``, ``compiled`` (numba loops in use)
    and ``fused`` say what was chosen.
    """

    def __init__(self, X, tgt, y, st, loss, eta, radius=None, *, options=None):
        opts = current() if options is None else options
        dt = X.dtype
        self.dt = dt
        self.X = X
        self.n, self.d = X.shape
        self.loss = loss
        # own copies (n entries): contiguous and writable, one compiled variant whatever the input
        self.tgt = np.array(tgt, dtype=dt, order="C")
        self.y = np.array(y, dtype=dt, order="C")
        self.st = st
        self.K = st.K
        self.h = st.h
        self.M = 2 * st.h
        self.W0 = st.W0
        self.eta = dt.type(eta)
        self.inv_n = dt.type(1.0 / self.n)
        self.zero = dt.type(0)
        self.radius = radius  # (M,) in dtype, or None
        # S1[j, k] = s1_j if neuron j belongs to network k (the segment sum as a product)
        self.S1 = np.zeros((self.h, self.K), dtype=dt)
        self.S1[np.arange(self.h), st.owner] = st.s1
        self.S2 = np.zeros((self.h, self.K), dtype=dt)
        self.S2[np.arange(self.h), st.owner] = st.s2
        self.paired = bool(st.paired)
        self.s = np.concatenate([st.s1, st.s2])
        self._same = None
        self._same_of = None

        strategy, compiled, fused = opts.strategy, opts.compiled, opts.fused
        numba_on = _compiled.AVAILABLE and compiled is not False
        if strategy is None:
            narrow = self.h / self.K < 32
            # with numba, strategy "rows" (BLAS products, compiled pass) also wins on many rows
            rows = self.M <= self.d or narrow or (numba_on and self.n >= _ROWS_MIN_N)
            strategy = "rows" if rows else "neurons"
        if strategy not in ("rows", "neurons"):
            raise ValueError(f"strategy == {strategy!r}, must be 'rows' or 'neurons'.")
        self.strategy = strategy
        # the compiled loops: the strategy's, the update, the risk and the error
        self.compiled = numba_on
        self.fused = False
        if fused and not (strategy == "rows" and self.compiled):
            raise ValueError(
                f"fused == {fused!r} needs strategy 'rows' with the compiled loops (numba installed, compiled not "
                f"False); here strategy == {strategy!r} and the compiled loops are {'on' if numba_on else 'off'}."
            )
        if strategy == "rows" and self.compiled:
            # the compiled rows loop keeps W and one worker's gradient in cache, and reads X in place;
            # with more neurons, the BLAS products and the compiled pass between them
            if fused is None:
                few = self.M <= min(_FUSED_MAX_NEURONS, self.d / _FUSED_FEATURES_PER_NEURON)
                fused = few and 2 * self.M * self.d * dt.itemsize <= _FUSED_MAX_BYTES
            self.fused = bool(fused)
            if not X.flags.c_contiguous:
                X = self.X = np.ascontiguousarray(X)  # one copy: blocks of rows of X contiguous
        if self.compiled:
            self._ones = np.ones(self.M, dtype=dt)  # the update's scale and radius where there is none
            # the constant term of the KL loss per point, for the compiled risk (unused for logistic)
            self._ent = _neg_entropy(self.tgt) if loss == "kl" else np.zeros(self.n, dtype=dt)

        flops = self.n * self.d * self.M
        self._ctl = None
        workers = opts.workers
        if workers is None:
            if flops < _PARALLEL_MIN_FLOPS:
                workers = 1
            else:
                self._ctl = blas_controller()
                workers = blas_threads(self._ctl) if self._ctl is not None else 1
        self.workers = max(1, int(workers))
        block = opts.block
        isz = dt.itemsize
        if strategy == "rows":
            if block is None and self.compiled and not self.fused:
                # blocks of H_b about _ROW_BLOCK_BYTES_COMPILED, of enough rows for the backward
                # product's inner dimension (each block's product is added into the worker's gradient)
                block = int(np.clip(_ROW_BLOCK_BYTES_COMPILED // (self.M * isz), 128, 1024))
                # no larger than a worker's share of the rows (at least 128): a block of more rows
                # would leave workers idle (n = 1000 on two workers: 500 rows each, not one of 1000)
                block = min(block, max(128, -(-self.n // self.workers)))
            if block is None:
                # X_b about _ROW_BLOCK_BYTES; at least 2 M rows, so that adding each block's
                # (M, d) gradient stays small next to its products
                rows = _ROW_BLOCK_BYTES // (max(self.M, self.d) * isz)
                block = int(np.clip(max(rows, 2 * self.M), 16, 4096))
            self._setup_rows(int(block), opts.fold)
        else:
            if block is None:
                if self.compiled:  # no Python work between blocks: smaller ones, in the L2 of a core
                    block = int(np.clip(_NEURON_BLOCK_BYTES_COMPILED // (2 * self.n * isz), 32, 256))
                else:
                    block = int(np.clip(_NEURON_BLOCK_BYTES // (2 * self.n * isz), 64, 512))
            self._setup_neurons(int(block))
        # rows per worker of the compiled risk pass (one worker for few logits: the hand-over to
        # the threads would take longer than the pass)
        split = opts.split_risk
        if split is None:
            split = self.n * self.K >= _RISK_PARALLEL_MIN
        self._risk_ranges = _split(self.n, self.workers if split else 1)
        chunk = max(1, min(self.n, _RISK_CHUNK_BYTES // (self.K * dt.itemsize)))
        self._risk_L = [np.empty((chunk, self.K), dtype=dt) for _ in range(max(self.workers, len(self._risk_ranges)))]
        self._pool = None
        if self.compiled:  # not in the first step (update_sum: a variant per number of workers it sums)
            sums = strategy == "rows" and not self.fused
            readonly = self.fused and not X.flags.writeable
            _compiled.warm_up(dt, readonly_x=readonly, workers=self.workers if sums else 1)

    # ------------------------------------------------------------------ context management
    def __enter__(self):
        if self.workers > 1 and self._pool is None:
            from concurrent.futures import ThreadPoolExecutor

            if self._ctl is None:
                self._ctl = blas_controller()
            self._pool = ThreadPoolExecutor(max_workers=self.workers - 1, thread_name_prefix="ntkdistill-pgd")
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    def close(self):
        """Stop the worker threads (the engine still works afterwards, on one thread)."""
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None

    def _one_blas_thread(self):
        """Context holding the BLAS at one thread while the workers run (a no-op without them)."""
        if self._pool is None or self._ctl is None:
            return contextlib.nullcontext()
        return self._ctl.limit(limits=1)

    def _parallel(self, fn):
        """Run ``fn(w)`` for every worker, worker 0 on the calling thread.

        Returns when every worker has finished. If any raised, raises the first error in worker
        order.
        """
        if self._pool is None:
            for w in range(self.workers):
                fn(w)
            return
        futures = [self._pool.submit(fn, w) for w in range(1, self.workers)]
        errors = []
        try:
            fn(0)
        except BaseException as exc:  # KeyboardInterrupt too: the workers are waited for first
            errors.append(exc)
        errors += [exc for exc in (fut.exception() for fut in futures) if exc is not None]
        if errors:
            raise errors[0]

    # ------------------------------------------------------------------ shared pieces
    def _same_pairs(self, W):
        """Bool (h,): pairs whose two rows are bitwise equal (all of them at W(0)).

        On the array the previous call saw (the weights being trained), only pairs that were
        equal then are checked again: once the two rows of a pair differ they stay different
        (barring an exact coincidence, in which case the BLAS computes the two equal rows
        separately, as at any other pair).
        """
        h = self.h
        same = self._same
        if same is None or self._same_of is not W:
            same = np.all(W[:h] == W[h:], axis=1)
        else:
            idx = np.flatnonzero(same)
            if idx.size:
                same = same.copy()
                same[idx] = np.all(W[idx] == W[h + idx], axis=1)
        self._same = same
        self._same_of = W
        return same

    def _risk_err(self, f):
        """Per-network surrogate risk and classification error at logits f (n, K).

        With numba, one compiled pass over ``f``, on the workers (rows split among them, partial
        sums added in worker order) when there are at least ``_RISK_PARALLEL_MIN`` logits, else
        on the calling thread; without numba, :func:`~ntkdistill.losses.kl_loss` or
        :func:`~ntkdistill.losses.logistic_loss` on the whole array.
        """
        if self.compiled:
            parts = len(self._risk_ranges)
            sums = np.zeros((parts, self.K))
            errs = np.zeros((parts, self.K), dtype=np.int64)
            kl = self.loss == "kl"

            def work(w):
                lo, hi = self._risk_ranges[w]
                risk_sums(f, lo, hi, self.tgt, self.y, self._ent, kl, self._risk_L[w], sums[w], errs[w])

            if parts > 1:
                self._parallel(work)
            else:
                work(0)
            return sums.sum(axis=0) / self.n, errs.sum(axis=0) / self.n
        t = self.tgt[:, None]
        if self.loss == "kl":
            vals = kl_loss(t, f)
        else:
            vals = logistic_loss(t, f)
        risk = vals.sum(axis=0, dtype=np.float64) / self.n
        err = np.count_nonzero(self.y[:, None] * f <= 0, axis=0) / self.n
        return risk, err

    def _dloss(self, f, out, rows):
        """``out = l'(f) / n`` for the rows ``rows`` of the data (f and out of shape (b, K))."""
        t = self.tgt[rows, None]
        if self.loss == "kl":
            expit(f, out=out)
            out -= t
            out *= self.inv_n
        else:
            np.multiply(f, t, out=out)
            np.negative(out, out=out)
            expit(out, out=out)
            out *= t
            out *= -self.inv_n
        return out

    def _update(self, W, grad, rows, dist, diff, scale=None):
        """``W[rows] -= eta scale grad`` then project each row onto its ball; its distance to W(0) into dist.

        ``scale`` (rows,) multiplies each row of ``grad`` first (None: 1). With the compiled loops,
        one pass per row (:func:`ntkdistill._fast.compiled.update_rows`); else a few NumPy calls.
        """
        if self.compiled:
            if scale is None:
                scale = self._ones[rows]
            radius = self._ones if self.radius is None else self.radius
            _compiled.update_rows(W[rows], self.W0[rows], grad, scale, self.eta, radius[rows], self.radius is not None,
                                  dist[rows])  # fmt: skip
            return
        if scale is not None:
            grad *= scale[:, None]
        Wr = W[rows]
        grad *= self.eta
        Wr -= grad
        np.subtract(Wr, self.W0[rows], out=diff)
        dr = dist[rows]
        np.einsum("ij,ij->i", diff, diff, out=dr)
        np.sqrt(dr, out=dr)
        if self.radius is not None:
            r = self.radius[rows]
            outside = dr > r
            if outside.any():
                idx = np.flatnonzero(outside)
                factor = r[idx] / dr[idx]
                Wr[idx] = self.W0[rows][idx] + diff[idx] * factor[:, None]
                dr[idx] = r[idx]

    # ------------------------------------------------------------------ strategy "rows"
    def _setup_rows(self, block, fold):
        dt, M, d, K = self.dt, self.M, self.d, self.K
        self._starts = np.append(self.st.starts, self.h).astype(np.intp)  # each network's first pair, then h
        # the BLAS products with the compiled pass: transposed for M <= d (the orientation the BLAS
        # runs faster for such shapes); folded (transposed, one pass over H instead of two) for
        # M > d in float32 with wide networks; measurements in benchmarks/README.md
        blas = self.compiled and not self.fused
        if fold is None:
            wide = np.diff(self._starts).min() >= _FOLD_MIN_PAIRS
            fold = wide and M > d and dt == np.float32
        self._folded = blas and bool(fold)
        self._transposed = blas and (M <= d or self._folded)
        block = max(1, min(block, self.n))
        if self.fused:  # tiles of four rows, each worker one range of rows
            block = 4
        self.block = block
        self.workers = min(self.workers, -(-self.n // block))
        self.owner = np.ascontiguousarray(self.st.owner, dtype=np.intp)
        self.ranges = _split(self.n, self.workers)
        self._update_ranges = _split(M, self.workers)
        self.S = np.concatenate([self.S1, self.S2]).T.copy()  # (K, M): g @ S = g[:, owner] * s
        self.F = np.empty((self.n, K), dtype=dt)
        self.WT = np.empty((d, M), dtype=dt)
        self.grad = np.empty((M, d), dtype=dt)
        self.diff = np.empty((M, d), dtype=dt)
        self.dist = np.empty(M, dtype=dt)
        self.scratch = [
            {
                "H": np.empty((block, M), dtype=dt),
                "Mf": np.empty((block, M), dtype=dt),
                "G": np.empty((block, M), dtype=dt),
                "g": np.empty((block, K), dtype=dt),
                "acc": np.empty((M, d), dtype=dt),
                "tmp": np.empty((M, d), dtype=dt),
                "H4": np.empty((4, M), dtype=dt),
                "G4": np.empty((4, M), dtype=dt),
                # the compiled pass between BLAS products: the gradient transposed, (d, M)
                "accT": np.empty((d, M), dtype=dt),
                "tmpT": np.empty((d, M), dtype=dt),
                "HT": np.empty(M * block, dtype=dt),
                "v": np.empty(block, dtype=dt),
                # the folded backward: the loss derivatives of each network, g X_b
                "gT": np.empty((K, block), dtype=dt),
                "gX": np.empty((block, d), dtype=dt),
            }
            for _ in range(self.workers)
        ]
        # the workers' gradients for the compiled update, each way round, and its rows' scratch
        # (allocated after the buffers above, which it would otherwise displace: the placement of
        # the workers' buffers changed shape a's step by 7%)
        self._parts = tuple(sc["acc"] for sc in self.scratch)
        self._partsT = tuple(sc["accT"] for sc in self.scratch)
        self._gchunk = [np.empty((_UPDATE_CHUNK, d), dtype=dt) for _ in range(self.workers)]

    def _rows_work(self, w, backward, same_idx):
        sc = self.scratch[w]
        lo, hi = self.ranges[w]
        h, X, z = self.h, self.X, self.zero
        acc = sc["acc"]
        if backward:
            acc.fill(0)
        for i in range(lo, hi, self.block):
            j = min(i + self.block, hi)
            b = j - i
            Xb = X[i:j]
            H = sc["H"][:b]
            np.matmul(Xb, self.WT, out=H)
            if same_idx.size:
                H[:, h + same_idx] = H[:, same_idx]
            Mf = sc["Mf"][:b]
            np.greater(H, z, out=Mf)
            np.multiply(H, Mf, out=H)  # relu
            Fb = self.F[i:j]
            if self.paired:
                D = H[:, :h]
                np.subtract(D, H[:, h:], out=D)  # paired neurons first: exact zero at W(0)
                np.matmul(D, self.S1, out=Fb)
            else:  # general output signs (an explicit init): relu(H) s, segment by segment
                np.matmul(H, self.S.T, out=Fb)
            if backward:
                g = self._dloss(Fb, sc["g"][:b], slice(i, j))
                G = sc["G"][:b]
                np.matmul(g, self.S, out=G)  # g[:, owner] * s (one nonzero per column: exact)
                G *= Mf
                np.matmul(G.T, Xb, out=sc["tmp"])
                acc += sc["tmp"]

    def _rows_blas_compiled(self, w, W, backward, same_idx):
        # per block: the forward product, the compiled pass (logits, loss derivative, G in place
        # of H) and the backward product added into the worker's gradient; transposed for few
        # neurons and many features (H^T = W X_b^T, acc (M, d) += G^T X_b), else H = X_b W^T and
        # accT (d, M) += X_b^T G: the orientations the BLAS runs fastest for such shapes. Folded:
        # transposed, the mask in place of H^T and acc += 1(H^T > 0) (g X_b) (without s)
        sc = self.scratch[w]
        lo, hi = self.ranges[w]
        X, M = self.X, self.M
        loss = (self.tgt, self.loss == "kl", self.inv_n, self.zero)
        acc, tmp = (sc["acc"], sc["tmp"]) if self._transposed else (sc["accT"], sc["tmpT"])
        first = True
        for i in range(lo, hi, self.block):
            j = min(i + self.block, hi)
            Xb = X[i:j]
            if self._transposed:
                H = sc["HT"][: M * (j - i)].reshape(M, j - i)
                np.matmul(W, Xb.T, out=H)
                if self._folded and backward:
                    _compiled.rows_mask_t(H, i, (self.s, self._starts, same_idx, self.paired), loss, self.F, sc["gT"])
                else:  # the two passes, or the logits alone (the same pass as the folded one's)
                    _compiled.rows_middle_t(H, i, (self.s, self._starts, same_idx, self.paired), loss, backward,
                                            self.F, sc["v"])  # fmt: skip
            else:
                H = sc["H"][: j - i]
                np.matmul(Xb, W.T, out=H)
                _compiled.rows_middle(H, i, (self.s, self._starts, self.owner, same_idx, self.paired), loss, backward,
                                      self.F, sc["g"][0])  # fmt: skip
            if backward:
                out = acc if first else tmp
                if self._folded:
                    self._folded_backward(sc, H, Xb, out)
                elif self._transposed:
                    np.matmul(H, Xb, out=out)
                else:
                    np.matmul(Xb.T, H, out=out)
                if not first:
                    acc += tmp
                first = False
        if backward and first:  # no rows
            acc.fill(0)

    def _folded_backward(self, sc, mask, Xb, out):
        # out (M, d) = 1(H^T > 0) (g X_b) for every network (its two halves), without the output
        # weights (the update applies them): one product when there is one network
        b = Xb.shape[0]
        gX = sc["gX"][:b]
        h, st = self.h, self._starts
        for k in range(self.K):
            np.multiply(Xb, sc["gT"][k, :b, None], out=gX)
            if self.K == 1:  # both halves in one product
                np.matmul(mask, gX, out=out)
            else:
                a, e = st[k], st[k + 1]
                np.matmul(mask[a:e], gX, out=out[a:e])
                np.matmul(mask[h + a : h + e], gX, out=out[h + a : h + e])

    def _rows_update_split(self, w, W):
        # worker w: the sum of the workers' gradients (transposed or not) on its share of the
        # neurons, in worker order as in the other paths, and their update, in one compiled pass
        a, b = self._update_ranges[w]
        if a == b:
            return
        radius = self._ones if self.radius is None else self.radius
        # the engine's transposed layout keeps its gradients as (M, d): update_sum's untransposed
        parts = self._parts if self._transposed else self._partsT
        scale = self.s if self._folded else self._ones  # the output weights, unless in the gradients
        step = (self.eta, scale, radius, self.radius is not None)
        _compiled.update_sum(W, self.W0, parts, not self._transposed, a, b, step, self.dist, self._gchunk[w])

    def _rows_fused(self, w, W, backward, same):
        sc = self.scratch[w]
        lo, hi = self.ranges[w]
        acc = sc["acc"]
        if backward:
            acc.fill(0)
        net = (self.s, self.owner, same, self.paired)
        loss = (self.tgt, self.loss == "kl", self.inv_n, self.zero)
        _compiled.rows_fused(self.X, lo, hi, W, net, loss, backward, self.F, acc, (sc["H4"], sc["G4"]))

    def _rows_pass(self, W, backward):
        same = self._same_pairs(W)
        if self.fused:
            if not W.flags.c_contiguous:
                W = np.ascontiguousarray(W)
            self._parallel(lambda w: self._rows_fused(w, W, backward, same))
            return self.F
        same_idx = np.flatnonzero(same)
        if self.compiled:  # the BLAS reads W^T as a transposed view
            if not W.flags.c_contiguous:
                W = np.ascontiguousarray(W)
            self._parallel(lambda w: self._rows_blas_compiled(w, W, backward, same_idx))
            return self.F
        np.copyto(self.WT, W.T)
        self._parallel(lambda w: self._rows_work(w, backward, same_idx))
        return self.F

    def _rows_step(self, W):
        f = self._rows_pass(W, backward=True)
        risk, err = self._risk_err(f)
        if self.compiled and not self.fused:  # the workers' gradients summed and applied on the workers
            self._parallel(lambda w: self._rows_update_split(w, W))
            return risk, err, self.dist
        grad = self.grad
        np.copyto(grad, self.scratch[0]["acc"])
        for sc in self.scratch[1:]:
            grad += sc["acc"]
        self._update(W, grad, slice(0, self.M), self.dist, self.diff)
        return risk, err, self.dist

    # ------------------------------------------------------------------ strategy "neurons"
    def _setup_neurons(self, block):
        dt, n, d, K, h = self.dt, self.n, self.d, self.K, self.h
        st = self.st
        # blocks of neuron pairs that never cross a network boundary
        blocks = []
        ends = np.append(st.starts[1:], h)
        for k in range(K):
            a, e = int(st.starts[k]), int(ends[k])
            parts = max(1, -(-(e - a) // block))
            for lo, hi in _split(e - a, parts):
                blocks.append((a + lo, a + hi, k))
        self.block = max(hi - lo for lo, hi, _ in blocks)
        self.workers = min(self.workers, len(blocks))
        # contiguous runs of blocks per worker, balanced by neuron count
        sizes = np.array([hi - lo for lo, hi, _ in blocks])
        cum = np.concatenate([[0], np.cumsum(sizes)])
        cuts = np.searchsorted(cum, np.linspace(0, cum[-1], self.workers + 1)[1:-1])
        bounds = [0, *[int(c) for c in cuts], len(blocks)]
        self.assign = [blocks[bounds[w] : bounds[w + 1]] for w in range(self.workers)]
        # the pairs [lo, hi) of each worker (contiguous; empty when it has no block)
        self.span = [(a[0][0], a[-1][1]) if a else (0, 0) for a in self.assign]
        self._blocks = [np.array(a, dtype=np.intp).reshape(-1, 3) for a in self.assign]  # for the compiled loops
        self.XT = np.ascontiguousarray(self.X.T)
        self.hs1 = st.s1 * dt.type(0.5)  # exact: a power of two
        self.hs2 = st.s2 * dt.type(0.5)
        # (2, h, .) views: [0] the first halves, [1] the matching second halves, so that one call
        # handles a block of pairs (fewer, larger calls: the threads queue less for the GIL)
        self.mask = np.empty((2, h, n), dtype=bool)
        self.gX = np.empty((K, n, d), dtype=dt)
        self.grad = np.empty((2 * h, d), dtype=dt)
        self.dist = np.empty(2 * h, dtype=dt)
        self.diff = np.empty((2 * h, d), dtype=dt)
        self.F = np.empty((n, K), dtype=dt)
        self.scratch = [
            {
                "AB": np.empty((2, self.block, n), dtype=dt),
                "C": np.empty((2, self.block, n), dtype=dt),
                "v": np.empty(n, dtype=dt),
                "u": np.empty(n, dtype=dt),
                "fT": np.empty((K, n), dtype=dt),
            }
            for _ in range(self.workers)
        ]

    def _neurons_forward(self, w, W, same):
        sc = self.scratch[w]
        h, XT, z = self.h, self.XT, self.zero
        fT = sc["fT"]
        fT.fill(0)
        v, u = sc["v"], sc["u"]
        if self.compiled:  # the products and pass 1 of every block in one compiled call
            AB = sc["AB"]
            net = (self.st.s1, self.st.s2, self.paired, same, z)
            _compiled.neurons_forward(W, XT, self._blocks[w], net, (self.mask[0], self.mask[1]), (AB[0], AB[1], v), fT)
            return
        W2 = W.reshape(2, h, -1)
        for lo, hi, k in self.assign[w]:
            b = hi - lo
            AB = sc["AB"][:, :b]
            C = sc["C"][:, :b]
            # two products of the same shape (a stacked matmul), one per half
            np.matmul(W2[:, lo:hi], XT, out=AB)
            sb = same[lo:hi]
            if sb.any():
                AB[1, sb] = AB[0, sb]
            np.greater(AB, z, out=self.mask[:, lo:hi])
            # 2 relu(h) = h + |h| exactly (np.maximum is slower: it handles NaN), and the 1/2
            # sits in the vectors s/2 (exact, a power of two): every term s_j relu(h) is the one
            # np.maximum would give, bit for bit, and inactive neurons add exact zeros
            np.abs(AB, out=C)
            AB += C
            if self.paired:
                D = AB[0]
                D -= AB[1]  # pair by pair first: exactly 0 for equal pairs
                np.matmul(self.hs1[lo:hi], D, out=v)
            else:
                np.matmul(self.hs1[lo:hi], AB[0], out=v)
                np.matmul(self.hs2[lo:hi], AB[1], out=u)
                v += u
            fT[k] += v

    def _neurons_backward(self, w, W):
        sc = self.scratch[w]
        h = self.h
        if self.compiled:  # the masks as numbers and the products of every block in one compiled call
            _compiled.neurons_backward(self.mask[0], self.mask[1], self.gX, self._blocks[w], sc["AB"][0], self.grad)
        else:
            grad2 = self.grad.reshape(2, h, -1)
            for lo, hi, k in self.assign[w]:
                Mf = sc["AB"][:, : hi - lo]
                np.copyto(Mf, self.mask[:, lo:hi])
                np.matmul(Mf, self.gX[k], out=grad2[:, lo:hi])
        # the update of the worker's rows, in two pieces (one per half) rather than block by
        # block: few large calls, so that the threads do not queue for the GIL
        lo, hi = self.span[w]
        for off in (0, h):
            rows = slice(off + lo, off + hi)
            self._update(W, self.grad[rows], rows, self.dist, self.diff[rows], scale=self.s[rows])

    def _neurons_f(self, W):
        same = self._same_pairs(W)
        if self.compiled and not W.flags.c_contiguous:
            W = np.ascontiguousarray(W)  # the compiled loop's products take contiguous rows
        self._parallel(lambda w: self._neurons_forward(w, W, same))
        F = self.F
        np.copyto(F, self.scratch[0]["fT"].T)
        for sc in self.scratch[1:]:
            F += sc["fT"].T
        return F

    def _neurons_step(self, W):
        f = self._neurons_f(W)
        risk, err = self._risk_err(f)
        g = self._dloss(f, np.empty_like(f), slice(None))
        np.multiply(self.X[None, :, :], g.T[:, :, None], out=self.gX)
        self._parallel(lambda w: self._neurons_backward(w, W))
        return risk, err, self.dist

    # ------------------------------------------------------------------ public face
    def step(self, W):
        """Risk and error at ``W`` (stacked), then one PGD step on ``W`` in place.

        Returns ``(risk (K,), error (K,), dist (M,))`` with ``dist`` each row's distance to
        ``W(0)`` after the step (a view into a buffer that the next step overwrites).
        """
        with self._one_blas_thread():
            if self.strategy == "rows":
                return self._rows_step(W)
            return self._neurons_step(W)

    def forward(self, W):
        """Logits (n, K) at ``W`` (a view into a buffer that the next call overwrites)."""
        with self._one_blas_thread():
            if self.strategy == "rows":
                return self._rows_pass(W, backward=False)
            return self._neurons_f(W)

    def evaluate(self, W):
        """Risk and error (K,) at ``W`` without a step."""
        return self._risk_err(self.forward(W))
