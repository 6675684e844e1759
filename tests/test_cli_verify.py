"""``ntkdistill verify`` end to end on tiny settings, and their input errors."""

import importlib.util
import json
import os

import numpy as np
import pytest

from ntkdistill.cli import main


def test_verify_end_to_end_tiny(tmp_path, capsys):
    out = tmp_path / "v"
    # the default data (antipodal pair, d = 5), one seed, a budget of 2 s per check: every training
    # check runs what fits (EMPIRICAL) or at its prescription, and none can PASS with one seed
    status = main(["verify", "--seeds", "1", "--budget", "2", "--n-samples", "2000", "--out", str(out), "--quiet"])
    text = capsys.readouterr().out
    assert status == 0
    lines = text.splitlines()
    assert lines[0].startswith("data: antipodal pair") and lines[1].startswith("n = 2, d = 5, gamma = 0.5 (known")
    for name in ("Theorem 2", "Corollary 4", "Proposition 5", "Lemma 3", "Lemma 6"):
        assert name in text
    from ntkdistill.verify import VERDICTS

    for verdict in VERDICTS:  # the legend under the table
        assert any(line.startswith(verdict + " ") for line in lines)
    report = json.loads((out / "report.json").read_text())
    assert report["config"]["version"] and report["config"]["seeds"] == 1
    assert report["data"]["n"] >= 2 and report["data"]["d"] >= 2 and report["data"]["gamma_known"] == 0.5
    training = [c for c in report["checks"] if c["name"] in ("Theorem 2", "Corollary 4", "Proposition 5")]
    assert len(training) == 3 and not any(c["status"] == "PASS" for c in training)
    assert {c["name"] for c in report["checks"]} == {"Theorem 2", "Corollary 4", "Proposition 5", "Lemma 3", "Lemma 6"}
    if importlib.util.find_spec("matplotlib") is not None:
        figures = set(report["figures"])
        assert "bounds.png" in figures and len(figures - {"bounds.png"}) >= 2
        assert all((out / f).exists() for f in figures)
    assert (out / "table.txt").exists()


def test_verify_default_seeds_and_help(capsys):
    from ntkdistill.cli import build_parser
    from ntkdistill.cli.verify import commands
    from ntkdistill.verify import VERDICTS, seeds_for_power

    args = build_parser().parse_args(["verify"])
    assert args.seeds is None and args.dataset == "antipodal" and args.d == 5
    assert seeds_for_power(1 - 3 * args.delta) == 21  # what --seeds defaults to
    with pytest.raises(SystemExit):
        main(["verify", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    for name, line in VERDICTS.items():
        assert " ".join(line.format(alpha=0.01).split()) in text
    for _, cmd, _ in commands():
        assert cmd in text
    assert "7.3 min for 21 seeds in float32" in text  # Corollary 4 at its prescription, measured


def test_readme_and_docs_list_the_commands_and_verdicts():
    from ntkdistill.cli.verify import COMMANDS, _prescriptions
    from ntkdistill.verify import VERDICTS

    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    for page in ("README.md", os.path.join("docs", "verify.md")):
        with open(os.path.join(root, page)) as fh:
            text = " ".join(fh.read().split())
        for _, cmd, _ in COMMANDS:
            assert cmd in text, (page, cmd)
        for name, line in VERDICTS.items():
            assert " ".join(line.format(alpha=0.01).split()) in text, (page, name)
        # the prescriptions they quote are the ones the bounds give on the default data
        v = _prescriptions()
        for key in ("t2", "p5", "c4"):
            assert f"m = {v[key + '_m']}" in text.replace("$", ""), (page, key)
            assert f"T = {v[key + '_T']}" in text.replace("$", ""), (page, key)


def test_verify_only_and_json_on_user_npz(tmp_path, capsys):
    path = tmp_path / "d.npz"
    np.savez(path, X=np.array([[0.6, 0.8], [0.8, -0.6]]), y=np.array([1, -1]))
    status = main(
        [
            "verify",
            "--data",
            str(path),
            "--seeds",
            "2",
            "--budget",
            "0.05",
            "--n-samples",
            "2000",
            "--only",
            "theorem2,lemma6",
            "--no-empirical",
            "--out",
            str(tmp_path / "o"),
            "--no-figures",
            "--json",
        ]
    )
    assert status == 0
    report = json.loads(capsys.readouterr().out)
    assert report["data"]["n"] == 2 and report["data"]["gamma_known"] is None
    assert 0 < report["data"]["margin_lower"] <= report["data"]["margin_upper"]
    assert [c["name"] for c in report["checks"]] == ["Theorem 2", "Lemma 6"]
    assert report["checks"][0]["status"] == "REFUSED"


@pytest.mark.parametrize(
    "setup,args,message",
    [
        (None, ["--dataset", "spiral"], "--dataset 'spiral' is not a built-in family"),
        (None, ["--data", "missing.npz"], "no such file; expected a .npz file with arrays X (n, d) and y (n,)"),
        ("wrongkeys", [], "it must hold X (n, d) and y (n,)"),
        ("objects", [], "holds object arrays, which need pickle and are refused"),
        ("norms", [], "violates the assumption ||x_i|| <= 1"),
        ("labels01", [], "To convert 0/1 labels use y = 2 * y01 - 1"),
        (None, ["--delta", "0.5"], "delta == 0.5, must lie in (0, 0.333333)"),
        (None, ["--only", "theorem9"], "--only 'theorem9': each entry must be one of theorem2, corollary4"),
        (None, ["--d", "0"], "--d 0: the dimension must be a positive integer"),
    ],
)
def test_verify_user_errors_exit_2_without_traceback(tmp_path, capsys, setup, args, message):
    path = tmp_path / "bad.npz"
    if setup == "wrongkeys":
        np.savez(path, A=np.eye(2), b=np.ones(2))
    elif setup == "objects":
        np.savez(path, X=np.array([[1.0, 0.0]], dtype=object), y=np.array([1], dtype=object))
    elif setup == "norms":
        np.savez(path, X=np.array([[2.0, 0.0], [0.0, 1.0]]), y=np.array([1.0, -1.0]))
    elif setup == "labels01":
        np.savez(path, X=np.array([[1.0, 0.0], [0.0, 1.0]]), y=np.array([1, 0]))
    if setup:
        args = ["--data", str(path)]
    elif "missing.npz" in args:
        args = ["--data", str(tmp_path / "missing.npz")]
    status = main(["verify", *args, "--out", str(tmp_path / "o"), "--no-figures", "--quiet"])
    err = capsys.readouterr().err
    assert status == 2
    assert message in err and "Traceback" not in err
