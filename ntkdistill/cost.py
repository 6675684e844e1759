r"""Cost of a PGD run before it starts: operations, memory and time on this machine.

The theorems prescribe widths and iteration counts that are often astronomically large
(THEORY.md, "The comparison"). :func:`estimate_cost` says what a run of :func:`ntkdistill.pgd`
would cost, so that the verification layer can refuse a run that cannot finish instead of
starting it.

Per iteration the batched step of :func:`ntkdistill.pgd` with :math:`S` networks of width
:math:`m` on :math:`n` points in :math:`d` dimensions makes two matrix products of
:math:`n \cdot S m \cdot d` multiply-adds each plus :math:`O(n S m)` elementwise work:

.. math::

    \text{flops} \approx T \,(4 n d + c_e n)\, S m, \qquad
    \text{memory} \approx \text{bytes}\,(c_m n S m + 3 S m d + n d),

with :math:`c_e \approx 10` elementwise operations and :math:`c_m \approx 6` live
:math:`n \times Sm` buffers. The time is not modelled: it is measured by timing a few real
steps of :func:`ntkdistill.pgd` at the same shape (or at a slice of the neurons when the full
step is itself expensive) and scaled by ``T``.
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING

import numpy as np

from ._validation import check_int, check_real, resolve_dtype

if TYPE_CHECKING:
    from ._typing import DTypeLike, SeedLike

__all__ = [
    "Cost",
    "estimate_cost",
    "trajectory_seconds",
    "TRAJECTORY_COMPILE_SECONDS",
    "format_seconds",
    "format_bytes",
]

_ELEMENTWISE = 10
_LIVE_BUFFERS = 6


@dataclass(frozen=True)
class Cost:
    """Predicted cost of one batched PGD run.

    Attributes
    ----------
    flops : float
        Floating-point operations (multiply-add counted as two).
    memory_bytes : float
        Peak working memory of the step.
    seconds : float
        Estimated wall time on this machine (``nan`` when not measured).
    seconds_per_step : float
    n, d, neurons, T : the shape it was estimated for (``neurons`` = total over networks).

    Examples
    --------
    >>> c = estimate_cost(10, 2, 100, 1000, measure=False)
    >>> c.flops, c.neurons
    (18000000.0, 100)
    """

    flops: float
    memory_bytes: float
    seconds: float
    seconds_per_step: float
    n: int
    d: int
    neurons: int
    T: int

    def to_dict(self) -> dict:
        """The fields as a JSON-ready dict."""
        return asdict(self)

    def describe(self) -> str:
        """One line: time, memory and operations."""
        return (
            f"~{format_seconds(self.seconds)} on this machine, {format_bytes(self.memory_bytes)} of memory, "
            f"{self.flops:.3g} floating-point operations ({self.neurons} neurons in all, n = {self.n}, "
            f"d = {self.d}, T = {self.T})"
        )


def format_seconds(s: float) -> str:
    r"""Human-readable duration: seconds below 2 minutes, then minutes, hours, days, years.

    .. math::

        1\,\text{year} = 365.25 \times 86400\,\text{s}

    Examples
    --------
    >>> format_seconds(42.0), format_seconds(7200.0), format_seconds(3.2e9)
    ('42 s', '2 h', '101 years')
    """
    if not math.isfinite(s):
        return "unknown time"
    if s < 120:
        return f"{s:.2g} s" if s < 10 else f"{s:.0f} s"
    if s < 7200:
        return f"{s / 60:.0f} min"
    if s < 2 * 86400:
        return f"{s / 3600:.0f} h"
    if s < 2 * 365 * 86400:
        return f"{s / 86400:.0f} days"
    return f"{s / (365.25 * 86400):.3g} years"


def format_bytes(b: float) -> str:
    r"""Human-readable size in binary units.

    .. math::

        1\,\text{KiB} = 2^{10}\,\text{B},\quad 1\,\text{MiB} = 2^{20}\,\text{B},\ \dots

    Examples
    --------
    >>> format_bytes(2048), format_bytes(3 * 2**30)
    ('2 KiB', '3 GiB')
    """
    for unit, scale in (("TiB", 2**40), ("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if b >= scale:
            return f"{b / scale:.3g} {unit}"
    return f"{b:.0f} B"


def estimate_cost(
    n: int,
    d: int,
    neurons: int,
    T: int,
    *,
    dtype: DTypeLike | None = None,
    measure: bool = True,
    max_probe_seconds: float = 2.0,
    rng: SeedLike = 0,
) -> Cost:
    r"""Estimate what a batched PGD run with ``neurons`` neurons in all would cost.

    .. math::

        \text{flops} \approx T (4 n d + 10 n) N,\qquad N = \sum_k m_k

    Parameters
    ----------
    n, d : int
        Data size and dimension.
    neurons : int
        Total number of neurons over all networks of the batch (e.g. seeds times width).
    T : int
        Iterations.
    dtype : float32 or float64
    measure : bool
        Time a few real steps (on random data of the same shape) to predict the wall time.
        Skipped, with ``seconds = nan``, when the memory alone exceeds 8 GiB.
    max_probe_seconds : float
        Rough ceiling on the time the measurement itself may take.

    Examples
    --------
    >>> c = estimate_cost(100, 10, 1000, 500, measure=False)
    >>> c.flops
    2500000000.0
    """
    n = check_int("n", n, minimum=1)
    d = check_int("d", d, minimum=1)
    neurons = check_int("neurons", neurons, minimum=2)
    T = check_int("T", T, minimum=1)
    check_real("max_probe_seconds", max_probe_seconds, low=0.0)
    dt = resolve_dtype(dtype)
    size = dt.itemsize
    flops = float(T) * (4.0 * n * d + _ELEMENTWISE * n) * neurons
    memory = float(size) * (_LIVE_BUFFERS * n * neurons + 3.0 * neurons * d + n * d)
    seconds = per_step = float("nan")
    if measure and memory <= 8 * 2**30:
        per_step = _measure_step(n, d, neurons, dt, max_probe_seconds, rng)
        seconds = per_step * T
    return Cost(flops, memory, seconds, per_step, n, d, neurons, T)


def _measure_step(n, d, neurons, dt, budget, rng):
    """Seconds per PGD step for ``neurons`` neurons, timed on a slice and scaled linearly."""
    from .pgd import pgd

    gen = np.random.default_rng(rng)
    # probe with at most ~2 million n-by-neuron entries so the probe itself is quick
    probe_neurons = int(max(2, min(neurons, 2_000_000 // max(n, 1))))
    probe_neurons -= probe_neurons % 2
    X = gen.standard_normal((n, d)).astype(dt)
    p = np.full(n, 0.6)
    steps = 2
    # a one-off compilation is not part of a step's cost: one untimed run first compiles (or loads
    # from numba's cache) every variant of the compiled loops that this engine uses (the compiled
    # update has one per number of workers, which the engine sets from the shape)
    pgd(X, p, m=probe_neurons, eta=0.1, T=1, record_every=None, rng=0)
    start = time.perf_counter()
    pgd(X, p, m=probe_neurons, eta=0.1, T=1, record_every=None, rng=0)  # one step, set-up included
    warm = time.perf_counter() - start
    if warm * 3 < budget:
        start = time.perf_counter()
        pgd(X, p, m=probe_neurons, eta=0.1, T=1 + steps, record_every=None, rng=0)
        per = max((time.perf_counter() - start - warm) / steps, warm / 4)
    else:
        per = warm
    return per * (neurons / probe_neurons)


# Nanoseconds per neuron-step of the compiled trajectory (ntkdistill._fast.trajectory), one thread,
# one network of 65536 neurons, by n r (points times the rank of X), on an idle 2-core AMD EPYC
# (Zen 4, AVX-512): the difference of two run lengths, median of 3 (benchmarks/README.md, "The
# trajectory kernel"). The sweep is vectorised up to n r = 16 and scalar beyond, where pgd's engine
# is faster. Log-log interpolation between the points.
_TRAJ_NR = (2.0, 4.0, 16.0, 64.0, 256.0)
_TRAJ_NS = {"float32": (0.35, 0.52, 1.66, 51.0, 188.0), "float64": (0.91, 1.07, 3.34, 47.0, 190.0)}
#: Seconds to compile the trajectory kernel's driver and sweeps for a new (n, r) the first time in
#: a process without numba's cache (10-30 s for n r <= 16, up to two minutes at 16 x 16).
TRAJECTORY_COMPILE_SECONDS = 20.0


def trajectory_seconds(
    n: int,
    d: int,
    m: int,
    T: int,
    seeds: int,
    *,
    rank: int | None = None,
    dtype: DTypeLike | None = None,
    threads: int | None = None,
    compile: bool = True,
) -> float:
    r"""Predicted wall time of :func:`ntkdistill._fast.trajectory.run_trajectory` on an idle machine.

    .. math::

        t \approx c(n r)\, m\, T \left\lceil \frac{S}{P} \right\rceil + t_{\text{compile}},
        \qquad r = \operatorname{rank} X \le \min(n, d),

    with :math:`c` the measured nanoseconds per neuron-step on one core (a table by :math:`n r`
    from ``python -m benchmarks.trajectory --shapes``, interpolated log-log), :math:`S` the seeds
    and :math:`P` the threads: each thread runs whole networks, so the busiest runs
    :math:`\lceil S/P \rceil` of them. Stated constants, not a measurement: the kernel compiles for
    each :math:`(n, r)`, so a probe would cost more than it saves. A loaded machine is slower by
    its load.

    Parameters
    ----------
    n, d, m, T, seeds : int
        Points, dimension, width, iterations and networks.
    rank : int, optional
        Rank of ``X`` (default ``min(n, d)``, its largest value; the antipodal pair has rank 1).
    dtype : float32 or float64
    threads : int, optional
        Threads of the sweep (default: those the kernel takes when not told: numba's, capped by
        the BLAS's, so one inside a sweep's job).
    compile : bool
        Add the one-off compilation (:data:`TRAJECTORY_COMPILE_SECONDS`).

    Examples
    --------
    >>> round(trajectory_seconds(2, 5, 128636, 614145, 5, rank=1, dtype="float32", threads=2, compile=False))
    83
    """
    n = check_int("n", n, minimum=1)
    d = check_int("d", d, minimum=1)
    m = check_int("m", m, minimum=2)
    T = check_int("T", T, minimum=1)
    seeds = check_int("seeds", seeds, minimum=1)
    dt = resolve_dtype(dtype)
    if threads is None:
        from ._fast import trajectory_threads

        threads = trajectory_threads()
    threads = check_int("threads", threads, minimum=1)
    r = min(n, d) if rank is None else check_int("rank", rank, minimum=1)
    if r > min(n, d):
        raise ValueError(f"rank == {r}, must be <= min(n, d) = {min(n, d)}.")
    nr = float(n * r)
    ns = float(np.exp(np.interp(np.log(nr), np.log(_TRAJ_NR), np.log(_TRAJ_NS[dt.name]))))
    rounds = -(-seeds // threads)  # each thread runs whole networks: the busiest runs ceil(S / P)
    return ns * 1e-9 * m * T * rounds + (TRAJECTORY_COMPILE_SECONDS if compile else 0.0)
