"""ntkdistill: soft-label vs hard-label training of two-layer ReLU networks in the NTK regime.

An executable reading of S. Mandal, X. Lin, R. Srikant, "A Theoretical Analysis of Soft-Label vs
Hard-Label Training in Neural Networks" (L4DC 2025): the student of eq. (1), its losses and
projected gradient descent (Theorem 2, Proposition 5), the closed-form bounds (:mod:`ntkdistill.bounds`),
the NTK margin and teacher (:func:`margin`, :func:`teacher_logits`), and the checks of every theorem
against what it promises (:mod:`ntkdistill.verify`).
"""

from . import bounds, cost, datasets, losses, requirement, student, sweep, testing, verify
from .kernel import MonteCarloEstimate, empirical_ntk, monte_carlo_kernel, ntk_kernel
from .margin import MarginResult, MaxMarginField, kernel_margin_bound, margin
from .teacher import Lemma6Check, TeacherLogits, lemma6_check, network_soft_labels, soft_labels, teacher_logits
from .bounds import (
    corollary4,
    kl_risk_at_init,
    lemma3,
    lemma6_radius,
    neurons_required,
    proposition5,
    theorem2,
)
from .requirement import fit_loglog_slope, min_width, requirement_study
from .sweep import config_key, read_results, run_sweep
from .verify import (
    check_corollary4,
    check_lemma3,
    check_lemma6,
    check_proposition5,
    check_theorem2,
    run_verify,
)
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
from .student import activation_pattern, forward, init_symmetric, linearised, ntk_features, risk_and_grad

__version__ = "0.1.0"

__all__ = [
    "__version__",
    "bounds",
    "cost",
    "datasets",
    "losses",
    "requirement",
    "student",
    "sweep",
    "testing",
    "verify",
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
    "risk_and_grad",
    "ntk_kernel",
    "empirical_ntk",
    "monte_carlo_kernel",
    "MonteCarloEstimate",
    "margin",
    "MarginResult",
    "MaxMarginField",
    "kernel_margin_bound",
    "teacher_logits",
    "TeacherLogits",
    "soft_labels",
    "network_soft_labels",
    "lemma6_check",
    "Lemma6Check",
    "theorem2",
    "corollary4",
    "proposition5",
    "neurons_required",
    "lemma3",
    "lemma6_radius",
    "kl_risk_at_init",
    "check_theorem2",
    "check_corollary4",
    "check_proposition5",
    "check_lemma3",
    "check_lemma6",
    "run_verify",
    "min_width",
    "fit_loglog_slope",
    "requirement_study",
    "run_sweep",
    "read_results",
    "config_key",
]
