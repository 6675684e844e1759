"""Plotting: each function draws on a given Axes, returns it, and writes a file only when given a path."""

import os

import pytest

plt = pytest.importorskip("matplotlib.pyplot")

from ntkdistill.experiments.figure1 import Figure1Result  # noqa: E402
from ntkdistill.plotting import plot_bound_curves, plot_requirement  # noqa: E402
from ntkdistill.requirement import fit_loglog_slope  # noqa: E402

RECORDS = [dict(noise=s, run=0, teacher_test=0.9, hard_test=0.8, soft_test=0.85, gap=0.05) for s in (0.0, 1.0)]


def _calls():
    fit = fit_loglog_slope([0.4, 0.2, 0.1], [2, 6, 20])
    return {
        "bound curves": lambda **kw: plot_bound_curves(eps_values=(0.1,), **kw),
        "requirement": lambda **kw: plot_requirement([0.4, 0.2, 0.1], [2, 6, 20], [4, None, 60], soft_fit=fit, **kw),
        "figure 1": lambda **kw: Figure1Result(RECORDS, (0.0, 1.0), 1, {}).plot(**kw),
    }


@pytest.mark.parametrize("name", list(_calls()))
def test_draws_on_the_given_axes_and_writes_nothing(name, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    fig, (left, right) = plt.subplots(1, 2)
    try:
        out = _calls()[name](ax=right)
        assert out is right
        assert right.has_data() and not left.has_data()
        assert os.listdir(tmp_path) == []  # no path: no file
        assert plt.fignum_exists(fig.number)  # a figure the caller owns stays open
    finally:
        plt.close(fig)


@pytest.mark.parametrize("name", list(_calls()))
def test_new_figure_and_path(name, tmp_path):
    before = set(plt.get_fignums())
    ax = _calls()[name]()
    assert ax.has_data() and plt.fignum_exists(ax.figure.number)  # shown in a notebook like any figure
    plt.close(ax.figure)
    path = os.path.join(tmp_path, "f.png")
    ax = _calls()[name](path=path)
    assert os.path.getsize(path) > 0 and ax.has_data()
    assert set(plt.get_fignums()) == before  # a figure made only for the file is closed


def test_notebooks_show_figures_as_matplotlib_figures():
    import json
    from pathlib import Path

    for path in sorted((Path(__file__).resolve().parent.parent / "notebooks").glob("*.ipynb")):
        cells = json.loads(path.read_text())["cells"]
        source = "".join("".join(c["source"]) for c in cells if c["cell_type"] == "code")
        assert "Image(filename" not in source and "IPython.display import Image" not in source, path.name
