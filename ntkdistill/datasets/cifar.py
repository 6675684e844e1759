r"""CIFAR-10 from the standard python batches, read with a restricted unpickler.

The python version of CIFAR-10 (``cifar-10-batches-py``) stores each batch as a pickled ``dict``
with ``data`` (a ``uint8`` array of shape (10000, 3072), each row the red, green and blue
32 x 32 planes in turn) and ``labels`` (a list of 10,000 ints in 0-9). A pickle can name any
callable and have it called while loading, so a planted file could run code under a plain
:func:`pickle.load`. These batches are read by :class:`_RestrictedUnpickler`, which resolves only
the handful of globals such a file needs (numpy's array and dtype reconstruction, for
pickle protocols 2 to 5, and the ``latin1`` string-to-bytes step of protocol 2) and refuses every other one before anything
is called.
"""

from __future__ import annotations

import io
import os
import pickle
from pathlib import Path

import numpy as np

from ._base import ImageData

__all__ = ["load_cifar10", "CIFAR10_CLASSES", "UnsafePickleError"]

CIFAR10_CLASSES = (
    "airplane",
    "automobile",
    "bird",
    "cat",
    "deer",
    "dog",
    "frog",
    "horse",
    "ship",
    "truck",
)
_SPLITS = ("train", "test")
_SOURCES = ("auto", "python", "torchvision")
_FOLDER = "cifar-10-batches-py"
_BATCHES = {"train": tuple(f"data_batch_{k}" for k in range(1, 6)), "test": ("test_batch",)}
_ALLOWED_DTYPES = frozenset(
    np.dtype(c).str for c in ("u1", "i1", "u2", "i2", "u4", "i4", "u8", "i8", "f4", "f8", "b1")
) | frozenset(("u1", "i1", "u2", "i2", "u4", "i4", "u8", "i8", "f4", "f8", "b1"))
_RECONSTRUCT = np.empty(0).__reduce__()[0]  # numpy's _reconstruct, wherever this numpy keeps it


class UnsafePickleError(pickle.UnpicklingError):
    r"""A pickle asked for a global that a CIFAR-10 batch never needs: it was refused before any call.

    .. math::

        \text{allowed} = \{\texttt{numpy ndarray / dtype / \_reconstruct / \_frombuffer / scalar},\
        \texttt{\_codecs.encode}(\cdot, \texttt{latin1})\}

    A subclass of :class:`pickle.UnpicklingError`.

    Examples
    --------
    >>> import os, pickle, tempfile
    >>> class Payload:
    ...     def __reduce__(self):
    ...         return (print, ("this would run",))
    >>> root = tempfile.mkdtemp()
    >>> with open(os.path.join(root, "test_batch"), "wb") as fh:
    ...     pickle.dump(Payload(), fh)
    >>> try:
    ...     load_cifar10(root, split="test")
    ... except UnsafePickleError as exc:
    ...     print("refused:", "builtins.print" in str(exc))
    refused: True
    """


def _safe_reconstruct(subtype, shape, typecode):
    """numpy's ``_reconstruct`` limited to what ``ndarray.__reduce__`` writes: an empty ndarray."""
    if subtype is not np.ndarray or tuple(shape) != (0,):
        raise UnsafePickleError(
            f"refused ndarray reconstruction with subtype {subtype!r} and shape {shape!r}; a CIFAR-10 "
            "batch only has plain arrays (numpy.ndarray, shape (0,) before its state is set)."
        )
    return _RECONSTRUCT(np.ndarray, (0,), typecode)


def _safe_dtype(obj, align=False, copy=False):
    """``numpy.dtype`` limited to plain numeric types (never object or structured dtypes)."""
    if not isinstance(obj, str) or obj not in _ALLOWED_DTYPES:
        raise UnsafePickleError(f"refused numpy.dtype({obj!r}); a CIFAR-10 batch holds only numeric arrays.")
    return np.dtype(obj, bool(align), bool(copy))


def _safe_encode(text, encoding="utf-8", errors="strict"):
    """``_codecs.encode`` limited to the ``latin1`` step that protocol 2 writes for ``bytes``."""
    if not isinstance(text, str) or encoding not in ("latin1", "latin-1") or errors != "strict":
        raise UnsafePickleError(f"refused _codecs.encode with encoding {encoding!r}.")
    return text.encode("latin1")


def _safe_scalar(dtype, data=None):
    """numpy's ``scalar`` limited to numeric dtypes and a bytes payload."""
    if not isinstance(dtype, np.dtype) or dtype.str not in _ALLOWED_DTYPES or not isinstance(data, bytes):
        raise UnsafePickleError(f"refused a numpy scalar of dtype {dtype!r}.")
    return np.frombuffer(data, dtype=dtype, count=1)[0]


