"""CIFAR-10 python batches: written here with pickle, read back with the restricted unpickler."""

import os
import pickle
import struct
import sys
import types

import numpy as np
import pytest

from ntkdistill.datasets.cifar import CIFAR10_CLASSES, UnsafePickleError, load_cifar10


def _batch(n, seed, *, bytes_keys=False):
    gen = np.random.default_rng(seed)
    data = gen.integers(0, 256, size=(n, 3072), dtype=np.uint8)
    labels = gen.integers(0, 10, size=n).tolist()
    batch = {"batch_label": "batch", "labels": labels, "data": data, "filenames": [f"img{k}.png" for k in range(n)]}
    if bytes_keys:
        batch = {k.encode(): v for k, v in batch.items()}
    return batch


def _write_batches(folder, n=3, protocol=2, bytes_keys=False):
    folder.mkdir(parents=True, exist_ok=True)
    written = {}
    names = [f"data_batch_{k}" for k in range(1, 6)] + ["test_batch"]
    for seed, name in enumerate(names):
        batch = _batch(n, seed, bytes_keys=bytes_keys)
        with open(folder / name, "wb") as fh:
            pickle.dump(batch, fh, protocol=protocol)
        written[name] = batch
    return written


def _key(batch, k):
    return batch[k] if k in batch else batch[k.encode()]


@pytest.mark.parametrize("protocol", [2, pickle.HIGHEST_PROTOCOL])
@pytest.mark.parametrize("bytes_keys", [False, True])
def test_batches_round_trip(tmp_path, protocol, bytes_keys):
    written = _write_batches(tmp_path, n=3, protocol=protocol, bytes_keys=bytes_keys)
    train = load_cifar10(tmp_path, split="train")
    test = load_cifar10(tmp_path, split="test")
    assert train.X.shape == (15, 3072) and test.X.shape == (3, 3072)
    assert train.shape == (3, 32, 32) and train.class_names == CIFAR10_CLASSES
    expected = np.concatenate([_key(written[f"data_batch_{k}"], "data") for k in range(1, 6)])
    np.testing.assert_array_equal(train.X * 255, expected)
    labels = [v for k in range(1, 6) for v in _key(written[f"data_batch_{k}"], "labels")]
    assert train.labels.tolist() == labels
    assert test.labels.tolist() == _key(written["test_batch"], "labels")
    assert train.source == f"CIFAR-10 python batches in {tmp_path}"


def test_channel_major_order(tmp_path):
    # row layout of the python batches: 1024 red, then 1024 green, then 1024 blue values
    data = np.concatenate([np.full(1024, 10), np.full(1024, 20), np.full(1024, 30)]).astype(np.uint8)[None, :]
    data = data.copy()
    data[0, 32 * 5 + 7] = 99  # red, row 5, column 7
    with open(tmp_path / "test_batch", "wb") as fh:
        pickle.dump({"data": data, "labels": [3]}, fh)
    images = load_cifar10(tmp_path, split="test").images() * 255
    np.testing.assert_allclose(images[0, :, 0, 0], [10, 20, 30])
    assert images[0, 0, 5, 7] == pytest.approx(99)


def test_parent_folder_is_accepted(tmp_path):
    _write_batches(tmp_path / "cifar-10-batches-py", n=2)
    data = load_cifar10(tmp_path, split="test")
    assert len(data) == 2 and "cifar-10-batches-py" in data.source


def _py2_style_batch(data, labels):
    """A batch as Python 2 / numpy 1 wrote it: GLOBAL numpy.core.multiarray, str (not bytes) payloads."""

    def s(text):  # SHORT_BINSTRING / BINSTRING: a Python 2 str
        raw = text if isinstance(text, bytes) else text.encode("latin1")
        return (b"U" + bytes([len(raw)]) if len(raw) < 256 else b"T" + struct.pack("<I", len(raw))) + raw

    out = b"\x80\x02}q\x00(" + s("data")
    out += b"cnumpy.core.multiarray\n_reconstruct\ncnumpy\nndarray\nK\x00\x85" + s("b") + b"\x87R"
    out += b"(K\x01" + b"K" + bytes([data.shape[0]]) + b"M" + struct.pack("<H", data.shape[1]) + b"\x86"
    out += b"cnumpy\ndtype\n" + s("u1") + b"K\x00K\x01\x87R"
    out += b"(K\x03" + s("|") + b"NNNJ\xff\xff\xff\xffJ\xff\xff\xff\xffK\x00tb"
    out += b"\x89" + s(data.tobytes()) + b"tb"
    out += s("labels") + b"]" + b"(" + b"".join(b"K" + bytes([v]) for v in labels) + b"e"
    out += b"u."
    return out


