"""Random invalid input through the public API and the command line: always the library's own
error, naming the argument; never another exception type, a hang or a silent result.

Hypothesis draws from a fixed seed (tests/conftest.py), so the examples are the same on every run.
"""

from __future__ import annotations

import re

import numpy as np
import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

import ntkdistill as nd  # noqa: E402
from ntkdistill.cli import main  # noqa: E402
from ntkdistill.datasets.synthetic import circle, orthonormal, two_points  # noqa: E402

X4 = np.array([[0.6, 0.0], [0.0, 0.6], [-0.6, 0.0], [0.0, -0.6]])
Y4 = np.array([1.0, -1.0, 1.0, -1.0])
P4 = np.array([0.7, 0.3, 0.6, 0.4])

# ------------------------------------------------------------------------------- kinds of bad values

not_a_sign = st.one_of(
    st.sampled_from([0.0, 2.0, 0.5, -0.5, 3.0, float("nan"), float("inf")]),
    st.floats(allow_nan=False).filter(lambda v: v not in (-1.0, 1.0)),
)
not_a_probability = st.one_of(
    st.sampled_from([float("nan"), -1e-9, 1.0 + 1e-9, float("inf"), -float("inf")]),
    st.floats(allow_nan=False, allow_infinity=False).filter(lambda v: not 0.0 <= v <= 1.0),
)
bad_count = st.one_of(st.integers(max_value=0), st.sampled_from([1.5, "3", None, float("nan"), [2]]))
bad_real = st.sampled_from([float("nan"), "1", None, [0.1], complex(1, 1)])
bad_scalar = st.sampled_from([float("nan"), "1", None, complex(1, 1)])  # the bounds take arrays too
bad_scalar_count = st.one_of(st.integers(max_value=0), st.sampled_from([1.5, "3", None, float("nan")]))
bad_seed = st.one_of(st.integers(max_value=-1), st.sampled_from(["7", 1.5, object()]))


def _with(arr, index, value):
    out = np.array(arr, dtype=np.float64)
    out[index % out.size] = value
    return out


# every case: (name to find in the message, call)
@st.composite
def api_case(draw):
    kind = draw(
        st.sampled_from(
            [
                "loss_labels",
                "loss_soft",
                "loss_shape",
                "pgd_targets",
                "pgd_labels",
                "pgd_count",
                "pgd_real",
                "pgd_seed",
                "margin_labels",
                "margin_count",
                "teacher_count",
                "families",
                "bounds",
            ]
        )
    )
    i = draw(st.integers(0, 3))
    if kind == "loss_labels":
        fn = draw(st.sampled_from([nd.logistic_loss, nd.logistic_grad, nd.logistic_risk, nd.classification_error]))
        return "y", lambda: fn(_with(Y4, i, draw(not_a_sign)), np.zeros(4))
    if kind == "loss_soft":
        fn = draw(st.sampled_from([nd.kl_loss, nd.kl_grad, nd.kl_risk]))
        return "p", lambda: fn(_with(P4, i, draw(not_a_probability)), np.zeros(4))
    if kind == "loss_shape":
        fn, good = draw(st.sampled_from([(nd.kl_risk, P4), (nd.logistic_risk, Y4), (nd.classification_error, Y4)]))
        length = draw(st.integers(1, 7).filter(lambda k: k not in (1, 4)))
        return "shape", lambda: fn(good, np.zeros(length))
    if kind == "pgd_targets":
        loss = draw(st.sampled_from(["kl", "logistic"]))
        bad = _with(P4, i, draw(not_a_probability)) if loss == "kl" else _with(Y4, i, draw(not_a_sign))
        return "targets", lambda: nd.pgd(X4, bad, m=4, eta=1.0, T=2, loss=loss)
    if kind == "pgd_labels":
        return "labels", lambda: nd.pgd(X4, P4, m=4, eta=1.0, T=2, labels=_with(Y4, i, draw(not_a_sign)))
    if kind == "pgd_count":
        name = draw(st.sampled_from(["m", "T", "seeds", "record_every"]))
        kwargs = {
            "m": 4,
            "eta": 1.0,
            "T": 2,
            name: draw(
                bad_count.filter(
                    lambda v: (v is not None or name != "record_every") and (v != [2] or name not in ("m", "seeds"))
                )
            ),
        }  # a list of widths or seeds is valid
        return name, lambda: nd.pgd(X4, P4, **kwargs)
    if kind == "pgd_real":
        name = draw(st.sampled_from(["eta", "B"]))
        kwargs = {"m": 4, "eta": 1.0, "T": 2, name: draw(st.one_of(bad_real, st.floats(max_value=0.0)))}
        return name, lambda: nd.pgd(X4, P4, **kwargs)
    if kind == "pgd_seed":
        return "rng", lambda: nd.pgd(X4, P4, m=4, eta=1.0, T=2, rng=draw(bad_seed))
    if kind == "margin_labels":
        return "y", lambda: nd.margin(X4, _with(Y4, i, draw(not_a_sign)), n_samples=200)
    if kind == "margin_count":
        name = draw(st.sampled_from(["n_samples", "n_certify", "max_iter"]))
        return name, lambda: nd.margin(
            X4, Y4, **{"n_samples": 200, name: draw(bad_count.filter(lambda v: v is not None))}
        )
    if kind == "teacher_count":
        bad = draw(bad_count.filter(lambda v: v != [2]))  # a list of sample counts is valid here (running means)
        return "n_samples", lambda: nd.teacher_logits(X4, lambda Z: Z, n_samples=bad)
    if kind == "families":
        which = draw(st.sampled_from(["orthonormal", "circle", "two_points"]))
        if which == "orthonormal":
            return "n", lambda: orthonormal(draw(bad_count))
        if which == "circle":
            return "n", lambda: circle(draw(st.one_of(bad_count, st.sampled_from([3, 5, 7]))), 0.3)
        return "theta", lambda: two_points(draw(st.one_of(bad_scalar, st.floats(max_value=0.0))))
    name = draw(st.sampled_from(["beta", "n", "delta", "c"]))
    kwargs = {"beta": 0.1, "n": 10, "delta": 0.1}
    kwargs[name] = draw(bad_scalar_count) if name == "n" else draw(st.one_of(bad_scalar, st.floats(max_value=0.0)))
    return name, lambda: nd.theorem2(**kwargs)


