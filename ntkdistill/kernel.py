r"""The infinite-width NTK of the student (only :math:`W` trained) and its Monte Carlo estimates.

.. math::

    K(x, x') = \langle x, x'\rangle\, \mathbb{E}_{w \sim N(0, I_d)}\big[1(w\cdot x > 0)\, 1(w\cdot x' > 0)\big]
             = \langle x, x'\rangle \frac{\pi - \theta}{2\pi},\qquad
    \theta = \arccos\frac{\langle x, x'\rangle}{\|x\|\|x'\|}

(THEORY.md, "Infinite-width kernel": Cho and Saul's arc-cosine kernel of order 0, halved).
The Monte Carlo estimators accept ``n_samples`` as an int or as an increasing list of counts; a
list gives the running estimate after each count, with its standard error, for convergence plots.
"""

from __future__ import annotations

import numbers
from typing import TYPE_CHECKING, NamedTuple

import numpy as np

from ._fast import ordered_map
from ._validation import _short, check_int, check_matrix, check_rng

if TYPE_CHECKING:
    from collections.abc import Sequence

    from ._typing import ArrayLike, SeedLike

__all__ = ["ntk_kernel", "empirical_ntk", "monte_carlo_kernel", "MonteCarloEstimate"]

_DRAW = 1024  # rows drawn per call to the generator; the stream does not depend on it
_KERNEL_ROWS = 128  # rows of ntk_kernel's result per block (on worker threads)
_KERNEL_PARALLEL_MIN = 2**18  # entries of ntk_kernel's result below which it runs on one thread


class MonteCarloEstimate(NamedTuple):
    r"""A Monte Carlo mean with its standard error (THEORY.md, "Infinite-width kernel").

    .. math::

        \hat\mu_S = \frac1S\sum_{s=1}^S f(w_s),\qquad
        \mathrm{se} = \sqrt{\frac{1}{S(S-1)}\sum_{s=1}^S (f(w_s) - \hat\mu_S)^2}

    Attributes
    ----------
    mean : ndarray
        The estimate; for a list of sample counts, one estimate per count stacked on axis 0.
    stderr : ndarray
        Standard error of each entry of ``mean``: sample standard deviation over
        :math:`\sqrt{S}` (with the :math:`S - 1` correction), same shape as ``mean``.
    n_samples : int or ndarray of int
        The sample count(s), as passed.

    Examples
    --------
    >>> mean, stderr, count = monte_carlo_kernel([[1.0, 0.0]], n_samples=100, rng=0)
    >>> mean.shape, stderr.shape, count
    ((1, 1), (1, 1), 100)
    """

    mean: np.ndarray
    stderr: np.ndarray
    n_samples: object


def _sample_counts(n_samples, *, minimum=2):
    """``(counts, is_list)`` for an int or a strictly increasing list of ints (each >= minimum)."""
    if isinstance(n_samples, (list, tuple, np.ndarray)):
        counts = [check_int("n_samples", c, minimum=minimum) for c in np.asarray(n_samples).ravel().tolist()]
        if not counts:
            raise ValueError("n_samples is an empty list; pass an int or a non-empty increasing list of counts.")
        if any(b <= a for a, b in zip(counts, counts[1:])):
            raise ValueError(f"n_samples == {_short(counts)}, must be strictly increasing.")
        return counts, True
    if isinstance(n_samples, (numbers.Integral, float, np.floating)) and not isinstance(n_samples, bool):
        return [check_int("n_samples", n_samples, minimum=minimum)], False
    raise TypeError(f"n_samples must be an int or an increasing list of ints, got {_short(n_samples)}.")


def _gaussian_blocks(gen, total, d, block, dtype):
    """Yield standard normal (b, d) blocks summing to ``total`` rows; independent of ``block``."""
    done = 0
    while done < total:
        b = min(block, total - done)
        parts = []
        got = 0
        while got < b:
            k = min(_DRAW, b - got)
            parts.append(gen.standard_normal((k, d)))
            got += k
        Z = parts[0] if len(parts) == 1 else np.concatenate(parts)
        done += b
        yield Z.astype(dtype, copy=False)


