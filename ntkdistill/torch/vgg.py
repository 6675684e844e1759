r"""The VGG teacher and student of the paper's Figure 1, in ``torch.nn``.

Section 4 of the paper trains a "VGG 8+3" teacher (VGG-11, configuration A of Simonyan and
Zisserman 2014: eight 3x3 convolutions and three fully connected layers) and a "VGG 2+3"
student (conv3-64, pool, conv3-128, pool, then the same three-layer head). Both are built here
for any number of input channels and image size (3x32x32 for CIFAR-10, 1x28x28 for MNIST), with
a width multiplier that scales every convolution and the hidden width of the head, so that a
configuration small enough for a CPU exists.

Every block is ``conv3x3 (padding 1) -> [BatchNorm] -> ReLU``; every pool is a 2x2 max pool
with ``ceil_mode=True`` (28 -> 14 -> 7 -> 4 -> 2 -> 1, and 32 -> 16 -> 8 -> 4 -> 2 -> 1), and
a pool that meets a 1x1 map is left out. The head is

.. math::

    \text{flatten} \to \text{Linear}(C h w, H) \to \text{ReLU} \to \text{Dropout}
    \to \text{Linear}(H, H) \to \text{ReLU} \to \text{Dropout} \to \text{Linear}(H, K)

with :math:`H = 512 \cdot \text{width}` by default (the CIFAR form of VGG; the ImageNet form has
:math:`H = 4096`) and :math:`K` classes. The binary task of the paper uses :math:`K = 2`: the
softmax of two logits is the sigmoid :math:`\mu` of their difference, so
:math:`f = s_1 - s_0` is the scalar logit of the theory.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

from .._validation import _short, check_int, check_real, check_rng

if TYPE_CHECKING:
    from .._typing import SeedLike

__all__ = ["VGG", "VGG_CONFIGS", "vgg_teacher", "vgg_student"]

#: Convolution widths (before the width multiplier) and pools ("M") of each configuration.
VGG_CONFIGS = {
    "8+3": (64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"),
    "2+3": (64, "M", 128, "M"),
}


def _torch_seed(rng) -> int:
    """A 63-bit torch seed drawn from ``rng`` (anything :func:`numpy.random.default_rng` takes)."""
    return int(check_rng(rng).integers(2**63 - 1))


def _image_size(value):
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        h = w = check_int("image_size", value, minimum=1)
    elif isinstance(value, (tuple, list)) and len(value) == 2:
        h = check_int("image_size[0]", value[0], minimum=1)
        w = check_int("image_size[1]", value[1], minimum=1)
    else:
        raise TypeError(f"image_size must be an int or a pair (height, width), got {_short(value)}.")
    return h, w


class VGG(nn.Module):
    r"""A VGG network: 3x3 convolutions and max pools, then a three-layer fully connected head.

    .. math::

        s(x) = W_3\, \mathrm{drop}(\mathrm{relu}(W_2\, \mathrm{drop}(\mathrm{relu}(W_1
        \,\mathrm{vec}(\mathrm{features}(x)) + b_1)) + b_2)) + b_3 \in \mathbb{R}^K

    Paper, Section 4 and Figure 1 (THEORY.md, "The paper's experiments"): ``config="8+3"`` is
    the teacher VGG 8+3 (VGG-11, configuration A), ``config="2+3"`` the student VGG 2+3.

    Parameters
    ----------
    config : {"8+3", "2+3"} or sequence
        A key of :data:`VGG_CONFIGS`, or a sequence of convolution widths and ``"M"`` (pool).
    in_channels : int
        1 for MNIST, 3 for CIFAR-10.
    image_size : int or (int, int)
        Height and width of the input images (28 for MNIST, 32 for CIFAR-10).
    num_classes : int
        Number of output logits (2 for the binary tasks).
    width : float
        Multiplier of every convolution width (rounded, at least 1) and of the default head width.
    hidden : int, optional
        Width of the two hidden fully connected layers; default ``round(512 * width)``.
    dropout : float
        Dropout probability after each hidden fully connected layer (0.5 in VGG).
    batch_norm : bool
        Insert BatchNorm after each convolution (configuration A has none).
    rng : None, int, SeedSequence or numpy Generator
        Seeds the initialisation: Kaiming normal (fan-out, as torchvision's VGG) for the
        convolutions, :math:`N(0, 2/\text{fan-in})` for the hidden linear layers and
        :math:`N(0, 1/\text{fan-in})` for the output layer, zero biases. (torchvision's
        :math:`N(0, 0.01^2)` for the linear layers leaves a narrow VGG 8+3 without batch
        normalisation stuck at chance level.)

    Attributes
    ----------
    arch : dict
        The keyword arguments that rebuild this network (without ``rng``); saved by
        :func:`ntkdistill.torch.save_model`.

    Examples
    --------
    >>> import torch
    >>> net = VGG("2+3", in_channels=1, image_size=28, width=0.125, rng=0)
    >>> net(torch.zeros(5, 1, 28, 28)).shape
    torch.Size([5, 2])
    >>> net.feature_shape
    (16, 7, 7)
    """

    def __init__(
        self,
        config: str | Sequence[int | str] = "8+3",
        *,
        in_channels: int = 3,
        image_size: int | tuple[int, int] = 32,
        num_classes: int = 2,
        width: float = 1.0,
        hidden: int | None = None,
        dropout: float = 0.5,
        batch_norm: bool = False,
        rng: SeedLike = None,
    ) -> None:
        super().__init__()
        if isinstance(config, str):
            if config not in VGG_CONFIGS:
                raise ValueError(
                    f"config == {config!r}, must be one of {sorted(VGG_CONFIGS)} or a sequence of widths and 'M'."
                )
            layers = VGG_CONFIGS[config]
        elif (
            isinstance(config, (tuple, list))
            and all(
                c == "M" or (isinstance(c, numbers.Integral) and not isinstance(c, bool) and int(c) > 0) for c in config
            )
            and any(c != "M" for c in config)
        ):
            layers = tuple(config)
        else:
            raise ValueError(
                f"config == {_short(config)}, must be one of {sorted(VGG_CONFIGS)} or a sequence of "
                "positive convolution widths and 'M' with at least one convolution."
            )
        in_channels = check_int("in_channels", in_channels, minimum=1)
        h, w = _image_size(image_size)
        num_classes = check_int("num_classes", num_classes, minimum=2)
        width = check_real("width", width, low=0.0)
        if hidden is None:
            hidden = max(1, round(512 * width))
        hidden = check_int("hidden", hidden, minimum=1)
        dropout = check_real("dropout", dropout, low=0.0, high=1.0, low_open=False)
        if not isinstance(batch_norm, (bool,)):
            raise TypeError(f"batch_norm must be True or False, got {_short(batch_norm)}.")
        generator = torch.Generator().manual_seed(_torch_seed(rng))

        self.arch = dict(
            config=config if isinstance(config, str) else list(layers),
            in_channels=in_channels,
            image_size=[h, w],
            num_classes=num_classes,
            width=width,
            hidden=hidden,
            dropout=dropout,
            batch_norm=batch_norm,
        )
        with torch.random.fork_rng(devices=[]):  # the layers' default initialisation draws from the global RNG
            self._build(
                layers,
                (in_channels, h, w),
                num_classes,
                width=width,
                hidden=hidden,
                dropout=dropout,
                batch_norm=batch_norm,
                generator=generator,
            )

    def _build(self, layers, shape, num_classes, *, width, hidden, dropout, batch_norm, generator):
        c, h, w = shape
        blocks: list[nn.Module] = []
        for item in layers:
            if item == "M":
                if h > 1 or w > 1:
                    blocks.append(nn.MaxPool2d(kernel_size=2, stride=2, ceil_mode=True))
                    h, w = math.ceil(h / 2), math.ceil(w / 2)
                continue
            out = max(1, round(item * width))
            blocks.append(nn.Conv2d(c, out, kernel_size=3, padding=1))
            if batch_norm:
                blocks.append(nn.BatchNorm2d(out))
            blocks.append(nn.ReLU(inplace=True))
            c = out
        self.features = nn.Sequential(*blocks)
        self.feature_shape = (c, h, w)
        self.classifier = nn.Sequential(
            nn.Flatten(),
            nn.Linear(c * h * w, hidden),
            nn.ReLU(inplace=True),
            nn.Dropout(dropout),
            nn.Linear(hidden, hidden),
            nn.ReLU(inplace=True),
            nn.Dropout(dropout),
            nn.Linear(hidden, num_classes),
        )
        with torch.no_grad():
            for module in self.modules():
                if isinstance(module, nn.Conv2d):
                    fan_out = module.out_channels * module.kernel_size[0] * module.kernel_size[1]
                    module.weight.normal_(0.0, math.sqrt(2.0 / fan_out), generator=generator)
                    module.bias.zero_()
                elif isinstance(module, nn.Linear):
                    gain = 1.0 if module is self.classifier[-1] else 2.0
                    module.weight.normal_(0.0, math.sqrt(gain / module.in_features), generator=generator)
                    module.bias.zero_()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits of shape ``(N, num_classes)`` for images ``x`` of shape ``(N, C, H, W)``."""
        return self.classifier(self.features(x))


def vgg_teacher(
    *,
    in_channels: int = 3,
    image_size: int | tuple[int, int] = 32,
    num_classes: int = 2,
    width: float = 1.0,
    **kwargs: Any,
) -> VGG:
    r"""The teacher of Figure 1: VGG 8+3 (VGG-11, configuration A).

    .. math::

        \text{conv}_{64}, \text{M}, \text{conv}_{128}, \text{M}, \text{conv}_{256}^{\times 2}, \text{M},
        \text{conv}_{512}^{\times 2}, \text{M}, \text{conv}_{512}^{\times 2}, \text{M},
        \text{FC}_H, \text{FC}_H, \text{FC}_K

    (widths times ``width``). Paper, Section 4. Other keywords go to :class:`VGG`.

    Examples
    --------
    >>> import torch
    >>> net = vgg_teacher(width=0.0625, rng=0)
    >>> net(torch.zeros(2, 3, 32, 32)).shape, net.feature_shape
    (torch.Size([2, 2]), (32, 1, 1))
    """
    return VGG("8+3", in_channels=in_channels, image_size=image_size, num_classes=num_classes, width=width, **kwargs)


def vgg_student(
    *,
    in_channels: int = 3,
    image_size: int | tuple[int, int] = 32,
    num_classes: int = 2,
    width: float = 1.0,
    **kwargs: Any,
) -> VGG:
    r"""The student of Figure 1: VGG 2+3.

    .. math::

        \text{conv}_{64}, \text{M}, \text{conv}_{128}, \text{M}, \text{FC}_H, \text{FC}_H, \text{FC}_K

    (widths times ``width``). Paper, Section 4. Other keywords go to :class:`VGG`.

    Examples
    --------
    >>> import torch
    >>> net = vgg_student(width=0.0625, rng=0)
    >>> net(torch.zeros(2, 3, 32, 32)).shape, net.feature_shape
    (torch.Size([2, 2]), (8, 8, 8))
    """
    return VGG("2+3", in_channels=in_channels, image_size=image_size, num_classes=num_classes, width=width, **kwargs)
