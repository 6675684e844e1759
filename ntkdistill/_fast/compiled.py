r"""Compiled inner loops of the PGD step and the Monte Carlo sums (private; optional, used when numba is installed).

Used by :mod:`ntkdistill._fast.engine`:

:func:`neurons_forward`, :func:`neurons_backward` (strategy ``"neurons"``)
    A worker's blocks of neuron pairs in one call each: the BLAS products (``np.dot``, which
    numba hands to SciPy's BLAS without the GIL) and, in pass 1, :func:`pairs_forward`; in pass
    2, the masks as numbers before the backward product. No Python work between blocks, which
    on many small blocks (n = 200, d = 10) took as long as the products.
:func:`pairs_forward` (strategy ``"neurons"``)
    After the forward product of a block of neuron pairs, the NumPy engine makes five passes
    over the block's pre-activations (the mask, the absolute value, the ReLU, the pair
    difference, the sum over neurons), each a separate NumPy call. This loop does them in one
    pass while the block is in cache. The products stay with the BLAS, which is faster at them
    than a loop written here.
:func:`rows_fused` (strategy ``"rows"``, few neurons)
    The whole step for a range of rows of ``X``, four rows at a time: the forward products of
    the four rows with every neuron, the logits, the loss derivative and the four rows' share
    of the backward product, while the rows are in the first-level cache. ``X`` is read from
    memory once per step, and the products of a few neurons (for which the BLAS's kernels,
    made for wide matrices, reach a fifth of their peak rate) run in register tiles of four
    rows by four neurons. Used only for few neurons with many features each, for which the
    tiles' fixed costs are small (:data:`ntkdistill._fast.engine._FUSED_MAX_NEURONS`,
    :data:`~ntkdistill._fast.engine._FUSED_FEATURES_PER_NEURON`), and when the weights and the
    gradient fit in the second-level cache (:data:`~ntkdistill._fast.engine._FUSED_MAX_BYTES`).
:func:`rows_middle`, :func:`rows_middle_t`, :func:`rows_mask_t` (strategy ``"rows"``, more neurons)
    Between the BLAS products of a block of rows: the logits, the loss derivative and ``G`` in
    place of the pre-activations, one pass per row (or, transposed, per neuron); or, folded,
    the logits, the loss derivatives and the mask in place of the pre-activations in one pass
    per neuron, the loss derivative then folded into the backward product's small operand.
:func:`update_rows` (both strategies), :func:`update_sum` (strategy ``"rows"`` with the BLAS products)
    The gradient step and the projection of each row in one pass; :func:`update_sum` first sums
    the workers' gradients (transposed or not) a chunk of rows at a time.
:func:`risk_err` (both strategies)
    The surrogate risk and the classification error of every network, one pass over the logits
    (their softplus's exponential and logarithm computed before, by NumPy).
:func:`masked_sums` (:mod:`ntkdistill._fast.montecarlo`, the teacher logits)
    The sums of :math:`M_{si}` and :math:`M_{si}^2` of a sub-block of directions in one pass.

Arguments that travel together come as tuples (no signature takes more than ten): ``net``, the
output weights and the layout of the stacked networks (e.g. ``(s, owner, same, paired)``);
``loss``, ``(tgt, kl, inv_n, zero)``; ``step``, ``(eta, scale, radius, project)``; ``labels``,
``(tgt, y, ent, kl, zero)``; and the scratch buffers; each function unpacks them first.

The arithmetic is the plain one (THEORY.md; ``pgd(..., backend="reference")`` runs it as written);
only the order of the sums and the rounding of fused multiply-adds change, so the results agree
with the plain step to rounding (tested to 1e-12 in float64). The dot products over the ``d``
features, and the update's sums of squares over them (and its step, ``W - grad (c eta)``), may
be reassociated (vectorised, as a BLAS does); the sums over neurons run in order, except in
:func:`rows_middle` for wide networks (at least 16 pairs per network on average), where a
network's sum over its pairs is vectorised too; each pair's difference is formed first
everywhere, so a pair of bitwise equal rows still adds exactly 0 (E6). The loops work in the
dtype of their arrays (``zero`` is a scalar of that dtype; every constant is made from it, so
float32 stays float32, tested) and release the GIL, so the engine runs them on its worker
threads.

Non-finite values: a ``-inf`` pre-activation gives a ReLU of 0 here, NaN in the NumPy passes;
in :func:`rows_fused`, :func:`rows_middle` and :func:`rows_middle_t` a NaN loss derivative
reaches only the active neurons' gradients (the NumPy rows path multiplies it by the mask, which
spreads it to all, as does the folded product after :func:`rows_mask_t`). With finite data and
weights (which :func:`ntkdistill.pgd` checks) neither occurs.
"""

