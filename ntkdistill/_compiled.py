r"""A compiled inner loop of the PGD step (private; optional, used when numba is installed).

After the forward product of a block of neuron pairs (strategy ``"neurons"``), the NumPy engine
of :mod:`ntkdistill._kernels` makes five passes over the block's pre-activations (the mask, the
absolute value, the ReLU, the pair difference, the sum over neurons), each a separate NumPy
call. :func:`pairs_forward` does them in one pass while the block is in cache. The products stay
with the BLAS, which is faster at them than a loop written here. The arithmetic is the plain
one (THEORY.md; :mod:`ntkdistill._reference` writes it literally); only the order of the sum
over neurons changes, so the results agree with the plain step to rounding (tested to 1e-12 in
float64), and a pair of equal rows still adds exactly 0 (E6). The loop works in the dtype of
its arrays (``zero`` is a scalar of that dtype) and releases the GIL, so the engine runs it on
its worker threads.
"""

from __future__ import annotations

import numpy as np

try:  # pragma: no cover - depends on the environment
    import numba

    AVAILABLE = True
except ImportError:  # pragma: no cover - depends on the environment
    numba = None
    AVAILABLE = False

__all__: list[str] = []

# Contraction allows fused multiply-adds; no flag that assumes away NaN or infinity, and no
# reassociation (the sums run over neurons in order, as written).
_FASTMATH = {"contract"}


def _jit(fn):
    if not AVAILABLE:  # pragma: no cover - depends on the environment
        return fn
    return numba.njit(nogil=True, cache=True, fastmath=_FASTMATH, error_model="numpy")(fn)


@_jit
def _relu(a, zero):
    # max(0, a) with the mask's strict >, NaN passed through as np.maximum does
    return zero if a <= zero else a


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
        if paired:
            for i in range(n):
                a = A[p, i]
                c = B[p, i]
                mask_a[p, i] = a > zero
                mask_b[p, i] = c > zero
                v[i] += sa * (_relu(a, zero) - _relu(c, zero))
        else:
            for i in range(n):
                a = A[p, i]
                c = B[p, i]
                mask_a[p, i] = a > zero
                mask_b[p, i] = c > zero
                v[i] += sa * _relu(a, zero) + sb * _relu(c, zero)


def warm_up(dtype):
    """Compile (or load from numba's cache) the loop for ``dtype`` now, not inside a timed step.

    The first call in a process takes from a fraction of a second (cached) to a few seconds
    (compiling); later calls return at once. A no-op without numba.
    """
    if not AVAILABLE:  # pragma: no cover - depends on the environment
        return
    dt = np.dtype(dtype)
    if dt in _WARM:
        return
    A = np.zeros((1, 2), dt)
    s = np.ones(1, dt)
    mask = np.zeros((1, 2), bool)
    pairs_forward(A, A.copy(), s, -s, True, np.zeros(1, bool), dt.type(0), mask, mask.copy(), np.zeros(2, dt))
    _WARM.add(dt)


_WARM = set()
