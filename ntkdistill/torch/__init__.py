"""A thin torch adapter for the paper's deep-network experiment (Section 4, Figure 1).

The VGG 8+3 teacher and VGG 2+3 student (:mod:`ntkdistill.torch.vgg`), the hard-label and
distillation losses (:mod:`ntkdistill.torch.losses`), and training with Adam, L2 regularisation
and early stopping (:mod:`ntkdistill.torch.train`). This sub-package is the only part of
ntkdistill that imports torch; install it with the ``torch`` extra
(``pip install "ntkdistill[torch]"``). The experiment itself is
:func:`ntkdistill.experiments.figure1.figure1` (command ``ntkdistill figure1``).
"""

try:
    import torch as _torch  # noqa: F401
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError(
        "ntkdistill.torch needs PyTorch, which is not installed; install it with "
        "pip install 'ntkdistill[torch]' (or see https://pytorch.org for a CUDA build)."
    ) from exc

from .losses import distillation_loss, hard_label_loss
from .train import (
    FitResult,
    accuracy,
    default_device,
    fit,
    load_model,
    predict_logits,
    save_model,
)
from .vgg import VGG, VGG_CONFIGS, vgg_student, vgg_teacher

__all__ = [
    "VGG",
    "VGG_CONFIGS",
    "FitResult",
    "accuracy",
    "default_device",
    "distillation_loss",
    "fit",
    "hard_label_loss",
    "load_model",
    "predict_logits",
    "save_model",
    "vgg_student",
    "vgg_teacher",
]
