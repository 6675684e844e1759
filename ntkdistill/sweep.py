r"""Sweeps that survive and scale: run a function over many configurations, resumably.

The experiments that check Theorem 2, Corollary 4 and Proposition 5, and the search for the
measured neuron requirement, are sweeps: one function evaluated on a list of configurations.
:func:`run_sweep` runs such a sweep so that

- every finished configuration is appended at once to a JSON-lines results file (one record per
  line, flushed and fsynced), keyed by :func:`config_key`, a hash of the configuration;
- re-running the same call resumes: configurations already in the file are not run again, and
  killing the process at any moment loses at most the configurations in flight;
- the random stream of every configuration is spawned in the parent from one root
  :class:`numpy.random.SeedSequence` (SPEC 7), so the results do not depend on where they ran:
  serially, in a :class:`concurrent.futures.ProcessPoolExecutor`, or on a dask.distributed
  cluster through ``Client.get_executor()``;
- every configuration runs on one BLAS thread (:func:`single_blas_thread`), serially as in a
  process pool or on dask, so parallel configurations do not oversubscribe the cores and the
  results agree bit for bit whatever the executor;
- several sweeps may write one results file at once: appends hold an exclusive file lock, and a
  configuration is claimed (a lock on ``<results_path>.claims/<key>``) before it runs, so two
  sweeps share the configurations they have in common and never remove each other's records.

A record of the results file is one JSON object per line::

    {"key": "<sha256 hex>", "config": {...}, "seed": {"entropy": ..., "spawn_key": [...],
     "pool_size": 4}, "result": {...}, "version": "<ntkdistill version>"}

The line's final newline is its commit mark: an unterminated last line (the process was killed
while writing it) is ignored when reading and cut off, under the lock, before the next append.

This module implements no equation of the paper; it is the machinery the experiments of
:mod:`ntkdistill.verify` run on.
"""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import hashlib
import json
import numbers
import os
import pickle
import threading

try:
    import fcntl
except ImportError:  # pragma: no cover - not POSIX
    fcntl = None  # type: ignore[assignment]  # None marks the module absent (not POSIX)
from collections.abc import Callable, Mapping, Sequence
from typing import IO, TYPE_CHECKING, Any

import numpy as np

from . import _progress, _results
from ._validation import _short, check_rng, root_seed

if TYPE_CHECKING:
    from ._typing import SeedLike

__all__ = ["config_key", "run_sweep", "read_results", "record_seed", "single_blas_thread"]

_RECORD_FIELDS = ("key", "config", "seed", "result")


# --------------------------------------------------------------------------------------------
# canonical JSON
# --------------------------------------------------------------------------------------------


def _to_json(value, where: str):
    """``value`` as plain JSON types (dict with str keys, list, str, int, float, bool, None).

    numpy scalars become Python scalars, numpy arrays and tuples become (nested) lists. Anything
    else raises a TypeError naming ``where``, the path of the offending entry.
    """
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, str):
        return str(value)  # also numpy.str_
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(value)
    if isinstance(value, Mapping):
        out = {}
        for k, v in value.items():
            if not isinstance(k, str):
                raise TypeError(
                    f"{where} has the key {k!r} of type {type(k).__name__}; keys must be str "
                    "(JSON object keys are strings)."
                )
            out[str(k)] = _to_json(v, f"{where}[{k!r}]")
        return out
    if isinstance(value, np.ndarray):
        if not (
            np.issubdtype(value.dtype, np.number) or value.dtype == np.bool_ or value.dtype == object
        ) or np.issubdtype(value.dtype, np.complexfloating):
            raise TypeError(
                f"{where} is an array of dtype {value.dtype}, which cannot be stored as JSON; "
                "allowed: real, integer or boolean arrays."
            )
        return _to_json(value.tolist(), where)
    if isinstance(value, (list, tuple)):
        return [_to_json(v, f"{where}[{i}]") for i, v in enumerate(value)]
    raise TypeError(
        f"{where} has type {type(value).__name__}, which cannot be stored as JSON; allowed: dict "
        "(str keys), list, tuple, str, int, float, bool, None, numpy scalars and real numpy arrays."
    )


def _dumps(obj, *, canonical: bool) -> str:
    if canonical:
        return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=True)
    return json.dumps(obj, ensure_ascii=True, allow_nan=True)


