"""The container every image loader returns."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

__all__ = ["ImageData"]


@dataclass(frozen=True, eq=False)
class ImageData:
    r"""Images with integer class labels, flattened in channel-major order.

    Row :math:`i` of ``X`` is image :math:`i` with pixel :math:`(c, h, w)` at column

    .. math::

        k = c\,H W + h\,W + w, \qquad X_{ik} \in [0, 1],

    the order of ``images().reshape(n, -1)`` and of the CIFAR-10 python batches. The arrays are
    read-only (several calls may share one cached copy); index or copy them to get writable
    arrays. Two instances compare equal only when they are the same object.

    Attributes
    ----------
    X : ndarray of float64, shape (n, C*H*W)
        Pixel intensities scaled to [0, 1] (raw bytes divided by 255).
    labels : ndarray of int64, shape (n,)
        Class labels (0-9 for MNIST and CIFAR-10).
    shape : tuple of int
        ``(C, H, W)`` of one image.
    source : str
        Where the data came from, e.g. ``"IDX files in /data/mnist"``.
    split : str
        Which part of the source: ``"train"`` or ``"test"``.
    class_names : tuple of str
        Names of the classes by label (empty when the classes are their own names, as digits).

    Raises
    ------
    ValueError
        When ``X``, ``labels`` and ``shape`` do not agree.

    Examples
    --------
    >>> import numpy as np
    >>> data = ImageData(np.zeros((2, 12)), np.array([0, 1]), (3, 2, 2), "zeros", "train")
    >>> data.images().shape, len(data)
    ((2, 3, 2, 2), 2)
    """

    X: np.ndarray = field(repr=False)
    labels: np.ndarray = field(repr=False)
    shape: tuple
    source: str
    split: str
    class_names: tuple = ()

    def __post_init__(self):
        X = np.asarray(self.X, dtype=np.float64).view()  # a view: the caller's array keeps its flags
        labels = np.asarray(self.labels).view()
        shape = tuple(int(s) for s in self.shape)
        if len(shape) != 3 or min(shape) < 1:
            raise ValueError(f"shape must be (C, H, W) with positive entries, got {self.shape!r}.")
        if X.ndim != 2 or X.shape[1] != int(np.prod(shape)):
            raise ValueError(
                f"X must have shape (n, C*H*W) = (n, {int(np.prod(shape))}) for images of shape {shape}, got {X.shape}."
            )
        if labels.shape != (X.shape[0],):
            raise ValueError(f"labels must have shape ({X.shape[0]},), one per row of X, got {labels.shape}.")
        if not np.issubdtype(labels.dtype, np.integer):
            raise TypeError(f"labels must be integers, got dtype {labels.dtype}.")
        if X.size and not (X.min() >= 0.0 and X.max() <= 1.0):
            raise ValueError(
                f"X must hold pixel intensities in [0, 1], got values in [{X.min():g}, {X.max():g}]. "
                "Divide raw bytes by 255."
            )
        labels = labels.astype(np.int64, copy=False).view()
        X.flags.writeable = False
        labels.flags.writeable = False
        object.__setattr__(self, "X", X)
        object.__setattr__(self, "labels", labels)
        object.__setattr__(self, "shape", shape)
        object.__setattr__(self, "class_names", tuple(self.class_names))

    def __len__(self) -> int:
        return self.X.shape[0]

    def images(self) -> np.ndarray:
        """The images as an array of shape ``(n, C, H, W)`` (a read-only view of ``X``)."""
        return self.X.reshape((self.X.shape[0],) + self.shape)
