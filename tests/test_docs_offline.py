"""The docs site loads nothing from another host (the checker CI runs on the built site), and the
docstrings' THEORY.md citations become links to the theory page."""

import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _module(name):
    spec = importlib.util.spec_from_file_location(name, ROOT / "docs" / "_ext" / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _site(tmp_path, page, css=""):
    (tmp_path / "index.html").write_text(page)
    (tmp_path / "style.css").write_text(css)
    return tmp_path


def test_checker_finds_remote_loads(tmp_path):
    offline = _module("offline")
    clean = '<html><a href="https://arxiv.org/abs/2412.09579">paper</a><script src="javascripts/x.js"></script></html>'
    assert offline.remote_loads(_site(tmp_path, clean)) == []
    planted = {
        '<script src="https://cdn.jsdelivr.net/npm/mathjax@3/es5/tex-mml-chtml.js"></script>': "cdn.jsdelivr.net",
        '<link rel="stylesheet" href="//fonts.googleapis.com/css?family=Roboto">': "fonts.googleapis.com",
        '<div class="mermaid">graph</div>': "mermaid",
    }
    for html, what in planted.items():
        assert any(what in line for line in offline.remote_loads(_site(tmp_path, html))), html
    found = offline.remote_loads(_site(tmp_path, clean, css="@font-face { src: url(https://example.org/f.woff) }"))
    assert found == ["style.css: https://example.org/f.woff"]


def test_mkdocs_config_names_no_remote_script():
    text = (ROOT / "mkdocs.yml").read_text()
    scripts = text.split("extra_javascript:", 1)[1].split("\n\n", 1)[0]
    assert "http" not in scripts and "javascripts/mathjax/tex-mml-chtml.js" in scripts
    assert "font: false" in text


def test_mathjax_files_are_installed_for_the_docs():
    if importlib.util.find_spec("mkdocs") is None:
        pytest.skip("the docs extra is not installed")
    assert (_module("offline").mathjax_dir() / "output" / "chtml" / "fonts" / "woff-v2").is_dir()


def test_theory_citations_become_links():
    pytest.importorskip("griffe")
    links = _module("theory_links")
    text = 'Bound (THEORY.md, "Margin"); see THEORY.md "Notation" and THEORY.md.'
    assert links.link(text) == (
        'Bound ([THEORY.md][assumption-1-the-ntk-margin], "Margin"); see '
        '[THEORY.md][the-student-eq-1] "Notation" and [THEORY.md][theory-to-code].'
    )
    headings = (ROOT / "docs" / "theory.md").read_text()
    for anchor in links.SECTIONS.values():  # every target is a heading of the page (the build checks it too)
        words = anchor.replace("-", " ")
        assert any(
            words in line.lower().replace("-", " ").replace(":", "").replace("(", "").replace(")", "").replace(".", "")
            for line in headings.splitlines()
            if line.startswith("#")
        ), anchor


def test_notebook_pages_show_outputs():
    pytest.importorskip("mkdocs")
    notebooks = _module("notebooks")
    nb = {
        "cells": [
            {"cell_type": "markdown", "source": ["# Title\n", "Some $x^2$."]},
            {
                "cell_type": "code",
                "source": "print(1)",
                "outputs": [
                    {"output_type": "stream", "name": "stderr", "text": "\rbar  50%\rbar 100%\n"},
                    {"output_type": "display_data", "data": {"image/png": "iVBORw0K\n", "text/plain": "<Figure>"}},
                    {"output_type": "execute_result", "data": {"text/plain": "\x1b[31m42\x1b[0m"}},
                ],
            },
        ]
    }
    page = notebooks.to_markdown(nb, "notebooks/x.ipynb")
    assert "# Title\nSome $x^2$." in page and "```python\nprint(1)\n```" in page
    assert "```text\nbar 100%\n```" in page and "50%" not in page
    assert '<img alt="figure" src="data:image/png;base64,iVBORw0K">' in page and "<Figure>" not in page
    assert "```text\n42\n```" in page
    nb["cells"][1]["outputs"].append({"output_type": "error", "ename": "ValueError"})
    with pytest.raises(Exception, match="stored with an error output"):
        notebooks.to_markdown(nb, "notebooks/x.ipynb")
