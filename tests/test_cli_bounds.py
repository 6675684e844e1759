"""Tests of the ``ntkdistill bounds`` sub-command."""

from __future__ import annotations

import json
import math
import subprocess
import sys

import pytest

from ntkdistill.bounds import C1_ALTERNATIVE, C1_PRINTED, corollary4, neurons_required, proposition5
from ntkdistill.cli import main

ARGS = ["bounds", "--gamma", "0.1", "--eps", "0.1", "--n", "100", "--delta", "0.01"]


def _strict_json(text):
    """Parse JSON, refusing the non-standard NaN/Infinity constants."""

    def refuse(name):
        raise AssertionError(f"non-standard JSON constant {name}")

    return json.loads(text, parse_constant=refuse)


def test_text_output(capsys):
    assert main(ARGS) == 0
    out, err = capsys.readouterr()
    assert err == ""
    r = neurons_required(0.1, 0.1, 100, 0.01)
    lines = out.splitlines()
    assert "soft labels (Corollary 4)" in out and "hard labels (Proposition 5)" in out
    width = next(line for line in lines if line.startswith("width m"))
    assert width.split()[2:] == [f"{int(r.soft.m):,}", f"{int(r.hard.m):,}"]
    iters = next(line for line in lines if line.startswith("iterations T"))
    assert iters.split()[2:] == [f"{int(r.soft.T):,}", f"{int(r.hard.T):,}"]
    radius = next(line for line in lines if line.startswith("radius B"))
    assert [float(x) for x in radius.split()[2:]] == pytest.approx([1.0, float(r.hard.B)], rel=1e-5)
    step = next(line for line in lines if line.startswith("step eta"))
    assert [float(x) for x in step.split()[2:]] == pytest.approx([float(r.soft.eta), 1.0], rel=1e-5)
    conf = next(line for line in lines if line.startswith("confidence"))
    assert [float(x) for x in conf.split()[1:]] == pytest.approx([0.97, 0.97])
    assert "printed Corollary 4 (E11)" in out and f"T >= {int(r.soft.T_printed):,}" in out
    ratio_line = lines[-1]
    assert ratio_line.startswith("ratio hard m / soft m = ")
    assert float(ratio_line.split("= ")[1].split(":")[0]) == pytest.approx(float(r.ratio), rel=1e-5)
    assert ratio_line.endswith(f"{r.fewer} labels need fewer neurons")


def test_json_output(capsys):
    assert main(ARGS[:2] + ["0.01"] + ARGS[3:] + ["--c", "0.5", "--json"]) == 0
    out, err = capsys.readouterr()
    assert err == ""
    d = _strict_json(out)
    s = corollary4(0.01, 0.1, 100, 0.01, c=0.5)
    h = proposition5(0.01, 0.1 * math.log(2), 100, 0.01, c=0.5, eta=1.0)
    assert d["inputs"] == {"gamma": 0.01, "eps": 0.1, "n": 100, "delta": 0.01, "c": 0.5, "confidence": 1 - 0.03}
    for key, res in (("soft", s), ("hard", h)):
        assert type(d[key]["m"]) is int and d[key]["m"] == int(res.m) and d[key]["m"] % 2 == 0
        assert type(d[key]["T"]) is int and d[key]["T"] == int(res.T)
        assert d[key]["m_bound"] == float(res.m_bound)
        assert d[key]["eta"] == float(res.eta) and d[key]["B"] == float(res.B)
        assert d[key]["guarantee"] == res.guarantee
    assert d["soft"]["C1"] == C1_PRINTED
    assert d["soft"]["printed"]["T"] == int(s.T_printed) and d["soft"]["printed"]["eta"] == float(s.eta_printed)
    assert d["hard"]["error_target"] == pytest.approx(0.1, rel=1e-15)
    assert d["ratio"] == d["hard"]["m"] / d["soft"]["m"]
    assert d["fewer"] == ("soft" if d["hard"]["m"] > d["soft"]["m"] else "hard")


def test_json_beyond_float64_is_null_with_log(capsys):
    assert main(["bounds", "--gamma", "1e-200", "--eps", "1e-300", "--n", "10", "--delta", "0.1", "--json"]) == 0
    d = _strict_json(capsys.readouterr().out)
    assert d["soft"]["m"] is None and d["soft"]["m_bound"] is None
    assert d["soft"]["log10_m_bound"] > 308 and d["hard"]["log10_m_bound"] > d["soft"]["log10_m_bound"]
    assert d["fewer"] == "soft"
    assert math.log10(d["ratio"]) == pytest.approx(d["hard"]["log10_m_bound"] - d["soft"]["log10_m_bound"])
    # and the table shows the logarithm instead
    assert main(["bounds", "--gamma", "1e-200", "--eps", "1e-300", "--n", "10", "--delta", "0.1"]) == 0
    width = next(line for line in capsys.readouterr().out.splitlines() if line.startswith("width m"))
    assert width.split()[2] == f"~10^{d['soft']['log10_m_bound']:.2f}"


def test_C1_option(capsys):
    main(ARGS + ["--json"])
    printed = _strict_json(capsys.readouterr().out)
    main(ARGS + ["--json", "--C1", "alternative"])
    alt = _strict_json(capsys.readouterr().out)
    main(ARGS + ["--json", "--C1", "3.5"])
    number = _strict_json(capsys.readouterr().out)
    assert alt["soft"]["C1"] == C1_ALTERNATIVE and number["soft"]["C1"] == 3.5
    assert alt["soft"]["m_bound"] / printed["soft"]["m_bound"] == pytest.approx((1 + math.e**2) ** 2, rel=1e-12)
    assert number["soft"]["m_bound"] / printed["soft"]["m_bound"] == pytest.approx(3.5 / C1_PRINTED, rel=1e-12)
    assert alt["hard"] == printed["hard"]


@pytest.mark.parametrize(
    "change, message",
    [
        (
            ["--gamma", "0.6"],
            "gamma == 0.6, must lie in (0, 1/2] (the NTK margin cannot exceed 1/2 when ||x_i|| <= 1).",
        ),
        (["--delta", "0.5"], "delta == 0.5, must lie in (0, 1/3) (the confidence is 1 - 3 delta)."),
        (["--n", "0"], "n == 0, must be >= 1."),
        (["--C1", "paper"], "--C1 == 'paper', must be 'printed', 'alternative' or a positive number."),
        (
            ["--C1", "-2"],
            "C1 == -2.0, must be 'printed' (96/(1+e^2) = 11.4435), 'alternative' (96(1+e^2) = 805.35) "
            "or a positive finite real number.",
        ),
    ],
)
def test_errors_are_one_line(capsys, change, message):
    assert main(ARGS + change) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err == f"ntkdistill bounds: error: {message}\n"


def test_missing_argument_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as info:
        main(["bounds", "--gamma", "0.1"])
    assert info.value.code == 2
    assert "required" in capsys.readouterr().err


def test_python_m_subprocess():
    proc = subprocess.run(
        [sys.executable, "-m", "ntkdistill"] + ARGS + ["--json"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    d = _strict_json(proc.stdout)
    r = neurons_required(0.1, 0.1, 100, 0.01)
    assert (d["soft"]["m"], d["hard"]["m"], d["fewer"]) == (int(r.soft.m), int(r.hard.m), r.fewer)
