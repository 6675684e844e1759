"""The engine's choices, in one object passed explicitly (private).

Every field ``None`` means "decide by the rule" (see :mod:`ntkdistill._fast.engine`); a value
forces that choice, for tests and benchmarks. :func:`use` makes an object the default of a
block of code, for the Monte Carlo sums that the science modules call without options.
"""

from __future__ import annotations

import contextlib
import contextvars
from dataclasses import dataclass

__all__ = ["Options", "current", "use"]


@dataclass(frozen=True)
class Options:
    """Choices of the fast engine and the Monte Carlo blocks; ``None`` leaves each to the rule.

    Attributes
    ----------
    workers : int or None
        Worker threads (default: the BLAS thread count, one for small problems).
    strategy : {"rows", "neurons"} or None
        The PGD step's order of work.
    block : int or None
        Rows of ``X`` (strategy "rows") or neuron pairs (strategy "neurons") per block.
    compiled : bool or None
        The compiled loops (``None``: when numba is installed; ``False``: NumPy and the BLAS only).
    fused : bool or None
        Strategy "rows" with the compiled loops: the compiled rows loop with its own products
        (True) or the BLAS products with the compiled pass between them (False).
    fold : bool or None
        Strategy "rows" with the BLAS products and the compiled pass: the transposed layout with
        the loss derivative folded into the backward product's small operand.
    split_risk : bool or None
        The compiled risk pass on the worker threads (default: from 50,000 logits on).
    """

    workers: int | None = None
    strategy: str | None = None
    block: int | None = None
    compiled: bool | None = None
    fused: bool | None = None
    fold: bool | None = None
    split_risk: bool | None = None

    def __post_init__(self):
        if self.strategy not in (None, "rows", "neurons"):
            raise ValueError(f"strategy == {self.strategy!r}, must be None, 'rows' or 'neurons'.")
        for name in ("workers", "block"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < 1):
                raise ValueError(f"{name} == {value!r}, must be None or an int >= 1.")


_CURRENT = contextvars.ContextVar("ntkdistill_fast_options", default=Options())  # noqa: B039 (Options is frozen)


def current() -> Options:
    """The options in force: those of the innermost :func:`use`, else the defaults."""
    return _CURRENT.get()


@contextlib.contextmanager
def use(options: Options):
    """Make ``options`` the default inside a ``with`` block (on this thread)."""
    if not isinstance(options, Options):
        raise TypeError(f"options must be an Options, got {type(options).__name__}.")
    token = _CURRENT.set(options)
    try:
        yield options
    finally:
        _CURRENT.reset(token)
