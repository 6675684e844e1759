"""Every public name is documented, and the documentation site builds in strict mode.

The public API is every name in ``ntkdistill.__all__`` and in the ``__all__`` of every public
submodule (found by walking the package, so a new module is covered without editing this file).
Each public function or class must have a docstring with a numpy ``Examples`` section holding a
``>>>`` example (the doctests run through ``--doctest-modules``); each function must also state
its equation in a math block (``.. math::`` or ``:math:``). The failure messages list every
offender, so one run shows all that is missing.

``ntkdistill.cli`` is not walked: its modules are the console script's plumbing
(``register``/``run``), documented by ``ntkdistill <command> --help``, not library API.
``ntkdistill.torch`` is walked only when torch is installed.

The site tests run ``mkdocs build --strict`` (skipped with a reason when the ``docs`` extra is not
installed, or failed when ``NTKDISTILL_DOCS_REQUIRED=1``, so that CI cannot skip them silently):
once on the real docs, then on a small site with one broken cross-reference, which must fail.
"""

from __future__ import annotations

import dataclasses
import importlib
import importlib.util
import inspect
import os
import pkgutil
import re
import shutil
import subprocess
import sys
from functools import lru_cache
from pathlib import Path

import pytest

import ntkdistill

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"

# Sub-packages that are not library API (see the module docstring).
NOT_API = ("ntkdistill.cli",)
# Optional dependencies whose absence skips a sub-package.
OPTIONAL = {"ntkdistill.torch": "torch", "ntkdistill.sklearn": "sklearn"}

_EXAMPLES = re.compile(r"^[ \t]*Examples[ \t]*\n[ \t]*-{3,}[ \t]*\n(?P<body>.*)", re.M | re.S)
_MATH = re.compile(r"\.\. math::|:math:`")


def _is_public_module(name: str) -> bool:
    parts = name.split(".")
    if any(p.startswith("_") for p in parts):
        return False
    return not any(name == p or name.startswith(p + ".") for p in NOT_API)


