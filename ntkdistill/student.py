r"""The two-layer ReLU student of eq. (1), its symmetric initialisation and NTK features.

.. math::

    f(x; W) = \frac{1}{\sqrt{m}} \sum_{j=1}^{m} a_j \,\mathrm{relu}(W_j \cdot x),

with only the first layer :math:`W \in \mathbb{R}^{m \times d}` trained and :math:`a_j \in \{-1, +1\}`
fixed at initialisation.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ._validation import check_int, check_matrix, check_rng, resolve_dtype

if TYPE_CHECKING:
    from ._typing import ArrayLike, DTypeLike, SeedLike

__all__ = [
    "init_symmetric",
    "forward",
    "activation_pattern",
    "ntk_features",
    "linearised",
    "risk_and_grad",
]


def init_symmetric(
    m: int, d: int, rng: SeedLike = None, dtype: DTypeLike | None = None
) -> tuple[np.ndarray, np.ndarray]:
    r"""Symmetric initialisation of the student (THEORY.md, "Notation").

    .. math::

        a_j \sim \mathrm{Unif}\{-1,+1\},\quad W_j(0) \sim N(0, I_d) \quad (j \le m/2),\qquad
        a_{j+m/2} = -a_j,\quad W_{j+m/2}(0) = W_j(0),

    so that :math:`f(x; W(0)) = 0` exactly for every :math:`x` (the two halves cancel term by term).

    Parameters
    ----------
    m : int
        Width, a positive even integer.
    d : int
        Input dimension.
    rng : None, int, SeedSequence or Generator
        Source of randomness (``np.random.default_rng(rng)``).
    dtype : float32 or float64, optional
        Dtype of ``W0`` (default float64). The normal draws are made in float64 and cast, so a
        float32 initialisation is the rounding of the float64 one from the same seed.

    Returns
    -------
    W0 : ndarray, shape (m, d)
    a : ndarray, shape (m,), entries in {-1, +1}, same dtype as ``W0``

    Examples
    --------
    >>> W0, a = init_symmetric(4, 3, rng=0)
    >>> W0.shape, a.tolist()[:2] == (-a[2:]).tolist(), bool((W0[:2] == W0[2:]).all())
    ((4, 3), True, True)
    """
    m = check_int("m", m, minimum=2, even=True)
    d = check_int("d", d, minimum=1)
    dt = resolve_dtype(dtype)
    gen = check_rng(rng)
    half = m // 2
    w = gen.standard_normal((half, d))
    s = gen.integers(0, 2, size=half) * 2 - 1
    W0 = np.concatenate([w, w]).astype(dt, copy=False)
    a = np.concatenate([s, -s]).astype(dt)
    return W0, a


def _check_student(X, W, a):
    X = check_matrix("X", X)
    W = check_matrix("W", W, dtype=X.dtype)
    if W.shape[1] != X.shape[1]:
        raise ValueError(f"W has {W.shape[1]} columns but X has {X.shape[1]}; they must match (d).")
    if a is not None:
        a = np.asarray(a)
        if a.shape != (W.shape[0],):
            raise ValueError(f"a must have shape ({W.shape[0]},) to match W, got {a.shape}.")
        if not np.all(np.isin(a, (-1, 1))):
            raise ValueError("a must contain only -1 and +1 (the fixed output weights of eq. 1).")
        a = a.astype(X.dtype)
    return X, W, a


def forward(X: ArrayLike, W: ArrayLike, a: ArrayLike) -> np.ndarray:
    r"""Student output of eq. (1) for every row of ``X``.

    .. math::

        f(x_i; W) = \frac{1}{\sqrt{m}} \sum_j a_j \max(0, W_j \cdot x_i)

    Parameters
    ----------
    X : array, shape (n, d)
    W : array, shape (m, d)
    a : array, shape (m,), entries in {-1, +1}

    Returns
    -------
    f : ndarray, shape (n,), dtype of ``X``

    Examples
    --------
    >>> W0, a = init_symmetric(6, 2, rng=1)
    >>> forward([[1.0, 0.0], [0.3, -0.4]], W0, a).tolist()
    [0.0, 0.0]
    """
    X, W, a = _check_student(X, W, a)
    return _forward_paired(X, W, a)


def _forward_paired(X, W, a):
    r"""Eq. (1); exactly 0 at a symmetric initialisation.

    When ``a[m/2:] == -a[:m/2]`` (the pairing of :func:`init_symmetric`) the two halves are
    multiplied separately, so identical rows give bitwise identical products, and subtracted
    before the output layer: :math:`f = \sum_{j \le m/2} (a_j/\sqrt m)(\mathrm{relu}(W_j x) -
    \mathrm{relu}(W_{j+m/2} x))`, which is exactly 0 when the halves are equal.
    """
    m = W.shape[0]
    scale = X.dtype.type(1.0 / np.sqrt(m))
    h = m // 2
    if m % 2 == 0 and np.array_equal(a[h:], -a[:h]):
        D = np.maximum(X @ W[:h].T, 0) - np.maximum(X @ W[h:].T, 0)
        return D @ (a[:h] * scale)
    return np.maximum(X @ W.T, 0) @ (a * scale)


def activation_pattern(X: ArrayLike, W: ArrayLike) -> np.ndarray:
    r"""The activation pattern :math:`1(W_j \cdot x_i > 0)` (strict, E5) as a boolean (n, m) array.

    .. math::

        A_{ij} = 1(\langle W_j, x_i \rangle > 0)

    Examples
    --------
    >>> activation_pattern([[1.0, 0.0]], [[1.0, 0.0], [-1.0, 0.0], [0.0, 1.0]]).tolist()
    [[True, False, False]]
    """
    X, W, _ = _check_student(X, W, None)
    return (X @ W.T) > 0


def ntk_features(X: ArrayLike, W: ArrayLike) -> np.ndarray:
    r"""NTK features :math:`\phi_{x_i}(W_j) = 1(\langle W_j, x_i\rangle > 0)\, x_i` (E5: strict ``>``).

    .. math::

        \phi^t_i \in \mathbb{R}^{m \times d},\qquad (\phi^t_i)_j = \phi_{x_i}(W_j(t))

    Returns an array of shape (n, m, d), which takes ``n m d`` numbers of memory; for large
    problems use :func:`activation_pattern` instead.

    Examples
    --------
    >>> ntk_features([[1.0, 2.0]], [[1.0, 0.0], [-1.0, 0.0]]).tolist()
    [[[1.0, 2.0], [0.0, 0.0]]]
    """
    X, W, _ = _check_student(X, W, None)
    mask = (X @ W.T) > 0
    return mask[:, :, None] * X[:, None, :]


def linearised(X: ArrayLike, W_t: ArrayLike, a: ArrayLike, W: ArrayLike) -> np.ndarray:
    r"""The linearisation :math:`f^t_i(W)` of the student around ``W_t``, evaluated at ``W``.

    .. math::

        f^t_i(W) = \frac{1}{\sqrt{m}} \sum_j a_j \, 1(\langle W_j(t), x_i\rangle > 0)\,
        \langle W_j, x_i \rangle,

    i.e. :math:`\langle \phi^t_i, W \rangle / \sqrt{m}` with the output signs :math:`a_j` folded
    into the rows (THEORY.md writes them inside :math:`\phi^t_i`), so that
    :math:`f^t_i(W(t)) = f_i(W(t))`.

    Examples
    --------
    >>> W0, a = init_symmetric(4, 2, rng=0)
    >>> X = [[0.6, 0.8], [1.0, 0.0]]
    >>> import numpy as np
    >>> bool(np.allclose(linearised(X, W0, a, W0), forward(X, W0, a)))
    True
    """
    X, W_t, a = _check_student(X, W_t, a)
    W = check_matrix("W", W, dtype=X.dtype)
    if W.shape != W_t.shape:
        raise ValueError(f"W has shape {W.shape} but W_t has shape {W_t.shape}; they must match.")
    mask = (X @ W_t.T) > 0
    H = X @ W.T
    m = W.shape[0]
    return (mask * H) @ (a / np.sqrt(X.dtype.type(m)))


def risk_and_grad(
    X: ArrayLike, targets: ArrayLike, W: ArrayLike, a: ArrayLike, loss: str = "kl"
) -> tuple[float, np.ndarray]:
    r"""Surrogate risk of one student and its hand-written gradient in ``W`` (E1, E3).

    .. math::

        R(W) = \frac1n \sum_i \ell(t_i, f_i(W)),\qquad
        \nabla_{W_j} R = \frac1n \sum_i \ell'(t_i, f_i)\, \frac{a_j}{\sqrt m}\,
        1(W_j \cdot x_i > 0)\, x_i,

    with :math:`\ell' = \mu(f) - p` for ``loss="kl"`` (targets are soft labels ``p``) and
    :math:`-y \mu(-y f)` for ``loss="logistic"`` (targets are labels ``y``). The paper's gradient
    drops the factor :math:`x_i` (E3) and prints the KL derivative with the wrong sign (E1).

    Returns
    -------
    risk : float
    grad : ndarray, shape (m, d)

    Examples
    --------
    >>> from ntkdistill.testing import check_grad
    >>> import numpy as np
    >>> X = np.array([[0.6, 0.8], [1.0, 0.0]]); W0, a = init_symmetric(4, 2, rng=0)
    >>> check_grad(lambda W: risk_and_grad(X, [0.7, 0.2], W, a)[0],
    ...            lambda W: risk_and_grad(X, [0.7, 0.2], W, a)[1], W0 + 0.1, rng=0)
    True
    """
    from .losses import kl_grad, kl_loss, logistic_grad, logistic_loss

    X, W, a = _check_student(X, W, a)
    t = np.asarray(targets, dtype=X.dtype)
    if t.shape != (X.shape[0],):
        raise ValueError(f"targets must have shape ({X.shape[0]},), got {t.shape}.")
    if loss not in ("kl", "logistic"):
        raise ValueError(f"loss == {loss!r}, must be one of ('kl', 'logistic').")
    m = W.shape[0]
    H = X @ W.T
    mask = H > 0
    s = a / np.sqrt(X.dtype.type(m))
    f = np.maximum(H, 0) @ s
    if loss == "kl":
        risk, g = kl_loss(t, f).mean(), kl_grad(t, f)
    else:
        risk, g = logistic_loss(t, f).mean(), logistic_grad(t, f)
    G = (mask * g[:, None]) * s[None, :]
    return float(risk), (G.T @ X) / X.dtype.type(X.shape[0])
