"""MkDocs hook: the notebooks of ``notebooks/`` as pages of the site, with their stored outputs.

A ``nav`` entry ``notebooks/<name>.md`` whose file does not exist in ``docs/`` is generated from
``notebooks/<name>.ipynb`` (the executed notebook as committed): Markdown cells as they are
(their ``$...$`` math goes through arithmatex like every page), code cells as Python blocks,
text outputs (streams, ``text/plain`` results) as plain blocks with carriage-return progress
lines reduced to their last state, and figures (``image/png``) as images embedded in the page.
Nothing is executed at build time and no converter beyond the standard library is needed;
error outputs fail the build, since a stored notebook must run clean.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

from mkdocs.exceptions import PluginError
from mkdocs.structure.files import File

_NB = re.compile(r"^notebooks/(?P<name>[\w.-]+)\.md$")
_ANSI = re.compile(r"\x1b\[[0-9;]*m")


def _nav_paths(nav):
    """The page paths of the nav, as the API pages' hook walks them (docs/_ext/hooks.py)."""
    sys.path.insert(0, str(Path(__file__).parent))
    try:
        from hooks import _nav_paths as walk
    finally:
        sys.path.pop(0)
    return walk(nav)


def _text(value) -> str:
    return value if isinstance(value, str) else "".join(value)


def _plain(text: str) -> str:
    """Text as a terminal would leave it: each line's last carriage-return segment, no colours."""
    lines = [line.rsplit("\r", 1)[-1] if "\r" in line.rstrip("\r") else line.rstrip("\r") for line in text.split("\n")]
    return _ANSI.sub("", "\n".join(lines)).strip("\n")


def _block(text: str, lang: str = "text") -> str:
    fence = "````" if "```" in text else "```"
    return f"{fence}{lang}\n{text}\n{fence}\n"


def to_markdown(nb: dict, source: str) -> str:
    """The page for a notebook (``source``: its path, named at the top of the page)."""
    out = [f"<!-- generated from {source} by docs/_ext/notebooks.py -->\n"]
    for cell in nb["cells"]:
        src = _text(cell.get("source", ""))
        if cell["cell_type"] == "markdown":
            out.append(src + "\n")
        elif cell["cell_type"] == "code":
            if src.strip():
                out.append(_block(src, "python"))
            for o in cell.get("outputs", []):
                kind = o.get("output_type")
                if kind == "error":
                    raise PluginError(f"{source} is stored with an error output ({o.get('ename')}); re-execute it.")
                if kind == "stream":
                    text = _plain(_text(o.get("text", "")))
                    if text:
                        out.append(_block(text))
                elif kind in ("display_data", "execute_result"):
                    data = o.get("data", {})
                    if "image/png" in data:
                        png = _text(data["image/png"]).replace("\n", "")
                        out.append(f'<img alt="figure" src="data:image/png;base64,{png}">\n')
                    elif "text/plain" in data:
                        out.append(_block(_plain(_text(data["text/plain"]))))
    return "\n".join(out)


def on_files(files, config, **kwargs):
    root = Path(config["config_file_path"]).parent
    for path in _nav_paths(config["nav"] or []):
        m = _NB.match(path)
        if m is None or files.get_file_from_path(path) is not None:
            continue
        ipynb = root / "notebooks" / f"{m.group('name')}.ipynb"
        if not ipynb.is_file():
            raise PluginError(f"nav names {path}, but there is no {ipynb.relative_to(root)}.")
        nb = json.loads(ipynb.read_text(encoding="utf-8"))
        files.append(File.generated(config, path, content=to_markdown(nb, f"notebooks/{ipynb.name}")))
    return files
