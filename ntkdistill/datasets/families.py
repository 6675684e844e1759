"""The registry of synthetic families used by ``ntkdistill verify`` and ``ntkdistill sweep``.

A thin alias of :data:`ntkdistill.datasets.synthetic.FAMILIES` and
:func:`ntkdistill.datasets.synthetic.make_family`, kept as its own module so the command line
and the sweep jobs have one stable import path.
"""

from .synthetic import FAMILIES, make_family

__all__ = ["FAMILIES", "make_family"]
