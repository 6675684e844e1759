"""Tests of ntkdistill.sweep: keys, the results file, resuming, executors, SIGKILL."""

from __future__ import annotations

import hashlib
import io
import json
import multiprocessing
import os
import re
import signal
import subprocess
import sys
import time
from concurrent.futures import ProcessPoolExecutor

import numpy as np
import pytest

from ntkdistill import __version__
from ntkdistill.sweep import config_key, read_results, record_seed, run_sweep, single_blas_thread

# the sweep functions live in tests/_sweep_fns.py so that worker processes can import them by name
TESTS_DIR = os.path.dirname(os.path.abspath(__file__))
if TESTS_DIR not in sys.path:
    sys.path.insert(0, TESTS_DIR)
import _sweep_fns  # noqa: E402


def _configs(count=6, **extra):
    return [{"i": i, "n": 12 + i, **extra} for i in range(count)]


def _lines(path):
    with open(path, "rb") as f:
        return f.read().split(b"\n")


def _records_by_key(path):
    """Every record of a file without its line order (the finishing order differs across executors)."""
    return {k: (r["config"], r["seed"], r["result"]) for k, r in read_results(path).items()}


def _spawn_pool(workers=2):
    # spawn: workers start clean on every platform and get this process's sys.path
    return ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"))


# ------------------------------------------------------------------------------------------ keys


def test_config_key_is_sha256_of_sorted_compact_json():
    key = config_key({"b": [1.5, 2], "a": 1})
    assert key == hashlib.sha256(b'{"a":1,"b":[1.5,2]}').hexdigest()
    assert re.fullmatch(r"[0-9a-f]{64}", key)


def test_config_key_ignores_key_order_and_numpy_types():
    plain = {"m": 8, "eta": 0.25, "widths": [2, 4], "loss": "kl", "B": float("inf"), "nested": {"x": 1, "y": 2}}
    shuffled = {
        "nested": {"y": 2, "x": 1},
        "B": np.inf,
        "loss": np.str_("kl"),
        "widths": np.array([2, 4]),
        "eta": np.float64(0.25),
        "m": np.int64(8),
    }
    assert config_key(plain) == config_key(shuffled)
    assert config_key({"t": (1, 2)}) == config_key({"t": [1, 2]})


def test_config_key_tells_different_configurations_apart():
    base = config_key({"m": 8, "eta": 0.25})
    assert config_key({"m": 10, "eta": 0.25}) != base
    assert config_key({"m": 8.0, "eta": 0.25}) != base  # JSON tells 8 and 8.0 apart (documented)
    assert config_key({"m": 8, "eta": 0.25, "loss": "kl"}) != base


def test_config_key_bad_input():
    with pytest.raises(TypeError, match=re.escape("config must be a dict (one configuration), got [1, 2].")):
        config_key([1, 2])
    with pytest.raises(
        TypeError, match=re.escape("config has the key 3 of type int; keys must be str (JSON object keys are strings).")
    ):
        config_key({3: "a"})
    with pytest.raises(
        TypeError,
        match=re.escape(
            "config['data'] has type set, which cannot be stored as JSON; allowed: dict (str keys), list, "
            "tuple, str, int, float, bool, None, numpy scalars and real numpy arrays."
        ),
    ):
        config_key({"data": {1, 2}})
    with pytest.raises(
        TypeError, match=re.escape("config['z'] is an array of dtype complex128, which cannot be stored as JSON")
    ):
        config_key({"z": np.array([1j])})


# ---------------------------------------------------------------------------- serial, the file


