r"""Griffe extension: rewrite the reStructuredText bits of ntkdistill's docstrings as Markdown.

The docstrings are numpy style, with the reST math and cross-reference roles that Sphinx users
expect. mkdocstrings renders docstrings as Markdown, so before they are parsed this extension
rewrites, in every docstring of the loaded package:

* ``.. math::`` blocks into ``$$ ... $$`` blocks, one per blank-line separated equation, wrapped
  in ``\begin{aligned} ... \end{aligned}`` when the equation aligns with ``&`` or breaks lines
  with ``\\`` (what Sphinx does with ``split``); pymdownx.arithmatex passes them to MathJax;
* inline ``:math:`x``` into ``$x$``;
* ``:func:``, ``:class:``, ``:mod:``, ``:meth:``, ``:attr:``, ``:data:``, ``:obj:``, ``:exc:``
  roles (with ``~`` and ``title <target>`` forms) into mkdocstrings cross-references when the
  target is in the package, and into plain code spans when it is outside (numpy, scipy, the
  standard library: no inventory is downloaded) or private (a name with a component starting
  with ``_``, which the API reference does not show). A target that is neither is emitted as a
  cross-reference all the same, so that ``mkdocs build --strict`` fails on it;
* reST simple tables (columns framed by ``=====  =====`` lines) into Markdown tables, with
  ``|`` inside their math written ``\vert`` (``\|`` as ``\Vert``) so that it does not split the
  cell;
* a paragraph ending in ``::`` (reST literal block) into one ending in ``:``; the indented block
  after it is a Markdown code block as it stands.

It also gives a module-level attribute without a docstring the ``#:`` comment lines just above
its assignment, as Sphinx autodoc does (``bounds.C1_PRINTED``). A reference to an attribute
that has no docstring at all becomes a code span: the API reference does not show such
attributes, so there is nothing to link to.

The rewrite is idempotent and leaves the Python objects untouched (only the documentation
tree that griffe builds is changed). Loaded from ``mkdocs.yml`` as a mkdocstrings-python
``extensions`` entry.
"""

from __future__ import annotations

import builtins
import importlib.util
import re

import griffe

_ROLE = re.compile(r":(?:py:)?(func|class|mod|meth|attr|data|obj|exc|const):`([^`]+)`")
_MATH_ROLE = re.compile(r":math:`([^`]*)`")
_MATH_DIRECTIVE = re.compile(r"^(?P<indent>[ \t]*)\.\. math::[ \t]*(?P<inline>.*)$")
_LITERAL = re.compile(r"(?<=\S)::[ \t]*$")


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


def _needs_aligned(tex: str) -> bool:
    if r"\begin" in tex:
        return False
    # '&' not escaped (\&), or a line break '\\'.
    return bool(re.search(r"(?<!\\)&", tex)) or "\\\\" in tex


def _math_blocks(text: str) -> str:
    """Rewrite every ``.. math::`` directive of ``text`` into ``$$`` blocks (same indentation)."""
    lines = text.split("\n")
    out: list[str] = []
    i = 0
    while i < len(lines):
        match = _MATH_DIRECTIVE.match(lines[i])
        if not match:
            out.append(lines[i])
            i += 1
            continue
        base = _indent(lines[i])
        pad = " " * base
        body: list[str] = []
        if match.group("inline").strip():
            body.append(match.group("inline").strip())
        i += 1
        while i < len(lines) and (not lines[i].strip() or _indent(lines[i]) > base):
            line = lines[i]
            if line.strip().startswith(":") and not body and re.match(r"\s*:\w+:", line):
                i += 1  # directive option (:label:, :nowrap:): dropped
                continue
            body.append(line)
            i += 1
        # Equations are separated by blank lines; strip the common indentation of each.
        equations: list[list[str]] = [[]]
        for line in body:
            if line.strip():
                equations[-1].append(line)
            elif equations[-1]:
                equations.append([])
        equations = [eq for eq in equations if eq]
        # Keep the blank lines the block had after it (they separate it from what follows).
        trailing = 0
        while body and not body[-1].strip():
            body.pop()
            trailing += 1
        if out and out[-1].strip():
            out.append("")
        for k, eq in enumerate(equations):
            common = min(_indent(line) for line in eq)
            tex = [line[common:].rstrip() for line in eq]
            if _needs_aligned("\n".join(tex)):
                tex = [r"\begin{aligned}", *tex, r"\end{aligned}"]
            if k:
                out.append("")
            out.append(pad + "$$")
            out.extend(pad + "    " + line if line else "" for line in tex)
            out.append(pad + "$$")
        out.extend([""] * max(trailing, 1 if i < len(lines) else 0))
    return "\n".join(out)


