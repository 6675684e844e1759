"""The ``ntkdistill`` command line tool.

Every module in this package that defines ``register(subparsers)`` adds one sub-command; the
function it registers (``set_defaults(func=...)``) receives the parsed arguments and returns an
exit status. Errors end in one line on stderr, without a traceback:

- user mistakes (:class:`CLIError`) and every error the library raises on bad input or an
  unusable file (``ValueError``, ``TypeError``, ``OSError``, ``ImportError`` for a missing extra,
  the resource guards' refusals): exit status 2;
- anything else (a bug): exit status 1 and the hint to rerun with ``--debug``, which shows the
  traceback;
- a closed standard output (``ntkdistill bounds --json | head``) ends quietly with status 0.
"""

from __future__ import annotations

import argparse
import importlib
import os
import pkgutil
import sys
from collections.abc import Sequence

__all__ = ["main", "build_parser", "CLIError"]


class CLIError(Exception):
    """A user mistake on the command line: printed without a traceback, exit status 2."""


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every sub-command found in :mod:`ntkdistill.cli`."""
    from .. import __version__

    parser = argparse.ArgumentParser(
        prog="ntkdistill",
        description="Soft-label vs hard-label training in the NTK regime: bounds, margins, checks and experiments.",
    )
    parser.add_argument("--version", action="version", version=f"ntkdistill {__version__}")
    parser.add_argument("--debug", action="store_true", help="show the full traceback of an error")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda i: i.name):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        register = getattr(module, "register", None)
        if register is not None:
            register(sub)
    return parser


#: exceptions that report bad input or an unusable file or extra: one line, exit status 2
_USER_ERRORS = (CLIError, ValueError, TypeError, OSError, ImportError, MemoryError)


def _quiet_stdout() -> None:
    """Point standard output at the null device, so that flushing it at exit raises nothing."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):  # pragma: no cover - stdout without a descriptor
        pass


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``ntkdistill`` console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "func", None) is None:
        parser.print_help()
        return 2
    prog = f"ntkdistill {args.command}"
    try:
        status = args.func(args)
        sys.stdout.flush()  # a closed pipe shows here, inside the handler, not at exit
    except BrokenPipeError:
        _quiet_stdout()
        return 0
    except KeyboardInterrupt:
        print(f"{prog}: interrupted; finished results are kept.", file=sys.stderr)
        return 130
    except _USER_ERRORS as exc:
        if args.debug:
            raise
        print(f"{prog}: error: {_one_line(exc)}", file=sys.stderr)
        return 2
    except Exception as exc:
        if args.debug:
            raise
        print(
            f"{prog}: unexpected error: {type(exc).__name__}: {_one_line(exc)} (rerun with --debug for the "
            "traceback, and please report it)",
            file=sys.stderr,
        )
        return 1
    return 0 if status is None else int(status)


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text or type(exc).__name__


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
