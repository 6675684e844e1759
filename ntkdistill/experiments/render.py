r"""The generated parts of ``docs/experiments.md`` and ``docs/sweeps.md``, rendered from the stored JSON of the runs.

The measured tables and conclusions in the documentation are not typed: each lies between two
markers,

.. code-block:: text

    <!-- BEGIN GENERATED table1: python -m ntkdistill.experiments.render -->
    ...
    <!-- END GENERATED table1 -->

and is the output of :func:`render_table1` on ``docs/_data/table1.json`` (the record that
``ntkdistill table1`` writes, with the machine it ran on). ``python -m
ntkdistill.experiments.render`` rewrites the blocks (and the plot, when matplotlib is
installed); ``--check`` only compares them and exits with status 1 on a difference, which
the test suite does, so a table that no longer matches its JSON fails CI.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from .table1 import _num, format_record

__all__ = ["render_table1", "render_figure1", "render_requirement", "update_docs", "BLOCKS"]

#: The generated blocks: name -> (JSON file under docs/_data, renderer).
BLOCKS: dict[str, tuple[str, Callable[[Mapping[str, Any]], str], str]] = {}


def _constant(text: str) -> Callable[[re.Match[str]], str]:
    """A replacement function for ``re.sub`` that inserts ``text`` as it is (no escapes, no groups)."""
    return lambda _match: text


def _begin(name):
    return f"<!-- BEGIN GENERATED {name}: python -m ntkdistill.experiments.render -->"


def _end(name):
    return f"<!-- END GENERATED {name} -->"


def render_table1(record: Mapping[str, Any]) -> str:
    r"""The Markdown of the measured Table 1: how it was run, the tables and the computed conclusions.

    .. math::

        \text{docs block} = \text{render}(\text{stored JSON})

    Parameters
    ----------
    record : dict
        The JSON of ``ntkdistill table1`` (``docs/_data/table1.json``).

    Returns
    -------
    str

    Examples
    --------
    >>> rec = {"settings": {"seeds": 2, "source": "toy", "center": True, "steps": [5], "etas": [1.0],
    ...        "radii": [1.0], "taus": [1.0], "selection": "max", "variants": ["full"], "widths": [2]},
    ...        "teachers": [], "rows": [], "sweep": [], "elapsed_seconds": 1.0}
    >>> "Table 1: students" in render_table1(rec)
    True
    """
    cli = record.get("cli_arguments", {})
    machine = record.get("machine", {})
    flags = []
    for key in (
        "preset",
        "seeds",
        "student_subsample",
        "subsample",
        "taus",
        "radii",
        "steps",
        "etas",
        "widths",
        "seed",
    ):
        v = cli.get(key)
        if v is None or (key == "preset" and v == "cpu") or (key == "seed" and v == 0):
            continue
        text = ",".join(format(_num(x), "g") for x in v) if isinstance(v, (list, tuple)) else str(v)
        flags.append(f"--{key.replace('_', '-')} {text}")
    command = " ".join(["ntkdistill table1", *flags])
    minutes = _num(record.get("elapsed_seconds")) / 60.0
    where = machine.get("description", "unrecorded machine")
    lines = [
        f"Command: `{command}` ({record['settings'].get('dtype', 'float32')}); "
        f"{where}; wall time {minutes:.1f} minutes. Stored record: `docs/_data/table1.json`.",
        "",
        "```text",
        format_record(record),
        "```",
    ]
    return "\n".join(lines)


BLOCKS["table1"] = ("_data/table1.json", render_table1, "experiments.md")


def render_figure1(record: Mapping[str, Any]) -> str:
    r"""The Markdown of the measured Figure 1: how it was run, the table, the slope and the premise check.

    .. math::

        \text{docs block} = \text{render}(\text{stored JSON})

    Parameters
    ----------
    record : dict
        The JSON of ``ntkdistill figure1`` (``docs/_data/figure1.json``).

    Returns
    -------
    str

    Examples
    --------
    >>> rec = {"noise": [0.0], "runs": 1, "config": {}, "info": {"seconds": 60.0},
    ...        "records": [dict(noise=0.0, run=0, teacher_test=0.9, hard_test=0.8, soft_test=0.85, gap=0.05)]}
    >>> "premise" in render_figure1(rec)
    True
    """
    from .figure1 import Figure1Result

    res = Figure1Result(record["records"], tuple(record["noise"]), record["runs"], record["config"], record["info"])
    info = record["info"]
    sizes = info.get("sizes") or {}
    size_text = ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in sizes.items())
    # the output folder is where the record was written, not part of the experiment
    command = re.sub(r"\s--out(=|\s+)\S+", "", info.get("command") or "ntkdistill figure1")
    lines = [
        f"Command: `{command}`; {info.get('machine', 'unrecorded machine')}, "
        f"device {info.get('device', '?')}, {info.get('threads', '?')} thread(s); wall time "
        f"{_num(info.get('seconds')) / 60.0:.1f} minutes. Images per run: {size_text or 'unrecorded'}. "
        "Stored record: `docs/_data/figure1.json`.",
        "",
        "```text",
        res.format_table(),
        "```",
    ]
    return "\n".join(lines)


BLOCKS["figure1"] = ("_data/figure1.json", render_figure1, "experiments.md")


def render_requirement(summary: Mapping[str, Any]) -> str:
    r"""The Markdown of a stored requirement study: how it was run, how much finished, its table and conclusions.

    .. math::

        \text{docs block} = \text{render}(\texttt{summary.json})

    Parameters
    ----------
    summary : dict
        ``summary.json`` of ``ntkdistill sweep`` (see docs/sweeps.md).

    Returns
    -------
    str

    Examples
    --------
    >>> cfg = {"command": "ntkdistill sweep", "version": "0", "machine": "x86_64, 2 CPUs", "wall_s": 90.0,
    ...        "T_grid": [10], "records_of_protocol": 4, "jobs_planned": 6, "levels_incomplete": 1}
    >>> print(render_requirement({"config": cfg, "levels": [], "conclusions": []}).splitlines()[0])
    Command: `ntkdistill sweep` (ntkdistill 0, x86_64, 2 CPUs); wall time of this invocation 1.5 min. Jobs in the results file: 4 of the 6 jobs of the preset (2 not finished: levels without both label types are left out, 1 here).
    """
    from ..requirement import RequirementStudy

    cfg = summary["config"]
    done, planned = cfg.get("records_of_protocol"), cfg.get("jobs_planned")
    wall = cfg.get("command_wall_s", cfg.get("wall_s"))
    lines = [
        f"Command: `{cfg.get('command') or 'requirement_study(' + repr(cfg.get('preset')) + ')'}` (ntkdistill "
        f"{cfg.get('version')}, {cfg.get('machine')}); wall time of this invocation "
        f"{(wall or 0) / 60:.1f} min.",
    ]
    if done is not None and planned is not None:
        state = "all" if done >= planned else f"{done} of the {planned}"
        lines[0] += (
            f" Jobs in the results file: {state} jobs of the preset"
            + (
                f" ({planned - done} not finished: levels without both label types are left out, "
                f"{cfg.get('levels_incomplete', 0)} here)"
                if done < planned
                else ""
            )
            + "."
        )
    lines += ["", "```text", RequirementStudy(dict(summary)).format_table(), "```"]
    return "\n".join(lines)


BLOCKS["requirement-default"] = ("results/requirement-default/summary.json", render_requirement, "sweeps.md")
BLOCKS["requirement-full"] = ("results/requirement-full/summary.json", render_requirement, "sweeps.md")


def update_docs(
    docs_dir: str | os.PathLike[str] = "docs", *, check: bool = False, names: Sequence[str] | None = None
) -> list[str]:
    r"""Rewrite (or, with ``check``, compare) the generated blocks of the docs pages (experiments, sweeps).

    .. math::

        \text{stale} \iff \text{block in the page} \ne \text{render}(\text{JSON})

    Parameters
    ----------
    docs_dir : str or Path
        The folder holding the pages and the stored JSON (``_data/``, ``results/``).
    check : bool
        Only compare; nothing is written.
    names : sequence of str, optional
        The blocks (default: every one of :data:`BLOCKS` whose markers are in the page).

    Returns
    -------
    list of str
        The names of the blocks that differ (were stale before a rewrite).

    Raises
    ------
    ValueError
        When a named block's markers are missing or unbalanced.

    Examples
    --------
    >>> update_docs("no-such-folder", check=True)   # doctest: +SKIP
    """
    docs = Path(docs_dir)
    if names is not None:
        unknown = [n for n in names if n not in BLOCKS]
        if unknown:
            raise ValueError(f"names has {unknown[0]!r}; the generated blocks are {sorted(BLOCKS)}.")
    stale = []
    for page_name in dict.fromkeys(b[2] for b in BLOCKS.values()):
        page = docs / page_name
        if not page.exists():
            continue
        text = page.read_text(encoding="utf-8")
        mine = [n for n in BLOCKS if BLOCKS[n][2] == page_name]
        todo = [n for n in mine if _begin(n) in text] if names is None else [n for n in names if n in mine]
        new = text
        for name in todo:
            begin, end = _begin(name), _end(name)
            pat = re.compile(re.escape(begin) + r"\n(.*?)" + re.escape(end), re.S)
            found = pat.findall(new)
            if len(found) != 1:
                raise ValueError(
                    f"{page}: the block {name!r} must appear once between {begin!r} and {end!r}; found {len(found)}."
                )
            fname, renderer, _ = BLOCKS[name]
            record = json.loads((docs / fname).read_text(encoding="utf-8"))
            body = renderer(record)
            if found[0] != body + "\n":
                stale.append(name)
                new = pat.sub(_constant(f"{begin}\n{body}\n{end}"), new)
        if not check and new != text:
            page.write_text(new, encoding="utf-8")
    return stale


def _plots(docs):
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:  # pragma: no cover - depends on the environment
        print("matplotlib is not installed: the plot is not redrawn", file=sys.stderr)
        return
    from .table1 import plot_gap_vs_B

    path = docs / "_data" / "table1.json"
    if not path.exists():
        return
    record = json.loads(path.read_text(encoding="utf-8"))
    variants = record["settings"]["variants"]
    fig, axes = plt.subplots(1, len(variants), figsize=(5.5 * len(variants), 3.8), squeeze=False)
    for ax, v in zip(axes[0], variants):
        plot_gap_vs_B(record, v, ax=ax)
    fig.tight_layout()
    fig.savefig(docs / "table1_gap_vs_B.png", dpi=100)
    plt.close(fig)


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m ntkdistill.experiments.render [--check] [--docs DIR]``."""
    p = argparse.ArgumentParser(prog="python -m ntkdistill.experiments.render", description=__doc__.splitlines()[0])
    p.add_argument("--docs", default="docs", help="the docs folder (default docs)")
    p.add_argument("--check", action="store_true", help="compare only; exit status 1 when a block is stale")
    args = p.parse_args(argv)
    stale = update_docs(args.docs, check=args.check)
    if args.check:
        if stale:
            print(
                f"stale generated blocks in {args.docs}: {stale}; run python -m ntkdistill.experiments.render",
                file=sys.stderr,
            )
            return 1
        print("generated blocks match their JSON")
        return 0
    _plots(Path(args.docs))
    print(f"rewrote {stale}" if stale else "nothing to rewrite")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