def test_python2_numpy1_batch(tmp_path):
    data = np.arange(2 * 3072, dtype=np.int64).reshape(2, 3072).astype(np.uint8)
    (tmp_path / "test_batch").write_bytes(_py2_style_batch(data, [5, 3]))
    loaded = load_cifar10(tmp_path, split="test")
    np.testing.assert_array_equal(loaded.X * 255, data)
    assert loaded.labels.tolist() == [5, 3]


# ------------------------------------------------------------------------------ planted pickles


class _RunsCode:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


class _Evals:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (eval, (f"open({str(self.marker)!r}, 'w').close()",))


@pytest.mark.parametrize("payload", [_RunsCode, _Evals])
@pytest.mark.parametrize("where", ["top", "data", "labels"])
def test_planted_pickle_cannot_run_code(tmp_path, payload, where):
    marker = tmp_path / "marker"
    evil = payload(marker)
    batch = {"data": np.zeros((1, 3072), np.uint8), "labels": [0]}
    obj = evil if where == "top" else {**batch, where: evil}
    with open(tmp_path / "test_batch", "wb") as fh:
        pickle.dump(obj, fh, protocol=2)
    with pytest.raises(UnsafePickleError, match=r"refused to load global .*(system|eval)") as info:
        load_cifar10(tmp_path, split="test")
    assert "test_batch" in str(info.value)
    assert not marker.exists()
    # the payload is live: a plain pickle.load of the same file does run it
    with open(tmp_path / "test_batch", "rb") as fh:
        pickle.load(fh)
    assert marker.exists()


def test_unsafe_pickle_error_is_an_unpickling_error():
    assert issubclass(UnsafePickleError, pickle.UnpicklingError)


def test_object_arrays_are_refused(tmp_path):
    with open(tmp_path / "test_batch", "wb") as fh:
        pickle.dump({"data": np.array([[None]] * 2, dtype=object), "labels": [0, 1]}, fh, protocol=2)
    with pytest.raises(UnsafePickleError, match=r"refused numpy.dtype\('O8'\)"):
        load_cifar10(tmp_path, split="test")


def test_huge_array_shapes_are_refused_before_allocation(tmp_path):
    evil = b"\x80\x02cnumpy.core.multiarray\n_reconstruct\ncnumpy\nndarray\n" + b"J\x00\x00\x00\x40\x85U\x01b\x87R."
    (tmp_path / "test_batch").write_bytes(evil)
    with pytest.raises(UnsafePickleError, match="refused ndarray reconstruction"):
        load_cifar10(tmp_path, split="test")


def test_other_codecs_are_refused(tmp_path):
    evil = b"\x80\x02c_codecs\nencode\nX\x03\x00\x00\x00abcX\x06\x00\x00\x00base64\x86R."
    (tmp_path / "test_batch").write_bytes(evil)
    with pytest.raises(UnsafePickleError, match="refused _codecs.encode with encoding 'base64'"):
        load_cifar10(tmp_path, split="test")


# ------------------------------------------------------------------------------ corrupt and missing files


