r"""The NTK margin :math:`\gamma` of Assumption 1, with a certified confidence interval.

.. math::

    \gamma = \sup_{\|v(z)\| \le 1}\ \min_i\ y_i\, \mathbb{E}_z\langle v(z), \phi_{x_i}(z)\rangle
           = \min_{q \in \Delta_n}\ \mathbb{E}_z \Big\| \sum_i q_i y_i 1(\langle z, x_i\rangle > 0)\, x_i \Big\|_2,
    \qquad z \sim N(0, I_d)

(THEORY.md, "Margin"; the dual by Sion's minimax theorem, with maximiser
:math:`v^*(z) = g(z) / \|g(z)\|`, :math:`g(z) = \sum_i q^*_i y_i 1(\langle z, x_i\rangle > 0) x_i`).

:func:`margin` minimises the dual on a fixed Monte Carlo sample of directions and then certifies
the answer on fresh directions: the dual weights ``q`` give an upper confidence bound and the
field ``v`` built from them a lower one. :func:`kernel_margin_bound` is the deterministic bound
:math:`\gamma \le \sqrt{\min_q q^\top Q q}`.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING

import numpy as np

from . import _guards, _results
from ._fast import field_sums, mean_and_stderr, ordered_map, scratch
from ._validation import (
    _short,
    check_int,
    check_labels,
    check_matrix,
    check_norms,
    check_real,
    root_seed,
)
from .kernel import _gaussian_blocks, ntk_kernel

if TYPE_CHECKING:
    from ._typing import ArrayLike, SeedLike

__all__ = [
    "margin",
    "MarginResult",
    "MaxMarginField",
    "kernel_margin_bound",
]

_CACHE_BYTES = 256 * 2**20  # packed activation masks kept in memory up to this size
_FLOAT32_WORK = 2**24  # solver evaluations run in float32 when S * n * d exceeds this
_KERNEL_AUTO_N = 4096  # margin() computes the kernel bound by default up to this many points
_COARSE_MIN = 2048  # smallest sample of a coarse solver level
_PARALLEL_MIN_WORK = 2**22  # dual evaluations with fewer S * n * d multiply-adds run on one thread


# ----------------------------------------------------------------------------- input checks


def _check_data(X, y):
    """Validated (X, y, norms); raises on the cases where the margin is 0 or the theory does not apply."""
    X = check_matrix("X", X)
    y = check_labels("y", y, X.shape[0])
    norms = check_norms("X", X)
    zero = np.flatnonzero(norms == 0)
    if zero.size:
        raise ValueError(
            f"X has {zero.size} zero row(s) (first at index {int(zero[0])}); a zero input has feature "
            "phi_x(z) = 0 and makes the NTK margin 0. Remove it or add a bias coordinate "
            "(ntkdistill.datasets.add_bias, then scale_to_unit_ball)."
        )
    _check_parallel(X, y, norms)
    return X, y, norms


def _check_parallel(X, y, norms):
    """Raise if two inputs point in the same direction with opposite labels (then gamma = 0)."""
    U = np.asarray(X, dtype=np.float64) / norms[:, None]
    key = np.round(U, 9) + 0.0  # + 0.0 turns -0.0 into 0.0
    _, inverse, counts = np.unique(key, axis=0, return_inverse=True, return_counts=True)
    inverse = np.asarray(inverse).ravel()
    if counts.max() == 1:
        return
    for group in np.flatnonzero(counts > 1):
        members = np.flatnonzero(inverse == group)
        labels = y[members]
        if labels.min() != labels.max():
            i = int(members[labels > 0][0])
            j = int(members[labels < 0][0])
            raise ValueError(
                f"X[{i}] and X[{j}] point in the same direction but have opposite labels (y[{i}] = +1, "
                f"y[{j}] = -1). Their features phi_x(z) = 1(<z, x> > 0) x are parallel, so no v separates "
                "them and the NTK margin is exactly 0. Remove one of them, or add a bias coordinate "
                "(ntkdistill.datasets.add_bias) if they differ only in scale."
            )


def _seeds(rng, k):
    """``k`` independent SeedSequences derived from ``rng`` (SPEC 7)."""
    return root_seed(rng).spawn(k)


# ----------------------------------------------------------------------------- simplex solver


def _project_simplex(v):
    r"""Euclidean projection onto :math:`\{q \ge 0, \sum q = 1\}` (sort-based, O(n log n))."""
    u = np.sort(v)[::-1]
    css = np.cumsum(u) - 1.0
    ind = np.arange(1, v.size + 1)
    k = np.flatnonzero(u * ind > css)[-1]
    return np.maximum(v - css[k] / (k + 1), 0.0)


def _spg(fg, q, *, tol, max_iter, memory=10, done=None):
    """Spectral projected gradient (Birgin, Martinez, Raydan 2000) over the simplex.

    Minimises a convex ``f`` with ``fg(q) -> (f, g)`` until the Frank-Wolfe gap
    ``<g, q> - min_i g_i`` (an upper bound on ``f(q) - min f``) is at most ``tol``, or until
    ``done(q, g)`` is true. Returns ``q, f, g, gap, iterations, converged``.
    """
    F, g = fg(q)
    gap = float(q @ g - g.min())
    if done is not None and done(q, g):
        return q, float(F), g, gap, 0, True
    step = _project_simplex(q - g) - q
    alpha = 1.0 / max(float(np.abs(step).max()), 1e-12)
    history = [F]
    it = 0
    while gap > tol and it < max_iter:
        d = _project_simplex(q - alpha * g) - q
        gd = float(g @ d)
        if gd >= 0 or not np.any(d):
            break  # stationary to working precision
        ref = max(history[-memory:])
        lam = 1.0
        while True:
            qn = np.maximum(q + lam * d, 0.0)
            qn /= qn.sum()
            Fn, gn = fg(qn)
            if Fn <= ref + 1e-4 * lam * gd or lam < 1e-12:
                break
            # safeguarded quadratic interpolation of f along d
            curv = Fn - F - lam * gd
            lam_new = -gd * lam * lam / (2 * curv) if curv > 0 else 0.5 * lam
            lam = float(np.clip(lam_new, 0.1 * lam, 0.5 * lam))
        s = qn - q
        sy = float(s @ (gn - g))
        alpha = float(np.clip(s @ s / sy, 1e-12, 1e12)) if sy > 0 else 1e12
        q, F, g = qn, Fn, gn
        history.append(F)
        gap = float(q @ g - g.min())
        it += 1
        if done is not None and done(q, g):
            return q, float(F), g, gap, it, True
    return q, float(F), g, gap, it, gap <= tol


# ----------------------------------------------------------------------------- directions and the dual


class _Directions:
    """Activation masks 1(<z_s, x_i> > 0) of a fixed sample of Gaussian directions, in blocks.

    The masks are kept as packed bits when they fit in ``_CACHE_BYTES`` and are regenerated
    from the seed otherwise; prefixes of the sample serve the coarse solver levels.
    """

    def __init__(self, X, *, seed, total, dtype=np.float64):
        self.X = X
        self.n = X.shape[0]
        self.dtype = np.dtype(dtype)
        self.block = int(np.clip(2**21 // max(self.n, 1), 128, 4096))
        self.total = total
        self.seed = seed
        self._packed = None
        self._unique = {}
        if total * self.n / 8 <= _CACHE_BYTES:
            gen = np.random.default_rng(seed)
            Xw = np.asarray(X, dtype=self.dtype)
            self._packed = [
                np.packbits(Z @ Xw.T > 0, axis=1)
                for Z in _gaussian_blocks(gen, total, X.shape[1], self.block, self.dtype)
            ]

    def _distinct(self, count):
        """The distinct masks among the first ``count`` and their multiplicities, or None if not worth it."""
        if count not in self._unique:
            packed = np.concatenate(self._packed)[:count]
            rows = np.ascontiguousarray(packed).view(np.dtype((np.void, packed.shape[1]))).ravel()
            _, first, counts = np.unique(rows, return_index=True, return_counts=True)
            self._unique[count] = (packed[first], counts.astype(np.float64)) if first.size <= count // 2 else None
        return self._unique[count]

    def masks(self, count, dtype):
        """Yield ``(make, k)`` over the first ``count``: ``make()`` returns masks (b, n) as ``dtype``.

        ``k`` (b,) are multiplicities or None. When the sample has few distinct activation
        patterns (low dimension), each is given once with its multiplicity, which makes an
        evaluation proportionally cheaper. ``make`` may run on another thread; it returns a
        per-thread buffer that its next call overwrites.
        """
        n = self.n
        dtype = np.dtype(dtype)

        def unpack(P, rows):
            A = scratch.get("A", (self.block, n), dtype)[:rows]
            np.copyto(A, np.unpackbits(P, axis=1, count=n)[:rows])
            return A

        if self._packed is not None:
            distinct = self._distinct(count)
            if distinct is not None:
                packed, counts = distinct
                for s in range(0, packed.shape[0], self.block):
                    P = packed[s : s + self.block]
                    yield partial(unpack, P, P.shape[0]), counts[s : s + self.block]
                return
            done = 0
            for P in self._packed:
                if done >= count:
                    return
                rows = min(P.shape[0], count - done)
                done += rows
                yield partial(unpack, P, rows), None
            return
        gen = np.random.default_rng(self.seed)
        Xw = np.asarray(self.X, dtype=self.dtype)

        def compute(Z):
            A = scratch.get("A", (self.block, n), dtype)[: Z.shape[0]]
            np.greater(Z @ Xw.T, 0, out=A)
            return A

        for Z in _gaussian_blocks(gen, count, self.X.shape[1], self.block, self.dtype):
            yield partial(compute, Z), None


class _Dual:
    r"""The smoothed sample dual and its gradient, with the exact dual value alongside.

    .. math::

        F(q) = \frac1S\sum_s \|g_s\|,\qquad F_\epsilon(q) = \frac1S\sum_s \big(\sqrt{\|g_s\|^2 + \epsilon^2} - \epsilon\big),
        \qquad g_s = \sum_i q_i y_i A_{si} x_i,

    :math:`F_\epsilon \le F \le F_\epsilon + \epsilon`, and
    :math:`\partial_i F_\epsilon = \frac{y_i}{S} \sum_s A_{si} \langle v_\epsilon(z_s), x_i\rangle` with the
    field :math:`v_\epsilon = g / \sqrt{\|g\|^2 + \epsilon^2}` of norm below 1. A call returns
    :math:`(F_\epsilon, \nabla F_\epsilon)` and stores :math:`F(q)` in ``last_exact``.
    """

    def __init__(self, X, y, directions, dtype):
        self.dtype = np.dtype(dtype)
        self.X = np.asarray(X, dtype=self.dtype)
        self.y = np.asarray(y, dtype=np.float64)
        self.dirs = directions
        self.eps = 0.0
        self.last_exact = math.nan
        self.evaluations = 0

    def __call__(self, q, count=None):
        count = self.dirs.total if count is None else count
        dt = self.dtype
        D = (q * self.y).astype(dt)[:, None] * self.X
        eps2 = dt.type(self.eps * self.eps)
        eps = self.eps

        def block(item):
            make, k = item
            A = make()
            G = A @ D
            sq = np.einsum("ij,ij->i", G, G)
            se = np.sqrt(sq + eps2)
            U = G / np.where(se > 0, se, 1)[:, None]
            if k is None:
                ex = float(np.sqrt(sq).sum(dtype=np.float64))
                sm = float(se.sum(dtype=np.float64)) - eps * A.shape[0]
            else:
                ex = float(k @ np.sqrt(sq, dtype=np.float64))
                sm = float(k @ se.astype(np.float64)) - eps * float(k.sum())
                U *= k.astype(dt)[:, None]
            return ex, sm, A.T @ U

        # blocks on worker threads, their partial sums added in block order (reproducible for a
        # given thread count)
        exact = smooth = 0.0
        B = np.zeros_like(self.X)
        big = count * self.X.shape[0] * self.X.shape[1] >= _PARALLEL_MIN_WORK
        for ex, sm, Bb in ordered_map(block, self.dirs.masks(count, dt), parallel=big):
            exact += ex
            smooth += sm
            B += Bb
        exact /= count
        smooth /= count
        B /= dt.type(count)
        grad = self.y * np.einsum("ij,ij->i", B, self.X, dtype=np.float64)
        self.last_exact = exact
        self.evaluations += 1
        return smooth, grad


def _solve_dual(dual, q, *, tol, max_iter, count=None, scale=None):
    r"""Minimise the sample dual over the simplex by SPG on :math:`F_\epsilon`, lowering :math:`\epsilon`.

    Stops when the exact primal-dual gap :math:`F(q) - \min_i \partial_i F_\epsilon(q)` is at most
    ``tol`` (valid because :math:`v_\epsilon` has norm at most 1). At the minimiser of
    :math:`F_\epsilon` that gap is at most :math:`\epsilon` plus the smoothed Frank-Wolfe gap, so the
    loop ends once :math:`\epsilon \le` ``tol``/4. The first :math:`\epsilon` is 5% of ``scale``, an
    estimate of :math:`F(q)` (evaluated when not given). Returns ``q, F(q), grad, gap, iterations, eps``.
    """
    fg = lambda p: dual(p, count)

    def done(p, g):
        return dual.last_exact - float(g.min()) <= tol

    eps_min = tol / 4
    if scale is None:
        dual.eps = 0.0
        dual(q, count)
        scale = dual.last_exact
    dual.eps = max(eps_min, 0.05 * scale)
    total = 0
    while True:
        stage_tol = eps_min if dual.eps <= eps_min else dual.eps / 2
        q, _, g, _, it, _ = _spg(fg, q, tol=stage_tol, max_iter=max_iter - total, done=done)
        total += it
        gap = dual.last_exact - float(g.min())
        if gap <= tol or total >= max_iter or dual.eps <= eps_min:
            return q, dual.last_exact, g, gap, total, dual.eps
        dual.eps = max(eps_min, dual.eps / 10)


# ----------------------------------------------------------------------------- the maximiser v


class MaxMarginField:
    r"""The field :math:`v(z) = g(z) / \sqrt{\|g(z)\|^2 + \epsilon^2}` built from dual weights ``q``.

    .. math::

        g(z) = \sum_i q_i y_i 1(\langle z, x_i\rangle > 0)\, x_i,\qquad
        v(z) = \frac{g(z)}{\sqrt{\|g(z)\|^2 + \epsilon^2}},

    the maximiser :math:`v^* = g / \|g\|` of THEORY.md ("Margin") at :math:`\epsilon = 0`
    (with :math:`v = 0` where :math:`g = 0`). A small :math:`\epsilon > 0` is the smoothing
    that :func:`margin` solves with: where :math:`g` nearly vanishes it picks the interior
    subgradient, which the exact normalisation misses. Always :math:`\|v(z)\| \le 1`, so any such
    field certifies :math:`\gamma \ge \min_i y_i\,\mathbb{E}_z\langle v(z), \phi_{x_i}(z)\rangle`.

    Call it on a batch of directions: ``v(Z)`` with ``Z`` of shape (K, d) returns (K, d).

    Parameters
    ----------
    X : array_like, shape (n, d)
    y : array_like, shape (n,), labels in {-1, +1}
    q : array_like, shape (n,), weights on the simplex
    eps : float >= 0, default 0

    Examples
    --------
    >>> import numpy as np
    >>> v = MaxMarginField([[1.0, 0.0], [0.0, 1.0]], [1, -1], [0.5, 0.5])
    >>> v(np.array([[1.0, 1.0], [1.0, -1.0], [-1.0, -1.0]])).round(6).tolist()
    [[0.707107, -0.707107], [1.0, 0.0], [0.0, 0.0]]
    """

    def __init__(self, X: ArrayLike, y: ArrayLike, q: ArrayLike, eps: float = 0.0) -> None:
        X = check_matrix("X", X)
        y = check_labels("y", y, X.shape[0])
        q = np.asarray(q, dtype=np.float64)
        if q.shape != (X.shape[0],) or np.any(q < 0) or not np.isclose(q.sum(), 1.0):
            raise ValueError(f"q must be {X.shape[0]} non-negative weights summing to 1, got {_short(q)}.")
        self.eps = check_real("eps", eps, low=0.0, low_open=False)
        self.X = X
        self.y = y
        self.q = q
        self.d = X.shape[1]
        self._support = np.flatnonzero(q > 0)
        self._Xs = X[self._support]
        self._Ds = ((q * y)[self._support].astype(X.dtype))[:, None] * self._Xs
        self._block = int(np.clip(2**21 // max(X.shape[0], 1), 128, 4096))

    def _batch(self, Z, A=None):
        """``(V, ||g||)`` for a block ``Z``; ``A`` the full masks (b, n) when already computed."""
        if A is None:
            As = Z @ self._Xs.T > 0
        elif self._support.size == A.shape[1]:
            As = A
        else:
            As = A[:, self._support]
        G = As.astype(Z.dtype) @ self._Ds
        sq = np.einsum("ij,ij->i", G, G)
        se = np.sqrt(sq + Z.dtype.type(self.eps * self.eps))
        return G / np.where(se > 0, se, 1)[:, None], np.sqrt(sq)

    def _built_on(self, X):
        """Whether ``X`` is the data this field was built on (so that its masks are columns of X's)."""
        return X is self.X or (X.shape == self.X.shape and X.dtype == self.X.dtype and np.array_equal(X, self.X))

    def _with_masks(self, Z, A):
        """``(v(Z), None)`` from the full masks ``A`` (b, n): the form ``field_sums`` takes."""
        return self._batch(Z, A)[0], None

    def __call__(self, Z: ArrayLike) -> np.ndarray:
        Z = check_matrix("Z", Z, dtype=self.X.dtype)
        if Z.shape[1] != self.d:
            raise ValueError(f"Z has {Z.shape[1]} columns but the data have d = {self.d}; they must match.")
        out = np.empty_like(Z)
        for s in range(0, Z.shape[0], self._block):
            out[s : s + self._block] = self._batch(Z[s : s + self._block])[0]
        return out

    def __repr__(self):
        return f"MaxMarginField(n={self.X.shape[0]}, d={self.d}, support={self._support.size}, eps={self.eps:.3g})"


# ----------------------------------------------------------------------------- results


@dataclass(frozen=True, eq=False)
class MarginResult(_results.ResultMixin):
    r"""The NTK margin with its certificate (see :func:`margin`; THEORY.md, "Margin").

    .. math::

        P(\mathrm{lower} \le \gamma \le \mathrm{upper}) \ge 1 - \delta,\qquad
        \gamma \le \texttt{kernel\_bound}

    Attributes
    ----------
    gamma : float
        The estimate: the sample dual :math:`\hat F_S(q)` on the solver's ``n_samples`` directions.
    lower, upper : float
        Certified bounds from fresh directions: :math:`\mathrm{lower} \le \gamma \le \mathrm{upper}`
        with probability at least :math:`1 - \delta`. ``lower`` may be negative when the sample is
        too small to resolve :math:`\gamma`.
    q : ndarray, shape (n,)
        Dual weights on the simplex; the support vectors are the points with :math:`q_i > 0`.
    v : MaxMarginField
        The maximiser built from ``q``, a callable (K, d) -> (K, d) with :math:`\|v(z)\| \le 1`.
    gap : float
        Optimisation gap on the solver's sample, :math:`\hat F_S(q) - \min_i y_i \hat z_i(v)`:
        the sample optimum lies in ``[gamma - gap, gamma]``.
    kernel_bound : float or None
        :math:`\sqrt{q'^\top Q q'}` from :func:`kernel_margin_bound`, a deterministic upper bound
        on :math:`\gamma`; None when not computed.
    z, z_stderr : ndarray, shape (n,)
        Teacher logits :math:`z_i = \mathbb{E}_z\langle\phi_{x_i}(z), v(z)\rangle` estimated on the
        fresh directions, and their standard errors.
    dual_estimate, primal_estimate : float
        The fresh-sample means before the Hoeffding widths: :math:`\hat{\mathbb{E}}\|g_q\|` and
        :math:`\min_i y_i \hat z_i`.
    n_samples, n_certify : int
        Directions used by the solver and by the certificate.
    delta : float
    iterations : int
        Solver iterations on the full sample.
    converged : bool
        Whether ``gap <= tol``.
    tol : float

    Examples
    --------
    >>> res = margin([[1.0, 0.0], [0.0, 1.0]], [1, -1], n_samples=2000, rng=0)
    >>> bool(res.lower <= 0.42678 <= res.upper), res.support.tolist(), res.z.shape
    (True, [0, 1], (2,))
    """

    gamma: float
    lower: float
    upper: float
    q: np.ndarray
    v: MaxMarginField
    gap: float
    kernel_bound: float | None
    z: np.ndarray
    z_stderr: np.ndarray
    dual_estimate: float
    primal_estimate: float
    n_samples: int
    n_certify: int
    delta: float
    iterations: int
    converged: bool
    tol: float

    _skip, _counts = ("v",), ("n_samples", "n_certify", "iterations")  # to_frame(): one row per point

    @property
    def support(self) -> np.ndarray:
        """Indices of the support vectors (:math:`q_i > 0`)."""
        return np.flatnonzero(self.q > 0)

    def __repr__(self):
        kb = "None" if self.kernel_bound is None else f"{self.kernel_bound:.6g}"
        return (
            f"MarginResult(gamma={self.gamma:.6g}, lower={self.lower:.6g}, upper={self.upper:.6g}, "
            f"gap={self.gap:.3g}, support={self.support.size}/{self.q.size}, kernel_bound={kb}, "
            f"n_samples={self.n_samples}, n_certify={self.n_certify}, delta={self.delta:g})"
        )


def _certify(X, y, norms, field_v, q, gen, count, delta):
    """One pass over ``count`` fresh directions: dual mean, teacher logits and their errors."""

    def field(Z, A):
        V, nr = field_v._batch(Z, A)
        return V, float(nr.sum(dtype=np.float64))

    blocks = ((Z, None) for Z in _gaussian_blocks(gen, count, X.shape[1], field_v._block, X.dtype))
    zsum, zsq, dual = field_sums(X, blocks, field)
    z, stderr = mean_and_stderr(zsum, zsq, count)
    log_term = math.log(2.0 / delta)
    margins = y * z
    primal = float(margins.min())
    lower = float(np.min(margins - norms * math.sqrt(2.0 * log_term / count)))
    R = float(q @ norms)
    dual_mean = dual / count
    upper = dual_mean + R * math.sqrt(log_term / (2.0 * count))
    return lower, upper, z, stderr, dual_mean, primal


def _levels(total, block):
    """Prefix sizes for the coarse-to-fine solve: ..., total / 16, total / 4, total (block multiples)."""
    levels = [total]
    while levels[0] // 4 >= _COARSE_MIN:
        levels.insert(0, max(block, (levels[0] // 4) // block * block))
    return levels


def margin(
    X: ArrayLike,
    y: ArrayLike,
    *,
    n_samples: int = 20000,
    n_certify: int | None = None,
    delta: float = 0.05,
    tol: float | None = None,
    max_iter: int = 2000,
    kernel_bound: bool | None = None,
    rng: SeedLike = None,
) -> MarginResult:
    r"""NTK margin :math:`\gamma` of Assumption 1 with a certified confidence interval.

    .. math::

        \gamma = \min_{q\in\Delta_n} \mathbb{E}_z\|g_q(z)\|,\quad
        g_q(z) = \sum_i q_i y_i 1(\langle z, x_i\rangle > 0)\,x_i,\qquad
        \gamma \ge \min_i y_i\,\mathbb{E}_z\langle v(z), \phi_{x_i}(z)\rangle \text{ for } \|v\|\le 1

    (THEORY.md, "Margin"; strict :math:`> 0`, E5; :math:`H` is an :math:`L^2` space, not an RKHS).

    1. **Solve.** Draw ``n_samples`` directions :math:`z_s \sim N(0, I_d)` and minimise the sample
       dual :math:`\hat F_S(q) = \frac1S\sum_s \|g_q(z_s)\|` over the simplex by spectral projected
       gradient on its smoothing :math:`\frac1S\sum_s(\sqrt{\|g_q(z_s)\|^2 + \epsilon^2} - \epsilon)`,
       lowering :math:`\epsilon` down to ``tol``/4. The start is the kernel-SVM weights of
       :func:`kernel_margin_bound` when that bound is computed, else uniform weights refined
       coarse to fine (prefixes of S/16, S/4, S directions). The gradient is
       :math:`y_i \hat z_i(v)`, the sample teacher margin of point i under the field
       :math:`v = g_q / \sqrt{\|g_q\|^2 + \epsilon^2}` (norm at most 1), so
       :math:`\hat F_S(q) - \min_i y_i \hat z_i(v)` is a primal-dual gap: the solver stops when it
       is at most ``tol`` and reports it as ``gap``.
    2. **Certify** on ``n_certify`` fresh directions (an independent stream). With
       :math:`t = \ln(2/\delta)`,

       .. math::

           \mathrm{upper} = \frac{1}{S'}\sum_s \|g_q(z'_s)\| + \Big(\sum_i q_i\|x_i\|\Big)\sqrt{\frac{t}{2S'}},
           \qquad
           \mathrm{lower} = \min_i\Big(y_i \hat z_i(v_q) - \|x_i\|\sqrt{\frac{2t}{S'}}\Big),

       one-sided Hoeffding bounds (summands in :math:`[0, \sum_i q_i\|x_i\|]` and
       :math:`[-\|x_i\|, \|x_i\|]`), each failing with probability at most :math:`\delta/2`. For
       the lower bound no union bound over i is needed: the index :math:`i^*` minimising the true
       :math:`y_i z_i(v_q)` is fixed before the fresh directions are drawn, and
       :math:`\mathrm{lower} \le` its bound :math:`\le y_{i^*} z_{i^*}(v_q) \le \gamma`.
       Hence :math:`P(\mathrm{lower} \le \gamma \le \mathrm{upper}) \ge 1 - \delta`.

    Parameters
    ----------
    X : array_like, shape (n, d)
        Inputs with :math:`0 < \|x_i\| \le 1`, no two in the same direction with opposite labels.
    y : array_like, shape (n,)
        Labels in {-1, +1}.
    n_samples : int >= 2, default 20000
        Directions for the solver.
    n_certify : int >= 2, optional
        Fresh directions for the certificate and the teacher logits ``z``; default ``n_samples``.
    delta : float in (0, 1), default 0.05
        The interval fails with probability at most ``delta``.
    tol : float > 0, optional
        Stop when the optimisation gap is at most ``tol``. The default,
        :math:`0.05\sqrt{2\ln(2/\delta)/S'}`, is 5% of the lower bound's Hoeffding half-width for
        a unit-norm point, so the solver's error is small next to the certificate's.
    max_iter : int >= 1, default 2000
        Solver iterations per level of the coarse-to-fine solve. Data in high dimension
        typically need tens; in two or three dimensions the sample dual is nonsmooth at its
        minimum and may need thousands (each then cheap: repeated activation patterns are
        merged).
    kernel_bound : bool, optional
        Also compute :func:`kernel_margin_bound` (needs the n x n kernel). Default: when
        :math:`n \le 4096`.
    rng : None, int, SeedSequence or Generator
        The solver's and the certificate's directions come from two spawned, independent streams.

    Returns
    -------
    MarginResult

    Raises
    ------
    ValueError
        If a norm exceeds 1 or is 0, if two inputs point in the same direction with opposite
        labels (then :math:`\gamma = 0` exactly), or on a bad argument.

    Warns
    -----
    UserWarning
        If the solver stops with the gap above ``tol`` (the interval stays valid, only wider).

    Notes
    -----
    Memory stays bounded: directions are processed in blocks of about :math:`2^{21}/n`, and the
    solver's activation masks are kept as packed bits (:math:`S n / 8` bytes) up to 256 MiB and
    regenerated from the seed beyond. Repeated activation patterns (common in two or three
    dimensions) are merged with their multiplicities. When :math:`S n d > 2^{24}` the solver
    evaluates in float32 (sums accumulated in float64), so ``gamma`` and ``gap`` carry relative
    rounding errors near 1e-6, far below the Monte Carlo error. The certificate and ``z`` are
    computed in the dtype of ``X``, float64 by default.

    Examples
    --------
    Two unit vectors at angle :math:`\pi/3` with opposite labels have :math:`\gamma = 1/3`:

    >>> import numpy as np
    >>> X = np.array([[1.0, 0.0], [np.cos(np.pi / 3), np.sin(np.pi / 3)]])
    >>> res = margin(X, [1, -1], n_samples=4000, rng=0)
    >>> bool(res.lower <= 1 / 3 <= res.upper), np.round(res.q, 2).tolist()
    (True, [0.5, 0.5])
    """
    X, y, norms = _check_data(X, y)
    n, d = X.shape
    S = check_int("n_samples", n_samples, minimum=2)
    Sc = S if n_certify is None else check_int("n_certify", n_certify, minimum=2)
    delta = check_real("delta", delta, low=0.0, high=1.0)
    if tol is None:
        tol = 0.05 * math.sqrt(2.0 * math.log(2.0 / delta) / Sc)
    else:
        tol = check_real("tol", tol, low=0.0)
    max_iter = check_int("max_iter", max_iter, minimum=1)
    if kernel_bound is None:
        kernel_bound = n <= _KERNEL_AUTO_N
    elif not isinstance(kernel_bound, (bool, np.bool_)):
        raise TypeError(f"kernel_bound must be True, False or None, got {_short(kernel_bound)}.")
    _guards.guard_margin(n, d, S, Sc, kernel_bound)  # memory and time, before any work
    s_solve, s_cert = _seeds(rng, 2)

    work = np.float32 if (X.dtype == np.float32 or S * n * d > _FLOAT32_WORK) else np.float64
    dirs = _Directions(X, seed=s_solve, total=S, dtype=work)
    dual = _Dual(X, y, dirs, work)
    kb = scale = None
    if kernel_bound:
        # the kernel SVM's weights are close to the optimum: start there, on the full sample
        q, f_kernel, _, _, _, _ = _kernel_qp(X, y, 1e-8, 5000)
        kb = scale = float(math.sqrt(max(f_kernel, 0.0)))
        levels = [S]
    else:
        q = np.full(n, 1.0 / n)
        levels = _levels(S, dirs.block)
    it = 0
    for count in levels:
        level_tol = tol * math.sqrt(S / count)
        q, F, _, gap, it, eps = _solve_dual(dual, q, tol=level_tol, max_iter=max_iter, count=count, scale=scale)
        scale = F
    converged = gap <= tol
    if not converged:
        warnings.warn(
            f"margin: the solver stopped after {it} iterations with optimisation gap {gap:.3g} > tol = {tol:.3g}; "
            "the certified interval is still valid but wider. Raise max_iter or tol.",
            UserWarning,
            stacklevel=2,
        )
    v = MaxMarginField(X, y, q, eps)
    lower, upper, z, z_se, dual_mean, primal = _certify(X, y, norms, v, q, np.random.default_rng(s_cert), Sc, delta)
    return MarginResult(
        gamma=float(F),
        lower=lower,
        upper=upper,
        q=q,
        v=v,
        gap=float(gap),
        kernel_bound=kb,
        z=z,
        z_stderr=z_se,
        dual_estimate=dual_mean,
        primal_estimate=primal,
        n_samples=S,
        n_certify=Sc,
        delta=delta,
        iterations=int(it),
        converged=bool(converged),
        tol=float(tol),
    )


# ----------------------------------------------------------------------------- kernel bound


def _kernel_qp(X, y, tol, max_iter):
    K = ntk_kernel(np.asarray(X, dtype=np.float64))
    Q = (y[:, None] * y[None, :]) * K

    def fg(q):
        Qq = Q @ q
        return float(q @ Qq), 2.0 * Qq

    n = X.shape[0]
    return _spg(fg, np.full(n, 1.0 / n), tol=tol, max_iter=max_iter)


def kernel_margin_bound(X: ArrayLike, y: ArrayLike, *, tol: float = 1e-8, max_iter: int = 5000) -> float:
    r"""Deterministic upper bound on the NTK margin from the kernel: a hard-margin kernel SVM.

    .. math::

        \gamma \le \sqrt{\min_{q\in\Delta_n} q^\top Q q},\qquad Q = (y y^\top) \odot K,

    with :math:`K` the closed form of :func:`ntkdistill.kernel.ntk_kernel` (THEORY.md, "Margin"). It
    follows from Jensen: :math:`\mathbb{E}\|g_q\| \le \sqrt{\mathbb{E}\|g_q\|^2} = \sqrt{q^\top Q q}`
    for every :math:`q`, so the value at the solver's final :math:`q` is a valid bound whether or
    not the quadratic program is solved exactly.

    Parameters
    ----------
    X : array_like, shape (n, d)
    y : array_like, shape (n,), labels in {-1, +1}
    tol : float > 0, default 1e-8
        Stop when the Frank-Wolfe gap of :math:`q^\top Q q` is at most ``tol``.
    max_iter : int >= 1, default 5000

    Returns
    -------
    float
        :math:`\sqrt{q^\top Q q}` at the final :math:`q`.

    Notes
    -----
    Builds the n x n kernel (:math:`8n^2` bytes in float64), so it suits up to a few thousand
    points; the solver is spectral projected gradient on the simplex.

    Examples
    --------
    Two orthonormal points: :math:`Q = I/2`, so the bound is :math:`\sqrt{1/4} = 0.5`, above
    :math:`\gamma = (2 + \sqrt 2)/8 \approx 0.4268`:

    >>> round(kernel_margin_bound([[1.0, 0.0], [0.0, 1.0]], [1, -1]), 6)
    0.5
    """
    X, y, _ = _check_data(X, y)
    tol = check_real("tol", tol, low=0.0)
    max_iter = check_int("max_iter", max_iter, minimum=1)
    _, f, _, _, _, _ = _kernel_qp(X, y, tol, max_iter)
    return float(math.sqrt(max(f, 0.0)))