def _canonical_config(config, where: str):
    if not isinstance(config, Mapping):
        raise TypeError(f"{where} must be a dict (one configuration), got {_short(config)}.")
    return _to_json(config, where)


def config_key(config: Mapping[str, Any]) -> str:
    r"""A stable hash of one configuration: the key of its record in a results file.

    .. math::

        \operatorname{key}(c) = \operatorname{SHA256}\bigl(\operatorname{JSON}(c)\bigr)

    where :math:`\operatorname{JSON}(c)` is the canonical JSON text of ``c``: keys sorted, no
    spaces (separators ``","`` and ``":"``), ASCII only, numpy scalars converted to Python
    scalars and numpy arrays and tuples to lists. The key therefore does not depend on the order
    of the keys, on the process or on the Python session. It does depend on types that JSON
    tells apart: ``8`` and ``8.0`` give different keys. Infinity and NaN are written as
    ``Infinity`` and ``NaN`` (Python's JSON extension), so ``B = inf`` can be part of a
    configuration.

    No equation of the paper: the key identifies a configuration of the experiments that check
    Theorem 2 and measure the neuron requirement (:mod:`ntkdistill.verify`).

    Parameters
    ----------
    config : dict
        String keys; values are dicts, lists, tuples, str, int, float, bool, None, numpy scalars
        or real numpy arrays (store a data set by name or by hash, not its contents).

    Returns
    -------
    str
        64 lowercase hexadecimal digits.

    Raises
    ------
    TypeError
        ``config`` is not a dict, or holds a value that has no JSON form.

    Examples
    --------
    >>> import numpy as np
    >>> config_key({"m": 8, "eta": 0.5}) == config_key({"eta": 0.5, "m": np.int64(8)})
    True
    >>> import hashlib
    >>> config_key({"m": 8, "B": float("inf")}) == hashlib.sha256(b'{"B":Infinity,"m":8}').hexdigest()
    True
    """
    canon = _canonical_config(config, "config")
    return hashlib.sha256(_dumps(canon, canonical=True).encode("ascii")).hexdigest()


# --------------------------------------------------------------------------------------------
# seeds
# --------------------------------------------------------------------------------------------


def _child(root: np.random.SeedSequence, index: int) -> np.random.SeedSequence:
    """The ``index``-th child of ``root``: ``root.spawn(n)[index]`` for a root that spawned nothing."""
    return np.random.SeedSequence(root.entropy, spawn_key=tuple(root.spawn_key) + (index,), pool_size=root.pool_size)


def _seed_record(seed: np.random.SeedSequence) -> dict:
    entropy = seed.entropy
    # numpy types SeedSequence.entropy as possibly None; the constructor always sets it
    entropy = [int(e) for e in entropy] if isinstance(entropy, (list, tuple, np.ndarray)) else int(entropy)  # type: ignore[arg-type]
    return {"entropy": entropy, "spawn_key": [int(k) for k in seed.spawn_key], "pool_size": int(seed.pool_size)}


def _root_of(seed_dict: dict):
    """A comparable identity of the root a stored seed was spawned from."""
    entropy = seed_dict.get("entropy")
    entropy = tuple(entropy) if isinstance(entropy, list) else entropy
    return (entropy, tuple(seed_dict.get("spawn_key", ()))[:-1], seed_dict.get("pool_size"))


def record_seed(record: Mapping[str, Any]) -> np.random.SeedSequence:
    r"""The :class:`numpy.random.SeedSequence` a record of a results file was computed with.

    .. math::

        s = \operatorname{SeedSequence}(\text{entropy},\ \text{spawn\_key},\ \text{pool\_size})

    read from ``record["seed"]``, so that ``fn(record["config"], record_seed(record))`` recomputes
    one configuration of a sweep alone, without the others.

    Parameters
    ----------
    record : dict
        A record as returned by :func:`read_results`.

    Returns
    -------
    numpy.random.SeedSequence

    Raises
    ------
    ValueError
        ``record`` has no usable ``"seed"`` entry.

    Examples
    --------
    >>> import numpy as np
    >>> s = record_seed({"seed": {"entropy": 7, "spawn_key": [2], "pool_size": 4}})
    >>> s.generate_state(2).tolist() == np.random.SeedSequence(7).spawn(3)[2].generate_state(2).tolist()
    True
    """
    seed = record.get("seed") if isinstance(record, Mapping) else None
    if not isinstance(seed, Mapping) or "entropy" not in seed or "spawn_key" not in seed:
        raise ValueError(
            f"record must be a sweep record with a 'seed' entry holding 'entropy' and 'spawn_key', "
            f"got {_short(record)}."
        )
    return np.random.SeedSequence(
        seed["entropy"], spawn_key=tuple(seed["spawn_key"]), pool_size=seed.get("pool_size", 4)
    )


