r"""The Monte Carlo sums behind the teacher logits and the margin's certificate (private).

For blocks of Gaussian directions :math:`Z` (rows :math:`z_s`) and a field :math:`v` with
:math:`\|v(z)\| \le 1`, every point :math:`x_i` gets the sums over the directions of

.. math::

    M_{si} = 1(\langle z_s, x_i\rangle > 0)\,\langle v(z_s), x_i\rangle

and of :math:`M_{si}^2` (the teacher logits and their standard errors; THEORY.md, "Teacher
logits and soft labels", strict :math:`>`, E5). :func:`field_sums` computes them with the two
products per block that they need, :math:`Z X^\top` and :math:`V X^\top`, and little else:

- the activation masks of a block are formed once and handed to the field when it can use them
  (:class:`ntkdistill.margin.MaxMarginField` needs the masks on its support, a subset of
  these), so the field costs no product of its own but :math:`1(Z X_s^\top > 0) D_s`;
- the products and the elementwise work run on sub-blocks of rows small enough for their
  (rows x n) results to stay in cache, into preallocated buffers; with numba, the sums of a
  sub-block are one compiled pass (:func:`ntkdistill._fast.compiled.masked_sums`);
- blocks run on a pool of as many threads as the BLAS has (NumPy releases the GIL), with the BLAS
  held at one thread meanwhile (:func:`~ntkdistill._fast.threads.ordered_map`). Each block's sums are formed on their own
  and added in block order, so a result is reproducible bit for bit for a given thread count and
  agrees across thread counts to rounding (a BLAS may split one product differently when it has
  more threads).

``ordered_map`` also runs the blocks of the margin's dual evaluations
(:class:`ntkdistill.margin._Dual`); it lives in :mod:`ntkdistill._fast.threads`.
"""

from __future__ import annotations

import itertools

import numpy as np

from . import compiled as _compiled
from .options import current
from .threads import ordered_map, scratch

__all__ = ["field_sums", "mean_and_stderr"]

# bytes of one (rows x n) sub-block result: large enough for the BLAS to run near its rate, small
# enough for the result to be reused from cache
_SUB_BYTES = 1024 * 1024
# below this many multiply-adds per block, no threads
_PARALLEL_MIN_FLOPS = 2_000_000


def _block_sums(X, Z, V, field, sub, compiled):
    """``(sum_s M_s, sum_s M_s^2, extra)`` for one block, in float64; V from the field if None.

    ``compiled``: the sums of a sub-block by the compiled pass (numba installed), else NumPy's.
    """
    n = X.shape[0]
    b = Z.shape[0]
    XT = X.T
    P = scratch.get("P", (sub, n), X.dtype)
    Q = scratch.get("Q", (sub, n), X.dtype)
    A = np.empty((b, n), dtype=bool)
    for lo in range(0, b, sub):
        hi = min(lo + sub, b)
        Pb = P[: hi - lo]
        np.matmul(Z[lo:hi], XT, out=Pb)
        np.greater(Pb, 0, out=A[lo:hi])
    extra = None
    if V is None:
        V, extra = field(Z, A)
    zsum = np.zeros(n)
    zsq = np.zeros(n)
    for lo in range(0, b, sub):
        hi = min(lo + sub, b)
        Qb = Q[: hi - lo]
        np.matmul(V[lo:hi], XT, out=Qb)
        if compiled:  # the four passes below in one
            _compiled.masked_sums(Qb, A[lo:hi], zsum, zsq)
            continue
        np.multiply(Qb, A[lo:hi], out=Qb)
        zsum += Qb.sum(axis=0, dtype=np.float64)
        if Qb.dtype == np.float64:
            np.multiply(Qb, Qb, out=Qb)
            zsq += Qb.sum(axis=0)
        else:  # the squares in float64 (float32 would add cancellation to zsq / S - z^2)
            zsq += np.einsum("ij,ij->j", Qb, Qb, dtype=np.float64)
    return zsum, zsq, extra


def mean_and_stderr(zsum, zsq, count):
    r"""The mean of ``count`` samples and its standard error from their sums and sums of squares.

    :math:`\bar z = \sum z / S`, :math:`\mathrm{se} = \sqrt{s^2 / S}` with the unbiased
    :math:`s^2 = (\sum z^2 / S - \bar z^2)\, S / (S - 1)`, clipped at 0 against rounding.
    """
    z = zsum / count
    var = np.maximum(zsq / count - z * z, 0.0) * count / (count - 1)
    return z, np.sqrt(var / count)


def field_sums(X, blocks, field=None):
    """Sums of :math:`M` and :math:`M^2` per point over all the directions of ``blocks``.

    Parameters
    ----------
    X : ndarray, shape (n, d)
    blocks : iterable of ``(Z, V)``
        The directions ``Z`` (b, d), in the dtype of ``X``, and their field ``V`` (b, d), or None
        to have ``field`` compute it on a worker thread. The iterable is consumed on the calling
        thread, in order (so a user's field evaluated there never runs concurrently).
    field : callable or None
        ``field(Z, A) -> (V, extra)`` with ``A`` the (b, n) boolean masks :math:`1(Z X^\\top > 0)`;
        ``extra`` is None or a float summed over the blocks (in block order). It must be safe to
        call from several threads at once.

    Returns
    -------
    zsum, zsq : ndarray (n,), float64
    extra : float or None
    """
    n, d = X.shape
    sub = int(np.clip(_SUB_BYTES // max(n * X.dtype.itemsize, 1), 8, 4096))
    zsum = np.zeros(n)
    zsq = np.zeros(n)
    total = None
    blocks = iter(blocks)
    first = next(blocks, None)
    if first is None:
        return zsum, zsq, total
    big = first[0].shape[0] * n * d >= _PARALLEL_MIN_FLOPS
    items = itertools.chain([first], blocks)
    compiled = _compiled.AVAILABLE and current().compiled is not False
    for s1, s2, extra in ordered_map(lambda item: _block_sums(X, *item, field, sub, compiled), items, parallel=big):
        zsum += s1
        zsq += s2
        if extra is not None:
            total = extra if total is None else total + extra
    return zsum, zsq, total
