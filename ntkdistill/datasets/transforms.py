r"""Rescaling user data to the paper's assumption :math:`c \le \|x_i\| \le 1`, and a bias coordinate.

The theory (THEORY.md, "Notation") needs every input in the unit ball, bounded away from 0, and
no two inputs parallel (for a positive NTK margin). Three helpers bring real data there:

- :func:`scale_to_unit_ball` divides the whole array by its largest row norm: the geometry is kept
  (angles and norm ratios), the largest norm becomes 1 and ``c`` is the smallest norm ratio.
- :func:`scale_to_unit_norm` puts every row on the unit sphere (``c = 1``); it forgets the norms.
- :func:`add_bias` appends a constant coordinate. The student of eq. (1) has no bias; with the
  extra coordinate, ``W_j . (x, b)`` contains the bias ``b W_{j,d+1}``. It also breaks
  parallelism: ``(x, b)`` and ``(x', b)`` are parallel only if ``x = x'``. Rescale afterwards,
  since the new rows are longer: ``scale_to_unit_ball(add_bias(X))``.

Every function keeps float32 as float32 (other inputs become float64) and never modifies its input.
"""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING

import numpy as np

from .._validation import check_matrix, check_real

if TYPE_CHECKING:
    from .._typing import ArrayLike

__all__ = ["scale_to_unit_ball", "scale_to_unit_norm", "add_bias"]


def scale_to_unit_ball(X: ArrayLike, *, radius: float = 1.0) -> np.ndarray:
    r"""Divide all rows by the largest row norm, so that :math:`\max_i \|x_i\| = ` ``radius``.

    .. math::

        x_i \mapsto \frac{\rho\, x_i}{\max_k \|x_k\|_2},\qquad \rho = \texttt{radius} \le 1,

    which gives the paper's :math:`\|x_i\| \le 1` (THEORY.md, "Notation") with
    :math:`c = \rho\,\min_i \|x_i\| / \max_k \|x_k\|`. One factor for the whole array keeps the
    angles between inputs, hence the NTK kernel up to a constant factor
    :math:`(\rho / \max_k\|x_k\|)^2` and the margin up to :math:`\rho / \max_k\|x_k\|`.

    Parameters
    ----------
    X : array_like, shape (n, d)
        Inputs, one per row.
    radius : float in (0, 1], default 1
        The largest norm after scaling.

    Returns
    -------
    ndarray, shape (n, d)
        A new array, float32 if ``X`` is float32, float64 otherwise. Its largest row norm is
        ``radius`` up to rounding and never above it.

    Raises
    ------
    ValueError
        If every row of ``X`` is zero (nothing to scale), or ``radius`` is outside (0, 1].

    Warns
    -----
    UserWarning
        If some rows are zero: they stay zero, which violates :math:`\|x_i\| \ge c > 0` and makes
        the NTK margin 0; drop them or use :func:`add_bias` first.

    Examples
    --------
    >>> scale_to_unit_ball([[3.0, 4.0], [0.0, 1.0]]).tolist()
    [[0.6, 0.8], [0.0, 0.2]]
    """
    X = check_matrix("X", X)
    radius = check_real("radius", radius, low=0.0, high=1.0, high_open=False)
    norms = np.linalg.norm(X, axis=1)
    top = norms.max()
    if top == 0:
        raise ValueError(
            f"X has {X.shape[0]} row(s), all zero; there is no scale to set. "
            "Zero inputs have no direction (the NTK margin is 0); remove them or use add_bias(X) first."
        )
    zero = int(np.count_nonzero(norms == 0))
    if zero:
        warnings.warn(
            f"X has {zero} zero row(s); they stay zero after scaling, which violates the assumption "
            "||x_i|| >= c > 0 and makes the NTK margin 0. Remove them or use add_bias(X) first.",
            UserWarning,
            stacklevel=2,
        )
    factor = X.dtype.type(radius / top)
    out = X * factor
    # rounding may leave the largest norm a few ulps above the radius; step the factor down
    for _ in range(8):
        if np.linalg.norm(out, axis=1).max() <= radius:
            break
        factor = np.nextafter(factor, X.dtype.type(0))
        out = X * factor
    return out


def scale_to_unit_norm(X: ArrayLike) -> np.ndarray:
    r"""Put every row on the unit sphere.

    .. math::

        x_i \mapsto x_i / \|x_i\|_2,

    so that :math:`c = \|x_i\| = 1` for all i (THEORY.md, "Notation"). Parallel rows become
    identical; the NTK margin needs distinct directions.

    Parameters
    ----------
    X : array_like, shape (n, d)

    Returns
    -------
    ndarray, shape (n, d), float32 if ``X`` is float32, float64 otherwise.

    Raises
    ------
    ValueError
        If a row is zero (it has no direction).

    Examples
    --------
    >>> scale_to_unit_norm([[3.0, 4.0], [0.0, 2.0]]).tolist()
    [[0.6, 0.8], [0.0, 1.0]]
    """
    X = check_matrix("X", X)
    norms = np.linalg.norm(X, axis=1)
    zero = np.flatnonzero(norms == 0)
    if zero.size:
        raise ValueError(
            f"X has {zero.size} zero row(s) (first at index {int(zero[0])}); a zero input has no direction "
            "to normalise. Remove it, or use add_bias(X) before scaling."
        )
    return X / norms[:, None]


def add_bias(X: ArrayLike, value: float = 1.0) -> np.ndarray:
    r"""Append a constant coordinate ``value`` to every row.

    .. math::

        x_i \mapsto (x_i, b) \in \mathbb{R}^{d+1},\qquad
        \mathrm{relu}(\langle (w, w_b), (x, b)\rangle) = \mathrm{relu}(\langle w, x\rangle + b\,w_b),

    which gives the student of eq. (1), which has no bias, a trainable bias per neuron. Two rows
    :math:`(x, b), (x', b)` with :math:`b \ne 0` are parallel only if :math:`x = x'`. The new rows
    are longer than the old ones: follow with :func:`scale_to_unit_ball`.

    Parameters
    ----------
    X : array_like, shape (n, d)
    value : float, default 1
        The constant ``b``; must be finite and nonzero.

    Returns
    -------
    ndarray, shape (n, d + 1), float32 if ``X`` is float32, float64 otherwise.

    Examples
    --------
    >>> add_bias([[0.5, 0.0], [0.0, 0.5]], value=0.5).tolist()
    [[0.5, 0.0, 0.5], [0.0, 0.5, 0.5]]
    >>> import numpy as np
    >>> Xb = scale_to_unit_ball(add_bias([[1.0, 0.0], [2.0, 0.0]]))
    >>> round(float(np.linalg.norm(Xb, axis=1).max()), 12)
    1.0
    """
    X = check_matrix("X", X)
    value = check_real("value", value)
    if value == 0:
        raise ValueError("value == 0, must be nonzero (a zero bias coordinate changes nothing).")
    column = np.full((X.shape[0], 1), value, dtype=X.dtype)
    return np.concatenate([X, column], axis=1)
