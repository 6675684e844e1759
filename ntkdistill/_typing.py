"""Type aliases for the annotations of the public functions (static only: nothing imports this at run time)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
from numpy.typing import ArrayLike, DTypeLike

__all__ = ["ArrayLike", "DTypeLike", "Field", "SeedLike"]

#: What every ``rng`` argument accepts (SPEC 7).
SeedLike = None | int | Sequence[int] | np.random.SeedSequence | np.random.Generator

#: A field of directions: maps a (K, d) batch of unit vectors to a (K, d) batch (the teacher's ``v``).
Field = Callable[[np.ndarray], ArrayLike]
