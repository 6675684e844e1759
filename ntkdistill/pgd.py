r"""Projected gradient descent on the student, as analysed by Theorem 2 and Proposition 5.

One step (THEORY.md, "Projected gradient descent"):

.. math::

    \hat W_j &= W_j(t) - \eta\, \nabla_{W_j} R(W(t)) \qquad \text{(gradient at the whole } W(t)\text{, E4)}\\
    W_j(t+1) &= W_j(0) + (\hat W_j - W_j(0)) \min\Bigl(1, \frac{B/\sqrt{m}}{\|\hat W_j - W_j(0)\|}\Bigr)
    \qquad \text{(one ball per row, E9)}

with :math:`\nabla_{W_j} R = \frac1n \sum_i \ell'(f_i)\, \frac{a_j}{\sqrt m} 1(W_j\cdot x_i > 0)\, x_i`
(E3), :math:`\ell' = \mu(f) - p` for the soft KL loss (E1) and :math:`-y\mu(-yf)` for the
logistic loss.

The update is written out in :func:`_reference_loop`, one network at a time, as above:
``pgd(..., backend="reference")`` runs it. The default runs the same update on the engine of
:mod:`ntkdistill._fast`: many networks (seeds times widths) train as one batched computation, their
neurons stacked into one matrix, so each step makes the same passes over ``X`` whatever the number
of networks, blocked, in place, on as many threads as the BLAS has, with compiled loops when
numba is installed (the ``fast`` extra). It gives the reference loop's results to rounding (tested
to 1e-12 in float64); ``python -m benchmarks.run`` measures it. For a few points and many neurons
(the theorems' regime), ``backend="trajectory"`` runs the whole trajectory in compiled code
(:func:`ntkdistill._fast.run_trajectory`), and ``"auto"`` does so where it pays
(:func:`ntkdistill._fast.trajectory_pays`; ``python -m benchmarks.trajectory`` measures it).
"""

from __future__ import annotations

import importlib.util
import numbers
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from . import _fast, _guards, _progress, _results
from ._validation import (
    _short,
    check_int,
    check_labels,
    check_matrix,
    check_probabilities,
    check_real,
    root_seed,
)
from .student import _forward_paired, init_symmetric, risk_and_grad

if TYPE_CHECKING:
    from ._typing import ArrayLike, DTypeLike, SeedLike

__all__ = ["PGDResult", "network_seeds", "pgd", "project_rows"]

_LOSSES = ("kl", "logistic")
_BACKENDS = ("auto", "reference", "fast", "trajectory")


def project_rows(W: ArrayLike, W0: ArrayLike, radius: float) -> np.ndarray:
    r"""Project every row of ``W`` onto its ball around ``W0``: the set :math:`S_B` (E9).

    .. math::

        \Pi(W)_j = W_j(0) + (W_j - W_j(0)) \min\Bigl(1, \frac{r_j}{\|W_j - W_j(0)\|}\Bigr),
        \qquad r_j = B / \sqrt{m}

    Parameters
    ----------
    W, W0 : array, shape (m, d)
    radius : float or array of shape (m,)
        The radius of each row's ball; ``inf`` leaves the row unchanged.

    Returns
    -------
    ndarray, shape (m, d), the projected weights (a new array).

    Examples
    --------
    >>> import numpy as np
    >>> project_rows(np.array([[3.0, 4.0], [0.3, 0.4]]), np.zeros((2, 2)), 1.0).tolist()
    [[0.6000000000000001, 0.8], [0.3, 0.4]]
    """
    W = np.asarray(W)
    W0 = np.asarray(W0, dtype=W.dtype)
    if W.shape != W0.shape or W.ndim != 2:
        raise ValueError(f"W and W0 must be 2-D arrays of the same shape, got {W.shape} and {W0.shape}.")
    r = np.broadcast_to(np.asarray(radius, dtype=W.dtype), (W.shape[0],))
    if np.any(~(r > 0)):
        raise ValueError(f"radius must be > 0 (or inf), got {_short(radius)}.")
    diff = W - W0
    norms = np.sqrt(np.einsum("ij,ij->i", diff, diff))
    outside = norms > r
    out = W.copy()  # rows inside their ball are returned bit for bit
    out[outside] = W0[outside] + diff[outside] * (r[outside] / norms[outside])[:, None]
    return out