# --------------------------------------------------------------------------------------------
# one BLAS thread per worker
# --------------------------------------------------------------------------------------------


def single_blas_thread() -> contextlib.AbstractContextManager[Any]:
    r"""Limit BLAS and OpenMP thread pools to one thread (threadpoolctl), if threadpoolctl is installed.

    .. math::

        \text{threads per worker} = 1, \qquad \text{total threads} = \text{number of workers}

    so that parallel configurations do not oversubscribe the cores. Returns
    ``threadpoolctl.threadpool_limits(limits=1)``, whose limits apply as soon as it is created and
    are restored when it is used as a context manager and the block ends; without threadpoolctl
    it returns a context manager that does nothing. Hence it serves both ways:

    - as a context manager, ``with single_blas_thread(): ...`` (what :func:`run_sweep` does
      around every call of ``fn`` in a worker);
    - as a worker initializer, ``ProcessPoolExecutor(initializer=single_blas_thread)``: the limit
      then holds for the worker's lifetime.

    Libraries loaded after the call (imported later in the worker) are not limited; torch's own
    intra-op pool is set with ``torch.set_num_threads``.

    Returns
    -------
    context manager

    Examples
    --------
    >>> import numpy as np
    >>> with single_blas_thread():
    ...     float(np.ones((2, 2)) @ np.ones(2) @ np.ones(2))
    4.0
    """
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return contextlib.nullcontext()
    return threadpool_limits(limits=1)


_BLAS_LOCK = threading.Lock()
_BLAS_USERS = [0, None]  # jobs running in this process, the limiter of the first


@contextlib.contextmanager
def _one_blas_thread():
    """:func:`single_blas_thread` for the jobs of a process, however many run at once in threads.

    The limit is set when the first job starts and restored when the last one ends, so that a job
    running in a thread (a dask worker with several threads) never finds the limits restored by
    another that ended before it.
    """
    with _BLAS_LOCK:
        if _BLAS_USERS[0] == 0:
            _BLAS_USERS[1] = single_blas_thread()
        _BLAS_USERS[0] += 1
    try:
        yield
    finally:
        with _BLAS_LOCK:
            _BLAS_USERS[0] -= 1
            if _BLAS_USERS[0] == 0:
                limiter, _BLAS_USERS[1] = _BLAS_USERS[1], None
                if hasattr(limiter, "restore_original_limits"):
                    limiter.restore_original_limits()


def _run_one(fn, index: int, config: dict, seed: np.random.SeedSequence, limit_blas: bool) -> dict:
    """Run one configuration (in a worker or in-process) and return its result as plain JSON.

    Every job runs on one BLAS thread, serially as in a process pool or on dask, so that the
    results agree bit for bit whatever the executor (``limit_blas=False`` is for callers that set
    the threads themselves).
    """
    with _one_blas_thread() if limit_blas else contextlib.nullcontext():
        result = fn(config, seed)
    if not isinstance(result, Mapping):
        raise TypeError(
            f"fn must return a dict (the result of one configuration), got {_short(result)} for configs[{index}]."
        )
    return _to_json(result, f"the result of configs[{index}]")


# --------------------------------------------------------------------------------------------
# the results file
# --------------------------------------------------------------------------------------------


def _check_path(results_path) -> str:
    if not isinstance(results_path, (str, os.PathLike)):
        raise TypeError(f"results_path must be a str or os.PathLike file path, got {_short(results_path)}.")
    path = os.fspath(results_path)
    if isinstance(path, bytes):
        path = os.fsdecode(path)
    if os.path.isdir(path):
        raise ValueError(
            f"results_path == {path!r} is a directory; it must be a file path (a JSON-lines file, created if absent)."
        )
    return path