def _installed(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        return False


def _optional_missing(name: str) -> str | None:
    for prefix, dependency in OPTIONAL.items():
        if (name == prefix or name.startswith(prefix + ".")) and not _installed(dependency):
            return dependency
    return None


@lru_cache(maxsize=None)
def _public_modules():
    """``(modules, import_errors, skipped)`` for the package and its public submodules."""
    names = ["ntkdistill"]
    for info in pkgutil.walk_packages(ntkdistill.__path__, "ntkdistill.", onerror=lambda name: None):
        if _is_public_module(info.name):
            names.append(info.name)
    modules, errors, skipped = [], [], []
    for name in sorted(set(names)):
        missing = _optional_missing(name)
        if missing:
            skipped.append(f"{name} (needs {missing})")
            continue
        try:
            modules.append(importlib.import_module(name))
        except Exception as exc:  # any failure to import is reported, not hidden
            errors.append(f"{name}: {type(exc).__name__}: {exc}")
    return tuple(modules), tuple(errors), tuple(skipped)


def _own_doc(obj) -> str:
    """The object's own docstring, '' when absent or generated (dataclass / namedtuple repr)."""
    if inspect.isclass(obj):
        doc = obj.__dict__.get("__doc__") or ""
        generated = dataclasses.is_dataclass(obj) or hasattr(obj, "_fields")
        if generated and doc.startswith(obj.__name__ + "("):
            return ""
        return doc
    return getattr(obj, "__doc__", None) or ""


@lru_cache(maxsize=None)
def _public_objects():
    """``(objects, missing)``: public functions and classes by canonical name; names of ``__all__``
    that the module does not define."""
    modules, _, _ = _public_modules()
    objects, missing = {}, []
    for module in modules:
        for name in getattr(module, "__all__", ()):
            if not hasattr(module, name):
                missing.append(f"{module.__name__}.{name}")
                continue
            obj = getattr(module, name)
            if not (inspect.isclass(obj) or inspect.isroutine(obj)):
                continue  # modules, constants
            canonical = f"{getattr(obj, '__module__', module.__name__)}.{getattr(obj, '__qualname__', name)}"
            objects.setdefault(canonical, obj)
    return objects, tuple(missing)


def _report(title, offenders):
    return f"{len(offenders)} {title}:\n  " + "\n  ".join(sorted(offenders))


# ----------------------------------------------------------------------------------- the walk


def test_public_modules_import():
    modules, errors, _ = _public_modules()
    assert len(modules) >= 2, "the walk found no public submodule"
    assert not errors, _report("public modules fail to import", errors)


def test_every_name_in___all___exists():
    _, missing = _public_objects()
    assert not missing, _report("names listed in __all__ are not defined", missing)


def test_public_functions_and_classes_have_docstrings():
    objects, _ = _public_objects()
    assert objects, "no public function or class found"
    offenders = [name for name, obj in objects.items() if not _own_doc(obj).strip()]
    assert not offenders, _report("public functions/classes have no docstring", offenders)


def test_public_functions_and_classes_have_examples():
    objects, _ = _public_objects()
    offenders = []
    for name, obj in objects.items():
        match = _EXAMPLES.search(inspect.cleandoc(_own_doc(obj)))
        if match is None or ">>>" not in match.group("body"):
            offenders.append(name)
    assert not offenders, _report("public functions/classes have no 'Examples' section with a >>> example", offenders)


def test_public_functions_state_their_equation():
    objects, _ = _public_objects()
    offenders = [name for name, obj in objects.items() if not inspect.isclass(obj) and not _MATH.search(_own_doc(obj))]
    assert not offenders, _report("public functions have no math block (.. math:: or :math:)", offenders)


def test_the_checks_can_fail():
    """The detectors reject what they must reject (so the tests above are not vacuous)."""

    def bare(x):
        return x

    def no_math(x):
        """Identity.

        Examples
        --------
        >>> no_math(1)
        1
        """
        return x

    @dataclasses.dataclass
    class Plain:
        a: int

    assert _own_doc(bare) == ""
    assert _own_doc(Plain) == ""  # the generated "Plain(a: int)" does not count
    assert _EXAMPLES.search(inspect.cleandoc(_own_doc(no_math))) is not None
    assert not _MATH.search(_own_doc(no_math))
    assert _MATH.search(r"The loss :math:`\ell(f)`.")
    assert not _is_public_module("ntkdistill._validation")
    assert not _is_public_module("ntkdistill.cli.bounds")
    assert _is_public_module("ntkdistill.datasets.tasks")


# ------------------------------------------------------------------------------ pages vs code


def test_every_public_module_has_an_api_page():
    """Each public module is a line ``api/<module>.md`` of the mkdocs.yml nav (one line adds it)."""
    names = {"ntkdistill"}
    for info in pkgutil.walk_packages(ntkdistill.__path__, "ntkdistill.", onerror=lambda name: None):
        if _is_public_module(info.name):
            names.add(info.name)
    # Sub-packages that fail to import (torch absent) are not walked: name their modules by file.
    for path in (ROOT / "ntkdistill").rglob("*.py"):
        parts = path.relative_to(ROOT).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        if _is_public_module(name):
            names.add(name)
    nav = set(re.findall(r"^\s*-\s*(?:[^:\n]+:\s*)?api/([\w.]+)\.md\s*$", (ROOT / "mkdocs.yml").read_text(), re.M))
    missing = sorted(names - nav)
    assert not missing, _report("public modules have no API page (add `- api/<module>.md` to the nav)", missing)
    stale = sorted(nav - names)
    assert not stale, _report("API pages name no public module", stale)


def _section(text: str, heading: str) -> str:
    match = re.search(rf"^## {re.escape(heading)}\n(.*?)(?=^## |\Z)", text, re.M | re.S)
    assert match, f"no section '## {heading}'"
    return match.group(1).strip()


def _code_blocks(text: str) -> list[str]:
    return re.findall(r"^```[a-z]*\n(.*?)^```", text, re.M | re.S)


def test_docs_quickstart_matches_the_readme():
    readme = (ROOT / "README.md").read_text()
    index = (DOCS / "index.md").read_text()
    assert _section(index, "Quickstart") == _section(readme, "Quickstart"), (
        "docs/index.md '## Quickstart' must be the README's, word for word"
    )
    readme_code = _code_blocks(_section(readme, "In Python"))
    assert readme_code and readme_code == _code_blocks(_section(index, "In Python")), (
        "the code of docs/index.md '## In Python' must be the README's"
    )


def test_docs_name_only_tests_that_exist():
    """Every ``tests/<file>.py::<test>`` a page cites is a test function of that file."""
    cited = set()
    for page in DOCS.rglob("*.md"):
        cited.update(re.findall(r"tests/(\w+\.py)::(\w+)", page.read_text()))
    assert cited, "the pages cite no test"
    missing = []
    for file, test in sorted(cited):
        path = ROOT / "tests" / file
        if not path.exists() or not re.search(rf"^\s*def {test}\(", path.read_text(), re.M):
            missing.append(f"tests/{file}::{test}")
    assert not missing, _report("tests cited by docs/ do not exist", missing)


def _python_blocks(page: str) -> list[str]:
    return re.findall(r"^```python\n(.*?)^```", (DOCS / page).read_text(), re.M | re.S)


def test_docs_index_python_example_runs():
    """The quickstart's Python code (the README's) runs and gives what its comments say."""
    (code,) = _python_blocks("index.md")
    namespace = {"__name__": "docs_index_example"}
    exec(compile(code, "docs/index.md", "exec"), namespace)
    res, cmp = namespace["res"], namespace["cmp"]
    assert res.avg_risk.shape == res.final_error.shape == res.max_distance.shape == (10,)
    # "never above B / sqrt(m)" (B = 1, m = 64), up to rounding
    assert (res.max_distance <= 1.0 / 8.0 * (1 + 1e-12)).all()
    assert cmp.soft.m > 0 and cmp.hard.m > 0


@pytest.mark.skipif(not _installed("distributed"), reason="dask.distributed is not installed (the parallel extra)")
def test_docs_sweep_python_example_runs(tmp_path):
    """The sweep page's function and configurations run through run_sweep (serially: no cluster here)."""
    (code,) = _python_blocks("sweeps.md")
    namespace = {"__name__": "docs_sweeps_example"}  # not __main__: the cluster part is not run
    exec(compile(code, "docs/sweeps.md", "exec"), namespace)
    results = namespace["run_sweep"](
        namespace["final_error"], namespace["configs"][:3], results_path=tmp_path / "results.jsonl", rng=0
    )
    assert len(results) == 3 and all(0.0 <= r["error"] <= 1.0 for r in results)
    assert len(namespace["read_results"](tmp_path / "results.jsonl")) == 3


# -------------------------------------------------------------------------------- the site

_DOCS_PACKAGES = ("mkdocs", "material", "mkdocstrings", "mkdocstrings_handlers.python", "griffe")


def _docs_missing():
    return next((name for name in _DOCS_PACKAGES if not _installed(name)), None)


def needs_docs(test):
    """Skip when the docs extra is absent, unless NTKDISTILL_DOCS_REQUIRED=1 (then fail: for CI)."""
    missing = _docs_missing()
    if missing is None:
        return test
    message = f"the docs extra is not installed ({missing} missing): pip install -e '.[docs]'"
    if os.environ.get("NTKDISTILL_DOCS_REQUIRED") == "1":

        def required(*args, **kwargs):
            pytest.fail(message + " and NTKDISTILL_DOCS_REQUIRED=1")

        required.__name__ = test.__name__
        return required
    return pytest.mark.skip(reason=message)(test)


def _build(project: Path, site: Path):
    env = dict(os.environ, NO_MKDOCS_2_WARNING="1")
    return subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(site)],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )


