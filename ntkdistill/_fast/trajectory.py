r"""The whole PGD trajectory in compiled code, for few points and many neurons (private).

For ``n <= 16`` points and networks of many neurons (the regime of the theorems: Corollary 4 at
:math:`\gamma = 1/2`, :math:`n = 2` asks for :math:`m = 128{,}636` and :math:`T = 614{,}145`), the
step of THEORY.md's projected gradient descent,

.. math::

    \hat W_j = W_j(t) - \eta \frac{a_j}{\sqrt m}\frac1n\sum_i \ell'(f_i(W(t)))\,1(W_j(t)\cdot x_i > 0)\,x_i,
    \qquad
    W_j(t+1) = W_j(0) + (\hat W_j - W_j(0))\min\Bigl(1, \frac{B/\sqrt m}{\|\hat W_j - W_j(0)\|}\Bigr)

(the gradient at the whole :math:`W(t)`, E4, with the input :math:`x_i`, E3, strict ``> 0``, E5;
one ball per row, E9), is one compiled sweep over the neurons per step: for each neuron, its
gradient row from the loss derivatives :math:`g_i` of the current logits, its update, its
projection, its distance to :math:`W_j(0)`, and its share of the next step's logits
:math:`f_i(W(t+1))`. The loop over the steps, the risks, the errors and their records are
compiled too, so a run is one call per segment of steps.

**Coordinates in the span of the data.** Every gradient row is a combination of the
:math:`x_i`, and the projection rescales :math:`\hat W_j - W_j(0)`, so
:math:`W_j(t) - W_j(0)` stays in :math:`V = \mathrm{span}\{x_i\}` (dimension :math:`r \le n`).
The sweep keeps :math:`c_j = U (W_j(t) - W_j(0)) \in \mathbb{R}^r` for an orthonormal basis
:math:`U` (r x d) of :math:`V`, and :math:`h^0_{ij} = W_j(0)\cdot x_i`, computed once:

.. math::

    W_j(t)\cdot x_i = h^0_{ij} + c_j \cdot (U x_i),\qquad
    \|W_j(t) - W_j(0)\| = \|c_j\|,\qquad
    c_j \leftarrow c_j - \eta\, s_j \sum_i g_i 1(\cdot > 0)\, U x_i.

These are the same quantities as in the plain loop (:mod:`ntkdistill._reference`), exactly in
exact arithmetic; in floating point the results agree to rounding (tested to 1e-12 in float64).
A neuron's state is :math:`r + n + 1` numbers instead of :math:`2d + 1`; with the symmetric
initialisation, whose two neurons of a pair share :math:`W_j(0)` and have opposite output
weights, a pair shares :math:`h^0` and :math:`s`, so a pair of neurons is :math:`2r + n + 1`
numbers (5 for the antipodal pair of Corollary 4's demonstration). :math:`W(T) = W(0) + c\,U` is
formed at the end.

**Vectorised over neurons.** The sweep is generated for each (n, r, symmetric) with the loops
over the points and the coordinates unrolled, so that the loop over the neurons is the inner
one and compiles to SIMD code (the state in structure-of-arrays layout, (r, m) and (n, m)). The
two neurons of a pair are handled in one iteration with the same instructions, so at
:math:`W(0)` their pre-activations are equal bit for bit and :math:`f(W(0)) = 0` exactly (the
pair is subtracted before the sum over pairs, as :func:`ntkdistill.pgd` does; ties count as
errors, E6).

**Threads and determinism.** The networks are shared among the threads (``numba.prange`` over
networks), each running its own steps in order, so the threads never wait for each other
between steps (a barrier per step measured slower: benchmarks/README.md, "The trajectory
kernel"). Within a network the sweep runs over chunks of ``CHUNK`` pairs, whose partial
logits are added in chunk order. Nothing depends on the number of threads, so results are the
same bit for bit for any thread count; with K networks on P threads the work is balanced to
within one network.

**What it records** (as :func:`ntkdistill.pgd` does): the surrogate risk (each term in the
working dtype, summed in float64) and the classification error (ties count, E6) at the requested
iterations; their averages over :math:`t < T` at every step; both at :math:`W(T)`; and
:math:`\max_{1 \le t \le T}\max_j \|W_j(t) - W_j(0)\|` (a projected row counts as exactly
:math:`B/\sqrt m`, as in the engine).

**Dispatch from pgd** (for the integrator): when numba is installed, ``n <= MAX_POINTS``, and
every network has the same width (or one call per width), :func:`ntkdistill.pgd` can call
:func:`run_trajectory` with its stacked initialisations (``init_symmetric`` per seed, as ``pgd``
draws them) and build its :class:`PGDResult` from the returned dict: ``widths`` from ``m``,
``W`` from ``out["W"]`` (one (m, d) array per network), ``risk``, ``error``, ``avg_risk``,
``avg_error``, ``final_risk``, ``final_error``, ``max_distance`` and ``iterations`` as they are
(``progress`` is not supported). When it pays (measured, ``python -m benchmarks.trajectory`` and
:func:`ntkdistill.cost.trajectory_seconds`): the sweep is vectorised up to ``n r <= 16``
(r the rank of ``X``) and is scalar beyond, slower than pgd's engine (the table by n r is in
``benchmarks/README.md``, "The trajectory kernel"), so dispatch on ``n * rank(X) <= 16`` and on
enough work to amortise the compilation of a new (n, r), 10-30 s per process (up to two minutes
at 16 x 16): say ``m * seeds * T`` above about 1e9.
"""