def _read(path: str):
    """Records of ``path`` (dict key -> record, file order, first of duplicates) and the byte
    offset just after the last complete line."""
    if not os.path.exists(path):
        return {}, 0
    with open(path, "rb") as f:
        data = f.read()
    end = data.rfind(b"\n") + 1  # everything after the last newline is a torn, uncommitted line
    return _parse(path, data[:end], 0)[0], end


def _parse(path: str, data: bytes, first_line: int):
    """The records of complete lines ``data`` (line numbers counted from ``first_line + 1``)."""
    records: dict[str, dict] = {}
    for lineno, raw in enumerate(data.split(b"\n")[:-1], start=first_line + 1):
        if not raw.strip():
            continue
        try:
            record = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ValueError(
                f"results_path {path!r} line {lineno} is not valid JSON ({exc}); only an unterminated "
                "last line is ignored. Remove the line, or use another results file."
            ) from None
        if not (
            isinstance(record, dict)
            and all(f in record for f in _RECORD_FIELDS)
            and isinstance(record["key"], str)
            and isinstance(record["config"], dict)
            and isinstance(record["seed"], dict)
        ):
            raise ValueError(
                f"results_path {path!r} line {lineno} is not a sweep record: it must be a JSON object "
                f"with the fields {', '.join(_RECORD_FIELDS)}."
            )
        records.setdefault(record["key"], record)
    return records, len(data)


def read_results(results_path: str | os.PathLike[str]) -> dict[str, dict]:
    r"""The records of a JSON-lines results file written by :func:`run_sweep`, by key.

    .. math::

        \{\operatorname{key}(c) \mapsto (c,\ s,\ \text{fn}(c, s))\}

    One record per complete line (see the module docstring for the fields); an unterminated last
    line, left by a process killed while writing it, is ignored. If a key appears on several
    lines (two runs wrote the same file at once), the first is kept.

    Parameters
    ----------
    results_path : str or os.PathLike
        The file; one that does not exist yet has no records.

    Returns
    -------
    dict
        ``{key: record}`` in file order (the order in which configurations finished).

    Raises
    ------
    ValueError
        ``results_path`` is a directory, or one of its complete lines is not a sweep record.

    Examples
    --------
    >>> import os, tempfile
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     path = os.path.join(tmp, "results.jsonl")
    ...     _ = run_sweep(lambda c, s: {"twice": 2 * c["x"]}, [{"x": 1}, {"x": 2}], results_path=path, rng=0)
    ...     [r["result"]["twice"] for r in read_results(path).values()]
    [2, 4]
    """
    path = _check_path(results_path)
    return _read(path)[0]


class _Writer:
    """Appends records to the results file, one fsynced line each, under an exclusive lock.

    Every append holds ``fcntl.flock(LOCK_EX)`` on the file (where fcntl exists: POSIX), so the
    lines of several processes writing one file never interleave. Under the lock, before the
    append, an unterminated last line is cut off: it can only be the torn tail of a writer that
    died while writing it (a live writer finishes its line before it releases the lock), and only
    the bytes after the last newline are cut, never a finished record.
    """

    def __init__(self, path: str):
        self._path = path
        self._f: IO[bytes] | None = None  # opened at the first record: a sweep that fails at once leaves no file

    def write(self, record: dict) -> None:
        if self._f is None:
            os.makedirs(os.path.dirname(os.path.abspath(self._path)), exist_ok=True)
            self._f = open(self._path, "a+b")  # read too: the torn-tail check reads the last byte
        line = (_dumps(record, canonical=False) + "\n").encode("ascii")
        fd = self._f.fileno()
        with _locked(fd):
            size = os.fstat(fd).st_size
            if size:
                _cut_torn_tail(fd, size)
            os.write(fd, line)  # O_APPEND: at the end of the file as it is now
            os.fsync(fd)

    def close(self) -> None:
        if self._f is not None:
            self._f.close()


@contextlib.contextmanager
def _locked(fd: int):
    """An exclusive ``flock`` on ``fd`` for the block (nothing where fcntl is missing)."""
    if fcntl is None:  # pragma: no cover - not POSIX
        yield
        return
    fcntl.flock(fd, fcntl.LOCK_EX)
    try:
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)