def test_serial_run_writes_one_record_per_config_and_returns_in_order(tmp_path):
    path = tmp_path / "sub" / "results.jsonl"  # the folder is created
    configs = _configs(5)
    results = run_sweep(_sweep_fns.work, configs, results_path=path, rng=7)
    assert [r["i"] for r in results] == list(range(5))
    lines = _lines(path)
    assert lines[-1] == b"" and len(lines) == 6  # five newline-terminated lines
    records = read_results(path)
    assert list(records) == [config_key(c) for c in configs]
    children = np.random.SeedSequence(7).spawn(5)
    for i, (key, record) in enumerate(records.items()):
        assert set(record) == {"key", "config", "seed", "result", "version"}
        assert record["key"] == key and record["config"] == configs[i]
        assert record["version"] == __version__
        assert record["result"] == results[i]
        assert record["seed"] == {"entropy": 7, "spawn_key": [i], "pool_size": 4}
        # the i-th seed is SeedSequence(rng).spawn(len(configs))[i]
        seed = record_seed(record)
        assert seed.generate_state(4).tolist() == children[i].generate_state(4).tolist()
        # any record can be recomputed alone
        again = _sweep_fns.work(record["config"], seed)
        assert again["top_eig"] == record["result"]["top_eig"]
        assert again["draws"].tolist() == record["result"]["draws"]


def test_results_are_plain_json_and_equal_to_what_a_resume_returns(tmp_path):
    path = tmp_path / "r.jsonl"
    fresh = run_sweep(_sweep_fns.work, _configs(3), results_path=path, rng=1)
    assert all(type(r["draws"]) is list and type(r["scale"]) is float for r in fresh)
    resumed = run_sweep(_sweep_fns.work, _configs(3), results_path=path, rng=1)
    assert resumed == fresh


def test_rng_generator_and_seed_sequence_are_accepted_and_reproducible(tmp_path):
    a = run_sweep(_sweep_fns.work, _configs(3), results_path=tmp_path / "a.jsonl", rng=np.random.default_rng(3))
    b = run_sweep(_sweep_fns.work, _configs(3), results_path=tmp_path / "b.jsonl", rng=np.random.default_rng(3))
    assert a == b
    c = run_sweep(_sweep_fns.work, _configs(3), results_path=tmp_path / "c.jsonl", rng=np.random.SeedSequence(5))
    d = run_sweep(_sweep_fns.work, _configs(3), results_path=tmp_path / "d.jsonl", rng=5)
    assert c == d
    assert c != a


def test_empty_sweep_returns_nothing(tmp_path):
    assert run_sweep(_sweep_fns.work, [], results_path=tmp_path / "r.jsonl", rng=0) == []


# ------------------------------------------------------------------------------------- resuming


def test_resume_skips_finished_work(tmp_path):
    markers = tmp_path / "markers"
    markers.mkdir()
    configs = _configs(6, marker_dir=str(markers))
    path = tmp_path / "r.jsonl"
    first = run_sweep(_sweep_fns.counted_work, configs[:2], results_path=path, rng=11)
    assert len(os.listdir(markers)) == 2
    full = run_sweep(_sweep_fns.counted_work, configs, results_path=path, rng=11)
    assert len(os.listdir(markers)) == 6  # only the four missing ones ran
    assert full[:2] == first
    again = run_sweep(_sweep_fns.counted_work, configs, results_path=path, rng=11)
    assert len(os.listdir(markers)) == 6 and again == full
    assert len(read_results(path)) == 6
    # the same as an uninterrupted run
    other = run_sweep(_sweep_fns.counted_work, configs, results_path=tmp_path / "other.jsonl", rng=11)
    assert other == full
    assert _records_by_key(tmp_path / "other.jsonl") == _records_by_key(path)


def test_rng_none_reuses_the_root_stored_in_the_file(tmp_path):
    path = tmp_path / "r.jsonl"
    part = run_sweep(_sweep_fns.work, _configs(2), results_path=path)  # fresh entropy
    entropy = next(iter(read_results(path).values()))["seed"]["entropy"]
    full = run_sweep(_sweep_fns.work, _configs(5), results_path=path)  # resumes with the stored root
    assert full[:2] == part
    reference = run_sweep(_sweep_fns.work, _configs(5), results_path=tmp_path / "ref.jsonl", rng=entropy)
    assert full == reference


def test_another_root_seed_on_resume_is_an_error(tmp_path):
    path = tmp_path / "r.jsonl"
    run_sweep(_sweep_fns.work, _configs(2), results_path=path, rng=0)
    with pytest.raises(
        ValueError,
        match=re.escape(
            f"results_path {str(path)!r} holds configs[0] computed from another root seed (entropy 0) than rng "
            "gives (entropy 1); resume with the same rng (or rng=None), or write to a new results file."
        ),
    ):
        run_sweep(_sweep_fns.work, _configs(3), results_path=path, rng=1)
    assert len(read_results(path)) == 2  # nothing was run


