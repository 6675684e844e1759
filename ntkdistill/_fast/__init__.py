"""The speed machinery behind one door (private): the batched PGD engine, its compiled loops, the
Monte Carlo blocks and the threads they run on.

The science modules import only these names:

``AVAILABLE``
    Whether the compiled loops can run (numba installed: the ``fast`` extra).
``Options``, ``use``
    The engine's choices in one object (every field ``None``: decided by rule), passed
    explicitly or made the default of a ``with`` block.
``Engine``
    The batched PGD step of many networks (:func:`ntkdistill.pgd` with ``backend="fast"``).
``run_trajectory``, ``trajectory_pays``, ``trajectory_threads``, ``TRAJECTORY_MAX_POINTS``
    The whole PGD run of a few points and many neurons in compiled code, the rule that
    sends :func:`ntkdistill.pgd` there (``backend="trajectory"``, or ``"auto"`` where it pays),
    and the threads it runs on when not told.
``ordered_map``, ``scratch``
    The ordered parallel map over blocks and per-thread scratch buffers.
``field_sums``, ``mean_and_stderr``
    The Monte Carlo sums behind the teacher logits and the margin's certificate.

Every result here is the plain formula's to rounding: :func:`ntkdistill.pgd` with
``backend="reference"`` is the yardstick of the engine (``tests/fast/``), and
``python -m benchmarks.run`` measures it.
"""

from .compiled import AVAILABLE
from .engine import Engine
from .montecarlo import field_sums, mean_and_stderr
from .options import Options, use
from .threads import ordered_map, scratch
from .trajectory import MAX_POINTS as TRAJECTORY_MAX_POINTS
from .trajectory import default_threads as trajectory_threads
from .trajectory import run_trajectory, trajectory_pays

__all__ = [
    "AVAILABLE",
    "Engine",
    "Options",
    "TRAJECTORY_MAX_POINTS",
    "field_sums",
    "mean_and_stderr",
    "ordered_map",
    "run_trajectory",
    "scratch",
    "trajectory_pays",
    "trajectory_threads",
    "use",
]
