r"""Losses in logit form with hand-written derivatives, and the classification error.

All functions take logits ``f`` of any size (tested to :math:`|f| = 10^4`) and never overflow:
they are written with :math:`\mathrm{softplus}(x) = \ln(1 + e^x)` computed as
``np.logaddexp(0, x)`` and with :func:`scipy.special.expit`. The result keeps the floating
dtype of ``f`` (float32 stays float32).

Arguments are checked before any work: soft labels ``p`` must lie in [0, 1], labels ``y`` must
be -1 or +1 (0/1 labels are refused, not silently misread), ``p`` or ``y`` must have the shape
of ``f`` (or broadcast against it), and every error names the argument.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from scipy.special import expit, xlogy

from ._validation import check_axis, check_broadcast, check_real_array, check_sign_labels, check_soft_labels

if TYPE_CHECKING:
    from ._typing import ArrayLike

__all__ = [
    "sigmoid",
    "logit",
    "softplus",
    "kl_loss",
    "kl_grad",
    "logistic_loss",
    "logistic_grad",
    "kl_risk",
    "logistic_risk",
    "classification_error",
]


def _float(f, name="f"):
    f = check_real_array(name, f)
    if not np.issubdtype(f.dtype, np.floating):
        f = f.astype(np.float64)
    return f


def _soft(p, f):
    """Checked soft labels ``p`` and logits ``f`` (``f`` floating, ``p`` in its dtype)."""
    f = _float(f)
    p = check_soft_labels("p", p)
    check_broadcast("p", p, "f", f)
    return np.asarray(p, dtype=f.dtype), f


def _hard(y, f):
    """Checked labels ``y`` in {-1, +1} and logits ``f``."""
    f = _float(f)
    y = check_sign_labels("y", y)
    check_broadcast("y", y, "f", f)
    return np.asarray(y, dtype=f.dtype), f


def sigmoid(z: ArrayLike) -> np.ndarray:
    r"""The logistic function :math:`\mu(z) = 1 / (1 + e^{-z})` (the paper's "softmax", E2).

    Examples
    --------
    >>> float(sigmoid(0.0)), float(sigmoid(1e4)), float(sigmoid(-1e4))
    (0.5, 1.0, 0.0)
    """
    return expit(_float(z, "z"))


def logit(p: ArrayLike) -> np.ndarray:
    r"""Inverse of :func:`sigmoid`: :math:`\ln(p / (1 - p))` (``-inf``/``inf`` at 0 and 1).

    Examples
    --------
    >>> round(float(logit(sigmoid(0.3))), 12)
    0.3
    """
    p = _float(p, "p")
    with np.errstate(divide="ignore"):
        return np.log(p) - np.log1p(-p)


def softplus(x: ArrayLike) -> np.ndarray:
    r""":math:`\ln(1 + e^x)`, finite for any finite ``x``.

    Examples
    --------
    >>> float(softplus(1e4)), float(softplus(-1e4))
    (10000.0, 0.0)
    """
    x = _float(x, "x")
    return np.logaddexp(x.dtype.type(0), x)


def _neg_entropy(p):
    r""":math:`p\ln p + (1-p)\ln(1-p)` in the dtype of ``p`` (:math:`0 \ln 0 = 0`).

    The term of :func:`kl_loss` that does not depend on the logit.
    """
    one = p.dtype.type(1)
    return xlogy(p, p) + xlogy(one - p, one - p)


def kl_loss(p: ArrayLike, f: ArrayLike) -> np.ndarray:
    r"""Soft-label loss :math:`\ell_{KL}(p, f) = \mathrm{KL}(\mathrm{Bern}(p)\,\|\,\mathrm{Bern}(\mu(f)))`.

    .. math::

        \ell_{KL}(p, f) = p \ln\frac{p}{\mu(f)} + (1-p)\ln\frac{1-p}{1-\mu(f)}
        = p\,\mathrm{sp}(-f) + (1-p)\,\mathrm{sp}(f) + p\ln p + (1-p)\ln(1-p),

    with :math:`\mathrm{sp} = ` :func:`softplus` and :math:`0 \ln 0 = 0`. It is the KL divergence
    of the paper's soft-label risk (E1, E2), is :math:`\ge 0`, and is 0 exactly at
    :math:`f = \mathrm{logit}(p)`. Rounding can leave a value of order 1e-16 below zero; the
    result is clipped at 0.

    Parameters
    ----------
    p : array_like, soft labels in [0, 1]
    f : array_like, logits (broadcast against ``p``)

    Examples
    --------
    >>> float(kl_loss(0.5, 0.0))
    0.0
    >>> round(float(kl_loss(1.0, -1e4)), 6)
    10000.0
    """
    p, f = _soft(p, f)
    one = f.dtype.type(1)
    out = p * softplus(-f) + (one - p) * softplus(f) + _neg_entropy(p)
    return np.maximum(out, f.dtype.type(0))


def kl_grad(p: ArrayLike, f: ArrayLike) -> np.ndarray:
    r"""Derivative of :func:`kl_loss` in the logit: :math:`\partial \ell_{KL} / \partial f = \mu(f) - p`.

    The paper prints :math:`p - \mu(f)` (E1).

    Examples
    --------
    >>> float(kl_grad(0.25, 0.0))
    0.25
    """
    p, f = _soft(p, f)
    return expit(f) - p


def logistic_loss(y: ArrayLike, f: ArrayLike) -> np.ndarray:
    r"""Hard-label logistic loss of eq. (12): :math:`\ell_h(y, f) = \ln(1 + e^{-y f})`.

    Examples
    --------
    >>> round(float(logistic_loss(1, 0.0)), 6)
    0.693147
    >>> float(logistic_loss(-1, 1e4))
    10000.0
    """
    y, f = _hard(y, f)
    return softplus(-y * f)


def logistic_grad(y: ArrayLike, f: ArrayLike) -> np.ndarray:
    r"""Derivative of :func:`logistic_loss` in the logit: :math:`-y\,\mu(-y f)`.

    Examples
    --------
    >>> float(logistic_grad(1, 0.0))
    -0.5
    """
    y, f = _hard(y, f)
    return -y * expit(-y * f)


def kl_risk(p: ArrayLike, f: ArrayLike, axis: int | None = -1) -> np.ndarray:
    r"""Soft-label surrogate risk :math:`R_{KL} = \frac1n \sum_i \ell_{KL}(p_i, f_i)` (mean over ``axis``).

    Examples
    --------
    >>> float(kl_risk([0.5, 0.5], [0.0, 0.0]))
    0.0
    """
    losses = kl_loss(p, f)
    return np.mean(losses, axis=check_axis("axis", axis, losses.ndim))


def logistic_risk(y: ArrayLike, f: ArrayLike, axis: int | None = -1) -> np.ndarray:
    r"""Hard-label surrogate risk of eq. (12): :math:`R_h = \frac1n \sum_i \ln(1 + e^{-y_i f_i})`.

    Examples
    --------
    >>> round(float(logistic_risk([1, -1], [0.0, 0.0])), 6)
    0.693147
    """
    losses = logistic_loss(y, f)
    return np.mean(losses, axis=check_axis("axis", axis, losses.ndim))


def classification_error(y: ArrayLike, f: ArrayLike, axis: int | None = -1) -> np.ndarray:
    r"""Classification error of eq. (8) with ties counted as errors (E6).

    .. math::

        R(W) = \frac1n \sum_i 1(y_i f_i(W) \le 0)

    The paper prints ``> 0``, which would count the correct predictions (E6). Under the
    symmetric initialisation :math:`f(W(0)) = 0`, so the error at initialisation is exactly 1.

    Examples
    --------
    >>> float(classification_error([1, -1, 1], [2.0, 0.5, 0.0]))
    0.6666666666666666
    """
    y, f = _hard(y, f)
    wrong = y * f <= 0
    return np.mean(wrong, axis=check_axis("axis", axis, wrong.ndim))
