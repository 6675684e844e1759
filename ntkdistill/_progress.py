"""Progress bars: in a Jupyter notebook, on a terminal, and never in a log file.

One rule for every ``progress=`` argument of the library:

``False``
    no bar;
``True``
    a bar (needs tqdm: an ImportError naming the ``progress`` extra otherwise), shown in a Jupyter
    notebook (a widget when ipywidgets is installed, text otherwise) and on a terminal; silent
    when standard error is redirected to a file or a CI log;
``None`` (the default)
    the same when tqdm is installed, except that in a notebook a bar appears only once the run
    has lasted :data:`AUTO_DELAY` seconds, so quick calls print nothing, and that on a terminal
    a bar is shown only where the function asks for it (``terminal=True``:
    :func:`~ntkdistill.sweep.run_sweep`).

The bar class is tqdm's own choice between ``tqdm.notebook`` and ``tqdm.std``
(``tqdm.auto``), made here at the call rather than when tqdm is first imported.
"""

from __future__ import annotations

import importlib.util
import sys
from typing import Any

__all__ = ["AUTO_DELAY", "in_notebook", "progress_bar"]

AUTO_DELAY = 3.0  # seconds before a bar the caller did not ask for appears


def in_notebook() -> bool:
    """Whether this code runs in a Jupyter kernel (notebook, lab, VS Code, Colab)."""
    if "ipykernel.zmqshell" not in sys.modules:
        return False
    try:
        shell = sys.modules["IPython"].get_ipython()
    except Exception:  # no IPython, or no shell
        return False
    name = type(shell).__name__.lower()
    return shell is not None and "zmq" in name and "qt" not in name


def _widgets() -> bool:
    """Whether ipywidgets, which tqdm's notebook bar needs, is installed."""
    return importlib.util.find_spec("ipywidgets") is not None


def _stderr_is_terminal() -> bool:
    try:
        return bool(sys.stderr.isatty())
    except (AttributeError, ValueError):  # replaced or closed stream
        return False


def check_progress(progress: object) -> None:
    """Refuse anything but None, True or False (numpy booleans included)."""
    import numpy as np

    if progress is not None and not isinstance(progress, (bool, np.bool_)):
        raise TypeError(f"progress must be None, True or False, got {progress!r}.")


def progress_bar(
    progress: bool | None, *, total: int, desc: str, initial: int = 0, leave: bool = True, terminal: bool = False
) -> Any:
    """A tqdm bar following the module's rule, or None where none is to be shown.

    ``terminal`` says whether ``progress=None`` shows a bar on a terminal (after :data:`AUTO_DELAY`
    seconds) as it does in a notebook.
    """
    check_progress(progress)
    if progress is False:
        return None
    if importlib.util.find_spec("tqdm") is None:
        if progress:
            raise ImportError("progress=True needs tqdm: pip install 'ntkdistill[progress]' (or pip install tqdm).")
        return None
    notebook = in_notebook()
    tty = _stderr_is_terminal()
    if not (notebook or (tty and (progress or terminal))):
        return None  # a log file or CI: nothing
    delay = AUTO_DELAY if progress is None and notebook else 0.0
    if notebook and _widgets():
        from tqdm.notebook import tqdm
    else:  # text on standard error, which a notebook shows as well
        from tqdm.std import tqdm
    return tqdm(total=total, initial=initial, desc=desc, leave=leave, delay=delay, file=sys.stderr)
