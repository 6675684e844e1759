"""Every public function and method of the package carries type hints (parameters and return).

Public means: a function or class whose name has no leading underscore, defined in a module whose
dotted path has no part with a leading underscore (the command-line modules included), plus every
name exported through the ``__all__`` of a public module or package (which may live in a private
module, such as ``ntkdistill.datasets._base``). For a class, its public methods, static and class
methods, properties and its ``__init__``/``__call__``/``__new__`` are checked, when written in the
package's source (a dataclass's generated ``__init__`` is annotated from its fields).

A parameter needs an annotation except the ``self``/``cls`` of a method; every function needs a
return annotation. ``mypy`` (configured in ``pyproject.toml``) checks that the hints are right;
this test checks that none is missing, so a new unannotated function fails here even though mypy
would not report it. The failure message lists every offender. ``ntkdistill.torch`` and
``ntkdistill.sklearn`` are walked only when their optional dependency is installed.
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import pkgutil
import types
from collections.abc import Callable, Iterator
from functools import lru_cache
from pathlib import Path

import ntkdistill

PACKAGE_DIR = Path(ntkdistill.__file__).resolve().parent
OPTIONAL = {"ntkdistill.torch": "torch", "ntkdistill.sklearn": "sklearn"}
# Methods with a leading underscore that are still part of a class's public signature.
PUBLIC_DUNDERS = ("__init__", "__new__", "__call__")


def _installed(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        return False


def _is_public_module(name: str) -> bool:
    return not any(part.startswith("_") for part in name.split("."))


@lru_cache(maxsize=None)
def _modules() -> tuple[types.ModuleType, ...]:
    """The package and every submodule whose optional dependency is installed."""
    names = ["ntkdistill"]
    names += [info.name for info in pkgutil.walk_packages(ntkdistill.__path__, "ntkdistill.", onerror=lambda n: None)]
    modules = []
    for name in sorted(set(names)):
        if name == "ntkdistill.__main__":
            continue  # running it starts the command line
        skip = any((name == p or name.startswith(p + ".")) and not _installed(dep) for p, dep in OPTIONAL.items())
        if not skip:
            modules.append(importlib.import_module(name))
    return tuple(modules)


def _in_package(func: Callable[..., object]) -> bool:
    """Whether ``func`` was written in the package's source (not generated, not imported)."""
    code = getattr(inspect.unwrap(func), "__code__", None)
    if code is None:
        return False
    try:
        return Path(code.co_filename).resolve().is_relative_to(PACKAGE_DIR)
    except (OSError, ValueError):
        return False


def _public_objects() -> dict[str, object]:
    """Public functions and classes of the package by qualified name."""
    objects: dict[str, object] = {}
    for module in _modules():
        if not _is_public_module(module.__name__):
            continue
        names = set(getattr(module, "__all__", ()))
        names |= {
            name
            for name, obj in vars(module).items()
            if not name.startswith("_") and getattr(obj, "__module__", None) == module.__name__
        }
        for name in names:
            obj = getattr(module, name, None)
            if inspect.isclass(obj) or inspect.isfunction(obj):
                if getattr(obj, "__module__", "").startswith("ntkdistill"):
                    objects.setdefault(f"{obj.__module__}.{obj.__qualname__}", obj)
    return objects


def _callables(name: str, obj: object) -> Iterator[tuple[str, Callable[..., object], bool]]:
    """``(qualified name, function, is_method)`` for a function or each public method of a class."""
    if inspect.isfunction(obj):
        yield name, obj, False
        return
    assert inspect.isclass(obj)
    for attr, raw in vars(obj).items():
        if attr.startswith("_") and attr not in PUBLIC_DUNDERS:
            continue
        if isinstance(raw, property):
            for part, func in (("fget", raw.fget), ("fset", raw.fset)):
                if func is not None and _in_package(func):
                    yield f"{name}.{attr}.{part}", func, True
            continue
        bound = isinstance(raw, classmethod) or inspect.isfunction(raw)
        func = raw.__func__ if isinstance(raw, (staticmethod, classmethod)) else raw
        if inspect.isfunction(func) and _in_package(func):
            yield f"{name}.{attr}", func, bound


def missing_annotations(func: Callable[..., object], is_method: bool) -> list[str]:
    """What ``func`` leaves unannotated: parameter names and ``'return'``."""
    signature = inspect.signature(func)  # through functools.wraps decorators
    params = list(signature.parameters.values())
    if is_method and params:
        params = params[1:]  # self / cls
    missing = [p.name for p in params if p.annotation is inspect.Parameter.empty]
    if signature.return_annotation is inspect.Signature.empty:
        missing.append("return")
    return missing


def _offenders() -> list[str]:
    offenders = []
    for name, obj in _public_objects().items():
        for qualname, func, is_method in _callables(name, obj):
            missing = missing_annotations(func, is_method)
            if missing:
                offenders.append(f"{qualname}: {', '.join(missing)}")
    return offenders


def test_the_walk_finds_the_public_api() -> None:
    objects = _public_objects()
    for name in (
        "ntkdistill.pgd.pgd",
        "ntkdistill.pgd.PGDResult",
        "ntkdistill.cli.main",
        "ntkdistill.datasets._base.ImageData",
    ):
        assert name in objects, f"{name} not found by the walk"
    assert len(objects) > 100


def test_public_functions_and_methods_are_annotated() -> None:
    offenders = _offenders()
    assert not offenders, f"{len(offenders)} public functions lack annotations:\n  " + "\n  ".join(sorted(offenders))


def test_the_check_can_fail() -> None:
    """The detector reports a missing parameter or return annotation (so the test above is not vacuous)."""

    def bare(x, y: int = 0):
        return x

    def typed(x: int, *args: float, **kwargs: str) -> int:
        return x

    class C:
        def method(self, x: int):
            return x

    assert missing_annotations(bare, False) == ["x", "return"]
    assert missing_annotations(typed, False) == []
    assert missing_annotations(C.method, True) == ["return"]
    assert not _is_public_module("ntkdistill._validation")
    assert _is_public_module("ntkdistill.cli.bounds")