@dataclass(frozen=True)
class PGDResult(_results.ResultMixin):
    r"""What :func:`pgd` returns: one entry per trained network, networks ordered width-major.

    Examples
    --------
    >>> import numpy as np
    >>> res = pgd(np.eye(2), np.array([0.6, 0.4]), m=[2, 4], eta=1.0, T=5, seeds=2, rng=0)
    >>> len(res), res.widths.tolist(), res.risk.shape, res.predict(np.eye(2)).shape
    (4, [2, 2, 4, 4], (4, 6), (4, 2))

    Attributes
    ----------
    widths : ndarray of int, shape (K,)
        Width ``m`` of each network.
    seeds : list of SeedSequence, length K
        The seed of each network; ``pgd(..., m=widths[k], seeds=[seeds[k]])`` retrains network k alone.
    W, W0, a : list of ndarray
        Final weights :math:`W(T)`, initial weights :math:`W(0)` and output signs, per network.
    loss, eta, T, B : the run's settings.
    iterations : ndarray of int, shape (R,)
        The iterations ``t`` at which ``risk`` and ``error`` were recorded (0 is :math:`W(0)`).
    risk, error : ndarray, shape (K, R)
        Surrogate risk (KL or logistic) and classification error (ties count, E6) at each recorded
        iteration.
    avg_risk, avg_error : ndarray, shape (K,)
        :math:`\frac1T \sum_{\tau < T} R(W(\tau))`, the averages the theorems bound, accumulated at
        every iteration whatever the recording interval.
    final_risk, final_error : ndarray, shape (K,)
        At :math:`W(T)`.
    max_distance : ndarray, shape (K,)
        :math:`\max_{t \le T} \max_j \|W_j(t) - W_j(0)\|`; it never exceeds :math:`B / \sqrt{m}`.
    labels : ndarray, shape (n,)
        The labels the classification error was measured against.
    """

    widths: np.ndarray
    seeds: list
    W: list
    W0: list
    a: list
    loss: str
    eta: float
    T: int
    B: float
    iterations: np.ndarray
    risk: np.ndarray
    error: np.ndarray
    avg_risk: np.ndarray
    avg_error: np.ndarray
    final_risk: np.ndarray
    final_error: np.ndarray
    max_distance: np.ndarray
    labels: np.ndarray = field(repr=False)

    _counts = ("widths", "T", "iterations")
    to_dict, _frame_rows = _results.pgd_to_dict, _results.pgd_frame_rows  # to_frame(what="history"|"networks")
    to_xarray, to_netcdf, __repr__ = _results.pgd_to_xarray, _results.to_netcdf, _results.pgd_repr

    def __len__(self) -> int:
        return len(self.W)

    def predict(self, X: ArrayLike) -> np.ndarray:
        """Logits of every network on ``X``: an array of shape (K, n)."""
        X = check_matrix("X", X, dtype=self.W[0].dtype)
        d = self.W[0].shape[1]
        if X.shape[1] != d:
            raise ValueError(f"X has {X.shape[1]} columns but the networks were trained with d = {d}.")
        out = np.empty((len(self), X.shape[0]), dtype=X.dtype)
        for k, (W, a) in enumerate(zip(self.W, self.a)):
            out[k] = _forward_paired(X, W, a)
        return out

    def error_on(self, X: ArrayLike, y: ArrayLike) -> np.ndarray:
        """Classification error of every network on (``X``, ``y``), ties counted (E6): shape (K,)."""
        f = self.predict(X)
        y = check_labels("y", y, n=f.shape[1]).astype(f.dtype)
        return np.mean(y * f <= 0, axis=1)