def _pair(X1, X2):
    X1 = check_matrix("X1", X1)
    if X2 is None:
        return X1, X1
    X2 = check_matrix("X2", X2, dtype=X1.dtype)
    if X2.shape[1] != X1.shape[1]:
        raise ValueError(f"X2 has {X2.shape[1]} columns but X1 has {X1.shape[1]}; they must match (d).")
    return X1, X2


def ntk_kernel(X1: ArrayLike, X2: ArrayLike | None = None) -> np.ndarray:
    r"""Closed-form infinite-width NTK of the student, between the rows of ``X1`` and ``X2``.

    .. math::

        K(x, x') = \langle x, x'\rangle \frac{\pi - \theta}{2\pi},\qquad
        \theta = \arccos\frac{\langle x, x'\rangle}{\|x\|\,\|x'\|}

    (THEORY.md, "Infinite-width kernel"; only the first layer trained, :math:`a_j^2 = 1`).
    :math:`K(x, x) = \|x\|^2 / 2`; a zero row gives zeros.

    Parameters
    ----------
    X1 : array_like, shape (n1, d)
    X2 : array_like, shape (n2, d), optional
        Defaults to ``X1`` (the Gram matrix).

    Returns
    -------
    K : ndarray, shape (n1, n2), float32 if ``X1`` is float32, float64 otherwise.

    Examples
    --------
    >>> import numpy as np
    >>> K = ntk_kernel([[1.0, 0.0], [np.cos(np.pi / 3), np.sin(np.pi / 3)]])
    >>> np.round(K, 6).tolist()  # (1/2) (pi - pi/3) / (2 pi) = 1/6
    [[0.5, 0.166667], [0.166667, 0.5]]
    """
    gram = X2 is None
    X1, X2 = _pair(X1, X2)
    dt = X1.dtype
    n1 = np.linalg.norm(X1, axis=1)
    n2 = np.linalg.norm(X2, axis=1)
    K = np.empty((X1.shape[0], X2.shape[0]), dtype=dt)
    pi = dt.type(np.pi)
    snap = 1 - 8 * np.finfo(dt).eps

    def rows(lo):
        # rows [lo, lo + _KERNEL_ROWS) of K, in place; of a Gram matrix only the columns from lo
        # on (the upper triangle and the diagonal block), the rest is mirrored below
        hi = min(lo + _KERNEL_ROWS, K.shape[0])
        c0 = lo if gram else 0
        G = np.matmul(X1[lo:hi], X2[c0:].T, out=K[lo:hi, c0:])
        denom = n1[lo:hi, None] * n2[None, c0:]
        cos = np.zeros_like(G)
        np.divide(G, denom, out=cos, where=denom > 0)
        # arccos loses half the digits near 1: snap directions equal to rounding (theta < ~1e-7)
        # to 0, so that K(x, x) = ||x||^2 / 2 exactly
        cos[cos >= snap] = 1
        np.clip(cos, -1, 1, out=cos)
        theta = np.arccos(cos, out=cos)
        np.subtract(pi, theta, out=theta)
        G *= theta
        G /= 2 * pi

    big = X1.shape[0] * X2.shape[0] >= _KERNEL_PARALLEL_MIN
    for _ in ordered_map(rows, range(0, K.shape[0], _KERNEL_ROWS), parallel=big):
        pass
    if gram:  # exactly symmetric, and half the work: the upper triangle computed and mirrored
        for lo in range(0, K.shape[0], _KERNEL_ROWS):
            hi = min(lo + _KERNEL_ROWS, K.shape[0])
            K[lo:hi, :lo] = K[:lo, lo:hi].T
            diag = K[lo:hi, lo:hi]
            low = np.tril_indices(hi - lo, -1)
            diag[low] = diag.T[low]
    return K


