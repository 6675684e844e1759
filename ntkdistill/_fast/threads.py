"""Threads: the BLAS thread count, an ordered parallel map and per-thread scratch buffers (private).

Work runs on as many Python threads as the BLAS has (NumPy and the BLAS release the GIL), with
the BLAS held at one thread meanwhile (threadpoolctl; without it, one thread). Results are
combined in a fixed order, so a run is reproducible bit for bit for a given thread count.
"""

from __future__ import annotations

import contextlib
import functools
import os
import threading
from typing import TYPE_CHECKING

import numpy as np

from .options import current

if TYPE_CHECKING:
    from concurrent.futures import ThreadPoolExecutor

__all__ = ["blas_controller", "blas_threads", "ordered_map", "scratch"]


@functools.cache
def blas_controller():
    """A threadpoolctl controller for the BLAS libraries, or None when threadpoolctl is absent.

    Made once (finding the libraries takes milliseconds) and reused.
    """
    try:
        from threadpoolctl import ThreadpoolController
    except ImportError:  # pragma: no cover - depends on the environment
        return None
    return ThreadpoolController().select(user_api="blas")


def blas_threads(controller=None):
    """The number of threads the BLAS is configured to use (1 if unknown)."""
    ctl = blas_controller() if controller is None else controller
    if ctl is None:
        return 1
    counts = [lib.num_threads for lib in ctl.lib_controllers]
    return max(counts) if counts else 1


class _Scratch(threading.local):
    """Per-thread buffers, kept between calls while their shape and dtype stay the same."""

    def get(self, name, shape, dtype):
        key = (tuple(shape), np.dtype(dtype))
        buffers = self.__dict__.setdefault("buffers", {})
        if name not in buffers or buffers[name][0] != key:
            buffers[name] = (key, np.empty(shape, dtype))
        return buffers[name][1]


scratch = _Scratch()

_POOLS: dict[int, ThreadPoolExecutor] = {}
_POOLS_LOCK = threading.Lock()
# a forked child inherits the pools but not their threads: it makes its own
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_POOLS.clear)
# set on the pool's threads: a task that itself calls ordered_map runs it serially (no deadlock)
_IN_WORKER = threading.local()


def _mark_worker():
    _IN_WORKER.active = True


def _pool(workers):
    """A thread pool of ``workers`` threads, made once and kept (starting threads takes time)."""
    from concurrent.futures import ThreadPoolExecutor

    with _POOLS_LOCK:
        if workers not in _POOLS:
            _POOLS[workers] = ThreadPoolExecutor(
                max_workers=workers, thread_name_prefix="ntkdistill-mc", initializer=_mark_worker
            )
        return _POOLS[workers]


def ordered_map(fn, items, *, parallel=True):
    """Yield ``fn(item)`` for every item, in order; computed on worker threads when worth it.

    The items are drawn from ``items`` on the calling thread, in order. With more than one
    worker (the BLAS thread count, or the ``workers`` of the options in force), ``fn`` runs on a
    pool of that many threads with the BLAS held at one thread meanwhile (restored afterwards),
    at most twice as many items ahead of the one being yielded. ``fn`` must be safe to call from
    several threads at once. Pass ``parallel=False`` for work too small to gain from threads
    (explicit ``workers`` override it). Called from one of the pool's own threads, it runs
    serially.
    """
    workers = current().workers
    ctl = None
    if getattr(_IN_WORKER, "active", False):
        workers = 1
    elif workers is None:
        workers = 1
        if parallel:
            ctl = blas_controller()
            workers = blas_threads(ctl) if ctl is not None else 1
    if workers <= 1:
        for item in items:
            yield fn(item)
        return

    if ctl is None:
        ctl = blas_controller()
    limit = ctl.limit(limits=1) if ctl is not None else contextlib.nullcontext()
    pool = _pool(workers)
    with limit:
        pending = []
        try:
            for item in items:
                pending.append(pool.submit(fn, item))
                if len(pending) > 2 * workers:  # bounded memory: hand back the oldest, in order
                    yield pending.pop(0).result()
            while pending:
                yield pending.pop(0).result()
        finally:
            for fut in pending:
                fut.cancel()
