"""Argument checks shared by every public function.

Each check raises before any work is done, with a message that names the argument, the value
that was given and what is allowed (scikit-learn style).
"""

from __future__ import annotations

import numbers
import operator

import numpy as np

from ._results import reject

__all__: list[str] = []


def _short(value) -> str:
    """A short printable form of ``value`` for an error message."""
    if isinstance(value, np.ndarray):
        return f"array of shape {value.shape} and dtype {value.dtype}"
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def check_int(name: str, value, *, minimum: int | None = None, even: bool = False) -> int:
    """Return ``value`` as a Python int, or raise naming ``name``."""
    reject(name, value, "an integer")
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        # accept integral floats such as 8.0 only if exact
        if isinstance(value, (float, np.floating)) and float(value).is_integer():
            value = int(value)
        else:
            raise TypeError(f"{name} must be an integer, got {_short(value)}.")
    value = operator.index(value)
    if minimum is not None and value < minimum:
        raise ValueError(f"{name} == {value}, must be >= {minimum}.")
    if even and value % 2:
        raise ValueError(
            f"{name} == {value}, must be even (the symmetric initialisation pairs neuron j with neuron j + {name}/2)."
        )
    return value


def check_real(
    name: str,
    value,
    *,
    low: float | None = None,
    high: float | None = None,
    low_open: bool = True,
    high_open: bool = True,
    allow_inf: bool = False,
) -> float:
    """Return ``value`` as a float in the stated interval, or raise naming ``name``."""
    reject(name, value, "a real number")
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {_short(value)}.")
    value = float(value)
    if np.isnan(value) or (np.isinf(value) and not allow_inf):
        raise ValueError(f"{name} == {value}, must be a finite real number.")
    lo_ok = low is None or (value > low if low_open else value >= low)
    hi_ok = high is None or (value < high if high_open else value <= high)
    if not (lo_ok and hi_ok):
        left = "(" if low_open else "["
        right = ")" if high_open else "]"
        lo = "-inf" if low is None else f"{low:g}"
        hi = "inf" if high is None else f"{high:g}"
        raise ValueError(f"{name} == {value:g}, must lie in {left}{lo}, {hi}{right}.")
    return value


def check_matrix(name: str, X, *, dtype=None) -> np.ndarray:
    """A 2-D finite real array; ``dtype`` (None keeps float32/float64, ints go to float64)."""
    reject(name, X, "a 2-D array")
    if isinstance(X, np.ndarray):
        arr = X
    else:
        try:
            arr = np.asarray(X)
        except Exception as exc:  # pragma: no cover - exotic inputs
            raise TypeError(f"{name} must be array-like, got {_short(X)}.") from exc
    if arr.dtype == object or not (
        np.issubdtype(arr.dtype, np.floating) or np.issubdtype(arr.dtype, np.integer) or arr.dtype == np.bool_
    ):
        raise TypeError(
            f"{name} must be a real numeric array, got dtype {arr.dtype}. "
            "Complex, string and object arrays are not allowed."
        )
    if arr.ndim != 2:
        hint = ""
        if arr.ndim == 1:
            hint = (
                " Reshape your data either using array.reshape(-1, 1) if it has a single "
                "feature or array.reshape(1, -1) if it contains a single sample."
            )
        raise ValueError(f"{name} must be a 2-D array (n, d), got {arr.ndim}-D with shape {arr.shape}.{hint}")
    if arr.shape[0] == 0 or arr.shape[1] == 0:
        raise ValueError(f"{name} has shape {arr.shape}; it needs at least one row and one column.")
    arr = np.asarray(arr, dtype=resolve_dtype(dtype, arr))
    if not np.all(np.isfinite(arr)):
        bad = int(np.size(arr) - np.count_nonzero(np.isfinite(arr)))
        raise ValueError(f"{name} contains {bad} non-finite value(s) (NaN or inf); all entries must be finite.")
    return arr


def resolve_dtype(dtype, arr=None) -> np.dtype:
    """float64 unless ``dtype`` says float32/float64; a float32 input stays float32 when dtype is None."""
    if dtype is None:
        if arr is not None and np.asarray(arr).dtype == np.float32:
            return np.dtype(np.float32)
        return np.dtype(np.float64)
    try:
        dt = np.dtype(dtype)
    except TypeError as exc:
        raise TypeError(f"dtype must be float32 or float64, got {_short(dtype)}.") from exc
    if dt not in (np.dtype(np.float32), np.dtype(np.float64)):
        raise ValueError(f"dtype == {dt}, must be float32 or float64.")
    return dt


