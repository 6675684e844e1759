"""ntkdistill: soft-label vs hard-label training of two-layer ReLU networks in the NTK regime.

An executable reading of S. Mandal, X. Lin, R. Srikant, "A Theoretical Analysis of Soft-Label vs
Hard-Label Training in Neural Networks" (L4DC 2025): the student of eq. (1), its losses and
projected gradient descent (Theorem 2, Proposition 5), the closed-form bounds (:mod:`ntkdistill.bounds`),
and the NTK margin and teacher.
"""

from . import losses, student
from .losses import (
    classification_error,
    kl_grad,
    kl_loss,
    kl_risk,
    logistic_grad,
    logistic_loss,
    logistic_risk,
    logit,
    sigmoid,
    softplus,
)
from .pgd import PGDResult, network_seeds, pgd, project_rows
from .student import activation_pattern, forward, init_symmetric, linearised, ntk_features

__version__ = "0.1.0"

__all__ = [
    "__version__",
    "losses",
    "student",
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
    "init_symmetric",
    "forward",
    "activation_pattern",
    "ntk_features",
    "linearised",
    "pgd",
    "PGDResult",
    "project_rows",
    "network_seeds",
]
