"""The ``ntkdistill`` command line tool.

Every module in this package that defines ``register(subparsers)`` adds one sub-command; the
function it registers (``set_defaults(func=...)``) receives the parsed arguments and returns an
exit status. User mistakes raise :class:`CLIError` (or ``ValueError``/``TypeError``), which are
printed as one line on stderr with exit status 2, without a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys

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
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda i: i.name):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        register = getattr(module, "register", None)
        if register is not None:
            register(sub)
    return parser


def main(argv=None) -> int:
    """Entry point of the ``ntkdistill`` console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "func", None) is None:
        parser.print_help()
        return 2
    try:
        status = args.func(args)
    except (CLIError, ValueError, TypeError, FileNotFoundError) as exc:
        print(f"ntkdistill {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"ntkdistill {args.command}: interrupted; finished results are kept.", file=sys.stderr)
        return 130
    return 0 if status is None else int(status)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
