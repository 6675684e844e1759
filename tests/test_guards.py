"""Guards on memory and time, named errors for bad input, and the command line's error handling."""

from __future__ import annotations

import io
import os
import re
import sys
import time

import numpy as np
import pytest

from ntkdistill import _guards, pgd
from ntkdistill._guards import ResourceLimitError, available_memory, check_memory, memory_limit, time_limit
from ntkdistill.cli import main
from ntkdistill.datasets.synthetic import circle, make_family, orthonormal
from ntkdistill.losses import classification_error, kl_loss, kl_risk, logistic_loss, logistic_risk
from ntkdistill.margin import margin
from ntkdistill.teacher import teacher_logits

X6 = np.eye(6, 2) * 0.5
P6 = np.full(6, 0.6)


@pytest.fixture
def one_gib(monkeypatch):
    """A memory limit that does not depend on this machine's free memory."""
    monkeypatch.setenv("NTKDISTILL_MAX_MEMORY", "1G")
    monkeypatch.delenv("NTKDISTILL_MAX_SECONDS", raising=False)


def _refused_fast(call, *patterns):
    start = time.perf_counter()
    with pytest.raises(ResourceLimitError) as info:
        call()
    elapsed = time.perf_counter() - start
    assert elapsed < 1.0, f"the guard took {elapsed:.2f} s"  # a guard refuses before any work
    for pattern in patterns:
        assert re.search(pattern, str(info.value)), (pattern, str(info.value))
    return str(info.value)


# ---------------------------------------------------------------------------------------- memory


def test_pgd_with_a_huge_width_is_refused_at_once_naming_m(one_gib):
    msg = _refused_fast(
        lambda: pgd(X6, P6, m=10**8, eta=1.0, T=10),
        r"width m = 100000000",
        r"needs about 3\d\.\d GiB of memory",
        r"limit of 1 GiB",
        r"NTKDISTILL_MAX_MEMORY = 1G",
        r"reduce m, seeds or the data",
        r"set the environment variable NTKDISTILL_MAX_MEMORY",
    )
    assert isinstance(ResourceLimitError(msg), MemoryError) and isinstance(ResourceLimitError(msg), ValueError)


def test_pgd_records_are_counted_before_they_are_allocated(one_gib):
    _refused_fast(
        lambda: pgd(X6, P6, m=8, eta=1.0, T=10**12),
        r"recording 1000000000001 iterations",
        r"reduce T or record_every \(None records only W\(0\)\)",
    )
    # the same run recording every 10**6-th iteration fits in memory; it is refused for its time instead
    _refused_fast(
        lambda: pgd(X6, P6, m=8, eta=1.0, T=10**12, record_every=10**6),
        r"would take at least",
        r"reduce T, m or seeds",
        r"NTKDISTILL_MAX_SECONDS",
    )


def test_pgd_estimate_matches_the_arrays_of_a_run():
    memory, seconds = _guards.pgd_estimates(200000, 784, [4096], 10, 1, 8)
    assert memory / 2**30 == pytest.approx(37.9, abs=0.1)  # the figure estimate_cost gives
    assert seconds > 0


def test_synthetic_families_refuse_what_cannot_fit(one_gib):
    _refused_fast(
        lambda: orthonormal(999999),
        r"orthonormal data set with n = 999999 points in d = 999999",
        r"reduce n \(or the level\)",
    )
    _refused_fast(lambda: make_family("orthonormal", 999999), r"orthonormal data set")
    _refused_fast(lambda: circle(10**8, 0.3), r"circle data set with n = 100000000 points")
    assert orthonormal(3).X.shape == (3, 3)  # small ones run


def test_margin_and_teacher_refuse_an_endless_sample(monkeypatch):
    monkeypatch.delenv("NTKDISTILL_MAX_SECONDS", raising=False)
    _refused_fast(
        lambda: margin(np.eye(2), [1, -1], n_samples=10**13),
        r"margin with n_samples = 10000000000000",
        r"reduce n_samples or n_certify",
        r"limit of 24 h",
    )
    _refused_fast(lambda: teacher_logits(np.eye(2), lambda Z: Z, n_samples=10**13), r"reduce n_samples")
    monkeypatch.setenv("NTKDISTILL_MAX_SECONDS", "30")  # a lower limit refuses a smaller sample
    _refused_fast(lambda: teacher_logits(np.eye(2), lambda Z: Z, n_samples=10**11), r"NTKDISTILL_MAX_SECONDS = 30")