@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow])
@given(api_case())
def test_public_api_names_the_argument_of_every_invalid_input(case):
    name, call = case
    with pytest.raises((ValueError, TypeError)) as info:
        call()
    message = str(info.value)
    if name == "shape":
        assert re.search(r"has shape \(\d+,\) and f has shape \(\d+,\)", message), message
    else:
        assert re.search(rf"(^|[^a-z_]){re.escape(name)}([^a-z_]|$)", message), (name, message)


# ------------------------------------------------------------------------------------ the CLI

BOUNDS = {"--gamma": "0.1", "--eps": "0.1", "--n": "10", "--delta": "0.1"}


@st.composite
def cli_case(draw):
    command = draw(st.sampled_from(["bounds", "sweep", "verify"]))
    if command == "bounds":
        option = draw(st.sampled_from(sorted(BOUNDS) + ["--c"]))
        invalid = ["-1", "0", "nan", "2.5", "x"] if option == "--n" else ["-1", "0", "nan", "inf", "2", "-0.5", "x"]
        value = draw(st.sampled_from(invalid))
        args = dict(BOUNDS, **{option: value})
        return option, ["bounds", *[x for kv in args.items() for x in kv]]
    option = draw(
        st.sampled_from(["--seed", "--out", "--workers"] if command == "sweep" else ["--seed", "--out", "--data"])
    )
    value = {
        "--seed": draw(st.sampled_from(["-1", "-7"])),
        "--workers": draw(st.sampled_from(["0", "-3"])),
        "--out": "__FILE__",
        "--data": "__NOTZIP__",
    }[option]
    return option, [command, option, value]


@settings(max_examples=40, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(cli_case())
def test_cli_names_the_option_of_every_invalid_input(tmp_path, capsys, case):
    option, argv = case
    (tmp_path / "a_file").write_text("x")
    (tmp_path / "not_zip.npz").write_text("x")
    argv = [
        str(tmp_path / "a_file") if a == "__FILE__" else str(tmp_path / "not_zip.npz") if a == "__NOTZIP__" else a
        for a in argv
    ]
    if "--out" not in argv and argv[0] != "bounds":
        argv += ["--out", str(tmp_path / "out")]
    try:
        status = main(argv)
    except SystemExit as exc:  # argparse's own type check: its usage, then one error line
        status = exc.code
    err = capsys.readouterr().err
    assert status == 2, (argv, err)
    if err.startswith("usage:"):
        err = err.splitlines()[-1] + "\n"
        assert err.startswith(f"ntkdistill {argv[0]}: error: argument {option}"), err
    assert err.count("\n") == 1 and err.startswith(f"ntkdistill {argv[0]}: error: "), err
    bare = option.lstrip("-").replace("-", "_")
    assert option in err or re.search(rf"(^|[^a-z_]){re.escape(bare)}([^a-z_]|$)", err), (option, err)
