r"""The paper's binary tasks on real images, Gaussian input noise, and index splits.

- MNIST (Section 2, Table 1): :math:`y = +1` for digits above 4, :math:`-1` otherwise; the
  "reduced" variant drops the digits 1, 7, 4 and 9.
- CIFAR-10 (Section 4, Figure 1): cat (class 3, :math:`y = -1`) against dog (class 5, :math:`y = +1`).

Inputs stay as the loaders give them, in [0, 1]; rescale with
:func:`ntkdistill.datasets.scale_to_unit_ball` before using the theory's :math:`\|x\| \le 1`.
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from .._validation import _short, check_matrix, check_real, check_rng
from ._base import ImageData

if TYPE_CHECKING:
    from .._typing import ArrayLike, SeedLike

__all__ = [
    "binary_mnist",
    "cat_vs_dog",
    "add_gaussian_noise",
    "train_val_test_split",
    "MNIST_REDUCED_DROPPED",
]

MNIST_REDUCED_DROPPED = (1, 7, 4, 9)
_VARIANTS = ("full", "reduced")
_CAT, _DOG = 3, 5


def _check_data(name, data):
    if not isinstance(data, ImageData):
        raise TypeError(
            f"{name} must be an ImageData (from ntkdistill.datasets.load_mnist / load_cifar10), got "
            f"{type(data).__name__}."
        )
    return data


def binary_mnist(data: ImageData, variant: str = "full") -> tuple[np.ndarray, np.ndarray]:
    r"""The binary MNIST task of Table 1: digits above 4 against the rest.

    .. math::

        y_i = \begin{cases} +1 & \text{digit}_i > 4 \\ -1 & \text{digit}_i \le 4 \end{cases},
        \qquad \text{reduced: keep } \text{digit}_i \notin \{1, 7, 4, 9\}

    Section 2 of the paper (THEORY.md, "The paper's experiments"). The reduced variant drops the
    digit pairs that are easiest to confuse across the two classes (1/7 and 4/9).

    Parameters
    ----------
    data : ImageData
        MNIST digits, e.g. from :func:`ntkdistill.datasets.load_mnist`.
    variant : {"full", "reduced"}

    Returns
    -------
    X : ndarray of float64, shape (n', p)
        The kept rows of ``data.X`` (a new, writable array), in their original order.
    y : ndarray of float64, shape (n',)
        Labels in {-1, +1}.

    Examples
    --------
    >>> import numpy as np
    >>> from ntkdistill.datasets._base import ImageData
    >>> data = ImageData(np.zeros((5, 4)), np.array([0, 1, 5, 7, 8]), (1, 2, 2), "toy", "train")
    >>> binary_mnist(data)[1].tolist()
    [-1.0, -1.0, 1.0, 1.0, 1.0]
    >>> binary_mnist(data, "reduced")[1].tolist()
    [-1.0, 1.0, 1.0]
    """
    data = _check_data("data", data)
    if variant not in _VARIANTS:
        raise ValueError(f"variant == {variant!r}, must be one of {_VARIANTS}.")
    digits = data.labels
    if digits.size and (digits.min() < 0 or digits.max() > 9):
        raise ValueError(f"data.labels range over {digits.min()}..{digits.max()}; binary_mnist needs MNIST digits 0-9.")
    keep = np.ones(digits.shape[0], dtype=bool)
    if variant == "reduced":
        keep = ~np.isin(digits, MNIST_REDUCED_DROPPED)
    X = data.X[keep]
    y = np.where(digits[keep] > 4, 1.0, -1.0)
    return X, y


def cat_vs_dog(data: ImageData) -> tuple[np.ndarray, np.ndarray]:
    r"""The binary CIFAR-10 task of Figure 1: cat against dog.

    .. math::

        y_i = \begin{cases} +1 & \text{class}_i = 5 \text{ (dog)} \\ -1 & \text{class}_i = 3 \text{ (cat)} \end{cases},
        \qquad \text{other classes dropped}

    Section 4 of the paper (THEORY.md, "The paper's experiments").

    Parameters
    ----------
    data : ImageData
        CIFAR-10 images, e.g. from :func:`ntkdistill.datasets.load_cifar10`.

    Returns
    -------
    X : ndarray of float64, shape (n', 3072)
        The cat and dog rows of ``data.X`` (a new, writable array), in their original order.
    y : ndarray of float64, shape (n',)
        -1 for cat, +1 for dog.

    Examples
    --------
    >>> import numpy as np
    >>> from ntkdistill.datasets._base import ImageData
    >>> data = ImageData(np.zeros((4, 3)), np.array([3, 0, 5, 3]), (3, 1, 1), "toy", "train")
    >>> cat_vs_dog(data)[1].tolist()
    [-1.0, 1.0, -1.0]
    """
    data = _check_data("data", data)
    if data.class_names and tuple(data.class_names[k] for k in (_CAT, _DOG)) != ("cat", "dog"):
        raise ValueError(
            f"data.class_names gives classes 3 and 5 as {data.class_names[_CAT]!r} and "
            f"{data.class_names[_DOG]!r}; cat_vs_dog needs CIFAR-10 (3 = 'cat', 5 = 'dog')."
        )
    keep = np.isin(data.labels, (_CAT, _DOG))
    return data.X[keep], np.where(data.labels[keep] == _DOG, 1.0, -1.0)


def add_gaussian_noise(X: ArrayLike, std: float, rng: SeedLike = None) -> np.ndarray:
    r"""Add independent Gaussian noise of standard deviation ``std`` to every entry.

    .. math::

        \tilde X_{ik} = X_{ik} + \sigma \varepsilon_{ik}, \qquad \varepsilon_{ik} \sim N(0, 1)
        \text{ i.i.d.}

    The corruption of Section 4 (Figure 1: "Gaussian noise of growing variance"; the variance
    is :math:`\sigma^2`). No clipping: the result may leave [0, 1].

    Parameters
    ----------
    X : array, shape (n, p)
        float32 stays float32; anything else becomes float64.
    std : float
        :math:`\sigma \ge 0`; 0 returns a copy.
    rng : None, int, SeedSequence or Generator

    Returns
    -------
    ndarray, shape (n, p), a new array of ``X``'s float dtype.

    Examples
    --------
    >>> import numpy as np
    >>> Xn = add_gaussian_noise(np.zeros((2000, 50)), 0.5, rng=0)
    >>> round(float(Xn.std()), 2)
    0.5
    """
    X = check_matrix("X", X)
    std = check_real("std", std, low=0.0, low_open=False)
    gen = check_rng(rng)
    noise = gen.standard_normal(X.shape, dtype=X.dtype)
    noise *= X.dtype.type(std)
    return X + noise


def _check_fractions(fractions):
    if isinstance(fractions, (str, bytes)) or not hasattr(fractions, "__len__"):
        raise TypeError(
            f"fractions must be a sequence of three numbers (train, validation, test) summing to 1, "
            f"got {_short(fractions)}."
        )
    if len(fractions) != 3:
        raise ValueError(
            f"fractions must have three entries (train, validation, test), got {len(fractions)}: {_short(fractions)}."
        )
    out = []
    for name, f in zip(("train", "validation", "test"), fractions):
        if isinstance(f, (bool, np.bool_)) or not isinstance(f, numbers.Real):
            raise TypeError(f"fractions[{name}] must be a real number, got {_short(f)}.")
        if not (0.0 <= float(f) <= 1.0):
            raise ValueError(f"fractions[{name}] == {f}, must lie in [0, 1].")
        out.append(float(f))
    if abs(sum(out) - 1.0) > 1e-9:
        raise ValueError(f"fractions == {tuple(fractions)} sum to {sum(out):g}; they must sum to 1.")
    return out


def _split_counts(n, fr):
    """Sizes (train, val, test) summing to n; rounding goes to the test part."""
    n_train = round(n * fr[0])
    n_val = round(n * fr[1])
    if n_train + n_val > n:
        n_val = n - n_train
    return n_train, n_val, n - n_train - n_val


def train_val_test_split(
    n: int, fractions: Sequence[float] = (0.8, 0.1, 0.1), rng: SeedLike = None, *, stratify: ArrayLike | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    r"""Random disjoint train, validation and test index sets covering ``range(n)``.

    .. math::

        |I_{\text{train}}| = \operatorname{round}(n f_1), \quad
        |I_{\text{val}}| = \operatorname{round}(n f_2), \quad
        |I_{\text{test}}| = n - |I_{\text{train}}| - |I_{\text{val}}|

    applied within each class when ``stratify`` is given (so each part keeps the class
    proportions up to rounding). Section 4 of the paper uses an 80/10/10 split; hyper-parameters
    are chosen on the validation part, never on the test part.

    Parameters
    ----------
    n : int
        Number of examples, >= 1.
    fractions : sequence of three floats
        Train, validation and test fractions, each in [0, 1], summing to 1.
    rng : None, int, SeedSequence or Generator
    stratify : array of shape (n,), optional
        Class labels to split within.

    Returns
    -------
    train, val, test : ndarray of int
        Sorted index arrays, disjoint, together ``0 .. n-1``.

    Examples
    --------
    >>> tr, va, te = train_val_test_split(10, (0.6, 0.2, 0.2), rng=0)
    >>> len(tr), len(va), len(te), sorted(list(tr) + list(va) + list(te)) == list(range(10))
    (6, 2, 2, True)
    """
    if isinstance(n, (bool, np.bool_)) or not isinstance(n, numbers.Integral):
        raise TypeError(f"n must be an integer (the number of examples), got {_short(n)}.")
    n = int(n)
    if n < 1:
        raise ValueError(f"n == {n}, must be >= 1.")
    fr = _check_fractions(fractions)
    if stratify is not None:
        stratify = np.asarray(stratify)
        if stratify.shape != (n,):
            raise ValueError(f"stratify must have shape ({n},), one label per example, got {stratify.shape}.")
    gen = check_rng(rng)
    groups = [np.arange(n)] if stratify is None else [np.flatnonzero(stratify == c) for c in np.unique(stratify)]
    parts = ([], [], [])
    for idx in groups:
        perm = gen.permutation(idx)
        a, b, _ = _split_counts(idx.size, fr)
        parts[0].append(perm[:a])
        parts[1].append(perm[a : a + b])
        parts[2].append(perm[a + b :])
    return tuple(np.sort(np.concatenate(p)).astype(np.intp) for p in parts)