from __future__ import annotations

import numpy as np

try:  # pragma: no cover - depends on the environment
    import numba

    AVAILABLE = True
except ImportError:  # pragma: no cover - depends on the environment
    numba = None  # type: ignore[assignment]  # None marks the optional module absent
    AVAILABLE = False

__all__: list[str] = []

# Contraction allows fused multiply-adds; no flag that assumes away NaN or infinity, and no
# reassociation (the sums run over neurons in order, as written).
_FASTMATH = {"contract"}
# The tile products over the d features alone (forward dot products, backward row updates), the
# update (its sum of squares over the d features; the factor c eta of its step), and a wide
# network's sum over its pairs in rows_middle (_pair_sum), may also be reassociated, so that they
# vectorise (a BLAS reorders such sums too).
_FASTMATH_DOT = {"contract", "reassoc"}


def _jit(fn, flags=_FASTMATH):
    if not AVAILABLE:  # pragma: no cover - depends on the environment
        return fn
    return numba.njit(nogil=True, cache=True, fastmath=flags, error_model="numpy")(fn)


def _jit_dot(fn):
    return _jit(fn, _FASTMATH_DOT)


@_jit
def _relu(a, zero):
    # max(0, a) with the mask's strict >, NaN passed through as np.maximum does
    return zero if a <= zero else a


@_jit
def _pair_term(a, c, s1, s2, paired, zero):
    # a pair's share of the logit (eq. 1): s1 relu(a) + s2 relu(c); when paired (s2 = -s1) as
    # s1 (relu(a) - relu(c)), the difference first: exactly 0 for equal pairs (E6)
    if paired:
        return s1 * (_relu(a, zero) - _relu(c, zero))
    return s1 * _relu(a, zero) + s2 * _relu(c, zero)


@_jit
def pairs_forward(A, B, s1, s2, paired, same, zero, mask_a, mask_b, v):
    """Strategy "neurons", pass 1, after the product: one pass over a block of pairs.

    ``A`` and ``B`` (b, n) hold the pre-activations of the block's first and second halves;
    ``s1``, ``s2`` (b,) their output weights, ``same`` (b,) the pairs with bitwise equal rows
    (``B[p]`` is set to ``A[p]``). Writes the masks :math:`1(H > 0)` into ``mask_a``, ``mask_b``
    (b, n) and sets ``v`` (n,) to the block's share of the logits,
    :math:`\\sum_p s_{1p} \\max(0, A_{pi}) + s_{2p} \\max(0, B_{pi})`, pair by pair (as
    :math:`s_{1p}(\\max(0, A_{pi}) - \\max(0, B_{pi}))` when ``paired``: exactly 0 for equal pairs).
    Pass C-contiguous arrays: the compiled loop is several times slower on strided ones.
    """
    b, n = A.shape
    for i in range(n):
        v[i] = zero
    for p in range(b):
        if same[p]:
            for i in range(n):
                B[p, i] = A[p, i]
        sa = s1[p]
        sb = s2[p]
        for i in range(n):
            a = A[p, i]
            c = B[p, i]
            mask_a[p, i] = a > zero
            mask_b[p, i] = c > zero
            v[i] += _pair_term(a, c, sa, sb, paired, zero)


@_jit
def neurons_forward(W, XT, blocks, net, masks, scratch, fT):
    r"""Strategy "neurons", pass 1, for one worker's blocks of pairs, products included.

    ``blocks`` (nb, 3) rows ``(lo, hi, k)``: the pairs ``[lo, hi)`` of network ``k``. For each
    block, the BLAS products ``A = W[lo:hi] X^T`` and ``B = W[h + lo:h + hi] X^T`` (``XT`` is
    ``X^T``, C-contiguous), then :func:`pairs_forward` (masks into ``mask_a``, ``mask_b`` (h, n),
    the block's share of the logits added to ``fT[k]`` (K, n)). ``A``, ``B`` (at least
    ``hi - lo`` rows, n) are scratch. One call for all the blocks: no Python work between them.
    """
    s1, s2, paired, same, zero = net
    mask_a, mask_b = masks
    A, B, v = scratch
    h = mask_a.shape[0]
    n = XT.shape[1]
    for t in range(blocks.shape[0]):
        lo = blocks[t, 0]
        hi = blocks[t, 1]
        k = blocks[t, 2]
        b = hi - lo
        np.dot(W[lo:hi], XT, A[:b])
        np.dot(W[h + lo : h + hi], XT, B[:b])
        pairs_forward(A[:b], B[:b], s1[lo:hi], s2[lo:hi], paired, same[lo:hi], zero, mask_a[lo:hi], mask_b[lo:hi], v)
        for i in range(n):
            fT[k, i] += v[i]