from __future__ import annotations

import math

import numpy as np

try:  # pragma: no cover - depends on the environment
    import numba

    AVAILABLE = True
except ImportError:  # pragma: no cover - depends on the environment
    numba = None  # type: ignore[assignment]  # None marks the optional module absent
    AVAILABLE = False

__all__ = ["run_trajectory", "trajectory_pays", "default_threads", "MAX_POINTS", "CHUNK"]

#: Largest number of points the generated sweep is built for (its loops over points are unrolled).
MAX_POINTS = 16
#: Pairs of neurons per chunk of a network's sweep (its partial logits are added in chunk order).
#: Fixed, so that the order of every sum depends on nothing else.
CHUNK = 4096
#: Neuron-steps per compiled call: between calls, Python can be interrupted (Ctrl-C).
_SEGMENT_WORK = 200_000_000

_FLAGS = {"contract", "reassoc"}  # fused multiply-adds; the sums over neurons vectorised
_CACHE: dict = {}


# ----------------------------------------------------------------------------- code generation
def _sweep_source(N, R, sym, update):
    """Source of the sweep over a range of pairs of one network (see the module docstring).

    ``C1``, ``C2`` (R, b): the coordinates of the range's first-half and second-half neurons
    (updated in place); ``H1``, ``H2`` (N, b) their :math:`W_j(0)\\cdot x_i`, ``S1``, ``S2`` (b,)
    their :math:`a_j/\\sqrt m` (with ``sym``, the second half's are those of the first, negated
    for ``S``); ``XU`` (N, R) the points in the coordinates; ``G`` (N,) :math:`\\eta\\,\\ell'(f_i)/n`;
    ``rad2`` the squared radius (``inf``: no projection). Writes the range's share of the logits
    at the updated weights to ``fout`` (N,) and returns the largest squared distance before
    projection. The loop over the pairs starts at 0 on views, so that its indices are known to
    be non-negative (no wrap-around) and it vectorises.
    """
    name = "sweep" if update else "forward"
    L = [f"def {name}(C1, C2, H1, H2, S1, S2, XU, G, rad2, zero, fout):"]
    for i in range(N):
        L.append(f"    g{i} = G[{i}]")
        for k in range(R):
            L.append(f"    x{i}_{k} = XU[{i}, {k}]")
    for i in range(N):
        L.append(f"    f{i} = zero")
    L.append("    m2 = zero")
    L.append("    for p in range(S1.shape[0]):")
    L.append("        s1 = S1[p]")
    L.append("        s2 = -s1" if sym else "        s2 = S2[p]")
    for i in range(N):
        L.append(f"        u{i} = H1[{i}, p]")
        L.append(f"        v{i} = u{i}" if sym else f"        v{i} = H2[{i}, p]")
    for k in range(R):
        L.append(f"        c{k} = C1[{k}, p]")
        L.append(f"        e{k} = C2[{k}, p]")

    def dots():
        for i in range(N):
            ca = " + ".join(f"c{k} * x{i}_{k}" for k in range(R))
            cb = " + ".join(f"e{k} * x{i}_{k}" for k in range(R))
            L.append(f"        a{i} = u{i} + ({ca})")
            L.append(f"        b{i} = v{i} + ({cb})")

    if update:
        dots()  # pre-activations at W(t)
        for k in range(R):
            ta = " + ".join(f"_gt(a{i}, zero, g{i}, zero) * x{i}_{k}" for i in range(N))
            tb = " + ".join(f"_gt(b{i}, zero, g{i}, zero) * x{i}_{k}" for i in range(N))
            L.append(f"        c{k} = c{k} - s1 * ({ta})")
            L.append(f"        e{k} = e{k} - s2 * ({tb})")
        for nm, v, out in (("na", "c", "C1"), ("nb", "e", "C2")):
            L.append(f"        {nm} = " + " + ".join(f"{v}{k} * {v}{k}" for k in range(R)))
            L.append(f"        r{nm} = math.sqrt(rad2 / {nm})")
            for k in range(R):
                L.append(f"        {v}{k} = _gt({nm}, rad2, {v}{k} * r{nm}, {v}{k})")
                L.append(f"        {out}[{k}, p] = {v}{k}")
        L.append("        m2 = _fmax(m2, _fmax(na, nb))")
    dots()  # pre-activations at W(t + 1)
    for i in range(N):
        ra, rb = f"_gt(a{i}, zero, a{i}, zero)", f"_gt(b{i}, zero, b{i}, zero)"
        L.append(f"        f{i} += s1 * ({ra} - {rb})" if sym else f"        f{i} += s1 * {ra} + s2 * {rb}")
    for i in range(N):
        L.append(f"    fout[{i}] = f{i}")
    L.append("    return m2")
    return "\n".join(L) + "\n"