_BORDER = re.compile(r"^(?P<indent>[ \t]*)=+(?:[ \t]+=+)+[ \t]*$")


def _cell_math(cell: str) -> str:
    def fix(match: re.Match) -> str:
        tex = match.group(1).replace("\\|", "\\Vert ").replace("|", "\\vert ")
        return ":math:`" + tex + "`"

    return _MATH_ROLE.sub(fix, cell).replace("|", "\\|")


def _simple_tables(text: str) -> str:
    """Rewrite reST simple tables as Markdown tables (same indentation)."""
    lines = text.split("\n")
    out: list[str] = []
    i = 0
    while i < len(lines):
        top = _BORDER.match(lines[i])
        if not top:
            out.append(lines[i])
            i += 1
            continue
        border = lines[i]
        starts = [m.start() for m in re.finditer(r"=+", border)]
        borders = [i]
        j = i + 1
        while j < len(lines):
            if lines[j].strip() == border.strip() and _indent(lines[j]) == _indent(border):
                borders.append(j)
                # A table ends at a border followed by a blank line or the end of the text.
                if j + 1 >= len(lines) or not lines[j + 1].strip():
                    break
            j += 1
        if len(borders) < 2:
            out.append(lines[i])
            i += 1
            continue
        header_end = borders[1] if len(borders) >= 3 else None
        rows: list[list[str]] = []
        header: list[str] | None = None
        for k in range(i + 1, borders[-1]):
            if k in borders:
                continue
            line = lines[k]
            if not line.strip():
                continue
            # Column boundaries of this line; a word running over a boundary (which docutils
            # would reject) stays in its column.
            cuts = []
            for a in starts[1:]:
                while 0 < a < len(line) and line[a - 1] != " " and line[a] != " ":
                    a += 1
                cuts.append(a)
            bounds = list(zip([0, *cuts], [*cuts, len(line)]))
            cells = [line[a:b].strip() for a, b in bounds]
            in_header = header_end is not None and k < header_end
            target = None
            if in_header:
                if header is None:
                    header = cells
                    continue
                target = header
            elif not cells[0] and rows:
                target = rows[-1]
            if target is not None:
                for c, cell in enumerate(cells):
                    if cell:
                        target[c] = (target[c] + " " + cell).strip()
            else:
                rows.append(cells)
        pad = top.group("indent")
        if out and out[-1].strip():
            out.append("")
        head = header or [""] * len(starts)
        out.append(pad + "| " + " | ".join(_cell_math(c) for c in head) + " |")
        out.append(pad + "|" + "---|" * len(starts))
        for row in rows:
            out.append(pad + "| " + " | ".join(_cell_math(c) for c in row) + " |")
        i = borders[-1] + 1
    return "\n".join(out)


def _inline_math(text: str) -> str:
    return _MATH_ROLE.sub(lambda m: "$" + m.group(1).strip() + "$", text)


def _literal_blocks(text: str) -> str:
    lines = text.split("\n")
    for k, line in enumerate(lines[:-1]):
        if _LITERAL.search(line) and not lines[k + 1].strip():
            lines[k] = _LITERAL.sub(":", line)
    return "\n".join(lines)


def _is_external(first: str) -> bool:
    if hasattr(builtins, first):
        return True
    try:
        return importlib.util.find_spec(first) is not None
    except (ImportError, ValueError):
        return False