def test_limits_from_the_environment_and_their_errors(monkeypatch):
    monkeypatch.setenv("NTKDISTILL_MAX_MEMORY", "inf")
    check_memory(1e30, what="x", argument="y")  # switched off
    monkeypatch.setenv("NTKDISTILL_MAX_MEMORY", "512M")
    assert memory_limit()[0] == 512 * 2**20
    monkeypatch.setenv("NTKDISTILL_MAX_MEMORY", "lots")
    with pytest.raises(ValueError, match=r"the environment variable NTKDISTILL_MAX_MEMORY == 'lots', must be"):
        memory_limit()
    monkeypatch.setenv("NTKDISTILL_MAX_SECONDS", "2h")
    assert time_limit() == (7200.0, "NTKDISTILL_MAX_SECONDS = 2h")


def test_available_memory_fallbacks(monkeypatch):
    monkeypatch.delenv("NTKDISTILL_MAX_MEMORY", raising=False)
    monkeypatch.setattr(_guards, "_meminfo_available", lambda: None)
    monkeypatch.setattr(_guards, "_cgroup_room", lambda: None)
    free, source = available_memory()
    if hasattr(os, "sysconf"):
        assert source == "os.sysconf('SC_AVPHYS_PAGES')" and free > 0

    def no_sysconf(name):
        raise ValueError(name)

    monkeypatch.setattr(os, "sysconf", no_sysconf)
    assert available_memory() == (None, "unknown (neither /proc/meminfo nor os.sysconf could be read)")
    assert memory_limit()[0] == float("inf") and memory_limit()[1].startswith("no limit")
    monkeypatch.setattr(_guards, "_cgroup_room", lambda: 1000)
    monkeypatch.setattr(_guards, "_meminfo_available", lambda: 5000)
    assert available_memory()[0] == 1000  # the cgroup leaves less room than the machine


# ---------------------------------------------------------------------------- named bad input


@pytest.mark.parametrize(
    "call, exc, message",
    [
        (
            lambda: classification_error([0, 1, 0], [-1, 1, -1]),
            ValueError,
            "y must contain only -1 and +1, got also [0]",
        ),
        (lambda: logistic_loss(0, 3.0), ValueError, "y must contain only -1 and +1"),
        (lambda: logistic_risk([1, 2], [0.0, 1.0]), ValueError, "y must contain only -1 and +1, got also [2]"),
        (lambda: kl_loss(2, 0), ValueError, "p must lie in [0, 1]"),
        (lambda: kl_loss(float("nan"), 0), ValueError, "p must lie in [0, 1]"),
        (lambda: kl_risk([0.5, 0.5], [0.0, 0.0, 0.0]), ValueError, "p has shape (2,) and f has shape (3,)"),
        (lambda: kl_risk([0.5], [0.0], axis=2), ValueError, "axis == 2, out of range"),
        (lambda: logistic_loss(1, "a"), TypeError, "f must be real numbers"),
        (lambda: pgd(X6, P6, m=8, eta=1.0, T=5, record_every=0), ValueError, "record_every == 0, must be >= 1"),
        (lambda: pgd(X6, P6, m=8, eta=1.0, T=5, rng=-1), ValueError, "rng == -1, an int seed must be >= 0"),
    ],
)
def test_bad_input_is_named(call, exc, message):
    with pytest.raises(exc, match=re.escape(message)):
        call()


def test_losses_still_accept_what_they_should():
    assert float(classification_error([1, -1, 1], [2.0, 0.5, 0.0])) == pytest.approx(2 / 3)
    assert float(kl_loss(np.float32(1.0), np.float32(-1e4))) == pytest.approx(1e4)
    assert kl_risk(np.full((2, 3), 0.5), np.zeros(3)).shape == (2,)  # broadcasting


def test_load_mnist_on_a_file_says_it_is_a_file(tmp_path):
    from ntkdistill.datasets.mnist import load_mnist

    f = tmp_path / "mnist.gz"
    f.write_bytes(b"x")
    with pytest.raises(NotADirectoryError, match=re.escape(f"root == {str(f)!r} is a file")):
        load_mnist(f, source="idx")


# ------------------------------------------------------------------------------- command line


def _cli(capsys, *argv):
    status = main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