@_jit
def neurons_backward(mask_a, mask_b, gX, blocks, C, grad):
    r"""Strategy "neurons", pass 2, for one worker's blocks of pairs, products included.

    For each block ``(lo, hi, k)`` of ``blocks`` and each half, the masks (bool, (h, n)) as
    numbers in ``C`` (scratch, at least ``hi - lo`` rows), then the BLAS product
    :math:`1(H > 0)\,(g_k \odot X)` with ``gX[k]`` (n, d) into the rows of ``grad`` (2h, d):
    the gradient before the output weight (E3).
    """
    h = mask_a.shape[0]
    n = mask_a.shape[1]
    one = C.dtype.type(1)
    zero = C.dtype.type(0)
    for t in range(blocks.shape[0]):
        lo = blocks[t, 0]
        hi = blocks[t, 1]
        k = blocks[t, 2]
        b = hi - lo
        Cb = C[:b]
        for half in range(2):
            m = mask_a if half == 0 else mask_b
            for p in range(b):
                for i in range(n):
                    Cb[p, i] = one if m[lo + p, i] else zero
            off = half * h
            np.dot(Cb, gX[k], grad[off + lo : off + hi])


@_jit_dot
def _dot4x4(x0, x1, x2, x3, w0, w1, w2, w3, z):
    # the 16 dot products of four rows with four neurons, in registers
    a00 = a01 = a02 = a03 = a10 = a11 = a12 = a13 = z
    a20 = a21 = a22 = a23 = a30 = a31 = a32 = a33 = z
    for t in range(x0.shape[0]):
        v0, v1, v2, v3 = x0[t], x1[t], x2[t], x3[t]
        u0, u1, u2, u3 = w0[t], w1[t], w2[t], w3[t]
        a00 += v0 * u0
        a01 += v0 * u1
        a02 += v0 * u2
        a03 += v0 * u3  # noqa: E702
        a10 += v1 * u0
        a11 += v1 * u1
        a12 += v1 * u2
        a13 += v1 * u3  # noqa: E702
        a20 += v2 * u0
        a21 += v2 * u1
        a22 += v2 * u2
        a23 += v2 * u3  # noqa: E702
        a30 += v3 * u0
        a31 += v3 * u1
        a32 += v3 * u2
        a33 += v3 * u3  # noqa: E702
    return (a00, a01, a02, a03, a10, a11, a12, a13, a20, a21, a22, a23, a30, a31, a32, a33)


@_jit_dot
def _dot4x1(x0, x1, x2, x3, w, z):
    a0 = a1 = a2 = a3 = z
    for t in range(x0.shape[0]):
        u = w[t]
        a0 += x0[t] * u
        a1 += x1[t] * u
        a2 += x2[t] * u
        a3 += x3[t] * u  # noqa: E702
    return a0, a1, a2, a3


@_jit_dot
def _axpy4x4(c, x0, x1, x2, x3, y0, y1, y2, y3):
    # y_k += sum_q c[q, k] x_q for four neurons k and four rows q
    c00, c01, c02, c03 = c[0, 0], c[0, 1], c[0, 2], c[0, 3]
    c10, c11, c12, c13 = c[1, 0], c[1, 1], c[1, 2], c[1, 3]
    c20, c21, c22, c23 = c[2, 0], c[2, 1], c[2, 2], c[2, 3]
    c30, c31, c32, c33 = c[3, 0], c[3, 1], c[3, 2], c[3, 3]
    for t in range(x0.shape[0]):
        v0, v1, v2, v3 = x0[t], x1[t], x2[t], x3[t]
        y0[t] += c00 * v0 + c10 * v1 + c20 * v2 + c30 * v3
        y1[t] += c01 * v0 + c11 * v1 + c21 * v2 + c31 * v3
        y2[t] += c02 * v0 + c12 * v1 + c22 * v2 + c32 * v3
        y3[t] += c03 * v0 + c13 * v1 + c23 * v2 + c33 * v3


@_jit_dot
def _axpy4x1(c0, c1, c2, c3, x0, x1, x2, x3, y):
    for t in range(x0.shape[0]):
        y[t] += c0 * x0[t] + c1 * x1[t] + c2 * x2[t] + c3 * x3[t]