def test_torn_last_line_is_ignored_and_cut_before_appending(tmp_path):
    path = tmp_path / "r.jsonl"
    markers = tmp_path / "markers"
    markers.mkdir()
    configs = _configs(4, marker_dir=str(markers))
    complete = run_sweep(_sweep_fns.counted_work, configs, results_path=path, rng=5)
    data = path.read_bytes()
    last_start = data[:-1].rfind(b"\n") + 1
    path.write_bytes(data[: last_start + 25])  # killed in the middle of writing the last record
    records = read_results(path)
    assert list(records) == [config_key(c) for c in configs[:3]]
    resumed = run_sweep(_sweep_fns.counted_work, configs, results_path=path, rng=5)
    assert len(os.listdir(markers)) == 5  # 4 the first time, 1 to redo the torn record
    assert resumed == complete
    lines = _lines(path)
    assert len(lines) == 5 and lines[-1] == b""
    assert all(json.loads(line)["key"] for line in lines[:-1])  # no torn fragment left behind


def test_a_bad_line_before_the_last_is_an_error(tmp_path):
    path = tmp_path / "r.jsonl"
    run_sweep(_sweep_fns.work, _configs(2), results_path=path, rng=0)
    lines = _lines(path)
    path.write_bytes(lines[0] + b"\n" + b"{not json\n" + lines[1] + b"\n")
    with pytest.raises(ValueError, match=re.escape(f"results_path {str(path)!r} line 2 is not valid JSON (")):
        read_results(path)
    path.write_bytes(b'{"key": "abc", "config": {}}\n')
    with pytest.raises(
        ValueError,
        match=re.escape(
            f"results_path {str(path)!r} line 1 is not a sweep record: it must be a JSON object with the fields "
            "key, config, seed, result."
        ),
    ):
        run_sweep(_sweep_fns.work, _configs(2), results_path=path, rng=0)


def test_a_failing_configuration_keeps_the_finished_ones(tmp_path):
    path = tmp_path / "r.jsonl"
    with pytest.raises(RuntimeError, match="configuration 3 fails on purpose") as info:
        run_sweep(_sweep_fns.fail_on_three, _configs(6), results_path=path, rng=0)
    if sys.version_info >= (3, 11):  # exception notes exist from Python 3.11 on
        assert any("while running configs[3]" in note for note in info.value.__notes__)
    assert list(read_results(path)) == [config_key(c) for c in _configs(3)]
    # a fixed fn finishes the sweep, equal to an uninterrupted run
    done = run_sweep(_sweep_fns.work, _configs(6), results_path=path, rng=0)
    assert done == run_sweep(_sweep_fns.work, _configs(6), results_path=tmp_path / "ref.jsonl", rng=0)


def test_progress_bar_only_on_a_terminal(tmp_path, monkeypatch, capsys):
    pytest.importorskip("tqdm")
    run_sweep(_sweep_fns.work, _configs(2), results_path=tmp_path / "a.jsonl", rng=0, progress=True)
    assert capsys.readouterr().err == ""  # standard error is captured, not a terminal

    class Terminal(io.StringIO):
        def isatty(self):
            return True

    fake = Terminal()
    monkeypatch.setattr(sys, "stderr", fake)
    run_sweep(_sweep_fns.work, _configs(2), results_path=tmp_path / "b.jsonl", rng=0, desc="widths")
    assert "widths" in fake.getvalue() and "2/2" in fake.getvalue()
    fake.truncate(0)
    run_sweep(_sweep_fns.work, _configs(2), results_path=tmp_path / "c.jsonl", rng=0, progress=False)
    assert fake.getvalue() == ""


# ------------------------------------------------------------------------------------ executors