def _warnings(proc) -> str:
    lines = [ln for ln in (proc.stdout + proc.stderr).splitlines() if "WARNING" in ln or "ERROR" in ln]
    return "\n".join(lines) or (proc.stdout + proc.stderr)[-3000:]


@needs_docs
def test_mkdocs_build_strict(tmp_path):
    site = tmp_path / "site"
    proc = _build(ROOT, site)
    assert proc.returncode == 0, "mkdocs build --strict failed:\n" + _warnings(proc)
    api = list((site / "api").rglob("index.html"))
    assert api, "no API reference page was built"
    leftover, no_display = [], []
    for page in api:
        html = page.read_text()
        if re.search(r":(math|func|class|mod|meth|attr|data|obj|exc):`|\.\. math::", html):
            leftover.append(str(page.relative_to(site)))
        # A module whose source has a `.. math::` block must show display math on its page.
        module = page.parent.name
        source = ROOT.joinpath(*module.split(".")).with_suffix(".py")
        if source.exists() and ".. math::" in source.read_text() and '<div class="arithmatex">' not in html:
            no_display.append(module)
    assert not leftover, _report("API pages still hold reStructuredText roles or directives", leftover)
    assert not no_display, _report("API pages lost the display math of their module", no_display)
    assert (site / "api" / "ntkdistill.losses" / "index.html").exists()