@_jit
def rows_fused(X, lo, hi, W, net, loss, backward, F, acc, tiles):
    r"""Strategy "rows", compiled: the step's work for the rows ``[lo, hi)`` of ``X``.

    ``W`` (M, d) the stacked weights (rows ``[0, h)`` first halves, ``[h, 2h)`` second halves),
    ``s`` (M,) the output weights :math:`a_j/\sqrt m`, ``owner`` (h,) each pair's network,
    ``same`` (h,) the pairs with bitwise equal rows (the second row's pre-activations are set
    to the first's), ``tgt`` (n,) the targets, ``kl`` the loss (soft KL, else logistic),
    ``inv_n`` :math:`1/n`. Writes the logits of the rows into ``F`` (n, K) (eq. 1) and, when
    ``backward``, adds their share of the gradient, :math:`\sum_i \ell'(f_{ik})/n\; s_j
    1(H_{ij} > 0)\, x_i` (THEORY.md, E3, strict :math:`>` E5; :math:`\ell' = \mu(f) - p`, E1,
    or :math:`-y\mu(-yf)`), to ``acc`` (M, d). ``Hb``, ``Gb`` (4, M) are scratch. Pass
    C-contiguous arrays.

    This function is compiled without reassociation (the sums over neurons run in order); only
    the tile products it calls, over the features, are compiled with it.
    """
    s, owner, same, paired = net
    tgt, kl, inv_n, zero = loss
    Hb, Gb = tiles
    M = W.shape[0]
    h = M // 2
    K = F.shape[1]
    M4 = M - M % 4
    one = type(zero)(1)  # zero + 1 would be float64 for float32 zero (int64 literal)
    g = np.empty(K, dtype=F.dtype)  # the loss derivative of one row, per network
    for i0 in range(lo, hi, 4):
        r = min(4, hi - i0)
        # a tile of fewer than four rows repeats its first row; the copies get zero weight
        x0 = X[i0]
        x1 = X[i0 + 1] if r > 1 else x0
        x2 = X[i0 + 2] if r > 2 else x0
        x3 = X[i0 + 3] if r > 3 else x0
        for j in range(0, M4, 4):
            t16 = _dot4x4(x0, x1, x2, x3, W[j], W[j + 1], W[j + 2], W[j + 3], zero)
            for q in range(4):
                for k in range(4):
                    Hb[q, j + k] = t16[4 * q + k]
        for j in range(M4, M):
            t4 = _dot4x1(x0, x1, x2, x3, W[j], zero)
            for q in range(4):
                Hb[q, j] = t4[q]
        for q in range(4):
            for j in range(M):
                Gb[q, j] = zero
        for q in range(r):
            i = i0 + q
            for p in range(h):
                if same[p]:
                    Hb[q, h + p] = Hb[q, p]
            for k in range(K):
                F[i, k] = zero
            for p in range(h):
                a = Hb[q, p]
                c = Hb[q, h + p]
                if paired:  # pair by pair first: exactly 0 for equal pairs
                    F[i, owner[p]] += s[p] * (_relu(a, zero) - _relu(c, zero))
                else:
                    F[i, owner[p]] += s[p] * _relu(a, zero) + s[h + p] * _relu(c, zero)
            if not backward:
                continue
            ti = tgt[i]
            for k in range(K):
                g[k] = _dloss(F[i, k], ti, kl, inv_n, one)
            for j in range(M):
                if Hb[q, j] > zero:
                    Gb[q, j] = g[owner[j % h]] * s[j]
        if backward:
            for j in range(0, M4, 4):
                _axpy4x4(Gb[:, j : j + 4], x0, x1, x2, x3, acc[j], acc[j + 1], acc[j + 2], acc[j + 3])
            for j in range(M4, M):
                _axpy4x1(Gb[0, j], Gb[1, j], Gb[2, j], Gb[3, j], x0, x1, x2, x3, acc[j])


@_jit
def _dloss(f, t, kl, inv_n, one):
    # the loss derivative over n at one logit: (mu(f) - p) / n (soft, E1) or -y mu(-y f) / n
    if kl:
        return (one / (one + np.exp(-f)) - t) * inv_n
    return -(one / (one + np.exp(f * t)) * t) * inv_n


@_jit_dot
def _pair_sum(x1, x2, s1, s2, paired, zero):
    # sum over pairs of s1 relu(x1) + s2 relu(x2) (1-D arrays); the sum may be reassociated
    # (vectorised); when paired, each pair's difference is formed first (exactly 0 for equal pairs, E6)
    acc = zero
    for p in range(x1.shape[0]):
        acc += _pair_term(x1[p], x2[p], s1[p], s2[p], paired, zero)
    return acc


