r"""A plain implementation of one PGD step, written from THEORY.md line by line (private).

It is the yardstick for the fast step of :mod:`ntkdistill._kernels`: one network at a time, no
buffers, no blocking, no threads, every quantity formed as the formula states it.

.. math::

    f_i &= \frac{1}{\sqrt m} \sum_j a_j \max(0, W_j \cdot x_i) \qquad \text{(eq. 1)}\\
    \nabla_{W_j} R &= \frac1n \sum_i \ell'(f_i)\, \frac{a_j}{\sqrt m}\, 1(W_j\cdot x_i > 0)\, x_i
    \qquad \text{(E3, strict } > \text{, E5)}\\
    \hat W_j &= W_j - \eta \nabla_{W_j} R \qquad \text{(gradient at the whole } W(t)\text{, E4)}\\
    W_j(t+1) &= W_j(0) + (\hat W_j - W_j(0)) \min\Bigl(1, \frac{B/\sqrt m}{\|\hat W_j - W_j(0)\|}\Bigr)
    \qquad \text{(one ball per row, E9)}

with :math:`\ell' = \mu(f) - p` (soft KL loss, E1) or :math:`-y\,\mu(-y f)` (logistic loss).

The forward pass sums the neurons in their natural order, so at the symmetric initialisation it
returns values of order 1e-17 rather than the exact zero of :func:`ntkdistill.pgd`, which adds
paired neurons first; everything else agrees with the fast step to rounding.
"""

from __future__ import annotations

import numpy as np

from .losses import kl_grad, kl_loss, logistic_grad, logistic_loss

__all__: list[str] = []


def logits(X, W, a):
    r""":math:`f_i = \frac{1}{\sqrt m}\sum_j a_j \max(0, W_j \cdot x_i)` for every row of ``X``.

    Examples
    --------
    >>> import numpy as np
    >>> logits(np.array([[1.0, 0.0]]), np.array([[2.0, 0.0], [-1.0, 0.0]]), np.array([1.0, -1.0])).tolist()
    [1.414213562373095]
    """
    m = W.shape[0]
    one = X.dtype.type(1)
    return np.maximum(X @ W.T, 0) @ a * (one / np.sqrt(X.dtype.type(m)))


def gradient(X, W, a, targets, loss):
    r"""The gradient :math:`\nabla_W R(W)`, shape (m, d), with the formula of THEORY.md (E3).

    .. math::

        \nabla_{W_j} R = \frac1n \sum_i \ell'(f_i)\, \frac{a_j}{\sqrt m}\, 1(W_j\cdot x_i > 0)\, x_i

    Examples
    --------
    >>> import numpy as np
    >>> X = np.array([[1.0, 0.0], [0.0, 1.0]])
    >>> gradient(X, np.array([[1.0, 1.0], [1.0, 1.0]]), np.array([1.0, -1.0]), np.array([0.5, 0.5]), "kl").tolist()
    [[0.0, 0.0], [0.0, 0.0]]
    """
    n = X.shape[0]
    m = W.shape[0]
    f = logits(X, W, a)
    dl = kl_grad(targets, f) if loss == "kl" else logistic_grad(targets, f)
    active = (X @ W.T) > 0  # (n, m): 1(W_j . x_i > 0)
    coef = active * dl[:, None] * (a / np.sqrt(X.dtype.type(m)))[None, :]  # (n, m)
    return (coef.T @ X) / X.dtype.type(n)


def step(X, W, W0, a, targets, eta, B, loss):
    r"""One projected gradient step :math:`W(t) \to W(t+1)` for one network (a new array).

    .. math::

        W_j(t+1) = W_j(0) + (\hat W_j - W_j(0)) \min\Bigl(1, \frac{B/\sqrt m}{\|\hat W_j - W_j(0)\|}\Bigr),
        \qquad \hat W = W - \eta \nabla_W R(W)

    Examples
    --------
    >>> import numpy as np
    >>> X = np.array([[1.0, 0.0], [0.0, 1.0]])
    >>> W0 = np.array([[1.0, 1.0], [1.0, 1.0]])
    >>> step(X, W0, W0, np.array([1.0, -1.0]), np.array([0.7, 0.7]), 1.0, np.inf, "kl").round(4).tolist()
    [[1.0707, 1.0707], [0.9293, 0.9293]]
    """
    m = W.shape[0]
    dt = X.dtype.type
    W_hat = W - dt(eta) * gradient(X, W, a, targets, loss)
    if not np.isfinite(B):
        return W_hat
    radius = dt(B) / np.sqrt(dt(m))
    diff = W_hat - W0
    norms = np.sqrt(np.sum(diff * diff, axis=1))
    out = W_hat.copy()
    outside = norms > radius
    out[outside] = W0[outside] + diff[outside] * (radius / norms[outside])[:, None]
    return out


def risk_and_error(X, W, a, targets, labels, loss):
    r"""Surrogate risk :math:`\frac1n\sum_i \ell(f_i)` and error :math:`\frac1n\sum_i 1(y_i f_i \le 0)` (E6).

    Examples
    --------
    >>> import numpy as np
    >>> X = np.array([[1.0, 0.0]])
    >>> r, e = risk_and_error(X, np.array([[1.0, 0.0], [0.0, 1.0]]), np.array([1.0, -1.0]),
    ...                       np.array([1.0]), np.array([1.0]), "logistic")
    >>> round(r, 6), e
    (0.400834, 0.0)
    """
    f = logits(X, W, a)
    vals = kl_loss(targets, f) if loss == "kl" else logistic_loss(targets, f)
    return float(np.mean(vals)), float(np.mean(labels * f <= 0))


def train(X, targets, W0, a, *, eta, T, B=np.inf, loss="kl", labels=None):
    r"""``T`` plain steps from ``W0``: returns ``W(T)``, the risks and errors at ``W(0..T)``, and
    the largest row distance :math:`\max_{t\le T}\max_j \|W_j(t) - W_j(0)\|` over the steps.

    Examples
    --------
    >>> import numpy as np
    >>> from ntkdistill.student import init_symmetric
    >>> X = np.array([[1.0, 0.0], [0.0, 1.0], [-0.6, 0.8]])
    >>> W0, a = init_symmetric(4, 2, rng=0)
    >>> W, risk, err, dist = train(X, np.array([0.6, 0.4, 0.55]), W0, a, eta=1.0, T=5)
    >>> W.shape, risk.shape, bool(risk[-1] < risk[0])
    ((4, 2), (6,), True)
    """
    if labels is None:
        labels = targets if loss == "logistic" else np.sign(targets - 0.5)
    W = W0.copy()
    risks, errors = [], []
    dist = 0.0
    for _ in range(T):
        r, e = risk_and_error(X, W, a, targets, labels, loss)
        risks.append(r)
        errors.append(e)
        W = step(X, W, W0, a, targets, eta, B, loss)
        dist = max(dist, float(np.linalg.norm(W - W0, axis=1).max()))
    r, e = risk_and_error(X, W, a, targets, labels, loss)
    risks.append(r)
    errors.append(e)
    return W, np.array(risks), np.array(errors), dist
