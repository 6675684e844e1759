r"""Training with Adam, L2 regularisation and early stopping, as in the paper's Section 4.

One epoch is a pass over a random permutation of the training set in mini-batches, each an Adam
step on

.. math::

    L(\theta) = \frac1{|B|} \sum_{i \in B} \ell(s_\theta(x_i), \cdot) \quad\text{plus the L2 term}\quad
    \lambda \theta \text{ added to the gradient (Adam's } \texttt{weight\_decay}\text{)}

with :math:`\ell` the hard-label cross-entropy or the distillation loss
(:mod:`ntkdistill.torch.losses`). After each epoch the validation accuracy is measured; the
weights with the best one are kept, and training stops after ``patience`` epochs without a
strict improvement or after ``max_epochs`` epochs (the paper: patience 20, at most 100).

The adapter computes in float32, torch's default for convolutions (the NumPy core of the package
defaults to float64).
"""

from __future__ import annotations

import copy
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from .._validation import _short, check_int, check_real, check_rng
from .losses import distillation_loss, hard_label_loss
from .vgg import VGG, _torch_seed

if TYPE_CHECKING:
    from .._typing import ArrayLike, SeedLike

    #: Images or labels as a numpy array (or anything numpy takes) or a tensor.
    Data = ArrayLike | torch.Tensor
    Device = str | torch.device

__all__ = [
    "FitResult",
    "fit",
    "predict_logits",
    "accuracy",
    "default_device",
    "save_model",
    "load_model",
]

_FORMAT = "ntkdistill.torch.VGG/1"


def default_device() -> str:
    r"""``"cuda"`` when a CUDA device is available, else ``"cpu"``.

    .. math::

        \text{device} = \begin{cases}\text{cuda} & \text{if available}\\ \text{cpu} & \text{otherwise}\end{cases}

    Examples
    --------
    >>> default_device() in ("cuda", "cpu")
    True
    """
    return "cuda" if torch.cuda.is_available() else "cpu"


def _device(device) -> torch.device:
    if device is None:
        return torch.device(default_device())
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise ValueError(f"device == {_short(device)}, must be 'cpu', 'cuda', 'cuda:N' or a torch.device.") from exc
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device == {str(dev)!r}, but CUDA is not available here; use device='cpu'.")
    return dev


def _images(name, X) -> torch.Tensor:
    """A float32 CPU tensor of shape (n, C, H, W) from a numpy array or a tensor."""
    if isinstance(X, torch.Tensor):
        t = X.detach()
    else:
        arr = np.asarray(X)
        if not (np.issubdtype(arr.dtype, np.floating) or np.issubdtype(arr.dtype, np.integer)):
            raise TypeError(f"{name} must be a real numeric array of images, got dtype {arr.dtype}.")
        t = torch.from_numpy(np.ascontiguousarray(arr))
    if t.ndim != 4 or t.shape[0] == 0:
        raise ValueError(f"{name} must be a 4-D array of images (n, C, H, W) with n >= 1, got shape {tuple(t.shape)}.")
    t = t.to(torch.float32)
    if not bool(torch.isfinite(t).all()):
        raise ValueError(f"{name} contains non-finite values (NaN or inf); all entries must be finite.")
    return t


def _classes(name, y, n, num_classes) -> torch.Tensor:
    arr = y.detach().cpu().numpy() if isinstance(y, torch.Tensor) else np.asarray(y)
    if arr.ndim != 1 or arr.shape[0] != n:
        raise ValueError(f"{name} must be a 1-D array with one class index per image ({n}), got shape {arr.shape}.")
    if arr.dtype == np.bool_ or not (np.issubdtype(arr.dtype, np.integer) or np.issubdtype(arr.dtype, np.floating)):
        raise TypeError(f"{name} must hold integer class indices, got dtype {arr.dtype}.")
    if np.issubdtype(arr.dtype, np.floating) and not np.all(arr == np.round(arr)):
        raise ValueError(f"{name} must hold integer class indices, got non-integer values.")
    bad = (arr < 0) | (arr >= num_classes)
    if np.any(bad):
        raise ValueError(
            f"{name} must hold class indices in 0..{num_classes - 1}, got {arr[bad][0].item()!r}. "
            "For labels y in {-1, +1} pass (y + 1) // 2."
        )
    return torch.from_numpy(arr.astype(np.int64))