def _cut_torn_tail(fd: int, size: int) -> None:
    """Truncate ``fd`` after its last newline if its last byte is not one (call under the lock)."""
    if os.pread(fd, 1, size - 1) == b"\n":
        return
    pos = size
    while pos > 0:
        start = max(0, pos - 65536)
        chunk = os.pread(fd, pos - start, start)
        nl = chunk.rfind(b"\n")
        if nl >= 0:
            os.ftruncate(fd, start + nl + 1)
            return
        pos = start
    os.ftruncate(fd, 0)  # one torn line and nothing else


class _Claims:
    """Claims on the configurations of a results file, so that concurrent sweeps share the work.

    A claim is an exclusive ``flock`` on the file ``<results_path>.claims/<key>``, taken before a
    configuration is run and released when its record is written (the file is then removed). The
    operating system releases the lock of a process that dies, so a claim never outlives its
    owner. Where fcntl is missing every claim succeeds (one sweep per file).
    """

    def __init__(self, path: str):
        self._dir = path + ".claims"
        self._held: dict[str, int] = {}

    def acquire(self, key: str, *, blocking: bool) -> bool:
        if fcntl is None:  # pragma: no cover - not POSIX
            return True
        for attempt in range(100):
            os.makedirs(self._dir, exist_ok=True)
            try:
                fd = os.open(os.path.join(self._dir, key), os.O_CREAT | os.O_RDWR, 0o644)
                break
            except FileNotFoundError:  # another sweep removed the empty folder just now
                if attempt == 99:
                    raise
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | (0 if blocking else fcntl.LOCK_NB))
        except BlockingIOError:
            os.close(fd)
            return False
        except BaseException:
            os.close(fd)
            raise
        self._held[key] = fd
        return True

    def release(self, key: str, *, done: bool) -> None:
        fd = self._held.pop(key, None)
        if fd is None:
            return
        if done:  # the record is in the results file: whoever opens the claim next finds it there
            with contextlib.suppress(OSError):
                os.unlink(os.path.join(self._dir, key))
        os.close(fd)

    def close(self) -> None:
        for key in list(self._held):
            self.release(key, done=False)
        with contextlib.suppress(OSError):
            os.rmdir(self._dir)  # only when empty: no other sweep holds a claim


class _Tail:
    """The records of the results file, re-read incrementally (only the new complete lines)."""

    def __init__(self, path: str):
        self._path = path
        self.records: dict[str, dict] = {}
        self._end = 0
        self._lines = 0
        self.refresh()

    def refresh(self) -> None:
        if not os.path.exists(self._path):
            return
        with open(self._path, "rb") as f:
            f.seek(self._end)
            data = f.read()
        end = data.rfind(b"\n") + 1  # a torn or unfinished last line is read once it is complete
        if end:
            new, _ = _parse(self._path, data[:end], self._lines)
            for k, r in new.items():
                self.records.setdefault(k, r)
            self._end += end
            self._lines += data[:end].count(b"\n")


# --------------------------------------------------------------------------------------------
# the sweep
# --------------------------------------------------------------------------------------------


def _progress_bar(progress, total: int, initial: int, desc: str):
    return _progress.progress_bar(progress, total=total, initial=initial, desc=desc, terminal=True)


def _note(exc: BaseException, text: str) -> None:
    if hasattr(exc, "add_note"):
        exc.add_note(text)