if AVAILABLE:  # pragma: no branch - depends on the environment
    from llvmlite import ir as _ir
    from numba.extending import intrinsic as _intrinsic

    @_intrinsic
    def _fmax(typingctx, a, b):
        """LLVM's ``maxnum`` marked free of NaN, which the loop vectoriser reduces in SIMD lanes.

        (Python's ``max`` or a select compile to a loop that does not vectorise: 5 ns instead of
        0.5 ns per neuron-step.) A NaN distance is therefore not reported reliably; the risk of
        such a run is NaN anyway.
        """
        sig = a(a, b)

        def codegen(context, builder, signature, args):
            t = args[0].type
            fn = builder.module.declare_intrinsic("llvm.maxnum", [t], _ir.FunctionType(t, [t, t]))
            return builder.call(fn, args, fastmath=("nnan", "nsz"))

        return sig, codegen

    @_intrinsic
    def _gt(typingctx, a, b, x, y):
        """``x if a > b else y`` as one LLVM ``select`` (false for NaN, as Python's ``>``).

        Python's conditional expression makes two basic blocks in numba's IR; a sweep for
        n = 16 points has thousands of them, which numba's SSA pass cannot handle (a recursion
        error) and which slow the compilation down.
        """
        sig = x(a, b, x, y)

        def codegen(context, builder, signature, args):
            return builder.select(builder.fcmp_ordered(">", args[0], args[1]), args[2], args[3])

        return sig, codegen


