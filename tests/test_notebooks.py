"""The notebooks are stored executed, with a parameters cell first; CI re-executes them with nbmake.

These checks read the stored ``.ipynb`` files as JSON (no Jupyter needed) and take milliseconds.
Re-executing the notebooks is a separate CI step: ``pytest --nbmake notebooks/``.
"""

import json
from pathlib import Path

import pytest

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"
EXPECTED = (
    "01_bounds.ipynb",
    "02_margin_teacher.ipynb",
    "03_theorem_checks.ipynb",
    "04_neuron_requirement.ipynb",
    "05_table1.ipynb",
    "06_vgg.ipynb",
)


def _load(name):
    return json.loads((NOTEBOOKS / name).read_text(encoding="utf-8"))


def _code_cells(nb):
    return [c for c in nb["cells"] if c["cell_type"] == "code"]


def _source(cell):
    src = cell["source"]
    return src if isinstance(src, str) else "".join(src)


def test_the_six_notebooks_are_there():
    assert sorted(p.name for p in NOTEBOOKS.glob("*.ipynb")) == sorted(EXPECTED)


@pytest.mark.parametrize("name", EXPECTED)
def test_parameters_cell_sets_the_sizes(name):
    nb = _load(name)
    tagged = [c for c in _code_cells(nb) if "parameters" in c.get("metadata", {}).get("tags", [])]
    assert len(tagged) == 1, f"{name}: expected exactly one code cell tagged 'parameters', found {len(tagged)}"
    assert _code_cells(nb)[0] is tagged[0], f"{name}: the parameters cell is not the first code cell"
    assert "NTKDISTILL_NB_FULL" in _source(tagged[0]), f"{name}: the parameters cell does not read NTKDISTILL_NB_FULL"


@pytest.mark.parametrize("name", EXPECTED)
def test_stored_executed_in_order_without_errors(name):
    nb = _load(name)
    code = _code_cells(nb)
    counts = [c.get("execution_count") for c in code]
    assert counts == list(range(1, len(code) + 1)), f"{name}: not executed top to bottom in one session: {counts}"
    errors = [o for c in code for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert not errors, f"{name}: stored with an error output: {errors[0].get('ename')}: {errors[0].get('evalue')}"
    images = [o for c in code for o in c.get("outputs", []) if "image/png" in o.get("data", {})]
    assert images, f"{name}: stored without any figure"


@pytest.mark.parametrize("name", EXPECTED)
def test_python3_kernel(name):
    assert _load(name)["metadata"]["kernelspec"]["name"] == "python3"