def _safe_frombuffer(buf, dtype, shape, order, axis_order=None):
    """numpy's ``_frombuffer`` (pickle protocol 5) limited to numeric dtypes and a bytes payload."""
    if not isinstance(buf, (bytes, bytearray, pickle.PickleBuffer)):
        raise UnsafePickleError(f"refused an array buffer of type {type(buf).__name__}.")
    if not isinstance(dtype, np.dtype) or dtype.str not in _ALLOWED_DTYPES:
        raise UnsafePickleError(f"refused an array of dtype {dtype!r}; a CIFAR-10 batch holds only numeric arrays.")
    if order not in ("C", "F") or axis_order is not None:
        raise UnsafePickleError(f"refused an array buffer with order {order!r}.")
    try:
        return np.frombuffer(buf, dtype=dtype).reshape(tuple(shape), order=order)
    except (TypeError, ValueError) as exc:
        raise UnsafePickleError(f"refused an array buffer that does not match shape {shape!r}: {exc}") from None


_ALLOWED_GLOBALS = {
    ("numpy.core.numeric", "_frombuffer"): _safe_frombuffer,
    ("numpy._core.numeric", "_frombuffer"): _safe_frombuffer,
    ("numpy.core.multiarray", "_reconstruct"): _safe_reconstruct,
    ("numpy._core.multiarray", "_reconstruct"): _safe_reconstruct,
    ("numpy.core.multiarray", "scalar"): _safe_scalar,
    ("numpy._core.multiarray", "scalar"): _safe_scalar,
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): _safe_dtype,
    ("_codecs", "encode"): _safe_encode,
}


class _RestrictedUnpickler(pickle.Unpickler):
    """Resolves only the globals of :data:`_ALLOWED_GLOBALS`; anything else raises before it is called."""

    def find_class(self, module, name):
        try:
            return _ALLOWED_GLOBALS[(module, name)]
        except KeyError:
            raise UnsafePickleError(
                f"refused to load global {module}.{name}: a CIFAR-10 batch needs only numpy array "
                "reconstruction, so this file is not a CIFAR-10 batch (and may try to run code)."
            ) from None

    def persistent_load(self, pid):
        raise UnsafePickleError("refused a persistent id: a CIFAR-10 batch has none.")


def _restricted_load(raw: bytes):
    return _RestrictedUnpickler(io.BytesIO(raw), encoding="latin1").load()


def _read_batch(path: Path):
    """Images (n, 3072) uint8 and labels (n,) int64 of one python batch."""
    if not path.is_file():
        raise FileNotFoundError(f"CIFAR-10 batch {str(path)!r} does not exist.")
    raw = path.read_bytes()
    try:
        obj = _restricted_load(raw)
    except UnsafePickleError as exc:
        raise UnsafePickleError(f"{str(path)!r}: {exc}") from None
    except Exception as exc:  # truncated or garbage pickles raise many different types
        raise ValueError(
            f"{str(path)!r} is not a readable CIFAR-10 python batch ({type(exc).__name__}: {exc}); expected "
            "a pickled dict with 'data' and 'labels'."
        ) from exc
    if not isinstance(obj, dict):
        raise ValueError(f"{str(path)!r} holds a {type(obj).__name__}; a CIFAR-10 batch is a pickled dict.")
    batch = {(k.decode("latin1") if isinstance(k, bytes) else k): v for k, v in obj.items()}
    missing = [k for k in ("data", "labels") if k not in batch]
    if missing:
        raise ValueError(
            f"{str(path)!r} has keys {sorted(map(str, batch))}; a CIFAR-10 batch needs 'data' and 'labels' "
            f"(missing {missing})."
        )
    data = batch["data"]
    if not isinstance(data, np.ndarray) or data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3072:
        what = (
            f"array of shape {data.shape} and dtype {data.dtype}"
            if isinstance(data, np.ndarray)
            else type(data).__name__
        )
        raise ValueError(f"{str(path)!r}: 'data' is a {what}; expected a uint8 array of shape (n, 3072).")
    labels = batch["labels"]
    if isinstance(labels, np.ndarray):
        ok = labels.ndim == 1 and np.issubdtype(labels.dtype, np.integer)
    else:
        ok = isinstance(labels, (list, tuple)) and all(
            isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in labels
        )
    if not ok:
        raise ValueError(f"{str(path)!r}: 'labels' must be a list of ints, got {type(labels).__name__}.")
    labels = np.asarray(labels, dtype=np.int64)
    if labels.shape[0] != data.shape[0]:
        raise ValueError(f"{str(path)!r} holds {data.shape[0]} images but {labels.shape[0]} labels; they must match.")
    if labels.size and (labels.min() < 0 or labels.max() > 9):
        raise ValueError(f"{str(path)!r} holds labels outside 0-9 (range {labels.min()}..{labels.max()}).")
    return data, labels


def _batch_folder(root: Path):
    for folder in (root, root / _FOLDER):
        if (folder / "test_batch").is_file() or (folder / "data_batch_1").is_file():
            return folder
    return None