def test_process_pool_gives_the_same_results_as_serial(tmp_path):
    configs = _configs(6)
    serial = run_sweep(_sweep_fns.work, configs, results_path=tmp_path / "serial.jsonl", rng=42)
    with _spawn_pool(2) as pool:
        parallel = run_sweep(_sweep_fns.work, configs, results_path=tmp_path / "pool.jsonl", rng=42, executor=pool)
        # a failure in a worker reaches the caller; the other configurations are written
        with pytest.raises(RuntimeError, match="configuration 3 fails on purpose"):
            run_sweep(_sweep_fns.fail_on_three, configs, results_path=tmp_path / "fail.jsonl", rng=42, executor=pool)
    assert parallel == serial
    assert _records_by_key(tmp_path / "pool.jsonl") == _records_by_key(tmp_path / "serial.jsonl")
    assert config_key(configs[3]) not in read_results(tmp_path / "fail.jsonl")


def test_workers_use_one_blas_thread(tmp_path):
    pytest.importorskip("threadpoolctl")
    with _spawn_pool(2) as pool:
        out = run_sweep(_sweep_fns.blas_threads, _configs(4), results_path=tmp_path / "r.jsonl", executor=pool)
    counts = [r["blas_threads"] for r in out]
    if all(c is None for c in counts):
        pytest.skip("threadpoolctl finds no BLAS library in the workers")
    assert counts == [1, 1, 1, 1]


def test_single_blas_thread_restores_the_limits():
    threadpoolctl = pytest.importorskip("threadpoolctl")
    before = [lib["num_threads"] for lib in threadpoolctl.threadpool_info()]
    with single_blas_thread():
        inside = [lib["num_threads"] for lib in threadpoolctl.threadpool_info()]
    after = [lib["num_threads"] for lib in threadpoolctl.threadpool_info()]
    assert all(n == 1 for n in inside) and after == before