_DRIVER = """
def drive(C1, C2, H1, H2, S1, S2, XU, tgt, y, ent, kl, eta_n, rad2, zero, t0, t1, T, rec, ri, hist, sums, part, F, G):
    K, NC = S1.shape[:2]
    for k in numba.prange(K):  # one network per task, its steps in order: no barrier between steps
        if t0 == 0:  # the logits at W(0); later segments continue from the logits left in F
            for c in range(NC):
                forward(C1[k, c], C2[k, c], H1[k, c], H2[k, c], S1[k, c], S2[k, c], XU, G[k], rad2[k], zero,
                        part[k, c, 1:])
            _gather(F[k], part[k], sums[k], False)
        rk = ri
        for t in range(t0, t1):
            rk = _observe(F[k], tgt, y, ent, kl, t, rec, rk, hist[k], sums[k])
            sums[k, 0] += sums[k, 2]
            sums[k, 1] += sums[k, 3]
            _dloss(F[k], tgt, kl, eta_n, G[k])
            for c in range(NC):  # the sweep, chunk by chunk
                part[k, c, 0] = sweep(C1[k, c], C2[k, c], H1[k, c], H2[k, c], S1[k, c], S2[k, c], XU, G[k], rad2[k],
                                      zero, part[k, c, 1:])
            _gather(F[k], part[k], sums[k], True)
        if t1 == T:  # the risk and error at W(T), recorded when T is a recorded iteration
            _observe(F[k], tgt, y, ent, kl, T, rec, rk, hist[k], sums[k])
"""


def _compile(N, R, sym):
    """The compiled driver for ``N`` points, ``R`` coordinates, symmetric pairs or not (memoised)."""
    key = (N, R, sym)
    if key not in _CACHE:
        ns = {
            "math": math,
            "np": np,
            "numba": numba,
            "_observe": _observe,
            "_dloss": _dloss,
            "_gather": _gather,
            "_fmax": _fmax,
            "_gt": _gt,
        }
        jit = numba.njit(nogil=True, fastmath=_FLAGS, error_model="numpy")
        for update in (True, False):
            src = _sweep_source(N, R, sym, update)
            exec(compile(src, f"<ntkdistill trajectory sweep n={N} r={R}>", "exec"), ns)  # noqa: S102
            name = "sweep" if update else "forward"
            ns[name] = jit(ns[name])
        exec(compile(_DRIVER, "<ntkdistill trajectory driver>", "exec"), ns)  # noqa: S102
        _CACHE[key] = numba.njit(nogil=True, parallel=True, error_model="numpy")(ns["drive"])
    return _CACHE[key]


def _njit(fn):
    if not AVAILABLE:  # pragma: no cover - depends on the environment
        return fn
    return numba.njit(nogil=True, cache=True, error_model="numpy")(fn)


@_njit
def _observe(f, tgt, y, ent, kl, t, rec, ri, hist, sums):
    r"""Risk and error of one network at its logits ``f`` (n,) at iteration ``t``.

    Writes them to ``sums[2:4]`` and to ``hist[:, ri]`` when ``rec[ri] == t``; returns the next
    ``ri``. Each loss term in the dtype of ``f`` (the formulas of :func:`ntkdistill.losses.kl_loss`
    and :func:`~ntkdistill.losses.logistic_loss` with :math:`\mathrm{sp}(x) = \max(x, 0) +
    \ln(1 + e^{-|x|})`), summed in float64; errors are :math:`y_i f_i \le 0` (ties count, E6).
    """
    n = f.shape[0]
    zero = tgt[0] - tgt[0]  # 0 in the dtype (the targets are finite)
    one = type(zero)(1)
    risk = 0.0
    err = 0
    for i in range(n):
        fi = f[i]
        ti = tgt[i]
        if kl:
            u = fi
        else:
            u = -ti * fi
        L = math.log1p(math.exp(-abs(u)))
        if kl:
            v = ((one - ti) * fi if fi > zero else -ti * fi) + L + ent[i]
            v = zero if v < zero else v
        else:
            v = (u if u > zero else zero) + L
        risk += np.float64(v)
        err += y[i] * fi <= zero
    risk /= n
    e = err / n
    sums[2] = risk
    sums[3] = e
    if ri < rec.shape[0] and rec[ri] == t:
        hist[0, ri] = risk
        hist[1, ri] = e
        ri += 1
    return ri