@dataclass
class FitResult:
    r"""What :func:`fit` returns; the model itself holds the kept (best) weights.

    Attributes
    ----------
    best_epoch : int
        The epoch (1-based) whose weights were kept: the first with the highest validation accuracy.
    epochs : int
        Epochs run; ``best_epoch + patience`` when training stopped early.
    stopped_early : bool
        True when ``patience`` epochs passed without a strict improvement before ``max_epochs``.
    best_val_accuracy : float
        Validation accuracy of the kept weights.
    val_accuracy, train_loss : list of float
        Per epoch: the validation accuracy after the epoch and the mean training loss during it.
    lr, weight_decay, loss : the settings used (``loss`` is ``"hard"`` or ``"soft"``).

    Examples
    --------
    >>> res = FitResult(best_epoch=2, epochs=4, stopped_early=True, best_val_accuracy=0.9,
    ...                 val_accuracy=[0.7, 0.9, 0.8, 0.85])
    >>> res.epochs - res.best_epoch  # the patience that ran out
    2
    """

    best_epoch: int
    epochs: int
    stopped_early: bool
    best_val_accuracy: float
    val_accuracy: list = field(default_factory=list)
    train_loss: list = field(default_factory=list)
    lr: float = 0.0
    weight_decay: float = 0.0
    loss: str = "hard"


@torch.no_grad()
def predict_logits(
    model: torch.nn.Module, X: Data, *, batch_size: int = 512, device: Device | None = None
) -> torch.Tensor:
    r"""Logits :math:`s(x_i)` of the model in evaluation mode (no dropout), as a float32 CPU tensor.

    .. math::

        S = \bigl(s(x_1), \dots, s(x_n)\bigr)^\top \in \mathbb{R}^{n \times K}

    Parameters
    ----------
    model : torch.nn.Module
    X : array or tensor, shape (n, C, H, W)
    batch_size : int
    device : str or torch.device, optional
        Where to compute; default :func:`default_device`. The model is moved there.

    Examples
    --------
    >>> import torch
    >>> from ntkdistill.torch import vgg_student
    >>> net = vgg_student(in_channels=1, image_size=8, width=0.0625, rng=0)
    >>> predict_logits(net, torch.zeros(3, 1, 8, 8), device="cpu").shape
    torch.Size([3, 2])
    """
    X = _images("X", X)
    batch_size = check_int("batch_size", batch_size, minimum=1)
    return _logits(model, X, batch_size, _device(device))


@torch.no_grad()
def _logits(model, X, batch_size, dev) -> torch.Tensor:
    was_training = model.training
    model.to(dev).eval()
    out = [model(X[i : i + batch_size].to(dev)).float().cpu() for i in range(0, X.shape[0], batch_size)]
    model.train(was_training)
    return torch.cat(out)


def accuracy(model: torch.nn.Module, X: Data, y: Data, *, batch_size: int = 512, device: Device | None = None) -> float:
    r"""Fraction of images whose largest logit is the true class.

    .. math::

        \mathrm{acc} = \frac1n \sum_i 1\bigl(\arg\max_k s_k(x_i) = y_i\bigr)

    For two classes this is :math:`1 - R(W)` of eq. (8) with :math:`f = s_1 - s_0` (E6), except
    that a tie :math:`s_1 = s_0` counts as class 0.

    Examples
    --------
    >>> import torch
    >>> from ntkdistill.torch import vgg_student
    >>> net = vgg_student(in_channels=1, image_size=8, width=0.0625, rng=0)
    >>> 0.0 <= accuracy(net, torch.rand(4, 1, 8, 8), [0, 1, 1, 0], device="cpu") <= 1.0
    True
    """
    X = _images("X", X)
    batch_size = check_int("batch_size", batch_size, minimum=1)
    dev = _device(device)
    logits = _logits(model, X, batch_size, dev)
    y = _classes("y", y, X.shape[0], logits.shape[1])
    return float((logits.argmax(dim=1) == y).double().mean())


def _accuracy(model, X, y, dev, batch_size=512) -> float:
    """Accuracy on checked tensors (no validation, for the training loop)."""
    return float((_logits(model, X, batch_size, dev).argmax(dim=1) == y).double().mean())


