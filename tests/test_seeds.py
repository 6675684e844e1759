"""The one seed rule (SPEC 7): ``_validation.root_seed`` on every kind of ``rng``, used everywhere."""

import numpy as np
import pytest

import ntkdistill as nd
from ntkdistill._validation import root_seed


def _state(seed):
    return root_seed(seed).generate_state(4).tolist()


def test_root_seed_on_each_accepted_type():
    ss = np.random.SeedSequence(7)
    assert root_seed(ss) is ss  # a SeedSequence is the root itself
    assert _state(7) == np.random.SeedSequence(7).generate_state(4).tolist()
    assert _state([1, 2]) == np.random.SeedSequence([1, 2]).generate_state(4).tolist()
    # a Generator is advanced by four 63-bit draws, which become the root's entropy
    gen = np.random.default_rng(3)
    expected = np.random.default_rng(3).integers(0, 2**63, size=4).tolist()
    assert root_seed(gen).entropy == expected
    assert root_seed(np.random.PCG64(3)).entropy == expected  # a bare BitGenerator alike
    a, b = root_seed(None), root_seed(None)  # fresh entropy from the OS each time
    assert a.entropy != b.entropy


@pytest.mark.parametrize(
    "rng,exc,match",
    [
        (-1, ValueError, r"rng == -1, an int seed must be >= 0"),
        (1.5, TypeError, r"rng must be None, an int seed, a SeedSequence or a numpy Generator, got 1.5"),
        ("0", TypeError, r"rng must be None, an int seed"),
        (True, TypeError, r"rng must be None, an int seed"),
    ],
)
def test_root_seed_rejects_other_values_naming_them(rng, exc, match):
    with pytest.raises(exc, match=match):
        root_seed(rng)


def test_equal_seeds_of_different_types_give_the_same_networks():
    X = np.array([[1.0, 0.0], [0.0, 1.0], [-0.6, 0.8]])
    p = np.array([0.6, 0.4, 0.55])
    runs = [nd.pgd(X, p, m=4, eta=1.0, T=3, seeds=2, rng=rng) for rng in (5, np.random.SeedSequence(5), np.int64(5))]
    gens = [nd.pgd(X, p, m=4, eta=1.0, T=3, seeds=2, rng=np.random.default_rng(9)) for _ in range(2)]
    for res, ref in [(r, runs[0]) for r in runs[1:]] + [(gens[1], gens[0])]:
        for W, W_ref in zip(res.W0 + res.W, ref.W0 + ref.W):
            np.testing.assert_array_equal(W, W_ref)
    assert not np.array_equal(runs[0].W0[0], gens[0].W0[0])
    # the networks are those of network_seeds, with the same rule
    assert [s.entropy for s in runs[0].seeds] == [s.entropy for s in nd.network_seeds(2, rng=5)]


def test_a_generator_works_wherever_rng_is_accepted(tmp_path):
    from ntkdistill.sweep import run_sweep
    from ntkdistill.verify import run_verify

    X = np.array([[1.0, 0.0]])
    y = np.array([1.0])
    reps = [run_verify(X, y, gamma_known=0.5, seeds=2, budget=0.01, n_samples=200, rng=np.random.default_rng(0))
            for _ in range(2)]  # fmt: skip
    assert reps[0].config["root_seed_entropy"] == reps[1].config["root_seed_entropy"]
    assert reps[0].config["root_seed_entropy"] == root_seed(np.random.default_rng(0)).entropy

    def work(config, seed):
        return {"x": float(np.random.default_rng(seed).random())}

    out = [run_sweep(work, [{"i": 0}, {"i": 1}], results_path=tmp_path / f"{k}.jsonl", rng=np.random.default_rng(4))
           for k in range(2)]  # fmt: skip
    assert out[0] == out[1] and out[0][0] != out[0][1]


def test_a_generator_works_in_figure1():
    pytest.importorskip("torch", reason="Figure 1 trains torch networks (the 'torch' extra)")
    from dataclasses import replace

    from ntkdistill.experiments.figure1 import FIGURE1_PRESETS, figure1

    rng = np.random.default_rng(0)
    images = rng.random((60, 1, 8, 8)).astype(np.float32)
    y = np.repeat([-1.0, 1.0], 30)
    tiny = replace(FIGURE1_PRESETS["quick"], max_epochs=1, patience=1, n_max=None, lrs=(1e-2,), batch_size=16)
    runs = [figure1(images, y, noise=[0.0], runs=1, config=tiny, device="cpu", threads=1, rng=np.random.default_rng(2))
            for _ in range(2)]  # fmt: skip
    keys = [k for k in runs[0].records[0] if k != "seconds"]
    assert [runs[0].records[0][k] for k in keys] == [runs[1].records[0][k] for k in keys]
    # the same root as every other function: rng=0 and SeedSequence(0) agree
    a = figure1(images, y, noise=[0.0], runs=1, config=tiny, device="cpu", threads=1, rng=0)
    b = figure1(images, y, noise=[0.0], runs=1, config=tiny, device="cpu", threads=1, rng=np.random.SeedSequence(0))
    assert a.info["seed"] == b.info["seed"] == {"entropy": 0, "spawn_key": []}
