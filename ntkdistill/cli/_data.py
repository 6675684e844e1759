"""Data-set selection shared by the ``verify`` and ``sweep`` sub-commands."""

from __future__ import annotations

import os
import zipfile

import numpy as np

from . import CLIError


def load_npz(path):
    """Read ``X`` and ``y`` from a ``.npz`` file without pickle; labels 0/1 are not converted.

    Raises :class:`CLIError` with what was expected where.
    """
    if not os.path.isfile(path):
        raise CLIError(f"--data {path!r}: no such file; expected a .npz file with arrays X (n, d) and y (n,).")
    if not zipfile.is_zipfile(path):
        raise CLIError(f"--data {path!r} is not a .npz file (not a zip archive); save X and y with numpy.savez.")
    try:
        with np.load(path, allow_pickle=False) as f:
            keys = set(f.files)
            if not {"X", "y"} <= keys:
                raise CLIError(f"--data {path!r} holds arrays {sorted(keys)}; it must hold X (n, d) and y (n,).")
            X = np.asarray(f["X"])
            y = np.asarray(f["y"])
    except CLIError:
        raise
    except ValueError as exc:
        if "pickle" in str(exc).lower():
            raise CLIError(
                f"--data {path!r} holds object arrays, which need pickle and are refused; "
                "save X and y as numeric arrays."
            ) from exc
        raise CLIError(f"--data {path!r} is not a readable .npz file: {exc}") from exc
    except (OSError, zipfile.BadZipFile, EOFError) as exc:
        raise CLIError(f"--data {path!r} is not a readable .npz file: {exc}") from exc
    if X.ndim != 2:
        raise CLIError(f"--data {path!r}: X must be 2-D (n, d), got shape {X.shape}.")
    if y.shape != (X.shape[0],):
        raise CLIError(f"--data {path!r}: y must have shape ({X.shape[0]},) to match X, got {y.shape}.")
    return X, y


def builtin(name, level, n, seed):
    """A built-in synthetic data set: (X, y, known gamma or None, description)."""
    from ..datasets.families import FAMILIES, make_family

    if name not in FAMILIES:
        raise CLIError(
            f"--dataset {name!r} is not a built-in family; choose one of {sorted(FAMILIES)} "
            "or pass your own data with --data FILE.npz."
        )
    ds = make_family(name, level, n=n, rng=np.random.default_rng(seed))
    return ds.X, ds.y, getattr(ds, "gamma", None), f"{name}(level={level}, n={n})"