def network_seeds(
    seeds: int | Sequence[int | np.random.SeedSequence] | np.ndarray, rng: SeedLike = None
) -> list[np.random.SeedSequence]:
    r"""The list of :class:`numpy.random.SeedSequence`, one per network seed, that :func:`pgd` uses.

    .. math::

        s_k = \operatorname{SeedSequence}(\texttt{rng}).\mathrm{spawn}(S)[k],\qquad k = 0, \dots, S - 1

    ``seeds`` an int ``S`` spawns ``S`` independent children from ``rng`` (SPEC 7: never adjacent
    integers); a sequence of ints or SeedSequences is used as given.

    Examples
    --------
    >>> [s.entropy for s in network_seeds([3, 7])]
    [3, 7]
    >>> len(network_seeds(4, rng=0))
    4
    """
    if isinstance(seeds, (numbers.Integral,)) and not isinstance(seeds, (bool, np.bool_)):
        count = check_int("seeds", seeds, minimum=1)
        return root_seed(rng).spawn(count)
    if isinstance(seeds, (list, tuple, np.ndarray)) and len(seeds) > 0:
        out = []
        for s in seeds:
            if isinstance(s, np.random.SeedSequence):
                out.append(s)
            elif isinstance(s, numbers.Integral) and not isinstance(s, (bool, np.bool_)) and int(s) >= 0:
                out.append(np.random.SeedSequence(int(s)))
            else:
                raise TypeError(
                    f"seeds must be a positive int (how many networks) or a non-empty list of "
                    f"non-negative ints or SeedSequences, got an entry {_short(s)}."
                )
        return out
    raise TypeError(
        f"seeds must be a positive int (how many networks) or a non-empty list of non-negative "
        f"ints or SeedSequences, got {_short(seeds)}."
    )


def _check_widths(m):
    if isinstance(m, (list, tuple, np.ndarray)):
        if len(m) == 0:
            raise ValueError("m must be a positive even integer or a non-empty list of them, got an empty list.")
        return [check_int("m", w, minimum=2, even=True) for w in m]
    return [check_int("m", m, minimum=2, even=True)]


