"""The measured tables of docs/experiments.md are generated from the stored JSON, and a stale one fails."""

import json
import shutil
from pathlib import Path

import pytest

from ntkdistill.experiments.render import BLOCKS, main, update_docs

DOCS = Path(__file__).resolve().parent.parent / "docs"


def test_every_generated_block_matches_its_json():
    assert update_docs(DOCS, check=True) == [], "run: python -m ntkdistill.experiments.render"


def test_the_page_has_every_block():
    for name, (_, _, page) in BLOCKS.items():
        text = (DOCS / page).read_text()
        assert f"<!-- BEGIN GENERATED {name}:" in text and f"<!-- END GENERATED {name} -->" in text


def _copy(tmp_path):
    docs = tmp_path / "docs"
    for fname, _, page in BLOCKS.values():
        (docs / fname).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(DOCS / page, docs / page)
        shutil.copy(DOCS / fname, docs / fname)
    return docs


def test_a_stale_number_in_the_page_fails(tmp_path, capsys):
    docs = _copy(tmp_path)
    page = docs / "experiments.md"
    text = page.read_text()
    record = json.loads((docs / "_data" / "table1.json").read_text())
    number = f"{record['rows'][0]['hard_mean']:.2f}"  # the first hard-label accuracy of the table
    begin = text.index("<!-- BEGIN GENERATED table1")
    at = text.index(number, begin)
    planted = f"{float(number) + 0.01:.2f}"
    page.write_text(text[:at] + planted + text[at + len(number) :])
    assert update_docs(docs, check=True) == ["table1"]
    assert main(["--docs", str(docs), "--check"]) == 1
    assert "stale" in capsys.readouterr().err
    # rewriting restores the page exactly
    assert update_docs(docs) == ["table1"]
    assert page.read_text() == text


def test_a_changed_json_fails(tmp_path):
    docs = _copy(tmp_path)
    path = docs / "_data" / "table1.json"
    record = json.loads(path.read_text())
    record["rows"][0]["gap_mean"] = record["rows"][0]["gap_mean"] + 1.0
    path.write_text(json.dumps(record))
    assert update_docs(docs, check=True) == ["table1"]


def test_missing_markers_are_reported(tmp_path):
    docs = _copy(tmp_path)
    page = docs / "experiments.md"
    page.write_text(page.read_text().replace("<!-- END GENERATED table1 -->", ""))
    with pytest.raises(ValueError, match="must appear once"):
        update_docs(docs, check=True, names=["table1"])


def test_a_stale_requirement_summary_fails(tmp_path):
    """The sweeps page's block follows its summary.json: a changed width makes it stale."""
    docs = _copy(tmp_path)
    path = docs / BLOCKS["requirement-full"][0]
    summary = json.loads(path.read_text())
    level = next(lv for lv in summary["levels"] if lv["soft"]["m_star"][str(summary["config"]["T_grid"][-1])])
    T = str(summary["config"]["T_grid"][-1])
    level["soft"]["m_star"][T] += 2
    path.write_text(json.dumps(summary))
    assert update_docs(docs, check=True) == ["requirement-full"]
    update_docs(docs)
    assert update_docs(docs, check=True) == []
