r"""Synthetic data sets with a difficulty knob and the exact NTK margin.

Every family satisfies the paper's assumptions (THEORY.md, "Notation"): unit-norm inputs
(:math:`c = 1`), no two inputs parallel, labels in {-1, +1}. Along each family's knob the margin
:math:`\gamma` (Assumption 1) falls monotonically over orders of magnitude, and it is known exactly:

- :func:`two_points`: two unit vectors at angle :math:`\theta`, closed form (THEORY.md).
- :func:`orthonormal`: :math:`n` orthonormal points, closed form (THEORY.md).
- :func:`circle`: :math:`n` points with alternating labels on a circle of angular radius
  :math:`\beta_0` around a pole (a circle in the plane plus a bias coordinate); a rotation by one
  point flips every label, so by symmetry and convexity the uniform dual weights are optimal and
  :math:`\gamma` is a one-dimensional integral, evaluated by Gauss-Legendre quadrature on the
  pieces where the integrand is smooth (error below 1e-12).

In all three the optimal dual weights are uniform over the points that matter and every point
is a support vector, so the teacher logits are exactly :math:`z_i = y_i \gamma`.

Two more families have no closed-form margin; sweeps certify it with :func:`ntkdistill.margin`:

- :func:`straddling_pairs`: pairs of points at angle :math:`2g` straddling a hyperplane.
- :func:`xor_quads`: XOR quadruples closing in on a common direction.

:data:`FAMILIES` and :func:`make_family` index the families by a difficulty level for sweeps.
A ``rng`` rotates a data set by a Haar-random orthogonal matrix; the margin, which is
rotation invariant, does not change.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
from scipy.stats import binom

from .. import _guards
from .._validation import _short, check_int, check_real, check_rng

if TYPE_CHECKING:
    from .._typing import ArrayLike, SeedLike

__all__ = [
    "SyntheticData",
    "two_points",
    "orthonormal",
    "circle",
    "two_points_margin",
    "orthonormal_margin",
    "circle_margin",
    "straddling_pairs",
    "xor_quads",
    "Family",
    "FAMILIES",
    "make_family",
]


@dataclass(frozen=True, eq=False)
class SyntheticData:
    r"""A synthetic data set with its exact NTK margin (THEORY.md, "Margin").

    .. math::

        \gamma = \min_{q\in\Delta_n}\mathbb{E}_z\Big\|\sum_i q_i y_i 1(\langle z, x_i\rangle > 0) x_i\Big\|,
        \qquad z_i = y_i\gamma \text{ where every point is a support vector}

    Unpacks as ``X, y, gamma = data``.

    Attributes
    ----------
    X : ndarray, shape (n, d)
        Inputs, unit norm.
    y : ndarray, shape (n,)
        Labels in {-1, +1} (float64).
    gamma : float or None
        The exact NTK margin (THEORY.md, "Margin"), None where unknown.
    z : ndarray, shape (n,) or None
        The exact teacher logits of the max-margin field, where known.
    q : ndarray, shape (n,) or None
        Optimal dual weights, where known.
    name : str
        The family.
    params : dict
        The family's parameters.

    Examples
    --------
    >>> X, y, gamma = orthonormal(2)
    >>> round(gamma, 5), orthonormal(2).n
    (0.42678, 2)
    """

    X: np.ndarray
    y: np.ndarray
    gamma: float | None
    z: np.ndarray | None = None
    q: np.ndarray | None = None
    name: str = ""
    params: dict = field(default_factory=dict)

    def __iter__(self):
        return iter((self.X, self.y, self.gamma))

    @property
    def n(self) -> int:
        """Number of points."""
        return int(self.X.shape[0])

    @property
    def d(self) -> int:
        """Input dimension."""
        return int(self.X.shape[1])

    def __repr__(self):
        g = "None" if self.gamma is None else f"{self.gamma:.6g}"
        return f"SyntheticData({self.name}, n={self.n}, d={self.d}, gamma={g}, params={self.params})"


def _rotate(X, rng):
    """``X`` rotated by a Haar-random orthogonal matrix from ``rng`` (unchanged when rng is None)."""
    if rng is None:
        return X
    gen = check_rng(rng)
    d = X.shape[1]
    Q, R = np.linalg.qr(gen.standard_normal((d, d)))
    Q = Q * np.sign(np.diag(R))  # Haar measure (Mezzadri 2007)
    return X @ Q.T


def _alternating(n):
    return np.where(np.arange(n) % 2 == 0, 1.0, -1.0)


# ----------------------------------------------------------------------------- two points


def two_points_margin(theta: float, *, same_label: bool = False) -> float:
    r"""Exact NTK margin of two unit vectors at angle ``theta`` (THEORY.md, "Margin").

    .. math::

        \gamma = \frac{(\pi - \theta)\sin(\theta/2) + \theta}{2\pi}\ \text{(opposite labels)},\qquad
        \gamma = \frac{(\pi - \theta)\cos(\theta/2) + \theta}{2\pi}\ \text{(equal labels)},

    with optimal dual weights (1/2, 1/2). With opposite labels :math:`\gamma` increases with
    :math:`\theta` from 0 to 1/2, and :math:`\gamma \approx (1/4 + 1/(2\pi))\,\theta` for small
    :math:`\theta`.

    Parameters
    ----------
    theta : float in (0, pi)
    same_label : bool, default False

    Returns
    -------
    float

    Examples
    --------
    >>> import math
    >>> round(two_points_margin(math.pi / 3), 12)
    0.333333333333
    """
    theta = check_real("theta", theta, low=0.0, high=math.pi)
    half = math.cos(theta / 2) if same_label else math.sin(theta / 2)
    return ((math.pi - theta) * half + theta) / (2 * math.pi)


def two_points(theta: float, *, same_label: bool = False, rng: SeedLike = None) -> SyntheticData:
    r"""Two unit vectors at angle ``theta`` with opposite (or equal) labels, and their exact margin.

    .. math::

        x_1 = (1, 0),\quad x_2 = (\cos\theta, \sin\theta),\quad
        \gamma = \frac{(\pi - \theta)\sin(\theta/2) + \theta}{2\pi}

    (THEORY.md, "Margin"; :func:`two_points_margin`). The difficulty knob is :math:`\theta`:
    the smaller the angle between two points with opposite labels, the smaller the margin.

    Parameters
    ----------
    theta : float in (0, pi)
    same_label : bool, default False
        Labels (+1, +1) instead of (+1, -1).
    rng : None, int, SeedSequence or Generator
        If given, rotate both points by a Haar-random orthogonal matrix.

    Returns
    -------
    SyntheticData
        With ``q = (1/2, 1/2)`` and ``z = y gamma``.

    Examples
    --------
    >>> import math
    >>> X, y, gamma = two_points(math.pi / 3)
    >>> y.tolist(), round(gamma, 6)
    ([1.0, -1.0], 0.333333)
    """
    gamma = two_points_margin(theta, same_label=same_label)
    X = np.array([[1.0, 0.0], [math.cos(theta), math.sin(theta)]])
    y = np.array([1.0, 1.0]) if same_label else np.array([1.0, -1.0])
    return SyntheticData(
        X=_rotate(X, rng),
        y=y,
        gamma=gamma,
        z=y * gamma,
        q=np.array([0.5, 0.5]),
        name="two_points",
        params={"theta": float(theta), "same_label": bool(same_label)},
    )


# ----------------------------------------------------------------------------- orthonormal points


def orthonormal_margin(n: int) -> float:
    r"""Exact NTK margin of ``n`` orthonormal points with any labels (THEORY.md, "Margin").

    .. math::

        \gamma_n = \frac{1}{n\,2^n}\sum_{k=0}^{n}\binom{n}{k}\sqrt{k} = \frac{\mathbb{E}\sqrt{K}}{n},
        \qquad K \sim \mathrm{Bin}(n, 1/2),

    decreasing in :math:`n`, :math:`\gamma_n \approx 1/\sqrt{2n}` for large :math:`n`
    (0.5, 0.42678, 0.37395, 0.33459, 0.30437, 0.28052 for n = 1..6).

    Parameters
    ----------
    n : int >= 1

    Returns
    -------
    float

    Examples
    --------
    >>> [round(orthonormal_margin(n), 5) for n in (1, 2, 3)]
    [0.5, 0.42678, 0.37395]
    """
    n = check_int("n", n, minimum=1)
    k = np.arange(n + 1)
    return float(binom.pmf(k, n, 0.5) @ np.sqrt(k) / n)


def orthonormal(
    n: int, *, d: int | None = None, labels: str | ArrayLike = "alternating", rng: SeedLike = None
) -> SyntheticData:
    r"""``n`` orthonormal points with exact margin :math:`\gamma_n` (any labels).

    .. math::

        x_i = e_i \in \mathbb{R}^d,\qquad
        \gamma_n = \frac{1}{n\,2^n}\sum_{k=0}^{n}\binom{n}{k}\sqrt{k}

    (THEORY.md, "Margin"; :func:`orthonormal_margin`). The optimal dual weights are uniform and
    every teacher logit is :math:`y_i \gamma_n`. The knob is :math:`n`: levels
    1, 4, 16, 64, 256 give :math:`\gamma` = 0.5, 0.335, 0.18, 0.088, 0.044.

    Parameters
    ----------
    n : int >= 1
    d : int >= n, optional
        Ambient dimension (default ``n``).
    labels : "alternating", "random" or array_like of {-1, +1}
        "random" draws them from ``rng``.
    rng : None, int, SeedSequence or Generator
        If given, rotate the points by a Haar-random orthogonal matrix (and draw random labels).

    Returns
    -------
    SyntheticData

    Examples
    --------
    >>> X, y, gamma = orthonormal(3)
    >>> X.tolist(), y.tolist(), round(gamma, 5)
    ([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]], [1.0, -1.0, 1.0], 0.37395)
    """
    n = check_int("n", n, minimum=1)
    d = n if d is None else check_int("d", d, minimum=n)
    gen = None if rng is None else check_rng(rng)
    if isinstance(labels, str):
        if labels == "alternating":
            y = _alternating(n)
        elif labels == "random":
            y = (check_rng(gen).integers(0, 2, size=n) * 2 - 1).astype(np.float64)
        else:
            raise ValueError(f"labels == {labels!r}, must be 'alternating', 'random' or an array of -1/+1.")
    else:
        from .._validation import check_labels

        y = check_labels("labels", labels, n)
    _guards.guard_dataset("orthonormal", n, d, gen is not None)
    X = np.eye(n, d)
    gamma = orthonormal_margin(n)
    return SyntheticData(
        X=_rotate(X, gen),
        y=y,
        gamma=gamma,
        z=y * gamma,
        q=np.full(n, 1.0 / n),
        name="orthonormal",
        params={"n": n, "d": d},
    )


# ----------------------------------------------------------------------------- circle with alternating labels


def _circle_points(n, beta0):
    phi = 2 * np.pi * np.arange(n) / n
    s, c = math.sin(beta0), math.cos(beta0)
    return np.stack([s * np.cos(phi), s * np.sin(phi), np.full(n, c)], axis=1)


def _circle_window_norms(omegas, X, y):
    r"""For each :math:`\omega`, the average over :math:`\alpha` of :math:`\|g(\alpha)\|` (see circle_margin).

    Over one period :math:`2\pi/n` of :math:`\alpha` the active window changes only at
    :math:`\pm\omega` modulo the period, so there are at most three pieces.
    """
    n = X.shape[0]
    period = 2 * np.pi / n
    phi = 2 * np.pi * np.arange(n) / n
    a1 = np.mod(omegas, period)
    a2 = np.mod(-omegas, period)
    cuts = np.stack([np.zeros_like(a1), np.minimum(a1, a2), np.maximum(a1, a2), np.full_like(a1, period)], axis=1)
    lengths = np.diff(cuts, axis=1)  # (K, 3)
    mids = 0.5 * (cuts[:, 1:] + cuts[:, :-1])  # (K, 3)
    signed = y[:, None] * X / n
    out = np.empty(omegas.size)
    step = max(1, 2**20 // (3 * n))
    for s in range(0, omegas.size, step):
        sl = slice(s, s + step)
        # circular distance between each piece's midpoint and each point's azimuth
        dist = np.abs(np.mod(mids[sl, :, None] - phi + np.pi, 2 * np.pi) - np.pi)  # (k, 3, n)
        G = (dist < omegas[sl, None, None]).astype(np.float64) @ signed  # (k, 3, d)
        out[sl] = (lengths[sl] * np.linalg.norm(G, axis=2)).sum(axis=1) / period
    return out


def circle_margin(n: int, beta0: float) -> float:
    r"""Exact NTK margin of :func:`circle` (``n`` alternating points at polar angle ``beta0``).

    With :math:`x_i = (\sin\beta_0\cos\varphi_i, \sin\beta_0\sin\varphi_i, \cos\beta_0)`,
    :math:`\varphi_i = 2\pi i / n`, :math:`y_i = (-1)^i`, the rotation by :math:`2\pi/n` about the
    pole maps the data to itself with every label flipped, which leaves the dual objective of
    THEORY.md ("Margin") unchanged; being convex, it is minimised by the uniform weights. So

    .. math::

        \gamma = \mathbb{E}_z\Big\|\frac1n\sum_i y_i 1(\langle z, x_i\rangle > 0)\, x_i\Big\|
               = \frac12\int_0^\pi J(\omega)\,
                 \frac{r\sin\omega}{(1 + r^2\cos^2\omega)^{3/2}}\,d\omega,\qquad r = \tan\beta_0,

    where, for a direction at polar angle :math:`\beta` and azimuth :math:`\alpha`, the active
    points are those with :math:`|\alpha - \varphi_i| < \omega` and
    :math:`\cos\omega = -\cot\beta / r`, and :math:`J(\omega)` is the average of :math:`\|g\|`
    over :math:`\alpha`. Directions activating no point contribute 0, and so do those activating
    all of them when :math:`n \ge 4` (the alternating sum vanishes); for :math:`n = 2` they add
    :math:`\tfrac12(1 - \sin\beta_0)\sin\beta_0`. :math:`J` is linear on each interval
    :math:`[k\pi/n, (k+1)\pi/n]`; these intervals, cut further where the weight varies (its
    peak at :math:`\pi/2` has width :math:`1/r`), get 40 Gauss-Legendre nodes each, which is exact
    to about 1e-13.

    Parameters
    ----------
    n : int, even, >= 2
    beta0 : float in (0, pi/2)

    Returns
    -------
    float

    Examples
    --------
    ``n = 2`` is two points at angle :math:`2\beta_0` with opposite labels:

    >>> import math
    >>> round(circle_margin(2, math.pi / 6), 9), round(two_points_margin(math.pi / 3), 9)
    (0.333333333, 0.333333333)
    """
    n = check_int("n", n, minimum=2)
    if n % 2:
        raise ValueError(f"n == {n}, must be even (alternating labels around the circle).")
    beta0 = check_real("beta0", beta0, low=0.0, high=math.pi / 2)
    X = _circle_points(n, beta0)
    y = _alternating(n)
    r = math.tan(beta0)
    nodes, weights = np.polynomial.legendre.leggauss(40)
    # J is linear between the k pi / n; the weight peaks at pi/2 with width 1/r, so also cut where
    # u = arctan(r cos(omega)) is uniform (in u the weight is cos(u) / 2, smooth)
    u = np.linspace(-math.atan(r), math.atan(r), 257)
    cuts = np.concatenate([np.arange(n + 1) * math.pi / n, np.arccos(np.clip(np.tan(u) / r, -1, 1))])
    cuts = np.unique(np.clip(cuts, 0, math.pi))
    keep = np.diff(cuts) > 1e-15
    a, b = cuts[:-1][keep], cuts[1:][keep]
    om = (0.5 * (a + b))[:, None] + (0.5 * (b - a))[:, None] * nodes[None, :]
    w = (0.5 * (b - a))[:, None] * weights[None, :] * 0.5 * r * np.sin(om) * (1 + (r * np.cos(om)) ** 2) ** -1.5
    total = float(w.ravel() @ _circle_window_norms(om.ravel(), X, y))
    # directions within 90 degrees of every point (cos(polar angle) >= sin(beta0)) activate all;
    # their g is the full alternating sum, zero for n >= 4 and (2 sin(beta0), 0, 0) / 2 for n = 2
    g_all = (y[:, None] * X).sum(axis=0) / n
    return total + 0.5 * (1 - math.sin(beta0)) * math.sqrt(float(g_all @ g_all))


def circle(n: int, beta0: float, *, rng: SeedLike = None) -> SyntheticData:
    r"""``n`` points with alternating labels on a circle around a pole, with their exact margin.

    .. math::

        x_i = (\sin\beta_0\cos\varphi_i,\ \sin\beta_0\sin\varphi_i,\ \cos\beta_0),\qquad
        \varphi_i = \frac{2\pi i}{n},\qquad y_i = (-1)^i,

    that is, points on a circle in the plane, sectors of alternating labels, with a bias
    coordinate, all rescaled to unit norm. No two are parallel. The knob is the polar angle
    :math:`\beta_0`: as it shrinks the points close in on the pole and :math:`\gamma` falls
    roughly in proportion (for n = 8, :math:`\beta_0 = \pi/4, \pi/8, \ldots, \pi/128` give
    :math:`\gamma` = 0.064, 0.031, 0.014, 0.0067, 0.0032, 0.0016); more points also lower it.
    The exact margin is :func:`circle_margin`.

    Parameters
    ----------
    n : int, even, >= 2
    beta0 : float in (0, pi/2)
    rng : None, int, SeedSequence or Generator
        If given, rotate the points by a Haar-random orthogonal matrix.

    Returns
    -------
    SyntheticData
        With uniform ``q`` and ``z = y gamma``.

    Examples
    --------
    >>> import math
    >>> data = circle(8, math.pi / 8)
    >>> data.X.shape, round(data.gamma, 6)
    ((8, 3), 0.030892)
    """
    _guards.guard_dataset("circle", n, 3, rng is not None, exact_margin_nodes=40)
    gamma = circle_margin(n, beta0)
    n = int(n)
    y = _alternating(n)
    return SyntheticData(
        X=_rotate(_circle_points(n, float(beta0)), rng),
        y=y,
        gamma=gamma,
        z=y * gamma,
        q=np.full(n, 1.0 / n),
        name="circle",
        params={"n": n, "beta0": float(beta0)},
    )


# ----------------------------------------------------------------------------- pairs and quadruples (certified margins)


def _unit_rows(gen, k, dim):
    w = gen.standard_normal((k, dim))
    return w / np.linalg.norm(w, axis=1, keepdims=True)


def straddling_pairs(n: int, g: float, *, d: int = 5, rng: SeedLike = None) -> SyntheticData:
    r"""``n/2`` pairs of points straddling a hyperplane at angle ``g``, opposite labels within a pair.

    .. math::

        x_{2j} = (\sin g,\ \cos g\, w_j),\quad x_{2j+1} = (-\sin g,\ \cos g\, w_j),\qquad
        y_{2j} = +1,\ y_{2j+1} = -1,

    with :math:`w_j` uniform on the unit sphere of :math:`\mathbb{R}^{d-1}` (drawn from ``rng``).
    The two points of a pair are at angle :math:`2g`, so as :math:`g \to 0` the NTK margin falls
    to 0, roughly in proportion to :math:`g` (two points at angle :math:`\theta` have
    :math:`\gamma \approx (1/4 + 1/(2\pi))\theta`, THEORY.md "Margin"). The margin has no closed
    form: ``gamma`` is None and sweeps certify it with :func:`ntkdistill.margin`.

    Parameters
    ----------
    n : int, even, >= 2
    g : float in (0, pi/2)
    d : int >= 2, default 5
    rng : None, int, SeedSequence or Generator
        Draws the directions :math:`w_j`.

    Returns
    -------
    SyntheticData

    Examples
    --------
    >>> data = straddling_pairs(4, 0.3, d=3, rng=0)
    >>> data.X.shape, data.y.tolist(), data.gamma is None
    ((4, 3), [1.0, -1.0, 1.0, -1.0], True)
    """
    n = check_int("n", n, minimum=2, even=True)
    g = check_real("g", g, low=0.0, high=math.pi / 2)
    d = check_int("d", d, minimum=2)
    w = np.repeat(_unit_rows(check_rng(rng), n // 2, d - 1), 2, axis=0)
    y = np.tile([1.0, -1.0], n // 2)
    X = np.concatenate([math.sin(g) * y[:, None], math.cos(g) * w], axis=1)
    return SyntheticData(X=X, y=y, gamma=None, name="pairs", params={"n": n, "g": float(g), "d": d})


def xor_quads(n: int, g: float, *, d: int = 5, rng: SeedLike = None) -> SyntheticData:
    r"""``n/4`` XOR quadruples: four points around a common direction, labels by the XOR of two signs.

    .. math::

        x = \Big(\tfrac{\sin g}{\sqrt 2}\, a,\ \tfrac{\sin g}{\sqrt 2}\, b,\ \cos g\, w_j\Big),
        \qquad a, b \in \{-1, +1\},\quad y = a b,

    with :math:`w_j` uniform on the unit sphere of :math:`\mathbb{R}^{d-2}`. No linear function
    separates a quadruple, and as :math:`g \to 0` its points close in on :math:`w_j`, so the NTK
    margin falls to 0 (faster than for :func:`straddling_pairs`). ``gamma`` is None: sweeps
    certify it with :func:`ntkdistill.margin`.

    Parameters
    ----------
    n : int, a multiple of 4
    g : float in (0, pi/2)
    d : int >= 3, default 5
    rng : None, int, SeedSequence or Generator

    Returns
    -------
    SyntheticData

    Examples
    --------
    >>> data = xor_quads(8, 0.3, d=4, rng=0)
    >>> data.X.shape, data.y.tolist()[:4]
    ((8, 4), [1.0, -1.0, -1.0, 1.0])
    """
    n = check_int("n", n, minimum=4)
    if n % 4:
        raise ValueError(f"n == {n}, must be a multiple of 4 (XOR quadruples).")
    g = check_real("g", g, low=0.0, high=math.pi / 2)
    d = check_int("d", d, minimum=3)
    k = n // 4
    w = np.repeat(_unit_rows(check_rng(rng), k, d - 2), 4, axis=0)
    a = np.tile([1.0, 1.0, -1.0, -1.0], k)
    b = np.tile([1.0, -1.0, 1.0, -1.0], k)
    X = np.concatenate([(math.sin(g) / math.sqrt(2)) * np.stack([a, b], axis=1), math.cos(g) * w], axis=1)
    return SyntheticData(X=X, y=a * b, gamma=None, name="xor", params={"n": n, "g": float(g), "d": d})


# ----------------------------------------------------------------------------- families by level


@dataclass(frozen=True)
class Family:
    r"""A synthetic family indexed by a difficulty level (gamma falls as the level rises).

    .. math::

        \ell_1 < \ell_2 \ \Rightarrow\ \gamma(\ell_1) > \gamma(\ell_2)

    (Assumption 1's margin, THEORY.md "Margin").

    Attributes
    ----------
    name : str
    level_meaning : str
        What the level sets.
    default_levels : tuple
        At least 5 levels over which gamma falls by at least a factor of 10.
    default_n : int or None
        Number of points when not given (None: set by the level).
    make : callable
        ``make(level, n, rng) -> SyntheticData``.

    Examples
    --------
    >>> fam = FAMILIES["circle"]
    >>> fam.default_n, len(fam.default_levels), fam.make(1, None, None).n
    (8, 6, 8)
    """

    name: str
    level_meaning: str
    default_levels: tuple
    default_n: int | None
    make: Callable = field(repr=False)


def _make_two_points(level, n, rng):
    if n not in (None, 2):
        raise ValueError(f"n == {n}, but the two_points family always has n = 2; pass n=None or 2.")
    level = check_real("level", level, low=0.0)
    return two_points(math.pi * 2.0 ** (-level), rng=rng)


def _make_orthonormal(level, n, rng):
    level = check_int("level", level, minimum=1)
    if n not in (None, level):
        raise ValueError(
            f"n == {n}, but in the orthonormal family the level is the number of points ({level}); "
            "pass n=None or n equal to the level."
        )
    return orthonormal(level, rng=rng)


def _make_circle(level, n, rng):
    level = check_real("level", level, low=0.0)
    return circle(8 if n is None else n, (math.pi / 2) * 2.0 ** (-level), rng=rng)


def _make_pairs(level, n, rng):
    level = check_real("level", level, low=-1.0)
    return straddling_pairs(32 if n is None else n, 0.8 * 2.0 ** (-level / 2), rng=rng)


def _make_xor(level, n, rng):
    level = check_real("level", level, low=-1.0)
    return xor_quads(32 if n is None else n, 0.8 * 2.0 ** (-level / 2), rng=rng)


FAMILIES = {
    "two_points": Family(
        "two_points",
        "angle theta = pi / 2**level between the two points (opposite labels)",
        (1, 2, 3, 4, 5, 6),
        2,
        _make_two_points,
    ),
    "orthonormal": Family(
        "orthonormal",
        "number of orthonormal points n = level",
        (1, 4, 16, 64, 256),
        None,
        _make_orthonormal,
    ),
    "circle": Family(
        "circle",
        "polar angle beta0 = (pi/2) / 2**level of n alternating points (default n = 8)",
        (1, 2, 3, 4, 5, 6),
        8,
        _make_circle,
    ),
    "pairs": Family(
        "pairs",
        "angle g = 0.8 / 2**(level/2) of 16 pairs straddling a hyperplane in d = 5 (certified margin)",
        (0, 1.5, 3, 4.5, 6, 8),
        32,
        _make_pairs,
    ),
    "xor": Family(
        "xor",
        "angle g = 0.8 / 2**(level/2) of 8 XOR quadruples in d = 5 (certified margin)",
        (0, 1, 2, 3, 4, 6),
        32,
        _make_xor,
    ),
}
"""The synthetic families by name (see :class:`Family`)."""


def make_family(name: str, level: float, *, n: int | None = None, rng: SeedLike = None) -> SyntheticData:
    r"""A member of a synthetic family at a difficulty level, with its exact margin.

    .. math::

        \gamma(\text{level}) \text{ decreasing}:\quad
        \theta = \pi\, 2^{-\ell}\ (\texttt{two\_points}),\quad
        n = \ell\ (\texttt{orthonormal}),\quad
        \beta_0 = \tfrac{\pi}{2}\, 2^{-\ell}\ (\texttt{circle})

    (THEORY.md, "Margin"; see :func:`two_points`, :func:`orthonormal`, :func:`circle`).

    Parameters
    ----------
    name : {"two_points", "orthonormal", "circle"}
    level : int or float
        Difficulty; ``FAMILIES[name].default_levels`` spans a factor of at least 10 in gamma.
    n : int, optional
        Number of points where the family allows a choice (circle: even, default 8).
    rng : None, int, SeedSequence or Generator
        Random rotation of the data set (the margin is unchanged).

    Returns
    -------
    SyntheticData

    Examples
    --------
    >>> [round(make_family("two_points", lv).gamma, 4) for lv in FAMILIES["two_points"].default_levels]
    [0.4268, 0.2685, 0.1479, 0.0772, 0.0394, 0.0199]
    """
    if not isinstance(name, str) or name not in FAMILIES:
        raise ValueError(f"name == {_short(name)}, must be one of {sorted(FAMILIES)}.")
    if n is not None and not isinstance(n, numbers.Integral):
        raise TypeError(f"n must be an int or None, got {_short(n)}.")
    return FAMILIES[name].make(level, n, rng)


# ----------------------------------------------------------------------------- antipodal pair


def antipodal(d: int = 5, *, rng: SeedLike = None) -> SyntheticData:
    r"""An antipodal pair :math:`x, -x` in ``d`` dimensions with opposite labels: :math:`\gamma = 1/2` exactly.

    .. math::

        x_1 = e_1,\quad x_2 = -e_1,\quad y = (1, -1),\qquad \gamma = \tfrac12,\quad z = y/2

    The two points' features live on disjoint half-spaces, so
    :math:`\sum_i q_i y_i 1(\langle z, x_i\rangle > 0) x_i` is :math:`q_1 e_1` or :math:`q_2 e_1` and its
    expected norm is :math:`1/2` for every :math:`q` (the limit :math:`\theta \to \pi` of
    :func:`two_points_margin`); :math:`v = e_1` attains it, with teacher logits :math:`\pm 1/2`.
    The largest margin any data can have: the cheapest data with :math:`n = 2` for the theorems.

    Parameters
    ----------
    d : int, >= 1
        Dimension.
    rng : None, int, SeedSequence or Generator
        If given, rotate both points by a Haar-random orthogonal matrix.

    Returns
    -------
    SyntheticData

    Examples
    --------
    >>> ds = antipodal(5)
    >>> ds.n, ds.d, ds.gamma, ds.z.tolist()
    (2, 5, 0.5, [0.5, -0.5])
    """
    d = check_int("d", d, minimum=1)
    X = np.zeros((2, d))
    X[0, 0], X[1, 0] = 1.0, -1.0
    y = np.array([1.0, -1.0])
    return SyntheticData(
        X=_rotate(X, rng), y=y, gamma=0.5, z=y / 2, q=np.array([0.5, 0.5]), name="antipodal", params={"d": d}
    )


__all__ += ["antipodal"]
