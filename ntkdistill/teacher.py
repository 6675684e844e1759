r"""The infinite-width teacher: its logits, the soft labels, and the check of Lemma 6.

.. math::

    z_i = \mathbb{E}_{z\sim N(0, I_d)}\big[\langle \phi_{x_i}(z), v(z)\rangle\big],\qquad
    p_i = \mu(z_i / \tau)

(THEORY.md, "Teacher logits and soft labels"; the paper's theory uses :math:`\tau = 1`). Since
:math:`\|v(z)\| \le 1`, :math:`|z_i| \le \|x_i\| / 2`. Soft labels from a finite, trained teacher
network come from its logits in the same way (:func:`network_soft_labels`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, NamedTuple

import numpy as np

from . import _guards, _results
from ._fast import field_sums, mean_and_stderr
from ._validation import _short, check_matrix, check_real, check_rng
from .bounds import lemma6_radius
from .kernel import _gaussian_blocks, _sample_counts
from .losses import sigmoid
from .student import forward, linearised

if TYPE_CHECKING:
    from ._typing import ArrayLike, Field, SeedLike
    from .margin import MarginResult

__all__ = [
    "teacher_logits",
    "TeacherLogits",
    "soft_labels",
    "network_soft_labels",
    "lemma6_check",
    "Lemma6Check",
]

_NORM_SLACK = 1e-6  # relative slack on ||v(z)|| <= 1 for rounding in user fields


class TeacherLogits(NamedTuple):
    r"""Monte Carlo teacher logits (see :func:`teacher_logits`); unpacks as ``z, stderr, n_samples``.

    .. math::

        \hat z_i = \frac1S\sum_s 1(\langle z_s, x_i\rangle > 0)\langle v(z_s), x_i\rangle
        \approx z_i = \mathbb{E}_z\langle \phi_{x_i}(z), v(z)\rangle

    (THEORY.md, "Teacher logits and soft labels").

    Attributes
    ----------
    z : ndarray, shape (n,) or (len(n_samples), n)
        Estimated logits; one row per count when ``n_samples`` is a list (running estimates).
    stderr : ndarray, same shape as ``z``
        Standard error of each estimate.
    n_samples : int or ndarray of int

    Examples
    --------
    >>> import numpy as np
    >>> z, se, count = teacher_logits(np.eye(2), lambda Z: np.zeros_like(Z), n_samples=10, rng=0)
    >>> z.tolist(), count
    ([0.0, 0.0], 10)
    """

    z: np.ndarray
    stderr: np.ndarray
    n_samples: object

    # results as data (a NamedTuple cannot take the mixin as a base; mypy allows only fields here)
    _counts, _skip = ("n_samples",), ()  # type: ignore[misc]
    to_dict, to_frame = _results.ResultMixin.to_dict, _results.ResultMixin.to_frame  # type: ignore[misc]
    _frame_rows, __repr__ = _results.teacher_frame_rows, _results.short_repr  # type: ignore[misc]


def _field(v):
    """A callable field from ``v`` (a callable, or an object with a callable ``.v`` such as MarginResult)."""
    if hasattr(v, "v") and callable(v.v):
        return v.v
    if callable(v):
        return v
    raise TypeError(
        f"v must be a callable mapping a (K, d) batch of directions to (K, d), or a MarginResult; got {_short(v)}."
    )


def _apply_field(v, Z):
    """``v(Z)`` with its shape, finiteness and norms checked."""
    V = np.asarray(v(Z))
    if V.shape != Z.shape:
        raise ValueError(f"v returned shape {V.shape} for a batch of shape {Z.shape}; it must return the same shape.")
    if not np.all(np.isfinite(V)):
        raise ValueError("v returned non-finite values (NaN or inf); it must return vectors of norm at most 1.")
    top = float(np.linalg.norm(V, axis=1).max()) if V.size else 0.0
    if top > 1 + _NORM_SLACK:
        raise ValueError(
            f"v returned a vector of norm {top:.6g}; the margin's field must satisfy ||v(z)|| <= 1 "
            "(Assumption 1). Normalise it, e.g. V / max(1, ||V||)."
        )
    # a copy: workers read it while the field is called again for the next block (a field may
    # return the same buffer every time)
    return V.astype(Z.dtype, copy=True)


def teacher_logits(
    X: ArrayLike, v: Field | MarginResult, *, n_samples: int = 20000, rng: SeedLike = None
) -> TeacherLogits:
    r"""Monte Carlo logits of the infinite-width teacher defined by a field ``v``.

    .. math::

        \hat z_i = \frac1S\sum_{s=1}^S 1(\langle z_s, x_i\rangle > 0)\,\langle v(z_s), x_i\rangle,
        \qquad z_s \sim N(0, I_d),

    unbiased for :math:`z_i = \mathbb{E}_z\langle\phi_{x_i}(z), v(z)\rangle` (THEORY.md, "Teacher
    logits and soft labels"; strict :math:`>`, E5). Every summand lies in
    :math:`[-\|x_i\|, \|x_i\|]`, and :math:`|z_i| \le \|x_i\|/2`.

    The directions are processed in blocks on as many threads as the BLAS has
    (:mod:`ntkdistill._fast`; on one thread without threadpoolctl); the result is
    reproducible from ``rng`` for a given thread count and agrees across thread counts to
    rounding. The library's own field built on these same points (``margin(X, y).v``) reuses the
    activation masks of the sum and runs on the worker threads; any other callable ``v`` (a
    field built on other points included) is called on the calling thread, one block at a time.

    Parameters
    ----------
    X : array_like, shape (n, d)
    v : callable or MarginResult
        The field, mapping a (K, d) batch of directions to (K, d) with :math:`\|v(z)\| \le 1`,
        e.g. ``margin(X, y).v`` (a MarginResult is accepted as is).
    n_samples : int or increasing list of int, each >= 2, default 20000
        A list returns running estimates at each count, for convergence plots.
    rng : None, int, SeedSequence or Generator

    Returns
    -------
    TeacherLogits
        ``(z, stderr, n_samples)``.

    Raises
    ------
    ValueError
        If ``v`` returns the wrong shape, non-finite values or a norm above 1.

    Examples
    --------
    A constant unit field :math:`v = u` gives :math:`z_i = \langle u, x_i\rangle / 2` exactly
    (THEORY.md, "Margin", linearly separable data):

    >>> import numpy as np
    >>> X = np.array([[0.6, 0.8], [-1.0, 0.0]])
    >>> u = np.array([1.0, 0.0])
    >>> z, se, _ = teacher_logits(X, lambda Z: np.broadcast_to(u, Z.shape), n_samples=5000, rng=0)
    >>> bool(np.all(np.abs(z - X @ u / 2) <= 4 * se))
    True
    """
    X = check_matrix("X", X)
    v = _field(v)
    counts, is_list = _sample_counts(n_samples)
    gen = check_rng(rng)
    n, d = X.shape
    _guards.guard_teacher(n, d, counts)  # memory and time, before any work
    block = int(np.clip(2**21 // max(n, 1), 128, 4096))
    zsum = np.zeros(n)
    zsq = np.zeros(n)
    means, errs = [], []
    done = 0
    # our own field, built on these same points, shares the activation masks and runs on the
    # worker threads; any other field is evaluated (and checked) here, block by block
    own = getattr(v, "_with_masks", None)
    if own is not None and not v._built_on(X):
        own = None
    for target in counts:
        Zs = _gaussian_blocks(gen, target - done, d, block, X.dtype)
        blocks = ((Z, None) for Z in Zs) if own is not None else ((Z, _apply_field(v, Z)) for Z in Zs)
        s1, s2, _ = field_sums(X, blocks, own)
        zsum += s1
        zsq += s2
        done = target
        z, se = mean_and_stderr(zsum, zsq, target)
        means.append(z.astype(X.dtype))
        errs.append(se.astype(X.dtype))
    if is_list:
        return TeacherLogits(np.stack(means), np.stack(errs), np.asarray(counts))
    return TeacherLogits(means[0], errs[0], counts[0])


def soft_labels(z: ArrayLike | TeacherLogits | MarginResult, temperature: float = 1.0) -> np.ndarray:
    r"""Soft labels :math:`p_i = \mu(z_i / \tau)` from logits.

    .. math::

        p_i = \frac{1}{1 + e^{-z_i/\tau}}

    (THEORY.md, "Teacher logits and soft labels"; :math:`\mu` is the logistic function, which the
    paper calls softmax, E2; the theory uses :math:`\tau = 1`). Works on logits of any shape, from
    the infinite-width teacher (:func:`teacher_logits`) or from any network, e.g.
    ``PGDResult.predict(X)``. float32 stays float32.

    Parameters
    ----------
    z : array_like, TeacherLogits or MarginResult
        Logits; of a result, its field ``z`` (so ``soft_labels(teacher_logits(X, v))`` works).
    temperature : float > 0, default 1
        :math:`\tau`; above 1 flattens the labels towards 1/2, as in Hinton et al. (2015).

    Returns
    -------
    ndarray, same shape as ``z``, values in [0, 1]

    Examples
    --------
    >>> soft_labels([0.0, 0.5, -0.5]).round(4).tolist()
    [0.5, 0.6225, 0.3775]
    >>> soft_labels([2.0], temperature=4.0).round(4).tolist()
    [0.6225]
    """
    temperature = check_real("temperature", temperature, low=0.0)
    z = np.asarray(_results.unwrap("z", z, "z"))  # TeacherLogits or MarginResult: their logits z
    if not (np.issubdtype(z.dtype, np.floating) or np.issubdtype(z.dtype, np.integer)):
        raise TypeError(f"z must be real logits, got dtype {z.dtype}.")
    if z.size and not np.all(np.isfinite(z)):
        raise ValueError("z contains non-finite logits (NaN or inf); soft labels need finite logits.")
    if not np.issubdtype(z.dtype, np.floating):
        z = z.astype(np.float64)
    return sigmoid(z / z.dtype.type(temperature))


def network_soft_labels(X: ArrayLike, W: ArrayLike, a: ArrayLike, *, temperature: float = 1.0) -> np.ndarray:
    r"""Soft labels from a finite two-layer network of eq. (1), e.g. a trained wide teacher.

    .. math::

        p_i = \mu\big(f(x_i; W) / \tau\big),\qquad
        f(x; W) = \frac{1}{\sqrt m}\sum_j a_j\,\mathrm{relu}(W_j\cdot x)

    (THEORY.md, "Notation" and "Teacher logits and soft labels"; :math:`\tau = 1` in the theory).
    The experiments of Section 2 use a 512-neuron network as teacher in place of the
    infinite-width one.

    Parameters
    ----------
    X : array_like, shape (n, d)
    W : array_like, shape (m, d)
    a : array_like, shape (m,), entries in {-1, +1}
    temperature : float > 0, default 1

    Returns
    -------
    ndarray, shape (n,)

    Examples
    --------
    >>> network_soft_labels([[1.0, 0.0]], [[1.0, 0.0], [0.0, 1.0]], [1, -1]).round(4).tolist()
    [0.6698]
    """
    temperature = check_real("temperature", temperature, low=0.0)
    return soft_labels(forward(X, W, a), temperature)


def _lemma6_radius(m, n, delta, init):
    return float(lemma6_radius(m, n, delta, init=init))


@dataclass(frozen=True, eq=False)
class Lemma6Check(_results.ResultMixin):
    r"""Result of :func:`lemma6_check` (Lemma 6, E13).

    .. math::

        \max_i |f^0_i(U) - z_i| \le r,\qquad
        r \in \Big\{\sqrt{2\ln(2n/\delta)/m},\ 2\sqrt{\ln(2n/\delta)/m}\Big\}

    Attributes
    ----------
    deviation : ndarray, shape (n,)
        :math:`f^0_i(U) - z_i`.
    max_deviation : float
        :math:`\max_i |f^0_i(U) - z_i|`.
    radius_printed : float
        :math:`\sqrt{2\ln(2n/\delta)/m}`, the paper's radius (independent neurons).
    radius_symmetric : float
        :math:`2\sqrt{\ln(2n/\delta)/m}`, the radius for the symmetric initialisation (E13).
    init : str
        ``"symmetric"`` if ``(W0, a)`` has the paired structure of :func:`ntkdistill.init_symmetric`,
        else ``"independent"``.
    radius : float
        The radius that applies to ``init``.
    holds : bool
        ``max_deviation <= radius``.
    holds_printed, holds_symmetric : bool
        The comparison with each radius.
    z_stderr : float or None
        Largest standard error of ``z`` when it came from :func:`teacher_logits`; the comparison
        is meaningful when it is small next to the radius.
    m, n : int
    delta : float

    Examples
    --------
    >>> import numpy as np
    >>> from ntkdistill.student import init_symmetric
    >>> res = lemma6_check(np.eye(2), lambda Z: np.zeros_like(Z), np.zeros(2), *init_symmetric(4, 2, rng=0))
    >>> res.max_deviation, res.holds
    (0.0, True)
    """

    deviation: np.ndarray
    max_deviation: float
    radius_printed: float
    radius_symmetric: float
    init: str
    radius: float
    holds: bool
    holds_printed: bool
    holds_symmetric: bool
    z_stderr: float | None
    m: int
    n: int
    delta: float

    _counts = ("m", "n")  # to_frame(): one row per point

    def __repr__(self):
        return (
            f"Lemma6Check(max_deviation={self.max_deviation:.4g}, radius={self.radius:.4g} ({self.init}), "
            f"radius_printed={self.radius_printed:.4g}, radius_symmetric={self.radius_symmetric:.4g}, "
            f"holds={self.holds}, m={self.m}, n={self.n}, delta={self.delta:g})"
        )


def _is_symmetric(W0, a):
    m = W0.shape[0]
    if m % 2:
        return False
    h = m // 2
    return bool(np.array_equal(W0[:h], W0[h:]) and np.array_equal(a[:h], -a[h:]))


def lemma6_check(
    X: ArrayLike,
    v: Field | MarginResult,
    z: ArrayLike | TeacherLogits,
    W0: ArrayLike,
    a: ArrayLike,
    *,
    delta: float = 0.05,
) -> Lemma6Check:
    r"""Lemma 6 at one initialisation: the linearised student at :math:`U` is close to the teacher.

    .. math::

        U_j = \frac{a_j}{\sqrt m}\, v(W_j(0)),\qquad
        f^0_i(U) = \frac{1}{\sqrt m}\sum_j a_j 1(W_j(0)\cdot x_i > 0)\,\langle U_j, x_i\rangle
                 = \frac1m \sum_j 1(W_j(0)\cdot x_i > 0)\,\langle v(W_j(0)), x_i\rangle,

    and with probability at least :math:`1 - \delta` over the initialisation,
    :math:`\max_i |f^0_i(U) - z_i| \le r`, with :math:`r = \sqrt{2\ln(2n/\delta)/m}` as printed
    (independent neurons) or :math:`r = 2\sqrt{\ln(2n/\delta)/m}` under the symmetric
    initialisation, where only :math:`m/2` terms are independent (E13). Both radii are reported;
    ``radius`` and ``holds`` use the one that matches ``(W0, a)``. The radii come from
    :func:`ntkdistill.bounds.lemma6_radius`.

    Parameters
    ----------
    X : array_like, shape (n, d)
    v : callable or MarginResult
        The teacher's field, (K, d) -> (K, d), :math:`\|v(z)\| \le 1`.
    z : array_like, shape (n,), or TeacherLogits
        The teacher logits :math:`z_i` for the same ``v``, exact or estimated with many more
        samples than ``m``.
    W0 : array_like, shape (m, d)
        The student's initial first layer.
    a : array_like, shape (m,)
        Output weights in {-1, +1}.
    delta : float in (0, 1), default 0.05

    Returns
    -------
    Lemma6Check

    Examples
    --------
    A constant field :math:`v = u` has exact logits :math:`z_i = \langle u, x_i\rangle / 2`:

    >>> import numpy as np
    >>> from ntkdistill.student import init_symmetric
    >>> X = np.array([[0.6, 0.8], [-1.0, 0.0], [0.0, 1.0]])
    >>> u = np.array([1.0, 0.0])
    >>> W0, a = init_symmetric(2000, 2, rng=0)
    >>> res = lemma6_check(X, lambda Z: np.broadcast_to(u, Z.shape), X @ u / 2, W0, a)
    >>> res.init, res.holds, bool(res.radius_symmetric > res.radius_printed)
    ('symmetric', True, True)
    """
    X = check_matrix("X", X)
    n, d = X.shape
    field_v = _field(v)
    z_err = None
    if isinstance(z, TeacherLogits):
        z_err = float(np.max(z.stderr))
        z = z.z
    z = np.asarray(z, dtype=np.float64)
    if z.shape != (n,):
        raise ValueError(f"z must have shape ({n},) to match X, got {z.shape}.")
    if not np.all(np.isfinite(z)):
        raise ValueError("z contains non-finite values; pass the teacher logits for the same v.")
    W0 = check_matrix("W0", W0, dtype=X.dtype)
    if W0.shape[1] != d:
        raise ValueError(f"W0 has {W0.shape[1]} columns but X has {d}; they must match (d).")
    m = W0.shape[0]
    a = np.asarray(a)
    if a.shape != (m,) or not np.all(np.isin(a, (-1, 1))):
        raise ValueError(f"a must have shape ({m},) with entries in {{-1, +1}}, got {_short(a)}.")
    delta = check_real("delta", delta, low=0.0, high=1.0)
    a = a.astype(X.dtype)
    V = _apply_field(field_v, W0)
    U = (a / np.sqrt(X.dtype.type(m)))[:, None] * V
    f0 = linearised(X, W0, a, U).astype(np.float64)
    dev = f0 - z
    init = "symmetric" if _is_symmetric(W0, a) else "independent"
    r_ind = _lemma6_radius(m, n, delta, "independent")
    r_sym = _lemma6_radius(m, n, delta, "symmetric") if m % 2 == 0 else math.nan
    radius = r_sym if init == "symmetric" else r_ind
    top = float(np.max(np.abs(dev)))
    return Lemma6Check(
        deviation=dev,
        max_deviation=top,
        radius_printed=r_ind,
        radius_symmetric=r_sym,
        init=init,
        radius=radius,
        holds=bool(top <= radius),
        holds_printed=bool(top <= r_ind),
        holds_symmetric=bool(top <= r_sym),
        z_stderr=z_err,
        m=m,
        n=n,
        delta=delta,
    )