def pgd(
    X: ArrayLike,
    targets: ArrayLike,
    *,
    m: int | Sequence[int],
    eta: float,
    T: int,
    B: float = np.inf,
    loss: str = "kl",
    seeds: int | Sequence[int | np.random.SeedSequence] = 1,
    rng: SeedLike = None,
    dtype: DTypeLike | None = None,
    labels: ArrayLike | None = None,
    record_every: int | None = 1,
    init: tuple[ArrayLike, ArrayLike] | Sequence[tuple[ArrayLike, ArrayLike]] | None = None,
    progress: bool | None = None,
    backend: str = "auto",
) -> PGDResult:
    r"""Train two-layer ReLU students (eq. 1) by projected gradient descent.

    .. math::

        W_j(t+1) = \Pi_{\|W_j - W_j(0)\| \le B/\sqrt m}\Bigl(W_j(t) - \eta \nabla_{W_j} R(W(t))\Bigr),
        \qquad R = \frac1n\sum_i \ell(\cdot, f_i(W))

    with :math:`\ell` the soft KL loss on soft labels :math:`p_i` (Theorem 2, E1, E2) or the logistic
    loss on labels :math:`y_i` (Proposition 5). The gradient is taken at the whole :math:`W(t)` (E4)
    and each row is projected onto its own ball (E9). ``B = inf`` is plain gradient descent.

    Parameters
    ----------
    X : array, shape (n, d)
        Inputs. The theorems assume :math:`c \le \|x_i\| \le 1`; PGD itself runs on any data.
    targets : array, shape (n,)
        Soft labels in [0, 1] for ``loss="kl"``; labels in {-1, +1} for ``loss="logistic"``.
    m : int or list of int
        Width(s), positive and even. With a list, every width is trained for every seed.
    eta : float
        Step size, > 0.
    T : int
        Number of iterations, >= 1.
    B : float
        Projection radius (>= 0 exclusive; ``inf`` for no projection); each row stays within
        :math:`B/\sqrt{m}` of its initialisation.
    loss : {"kl", "logistic"}
    seeds : int or list of int / SeedSequence
        Number of independent networks per width (spawned from ``rng``), or their seeds.
    rng : None, int, SeedSequence or Generator
        Root of the seeds when ``seeds`` is an int.
    dtype : None, float32 or float64
        Working dtype (default: float32 if ``X`` is float32, else float64). No silent promotion.
    labels : array of {-1, +1}, optional
        Labels for the classification error. Default: ``targets`` for the logistic loss and
        :math:`\mathrm{sign}(p_i - 1/2)` for the KL loss (``p_i = 1/2`` counts as an error).
    record_every : int or None
        Record risk and error every this many iterations (and at ``T`` when it is a multiple).
        ``None`` records only ``W(0)``, so memory does not grow with ``T``; the averages are exact
        either way.
    init : (W0, a) or list of (W0, a), optional
        Explicit initialisations (one per network, in place of ``seeds``), e.g. to continue a study
        of a given :math:`W(0)`. Widths are read from them and ``m`` must agree.
    progress : bool or None
        A tqdm bar over the iterations: True shows it in a notebook or on a terminal (never in a
        log), None (default) in a notebook for runs that last more than a few seconds, False
        never (:mod:`ntkdistill._progress`).
    backend : {"auto", "reference", "fast", "trajectory"}
        ``"reference"`` runs the update as written above, one network at a time
        (:func:`_reference_loop`); ``"fast"`` the batched engine of :mod:`ntkdistill._fast`, which
        gives the same results to rounding; ``"trajectory"`` the whole run in compiled code for
        at most 16 points (needs numba; no progress bar), the same results to rounding;
        ``"auto"`` (default) the trajectory kernel where it pays (numba, ``n * rank(X) <= 16``
        and at least 1e9 neuron-steps, :func:`ntkdistill._fast.trajectory_pays`) and no progress
        bar is asked for, else the engine, which is always available (compiled loops with numba,
        NumPy and the BLAS without) and faster than the reference on every benchmarked shape. An
        ``ntkdistill._fast.Options`` object means ``"fast"`` with those choices (for tests and
        benchmarks).

    Returns
    -------
    PGDResult

    Raises
    ------
    ValueError, TypeError
        On invalid input, before any work is done.

    Notes
    -----
    Each step runs on as many threads as the BLAS library is set to use (NumPy releases the GIL),
    holding the BLAS itself at one thread meanwhile (needs threadpoolctl; without it, one
    thread). To run several trainings side by side, limit the BLAS to one thread first, e.g.
    ``threadpoolctl.threadpool_limits(1)``. Results are reproducible bit for bit for a given
    thread count, and agree across thread counts to rounding.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.array([[1.0, 0.0], [0.0, 1.0], [-0.6, 0.8]])
    >>> res = pgd(X, np.array([0.6, 0.4, 0.55]), m=8, eta=1.0, T=50, seeds=3, rng=0)
    >>> res.risk.shape, bool(np.all(res.risk[:, -1] < res.risk[:, 0]))
    ((3, 51), True)
    >>> res.error[:, 0].tolist()  # f(W(0)) = 0 exactly, and ties are errors
    [1.0, 1.0, 1.0]
    """
    # ---------------------------------------------------------------- validation (no work yet)
    X = check_matrix("X", X, dtype=dtype)
    dt = X.dtype
    n, d = X.shape
    if loss not in _LOSSES:
        raise ValueError(f"loss == {loss!r}, must be one of {_LOSSES}.")
    if not isinstance(backend, _fast.Options) and backend not in _BACKENDS:
        raise ValueError(f"backend == {backend!r}, must be one of {_BACKENDS} (or an ntkdistill._fast.Options).")
    if loss == "kl":
        tgt = check_probabilities("targets", targets, n=n)
        y = check_labels("labels", labels, n=n) if labels is not None else np.sign(tgt - 0.5)
    else:
        tgt = check_labels("targets", targets, n=n)
        y = check_labels("labels", labels, n=n) if labels is not None else tgt
    eta = check_real("eta", eta, low=0.0)
    T = check_int("T", T, minimum=1)
    B = check_real("B", B, low=0.0, allow_inf=True)
    if record_every is not None:
        record_every = check_int("record_every", record_every, minimum=1)
    if init is not None:
        inits = _check_init(init, d, dt)
        widths_given = None if m is None else _check_widths(m)
        widths = [W0.shape[0] for W0, _ in inits]
        if widths_given is not None and sorted(set(widths_given)) != sorted(set(widths)):
            raise ValueError(f"m == {m} does not match the widths {widths} of the given init.")
        seed_list = [None] * len(inits)
    else:
        widths_u = _check_widths(m)
        seed_u = network_seeds(seeds, rng)
        widths = [w for w in widths_u for _ in seed_u]
        seed_list = [s for _ in widths_u for s in seed_u]
        inits = None
    _guards.guard_pgd(n, d, widths, T, record_every, dt.itemsize, len(widths))  # memory and time, before any
    if inits is None:
        inits = [init_symmetric(w, d, rng=np.random.default_rng(s), dtype=dt) for w, s in zip(widths, seed_list)]
    _progress.check_progress(progress)
    if progress and importlib.util.find_spec("tqdm") is None:
        raise ImportError("progress=True needs tqdm: pip install 'ntkdistill[progress]'.")

    if backend == "trajectory" and not _fast.AVAILABLE:
        raise ImportError("backend='trajectory' needs numba: pip install 'ntkdistill[fast]'.")
    if backend == "trajectory" and n > _fast.TRAJECTORY_MAX_POINTS:
        raise ValueError(f"backend='trajectory' is for at most {_fast.TRAJECTORY_MAX_POINTS} points; X has n = {n}.")
    problem = _Problem(X, tgt.astype(dt), y.astype(dt), loss, eta, T, B)
    records = _Records(len(inits), T, record_every)
    if backend == "auto" and not progress and n <= _fast.TRAJECTORY_MAX_POINTS:
        if _fast.trajectory_pays(n, int(np.linalg.matrix_rank(X)), int(sum(widths)), T):
            backend = "trajectory"
    if backend == "trajectory":
        W = _trajectory_loop(problem, inits, records, record_every)
    elif backend == "reference":
        W = _reference_loop(problem, inits, records, _steps(T, progress))
    else:
        steps = _steps(T, progress)
        options = backend if isinstance(backend, _fast.Options) else None
        W = _engine_loop(problem, inits, records, steps, options)
    return records.result(problem, inits, seed_list, W)