def _checked_arguments(fn, configs, results_path, executor, rng, progress, desc):
    """Check run_sweep's arguments before any work; return ``(canon, keys, first_at, path)``."""
    if not callable(fn):
        raise TypeError(f"fn must be callable as fn(config, seed_sequence) -> dict, got {_short(fn)}.")
    if isinstance(configs, (Mapping, str, bytes)) or not hasattr(configs, "__iter__"):
        hint = " (wrap a single configuration as [config])" if isinstance(configs, Mapping) else ""
        raise TypeError(f"configs must be a sequence of dicts{hint}, got {_short(configs)}.")
    configs = list(configs)
    canon = [_canonical_config(c, f"configs[{i}]") for i, c in enumerate(configs)]
    keys = [hashlib.sha256(_dumps(c, canonical=True).encode("ascii")).hexdigest() for c in canon]
    first_at: dict[str, int] = {}
    for i, k in enumerate(keys):
        if k in first_at:
            raise ValueError(
                f"configs[{first_at[k]}] and configs[{i}] are the same configuration (key {k[:12]}...); "
                "each configuration must appear once (add a seed index to repeat a setting)."
            )
        first_at[k] = i
    path = _check_path(results_path)
    if executor is not None and not callable(getattr(executor, "submit", None)):
        raise TypeError(
            f"executor must be None or a concurrent.futures.Executor (with a submit method), got {_short(executor)}."
        )
    if isinstance(executor, cf.ProcessPoolExecutor):
        try:
            pickle.dumps(fn)
        except Exception as exc:
            raise TypeError(
                f"fn must be picklable to run in a ProcessPoolExecutor (a top-level function of an "
                f"importable module), got {_short(fn)}: {exc}"
            ) from None
    if progress is not None and not isinstance(progress, (bool, np.bool_)):
        raise TypeError(f"progress must be None, True or False, got {_short(progress)}.")
    if not isinstance(desc, str):
        raise TypeError(f"desc must be a str, got {_short(desc)}.")
    if not isinstance(rng, np.random.SeedSequence):
        check_rng(rng)
    return canon, keys, first_at, path


def _sweep_root(rng, keys, done: dict) -> np.random.SeedSequence:
    """The root seed: the one stored with the file's records when ``rng`` is None, else ``rng``'s."""
    stored_roots = [_root_of(done[k]["seed"]) for k in keys if k in done]
    if rng is None and stored_roots:
        entropy, spawn_key, pool_size = stored_roots[0]
        entropy = list(entropy) if isinstance(entropy, tuple) else entropy
        return np.random.SeedSequence(entropy, spawn_key=spawn_key, pool_size=pool_size)
    return root_seed(rng)


def _check_root(path: str, root: np.random.SeedSequence, index: int, record: dict) -> None:
    """Raise ValueError if ``record`` (of ``configs[index]``) was computed from another root than ``root``."""
    if _root_of(record["seed"]) != _root_of(_seed_record(_child(root, 0))):
        raise ValueError(
            f"results_path {path!r} holds configs[{index}] computed from another root seed "
            f"(entropy {record['seed'].get('entropy')!r}) than rng gives (entropy "
            f"{_seed_record(root)['entropy']!r}); resume with the same rng (or rng=None), or "
            "write to a new results file."
        )


