r"""Guards on memory and time: estimate what a call needs before allocating, refuse what cannot run.

Every guarded function (:func:`ntkdistill.pgd`, :func:`ntkdistill.margin`,
:func:`ntkdistill.teacher_logits`, the synthetic data sets, and through them every command of
the command line tool) calls one function of this module in its argument checks, before any
work. The estimate counts the arrays the call allocates:

.. math::

    \text{memory} \le \text{limit}, \qquad
    \text{limit} = \begin{cases} \texttt{NTKDISTILL\_MAX\_MEMORY} & \text{if set} \\
    \text{available memory} & \text{otherwise} \end{cases}

The available memory is ``MemAvailable`` of ``/proc/meminfo`` (Linux), lowered to the room left
under a cgroup limit (``/sys/fs/cgroup/memory.max``) where there is one; elsewhere
``os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")``; where neither can be read, no
memory limit applies unless ``NTKDISTILL_MAX_MEMORY`` is set.

Time is estimated where a call may run long, as a lower bound (optimistic rates: a refused call
could not have finished in time on any common machine), and refused beyond
``NTKDISTILL_MAX_SECONDS`` (default one day). Both variables take a number with an optional
unit (``8G``, ``512M``, ``1.5T`` bytes; ``90``, ``2h``, ``3d`` seconds) or ``inf`` to switch the
guard off. A refusal is a :class:`ResourceLimitError`, both a :class:`MemoryError` and a
:class:`ValueError`, whose message names the argument, the estimate, the limit and the override.

This module implements no equation of the paper.
"""

from __future__ import annotations

import math
import numbers
import os

__all__ = ["ResourceLimitError", "available_memory", "memory_limit", "time_limit"]

MEMORY_VARIABLE = "NTKDISTILL_MAX_MEMORY"
TIME_VARIABLE = "NTKDISTILL_MAX_SECONDS"
DEFAULT_MAX_SECONDS = 86400.0

#: optimistic rates for the time lower bounds
_FLOPS_PER_SECOND = 1e11  # floating-point operations per second of a PGD step (many cores, AVX)
_SECONDS_PER_STEP = 2e-6  # fixed cost of one PGD step, whatever its size
_SECONDS_PER_DIRECTION_POINT = (
    1e-9  # one Monte Carlo direction against one point, per dimension (measured: 7e-9 to 4e-8)
)


class ResourceLimitError(MemoryError, ValueError):
    """A call refused before it starts: its memory or time estimate exceeds the limit.

    A :class:`MemoryError` (what it prevents) and a :class:`ValueError` (an argument is too
    large), so that either ``except`` clause catches it.
    """


# ------------------------------------------------------------------------------------- limits


def _meminfo_available():
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


def _cgroup_room():
    try:
        with open("/sys/fs/cgroup/memory.max") as fh:
            limit = fh.read().strip()
        if limit == "max":
            return None
        with open("/sys/fs/cgroup/memory.current") as fh:
            current = int(fh.read().strip())
        return max(int(limit) - current, 0)
    except (OSError, ValueError):
        return None


def available_memory() -> tuple[int | None, str]:
    """``(bytes, source)``: the memory a new allocation can use now, and where the figure came from.

    ``bytes`` is None when it cannot be read on this system (then no memory limit applies unless
    ``NTKDISTILL_MAX_MEMORY`` is set).

    Examples
    --------
    >>> free, source = available_memory()
    >>> free is None or free > 0
    True
    """
    free = _meminfo_available()
    source = "MemAvailable in /proc/meminfo"
    if free is None:
        try:
            free = int(os.sysconf("SC_AVPHYS_PAGES")) * int(os.sysconf("SC_PAGE_SIZE"))
            source = "os.sysconf('SC_AVPHYS_PAGES')"
        except (AttributeError, ValueError, OSError):
            return None, "unknown (neither /proc/meminfo nor os.sysconf could be read)"
    room = _cgroup_room()
    if room is not None and room < free:
        free, source = room, "the room left under the cgroup limit /sys/fs/cgroup/memory.max"
    return free, source


_UNITS = {"": 1, "k": 2**10, "m": 2**20, "g": 2**30, "t": 2**40}
_TIME_UNITS = {"": 1, "s": 1, "m": 60, "min": 60, "h": 3600, "d": 86400}