@needs_docs
def test_mkdocs_strict_build_fails_on_a_broken_reference(tmp_path):
    """The real configuration, on a two-page site: one good and one broken cross-reference."""
    project = tmp_path / "project"
    (project / "docs").mkdir(parents=True)
    config = (ROOT / "mkdocs.yml").read_text()
    nav = "nav:\n  - index.md\n  - api/ntkdistill.losses.md\n"
    config, count = re.subn(r"^nav:.*\Z", nav, config, flags=re.M | re.S)
    assert count == 1, "mkdocs.yml has no top-level nav to replace"
    (project / "mkdocs.yml").write_text(config)
    shutil.copytree(DOCS / "_ext", project / "docs" / "_ext")
    shutil.copytree(DOCS / "javascripts", project / "docs" / "javascripts")
    (project / "ntkdistill").symlink_to(ROOT / "ntkdistill", target_is_directory=True)
    page = "# Test\n\n[`kl_loss`][ntkdistill.losses.kl_loss] and [`nothing`][ntkdistill.no_such_name].\n"
    (project / "docs" / "index.md").write_text(page)
    proc = _build(project, tmp_path / "site")
    output = proc.stdout + proc.stderr
    assert proc.returncode != 0, "a strict build with a broken cross-reference succeeded"
    assert "ntkdistill.no_such_name" in output
    assert "ntkdistill.losses.kl_loss'" not in output, "the good reference was reported:\n" + _warnings(proc)


# ----------------------------------------------------------------- the docstring rewriting


@lru_cache(maxsize=None)
def _rst():
    spec = importlib.util.spec_from_file_location("rst_to_markdown", DOCS / "_ext" / "rst_to_markdown.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@needs_docs
def test_math_blocks_and_roles_become_arithmatex_markdown():
    rst = _rst()
    text = "Loss.\n\n.. math::\n\n    a &= b\\\\\n    c &= d\n\n    e = f\n\nwith :math:` x_i ` here.\n"
    out = rst._inline_math(rst._math_blocks(text))
    assert ".. math::" not in out and ":math:" not in out
    assert "$$\n    \\begin{aligned}\n    a &= b\\\\\n    c &= d\n    \\end{aligned}\n$$" in out
    assert "$$\n    e = f\n$$" in out  # a blank line separates two equations
    assert "with $x_i$ here." in out
    assert rst._math_blocks(out) == out  # idempotent


@needs_docs
def test_simple_tables_become_markdown_tables():
    rst = _rst()
    text = (
        "=====  ==================\n"
        "check  claim\n"
        "=====  ==================\n"
        "one    :math:`|x| \\le \\|y\\|`\n"
        "       continued\n"
        "=====  ==================\n"
    )
    out = rst._simple_tables(text).splitlines()
    assert out[0] == "| check | claim |"
    assert out[2] == "| one | :math:`\\vert x\\vert  \\le \\Vert y\\Vert ` continued |"