class _SweepRun:
    """The pending configurations of one sweep: claimed, run, and written one record each."""

    def __init__(self, fn, path: str, *, keys, canon, first_at, root, results, tail, bar):
        from . import __version__

        self._fn, self._path, self._keys, self._canon = fn, path, keys, canon
        self._first_at, self._root, self._results, self._tail, self._bar = first_at, root, results, tail, bar
        self._version = __version__
        self._writer = _Writer(path)
        self._claims = _Claims(path)

    def _finish(self, i: int, result: dict) -> None:
        """Write the record of ``configs[i]``, release its claim and store its result."""
        seed = _child(self._root, i)
        self._writer.write(
            {
                "key": self._keys[i],
                "config": self._canon[i],
                "seed": _seed_record(seed),
                "result": result,
                "version": self._version,
            }
        )
        self._claims.release(self._keys[i], done=True)
        self._results[i] = result
        if self._bar is not None:
            self._bar.update(1)

    def _claim(self, indices, blocking: bool):
        """Claim ``indices``, reading those another sweep finished; return (claimed, held elsewhere)."""
        claimed, held = [], []
        for i in indices:
            if not self._claims.acquire(self._keys[i], blocking=blocking):
                held.append(i)
                continue
            self._tail.refresh()
            record = self._tail.records.get(self._keys[i])
            if record is None:
                claimed.append(i)
                continue
            self._claims.release(self._keys[i], done=True)  # finished by another sweep meanwhile
            _check_root(self._path, self._root, self._first_at[self._keys[i]], record)
            self._results[i] = record["result"]
            if self._bar is not None:
                self._bar.update(1)
        return claimed, held

    def _run_serially(self, indices) -> None:
        """Run the claimed ``indices`` one after the other in this process."""
        for i in indices:
            try:
                result = _run_one(self._fn, i, self._canon[i], _child(self._root, i), True)
            except BaseException as exc:
                _note(exc, f"while running configs[{i}] = {_short(self._canon[i])}")
                raise
            self._finish(i, result)

    def _run_on_executor(self, executor, indices) -> None:
        """Submit the claimed ``indices`` at once; write each as it finishes; re-raise the first error."""
        fn, canon, root = self._fn, self._canon, self._root
        futures = {executor.submit(_run_one, fn, i, canon[i], _child(root, i), True): i for i in indices}
        first_error = None
        try:
            for fut in cf.as_completed(futures):
                i = futures[fut]
                if fut.cancelled():
                    continue
                exc = fut.exception()
                if exc is not None:
                    if first_error is None:
                        first_error = exc
                        _note(exc, f"while running configs[{i}] = {_short(canon[i])}")
                        for other in futures:
                            other.cancel()
                    continue
                self._finish(i, fut.result())
        finally:
            for other in futures:  # on KeyboardInterrupt too: start nothing more
                other.cancel()
        if first_error is not None:
            raise first_error

    def run(self, pending, executor) -> None:
        """Claim and run ``pending``, then those another sweep held; close the files and the bar."""
        try:
            if executor is None:
                # one claim at a time, so that a concurrent sweep on the same file takes the others
                held = []
                for i in pending:
                    claimed, later = self._claim([i], blocking=False)
                    held += later
                    self._run_serially(claimed)
                for i in held:  # running in another sweep: wait for it, then take its record (or run it)
                    self._run_serially(self._claim([i], blocking=True)[0])
            else:
                claimed, held = self._claim(pending, blocking=False)
                self._run_on_executor(executor, claimed)
                if held:
                    self._run_on_executor(executor, self._claim(held, blocking=True)[0])
        finally:
            self._writer.close()
            self._claims.close()
            if self._bar is not None:
                self._bar.close()