def _parse(variable: str, text: str, units: dict) -> float:
    raw = text.strip().lower()
    if raw in ("inf", "none", "off"):
        return math.inf
    for suffix in sorted(units, key=len, reverse=True):
        for tail in (suffix + "ib", suffix + "b", suffix) if units is _UNITS and suffix else (suffix,):
            if tail and raw.endswith(tail):
                number = raw[: -len(tail)]
                break
        else:
            continue
        try:
            value = float(number) * units[suffix]
        except ValueError:
            break
        if value > 0:
            return value
        break
    else:
        try:
            value = float(raw)
            if value > 0:
                return value
        except ValueError:
            pass
    example = "8G, 512M or inf" if units is _UNITS else "3600, 2h, 3d or inf"
    raise ValueError(
        f"the environment variable {variable} == {text!r}, must be a positive number with an optional unit ({example})."
    )


def memory_limit() -> tuple[float, str]:
    """``(bytes, description)``: the limit a memory estimate is held to (``inf`` for none).

    Examples
    --------
    >>> import os
    >>> os.environ["NTKDISTILL_MAX_MEMORY"] = "2G"
    >>> memory_limit()
    (2147483648.0, 'NTKDISTILL_MAX_MEMORY = 2G')
    >>> del os.environ["NTKDISTILL_MAX_MEMORY"]
    """
    text = os.environ.get(MEMORY_VARIABLE)
    if text:
        return _parse(MEMORY_VARIABLE, text, _UNITS), f"{MEMORY_VARIABLE} = {text}"
    free, source = available_memory()
    if free is None:
        return math.inf, f"no limit: available memory {source}"
    return float(free), f"available memory ({source})"


def time_limit() -> tuple[float, str]:
    """``(seconds, description)``: the limit a time estimate is held to (``inf`` for none).

    Examples
    --------
    >>> time_limit()[0] > 0
    True
    """
    text = os.environ.get(TIME_VARIABLE)
    if text:
        return _parse(TIME_VARIABLE, text, _TIME_UNITS), f"{TIME_VARIABLE} = {text}"
    return DEFAULT_MAX_SECONDS, f"the default of one day ({TIME_VARIABLE} unset)"


def _bytes(b: float) -> str:
    from .cost import format_bytes

    return format_bytes(b)


def check_memory(estimate: float, *, what: str, argument: str) -> None:
    """Refuse ``what`` (a call) when it needs more than the memory limit, naming ``argument``."""
    limit, description = memory_limit()
    if estimate > limit:
        raise ResourceLimitError(
            f"{what} needs about {_bytes(estimate)} of memory, more than the limit of {_bytes(limit)} "
            f"({description}); reduce {argument}, or set the environment variable {MEMORY_VARIABLE} "
            "(e.g. 64G, or inf for no limit) to override."
        )


def check_time(seconds: float, *, what: str, argument: str) -> None:
    """Refuse ``what`` when its time lower bound exceeds the time limit, naming ``argument``."""
    limit, description = time_limit()
    if seconds > limit:
        from .cost import format_seconds

        raise ResourceLimitError(
            f"{what} would take at least {format_seconds(seconds)}, more than the limit of "
            f"{format_seconds(limit)} ({description}); reduce {argument}, or set the environment "
            f"variable {TIME_VARIABLE} (e.g. 7d, or inf for no limit) to override."
        )


# ------------------------------------------------------------------------------ the estimates