def test_missing_folder(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_cifar10(tmp_path / "nowhere")


def test_empty_folder_names_the_expected_files(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"data_batch_1, .*data_batch_5.*cifar-10-batches-py"):
        load_cifar10(tmp_path)


def test_missing_training_batch(tmp_path):
    _write_batches(tmp_path, n=1)
    (tmp_path / "data_batch_4").unlink()
    with pytest.raises(FileNotFoundError, match="missing data_batch_4"):
        load_cifar10(tmp_path)


def test_truncated_pickle(tmp_path):
    raw = pickle.dumps(_batch(2, 0), protocol=2)
    (tmp_path / "test_batch").write_bytes(raw[: len(raw) // 2])
    with pytest.raises(ValueError, match="not a readable CIFAR-10 python batch"):
        load_cifar10(tmp_path, split="test")


def test_not_a_dict(tmp_path):
    (tmp_path / "test_batch").write_bytes(pickle.dumps([1, 2, 3], protocol=2))
    with pytest.raises(ValueError, match="holds a list; a CIFAR-10 batch is a pickled dict"):
        load_cifar10(tmp_path, split="test")


def test_missing_key(tmp_path):
    (tmp_path / "test_batch").write_bytes(pickle.dumps({"data": np.zeros((1, 3072), np.uint8)}, protocol=2))
    with pytest.raises(ValueError, match=r"missing \['labels'\]"):
        load_cifar10(tmp_path, split="test")


@pytest.mark.parametrize(
    "data, labels, match",
    [
        (np.zeros((2, 1024), np.uint8), [0, 1], r"shape \(2, 1024\).*expected a uint8 array of shape \(n, 3072\)"),
        (np.zeros((2, 3072), np.float32), [0, 1], "dtype float32"),
        (np.zeros((2, 3072), np.uint8), [0], "2 images but 1 labels"),
        (np.zeros((2, 3072), np.uint8), [0, 10], "labels outside 0-9"),
        (np.zeros((2, 3072), np.uint8), "ab", "'labels' must be a list of ints"),
    ],
)
def test_wrong_layout(tmp_path, data, labels, match):
    (tmp_path / "test_batch").write_bytes(pickle.dumps({"data": data, "labels": labels}, protocol=2))
    with pytest.raises(ValueError, match=match):
        load_cifar10(tmp_path, split="test")


@pytest.mark.parametrize(
    "kwargs, exc, match",
    [
        (dict(split="val"), ValueError, r"split == 'val'"),
        (dict(source="pickle"), ValueError, r"source == 'pickle', must be one of"),
    ],
)
def test_bad_arguments(tmp_path, kwargs, exc, match):
    with pytest.raises(exc, match=match):
        load_cifar10(tmp_path, **kwargs)


def test_root_is_required():
    with pytest.raises(TypeError, match="no offline default"):
        load_cifar10(None)


# ------------------------------------------------------------------------------ torchvision


def test_torchvision_source_transposes_channels_last(tmp_path, monkeypatch):
    gen = np.random.default_rng(0)
    hwc = gen.integers(0, 256, size=(2, 32, 32, 3), dtype=np.uint8)
    calls = []

    class FakeCIFAR10:
        def __init__(self, root, train=True, download=True):
            calls.append((root, train, download))
            self.data = hwc
            self.targets = [3, 5]

    tv = types.ModuleType("torchvision")
    tv.datasets = types.ModuleType("torchvision.datasets")
    tv.datasets.CIFAR10 = FakeCIFAR10
    monkeypatch.setitem(sys.modules, "torchvision", tv)
    monkeypatch.setitem(sys.modules, "torchvision.datasets", tv.datasets)
    data = load_cifar10(tmp_path, split="train", source="torchvision")
    assert calls == [(str(tmp_path), True, False)]
    np.testing.assert_array_equal(data.images() * 255, hwc.transpose(0, 3, 1, 2))
    assert data.labels.tolist() == [3, 5]


def test_torchvision_missing(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "torchvision", None)
    monkeypatch.setitem(sys.modules, "torchvision.datasets", None)
    with pytest.raises(ImportError, match="source='auto' reads the same folder without it"):
        load_cifar10(tmp_path, source="torchvision")


@pytest.mark.parametrize("protocol", [2, 5])
def test_numpy_labels_and_fortran_data(tmp_path, protocol):
    # numpy scalars in the label list and a Fortran-ordered array use other numpy globals
    data = np.asfortranarray(np.arange(2 * 3072).reshape(2, 3072).astype(np.uint8))
    batch = {"data": data, "labels": [np.int64(3), np.int64(5)]}
    with open(tmp_path / "test_batch", "wb") as fh:
        pickle.dump(batch, fh, protocol=protocol)
    loaded = load_cifar10(tmp_path, split="test")
    np.testing.assert_array_equal(loaded.X * 255, data)
    assert loaded.labels.tolist() == [3, 5]