def empirical_ntk(X1: ArrayLike, X2: ArrayLike | None = None, *, W: ArrayLike) -> np.ndarray:
    r"""Finite-width NTK of the student at first-layer weights ``W`` (rows as random features).

    .. math::

        K_W(x, x') = \sum_{j=1}^m \langle \nabla_{W_j} f(x; W), \nabla_{W_j} f(x'; W)\rangle
                  = \frac{\langle x, x'\rangle}{m} \sum_{j=1}^{m} 1(W_j\cdot x > 0)\, 1(W_j\cdot x' > 0),

    the Gram matrix of the gradients of eq. (1), :math:`\nabla_{W_j} f = (a_j/\sqrt m)\,1(W_j\cdot x > 0)\,x`
    with :math:`a_j^2 = 1` (THEORY.md, "Notation", E3 and E5). At :math:`W = W(0)` with i.i.d. Gaussian rows it is an
    unbiased estimate of :func:`ntk_kernel`; under the symmetric initialisation every row appears
    twice, so only :math:`m/2` draws are independent.

    Parameters
    ----------
    X1 : array_like, shape (n1, d)
    X2 : array_like, shape (n2, d), optional
    W : array_like, shape (m, d)

    Returns
    -------
    K : ndarray, shape (n1, n2)

    Examples
    --------
    >>> empirical_ntk([[1.0, 0.0], [0.0, 1.0]], W=[[1.0, 1.0], [1.0, -1.0]]).tolist()
    [[1.0, 0.0], [0.0, 0.5]]
    """
    X1, X2 = _pair(X1, X2)
    W = check_matrix("W", W, dtype=X1.dtype)
    if W.shape[1] != X1.shape[1]:
        raise ValueError(f"W has {W.shape[1]} columns but X1 has {X1.shape[1]}; they must match (d).")
    A1 = (X1 @ W.T > 0).astype(X1.dtype)
    A2 = (X2 @ W.T > 0).astype(X1.dtype)
    return (X1 @ X2.T) * (A1 @ A2.T) / X1.dtype.type(W.shape[0])


def monte_carlo_kernel(
    X1: ArrayLike, X2: ArrayLike | None = None, *, n_samples: int | Sequence[int] = 1000, rng: SeedLike = None
) -> MonteCarloEstimate:
    r"""Monte Carlo estimate of the NTK from Gaussian random features, with standard errors.

    .. math::

        \hat K_S(x, x') = \frac{\langle x, x'\rangle}{S} \sum_{s=1}^{S} 1(w_s\cdot x > 0)\, 1(w_s\cdot x' > 0),
        \qquad w_s \sim N(0, I_d) \text{ i.i.d.},

    unbiased for :func:`ntk_kernel` (THEORY.md, "Infinite-width kernel"). With
    :math:`\hat p` the fraction of samples activating both points, the standard error is
    :math:`|\langle x, x'\rangle| \sqrt{\hat p (1 - \hat p) / (S - 1)}`.

    Parameters
    ----------
    X1 : array_like, shape (n1, d)
    X2 : array_like, shape (n2, d), optional
    n_samples : int or increasing list of int, each >= 2
        A list gives the running estimate after each count (one stream, prefixes of it).
    rng : None, int, SeedSequence or Generator

    Returns
    -------
    MonteCarloEstimate
        ``mean`` and ``stderr`` of shape (n1, n2), or (len(n_samples), n1, n2) for a list.

    Examples
    --------
    >>> import numpy as np
    >>> X = [[1.0, 0.0], [0.0, 1.0]]
    >>> est = monte_carlo_kernel(X, n_samples=[100, 4000], rng=0)
    >>> est.mean.shape
    (2, 2, 2)
    >>> bool(np.all(np.abs(est.mean[-1] - ntk_kernel(X)) <= 4 * est.stderr[-1] + 1e-12))
    True
    """
    X1, X2 = _pair(X1, X2)
    counts, is_list = _sample_counts(n_samples)
    gen = check_rng(rng)
    dt = X1.dtype
    n1, n2 = X1.shape[0], X2.shape[0]
    block = int(np.clip(2**22 // (n1 + n2), 256, 8192))
    G = (X1 @ X2.T).astype(np.float64)
    C = np.zeros((n1, n2), dtype=np.float64)
    means, errs = [], []
    done = 0
    for target in counts:
        for Z in _gaussian_blocks(gen, target - done, X1.shape[1], block, dt):
            A1 = (Z @ X1.T > 0).astype(dt)
            A2 = (Z @ X2.T > 0).astype(dt)
            C += A1.T @ A2
        done = target
        p = C / target
        means.append((G * p).astype(dt))
        errs.append((np.abs(G) * np.sqrt(p * (1 - p) / (target - 1))).astype(dt))
    if is_list:
        return MonteCarloEstimate(np.stack(means), np.stack(errs), np.asarray(counts))
    return MonteCarloEstimate(means[0], errs[0], counts[0])
