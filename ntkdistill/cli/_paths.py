"""Output folders and files of the sub-commands: checked before any work, written atomically."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator

from . import CLIError


def prepare_out(option: str, path) -> str:
    """Create the output folder ``path`` of ``option`` (e.g. ``--out``) now, before any computation.

    Raises :class:`CLIError` naming the option when ``path`` is a file, lies under a file, or
    cannot be created or written, so that no result is computed only to be lost at the end.
    """
    path = os.fspath(path)
    if os.path.exists(path) and not os.path.isdir(path):
        raise CLIError(
            f"{option} {path!r} is a file; it must be a folder (created if absent). "
            "Give another path or remove the file."
        )
    try:
        os.makedirs(path, exist_ok=True)
    except OSError as exc:
        raise CLIError(f"{option} {path!r} cannot be created as a folder: {exc.strerror or exc}.") from None
    if not os.access(path, os.W_OK | os.X_OK):
        raise CLIError(f"{option} {path!r} is not writable; give a folder you can write to.")
    return path


def write_atomic(path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file in the same folder and ``os.replace``:
    a reader (or a concurrent writer) sees the old file or the new one, never a part."""
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{os.path.basename(path)}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


@contextlib.contextmanager
def folder_lock(folder: str | os.PathLike[str]) -> Iterator[None]:
    """Hold an exclusive ``flock`` on ``folder/.summary.lock`` for the block (none where fcntl is missing).

    Writers of a folder's summary take it around reading the results file and writing the
    summary, so the last summary written has read every record finished before it.
    """
    from ..sweep import _locked

    fd = os.open(os.path.join(folder, ".summary.lock"), os.O_RDWR | os.O_CREAT, 0o644)
    try:
        with _locked(fd):
            yield
    finally:
        os.close(fd)