class RstToMarkdown(griffe.Extension):
    """Rewrite reST math and cross-reference roles in the docstrings of the loaded packages.

    Parameters
    ----------
    package : str
        The top-level package whose names become cross-references (default ``ntkdistill``).
    """

    def __init__(self, package: str = "ntkdistill") -> None:
        super().__init__()
        self.package = package

    # ------------------------------------------------------------------------ references
    def _target(self, obj: griffe.Object, target: str) -> str | None:
        """Full path of ``target`` in the package, or None for an external or private one."""
        parts = target.split(".")
        if any(p.startswith("_") and not (p.startswith("__") and p.endswith("__")) for p in parts):
            return None
        if parts[0] == self.package:
            return target
        try:
            first = obj.resolve(parts[0])
        except griffe.NameResolutionError:
            first = None
        if first is None:
            if _is_external(parts[0]):
                return None
            return target  # unknown: let autorefs report it (strict mode fails)
        full = ".".join([first, *parts[1:]])
        root = full.split(".")[0]
        if root != self.package:
            return None
        if any(p.startswith("_") and not (p.startswith("__") and p.endswith("__")) for p in full.split(".")):
            return None
        return full

    def _undocumented_attribute(self, obj: griffe.Object, path: str) -> bool:
        try:
            target = obj.modules_collection[path]
            if target.is_alias:
                target = target.final_target
        except (KeyError, griffe.AliasResolutionError, griffe.CyclicAliasError):
            return False
        return target.is_attribute and not (target.docstring and target.docstring.value.strip())

    def _roles(self, obj: griffe.Object, text: str) -> str:
        def replace(match: re.Match) -> str:
            spec = match.group(2).strip()
            title = None
            explicit = re.fullmatch(r"(.*?)\s*<([^>]+)>", spec)
            if explicit:
                title, spec = explicit.group(1), explicit.group(2)
            short = spec.startswith("~")
            spec = spec.lstrip("~").removesuffix("()")
            if title is None:
                title = spec.rsplit(".", 1)[-1] if short else spec
                if match.group(1) in ("func", "meth"):
                    title += "()"
            full = self._target(obj, spec)
            if full is None or self._undocumented_attribute(obj, full):
                return f"`{title}`"
            return f"[`{title}`][{full}]"

        return _ROLE.sub(replace, text)

    # ------------------------------------------------------------------------ traversal
    def _rewrite(self, obj: griffe.Object) -> None:
        doc = obj.docstring
        if doc is not None and doc.value:
            text = doc.value
            text = _math_blocks(text)
            text = _simple_tables(text)
            text = _inline_math(text)
            text = self._roles(obj, text)
            text = _literal_blocks(text)
            if text != doc.value:
                doc.value = text
                # Drop a parse cached before the rewrite, if any.
                doc.__dict__.pop("parsed", None)

    @staticmethod
    def _comment_docstring(attr: griffe.Object) -> None:
        """Give a module attribute without docstring the ``#:`` comments right above it."""
        if attr.docstring is not None or not attr.parent or not attr.parent.is_module or not attr.lineno:
            return
        lines = attr.parent.lines
        k = attr.lineno - 2
        comment: list[str] = []
        while 0 <= k < len(lines) and lines[k].lstrip().startswith("#:"):
            comment.insert(0, lines[k].lstrip()[2:].strip())
            k -= 1
        if comment:
            attr.docstring = griffe.Docstring("\n".join(comment), lineno=k + 2, parent=attr)

    def _objects(self, obj: griffe.Object, seen: set[int]):
        if id(obj) in seen:
            return
        seen.add(id(obj))
        yield obj
        for member in list(obj.members.values()):
            if not member.is_alias:
                yield from self._objects(member, seen)

    def on_package(self, *, pkg: griffe.Module, **kwargs) -> None:  # noqa: D102
        if pkg.name != self.package:
            return
        objects = list(self._objects(pkg, set()))
        for obj in objects:
            if obj.is_attribute:
                self._comment_docstring(obj)
        for obj in objects:
            self._rewrite(obj)