def test_dask_local_cluster_gives_the_same_results_as_serial(tmp_path):
    distributed = pytest.importorskip(
        "distributed", reason="dask.distributed is not installed (pip install 'ntkdistill[parallel]')"
    )
    import logging

    configs = _configs(6)
    serial = run_sweep(_sweep_fns.work, configs, results_path=tmp_path / "serial.jsonl", rng=42)
    with (
        distributed.LocalCluster(
            n_workers=2, processes=True, threads_per_worker=1, dashboard_address=":0", silence_logs=logging.ERROR
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        # workers are spawned with this process's sys.path, so they import _sweep_fns by name
        out = run_sweep(
            _sweep_fns.work, configs, results_path=tmp_path / "dask.jsonl", rng=42, executor=client.get_executor()
        )
        pids = client.run(os.getpid)
    assert len(set(pids.values())) == 2 and os.getpid() not in pids.values()
    assert out == serial
    assert _records_by_key(tmp_path / "dask.jsonl") == _records_by_key(tmp_path / "serial.jsonl")


# -------------------------------------------------------------------------------------- SIGKILL

_KILLED_SWEEP = """
import sys
import _sweep_fns
from ntkdistill.sweep import run_sweep

configs = [{"i": i, "n": 20, "sleep": 0.15} for i in range(12)]
run_sweep(_sweep_fns.slow_work, configs, results_path=sys.argv[1], rng=2024, progress=False)
"""


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL (POSIX)")
def test_sweep_killed_with_sigkill_resumes_to_the_uninterrupted_result(tmp_path):
    configs = [{"i": i, "n": 20, "sleep": 0.15} for i in range(12)]  # as in _KILLED_SWEEP
    path = tmp_path / "killed.jsonl"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [TESTS_DIR, os.environ.get("PYTHONPATH")]))}
    proc = subprocess.Popen(
        [sys.executable, "-c", _KILLED_SWEEP, str(path)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and proc.poll() is None:
            if path.exists() and path.read_bytes().count(b"\n") >= 3:
                break
            time.sleep(0.01)
        assert proc.poll() is None, f"the sweep ended before it was killed: {proc.stderr.read().decode()}"
        os.kill(proc.pid, signal.SIGKILL)
        assert proc.wait(timeout=30) == -signal.SIGKILL
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stderr.close()
    finished = len(read_results(path))
    assert 3 <= finished < 12

    calls = []

    def counting(config, seed):
        calls.append(config["i"])
        return _sweep_fns.slow_work(config, seed)

    resumed = run_sweep(counting, configs, results_path=path, rng=2024)
    assert len(calls) == 12 - finished  # the finished ones were not run again
    uninterrupted = run_sweep(_sweep_fns.slow_work, configs, results_path=tmp_path / "whole.jsonl", rng=2024)
    assert resumed == uninterrupted
    assert _records_by_key(path) == _records_by_key(tmp_path / "whole.jsonl")
    assert len(_lines(path)) == 13  # twelve complete lines, nothing torn or doubled


# ------------------------------------------------------------------------------------ bad input


def test_bad_input_is_refused_before_any_work(tmp_path):
    path = tmp_path / "r.jsonl"
    with pytest.raises(TypeError, match=re.escape("fn must be callable as fn(config, seed_sequence) -> dict, got 3.")):
        run_sweep(3, _configs(2), results_path=path)
    with pytest.raises(TypeError, match=re.escape("configs[1] must be a dict (one configuration), got 5.")):
        run_sweep(_sweep_fns.work, [{"i": 0, "n": 3}, 5], results_path=path)
    with pytest.raises(
        TypeError,
        match=re.escape("configs must be a sequence of dicts (wrap a single configuration as [config]), got {'i': 0}."),
    ):
        run_sweep(_sweep_fns.work, {"i": 0}, results_path=path)
    with pytest.raises(TypeError, match=re.escape("configs must be a sequence of dicts, got 7.")):
        run_sweep(_sweep_fns.work, 7, results_path=path)
    with pytest.raises(
        ValueError,
        match=re.escape(
            f"results_path == {str(tmp_path)!r} is a directory; it must be a file path (a JSON-lines file, "
            "created if absent)."
        ),
    ):
        run_sweep(_sweep_fns.work, _configs(2), results_path=tmp_path)
    with pytest.raises(TypeError, match=re.escape("results_path must be a str or os.PathLike file path, got 3.")):
        run_sweep(_sweep_fns.work, _configs(2), results_path=3)
    with pytest.raises(ValueError, match=re.escape("configs[0] and configs[2] are the same configuration (key ")):
        run_sweep(_sweep_fns.work, [{"i": 0, "n": 3}, {"i": 1, "n": 3}, {"n": 3, "i": 0}], results_path=path)
    with pytest.raises(
        TypeError,
        match=re.escape("executor must be None or a concurrent.futures.Executor (with a submit method), got 'pool'."),
    ):
        run_sweep(_sweep_fns.work, _configs(2), results_path=path, executor="pool")
    with pytest.raises(TypeError, match=re.escape("progress must be None, True or False, got 'yes'.")):
        run_sweep(_sweep_fns.work, _configs(2), results_path=path, progress="yes")
    with pytest.raises(TypeError, match=re.escape("desc must be a str, got 1.")):
        run_sweep(_sweep_fns.work, _configs(2), results_path=path, desc=1)
    with pytest.raises(
        TypeError, match=re.escape("rng must be None, an int seed, a SeedSequence or a numpy Generator")
    ):
        run_sweep(_sweep_fns.work, _configs(2), results_path=path, rng="seed")
    assert not path.exists()  # nothing was written
    with pytest.raises(
        TypeError, match=re.escape("fn must return a dict (the result of one configuration), got [1.0] for configs[0].")
    ):
        run_sweep(lambda c, s: [1.0], _configs(2), results_path=path)
    assert not path.exists()


def test_unpicklable_fn_is_refused_for_a_process_pool(tmp_path):
    pool = ProcessPoolExecutor(max_workers=1)  # no worker starts before the first submit
    try:
        with pytest.raises(
            TypeError,
            match=re.escape(
                "fn must be picklable to run in a ProcessPoolExecutor (a top-level function of an importable "
                "module), got <function"
            ),
        ):
            run_sweep(lambda c, s: {}, _configs(2), results_path=tmp_path / "r.jsonl", executor=pool)
    finally:
        pool.shutdown()