def run_sweep(
    fn: Callable[[dict, np.random.SeedSequence], Mapping[str, Any] | None],
    configs: Sequence[Mapping[str, Any]],
    *,
    results_path: str | os.PathLike[str],
    executor: cf.Executor | None = None,
    rng: SeedLike = None,
    progress: bool | None = None,
    desc: str = "sweep",
) -> _results.SweepResults:
    r"""Run ``fn`` on every configuration, appending each result to a results file at once; resumable.

    The :math:`i`-th configuration :math:`c_i` (position in ``configs``, from 0) runs as
    ``fn(c_i, s_i)`` with the seed sequence

    .. math::

        s_i = \operatorname{SeedSequence}(\text{entropy}_0,\ \text{spawn\_key} = k_0 + (i,)),
        \qquad\text{i.e.}\quad s_i = \operatorname{SeedSequence}(\texttt{rng})
        .\mathrm{spawn}(\texttt{len(configs)})[i],

    spawned in the parent from the root :math:`(\text{entropy}_0, k_0)` given by ``rng``
    (SPEC 7). So :math:`s_i` depends on the root seed and on the position :math:`i` only, not on
    the executor, the number of workers or the order in which configurations finish, and the
    results are the same serially, in a process pool or on a dask cluster (for an ``fn`` that is
    deterministic given its arguments: multi-threaded BLAS may change the last bits of large
    reductions, which is why every configuration runs on one BLAS thread). Each record stores its
    seed's entropy and spawn key, so :func:`record_seed` recomputes any record alone.

    Resuming: a configuration whose :func:`config_key` is already in ``results_path`` is not run
    again; its stored result is returned. Re-running the same call after an interruption thus
    finishes the sweep, and ends with the same file contents (up to line order) and the same
    return value as an uninterrupted run. Keep the order of ``configs`` and the root seed when
    resuming: with ``rng=None`` the root stored in the file is reused (fresh entropy only for a
    file holding none of these configurations); an explicit ``rng`` whose root differs from the
    stored one is an error, since the results would mix two roots.

    Parameters
    ----------
    fn : callable
        ``fn(config, seed_sequence) -> dict``: ``config`` is the configuration as plain JSON
        types, ``seed_sequence`` a :class:`numpy.random.SeedSequence` (make a generator with
        ``np.random.default_rng(seed_sequence)``). The result must be a dict of JSON types, numpy
        scalars or real arrays (stored as lists; the returned value is this stored form). With a
        :class:`~concurrent.futures.ProcessPoolExecutor` it must be picklable: a top-level
        function of an importable module (dask pickles with cloudpickle and also takes lambdas).
    configs : sequence of dict
        The configurations, each a dict as accepted by :func:`config_key`; no two may have the
        same key (put a seed index in the configuration to repeat a setting).
    results_path : str or os.PathLike
        The JSON-lines results file; created, with its folder, if absent; appended to otherwise.
        Several sweeps may write one file at once (POSIX file locks): a configuration that
        another sweep is running is not run again; this one waits for its record and returns it.
    executor : concurrent.futures.Executor, optional
        ``None`` runs serially in this process. Otherwise every pending configuration is
        submitted at once (for example to ``ProcessPoolExecutor(max_workers=k)`` or a
        dask.distributed ``Client(...).get_executor()``) and written as soon as it finishes.
        Every call of ``fn``, serial or not, runs under :func:`single_blas_thread`, so the
        results are the same bit for bit on every executor. The executor is not shut down.
    rng : None, int, sequence of int, SeedSequence or numpy Generator
        The root seed. A Generator is advanced (four 63-bit draws make the root entropy).
    progress : bool or None
        A tqdm bar over the configurations, in a notebook or on a terminal, never in a log file:
        ``True`` requires tqdm; ``None`` shows it when tqdm is installed once the sweep has run a
        few seconds; False never (:mod:`ntkdistill._progress`).
    desc : str
        The bar's label.

    Returns
    -------
    SweepResults (a list of dict)
        The result of every configuration, in the order of ``configs``, in its stored JSON form
        (fresh and resumed results are equal). The full records (configuration, seed, version)
        are read with :func:`read_results`.

    Raises
    ------
    TypeError
        ``fn`` is not callable (or not picklable for a process pool), ``configs`` is not a
        sequence of dicts or holds a value with no JSON form, ``executor`` has no ``submit``,
        ``rng``, ``progress`` or ``desc`` has the wrong type, or ``fn`` returns no dict.
    ValueError
        ``results_path`` is a directory or holds a line that is no sweep record, two
        configurations have the same key, or ``rng`` gives another root seed than the one the
        file's records of these configurations were computed with.

    Notes
    -----
    A failure of ``fn`` on one configuration cancels the configurations not yet started, writes
    those still running as they finish, and re-raises the first error (with a note naming the
    configuration); what was written stays for the next run. Killing the process loses at most
    the configurations in flight. Only the parent process writes the file, so workers (on
    other machines, for a dask cluster) need no access to it.

    Examples
    --------
    >>> import os, tempfile
    >>> import numpy as np
    >>> def draw(config, seed):
    ...     return {"x": config["mu"] + np.random.default_rng(seed).standard_normal()}
    >>> configs = [{"mu": 0.0}, {"mu": 10.0}]
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     path = os.path.join(tmp, "results.jsonl")
    ...     first = run_sweep(draw, configs, results_path=path, rng=0)
    ...     again = run_sweep(draw, configs, results_path=path, rng=0)  # nothing is run again
    ...     with open(path) as f:
    ...         n_lines = len(f.readlines())
    >>> first == again, n_lines, first[1]["x"] > 5
    (True, 2, True)
    """
    canon, keys, first_at, path = _checked_arguments(fn, configs, results_path, executor, rng, progress, desc)
    tail = _Tail(path)
    stored = tail.records
    done = {k: stored[k] for k in keys if k in stored}
    pending = [i for i, k in enumerate(keys) if k not in done]
    root = _sweep_root(rng, keys, done)
    for k in keys:
        if k in done:
            _check_root(path, root, first_at[k], done[k])
    results = _results.SweepResults([done[k]["result"] if k in done else None for k in keys], canon)
    if not pending:
        return results
    bar = _progress_bar(progress, len(keys), len(keys) - len(pending), desc)
    sweep = _SweepRun(
        fn, path, keys=keys, canon=canon, first_at=first_at, root=root, results=results, tail=tail, bar=bar
    )
    sweep.run(pending, executor)
    return results
