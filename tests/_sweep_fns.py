"""Sweep functions for tests/test_sweep.py.

They live in a module of their own so that process pools and dask workers can import them by
name: the tests put this folder on ``sys.path`` (pytest does so for the test process; spawned
workers inherit the parent's ``sys.path``; subprocesses get it through ``PYTHONPATH``).
"""

from __future__ import annotations

import os
import time
import uuid

import numpy as np


def work(config, seed):
    """Some seeded numpy work: a symmetric matrix's largest eigenvalue and two draws."""
    rng = np.random.default_rng(seed)
    n = int(config["n"])
    A = rng.standard_normal((n, n))
    return {
        "i": config["i"],
        "top_eig": float(np.linalg.eigvalsh(A + A.T)[-1]),
        "draws": rng.random(2),  # a numpy array: stored as a list
        "scale": np.float64(config.get("scale", 1.0)) * rng.standard_normal(),
    }


def slow_work(config, seed):
    """:func:`work` after a pause, so that a sweep can be killed part-way."""
    time.sleep(float(config.get("sleep", 0.2)))
    return work(config, seed)


def counted_work(config, seed):
    """:func:`work` that also leaves one new file in ``config['marker_dir']`` per call."""
    marker_dir = config["marker_dir"]
    with open(os.path.join(marker_dir, f"{config['i']}-{uuid.uuid4().hex}"), "w"):
        pass
    return work(config, seed)


def fail_on_three(config, seed):
    """:func:`work`, except that configuration ``i == 3`` raises."""
    if config["i"] == 3:
        raise RuntimeError("configuration 3 fails on purpose")
    return work(config, seed)


def blas_threads(config, seed):
    """The largest thread count of the BLAS libraries loaded in the process that runs this."""
    from threadpoolctl import threadpool_info

    counts = [lib["num_threads"] for lib in threadpool_info() if lib.get("user_api") == "blas"]
    return {"i": config["i"], "blas_threads": max(counts) if counts else None}


def counted_slow_work(config, seed):
    """:func:`counted_work` after a pause, so that two sweeps on one file overlap in time."""
    time.sleep(float(config.get("sleep", 0.05)))
    return counted_work(config, seed)


def numbers_and_threads(config, seed):
    """Seeded LAPACK and BLAS work (whose last bits may depend on the thread count), with the
    BLAS thread count of the process that ran it."""
    out = work(config, seed)
    rng = np.random.default_rng(seed)
    A = rng.standard_normal((120, 120))
    out["solve"] = np.linalg.solve(A @ A.T + np.eye(120), rng.standard_normal(120))
    out["blas_threads"] = blas_threads(config, seed)["blas_threads"]
    return out
