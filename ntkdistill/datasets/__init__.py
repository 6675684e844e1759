"""Data sets: synthetic families with known NTK margin, and loaders for MNIST and CIFAR-10.

Everything here works offline: synthetic data is generated, real data is read from the
standard files in a folder the user names, or from a package that ships it.
"""

from . import synthetic
from .synthetic import *  # noqa: F401,F403

__all__ = list(synthetic.__all__)
