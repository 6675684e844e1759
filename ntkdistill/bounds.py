r"""Closed-form requirements of Theorem 2, Corollary 4, Proposition 5 and Lemmas 3 and 6.

Every function here is pure NumPy and states one result of the paper exactly as the project's
theory reference reads it (errata E7, E8, E11, E12, E13). With
:math:`\ell = \ln(2n/\delta)`:

.. math::

    \text{Theorem 2:}\quad & m \ge \frac{C_1}{\beta}\Bigl(\sqrt{\tfrac{2}{\pi}}\,\frac1c
        + 3\sqrt{\ell}\Bigr)^2,\quad T \ge \frac{9}{\beta^2},\quad \eta = \frac{\beta}{3},\quad B = 1\\
    \text{Corollary 4:}\quad & m \ge \frac{32 C_1}{\gamma^2\epsilon}\Bigl(\sqrt{\tfrac{2}{\pi}}\,\frac1c
        + 3\sqrt{\ell}\Bigr)^2,\quad T \ge \frac{9216}{\gamma^4\epsilon^2},\quad
        \eta = \frac{\gamma^2\epsilon}{96},\quad B = 1\\
    \text{Proposition 5:}\quad & m \ge \frac{16}{\gamma^4}\Bigl(\frac{2\sqrt2}{c\sqrt\pi} L
        + 3\sqrt{\ell}\Bigr)^2,\quad T \ge \frac{8 L^2}{\gamma^2\eta\ln(2)\beta},\quad \eta \le 1,\quad
        B = \frac{2L}{\gamma},\quad L = \ln\frac{2}{\ln(2)\beta}

Representation of the results
-----------------------------
All arguments broadcast against each other, and every field of a result has the broadcast shape
(numpy ``float64`` scalars when every argument is a scalar), so one call covers a whole
:math:`(\gamma, \epsilon)` plane. The computation is always in float64.

* ``m_bound`` and ``T_bound`` are the real bounds, evaluated in float64 with the divisions ordered
  so that no intermediate overflows or underflows unless the bound itself does (relative error
  a few units in the last place, about 1e-15). They are ``inf`` only where the real bound exceeds
  the largest float64 (about 1.8e308); ``log10_m_bound`` and ``log10_T_bound`` are computed in
  log space and are finite for every valid input.
* ``m`` (the smallest even integer :math:`\ge` ``m_bound``) and ``T`` (the smallest integer
  :math:`\ge` ``T_bound``) are float64 numbers holding integers. The rounding up is exact: every
  integer up to :math:`2^{53}` is a float64, and every float64 above :math:`2^{53}` is an even
  integer, so a width such as 1e20 is an exact even integer (``int(r.m)`` gives it as a Python int,
  and :func:`ntkdistill.pgd` accepts it as is). What is not exact is ``m_bound`` itself: where
  the real bound lies within 1e-15 (relative) of an even integer, ``m`` may be 2 larger than the
  real requirement, and above :math:`2^{53}` it is the float64 value of the bound. No value ever
  wraps around.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from . import _results
from ._validation import _short, check_int, check_probabilities
from .losses import kl_loss

if TYPE_CHECKING:
    from numpy.typing import NDArray

    from ._typing import ArrayLike

__all__ = [
    "C1_PRINTED",
    "C1_ALTERNATIVE",
    "C1_PRESETS",
    "Theorem2Requirement",
    "Corollary4Requirement",
    "Proposition5Requirement",
    "Comparison",
    "theorem2",
    "corollary4",
    "proposition5",
    "neurons_required",
    "lemma3",
    "lemma6_radius",
    "kl_risk_at_init",
]

#: :math:`C_1 = 96 / (1 + e^2) \approx 11.4435`, the constant as the paper's text lays it out (E8).
C1_PRINTED = 96.0 / (1.0 + math.e**2)
#: :math:`C_1 = 96 (1 + e^2) \approx 805.35`, the reading a re-derivation suggests (E8).
C1_ALTERNATIVE = 96.0 * (1.0 + math.e**2)
#: The named values of ``C1`` accepted by :func:`theorem2`, :func:`corollary4` and :func:`neurons_required`.
C1_PRESETS = {"printed": C1_PRINTED, "alternative": C1_ALTERNATIVE}

_LN2 = math.log(2.0)
_LN10 = math.log(10.0)
_SQRT_2_PI = math.sqrt(2.0 / math.pi)  # sqrt(2/pi)
_TINY = np.finfo(np.float64).tiny
_LOG10_MAX = math.log10(np.finfo(np.float64).max)
_LOG10_TINY = math.log10(_TINY)

# ----------------------------------------------------------------------------------- validation


def _real(name, value, ok, must):
    """``value`` as a float64 array (0-d for scalars); ``ok(arr)`` says which entries are allowed.

    The message names the argument (with the index of the first bad entry for arrays), the value
    and what is allowed (``must``).
    """
    _results.reject(name, value, "a real number or an array of real numbers")
    if isinstance(value, (str, bytes, bool, np.bool_)):
        raise TypeError(f"{name} must be a real number or an array of real numbers, got {_short(value)}.")
    try:
        arr = np.asarray(value)
    except Exception as exc:  # pragma: no cover - exotic inputs
        raise TypeError(f"{name} must be a real number or an array of real numbers, got {_short(value)}.") from exc
    if not (np.issubdtype(arr.dtype, np.integer) or np.issubdtype(arr.dtype, np.floating)):
        raise TypeError(
            f"{name} must be a real number or an array of real numbers, got {_short(value)}"
            f"{'' if isinstance(value, np.ndarray) else f' (dtype {arr.dtype})'}."
        )
    arr = arr.astype(np.float64)
    with np.errstate(invalid="ignore"):
        bad = ~(np.isfinite(arr) & ok(arr))
    if np.any(bad):
        if arr.ndim == 0:
            raise ValueError(f"{name} == {float(arr)!r}, must {must}.")
        idx = tuple(int(i) for i in np.argwhere(bad)[0])
        where = ", ".join(str(i) for i in idx)
        raise ValueError(
            f"{name}[{where}] == {float(arr[idx])!r}, must {must}; {int(bad.sum())} of {arr.size} entries are outside."
        )
    return arr


def _interval(name, value, low, high, low_open, high_open, text, why=""):
    def ok(a):
        lo = a > low if low_open else a >= low
        hi = a < high if high_open else a <= high
        return lo & hi

    return _real(name, value, ok, f"lie in {text}{why}")


def _gamma(value):
    return _interval(
        "gamma",
        value,
        0.0,
        0.5,
        True,
        False,
        "(0, 1/2]",
        " (the NTK margin cannot exceed 1/2 when ||x_i|| <= 1)",
    )


def _open01(name, value):
    return _interval(name, value, 0.0, 1.0, True, True, "(0, 1)")


def _delta(value):
    return _interval("delta", value, 0.0, 1.0 / 3.0, True, True, "(0, 1/3)", " (the confidence is 1 - 3 delta)")


def _half_open01(name, value):
    return _interval(name, value, 0.0, 1.0, True, False, "(0, 1]")


def _C1(value):
    if isinstance(value, str):
        if value in C1_PRESETS:
            return np.asarray(C1_PRESETS[value])
        raise ValueError(
            f"C1 == {value!r}, must be 'printed' (96/(1+e^2) = {C1_PRINTED:.4f}), "
            f"'alternative' (96(1+e^2) = {C1_ALTERNATIVE:.2f}) or a positive real number."
        )
    return _real(
        "C1",
        value,
        lambda a: a > 0,
        f"be 'printed' (96/(1+e^2) = {C1_PRINTED:.4f}), 'alternative' (96(1+e^2) = {C1_ALTERNATIVE:.2f}) "
        "or a positive finite real number",
    )


def _positive_int(name, value, *, even=False):
    """``(values, log_values)``: a Python int (0-d) or an integer/float array of positive integers.

    ``log_values`` is the natural logarithm as float64, computed exactly enough for any size
    (a Python int beyond the float64 range included).
    """
    minimum = 2 if even else 1
    if isinstance(value, np.ndarray) and value.ndim == 0:
        value = value.item()
    if np.ndim(value) == 0 and not isinstance(value, (np.ndarray, str, bytes)):
        v = check_int(name, value, minimum=minimum, even=even)
        return v, np.asarray(math.log(v))
    if isinstance(value, (str, bytes)):
        raise TypeError(f"{name} must be an integer or an array of integers, got {_short(value)}.")
    arr = np.asarray(value)
    if arr.dtype == np.bool_ or not (np.issubdtype(arr.dtype, np.integer) or np.issubdtype(arr.dtype, np.floating)):
        raise TypeError(f"{name} must be an integer or an array of integers, got {_short(value)} (dtype {arr.dtype}).")
    if np.issubdtype(arr.dtype, np.floating):
        with np.errstate(invalid="ignore"):
            frac = ~(np.isfinite(arr) & (np.floor(arr) == arr))
        if np.any(frac):
            idx = tuple(int(i) for i in np.argwhere(frac)[0])
            raise TypeError(f"{name}[{', '.join(map(str, idx))}] == {float(arr[idx])!r}, must be an integer.")
    bad = arr < minimum
    if even:
        bad = bad | (np.fmod(arr, 2) != 0)
    if np.any(bad):
        idx = tuple(int(i) for i in np.argwhere(bad)[0])
        v = arr[idx]
        v = int(v) if np.issubdtype(arr.dtype, np.integer) or abs(float(v)) < 2**63 else float(v)
        rule = f">= {minimum}"
        if even:
            rule += " and even (the symmetric initialisation pairs neuron j with neuron j + m/2)"
        raise ValueError(
            f"{name}[{', '.join(map(str, idx))}] == {v}, must be {rule}; "
            f"{int(bad.sum())} of {arr.size} entries are outside."
        )
    return arr, np.log(arr.astype(np.float64))


def _shape(**arrays):
    """The broadcast shape of the named arguments, or a ValueError naming them and their shapes."""
    shapes = {k: np.shape(v) for k, v in arrays.items()}
    try:
        return np.broadcast_shapes(*shapes.values())
    except ValueError:
        listed = ", ".join(f"{k} with shape {s}" for k, s in shapes.items() if s != ())
        raise ValueError(
            f"the array arguments do not broadcast together: {listed}. Give them shapes that numpy "
            "can broadcast, e.g. gamma[:, None] against eps[None, :] for a grid."
        ) from None


def _out(x, shape):
    """Broadcast ``x`` to ``shape``; a 0-d result becomes a numpy scalar (Python int stays int)."""
    if shape == () and not isinstance(x, np.ndarray):
        return x
    arr = np.broadcast_to(np.asarray(x), shape)
    if shape == ():
        return arr[()]
    return arr


# ------------------------------------------------------------------------------------- numerics


def _finish(direct, log10_value):
    """Use the direct float64 value; where an intermediate under- or overflowed although the bound
    is a normal float64, take it from its logarithm instead (relative error below 1e-12)."""
    direct = np.asarray(direct, dtype=np.float64)
    fallback = (~np.isfinite(direct) | (direct < _TINY)) & (log10_value < _LOG10_MAX) & (log10_value > _LOG10_TINY)
    if np.any(fallback):
        direct = np.where(fallback, 10.0 ** np.where(fallback, log10_value, 0.0), direct)
    return direct


def _round_even(m_bound):
    """Smallest even integer >= ``m_bound`` (> 0), exact in float64 (see the module notes)."""
    return np.maximum(2.0 * np.ceil(m_bound / 2.0), 2.0)


def _round_up(T_bound):
    return np.maximum(np.ceil(T_bound), 1.0)


def _log_S_soft(c, ln_ell):
    r""":math:`\ln(\sqrt{2/\pi}/c + 3\sqrt{\ell})`, finite for every valid ``c``."""
    return np.logaddexp(math.log(_SQRT_2_PI) - np.log(c), math.log(3.0) + 0.5 * np.log(ln_ell))


def _scaled_S_soft(C1, c, ell):
    r""":math:`\sqrt{C_1}(\sqrt{2/\pi}/c + 3\sqrt{\ell})`, ordered so that nothing overflows early."""
    s = np.sqrt(C1)
    return (s * _SQRT_2_PI) / c + (s * 3.0) * np.sqrt(ell)


def _log_terms(n_log, delta):
    r""":math:`\ell = \ln(2n/\delta) = \ln 2 + \ln n - \ln\delta` (never overflows)."""
    return _LN2 + n_log - np.log(delta)


# ------------------------------------------------------------------------------------- results


@dataclass(frozen=True, eq=False)
class Theorem2Requirement(_results.ResultMixin):
    r"""What :func:`theorem2` returns (all fields have the broadcast shape of the arguments).

    Examples
    --------
    >>> r = theorem2(0.02, 10, 0.1)
    >>> int(r.m), int(r.T), round(float(r.eta), 6)
    (33954, 22500, 0.006667)

    Attributes
    ----------
    beta, n, delta, c, C1 : the arguments (``C1`` as its numeric value).
    m : float64 holding an even integer
        The smallest even integer :math:`\ge` ``m_bound`` (the initialisation needs even m).
    m_bound : float64
        :math:`\frac{C_1}{\beta}(\sqrt{2/\pi}/c + 3\sqrt{\ln(2n/\delta)})^2`.
    T : float64 holding an integer
        The smallest integer :math:`\ge` ``T_bound``.
    T_bound : float64
        :math:`9/\beta^2`.
    eta : float64
        :math:`\beta/3` (E7).
    B : float64
        1.
    target : float64
        The level :math:`\beta` that the averaged KL risk stays below.
    confidence : float64
        :math:`1 - 3\delta`, the probability over the initialisation.
    log10_m_bound, log10_T_bound : float64
        :math:`\log_{10}` of the bounds, finite even where the bound exceeds the float64 range.
    """

    beta: np.ndarray
    n: np.ndarray
    delta: np.ndarray
    c: np.ndarray
    C1: np.ndarray
    m: np.ndarray
    m_bound: np.ndarray
    T: np.ndarray
    T_bound: np.ndarray
    eta: np.ndarray
    B: np.ndarray
    target: np.ndarray
    confidence: np.ndarray
    log10_m_bound: np.ndarray
    log10_T_bound: np.ndarray

    _counts = ("n", "m", "T")
    result = "Theorem 2"
    guarantee = "(1/T) sum_{tau<T} R_KL(W(tau)) <= beta with probability >= 1 - 3 delta"


@dataclass(frozen=True, eq=False)
class Corollary4Requirement(_results.ResultMixin):
    r"""What :func:`corollary4` returns (all fields have the broadcast shape of the arguments).

    Examples
    --------
    >>> r = corollary4(0.2, 0.1, 10, 0.1)
    >>> int(r.T), int(r.T_printed)  # derived vs printed iteration counts (E11)
    (576000000, 562500)

    Attributes
    ----------
    gamma, eps, n, delta, c, C1 : the arguments (``C1`` as its numeric value).
    m, m_bound : the width: :math:`\frac{32 C_1}{\gamma^2\epsilon}(\sqrt{2/\pi}/c + 3\sqrt{\ln(2n/\delta)})^2`
        and the smallest even integer above it.
    T, T_bound : the derived iteration count :math:`9216/(\gamma^4\epsilon^2)` and its rounding up (E11).
    eta : float64
        The derived step :math:`\gamma^2\epsilon/96` (E11).
    B : float64
        1.
    target : float64
        :math:`\epsilon`, the level the averaged classification error stays below.
    confidence : float64
        :math:`1 - 3\delta`.
    eta_printed, T_printed, T_printed_bound : float64
        The values the paper prints, :math:`\eta \le \gamma^2\epsilon/3` and
        :math:`T \ge 9/(\gamma^4\epsilon^2)`, which do not follow from Theorem 2 (E11): the
        printed step is 32 times and the printed count 1/1024 times the derived one.
    log10_m_bound, log10_T_bound : float64
        :math:`\log_{10}` of the bounds, finite for every valid input.
    """

    gamma: np.ndarray
    eps: np.ndarray
    n: np.ndarray
    delta: np.ndarray
    c: np.ndarray
    C1: np.ndarray
    m: np.ndarray
    m_bound: np.ndarray
    T: np.ndarray
    T_bound: np.ndarray
    eta: np.ndarray
    B: np.ndarray
    target: np.ndarray
    confidence: np.ndarray
    eta_printed: np.ndarray
    T_printed: np.ndarray
    T_printed_bound: np.ndarray
    log10_m_bound: np.ndarray
    log10_T_bound: np.ndarray

    _counts = ("n", "m", "T", "T_printed")
    result = "Corollary 4"
    guarantee = "(1/T) sum_{tau<T} R(W(tau)) <= eps with probability >= 1 - 3 delta"


@dataclass(frozen=True, eq=False)
class Proposition5Requirement(_results.ResultMixin):
    r"""What :func:`proposition5` returns (all fields have the broadcast shape of the arguments).

    Examples
    --------
    >>> r = proposition5(0.2, 0.05, 10, 0.1)
    >>> int(r.m), round(float(r.B), 3)
    (1789414, 40.554)

    Attributes
    ----------
    gamma, beta, n, delta, c : the arguments.
    L : float64
        :math:`\ln(2/(\ln(2)\beta))`.
    m, m_bound : the width :math:`\frac{16}{\gamma^4}(\frac{2\sqrt2}{c\sqrt\pi}L + 3\sqrt{\ln(2n/\delta)})^2`
        and the smallest even integer above it.
    T, T_bound : the iteration count :math:`\frac{8L^2}{\gamma^2\eta\ln(2)\beta}` and its rounding up.
    eta : float64
        The step (an argument, in (0, 1]).
    B : float64
        :math:`2L/\gamma`.
    target : float64
        :math:`\beta`, the level the averaged logistic risk stays below.
    error_target : float64
        :math:`\beta/\ln 2`, the implied level for the averaged classification error.
    confidence : float64
        :math:`1 - 3\delta`.
    log10_m_bound, log10_T_bound : float64
        :math:`\log_{10}` of the bounds, finite for every valid input.
    """

    gamma: np.ndarray
    beta: np.ndarray
    n: np.ndarray
    delta: np.ndarray
    c: np.ndarray
    L: np.ndarray
    m: np.ndarray
    m_bound: np.ndarray
    T: np.ndarray
    T_bound: np.ndarray
    eta: np.ndarray
    B: np.ndarray
    target: np.ndarray
    error_target: np.ndarray
    confidence: np.ndarray
    log10_m_bound: np.ndarray
    log10_T_bound: np.ndarray

    _counts = ("n", "m", "T")
    result = "Proposition 5"
    guarantee = (
        "(1/T) sum_{tau<T} R_h(W(tau)) <= beta, hence (1/T) sum_{tau<T} R(W(tau)) <= beta / ln 2, "
        "with probability >= 1 - 3 delta"
    )


@dataclass(frozen=True, eq=False)
class Comparison(_results.ResultMixin):
    r"""What :func:`neurons_required` returns.

    Examples
    --------
    >>> r = neurons_required(0.1, 0.1, 100, 0.01)
    >>> str(r.fewer), round(float(r.ratio), 4)
    ('hard', 0.9873)

    Attributes
    ----------
    gamma, eps, n, delta, c : the arguments, broadcast.
    soft : Corollary4Requirement
        Soft labels: Corollary 4 at :math:`(\gamma, \epsilon)`.
    hard : Proposition5Requirement
        Hard labels: Proposition 5 at :math:`\beta = \epsilon\ln 2`, :math:`\eta = 1`.
    ratio : float64
        ``hard.m / soft.m`` (from the logarithms where a width exceeds the float64 range).
    fewer : str or ndarray of str
        ``"soft"``, ``"hard"`` or ``"equal"``: which side needs fewer neurons.
    """

    gamma: np.ndarray
    eps: np.ndarray
    n: np.ndarray
    delta: np.ndarray
    c: np.ndarray
    soft: Corollary4Requirement
    hard: Proposition5Requirement
    ratio: np.ndarray
    fewer: np.ndarray | str

    _counts = ("n",)
    _frame_rows, __repr__ = _results.comparison_frame_rows, _results.comparison_repr


# ----------------------------------------------------------------------------------- the results


def theorem2(
    beta: ArrayLike, n: ArrayLike, delta: ArrayLike, c: ArrayLike = 1.0, C1: ArrayLike | str = "printed"
) -> Theorem2Requirement:
    r"""Width, iterations, step and radius that Theorem 2 asks for soft-label training.

    .. math::

        m \ge \frac{C_1}{\beta}\Bigl(\sqrt{\frac{2}{\pi}}\,\frac1c + 3\sqrt{\ln\frac{2n}{\delta}}\Bigr)^2,
        \qquad T \ge \frac{9}{\beta^2},\qquad \eta = \frac{\beta}{3},\qquad B = 1

    give :math:`\frac1T\sum_{\tau<T} R_{KL}(W(\tau)) \le \beta` with probability at least
    :math:`1 - 3\delta` over the initialisation (Theorem 2, eq. 6-7).

    The paper prints :math:`\eta \le \beta/3`; the proof also needs :math:`\eta T \ge 3/\beta`, so
    the step is :math:`\eta = \beta/3` (E7). The constant :math:`C_1` is ambiguous in the printed
    text (E8): ``"printed"`` is :math:`96/(1+e^2) \approx 11.44`, ``"alternative"`` is
    :math:`96(1+e^2) \approx 805.35`. The statement is vacuous when :math:`\beta \ge R_{KL}(W(0))`
    (see :func:`kl_risk_at_init`).

    Parameters
    ----------
    beta : float or array_like, in (0, 1)
        Target level of the averaged KL risk.
    n : int or array_like of int, >= 1
        Number of training points.
    delta : float or array_like, in (0, 1/3)
        The guarantee holds with probability at least ``1 - 3 delta``.
    c : float or array_like, in (0, 1]
        Lower bound on the input norms, :math:`c \le \|x_i\| \le 1`.
    C1 : {"printed", "alternative"} or positive float or array_like
        The absolute constant of eq. (6) (E8).

    Returns
    -------
    Theorem2Requirement
        Fields broadcast to the common shape of the arguments; see the module notes for how
        ``m`` and ``T`` are represented.

    Raises
    ------
    ValueError, TypeError
        For an argument outside its range, naming the argument, its value and the range.

    Examples
    --------
    >>> r = theorem2(0.01, n=100, delta=0.01)
    >>> int(r.m), int(r.T), round(float(r.eta), 6), float(r.B), round(float(r.confidence), 2)
    (119968, 90000, 0.003333, 1.0, 0.97)
    >>> theorem2([0.1, 0.01], 100, 0.01).m
    array([ 11998., 119968.])
    """
    beta = _open01("beta", beta)
    n, n_log = _positive_int("n", n)
    delta = _delta(delta)
    c = _half_open01("c", c)
    C1 = _C1(C1)
    shape = _shape(beta=beta, n=n, delta=delta, c=c, C1=C1)
    with np.errstate(over="ignore", under="ignore", divide="ignore", invalid="ignore"):
        ell = _log_terms(n_log, delta)
        log10_m = (np.log(C1) + 2.0 * _log_S_soft(c, ell) - np.log(beta)) / _LN10
        log10_T = (math.log(9.0) - 2.0 * np.log(beta)) / _LN10
        A = _scaled_S_soft(C1, c, ell)
        m_bound = _finish((A * A) / beta, log10_m)
        T_bound = _finish(np.square(3.0 / beta), log10_T)
        eta = beta / 3.0
    return Theorem2Requirement(
        beta=_out(beta, shape),
        n=_out(n, shape),
        delta=_out(delta, shape),
        c=_out(c, shape),
        C1=_out(C1, shape),
        m=_out(_round_even(m_bound), shape),
        m_bound=_out(m_bound, shape),
        T=_out(_round_up(T_bound), shape),
        T_bound=_out(T_bound, shape),
        eta=_out(eta, shape),
        B=_out(np.float64(1.0), shape),
        target=_out(beta, shape),
        confidence=_out(1.0 - 3.0 * delta, shape),
        log10_m_bound=_out(log10_m, shape),
        log10_T_bound=_out(log10_T, shape),
    )


def corollary4(
    gamma: ArrayLike,
    eps: ArrayLike,
    n: ArrayLike,
    delta: ArrayLike,
    c: ArrayLike = 1.0,
    C1: ArrayLike | str = "printed",
) -> Corollary4Requirement:
    r"""Width, iterations, step and radius that Corollary 4 asks for a classification error ``eps``.

    Theorem 2 at :math:`\beta = \gamma^2\epsilon/32` combined with Lemma 3:

    .. math::

        m \ge \frac{C_2}{\gamma^2\epsilon}\Bigl(\sqrt{\frac{2}{\pi}}\,\frac1c
        + 3\sqrt{\ln\frac{2n}{\delta}}\Bigr)^2,\quad C_2 = 32 C_1,\qquad
        T \ge \frac{9216}{\gamma^4\epsilon^2},\qquad \eta = \frac{\gamma^2\epsilon}{96},\qquad B = 1

    give :math:`\frac1T\sum_{\tau<T} R(W(\tau)) \le \epsilon` with probability at least
    :math:`1 - 3\delta` (Corollary 4, eq. 10-11). The paper prints :math:`\eta \le \gamma^2\epsilon/3`
    and :math:`T \ge 9/(\gamma^4\epsilon^2)`, which do not follow from Theorem 2 (E11): the result
    carries the derived values in ``eta``/``T`` and the printed ones in ``eta_printed``/``T_printed``.
    ``C1`` as in :func:`theorem2` (E8).

    Parameters
    ----------
    gamma : float or array_like, in (0, 1/2]
        The NTK margin of Assumption 1 (at most 1/2 when :math:`\|x_i\| \le 1`).
    eps : float or array_like, in (0, 1)
        Target level of the averaged classification error.
    n, delta, c, C1 :
        As in :func:`theorem2`.

    Returns
    -------
    Corollary4Requirement

    Raises
    ------
    ValueError, TypeError
        For an argument outside its range, naming the argument, its value and the range.

    Examples
    --------
    >>> r = corollary4(0.1, 0.1, n=100, delta=0.01)
    >>> int(r.m), int(r.T), round(float(r.eta), 12), float(r.B)
    (38389150, 9216000000, 1.0416667e-05, 1.0)
    >>> int(r.T_printed), round(float(r.eta_printed), 12)
    (9000000, 0.000333333333)
    """
    gamma = _gamma(gamma)
    eps = _open01("eps", eps)
    n, n_log = _positive_int("n", n)
    delta = _delta(delta)
    c = _half_open01("c", c)
    C1 = _C1(C1)
    shape = _shape(gamma=gamma, eps=eps, n=n, delta=delta, c=c, C1=C1)
    with np.errstate(over="ignore", under="ignore", divide="ignore", invalid="ignore"):
        ell = _log_terms(n_log, delta)
        lg, le = np.log(gamma), np.log(eps)
        log10_m = (math.log(32.0) + np.log(C1) + 2.0 * _log_S_soft(c, ell) - 2.0 * lg - le) / _LN10
        log10_T = (math.log(9216.0) - 4.0 * lg - 2.0 * le) / _LN10
        log10_Tp = (math.log(9.0) - 4.0 * lg - 2.0 * le) / _LN10
        A = _scaled_S_soft(C1, c, ell)
        m_bound = _finish((np.square(A / gamma) * 32.0) / eps, log10_m)
        T_bound = _finish(np.square(((96.0 / gamma) / gamma) / eps), log10_T)
        T_printed_bound = _finish(np.square(((3.0 / gamma) / gamma) / eps), log10_Tp)
        eta = ((gamma * gamma) * eps) / 96.0
        eta_printed = ((gamma * gamma) * eps) / 3.0
    return Corollary4Requirement(
        gamma=_out(gamma, shape),
        eps=_out(eps, shape),
        n=_out(n, shape),
        delta=_out(delta, shape),
        c=_out(c, shape),
        C1=_out(C1, shape),
        m=_out(_round_even(m_bound), shape),
        m_bound=_out(m_bound, shape),
        T=_out(_round_up(T_bound), shape),
        T_bound=_out(T_bound, shape),
        eta=_out(eta, shape),
        B=_out(np.float64(1.0), shape),
        target=_out(eps, shape),
        confidence=_out(1.0 - 3.0 * delta, shape),
        eta_printed=_out(eta_printed, shape),
        T_printed=_out(_round_up(T_printed_bound), shape),
        T_printed_bound=_out(T_printed_bound, shape),
        log10_m_bound=_out(log10_m, shape),
        log10_T_bound=_out(log10_T, shape),
    )


def proposition5(
    gamma: ArrayLike, beta: ArrayLike, n: ArrayLike, delta: ArrayLike, c: ArrayLike = 1.0, eta: ArrayLike = 1.0
) -> Proposition5Requirement:
    r"""Width, iterations and radius that Proposition 5 asks for hard-label (logistic) training.

    With :math:`L = \ln\bigl(2 / (\ln(2)\beta)\bigr)`,

    .. math::

        B = \frac{2L}{\gamma},\qquad \eta \le 1,\qquad
        T \ge \frac{8}{\gamma^2\eta}\,\frac{L^2}{\ln(2)\,\beta},\qquad
        m \ge \frac{16}{\gamma^4}\Bigl(\frac{2\sqrt2}{c\sqrt\pi}\,L + 3\sqrt{\ln\frac{2n}{\delta}}\Bigr)^2

    give :math:`\frac1T\sum_{\tau<T} R_h(W(\tau)) \le \beta`, hence
    :math:`\frac1T\sum_{\tau<T} R(W(\tau)) \le \beta/\ln 2`, with probability at least
    :math:`1 - 3\delta` (Proposition 5, eq. 13-14). For a classification-error target
    :math:`\epsilon` take :math:`\beta = \epsilon\ln 2`. The width grows as
    :math:`\ln^2(1/\beta)/\gamma^4` (the paper's text says :math:`\ln(1/\epsilon)`; E12).

    Parameters
    ----------
    gamma : float or array_like, in (0, 1/2]
        The NTK margin.
    beta : float or array_like, in (0, 1)
        Target level of the averaged logistic risk.
    n, delta, c :
        As in :func:`theorem2`.
    eta : float or array_like, in (0, 1]
        The step size.

    Returns
    -------
    Proposition5Requirement

    Raises
    ------
    ValueError, TypeError
        For an argument outside its range, naming the argument, its value and the range.

    Examples
    --------
    >>> import math
    >>> r = proposition5(0.1, 0.1 * math.log(2), n=100, delta=0.01)
    >>> int(r.m), int(r.T), round(float(r.B), 4), round(float(r.error_target), 6)
    (37902144, 231509, 74.5752, 0.1)
    """
    gamma = _gamma(gamma)
    beta = _open01("beta", beta)
    n, n_log = _positive_int("n", n)
    delta = _delta(delta)
    c = _half_open01("c", c)
    eta = _half_open01("eta", eta)
    shape = _shape(gamma=gamma, beta=beta, n=n, delta=delta, c=c, eta=eta)
    a = 2.0 * _SQRT_2_PI  # 2 sqrt(2) / sqrt(pi)
    with np.errstate(over="ignore", under="ignore", divide="ignore", invalid="ignore"):
        ell = _log_terms(n_log, delta)
        lb, lg = np.log(beta), np.log(gamma)
        L = _LN2 - math.log(_LN2) - lb  # ln(2 / (ln(2) beta)) without forming 2 / (ln(2) beta)
        lnS = np.logaddexp(math.log(a) + np.log(L) - np.log(c), math.log(3.0) + 0.5 * np.log(ell))
        log10_m = (math.log(16.0) + 2.0 * lnS - 4.0 * lg) / _LN10
        log10_T = (math.log(8.0) + 2.0 * np.log(L) - 2.0 * lg - np.log(eta) - math.log(_LN2) - lb) / _LN10
        A = (4.0 * a) * L / c + 12.0 * np.sqrt(ell)  # 4 (a L / c + 3 sqrt(ell))
        m_bound = _finish(np.square((A / gamma) / gamma), log10_m)
        T_bound = _finish(((np.square(L / gamma) * (8.0 / _LN2)) / eta) / beta, log10_T)
        B = (2.0 * L) / gamma
    return Proposition5Requirement(
        gamma=_out(gamma, shape),
        beta=_out(beta, shape),
        n=_out(n, shape),
        delta=_out(delta, shape),
        c=_out(c, shape),
        L=_out(L, shape),
        m=_out(_round_even(m_bound), shape),
        m_bound=_out(m_bound, shape),
        T=_out(_round_up(T_bound), shape),
        T_bound=_out(T_bound, shape),
        eta=_out(eta, shape),
        B=_out(B, shape),
        target=_out(beta, shape),
        error_target=_out(beta / _LN2, shape),
        confidence=_out(1.0 - 3.0 * delta, shape),
        log10_m_bound=_out(log10_m, shape),
        log10_T_bound=_out(log10_T, shape),
    )


def neurons_required(
    gamma: ArrayLike,
    eps: ArrayLike,
    n: ArrayLike,
    delta: ArrayLike,
    c: ArrayLike = 1.0,
    C1: ArrayLike | str = "printed",
) -> Comparison:
    r"""The paper's comparison: neurons needed for an averaged classification error ``eps``.

    Soft labels: Corollary 4 at :math:`(\gamma, \epsilon)`; hard labels: Proposition 5 at
    :math:`\beta = \epsilon\ln 2`, :math:`\eta = 1`. The real bounds scale as

    .. math::

        m_{\text{soft}} \propto \frac{1}{\gamma^2\epsilon},\qquad
        m_{\text{hard}} \propto \frac{1}{\gamma^4}\Bigl(\frac{2\sqrt2}{c\sqrt\pi}
        \ln\frac{2}{\epsilon\ln^2 2} + 3\sqrt{\ln\frac{2n}{\delta}}\Bigr)^2
        = O\Bigl(\frac{\ln^2(1/\epsilon)}{\gamma^4}\Bigr)

    (the paper's text says :math:`\ln(1/\epsilon)`; E12), so the soft side is the smaller one
    roughly when :math:`\gamma < \epsilon`. Both are upper bounds (Section 3.2.1): at feasible
    sizes, experiments test the scaling, not the literal widths.

    Parameters
    ----------
    gamma, eps, n, delta, c, C1 :
        As in :func:`corollary4` (``C1`` only enters the soft side).

    Returns
    -------
    Comparison
        ``soft``, ``hard``, ``ratio = hard.m / soft.m`` and ``fewer`` (``"soft"``, ``"hard"`` or
        ``"equal"``).

    Examples
    --------
    >>> r = neurons_required(0.01, 0.1, n=100, delta=0.01)
    >>> r.fewer, round(float(r.ratio), 1)
    ('soft', 98.7)
    >>> neurons_required(0.4, [0.01, 0.3], n=100, delta=0.01).fewer
    array(['hard', 'hard'], dtype='<U5')
    """
    g = _gamma(gamma)
    e = _open01("eps", eps)
    n_checked, _ = _positive_int("n", n)
    d = _delta(delta)
    cc = _half_open01("c", c)
    _C1(C1)
    shape = _shape(gamma=g, eps=e, n=n_checked, delta=d, c=cc)
    soft = corollary4(gamma, eps, n, delta, c, C1)
    with np.errstate(under="ignore"):
        hard = proposition5(gamma, e * _LN2, n, delta, c, 1.0)
    hm, sm = np.asarray(hard.m), np.asarray(soft.m)
    diff = np.asarray(hard.log10_m_bound) - np.asarray(soft.log10_m_bound)
    finite = np.isfinite(hm) & np.isfinite(sm)
    with np.errstate(over="ignore"):
        ratio = np.where(finite, hm / np.where(finite, sm, 1.0), 10.0**diff)
    # the sign of hard.m - soft.m, from the logarithms where a width is not a finite float64
    sign = np.where(finite, np.sign(hm - np.where(finite, sm, 0.0)), np.sign(diff))
    fewer = np.where(sign > 0, "soft", np.where(sign < 0, "hard", "equal"))
    if shape == ():
        fewer = str(fewer)
    return Comparison(
        gamma=_out(g, shape),
        eps=_out(e, shape),
        n=_out(n_checked, shape),
        delta=_out(d, shape),
        c=_out(cc, shape),
        soft=soft,
        hard=hard,
        ratio=_out(ratio, shape),
        fewer=fewer,
    )


# ----------------------------------------------------------------------------------- the lemmas


def lemma3(risk_kl: ArrayLike, gamma: ArrayLike) -> np.float64 | NDArray[np.float64]:
    r"""Classification error implied by a KL risk (Lemma 3), capped at 1.

    If :math:`0 < p_i < 1` and :math:`y_i z_i \ge \gamma` for every i,

    .. math::

        R(W) \le \min\Bigl(1, \frac{32}{\gamma^2} R_{KL}(W)\Bigr)

    (Lemma 3, eq. 9, by ordinary Pinsker; the paper cites the reverse inequality, E10). The cap at
    1 is added here: a classification error never exceeds 1, so the bound says nothing beyond it.

    Parameters
    ----------
    risk_kl : float or array_like, finite and >= 0
        The KL risk :math:`R_{KL}(W)` (or its average over iterations).
    gamma : float or array_like, in (0, 1/2]
        The margin.

    Returns
    -------
    float64 or ndarray
        The bound, broadcast over the arguments.

    Examples
    --------
    >>> float(lemma3(0.0003125, 0.1))
    1.0
    >>> lemma3([0.0, 1e-5, 1e-4], 0.1)
    array([0.  , 0.032, 0.32 ])
    """
    r = _real("risk_kl", risk_kl, lambda a: a >= 0, "be a finite real number >= 0")
    g = _gamma(gamma)
    shape = _shape(risk_kl=r, gamma=g)
    with np.errstate(over="ignore"):
        out = np.minimum(((32.0 * r) / g) / g, 1.0)
    return _out(out, shape)


_LEMMA6_INITS = ("symmetric", "independent")


def lemma6_radius(
    m: ArrayLike, n: ArrayLike, delta: ArrayLike, init: str = "symmetric"
) -> np.float64 | NDArray[np.float64]:
    r"""Radius of Lemma 6: how far the linearised student at :math:`U` is from the teacher logits.

    With :math:`U_j = \frac{a_j}{\sqrt m} v(W_j(0))`, with probability at least :math:`1 - \delta`,
    for all i, :math:`|f^0_i(U) - z_i| \le r`, where

    .. math::

        r = \sqrt{\frac{2\ln(2n/\delta)}{m}} \quad\text{(``"independent"``, as printed)},\qquad
        r = 2\sqrt{\frac{\ln(2n/\delta)}{m}} \quad\text{(``"symmetric"``, E13)}.

    The printed constant holds for m independent neurons; under the symmetric initialisation only
    m/2 terms are independent and Hoeffding gives the larger radius (E13), which is the default
    here because it is the initialisation :func:`ntkdistill.init_symmetric` draws.

    Parameters
    ----------
    m : int or array_like of int
        The width: even and >= 2 for ``"symmetric"``, >= 1 for ``"independent"``.
    n : int or array_like of int, >= 1
        Number of points.
    delta : float or array_like, in (0, 1)
        Failure probability.
    init : {"symmetric", "independent"}
        Which initialisation the radius is for.

    Returns
    -------
    float64 or ndarray

    Examples
    --------
    >>> round(float(lemma6_radius(1000, 100, 0.05)), 6)
    0.182143
    >>> round(float(lemma6_radius(1000, 100, 0.05, init="independent")), 6)
    0.128795
    """
    if init not in _LEMMA6_INITS:
        raise ValueError(f"init == {init!r}, must be 'symmetric' or 'independent'.")
    m_val, m_log = _positive_int("m", m, even=(init == "symmetric"))
    n_val, n_log = _positive_int("n", n)
    d = _open01("delta", delta)
    shape = _shape(m=m_val, n=n_val, delta=d)
    ell = _log_terms(n_log, d)
    const = 2.0 if init == "symmetric" else math.sqrt(2.0)
    if isinstance(m_val, int) and m_val.bit_length() > 1000:
        # a Python int beyond the float64 range: from its logarithm (the radius is then below 1e-150)
        with np.errstate(under="ignore"):
            out = const * np.sqrt(ell) * np.exp(-0.5 * m_log)
    else:
        out = const * np.sqrt(ell / np.asarray(m_val, dtype=np.float64))
    return _out(out, shape)


def kl_risk_at_init(p: ArrayLike) -> float:
    r"""KL risk at the symmetric initialisation, :math:`R_{KL}(W(0))`: the level below which Theorem 2 says something.

    Under the symmetric initialisation :math:`f(x; W(0)) = 0`, so :math:`\mu(f) = 1/2` and

    .. math::

        R_{KL}(W(0)) = \frac1n\sum_{i=1}^n \mathrm{KL}\bigl(\mathrm{Bern}(p_i)\,\|\,\mathrm{Bern}(1/2)\bigr)
        = \ln 2 - \frac1n\sum_{i=1}^n H(p_i),

    with :math:`H` the binary entropy in nats. Theorem 2 is vacuous when
    :math:`\beta \ge R_{KL}(W(0))` (the average over iterations can already start below
    :math:`\beta`). With max-margin teacher labels in :math:`[\mu(-1/2), \mu(1/2)]` this is at
    most about 0.0303.

    Parameters
    ----------
    p : array_like, shape (n,)
        Soft labels in [0, 1].

    Returns
    -------
    float

    Examples
    --------
    >>> kl_risk_at_init([0.5, 0.5])
    0.0
    >>> round(kl_risk_at_init([1.0, 0.0]), 6)
    0.693147
    """
    p = check_probabilities("p", p)
    if p.size == 0:
        raise ValueError("p is empty; it needs at least one soft label.")
    return float(np.mean(kl_loss(p, 0.0)))
