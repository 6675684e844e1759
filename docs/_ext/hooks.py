"""MkDocs hook: one API reference page per module, made from its line in ``nav``.

A ``nav`` entry ``api/<dotted.module.name>.md`` (for example ``api/ntkdistill.margin.md``) whose
file does not exist in ``docs/`` is generated:

* for a module, as the mkdocstrings directive ``::: <dotted.module.name>`` (its docstring and
  every public member, with the heading that gives the page its title);
* for a package (``ntkdistill``, ``ntkdistill.datasets``, ``ntkdistill.torch``), as its
  docstring followed by a table of the names its ``__all__`` re-exports, each a
  cross-reference to the page of the module that defines it (so the reference is not
  duplicated, and a re-export whose module has no page fails the strict build).

Adding a module to the API reference is thus one line in ``mkdocs.yml``. A page written by hand
under the same name takes precedence. The package is read by griffe's static analysis, like
mkdocstrings does, so nothing is imported (``ntkdistill.torch`` needs no torch).
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import griffe
from mkdocs.structure.files import File

_API = re.compile(r"^api/(?P<module>[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*)\.md$")


def _nav_paths(nav):
    if isinstance(nav, str):
        yield nav
    elif isinstance(nav, dict):
        for value in nav.values():
            yield from _nav_paths(value)
    elif isinstance(nav, list):
        for item in nav:
            yield from _nav_paths(item)


def _summary(obj) -> str:
    """First paragraph of a docstring on one line, safe in a table cell.

    Outside math ``|`` is escaped; inside ``$...$`` it becomes ``\\vert`` (``\\|`` becomes
    ``\\Vert``), since an escaped pipe would change the formula.
    """
    doc = obj.docstring.value if obj.docstring else ""
    first = " ".join(doc.strip().split("\n\n", 1)[0].split())
    parts = re.split(r"(\$[^$]+\$)", first)
    for k, part in enumerate(parts):
        if k % 2:
            parts[k] = part.replace("\\|", "\\Vert ").replace("|", "\\vert ")
        else:
            parts[k] = part.replace("|", "\\|")
    return "".join(parts)


def _load(top: str, root: Path):
    sys.path.insert(0, str(Path(__file__).parent))
    try:
        from rst_to_markdown import RstToMarkdown
    finally:
        sys.path.pop(0)
    loader = griffe.GriffeLoader(
        extensions=griffe.load_extensions(RstToMarkdown(package=top)),
        search_paths=[str(root)],
        allow_inspection=False,
    )
    pkg = loader.load(top)
    loader.resolve_aliases(external=False, implicit=False)
    return pkg


def _package_page(pkg, module: str) -> str:
    rows = []
    exported = [str(name) for name in (pkg.exports or [])]
    for name in exported:
        member = pkg.members.get(name)
        imported = pkg.imports.get(name)
        if member is not None and member.is_module and imported and imported != member.path:
            # `from .margin import margin`: at run time the name is the imported object, while
            # griffe keeps the submodule under that name.
            try:
                member = pkg.modules_collection[imported]
            except KeyError:
                pass
        try:
            target = None if member is None else member.final_target if member.is_alias else member
        except (griffe.AliasResolutionError, griffe.CyclicAliasError):
            target = None
        if target is None:
            # A name of __all__ that cannot be found: a cross-reference that fails the strict build.
            rows.append(f"| [`{name}`][{module}.{name}] | | |")
            continue
        undocumented = target.is_attribute and not (target.docstring and target.docstring.value.strip())
        if undocumented or (target.parent is not None and target.parent.path == module):
            # Defined in the package itself (whose page shows no members), or an attribute
            # without docstring (which the reference does not show): no link to make.
            value = f" = `{target.value}`" if target.is_attribute and target.value is not None else ""
            rows.append(f"| `{name}`{value} | {target.kind.value} | {_summary(target)} |")
        else:
            rows.append(f"| [`{name}`][{target.path}] | {target.kind.value} | {_summary(target)} |")
    lines = [
        f"::: {module}",
        "    options:",
        "      members: false",
        "",
    ]
    if rows:
        lines += [
            f"## What `{module}` re-exports",
            "",
            f"Every name of `{module}.__all__`, linked to its documentation in the module that defines it.",
            "",
            "| name | kind | summary |",
            "|---|---|---|",
            *rows,
            "",
        ]
    return "\n".join(lines)


def on_files(files, config, **kwargs):
    """Add the generated API pages that ``nav`` names and ``docs/`` lacks."""
    root = Path(config.config_file_path).parent
    packages = {}
    for path in _nav_paths(config.nav or []):
        match = _API.match(path)
        if match is None or files.get_file_from_path(path) is not None:
            continue
        module = match.group("module")
        top = module.split(".")[0]
        if top not in packages:
            packages[top] = _load(top, root)
        try:
            obj = packages[top][module.split(".", 1)[1]] if "." in module else packages[top]
        except KeyError:
            obj = None
        if obj is not None and obj.is_module and (obj.is_package or obj.is_subpackage):
            content = _package_page(obj, module)
        else:
            # A missing module is left to mkdocstrings, which fails the build with its name.
            content = f"::: {module}\n"
        # The heading comes from mkdocstrings, so the title (nav, browser tab) from the front matter.
        content = f"---\ntitle: {module}\n---\n\n{content}"
        files.append(File.generated(config, path, content=content))
    return files