def _check_init(init, d, dt):
    if isinstance(init, tuple) and len(init) == 2 and np.ndim(init[0]) == 2:
        init = [init]
    out = []
    for k, pair in enumerate(init):
        try:
            W0, a = pair
        except (TypeError, ValueError) as exc:
            raise TypeError(f"init[{k}] must be a pair (W0, a), got {_short(pair)}.") from exc
        W0 = check_matrix(f"init[{k}][0] (W0)", W0, dtype=dt)
        a = np.asarray(a)
        if W0.shape[1] != d:
            raise ValueError(f"init[{k}] W0 has {W0.shape[1]} columns but X has {d}.")
        if a.shape != (W0.shape[0],) or not np.all(np.isin(a, (-1, 1))):
            raise ValueError(f"init[{k}] a must have shape ({W0.shape[0]},) with entries in {{-1, +1}}.")
        if W0.shape[0] % 2:
            raise ValueError(f"init[{k}] has odd width {W0.shape[0]}; widths must be even.")
        out.append((W0.copy(), a.astype(dt)))
    return out


@dataclass(frozen=True)
class _Problem:
    """What every network of a run trains on: data, targets, labels and the settings."""

    X: np.ndarray
    targets: np.ndarray
    labels: np.ndarray
    loss: str
    eta: float
    T: int
    B: float


def _reference_loop(problem, inits, records, steps):
    r"""PGD as THEORY.md writes it, one network at a time: ``backend="reference"``.

    For each network and each :math:`t < T`: the risk :math:`R(W(t))` and its gradient at the
    whole :math:`W(t)` (:func:`~ntkdistill.student.risk_and_grad`, E1, E3, E4), the gradient step,
    the projection of each row onto its ball of radius :math:`B/\sqrt m` around :math:`W_j(0)`
    (:func:`project_rows`, E9); the logits for the error are the paired forward pass, exactly 0 at
    the symmetric :math:`W(0)` (ties are errors, E6). Returns the final weights.
    """
    X, y = problem.X, problem.labels
    W = [W0.copy() for W0, _ in inits]
    radius = [problem.B / np.sqrt(W0.shape[0]) for W0, _ in inits]
    risk, err, dist = (np.empty(len(inits)) for _ in range(3))
    for t in steps:
        for k, (W0, a) in enumerate(inits):
            risk[k], grad = risk_and_grad(X, problem.targets, W[k], a, problem.loss)  # at W(t): E1, E3, E4
            err[k] = np.mean(y * _forward_paired(X, W[k], a) <= 0)  # ties are errors: E6
            W[k] = project_rows(W[k] - problem.eta * grad, W0, radius[k])  # one ball per row: E9
            dist[k] = np.linalg.norm(W[k] - W0, axis=1).max()
        records.step(t, risk, err, dist)
    for k, (_, a) in enumerate(inits):  # the risk and error at W(T)
        f = _forward_paired(X, W[k], a)
        risk[k] = risk_and_grad(X, problem.targets, W[k], a, problem.loss)[0]
        err[k] = np.mean(y * f <= 0)
    records.final(risk, err)
    return W