@pytest.mark.parametrize("command", ["verify", "sweep", "table1", "figure1"])
def test_an_out_path_that_is_a_file_is_refused_before_any_work(tmp_path, capsys, command):
    target = tmp_path / "taken"
    target.write_text("x")
    start = time.perf_counter()
    status, _, err = _cli(capsys, command, "--out", str(target))
    assert time.perf_counter() - start < 5  # nothing was computed (the verification alone takes ~40 s)
    assert status == 2
    assert err == (
        f"ntkdistill {command}: error: --out {str(target)!r} is a file; it must be a folder (created if "
        "absent). Give another path or remove the file.\n"
    )
    assert target.read_text() == "x"


def test_an_out_path_under_a_file_is_refused(tmp_path, capsys):
    (tmp_path / "f").write_text("x")
    status, _, err = _cli(capsys, "sweep", "--out", str(tmp_path / "f" / "sub"))
    assert status == 2 and "--out" in err and "cannot be created as a folder" in err and err.count("\n") == 1


def test_a_guard_refusal_is_one_line_with_status_2(monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("NTKDISTILL_MAX_MEMORY", "1G")
    status, _, err = _cli(
        capsys, "verify", "--dataset", "orthonormal", "--level", "999999", "--out", str(tmp_path / "o")
    )
    assert status == 2 and err.count("\n") == 1
    assert err.startswith("ntkdistill verify: error: the orthonormal data set with n = 999999 points")


def test_unexpected_errors_are_one_line_with_status_1_and_debug_shows_them(monkeypatch, capsys):
    import ntkdistill.cli.bounds as bounds_cli

    def broken(args):
        raise RuntimeError("a bug\nover two lines")

    monkeypatch.setattr(bounds_cli, "run", broken)
    argv = ["bounds", "--gamma", "0.1", "--eps", "0.1", "--n", "10", "--delta", "0.1"]
    # register() bound the old function: rebuild the parser's default through main's own path
    import ntkdistill.cli as cli

    real_build = cli.build_parser

    def build():
        parser = real_build()
        parser._subparsers._group_actions[0].choices["bounds"].set_defaults(func=broken)
        return parser

    monkeypatch.setattr(cli, "build_parser", build)
    status, _, err = _cli(capsys, *argv)
    assert status == 1
    assert err == (
        "ntkdistill bounds: unexpected error: RuntimeError: a bug over two lines (rerun with --debug for "
        "the traceback, and please report it)\n"
    )
    with pytest.raises(RuntimeError, match="a bug"):
        main(["--debug", *argv])


class _ClosedPipe(io.StringIO):
    def write(self, text):
        raise BrokenPipeError(32, "Broken pipe")

    def fileno(self):
        raise io.UnsupportedOperation("no descriptor")


def test_a_closed_pipe_ends_quietly(monkeypatch, capsys):
    monkeypatch.setattr(sys, "stdout", _ClosedPipe())
    status = main(["bounds", "--gamma", "0.1", "--eps", "0.1", "--n", "10", "--delta", "0.1", "--json"])
    assert status == 0
    assert capsys.readouterr().err == ""


def test_cli_names_bad_options(tmp_path, capsys):
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"not a zip")
    status, _, err = _cli(capsys, "verify", "--data", str(bad), "--out", str(tmp_path / "o"))
    assert status == 2 and "is not a .npz file (not a zip archive)" in err
    for command in ("verify", "sweep"):
        status, _, err = _cli(capsys, command, "--seed", "-1", "--out", str(tmp_path / "o"))
        assert status == 2 and err == f"ntkdistill {command}: error: --seed -1: must be >= 0.\n"


def test_unreachable_dask_scheduler_fails_within_its_timeout(tmp_path, capsys):
    pytest.importorskip("distributed", reason="dask.distributed is not installed (pip install 'ntkdistill[parallel]')")
    start = time.perf_counter()
    status, _, err = _cli(
        capsys, "sweep", "--dask", "tcp://127.0.0.1:1", "--dask-timeout", "1", "--out", str(tmp_path / "o")
    )
    elapsed = time.perf_counter() - start
    assert status == 2 and err.count("\n") == 1, err
    assert err.startswith("ntkdistill sweep: error: --dask 'tcp://127.0.0.1:1': no dask scheduler reachable within 1 s")
    assert err.rstrip().endswith("check the address, or raise --dask-timeout.")
    assert elapsed < 15, elapsed  # the 1 s timeout, plus importing dask on a loaded machine