def check_labels(name: str, y, n: int | None = None) -> np.ndarray:
    """Labels exactly in {-1, +1}, returned as float64 (callers cast to their dtype)."""
    reject(name, y, "an array of labels")
    arr = np.asarray(y)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be a 1-D array of labels, got shape {arr.shape}.")
    if n is not None and arr.shape[0] != n:
        raise ValueError(f"{name} has {arr.shape[0]} entries but X has {n} rows; they must match.")
    if not (np.issubdtype(arr.dtype, np.number) or arr.dtype == np.bool_) or arr.dtype == np.bool_:
        raise TypeError(f"{name} must hold the numbers -1 and +1, got dtype {arr.dtype}.")
    values = np.unique(arr)
    if not np.all(np.isin(values, (-1, 1))):
        shown = values[:6].tolist()
        raise ValueError(
            f"{name} must contain only -1 and +1, got values {shown}"
            f"{' ...' if values.size > 6 else ''}. To convert 0/1 labels use y = 2 * y01 - 1."
        )
    return arr.astype(np.float64)


def check_probabilities(name: str, p, n: int | None = None) -> np.ndarray:
    """Soft labels in [0, 1] (float64)."""
    reject(name, p, "an array of soft labels (e.g. soft_labels(teacher_logits(...)))")
    arr = np.asarray(p)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be a 1-D array of soft labels, got shape {arr.shape}.")
    if n is not None and arr.shape[0] != n:
        raise ValueError(f"{name} has {arr.shape[0]} entries but X has {n} rows; they must match.")
    if not np.issubdtype(arr.dtype, np.number) or np.issubdtype(arr.dtype, np.complexfloating):
        raise TypeError(f"{name} must be real numbers in [0, 1], got dtype {arr.dtype}.")
    arr = arr.astype(np.float64)
    bad = ~((arr >= 0) & (arr <= 1))
    if np.any(bad):
        first = arr[bad][0]
        raise ValueError(
            f"{name} must lie in [0, 1] (soft labels p_i = mu(z_i)), got {int(bad.sum())} value(s) "
            f"outside, e.g. {float(first)!r}. Pass logits through ntkdistill.soft_labels first."
        )
    return arr


def _check_rng_type(rng):
    """Raise unless ``rng`` is of a kind SPEC 7 accepts (None, int >= 0, ints, SeedSequence, Generator)."""
    if isinstance(rng, (bool, np.bool_)) or (
        rng is not None
        and not isinstance(rng, (numbers.Integral, np.random.Generator, np.random.SeedSequence, np.random.BitGenerator))
        and not (isinstance(rng, (list, tuple)) and all(isinstance(r, numbers.Integral) for r in rng))
    ):
        raise TypeError(f"rng must be None, an int seed, a SeedSequence or a numpy Generator, got {_short(rng)}.")
    ints = [rng] if isinstance(rng, numbers.Integral) else rng if isinstance(rng, (list, tuple)) else []
    if any(int(r) < 0 for r in ints):
        raise ValueError(f"rng == {_short(rng)}, an int seed must be >= 0.")


def check_rng(rng):
    """Normalise ``rng`` with :func:`numpy.random.default_rng` (SPEC 7)."""
    _check_rng_type(rng)
    return np.random.default_rng(rng)


def root_seed(rng) -> np.random.SeedSequence:
    r"""The one seed rule (SPEC 7): any ``rng`` the API accepts as a root :class:`~numpy.random.SeedSequence`.

    A SeedSequence is returned as it is; None, an int or a sequence of ints ``s`` gives
    ``SeedSequence(s)`` (None: fresh entropy from the OS); a Generator (or a bare BitGenerator) is
    advanced by four 63-bit draws, which become the entropy:
    ``SeedSequence(rng.integers(0, 2**63, size=4).tolist())``. Children are spawned from the root,
    never made from adjacent integers.

    Examples
    --------
    >>> import numpy as np
    >>> root_seed(5).entropy, root_seed(np.random.SeedSequence(5)).entropy
    (5, 5)
    >>> a = root_seed(np.random.default_rng(0)).generate_state(2)
    >>> bool(np.array_equal(a, root_seed(np.random.default_rng(0)).generate_state(2)))
    True
    """
    if isinstance(rng, np.random.SeedSequence):
        return rng
    _check_rng_type(rng)
    if isinstance(rng, np.random.BitGenerator):
        rng = np.random.Generator(rng)
    if isinstance(rng, np.random.Generator):
        return np.random.SeedSequence(rng.integers(0, 2**63, size=4).tolist())
    return np.random.SeedSequence(rng)