@_jit
def _masked_scale(x, s, g, zero):
    # x = g s where x > 0, else 0 (1-D arrays, in place)
    for p in range(x.shape[0]):
        v = x[p]
        t = g * s[p]
        x[p] = t if v > zero else zero


@_jit
def rows_middle(H, i0, net, loss, backward, F, g):
    r"""Strategy "rows" with the BLAS products: the work between them, one pass per row of a block.

    ``H`` (b, M) holds the pre-activations :math:`X_b W^\top` of the rows ``[i0, i0 + b)``
    (columns ``[0, h)`` first halves, ``[h, 2h)`` second halves), ``s`` (M,) the output weights,
    ``starts`` (K + 1,) the first pair of each network and ``h`` last, ``owner`` (h,) each pair's
    network, ``same_idx`` the pairs with bitwise equal rows (their second column is set to the
    first). Writes the logits into ``F`` (n, K), each pair's difference formed first (exactly 0
    for equal pairs, E6), and, when ``backward``, overwrites ``H`` with
    :math:`G_{ij} = \ell'(f_{ik})/n\; s_j\, 1(H_{ij} > 0)` (THEORY.md, E3, strict :math:`>` E5),
    ready for the backward product :math:`X_b^\top G`: the product :math:`\ell' s_j` is the one
    the NumPy pass forms, so ``G`` is bitwise the same. ``g`` (K,) is scratch. Pass C-contiguous
    arrays.

    Wide networks (16 pairs or more each on average): a vectorised sum per network (it may be
    reassociated). Many narrow networks: one pass over the pairs in order, each term added to its
    network's logit, and one pass over the neurons for ``G``.
    """
    s, starts, owner, same_idx, paired = net
    tgt, kl, inv_n, zero = loss
    b, M = H.shape
    h = M // 2
    K = F.shape[1]
    one = type(zero)(1)
    wide = h >= 16 * K
    for q in range(b):
        i = i0 + q
        row = H[q]
        first = row[:h]
        second = row[h:]
        for t in range(same_idx.shape[0]):
            p = same_idx[t]
            second[p] = first[p]
        ti = tgt[i]
        if wide:
            for k in range(K):
                a = starts[k]
                e = starts[k + 1]
                f = _pair_sum(first[a:e], second[a:e], s[a:e], s[h + a : h + e], paired, zero)
                F[i, k] = f
                if backward:
                    gk = _dloss(f, ti, kl, inv_n, one)
                    _masked_scale(first[a:e], s[a:e], gk, zero)
                    _masked_scale(second[a:e], s[h + a : h + e], gk, zero)
            continue
        for k in range(K):
            g[k] = zero
        for p in range(h):
            g[owner[p]] += _pair_term(first[p], second[p], s[p], s[h + p], paired, zero)
        for k in range(K):
            F[i, k] = g[k]
            if backward:
                g[k] = _dloss(g[k], ti, kl, inv_n, one)
        if backward:
            for p in range(h):
                gp = g[owner[p]]
                v = first[p]
                t1 = gp * s[p]
                first[p] = t1 if v > zero else zero
                v = second[p]
                t2 = gp * s[h + p]
                second[p] = t2 if v > zero else zero


@_jit
def _copy_same_t(HT, same_idx):
    # transposed pre-activations (M, b): the second row of each pair with bitwise equal weights set
    # to the first (E6: equal rows get equal pre-activations, whatever the BLAS does)
    h = HT.shape[0] // 2
    for t in range(same_idx.shape[0]):
        p = same_idx[t]
        for q in range(HT.shape[1]):
            HT[h + p, q] = HT[p, q]


@_jit
def rows_middle_t(HT, i0, net, loss, backward, F, v):
    r""":func:`rows_middle` on the transposed pre-activations ``HT`` (M, b) (column ``q`` is row ``i0 + q``).

    For few neurons and many features the BLAS runs :math:`W X_b^\top` and :math:`G^\top X_b`
    faster than the products of :func:`rows_middle`'s layout. The sums over each network's pairs
    run in order, vectorised over the rows; ``v`` (at least b,) is scratch. Writes ``F`` and, when
    ``backward``, :math:`G^\top` in place of ``HT``, with the arithmetic of :func:`rows_middle`
    for narrow networks (sums over pairs in order).
    """
    s, starts, same_idx, paired = net
    tgt, kl, inv_n, zero = loss
    M, b = HT.shape
    h = M // 2
    K = F.shape[1]
    one = type(zero)(1)
    _copy_same_t(HT, same_idx)
    for k in range(K):
        for q in range(b):
            v[q] = zero
        for p in range(starts[k], starts[k + 1]):
            x1 = HT[p]
            x2 = HT[h + p]
            s1 = s[p]
            s2 = s[h + p]
            for q in range(b):
                v[q] += _pair_term(x1[q], x2[q], s1, s2, paired, zero)
        for q in range(b):
            F[i0 + q, k] = v[q]
        if not backward:
            continue
        for q in range(b):
            v[q] = _dloss(v[q], tgt[i0 + q], kl, inv_n, one)
        for p in range(starts[k], starts[k + 1]):
            for off in range(0, M, h):
                row = HT[off + p]
                sp = s[off + p]
                for q in range(b):
                    x = row[q]
                    t = v[q] * sp
                    row[q] = t if x > zero else zero