def fit(
    model: torch.nn.Module,
    X: Data,
    y: Data,
    X_val: Data,
    y_val: Data,
    *,
    teacher_logits: Data | None = None,
    tau: float = 1.0,
    alpha: float = 0.0,
    lr: float = 1e-3,
    weight_decay: float = 5e-4,
    batch_size: int = 128,
    max_epochs: int = 100,
    patience: int = 20,
    device: Device | None = None,
    rng: SeedLike = None,
    callback: Callable[[int, torch.nn.Module, float], Any] | None = None,
) -> FitResult:
    r"""Train ``model`` with Adam and L2 regularisation, with early stopping on validation accuracy.

    .. math::

        \theta_{k+1} = \mathrm{Adam}\bigl(\theta_k,\; \nabla L_B(\theta_k) + \lambda \theta_k\bigr),
        \qquad
        \hat\theta = \theta_{e^*},\; e^* = \min \arg\max_{e \le E} \mathrm{acc}_{val}(\theta_e)

    where :math:`L_B` is the mean hard-label cross-entropy on the mini-batch (when
    ``teacher_logits`` is None) or the distillation loss against the teacher's logits, and
    training stops at :math:`E = \min(\text{max\_epochs}, e^* + \text{patience})`. Paper,
    Section 4 (Adam, L2 regularisation, early stopping with patience 20 and at most 100 epochs).
    The selection uses the true validation labels for both hard- and soft-label training.

    Parameters
    ----------
    model : torch.nn.Module
        Trained in place; on return it holds the kept weights (and lives on ``device``).
    X, X_val : array or tensor, shape (n, C, H, W)
        Training and validation images.
    y, y_val : array of int, shape (n,)
        True class indices (``0 .. K-1``; for labels in {-1, +1} pass ``(y + 1) // 2``).
    teacher_logits : array or tensor, shape (n, K), optional
        Teacher logits on the training images: soft-label training with :func:`distillation_loss`.
    tau, alpha : float
        Temperature and hard-label weight of the distillation loss (the theory: 1 and 0).
    lr : float, > 0
        Adam's learning rate.
    weight_decay : float, >= 0
        L2 coefficient :math:`\lambda` (Adam's coupled ``weight_decay``).
    batch_size, max_epochs, patience : int
    device : str or torch.device, optional
        Default :func:`default_device` (CUDA when available).
    rng : None, int, SeedSequence or numpy Generator
        Seeds the order of the mini-batches and the dropout masks (the global torch state is
        restored afterwards).
    callback : callable, optional
        Called as ``callback(epoch, model, val_accuracy)`` after each epoch.

    Returns
    -------
    FitResult

    Examples
    --------
    >>> import torch
    >>> from ntkdistill.torch import vgg_student
    >>> g = torch.Generator().manual_seed(0)
    >>> X = torch.rand(32, 1, 8, 8, generator=g); y = (X.mean((1, 2, 3)) > 0.5).long()
    >>> net = vgg_student(in_channels=1, image_size=8, width=0.0625, dropout=0.0, rng=0)
    >>> res = fit(net, X, y, X, y, max_epochs=3, patience=2, device="cpu", rng=0)
    >>> res.epochs <= 3 and res.best_val_accuracy == max(res.val_accuracy)
    True
    """
    X = _images("X", X)
    X_val = _images("X_val", X_val)
    if X_val.shape[1:] != X.shape[1:]:
        raise ValueError(
            f"X_val has images of shape {tuple(X_val.shape[1:])} but X has {tuple(X.shape[1:])}; they must match."
        )
    lr = check_real("lr", lr, low=0.0)
    weight_decay = check_real("weight_decay", weight_decay, low=0.0, low_open=False)
    batch_size = check_int("batch_size", batch_size, minimum=1)
    max_epochs = check_int("max_epochs", max_epochs, minimum=1)
    patience = check_int("patience", patience, minimum=1)
    tau = check_real("tau", tau, low=0.0)
    alpha = check_real("alpha", alpha, low=0.0, high=1.0, low_open=False, high_open=False)
    if callback is not None and not callable(callback):
        raise TypeError(f"callback must be callable or None, got {_short(callback)}.")
    dev = _device(device)
    rng = check_rng(rng)
    model.to(dev)
    with torch.no_grad():
        was_training = model.training
        model.eval()
        num_classes = int(model(X[:1].to(dev)).shape[1])
        model.train(was_training)
    y = _classes("y", y, X.shape[0], num_classes)
    y_val = _classes("y_val", y_val, X_val.shape[0], num_classes)
    soft = teacher_logits is not None
    if soft:
        t = (
            teacher_logits.detach().cpu()
            if isinstance(teacher_logits, torch.Tensor)
            else torch.from_numpy(np.asarray(teacher_logits, dtype=np.float32))
        )
        if tuple(t.shape) != (X.shape[0], num_classes):
            raise ValueError(
                f"teacher_logits must have shape ({X.shape[0]}, {num_classes}) (one row of logits per "
                f"training image), got {tuple(t.shape)}."
            )
        t = t.to(torch.float32)
        if not bool(torch.isfinite(t).all()):
            raise ValueError("teacher_logits contains non-finite values (NaN or inf).")
        t = t.to(dev)

    Xd, yd = X.to(dev), y.to(dev)
    optimiser = torch.optim.Adam(model.parameters(), lr=lr, weight_decay=weight_decay)
    devices = [dev.index if dev.index is not None else torch.cuda.current_device()] if dev.type == "cuda" else []
    n = X.shape[0]
    best_acc, best_epoch, best_state = -1.0, 0, None
    val_hist, loss_hist = [], []
    stopped_early = False
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(_torch_seed(rng))
        for epoch in range(1, max_epochs + 1):
            model.train()
            order = torch.from_numpy(rng.permutation(n)).to(dev)
            total = 0.0
            for start in range(0, n, batch_size):
                idx = order[start : start + batch_size]
                logits = model(Xd[idx])
                if soft:
                    loss = distillation_loss(logits, t[idx], yd[idx], tau=tau, alpha=alpha)
                else:
                    loss = hard_label_loss(logits, yd[idx])
                optimiser.zero_grad(set_to_none=True)
                loss.backward()
                optimiser.step()
                total += float(loss.detach()) * idx.shape[0]
            loss_hist.append(total / n)
            acc = _accuracy(model, X_val, y_val, dev)
            val_hist.append(acc)
            if callback is not None:
                callback(epoch, model, acc)
            if acc > best_acc:
                best_acc, best_epoch = acc, epoch
                best_state = copy.deepcopy(model.state_dict())
            elif epoch - best_epoch >= patience:
                stopped_early = epoch < max_epochs
                break
    assert best_state is not None  # set at the first epoch, whose accuracy (>= 0) beats -1
    model.load_state_dict(best_state)
    model.eval()
    return FitResult(
        best_epoch=best_epoch,
        epochs=len(val_hist),
        stopped_early=stopped_early,
        best_val_accuracy=best_acc,
        val_accuracy=val_hist,
        train_loss=loss_hist,
        lr=lr,
        weight_decay=weight_decay,
        loss="soft" if soft else "hard",
    )