def check_norms(name: str, X: np.ndarray, *, c: float | None = None, atol: float = 1e-9) -> np.ndarray:
    """Check the data assumption ``c <= ||x_i|| <= 1`` of the paper (up to ``atol``)."""
    norms = np.linalg.norm(np.asarray(X, dtype=np.float64), axis=1)
    over = norms > 1 + atol
    if np.any(over):
        raise ValueError(
            f"{name} violates the assumption ||x_i|| <= 1 of the paper: {int(over.sum())} row(s) have "
            f"norm above 1 (largest {norms.max():.6g}). Rescale with "
            "ntkdistill.datasets.scale_to_unit_ball(X)."
        )
    if c is not None:
        under = norms < c - atol
        if np.any(under):
            raise ValueError(
                f"{name} violates the assumption ||x_i|| >= c = {c:g}: {int(under.sum())} row(s) have "
                f"smaller norm (smallest {norms.min():.6g}). Pass a smaller c or rescale the data."
            )
    return norms


# ------------------------------------------------------------------------------ element-wise checks


def check_real_array(name: str, value) -> np.ndarray:
    """``value`` as a real array of any shape (ints and bools kept), or a TypeError naming ``name``."""
    arr = np.asarray(value) if not isinstance(value, np.ndarray) else value
    if (
        arr.dtype == object
        or not (np.issubdtype(arr.dtype, np.number) or arr.dtype == np.bool_)
        or np.issubdtype(arr.dtype, np.complexfloating)
    ):
        raise TypeError(f"{name} must be real numbers, got {_short(value)} (dtype {arr.dtype}).")
    return arr


def check_sign_labels(name: str, y) -> np.ndarray:
    """Labels of any shape with every entry -1 or +1 (bools refused), or an error naming ``name``."""
    arr = check_real_array(name, y)
    if arr.dtype == np.bool_:
        raise TypeError(f"{name} must hold the numbers -1 and +1, got a boolean array.")
    bad = ~((arr == 1) | (arr == -1))
    if np.any(bad):
        shown = np.unique(arr[bad])[:6].tolist()
        raise ValueError(
            f"{name} must contain only -1 and +1, got also {shown}. To convert 0/1 labels use y = 2 * y01 - 1."
        )
    return arr


def check_soft_labels(name: str, p) -> np.ndarray:
    """Soft labels of any shape with every entry in [0, 1] (NaN refused), or an error naming ``name``."""
    arr = check_real_array(name, p)
    bad = ~((arr >= 0) & (arr <= 1))
    if np.any(bad):
        raise ValueError(
            f"{name} must lie in [0, 1] (soft labels p_i = mu(z_i)), got {int(np.count_nonzero(bad))} value(s) "
            f"outside, e.g. {float(np.asarray(arr)[bad].ravel()[0])!r}. Pass logits through ntkdistill.soft_labels first."
        )
    return arr


def check_broadcast(first: str, a, second: str, b) -> tuple:
    """The broadcast shape of ``a`` and ``b``, or a ValueError naming both arguments and their shapes."""
    try:
        return np.broadcast_shapes(np.shape(a), np.shape(b))
    except ValueError:
        raise ValueError(
            f"{first} has shape {np.shape(a)} and {second} has shape {np.shape(b)}; they must have the same "
            "shape (or broadcast against each other)."
        ) from None


def check_axis(name: str, axis, ndim: int):
    """An axis (or None) valid for an array of ``ndim`` dimensions, or an error naming ``name``."""
    if axis is None:
        return None
    if isinstance(axis, (bool, np.bool_)) or not isinstance(axis, numbers.Integral):
        raise TypeError(f"{name} must be an int or None, got {_short(axis)}.")
    axis = int(axis)
    if not -max(ndim, 1) <= axis < max(ndim, 1):
        raise ValueError(f"{name} == {axis}, out of range for an array of {ndim} dimension(s).")
    return axis
