"""Several sweeps on one results file, and the same numbers serially, in processes and on dask."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest

from ntkdistill.sweep import _Writer, config_key, read_results, run_sweep

TESTS_DIR = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(TESTS_DIR)
if TESTS_DIR not in sys.path:
    sys.path.insert(0, TESTS_DIR)
import _sweep_fns  # noqa: E402

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="file locks need fcntl (POSIX)")

# one sweep in a process of its own: it waits for the file GO, so that two of them overlap
_SWEEP = """
import json, os, sys, time
import _sweep_fns
from ntkdistill.sweep import run_sweep

path, markers, first, last, go, out = sys.argv[1:]
configs = [{"i": i, "n": 10, "sleep": 0.05, "marker_dir": markers} for i in range(int(first), int(last))]
open(out + ".ready", "w").close()
while not os.path.exists(go):
    time.sleep(0.002)
result = run_sweep(_sweep_fns.counted_slow_work, configs, results_path=path, rng=7, progress=False)
with open(out, "w") as fh:
    json.dump(result, fh)
"""


def _start(tmp_path, name, first, last, go):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([ROOT, TESTS_DIR, os.environ.get("PYTHONPATH", "")]))
    out = tmp_path / f"{name}.json"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-c",
            _SWEEP,
            str(tmp_path / "r.jsonl"),
            str(tmp_path / "markers"),
            str(first),
            str(last),
            str(go),
            str(out),
        ],
        env=env,
        stderr=subprocess.PIPE,
        text=True,
    )
    return proc, out


def _wait_ready(outs, procs):
    deadline = time.monotonic() + 120
    while not all(os.path.exists(str(o) + ".ready") for o in outs):
        assert time.monotonic() < deadline and all(p.poll() is None for p in procs), [p.stderr.read() for p in procs]
        time.sleep(0.01)


@pytest.mark.parametrize("ranges", [((0, 8), (4, 12)), ((0, 8), (0, 8))], ids=["overlapping", "identical"])
@pytest.mark.parametrize("head_start", ["a", "b"])
def test_two_processes_on_one_file_keep_every_record_once_and_share_the_work(tmp_path, ranges, head_start):
    (tmp_path / "markers").mkdir()
    go_a, go_b = tmp_path / "go_a", tmp_path / "go_b"
    a, out_a = _start(tmp_path, "a", *ranges[0], go_a)
    b, out_b = _start(tmp_path, "b", *ranges[1], go_b)
    _wait_ready([out_a, out_b], [a, b])
    first, second = (go_a, go_b) if head_start == "a" else (go_b, go_a)
    first.touch()
    time.sleep(0.12)  # the first is some jobs ahead: both orders of the claims are exercised
    second.touch()
    for proc in (a, b):
        _, err = proc.communicate(timeout=300)  # reads and closes the pipe
        assert proc.returncode == 0, err
    path = tmp_path / "r.jsonl"
    lines = path.read_bytes().split(b"\n")
    assert lines[-1] == b""  # no torn line
    keys = [json.loads(line)["key"] for line in lines[:-1]]
    union = sorted(set(range(*ranges[0])) | set(range(*ranges[1])))
    expected = {config_key({"i": i, "n": 10, "sleep": 0.05, "marker_dir": str(tmp_path / "markers")}) for i in union}
    assert sorted(keys) == sorted(expected)  # every record, each once
    # each configuration ran once in all: a job claimed by one sweep was not recomputed by the other
    assert sorted(int(name.split("-")[0]) for name in os.listdir(tmp_path / "markers")) == union
    # both returned what the file holds, in their own order
    records = read_results(path)
    for (lo, hi), out in zip(ranges, (out_a, out_b)):
        cfgs = [{"i": i, "n": 10, "sleep": 0.05, "marker_dir": str(tmp_path / "markers")} for i in range(lo, hi)]
        assert json.loads(out.read_text()) == [records[config_key(c)]["result"] for c in cfgs]
    assert not os.path.exists(str(path) + ".claims")  # claims cleaned up


def test_a_record_appended_by_another_writer_during_the_run_is_kept(tmp_path):
    """The old writer cut the file back to the length it read at start-up, deleting such records."""
    path = tmp_path / "r.jsonl"
    run_sweep(_sweep_fns.work, [{"i": 100, "n": 4}], results_path=path, rng=1)
    foreign = path.read_bytes()
    path.write_bytes(b"")
    calls = []

    def append_foreign_then_work(config, seed):
        if not calls:
            with open(path, "ab") as fh:
                fh.write(foreign)  # another sweep finishes a record while this one runs
        calls.append(config["i"])
        return _sweep_fns.work(config, seed)

    run_sweep(append_foreign_then_work, [{"i": 0, "n": 4}, {"i": 1, "n": 4}], results_path=path, rng=1)
    assert set(read_results(path)) == {config_key({"i": k, "n": 4}) for k in (100, 0, 1)}


def test_writer_cuts_only_an_unterminated_tail(tmp_path):
    path = tmp_path / "r.jsonl"
    record = {"key": "k", "config": {}, "seed": {"entropy": 1, "spawn_key": [0], "pool_size": 4}, "result": {}}
    path.write_bytes(b'{"a": 1}\n{"torn')  # a writer died inside its line
    writer = _Writer(str(path))
    writer.write(record)
    writer.write(record)
    writer.close()
    lines = path.read_bytes().split(b"\n")
    assert lines[0] == b'{"a": 1}' and len(lines) == 4 and lines[-1] == b""
    assert json.loads(lines[1]) == json.loads(lines[2]) == record


def test_serial_process_pool_and_dask_give_bit_identical_results_on_one_blas_thread(tmp_path):
    pytest.importorskip("threadpoolctl")
    distributed = pytest.importorskip(
        "distributed", reason="dask.distributed is not installed (pip install 'ntkdistill[parallel]')"
    )
    import logging
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    configs = [{"i": i, "n": 30} for i in range(4)]
    serial = run_sweep(_sweep_fns.numbers_and_threads, configs, results_path=tmp_path / "serial.jsonl", rng=3)
    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=2, mp_context=ctx) as pool:
        pooled = run_sweep(
            _sweep_fns.numbers_and_threads, configs, results_path=tmp_path / "pool.jsonl", rng=3, executor=pool
        )
    with (
        distributed.LocalCluster(
            n_workers=1, processes=True, threads_per_worker=2, dashboard_address=None, silence_logs=logging.ERROR
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        dasked = run_sweep(
            _sweep_fns.numbers_and_threads,
            configs,
            results_path=tmp_path / "dask.jsonl",
            rng=3,
            executor=client.get_executor(),
        )
    threads = [r["blas_threads"] for r in serial + pooled + dasked]
    if all(t is None for t in threads):
        pytest.skip("threadpoolctl finds no BLAS library")
    assert threads == [1] * 12  # the serial run too: the same thread count everywhere
    assert serial == pooled == dasked  # JSON floats round-trip exactly: bit for bit


def test_a_claim_survives_the_other_sweep_removing_the_empty_claims_folder(tmp_path, monkeypatch):
    from ntkdistill.sweep import _Claims

    claims = _Claims(str(tmp_path / "r.jsonl"))
    real_makedirs = os.makedirs
    removed = []

    def makedirs_then_lose_the_race(path, exist_ok=False):
        real_makedirs(path, exist_ok=exist_ok)
        if not removed:  # the other sweep ends and removes the (empty) folder just after
            os.rmdir(path)
            removed.append(path)

    monkeypatch.setattr(os, "makedirs", makedirs_then_lose_the_race)
    assert claims.acquire("k", blocking=False)
    assert removed and not _Claims(str(tmp_path / "r.jsonl")).acquire("k", blocking=False)  # held
    claims.release("k", done=True)
    claims.close()
    assert not os.path.exists(str(tmp_path / "r.jsonl") + ".claims")