def save_model(model: VGG, path: str | os.PathLike[str]) -> None:
    r"""Save a :class:`~ntkdistill.torch.VGG` (architecture and weights) to ``path``.

    The file holds only a dict of strings, numbers, lists and tensors, so :func:`load_model` reads
    it with ``torch.load(..., weights_only=True)``, which cannot run code from a planted file.

    .. math::

        \text{file} = \{\text{format}, \text{arch}, \theta\}

    Examples
    --------
    >>> import os, tempfile, torch
    >>> from ntkdistill.torch import vgg_student
    >>> net = vgg_student(in_channels=1, image_size=8, width=0.0625, rng=0)
    >>> path = os.path.join(tempfile.mkdtemp(), "student.pt")
    >>> save_model(net, path)
    >>> x = torch.rand(2, 1, 8, 8)
    >>> bool(torch.equal(load_model(path).eval()(x), net.eval()(x)))
    True
    """
    if not isinstance(model, VGG):
        raise TypeError(f"model must be an ntkdistill.torch.VGG, got {type(model).__name__}.")
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    torch.save({"format": _FORMAT, "arch": copy.deepcopy(model.arch), "state_dict": state}, os.fspath(path))


def load_model(path: str | os.PathLike[str], *, map_location: Device = "cpu") -> VGG:
    r"""Load a network written by :func:`save_model`, with ``torch.load(..., weights_only=True)``.

    .. math::

        \theta \leftarrow \text{file}[\text{state\_dict}]

    Raises
    ------
    FileNotFoundError
        No file at ``path``.
    ValueError
        The file is not a network saved by :func:`save_model` (or tries to load anything but
        tensors and plain containers).

    Examples
    --------
    >>> import os, tempfile, torch
    >>> from ntkdistill.torch import vgg_teacher
    >>> path = os.path.join(tempfile.mkdtemp(), "teacher.pt")
    >>> save_model(vgg_teacher(in_channels=1, image_size=28, width=0.0625, rng=0), path)
    >>> net = load_model(path)
    >>> net.arch["config"], net.feature_shape
    ('8+3', (32, 1, 1))
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(
            f"no saved network at {path!r}: expected a file written by ntkdistill.torch.save_model."
        )
    try:
        blob = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as exc:
        raise ValueError(
            f"{path!r} is not a network saved by ntkdistill.torch.save_model (torch.load with "
            f"weights_only=True refused it: {type(exc).__name__})."
        ) from exc
    if not isinstance(blob, dict) or blob.get("format") != _FORMAT or "arch" not in blob or "state_dict" not in blob:
        raise ValueError(
            f"{path!r} is not a network saved by ntkdistill.torch.save_model (format {_FORMAT!r} expected)."
        )
    model = VGG(**blob["arch"], rng=0)
    model.load_state_dict(blob["state_dict"])
    return model.to(map_location) if map_location is not None else model
