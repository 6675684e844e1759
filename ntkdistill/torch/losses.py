r"""The hard-label loss and the distillation loss of Hinton et al. (2015), in torch.

THEORY.md, "The paper's experiments": the usual distillation loss is

.. math::

    \ell(s, t, y) = \alpha\, \mathrm{CE}(y, s)
    + (1 - \alpha)\, \tau^2\, \mathrm{KL}\bigl(\mathrm{softmax}(t/\tau) \,\|\, \mathrm{softmax}(s/\tau)\bigr)

with student logits :math:`s`, teacher logits :math:`t` and true class :math:`y`. The paper's theory
is the binary case with :math:`\tau = 1`, :math:`\alpha = 0`: with two classes,
:math:`\mathrm{softmax}(t)_1 = \mu(t_1 - t_0) = p` and the loss is :math:`\ell_{KL}(p, f)` of the
theory at :math:`f = s_1 - s_0` (see :func:`ntkdistill.kl_loss`).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from .._validation import check_real

__all__ = ["distillation_loss", "hard_label_loss"]


def _check_logits(name, logits):
    if not isinstance(logits, torch.Tensor) or logits.ndim != 2 or not logits.is_floating_point():
        shape = tuple(logits.shape) if isinstance(logits, torch.Tensor) else type(logits).__name__
        raise ValueError(f"{name} must be a 2-D floating-point tensor (N, classes), got {shape}.")


def _check_classes(labels, logits):
    if not isinstance(labels, torch.Tensor) or labels.ndim != 1 or labels.shape[0] != logits.shape[0]:
        shape = tuple(labels.shape) if isinstance(labels, torch.Tensor) else type(labels).__name__
        raise ValueError(
            f"labels must be a 1-D integer tensor of class indices with {logits.shape[0]} entries, got {shape}."
        )
    if labels.is_floating_point() or labels.dtype == torch.bool:
        raise TypeError(f"labels must hold integer class indices 0..{logits.shape[1] - 1}, got dtype {labels.dtype}.")


def hard_label_loss(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    r"""Mean cross-entropy of the logits against the true classes (hard-label training).

    .. math::

        \mathrm{CE}(y, s) = \frac1N \sum_i -\ln \mathrm{softmax}(s_i)_{y_i}

    With two classes this is the logistic loss :math:`\ln(1 + e^{-y f})` of eq. (12) at
    :math:`f = s_1 - s_0`, :math:`y = \pm 1`.

    Parameters
    ----------
    logits : tensor, shape (N, K)
    labels : integer tensor, shape (N,), values in ``0 .. K-1``

    Returns
    -------
    Scalar tensor.

    Examples
    --------
    >>> import torch
    >>> round(float(hard_label_loss(torch.tensor([[0.0, 0.0]]), torch.tensor([1]))), 6)  # ln 2
    0.693147
    """
    _check_logits("logits", logits)
    _check_classes(labels, logits)
    return F.cross_entropy(logits, labels)


def distillation_loss(
    student_logits: torch.Tensor,
    teacher_logits: torch.Tensor,
    labels: torch.Tensor | None = None,
    *,
    tau: float = 1.0,
    alpha: float = 0.0,
) -> torch.Tensor:
    r"""Mean distillation loss of Hinton et al. (2015) over a batch.

    .. math::

        \frac1N \sum_i \Bigl[\alpha\, \mathrm{CE}(y_i, s_i) + (1 - \alpha)\, \tau^2
        \sum_k q_{ik} \ln \frac{q_{ik}}{r_{ik}} \Bigr],\qquad
        q_i = \mathrm{softmax}(t_i / \tau),\; r_i = \mathrm{softmax}(s_i / \tau)

    THEORY.md, "The paper's experiments"; the paper's theory (soft-label loss :math:`\ell_{KL}`,
    Section 3) is the binary case :math:`\tau = 1`, :math:`\alpha = 0` (the defaults). The
    :math:`\tau^2` factor keeps the gradient scale independent of the temperature.

    Parameters
    ----------
    student_logits : tensor, shape (N, K)
    teacher_logits : tensor, shape (N, K)
        Treated as constants (detached).
    labels : integer tensor, shape (N,), optional
        True classes; required when ``alpha > 0``.
    tau : float, > 0
        Temperature.
    alpha : float in [0, 1]
        Weight of the hard-label cross-entropy (taken at temperature 1).

    Returns
    -------
    Scalar tensor.

    Raises
    ------
    ValueError
        Shapes that do not match, ``tau <= 0``, ``alpha`` outside [0, 1], or ``alpha > 0`` without labels.

    Examples
    --------
    >>> import torch
    >>> s = torch.tensor([[0.0, 1.0]]); t = torch.tensor([[0.0, 1.0]])
    >>> float(distillation_loss(s, t))  # KL of a distribution with itself
    0.0
    >>> round(float(distillation_loss(torch.zeros(1, 2), t)), 4)  # KL(Bern(mu(1)) || Bern(1/2))
    0.1109
    """
    _check_logits("student_logits", student_logits)
    _check_logits("teacher_logits", teacher_logits)
    if teacher_logits.shape != student_logits.shape:
        raise ValueError(
            f"teacher_logits has shape {tuple(teacher_logits.shape)} but student_logits has shape "
            f"{tuple(student_logits.shape)}; they must match."
        )
    tau = check_real("tau", tau, low=0.0)
    alpha = check_real("alpha", alpha, low=0.0, high=1.0, low_open=False, high_open=False)
    if alpha > 0:
        if labels is None:
            raise ValueError(f"alpha == {alpha:g} > 0 weights the hard-label term, so labels are required.")
        _check_classes(labels, student_logits)
    teacher_logits = teacher_logits.detach().to(student_logits.dtype)
    log_r = F.log_softmax(student_logits / tau, dim=1)
    log_q = F.log_softmax(teacher_logits / tau, dim=1)
    loss = (1.0 - alpha) * tau**2 * F.kl_div(log_r, log_q, log_target=True, reduction="batchmean")
    if labels is not None and alpha > 0:
        loss = loss + alpha * F.cross_entropy(student_logits, labels)
    return loss
