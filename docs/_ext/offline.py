"""MkDocs hook: the site renders its formulas with no network.

MathJax 3 (the es5 build: the combined ``tex-mml-chtml.js``, its fonts and the components it
loads on demand) is copied into the built site from the ``django-static-mathjax`` package of the
``docs`` extra (a PyPI package holding MathJax's files and no dependency), so that no page loads
a script, a font or a style sheet from another host. ``mkdocs.yml`` points ``extra_javascript``
at the copy. A build without the package stops with a message naming the extra.

``python docs/_ext/offline.py SITE_DIR`` checks a built site: it lists every resource that a page
or a style sheet would load from another host (``src=``, ``<link href=>``, CSS ``url()`` and
``@import``, and the hosts of the usual CDNs anywhere in HTML, CSS or JavaScript) and exits 1 if
there is one. Hyperlinks (``<a href>``) are not loads and are allowed.
"""

from __future__ import annotations

import importlib.util
import re
import shutil
import sys
from pathlib import Path

TARGET = "javascripts/mathjax"  # where the copy lands in the site

_CDN_HOSTS = (
    "cdn.jsdelivr.net",
    "unpkg.com",
    "cdnjs.cloudflare.com",
    "fonts.googleapis.com",
    "fonts.gstatic.com",
    "polyfill.io",
    "cdn.mathjax.org",
    "ajax.googleapis.com",
    "code.jquery.com",
)
# Remote loads in the theme's own script that never happen on this site, each with its reason.
_ALLOWED = {
    # fetched only by browsers without ResizeObserver (every current browser has it)
    "https://unpkg.com/resize-observer-polyfill": "ResizeObserver",
    # fetched only for a page holding a mermaid diagram: remote_loads fails on any such page
    "https://unpkg.com/mermaid@": 'class="mermaid"',
}
_LOADS = (
    re.compile(
        r"""<(?:script|img|iframe|source|video|audio|embed)\b[^>]*\ssrc\s*=\s*["']?((?:https?:)?//[^"'\s>]+)""", re.I
    ),
    re.compile(r"""<link\b[^>]*\shref\s*=\s*["']?((?:https?:)?//[^"'\s>]+)""", re.I),
    re.compile(r"""url\(\s*["']?((?:https?:)?//[^"')\s]+)""", re.I),
    re.compile(r"""@import\s+["']((?:https?:)?//[^"']+)""", re.I),
)


def mathjax_dir() -> Path:
    """The es5 folder of MathJax inside the installed django-static-mathjax package."""
    spec = importlib.util.find_spec("mathjax")
    if spec is not None and spec.submodule_search_locations:
        for root in spec.submodule_search_locations:
            es5 = Path(root) / "static" / "mathjax" / "es5"
            if (es5 / "tex-mml-chtml.js").is_file():
                return es5
    raise RuntimeError(
        "the documentation bundles MathJax from the django-static-mathjax package, which is not "
        "installed: pip install -e '.[docs]' (or pip install django-static-mathjax)."
    )


def on_config(config, **kwargs):
    mathjax_dir()  # fail at once, before any page is built
    return config


def on_post_build(config, **kwargs):
    shutil.copytree(mathjax_dir(), Path(config["site_dir"]) / TARGET, dirs_exist_ok=True)


def remote_loads(site_dir) -> list[str]:
    """``file: url`` for every resource of the site loaded from another host."""
    found = []
    for path in sorted(Path(site_dir).rglob("*")):
        if path.suffix not in (".html", ".css", ".js") or not path.is_file():
            continue
        text = path.read_text(encoding="utf-8", errors="replace")
        rel = path.relative_to(site_dir)
        if path.suffix in (".html", ".css"):
            for pattern in _LOADS:
                found += [f"{rel}: {m.group(1)}" for m in pattern.finditer(text)]
        if TARGET in rel.as_posix():
            continue  # MathJax's own files name its CDN in comments and defaults it never uses here
        if path.suffix == ".html" and _ALLOWED["https://unpkg.com/mermaid@"] in text:
            found.append(f"{rel}: a mermaid diagram, which the theme would load from unpkg.com")
        for allowed in _ALLOWED:
            text = re.sub(re.escape(allowed) + r"[^\"'`\s)]*", "", text)
        found += [f"{rel}: {host}" for host in _CDN_HOSTS if host in text]
    return sorted(set(found))


if __name__ == "__main__":
    site = Path(sys.argv[1] if len(sys.argv) > 1 else "site")
    if not (site / "index.html").is_file():
        sys.exit(f"{site} is not a built site (no index.html); build it first with mkdocs build.")
    loads = remote_loads(site)
    for line in loads:
        print(f"remote load: {line}")
    if not (site / TARGET / "tex-mml-chtml.js").is_file():
        print(f"MathJax is missing from {site / TARGET}")
        sys.exit(1)
    print(f"{len(loads)} remote loads in {site}")
    sys.exit(1 if loads else 0)