def _engine_loop(problem, inits, records, steps, options):
    """The same update on the batched engine of :mod:`ntkdistill._fast`: ``backend="fast"``."""
    X = problem.X
    st = _Stack(inits, X.dtype)
    radius = None
    if np.isfinite(problem.B):
        radius = (problem.B / np.sqrt(st.widths[st.owner])).astype(X.dtype)
        radius = np.concatenate([radius, radius])
    W = st.W0.copy()
    with _fast.Engine(
        X, problem.targets, problem.labels, st, problem.loss, problem.eta, radius, options=options
    ) as engine:
        for t in steps:
            risk, err, dist = engine.step(W)  # risk and error at W(t), then W <- W(t + 1)
            records.step(t, risk, err, _segment_max(dist, st.starts, st.h))
        records.final(*engine.evaluate(W))
    return st.unstack(W)


def _trajectory_loop(problem, inits, records, record_every):
    """The same update, the whole run compiled (:func:`ntkdistill._fast.run_trajectory`): ``backend="trajectory"``.

    One call per width (the kernel trains networks of one width together); returns the final weights.
    """
    W = [None] * len(inits)
    for width in sorted({W0.shape[0] for W0, _ in inits}):
        ks = [k for k, (W0, _) in enumerate(inits) if W0.shape[0] == width]
        out = _fast.run_trajectory(
            problem.X,
            problem.targets,
            np.stack([inits[k][0] for k in ks]),
            np.stack([inits[k][1] for k in ks]),
            eta=problem.eta,
            T=problem.T,
            B=problem.B,
            loss=problem.loss,
            labels=problem.labels,
            record_every=record_every,
            dtype=problem.X.dtype,
        )
        records.fill(ks, out)
        for k, Wk in zip(ks, out["W"]):
            W[k] = Wk
    return W


def _steps(T, progress):
    """``range(T)``, with a progress bar where :mod:`ntkdistill._progress` shows one."""
    bar = _progress.progress_bar(progress, total=T, desc="pgd", leave=bool(progress))
    return range(T) if bar is None else _counted(range(T), bar)


def _counted(steps, bar):
    """Yield ``steps``, advancing ``bar`` after each one and closing it at the end."""
    try:
        for t in steps:
            yield t
            bar.update(1)
    finally:
        bar.close()