@_njit
def _dloss(f, tgt, kl, eta_n, G):
    r"""``G = (eta / n) l'(f)``: :math:`\mu(f) - p` (soft labels, E1) or :math:`-y\,\mu(-y f)`."""
    zero = tgt[0] - tgt[0]
    one = type(zero)(1)
    for i in range(f.shape[0]):
        u = f[i] if kl else -tgt[i] * f[i]
        if u >= zero:
            mu = one / (one + math.exp(-u))
        else:
            e = math.exp(u)
            mu = e / (one + e)
        G[i] = eta_n * (mu - tgt[i] if kl else -tgt[i] * mu)


@_njit
def _gather(f, part, sums, step):
    """One network's logits (n,) as the sum of its chunks' partial logits in chunk order; distances."""
    NC, w = part.shape
    for i in range(w - 1):
        acc = part[0, 1 + i]
        for c in range(1, NC):
            acc += part[c, 1 + i]
        f[i] = acc
    if step:
        for c in range(NC):
            m2 = np.float64(part[c, 0])
            if m2 > sums[4]:
                sums[4] = m2


def default_threads():
    """The threads :func:`run_trajectory` uses when not told: numba's, capped by the BLAS's where
    threadpoolctl sees a BLAS (the engine's rule: one inside a sweep's job); 1 without numba.

    Examples
    --------
    >>> default_threads() >= 1
    True
    """
    if not AVAILABLE:
        return 1
    from .threads import blas_controller, blas_threads

    ctl = blas_controller()
    now = numba.get_num_threads()
    return max(1, min(now, blas_threads(ctl))) if ctl is not None else now


#: The sweep vectorises up to this many point-coordinates (n times the rank of X); beyond, it is
#: slower than the engine (``python -m benchmarks.trajectory``, benchmarks/README.md).
MAX_VECTOR_NR = 16
#: Neuron-steps (all networks) below which the one-off compilation of a new (n, r), 10-30 s, costs
#: more than the kernel saves over the engine.
MIN_NEURON_STEPS = 10**9


def trajectory_pays(n, rank, neurons, T):
    """Whether :func:`ntkdistill.pgd` (``backend="auto"``) runs :func:`run_trajectory` rather than the engine.

    Numba installed, ``n * rank <= MAX_VECTOR_NR`` (where the sweep vectorises) and at least
    ``MIN_NEURON_STEPS`` neuron-steps in all (enough work to amortise its compilation).

    Examples
    --------
    >>> trajectory_pays(2, 1, 5 * 128636, 614145) == AVAILABLE
    True
    >>> trajectory_pays(2, 1, 64, 1000)
    False
    """
    return bool(AVAILABLE and n <= MAX_POINTS and n * rank <= MAX_VECTOR_NR and neurons * T >= MIN_NEURON_STEPS)


def _check_inits(W0, a, d):
    """``W0`` as (K, m, d) and ``a`` as (K, m), checked: m even, entries of ``a`` in {-1, +1}, ``W0`` finite."""
    W0 = np.asarray(W0)
    W0 = W0[None] if W0.ndim == 2 else W0
    a = np.asarray(a)
    a = a[None] if a.ndim == 1 else a
    if W0.ndim != 3 or W0.shape[2] != d or W0.shape[1] % 2 or W0.shape[1] < 2:
        raise ValueError(f"W0 must have shape (K, m, {d}) with m even and positive, got {W0.shape}.")
    if a.shape != W0.shape[:2] or not np.all(np.isin(a, (-1, 1))):
        raise ValueError(f"a must have shape {W0.shape[:2]} with entries in {{-1, +1}}, got shape {a.shape}.")
    if not np.all(np.isfinite(W0)):
        raise ValueError("W0 must be finite.")
    return W0, a


