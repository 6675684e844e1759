"""Test configuration shared by the test suite and the doctests of the package."""

import importlib.util

import pytest

collect_ignore = []
if importlib.util.find_spec("torch") is None:
    # the optional torch adapter cannot even be imported without torch; its tests skip themselves
    collect_ignore.append("ntkdistill/torch")
    # its doctest trains a tiny VGG network
    collect_ignore.append("ntkdistill/experiments/figure1.py")
if importlib.util.find_spec("sklearn") is None:
    # the scikit-learn estimator needs the sklearn extra to be imported; its tests skip themselves
    collect_ignore.append("ntkdistill/sklearn.py")


def pytest_collection_modifyitems(config, items):
    """Without matplotlib the figures' doctests skip, with the reason (the 'plot' extra)."""
    if importlib.util.find_spec("matplotlib") is not None:
        return
    skip = pytest.mark.skip(reason="the figures need matplotlib (the 'plot' extra)")
    for item in items:
        if item.nodeid.startswith(
            ("ntkdistill/plotting.py", "ntkdistill/_verify_plots.py", "ntkdistill/_requirement_plots.py")
        ):
            item.add_marker(skip)