@_jit
def rows_mask_t(HT, i0, net, loss, F, gT):
    r""":func:`rows_middle_t` with the loss derivative left out of ``G``: one pass over ``HT`` instead of two.

    For a step (a forward pass alone is :func:`rows_middle_t`'s). ``HT`` (M, b) holds the
    transposed pre-activations :math:`W X_b^\top` of the rows ``[i0, i0 + b)``. Writes the logits
    into ``F`` (sums over each network's pairs in order, vectorised over the rows, each pair's
    difference formed first: E6), overwrites ``HT`` in the same pass with the mask
    :math:`1(H_{ij} > 0)` (1 or 0 in the dtype; strict :math:`>`, E5) and fills ``gT`` (K, at
    least b) with the loss derivatives :math:`\ell'(f_{ik})/n` (THEORY.md, E1). The backward
    product is then, network by network,

    .. math:: \nabla_{W_j} R = s_j \bigl(1(H^\top > 0)\, (g_{\cdot k} \odot X_b)\bigr)_j,

    the loss derivative folded into the small operand :math:`g \odot X_b` (b, d) and the output
    weight applied in the update (:func:`update_sum`'s ``scale``), as in strategy "neurons": the
    same terms as :math:`G^\top X_b`, multiplied in another order. A NaN loss derivative reaches
    every neuron's gradient (``0 * NaN``), as in the NumPy passes.
    """
    s, starts, same_idx, paired = net
    tgt, kl, inv_n, zero = loss
    M, b = HT.shape
    h = M // 2
    K = F.shape[1]
    one = type(zero)(1)
    _copy_same_t(HT, same_idx)
    for k in range(K):
        v = gT[k]
        for q in range(b):
            v[q] = zero
        for p in range(starts[k], starts[k + 1]):
            x1 = HT[p]
            x2 = HT[h + p]
            s1 = s[p]
            s2 = s[h + p]
            for q in range(b):
                a = x1[q]
                c = x2[q]
                v[q] += _pair_term(a, c, s1, s2, paired, zero)
                x1[q] = one if a > zero else zero
                x2[q] = one if c > zero else zero
        for q in range(b):
            F[i0 + q, k] = v[q]
            v[q] = _dloss(v[q], tgt[i0 + q], kl, inv_n, one)


@_jit_dot
def update_rows(W, W0, grad, scale, eta, radius, project, dist):
    r"""The update and projection of the rows of ``W`` in place, one pass per row.

    For every row ``j``: :math:`\hat W_j = W_j - \eta\,(c_j \nabla_j)`, with ``grad`` (rows, d) the
    gradient and ``scale`` (rows,) a factor :math:`c_j` applied first (the output weight, or 1);
    then, when ``project``, the projection onto the ball of radius ``radius[j]`` around
    ``W0[j]``: :math:`W_j = W_j(0) + (\hat W_j - W_j(0)) \min(1, r_j / \|\hat W_j - W_j(0)\|)`
    (the paper's Section 3.1; one ball per row, E9).
    ``dist`` (rows,) receives each row's distance to ``W0`` afterwards. The arithmetic of the
    NumPy update of :mod:`ntkdistill._fast.engine`, to rounding: compiled with reassociation, so the
    step may be formed as ``W - grad (c eta)`` with a fused multiply-add (``c eta`` is still the
    exact negative for the two rows of a pair, whose ``c`` are opposite) and the sum of squares
    over the features is vectorised, as NumPy's ``einsum`` may. Written as one flat loop: with
    the row's work in a helper function it ran 3 to 6 times slower.
    """
    rows, d = W.shape
    for j in range(rows):
        c = scale[j]
        ss = eta - eta  # zero in the dtype
        for t in range(d):
            w = W[j, t] - (grad[j, t] * c) * eta
            W[j, t] = w
            e = w - W0[j, t]
            ss += e * e
        dj = np.sqrt(ss)
        if project and dj > radius[j]:
            factor = radius[j] / dj
            for t in range(d):
                W[j, t] = W0[j, t] + (W[j, t] - W0[j, t]) * factor
            dj = radius[j]
        dist[j] = dj


