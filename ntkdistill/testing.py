r"""Testing helpers shipped with the library: a gradient checker by central differences.

Every hand-written gradient of ntkdistill is checked with :func:`check_grad` in one line, in the
spirit of ``autograd.test_util.check_grads``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np

from ._validation import check_int, check_real, check_rng

if TYPE_CHECKING:
    from ._typing import ArrayLike, SeedLike

__all__ = ["check_grad", "directional_derivatives"]


def directional_derivatives(
    fun: Callable[[np.ndarray], float],
    grad: Callable[[np.ndarray], ArrayLike],
    x: ArrayLike,
    *,
    n_directions: int = 5,
    eps: float = 1e-6,
    rng: SeedLike = None,
) -> tuple[np.ndarray, np.ndarray]:
    r"""Compare a gradient with central differences along random unit directions.

    .. math::

        D_u = \frac{F(x + \epsilon u) - F(x - \epsilon u)}{2\epsilon}
        \quad\text{vs}\quad \langle \nabla F(x), u \rangle

    The computation is in float64 (the central difference has error :math:`O(\epsilon^2)` plus
    rounding :math:`O(\mathrm{eps}_{64} |F| / \epsilon)`).

    Returns
    -------
    numeric, analytic : ndarray, shape (n_directions,)

    Examples
    --------
    >>> num, ana = directional_derivatives(lambda x: (x ** 2).sum(), lambda x: 2 * x,
    ...                                    __import__("numpy").ones(3), rng=0)
    >>> bool(abs(num - ana).max() < 1e-8)
    True
    """
    n_directions = check_int("n_directions", n_directions, minimum=1)
    eps = check_real("eps", eps, low=0.0)
    gen = check_rng(rng)
    x = np.array(x, dtype=np.float64)
    g = np.asarray(grad(x), dtype=np.float64)
    if g.shape != x.shape:
        raise ValueError(f"grad(x) has shape {g.shape} but x has shape {x.shape}; they must match.")
    numeric = np.empty(n_directions)
    analytic = np.empty(n_directions)
    for k in range(n_directions):
        u = gen.standard_normal(x.shape)
        u /= np.linalg.norm(u)
        numeric[k] = (float(fun(x + eps * u)) - float(fun(x - eps * u))) / (2 * eps)
        analytic[k] = float(np.sum(g * u))
    return numeric, analytic


def check_grad(
    fun: Callable[[np.ndarray], float],
    grad: Callable[[np.ndarray], ArrayLike],
    x: ArrayLike,
    *,
    n_directions: int = 5,
    eps: float = 1e-6,
    rtol: float = 1e-5,
    atol: float = 1e-7,
    rng: SeedLike = None,
) -> bool:
    r"""Assert that ``grad`` is the gradient of ``fun`` at ``x`` by central differences.

    Checks :math:`|D_u - \langle \nabla F(x), u\rangle| \le \mathrm{atol} + \mathrm{rtol}\,|\langle
    \nabla F(x), u\rangle|` along ``n_directions`` random unit directions (see
    :func:`directional_derivatives`). The defaults suit smooth functions of order-one size; a
    ReLU network is only piecewise smooth, and a direction that crosses an activation boundary
    within ``eps`` makes the check fail (with probability of order ``eps``).

    Returns ``True`` or raises :class:`AssertionError` with the worst direction.

    Examples
    --------
    >>> import numpy as np
    >>> check_grad(lambda x: np.sin(x).sum(), np.cos, np.arange(3.0), rng=1)
    True
    """
    rtol = check_real("rtol", rtol, low=0.0, low_open=False)
    atol = check_real("atol", atol, low=0.0, low_open=False)
    numeric, analytic = directional_derivatives(fun, grad, x, n_directions=n_directions, eps=eps, rng=rng)
    err = np.abs(numeric - analytic)
    tol = atol + rtol * np.abs(analytic)
    if np.any(err > tol):
        k = int(np.argmax(err - tol))
        raise AssertionError(
            f"gradient check failed along direction {k}: central difference {numeric[k]!r}, "
            f"analytic {analytic[k]!r}, |difference| {err[k]:.3g} > tolerance {tol[k]:.3g}."
        )
    return True
