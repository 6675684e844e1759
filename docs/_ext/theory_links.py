r"""Griffe extension: the docstrings' citations of THEORY.md link to the theory page of the site.

The docstrings cite the theory by file and section, ``(THEORY.md, "Margin")``. In the API
reference each ``THEORY.md`` becomes a cross-reference to the page "Theory to code"
(``docs/theory.md``), to the heading of the cited section where the page has one (``SECTIONS``
below) and to the top of the page otherwise. The links are autorefs cross-references, so
``mkdocs build --strict`` fails on one whose heading is gone. The Python objects are untouched.
"""

from __future__ import annotations

import re

import griffe

#: Section named in a docstring -> heading id on docs/theory.md.
SECTIONS = {
    "Margin": "assumption-1-the-ntk-margin",
    "Teacher logits and soft labels": "teacher-logits-and-soft-labels",
    "Infinite-width kernel": "the-infinite-width-kernel",
    "Projected gradient descent": "projected-gradient-descent",
    "The comparison": "soft-against-hard-the-neurons-required",
    "Notation": "the-student-eq-1",
}
PAGE = "theory-to-code"
_CITE = re.compile(r'THEORY\.md(?P<tail>(?:,\s*|\s*\(|\s+)"(?P<section>[^"]+)")?')


def link(text: str) -> str:
    """``text`` with every ``THEORY.md`` made a cross-reference to the theory page."""

    def sub(m: re.Match) -> str:
        anchor = SECTIONS.get(m.group("section") or "", PAGE)
        return f"[THEORY.md][{anchor}]{m.group('tail') or ''}"

    return _CITE.sub(sub, text)


class TheoryLinks(griffe.Extension):
    """Rewrites the docstrings of the loaded package (see the module docstring)."""

    def on_package(self, *, pkg: griffe.Module, **kwargs) -> None:  # noqa: D102
        seen: set[int] = set()
        stack: list[griffe.Object] = [pkg]
        while stack:
            obj = stack.pop()
            if id(obj) in seen:
                continue
            seen.add(id(obj))
            if obj.docstring is not None and "THEORY.md" in obj.docstring.value:
                obj.docstring.value = link(obj.docstring.value)
            stack.extend(m for m in obj.members.values() if not m.is_alias)