@_jit
def update_sum(W, W0, parts, transposed, a, b, step, dist, g):
    r""":func:`update_rows` on the rows ``[a, b)`` of ``W`` with the sum of the workers' gradients.

    ``parts`` is a tuple of the P workers' gradients (M, d), or of their transposes (d, M) when
    ``transposed`` (a tuple, not one stacked array: each worker's buffer stays where it was
    allocated; numba compiles a variant per number of workers). The gradient of a row is their
    sum in worker order (the order of the NumPy sum), gathered a chunk of rows at a time into
    the scratch ``g`` (C, d) and applied by :func:`update_rows` with the factors ``scale`` (M,):
    ones where the output weights are in the gradients already, the output weights where they
    are not (:func:`rows_mask_t`). The parts must share one layout (the engine's are all
    C-contiguous; a mixed tuple does not type). ``W``, ``W0``, ``scale``, ``radius`` and ``dist``
    are the full arrays (M rows). One pass instead of a strided copy, a sum and the update.
    """
    eta, scale, radius, project = step
    d = W.shape[1]
    P = len(parts)
    C = g.shape[0]
    for j0 in range(a, b, C):
        c = min(C, b - j0)
        j1 = j0 + c
        if transposed:  # contiguous runs along the rows
            for t in range(d):
                for q in range(c):
                    g[q, t] = parts[0][t, j0 + q]
                for w in range(1, P):
                    for q in range(c):
                        g[q, t] += parts[w][t, j0 + q]
        else:
            for q in range(c):
                for t in range(d):
                    g[q, t] = parts[0][j0 + q, t]
                for w in range(1, P):
                    for t in range(d):
                        g[q, t] += parts[w][j0 + q, t]
        update_rows(W[j0:j1], W0[j0:j1], g[:c], scale[j0:j1], eta, radius[j0:j1], project, dist[j0:j1])


@_jit
def risk_err(F, L, lo, hi, labels, sums, errs):
    r"""The surrogate losses and errors of the rows ``[lo, hi)`` of ``F`` (n, K), added per network.

    ``L`` (at least ``hi - lo``, K) holds :math:`\ln(1 + e^{-|u|})` of each row's logits, row
    ``i`` of ``F`` at row ``i - lo``, with :math:`u = f` (soft labels) or :math:`u = t f` (hard
    labels ``tgt``): the one exponential and one logarithm of a softplus, which NumPy's
    vectorised ``exp`` and ``log1p`` compute about ten times faster than a compiled loop's calls
    (see :func:`ntkdistill._fast.engine.risk_sums`). ``sums`` (K,) float64 receives
    :math:`\sum_i \ell(t_i, f_{ik})` with the loss of :func:`ntkdistill.losses.kl_loss` (``kl``,
    E1, E2: :math:`p\,\mathrm{sp}(-f) + (1-p)\,\mathrm{sp}(f) + e_i`, clipped at 0, with ``ent``
    (n,) the entropy terms :math:`e_i = p_i\ln p_i + (1-p_i)\ln(1-p_i)`) or of
    :func:`ntkdistill.losses.logistic_loss` (:math:`\mathrm{sp}(-y f)`), each term in the dtype
    of ``F``; ``errs`` (K,) int64 receives the count of :math:`y_i f_{ik} \le 0` (ties are errors,
    E6). With :math:`\mathrm{sp}(x) = \max(x, 0) + \ln(1 + e^{-|x|})`, the two softplus terms of
    the soft-label loss share ``L``: :math:`(1-p) f + L` for :math:`f > 0`, :math:`L - p f`
    otherwise; the same value as ``kl_loss`` to a few ulps, infinite for an infinite logit as
    there (not :math:`\infty - \infty`).
    """
    tgt, y, ent, kl, zero = labels
    K = F.shape[1]
    one = type(zero)(1)  # zero + 1 would be float64 for float32 zero (int64 literal)
    for i in range(lo, hi):
        t = tgt[i]
        yi = y[i]
        e = ent[i]
        r = i - lo
        # conditional expressions and the error count added as a boolean, not if-statements: the
        # signs of the logits are not predictable (with if-statements, 2.9 times slower at K = 1)
        for k in range(K):
            f = F[i, k]
            if kl:
                v = ((one - t) * f if f > zero else -t * f) + L[r, k] + e
                v = zero if v < zero else v  # clipped at 0; NaN stays NaN
            else:
                u = -t * f
                v = (u if u > zero else zero) + L[r, k]
            sums[k] += v
            errs[k] += yi * f <= zero