def pgd_estimates(n, d, widths, T, record_every, itemsize):
    r"""``(bytes, seconds)`` of :func:`ntkdistill.pgd` on ``n`` points in ``d`` dimensions.

    Memory: the data, the weights (current, initial, update: :math:`3 N d`), the step's live
    :math:`n \times N` buffers (six, as :func:`ntkdistill.estimate_cost` counts) and the
    records (risk and error per network and recorded iteration, and the iteration list).
    Time: the step's floating-point operations at an optimistic rate plus a fixed cost per step.
    """
    N = float(sum(widths))
    K = len(widths)
    R = 1.0 + (0.0 if record_every is None else float(T // record_every))
    memory = itemsize * (6.0 * n * N + 3.0 * N * d + n * d) + R * (16.0 * K + 80.0) + 32.0 * N
    seconds = float(T) * ((4.0 * n * d + 10.0 * n) * N / _FLOPS_PER_SECOND + _SECONDS_PER_STEP)
    return memory, seconds


def guard_pgd(n, d, widths, T, record_every, itemsize, networks) -> None:
    """Refuse a :func:`ntkdistill.pgd` call that cannot fit in memory or finish in time."""
    memory, seconds = pgd_estimates(n, d, widths, T, record_every, itemsize)
    what = (
        f"pgd with {networks} network(s) of width m = {_widths(widths)} on X of shape ({n}, {d}) for T = {T} iterations"
    )
    records = 1 + (0 if record_every is None else T // record_every)
    big_records = records * (16.0 * len(widths) + 80.0) > memory / 2
    check_memory(
        memory,
        what=what + (f" recording {records} iterations" if big_records else ""),
        argument=("T or record_every (None records only W(0))" if big_records else "m, seeds or the data"),
    )
    check_time(seconds, what=what, argument="T, m or seeds")


def _widths(widths):
    distinct = sorted(set(widths))
    return str(distinct[0]) if len(distinct) == 1 else str(distinct)


def guard_margin(n, d, n_samples, n_certify, kernel_bound) -> None:
    """Refuse a :func:`ntkdistill.margin` call that cannot fit in memory or finish in time."""
    from .margin import _CACHE_BYTES

    block = min(max(2**21 // max(n, 1), 128), 4096)
    memory = (
        8.0 * 4 * n * d  # the data and its working copies
        + (8.0 * 4 * n * n if kernel_bound else 0.0)  # the kernel QP of the warm start
        + min(n_samples * n / 8.0, float(_CACHE_BYTES))  # the packed activation masks
        + 8.0 * 4 * (os.cpu_count() or 1) * block * max(n, d)  # per-thread blocks
        + 64.0 * n
    )
    what = f"margin with n_samples = {n_samples} on X of shape ({n}, {d})"
    check_memory(
        memory,
        what=what + (" and the kernel bound" if kernel_bound else ""),
        argument="the data" + (" (or pass kernel_bound=False)" if kernel_bound else ""),
    )
    check_time(margin_seconds(n, d, n_samples, n_certify), what=what, argument="n_samples or n_certify")


def margin_seconds(n, d, n_samples, n_certify=None) -> float:
    """A lower bound on the time of :func:`ntkdistill.margin`: the solver passes over the sample at
    least three times, the certificate once."""
    n_certify = n_samples if n_certify is None else n_certify
    return _SECONDS_PER_DIRECTION_POINT * (3.0 * n_samples + n_certify) * n * (d + 4)


def teacher_seconds(n, d, n_samples) -> float:
    """A lower bound on the time of :func:`ntkdistill.teacher_logits` with ``n_samples`` directions."""
    return _SECONDS_PER_DIRECTION_POINT * n_samples * n * (d + 4)


def announce(command, what, seconds, option) -> None:
    """For the command line: refuse ``what`` beyond the time limit, naming ``option``; state its
    time lower bound on standard error when it is a minute or more."""
    check_time(seconds, what=what, argument=option)
    if seconds >= 60:
        import sys

        from .cost import format_seconds

        print(
            f"[{command}] {what} will take at least {format_seconds(seconds)} (a lower bound; {option} sets it)",
            file=sys.stderr,
            flush=True,
        )


def guard_teacher(n, d, counts) -> None:
    """Refuse a :func:`ntkdistill.teacher_logits` call that cannot fit in memory or finish in time."""
    block = min(max(2**21 // max(n, 1), 128), 4096)
    memory = 8.0 * (2 * n * d + 4 * (os.cpu_count() or 1) * block * max(n, d) + (4 + 2 * len(counts)) * n)
    what = f"teacher_logits with n_samples = {max(counts)} on X of shape ({n}, {d})"
    check_memory(memory, what=what, argument="the data or the number of counts in n_samples")
    check_time(teacher_seconds(n, d, max(counts)), what=what, argument="n_samples")


def guard_dataset(name, n, d, rotated, exact_margin_nodes=0) -> None:
    r"""Refuse a synthetic data set of ``n`` points in ``d`` dimensions that cannot fit in memory.

    ``exact_margin_nodes``: quadrature nodes per interval of an exact margin computed over the
    :math:`n + 257` intervals of :func:`ntkdistill.datasets.circle_margin`, each node against
    every point (time :math:`\propto n^2`). A non-integer ``n`` is left to the function's own check.
    """
    if isinstance(n, bool) or not isinstance(n, numbers.Integral) or n < 1:
        return
    n = int(n)
    nodes = float(exact_margin_nodes) * (n + 257)
    memory = 8.0 * (2.0 * n * d + (3.0 * d * d if rotated else 0.0) + 4.0 * n + 8.0 * nodes) + (
        8.0 * 4 * 2**20 if nodes else 0.0
    )
    what = f"the {name} data set with n = {n} points in d = {d} dimensions" + (" (randomly rotated)" if rotated else "")
    check_memory(memory, what=what, argument="n (or the level)")
    check_time(
        _SECONDS_PER_DIRECTION_POINT * 3.0 * nodes * n, what=what + " and its exact margin", argument="n (or the level)"
    )