def run_trajectory(
    X, targets, W0, a, *, eta, T, B=np.inf, loss="kl", labels=None, record_every=1, dtype=None, threads=None
):
    r"""Train ``K`` networks of one width by PGD, the whole trajectory compiled (see the module docstring).

    .. math::

        W_j(t+1) = \Pi_{\|W_j - W_j(0)\| \le B/\sqrt m}\Bigl(W_j(t) - \eta \nabla_{W_j} R(W(t))\Bigr)

    Parameters
    ----------
    X : array, shape (n, d), ``n <= MAX_POINTS``
    targets : array, shape (n,)
        Soft labels in [0, 1] (``loss="kl"``) or labels in {-1, +1} (``loss="logistic"``).
    W0 : array, shape (K, m, d) or (m, d)
        Initial weights of the K networks (``m`` even).
    a : array, shape (K, m) or (m,)
        Output weights, entries in {-1, +1}.
    eta, T, B, loss, labels, record_every :
        As in :func:`ntkdistill.pgd` (``labels`` default: the targets' signs).
    dtype : None, float32 or float64
        Working dtype (default: that of ``X`` if floating, else float64).
    threads : int, optional
        Threads of the sweep (``numba.set_num_threads`` for the call; default: the BLAS thread
        count where threadpoolctl sees one, so one inside a sweep job, else numba's). Results do
        not depend on it.

    Returns
    -------
    dict with ``iterations`` (R,), ``risk`` and ``error`` (K, R), ``avg_risk``, ``avg_error``,
    ``final_risk``, ``final_error``, ``max_distance`` (K,), all float64 as in
    :class:`ntkdistill.PGDResult`, and ``W`` (K, m, d), the final weights in the working dtype.

    Examples
    --------
    >>> import numpy as np
    >>> from ntkdistill.student import init_symmetric
    >>> X = np.array([[1.0, 0.0], [-1.0, 0.0]])
    >>> if not AVAILABLE: import pytest; pytest.skip("needs numba (the 'fast' extra)")
    >>> W0, a = init_symmetric(8, 2, rng=0)
    >>> out = run_trajectory(X, np.array([0.6, 0.4]), W0, a, eta=1.0, T=20)
    >>> out["risk"].shape, float(out["error"][0, 0]), bool(out["risk"][0, -1] < out["risk"][0, 0])
    ((1, 21), 1.0, True)
    """
    if not AVAILABLE:
        raise ImportError("run_trajectory needs numba: pip install 'ntkdistill[fast]'.")
    from ntkdistill._validation import check_int, check_labels, check_matrix, check_probabilities, check_real

    X = check_matrix("X", X, dtype=dtype)
    dt = X.dtype
    n, d = X.shape
    if n > MAX_POINTS:
        raise ValueError(f"X has n = {n} rows; the trajectory kernel is built for n <= {MAX_POINTS}.")
    if loss not in ("kl", "logistic"):
        raise ValueError(f"loss == {loss!r}, must be one of ('kl', 'logistic').")
    if loss == "kl":
        tgt = check_probabilities("targets", targets, n=n)
        y = np.sign(tgt - 0.5) if labels is None else check_labels("labels", labels, n=n)
    else:
        tgt = check_labels("targets", targets, n=n)
        y = tgt if labels is None else check_labels("labels", labels, n=n)
    W0, a = _check_inits(W0, a, d)
    K, m = W0.shape[:2]
    eta = check_real("eta", eta, low=0.0)
    T = check_int("T", T, minimum=1)
    B = check_real("B", B, low=0.0, allow_inf=True)
    if record_every is not None and record_every != 0:
        record_every = check_int("record_every", record_every, minimum=1)
    else:
        record_every = None
    if threads is not None:
        threads = check_int("threads", threads, minimum=1)
        if threads > numba.config.NUMBA_NUM_THREADS:
            raise ValueError(f"threads == {threads}, must be <= {numba.config.NUMBA_NUM_THREADS} (numba's threads).")

    # ------------------------------------------------------------------ the state
    h = m // 2
    W0 = W0.astype(dt, copy=False)
    Xf = X.astype(np.float64)
    _, sv, Vt = np.linalg.svd(Xf)
    r = int(np.sum(sv > sv[0] * max(n, d) * np.finfo(np.float64).eps)) if sv.size and sv[0] > 0 else 0
    U = Vt[:r] if r else np.eye(1, d)  # no data direction: one coordinate that never moves
    R = U.shape[0]
    XU = (Xf @ U.T).astype(dt)
    sym = bool(np.array_equal(W0[:, :h], W0[:, h:]) and np.array_equal(a[:, :h], -a[:, h:]))
    # pairs in chunks of CH (contiguous blocks, padded with pairs of zero output weight that add
    # exact zeros): each task's arrays are C-contiguous, so that its loop vectorises
    CH = min(CHUNK, -(-h // 16) * 16)
    NC = -(-h // CH)
    hp = NC * CH

    def blocked(A):  # (K, rows, h) -> (K, NC, rows, CH), zero-padded
        out = np.zeros((K, A.shape[1], hp), dtype=dt)
        out[:, :, :h] = A
        return np.ascontiguousarray(out.reshape(K, A.shape[1], NC, CH).transpose(0, 2, 1, 3))

    H0 = np.matmul(W0, X.T).transpose(0, 2, 1)  # (K, n, m): W_j(0) . x_i
    S = (a.astype(np.float64) / np.sqrt(m)).astype(dt)[:, None, :]  # as pgd: a_j / sqrt(m) in the dtype
    H1, S1 = blocked(H0[:, :, :h]), np.ascontiguousarray(blocked(S[:, :, :h])[:, :, 0])
    H2, S2 = (H1, S1) if sym else (blocked(H0[:, :, h:]), np.ascontiguousarray(blocked(S[:, :, h:])[:, :, 0]))
    C1 = np.zeros((K, NC, R, CH), dtype=dt)
    C2 = np.zeros((K, NC, R, CH), dtype=dt)
    radius = dt.type(B / np.sqrt(m))  # as pgd: B / sqrt(m) in the dtype
    rad2 = np.full(K, np.float64(radius) ** 2, dtype=dt)
    tg = tgt.astype(dt)
    yy = y.astype(dt)
    from ntkdistill.losses import _neg_entropy

    ent = _neg_entropy(tg) if loss == "kl" else np.zeros(n, dtype=dt)
    rec = np.array(
        [0] + ([] if record_every is None else list(range(record_every, T + 1, record_every))), dtype=np.int64
    )
    hist = np.full((K, 2, rec.size), np.nan)
    sums = np.zeros((K, 5))  # sums of risk and error over t < T, latest risk and error, max squared distance
    part = np.zeros((K, NC, n + 1), dtype=dt)
    F = np.zeros((K, n), dtype=dt)
    G = np.zeros((K, n), dtype=dt)
    eta_n = dt.type(eta / n)
    drive = _compile(n, R, sym)

    # ------------------------------------------------------------------ the trajectory, in segments
    seg = max(1, _SEGMENT_WORK // (K * m))
    before = numba.get_num_threads()
    if threads is None:  # the engine's rule: as many threads as the BLAS (one inside a sweep's job)
        threads = default_threads()
    numba.set_num_threads(threads)
    try:
        ri = 0
        for t0 in range(0, T, seg):
            t1 = min(T, t0 + seg)
            drive(C1, C2, H1, H2, S1, S2, XU, tg, yy, ent, loss == "kl", eta_n, rad2, dt.type(0), t0, t1, T, rec,
                  ri, hist, sums, part, F, G)  # fmt: skip
            ri = int(np.searchsorted(rec, t1))  # the recorded iterations before t1 are done
    finally:
        numba.set_num_threads(before)

    # the largest squared distance before projection: above the squared radius, some row was
    # projected onto its sphere, at distance B / sqrt(m) (as the engine records it); below, it is
    # the largest distance of any row at any step
    m2 = sums[:, 4].astype(dt)
    dist = np.where(m2 > rad2, radius, np.sqrt(m2)).astype(np.float64)
    coords = np.concatenate(
        [C1.transpose(0, 2, 1, 3).reshape(K, R, hp)[:, :, :h], C2.transpose(0, 2, 1, 3).reshape(K, R, hp)[:, :, :h]],
        axis=2,
    )  # (K, R, m)
    W = (W0.astype(np.float64) + np.matmul(coords.transpose(0, 2, 1).astype(np.float64), U)).astype(dt)
    return {
        "iterations": rec,
        "risk": hist[:, 0],
        "error": hist[:, 1],
        "avg_risk": sums[:, 0] / T,
        "avg_error": sums[:, 1] / T,
        "final_risk": sums[:, 2].copy(),
        "final_error": sums[:, 3].copy(),
        "max_distance": dist,
        "W": W,
    }