@_jit
def masked_sums(Q, A, zsum, zsq):
    r"""Monte Carlo sums (:mod:`ntkdistill._fast.montecarlo`): ``zsum += sum_s M_s`` and ``zsq += sum_s M_s^2``.

    ``Q`` (b, n) holds :math:`\langle v(z_s), x_i\rangle`, ``A`` (b, n) the masks
    :math:`1(\langle z_s, x_i\rangle > 0)`, so :math:`M_{si} = A_{si} Q_{si}`; ``zsum``, ``zsq``
    (n,) are float64 and every term is taken to float64 first, as the NumPy passes do (one pass
    instead of four: the product with the mask, the sum, the square, the sum of squares).
    """
    b, n = Q.shape
    zero = np.float64(0)
    for s in range(b):
        for i in range(n):
            q = np.float64(Q[s, i]) if A[s, i] else zero
            zsum[i] += q
            zsq[i] += q * q


def warm_up(dtype, readonly_x=False, workers=1):
    """Compile (or load from numba's cache) the loops for ``dtype`` now, not inside a timed step.

    ``readonly_x``: also the variant of :func:`rows_fused` for a read-only ``X`` (numba types it
    apart); ``workers``: the variant of :func:`update_sum` for that many workers' gradients. The
    first call in a process takes from a fraction of a second (cached) to several seconds
    (compiling); later calls return at once. A no-op without numba.
    """
    if not AVAILABLE:  # pragma: no cover - depends on the environment
        return
    dt = np.dtype(dtype)
    if (dt, readonly_x, workers) in _WARM:
        return
    A = np.zeros((1, 2), dt)
    s = np.ones(1, dt)
    mask = np.zeros((1, 2), bool)
    pairs_forward(A, A.copy(), s, -s, True, np.zeros(1, bool), dt.type(0), mask, mask.copy(), np.zeros(2, dt))
    X = np.zeros((1, 2), dt)
    X.flags.writeable = not readonly_x
    W = np.zeros((2, 2), dt)
    z = dt.type(0)
    loss = (np.zeros(1, dt), True, z, z)
    rows_fused(X, 0, 1, W, (np.ones(2, dt), np.zeros(1, np.intp), np.zeros(1, bool), True), loss, True,
               np.zeros((1, 1), dt), np.zeros((2, 2), dt), (np.zeros((4, 2), dt), np.zeros((4, 2), dt)))  # fmt: skip
    idx = np.zeros(0, np.intp)
    starts = np.array([0, 1], np.intp)
    update_rows(W, W.copy(), W.copy(), np.ones(2, dt), z, np.ones(2, dt), True, np.zeros(2, dt))
    parts = (np.zeros((2, 2), dt),) * workers
    update_sum(W, W.copy(), parts, True, 0, 2, (z, np.ones(2, dt), np.ones(2, dt), True), np.zeros(2, dt),
               np.zeros((1, 2), dt))  # fmt: skip
    # strategy "neurons": one pair, n = 2, d = 2; strategy "rows" with the BLAS products: M = 2
    blocks = np.array([[0, 1, 0]], np.intp)
    neurons_forward(W, np.zeros((2, 2), dt), blocks, (s, -s, True, np.zeros(1, bool), z), (mask, mask.copy()),
                    (np.zeros((1, 2), dt), np.zeros((1, 2), dt), np.zeros(2, dt)), np.zeros((1, 2), dt))  # fmt: skip
    neurons_backward(mask, mask.copy(), np.zeros((1, 2, 2), dt), blocks, np.zeros((1, 2), dt), np.zeros((2, 2), dt))
    s2 = np.ones(2, dt)
    loss = (np.ones(1, dt), True, z, z)
    rows_middle(np.zeros((1, 2), dt), 0, (s2, starts, np.zeros(1, np.intp), idx, True), loss, True,
                np.zeros((1, 1), dt), np.zeros(1, dt))  # fmt: skip
    rows_middle_t(np.zeros((2, 1), dt), 0, (s2, starts, idx, True), loss, True, np.zeros((1, 1), dt),
                  np.zeros(1, dt))  # fmt: skip
    rows_mask_t(np.zeros((2, 1), dt), 0, (s2, starts, idx, True), loss, np.zeros((1, 1), dt), np.zeros((1, 1), dt))
    risk_err(np.zeros((1, 1), dt), np.zeros((1, 1), dt), 0, 1, (np.ones(1, dt), np.ones(1, dt), np.zeros(1, dt), True, z),
             np.zeros(1), np.zeros(1, np.int64))  # fmt: skip
    _WARM.add((dt, readonly_x, workers))


_WARM: set[tuple] = set()