class _Records:
    """Risk and error at the recorded iterations, their averages over every step, the largest distance."""

    def __init__(self, K, T, record_every):
        self.T = T
        self.iterations = [0] + ([] if record_every is None else list(range(record_every, T + 1, record_every)))
        self.pos = {t: i for i, t in enumerate(self.iterations)}
        self.risk = np.empty((K, len(self.iterations)))
        self.error = np.empty((K, len(self.iterations)))
        self.sum_risk = np.zeros(K)
        self.sum_err = np.zeros(K)
        self.max_dist = np.zeros(K)
        self.final_risk = np.zeros(K)
        self.final_err = np.zeros(K)

    def step(self, t, risk, err, dist):
        """Step ``t``: risk and error at ``W(t)``, each network's largest row distance at ``W(t + 1)``."""
        self.sum_risk += risk
        self.sum_err += err
        if t in self.pos:
            self.risk[:, self.pos[t]] = risk
            self.error[:, self.pos[t]] = err
        np.maximum(self.max_dist, dist, out=self.max_dist)

    def fill(self, ks, out):
        """Networks ``ks`` from a whole run's records (:func:`ntkdistill._fast.run_trajectory`)."""
        if list(out["iterations"]) != self.iterations:
            raise AssertionError(f"recorded iterations differ: {list(out['iterations'])[:4]} vs {self.iterations[:4]}")
        self.risk[ks] = out["risk"]
        self.error[ks] = out["error"]
        self.sum_risk[ks] = out["avg_risk"] * self.T
        self.sum_err[ks] = out["avg_error"] * self.T
        self.max_dist[ks] = out["max_distance"]
        self.final_risk[ks] = out["final_risk"]
        self.final_err[ks] = out["final_error"]

    def final(self, risk, err):
        self.final_risk[:] = np.asarray(risk, dtype=np.float64)
        self.final_err[:] = np.asarray(err, dtype=np.float64)
        if self.T in self.pos:
            self.risk[:, self.pos[self.T]] = risk
            self.error[:, self.pos[self.T]] = err

    def result(self, problem, inits, seed_list, W):
        return PGDResult(
            widths=np.array([W0.shape[0] for W0, _ in inits]),
            seeds=list(seed_list),
            W=W,
            W0=[W0 for W0, _ in inits],
            a=[a for _, a in inits],
            loss=problem.loss,
            eta=float(problem.eta),
            T=problem.T,
            B=float(problem.B),
            iterations=np.asarray(self.iterations),
            risk=self.risk,
            error=self.error,
            avg_risk=self.sum_risk / problem.T,
            avg_error=self.sum_err / problem.T,
            final_risk=self.final_risk,
            final_error=self.final_err,
            max_distance=self.max_dist,
            labels=problem.labels,
        )


class _Stack:
    """Neurons of K networks stacked for one batched step.

    Layout: rows ``[0, M/2)`` are the first halves of every network (network k's at
    ``lo[k]:hi[k]``), rows ``[M/2, M)`` the matching second halves, so that the forward pass can
    subtract paired neurons before the output layer and return exactly 0 at initialisation.
    """

    def __init__(self, inits, dt):
        halves = [W0.shape[0] // 2 for W0, _ in inits]
        self.K = len(inits)
        self.h = int(sum(halves))
        self.starts = np.concatenate([[0], np.cumsum(halves)[:-1]]).astype(np.intp)
        self.owner = np.repeat(np.arange(self.K), halves)
        first = [W0[: W0.shape[0] // 2] for W0, _ in inits]
        second = [W0[W0.shape[0] // 2 :] for W0, _ in inits]
        self.W0 = np.concatenate(first + second).astype(dt, copy=False)
        a1 = [a[: a.shape[0] // 2] for _, a in inits]
        a2 = [a[a.shape[0] // 2 :] for _, a in inits]
        widths = np.array([W0.shape[0] for W0, _ in inits], dtype=np.float64)
        inv = 1.0 / np.sqrt(widths[self.owner])
        self.s1 = (np.concatenate(a1).astype(np.float64) * inv).astype(dt)
        self.s2 = (np.concatenate(a2).astype(np.float64) * inv).astype(dt)
        self.paired = all(np.array_equal(x, -z) for x, z in zip(a1, a2))
        self.widths = widths

    def unstack(self, W):
        out = []
        for k in range(self.K):
            lo = self.starts[k]
            hi = lo + int(self.widths[k]) // 2
            out.append(np.concatenate([W[lo:hi], W[self.h + lo : self.h + hi]]))
        return out


def _segment_max(values, starts, h):
    """Each network's largest row distance (float64, at least 0) from the stacked rows' ``values``.

    Network k's rows are ``[starts[k], starts[k + 1])`` in each half of the stack (:class:`_Stack`),
    so one ``reduceat`` per half finds them. ``np.maximum.at`` over an owner index, which this
    replaced, gave the same values but took 1 ms a step for 20000 float32 rows (its slow path for a
    cast), half the step of ``pgd`` at n = 200, d = 10, m = 20000 (``python -m benchmarks.run
    --sections public``).
    """
    out = np.zeros(len(starts))
    np.maximum(out, np.maximum.reduceat(values[:h], starts), out=out)
    np.maximum(out, np.maximum.reduceat(values[h:], starts), out=out)
    return out