def _load_python(root: Path, split: str) -> ImageData:
    folder = _batch_folder(root)
    names = _BATCHES[split]
    if folder is None:
        raise FileNotFoundError(
            f"no CIFAR-10 python batches in {str(root)!r}: expected {', '.join(names)} there or in "
            f"{str(root / _FOLDER)!r} (the folder cifar-10-python.tar.gz unpacks to)."
        )
    missing = [n for n in names if not (folder / n).is_file()]
    if missing:
        raise FileNotFoundError(
            f"CIFAR-10 {split} split incomplete in {str(folder)!r}: missing {', '.join(missing)} "
            f"(expected {', '.join(names)})."
        )
    parts = [_read_batch(folder / n) for n in names]
    data = np.concatenate([p[0] for p in parts])
    labels = np.concatenate([p[1] for p in parts])
    X = data.astype(np.float64) / 255.0
    return ImageData(X, labels, (3, 32, 32), f"CIFAR-10 python batches in {folder}", split, class_names=CIFAR10_CLASSES)


def _load_torchvision(root: Path, split: str) -> ImageData:
    try:
        from torchvision.datasets import CIFAR10
    except ImportError as exc:
        raise ImportError(
            "source='torchvision' needs torchvision (pip install torchvision); source='auto' reads the same "
            "folder without it."
        ) from exc
    try:
        ds = CIFAR10(str(root), train=(split == "train"), download=False)
    except RuntimeError as exc:  # torchvision: "Dataset not found or corrupted."
        raise FileNotFoundError(
            f"torchvision found no CIFAR-10 {split} set under {str(root)!r} (expected {root}/{_FOLDER}): {exc}"
        ) from exc
    images = np.asarray(ds.data, dtype=np.uint8)  # (n, 32, 32, 3), channels last
    labels = np.asarray(ds.targets, dtype=np.int64)
    X = images.transpose(0, 3, 1, 2).reshape(images.shape[0], -1).astype(np.float64) / 255.0
    return ImageData(
        X, labels, (3, 32, 32), f"torchvision.datasets.CIFAR10 in {root}", split, class_names=CIFAR10_CLASSES
    )


def load_cifar10(root: str | os.PathLike[str], *, split: str = "train", source: str = "auto") -> ImageData:
    r"""Load CIFAR-10 as an :class:`ImageData` with ``X`` in [0, 1], shape ``(n, 3072)``.

    .. math::

        X_{i, 1024 c + 32 h + w} = \frac{\text{byte}_i(c, h, w)}{255} \in [0, 1],
        \qquad c \in \{\text{red}, \text{green}, \text{blue}\}

    Section 4 of the paper (Figure 1) uses its cat (3) and dog (5) classes; see
    :func:`ntkdistill.datasets.cat_vs_dog`.

    Parameters
    ----------
    root : str or path-like
        The ``cifar-10-batches-py`` folder (``data_batch_1`` ... ``data_batch_5``, ``test_batch``) or
        the folder that holds it (as torchvision's CIFAR10 root does).
    split : {"train", "test"}
        The five training batches (50,000 images) or the test batch (10,000).
    source : {"auto", "python", "torchvision"}
        ``"auto"`` and ``"python"`` read the batches with the restricted unpickler: a file that
        asks for any global beyond numpy array reconstruction raises :class:`UnsafePickleError`
        before anything is called. ``"torchvision"`` hands the folder to
        ``torchvision.datasets.CIFAR10(root, download=False)``, whose reader unpickles without
        restriction: use it only on files you trust. Nothing is ever downloaded.

    Returns
    -------
    ImageData
        ``shape == (3, 32, 32)``, ``class_names`` the ten CIFAR-10 classes.

    Raises
    ------
    FileNotFoundError
        When batches are missing, naming the expected files and folder.
    UnsafePickleError
        When a batch asks for a global outside the allowed set (a subclass of
        :class:`pickle.UnpicklingError`).
    ValueError
        When a batch is corrupt or has the wrong layout, naming the file and what was expected.

    Examples
    --------
    >>> import os, pickle, tempfile
    >>> import numpy as np
    >>> root = tempfile.mkdtemp()
    >>> batch = {"data": np.zeros((2, 3072), np.uint8), "labels": [3, 5]}
    >>> with open(os.path.join(root, "test_batch"), "wb") as fh:
    ...     pickle.dump(batch, fh, protocol=2)
    >>> data = load_cifar10(root, split="test")
    >>> data.images().shape, [data.class_names[k] for k in data.labels]
    ((2, 3, 32, 32), ['cat', 'dog'])
    """
    if split not in _SPLITS:
        raise ValueError(f"split == {split!r}, must be one of {_SPLITS}.")
    if source not in _SOURCES:
        raise ValueError(f"source == {source!r}, must be one of {_SOURCES}.")
    if not isinstance(root, (str, os.PathLike)):
        raise TypeError(
            f"root must be a folder path (str or path-like), got {type(root).__name__}; CIFAR-10 is not "
            "shipped with any package, so there is no offline default."
        )
    root = Path(root)
    if source == "torchvision":
        return _load_torchvision(root, split)
    if root.exists() and not root.is_dir():
        raise NotADirectoryError(f"root == {str(root)!r} is a file; it must be the folder cifar-10-batches-py.")
    if not root.is_dir():
        raise FileNotFoundError(f"CIFAR-10 folder {str(root)!r} does not exist.")
    return _load_python(root, split)
