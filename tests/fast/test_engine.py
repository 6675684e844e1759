"""The batched PGD engine (ntkdistill._fast) against ``pgd(..., backend="reference")``.

Every step path (strategy "rows" or "neurons", each with NumPy passes or with the compiled loops
of ntkdistill._fast.compiled when numba is installed, one, two or three worker threads, blocks that
do and do not divide the sizes, float64 and float32, both losses, with and without projection, one
or many networks) must give the results of the reference loop of ntkdistill.pgd, which is the
update as THEORY.md writes it: to 1e-12 in float64, and to float32 precision in float32. The
paths are chosen by passing ntkdistill._fast.Options. No speed is asserted here; benchmarks/
measures it.
"""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as hst

import ntkdistill as nd
from ntkdistill._fast import Options
from ntkdistill._fast import compiled as _compiled
from ntkdistill._fast import engine as _engine
from ntkdistill._fast.engine import Engine
from ntkdistill.losses import sigmoid
from ntkdistill.pgd import _Stack

PATHS = [
    # (strategy, workers, block, compiled)
    ("rows", 1, None, False),
    ("rows", 2, 8, False),  # 37 rows: blocks of 8 do not divide them, two workers split the rows
    ("rows", 1, None, True),  # the compiled loop: 37 rows leave a tile of one row
    ("rows", 2, None, True),  # two workers of 18 and 19 rows: tiles of two and three rows
    ("rows", 1, 8, "blas"),  # BLAS products and the compiled pass between them: a block of 5 rows last
    ("rows", 2, 5, "blas"),  # two workers, blocks of 5 rows: several blocks added into each gradient
    ("rows", 1, 8, "fold"),  # the BLAS products, transposed, the loss derivative folded into g X_b
    ("rows", 2, 5, "fold"),  # the same on two workers, several blocks each
    ("neurons", 1, None, False),
    ("neurons", 2, 2, False),  # half-widths 2, 3, 5: blocks of 2 leave a remainder in some networks
    ("neurons", 1, None, True),
    ("neurons", 2, 2, True),
    ("rows", 3, 5, "blas"),  # three workers of 12, 12 and 13 rows
    ("neurons", 3, 2, False),  # three workers, contiguous runs of blocks
]
PATH_IDS = [
    f"{s}-w{w}-b{b}" + {False: "", True: "-compiled", "blas": "-compiled-blas", "fold": "-compiled-fold"}[c]
    for s, w, b, c in PATHS
]


def _options(strategy, workers, block, compiled):
    # strategy "rows" compiled: the compiled rows loop (forced: the engine's own choice takes it only
    # for few neurons with many features); "blas": the BLAS products and the compiled pass; "fold":
    # the same in the transposed layout with the loss derivative folded (forced: the engine's own
    # choice of it needs wider networks than these). With several workers the compiled risk pass
    # runs on the workers too, as for large problems.
    fused = {True: True, "blas": False, "fold": False}.get(compiled) if strategy == "rows" else None
    return Options(
        workers=workers,
        strategy=strategy,
        block=block,
        compiled=bool(compiled),
        fused=fused,
        fold={"blas": False, "fold": True}.get(compiled),
        split_risk=True if workers > 1 else None,
    )


@pytest.fixture
def path(request):
    """The path's parameters and the Options that choose it."""
    if request.param[3]:
        pytest.importorskip("numba")
    return request.param, _options(*request.param)


def _data(n=37, d=6, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    X /= np.linalg.norm(X, axis=1, keepdims=True)
    z = 0.8 * rng.normal(size=n)
    return X, sigmoid(z), np.where(z > 0, 1.0, -1.0)


@settings(max_examples=25)
@given(
    n=hst.integers(1, 30),
    d=hst.integers(1, 8),
    widths=hst.lists(hst.sampled_from([2, 4, 6, 10]), min_size=1, max_size=3),
    loss=hst.sampled_from(["kl", "logistic"]),
    B=hst.sampled_from([np.inf, 0.05, 1.0]),
    eta=hst.floats(0.1, 5.0),
    seed=hst.integers(0, 2**16),
)
def test_engine_matches_the_reference_on_random_problems(n, d, widths, loss, B, eta, seed):
    """The engine's own choice of path against the reference loop, float64, to 1e-12."""
    X, p, y = _data(n=n, d=d, seed=seed)
    targets = p if loss == "kl" else y
    res = nd.pgd(X, targets, m=widths, eta=eta, T=3, B=B, loss=loss, rng=seed, labels=y, backend="fast")
    _check_against_reference(res, X, targets, y, loss, eta, 3, B, np.float64)


def _compiled_available():
    return _compiled.AVAILABLE


def _tolerances(dtype):
    if dtype == np.float64:
        return {"rtol": 1e-12, "atol": 1e-12}
    # float32: eps = 1.2e-7. The two computations round in different orders (sums of up to
    # n = 37 terms, over four steps); they differ by a few ulps of an order-one quantity, and the
    # tolerance allows about ten.
    return {"rtol": 1e-5, "atol": 1e-6}


def _check_against_reference(res, X, targets, labels, loss, eta, T, B, dtype, paired=True):
    tol = _tolerances(dtype)
    ref = nd.pgd(X.astype(dtype), targets, m=None, eta=eta, T=T, B=B, loss=loss, labels=labels,
                 init=list(zip(res.W0, res.a)), backend="reference")  # fmt: skip
    assert len(ref) == len(res)
    for k in range(len(res)):
        assert res.W[k].dtype == dtype and ref.W[k].dtype == dtype
        np.testing.assert_allclose(res.W[k], ref.W[k], **tol)
        np.testing.assert_allclose(res.risk[k], ref.risk[k], **tol)
        np.testing.assert_allclose(res.avg_risk[k], ref.avg_risk[k], **tol)
        np.testing.assert_allclose(res.final_risk[k], ref.final_risk[k], **tol)
        np.testing.assert_allclose(res.max_distance[k], ref.max_distance[k], **tol)
        np.testing.assert_array_equal(res.error[k], ref.error[k])
        if paired:  # both add paired neurons first: f(W(0)) = 0 exactly, a tie, an error (E6)
            assert res.error[k, 0] == 1.0


@pytest.mark.parametrize("path", PATHS, ids=PATH_IDS, indirect=True)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("loss", ["kl", "logistic"])
@pytest.mark.parametrize("B", [np.inf, 0.1])
@pytest.mark.parametrize("widths", [[4, 6, 10], [6]], ids=["M40", "M6"])
def test_fast_step_matches_the_plain_step(path, dtype, loss, B, widths):
    # M = 6 stacked rows: the compiled rows loop's tiles of four neurons leave two over
    X, p, y = _data()
    targets = p if loss == "kl" else y
    T = 4
    seeds = 2 if len(widths) > 1 else 1
    res = nd.pgd(
        X.astype(dtype), targets, m=widths, eta=1.5, T=T, B=B, loss=loss, seeds=seeds, rng=7, labels=y, backend=path[1]
    )
    assert len(res) == seeds * len(widths)
    _check_against_reference(res, X, targets, y, loss, 1.5, T, B, dtype)
    if np.isfinite(B):
        # the radius is small enough that the projection acts on some networks
        radius = B / np.sqrt(res.widths)
        assert np.any(np.isclose(res.max_distance, radius, rtol=1e-5))


@pytest.mark.parametrize("path", PATHS, ids=PATH_IDS, indirect=True)
@pytest.mark.parametrize("d", [6, 40], ids=["M>d", "M<=d"])
@pytest.mark.parametrize("widths", [(4, 8, 14), (40, 36)], ids=["narrow", "wide"])
def test_general_output_signs(path, d, widths):
    """An explicit init whose signs are not antisymmetric takes the general (unpaired) forward.

    Widths 4, 8, 14 (M = 26 stacked rows: the compiled rows loop's tiles of four neurons leave two
    over) against d = 6 or 40 features: both layouts of the compiled pass between BLAS products
    (the transposed one when M <= d). Widths 40 and 36: 19 pairs per network on average, the
    compiled pass's vectorised sum per network.
    """
    X, p, y = _data(d=d, seed=1)
    rng = np.random.default_rng(5)
    inits = [(rng.normal(size=(w, X.shape[1])), rng.choice([-1.0, 1.0], size=w)) for w in widths]
    res = nd.pgd(X, p, m=list(widths), eta=2.0, T=3, B=1.0, init=inits, labels=y, backend=path[1])
    _check_against_reference(res, X, p, y, "kl", 2.0, 3, 1.0, np.float64, paired=False)


@pytest.mark.parametrize("path", PATHS, ids=PATH_IDS, indirect=True)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_many_networks_with_more_features_than_neurons(path, dtype):
    """Paired networks of several widths, M = 40 stacked rows <= d = 48 features.

    For the BLAS products with the compiled pass this is the transposed layout with K = 6.
    """
    X, p, y = _data(d=48, seed=3)
    res = nd.pgd(X.astype(dtype), p, m=[4, 6, 10], eta=1.5, T=4, B=0.1, seeds=2, rng=11, labels=y, backend=path[1])
    _check_against_reference(res, X, p, y, "kl", 1.5, 4, 0.1, dtype)


@pytest.mark.parametrize("path", PATHS, ids=PATH_IDS, indirect=True)
def test_zero_gradient_keeps_pairs_equal_and_logits_exactly_zero(path):
    """With p = 1/2 the KL derivative mu(0) - 1/2 is exactly 0: nothing moves, f stays exactly 0."""
    X, _, y = _data()
    half = np.full(X.shape[0], 0.5)
    res = nd.pgd(X, half, m=[4, 10], eta=1.0, T=3, seeds=2, rng=0, labels=y, backend=path[1])
    for W, W0 in zip(res.W, res.W0):
        np.testing.assert_array_equal(W, W0)
    assert np.all(res.error == 1.0)  # f = 0 exactly at every step: every tie is an error (E6)
    assert np.all(res.risk == 0.0)


@pytest.mark.parametrize("path", PATHS, ids=PATH_IDS, indirect=True)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_forward_is_exactly_zero_at_the_symmetric_initialisation(path, dtype):
    (strategy, workers, _, compiled), options = path
    X, p, y = _data(n=300, d=40, seed=2)
    X = X.astype(dtype)
    inits = [nd.init_symmetric(m, 40, rng=s, dtype=dtype) for m, s in ((64, 1), (128, 2), (6, 3))]
    st = _Stack(inits, X.dtype)
    with Engine(X, p, y, st, "kl", 1.0, options=options) as eng:
        assert eng.strategy == strategy and eng.workers <= workers and eng.compiled == bool(compiled)
        assert eng.fused == (compiled is True and strategy == "rows")
        f = eng.forward(st.W0.copy())
        assert f.dtype == dtype
        np.testing.assert_array_equal(f, 0.0)
        W = st.W0.copy()
        eng.step(W)  # the pairs now differ ...
        assert np.any(eng.forward(W) != 0)
        np.testing.assert_array_equal(eng.forward(st.W0.copy()), 0.0)  # ... and W(0) is still exact


@pytest.mark.parametrize("path", PATHS[1::2], ids=PATH_IDS[1::2], indirect=True)
def test_reproducible_bit_for_bit_with_threads(path):
    X, p, y = _data()
    r1 = nd.pgd(X, p, m=[4, 10], eta=1.0, T=5, B=1.0, seeds=2, rng=3, labels=y, backend=path[1])
    r2 = nd.pgd(X, p, m=[4, 10], eta=1.0, T=5, B=1.0, seeds=2, rng=3, labels=y, backend=path[1])
    for a, b in zip(r1.W, r2.W):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(r1.risk, r2.risk)


@pytest.mark.parametrize("strategy", ["rows", "neurons"])
def test_batched_equals_alone_and_thread_count_does_not_matter(strategy):
    X, p, y = _data()
    runs = {}
    for workers in (1, 2, 3):
        opts = Options(strategy=strategy, block=3, workers=workers)
        runs[workers] = nd.pgd(X, p, m=[4, 6, 8], eta=2.0, T=6, B=1.0, seeds=3, rng=42, labels=y, backend=opts)
    batched = runs[2]
    for k in range(len(batched)):
        np.testing.assert_allclose(runs[1].W[k], batched.W[k], rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(runs[3].W[k], batched.W[k], rtol=1e-12, atol=1e-12)
        one = Options(strategy=strategy, block=3, workers=1)
        alone = nd.pgd(
            X, p, m=int(batched.widths[k]), eta=2.0, T=6, B=1.0, seeds=[batched.seeds[k]], labels=y, backend=one
        )
        np.testing.assert_allclose(alone.W[0], batched.W[k], rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(alone.risk[0], batched.risk[k], rtol=1e-12, atol=1e-14)
        np.testing.assert_array_equal(alone.error[0], batched.error[k])


@pytest.mark.parametrize("strategy", ["neurons", "rows", "rows-fold"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("loss", ["kl", "logistic"])
def test_compiled_pass_matches_the_numpy_passes_on_a_wide_problem(strategy, dtype, loss):
    """Many neurons, several blocks per worker, 30 steps: the compiled and NumPy engines agree.

    Strategy "rows" here runs the BLAS products with the compiled pass between them
    (``fused=False``), with 176 pairs in two networks: the pass's vectorised sum per network;
    "rows-fold" the same in the transposed layout with the loss derivative folded into the
    backward product, one product per half-network.
    """
    pytest.importorskip("numba")
    fold = strategy == "rows-fold"
    strategy = strategy.split("-")[0]
    X, p, y = _data(n=300, d=40, seed=6)
    X = X.astype(dtype)
    tgt = (p if loss == "kl" else y).astype(dtype)
    inits = [nd.init_symmetric(m, 40, rng=s, dtype=dtype) for m, s in ((256, 1), (96, 2))]
    st = _Stack(inits, X.dtype)
    radius = np.full(2 * st.h, 0.5 / np.sqrt(256), dtype=dtype)
    runs = {}
    for compiled in (False, True):
        W = st.W0.copy()
        opts = Options(workers=2, block=16, compiled=compiled, strategy=strategy, fused=False, fold=fold)
        with Engine(X, tgt, y, st, loss, 4.0, radius, options=opts) as eng:
            assert eng.compiled == compiled and not eng.fused
            assert eng.strategy != "rows" or eng._folded == (compiled and fold)
            history = [eng.step(W)[0].copy() for _ in range(30)]
            runs[compiled] = (W, np.array(history), eng.forward(W).copy())
    tol = _tolerances(dtype)
    for a, b in zip(runs[False], runs[True]):
        np.testing.assert_allclose(b, a, **tol)
    assert not np.array_equal(runs[True][0], st.W0)  # the networks moved


def test_strategy_is_chosen_by_the_shape():
    X, p, y = _data(n=50, d=20)
    few = _Stack([nd.init_symmetric(8, 20, rng=0)], X.dtype)  # M <= d
    wide = _Stack([nd.init_symmetric(256, 20, rng=0)], X.dtype)  # many neurons per network
    narrow = _Stack([nd.init_symmetric(8, 20, rng=s) for s in range(10)], X.dtype)  # 80 > d, but narrow
    assert Engine(X, p, y, few, "kl", 1.0).strategy == "rows"
    assert Engine(X, p, y, wide, "kl", 1.0).strategy == "neurons"
    assert Engine(X, p, y, narrow, "kl", 1.0).strategy == "rows"
    # many rows: strategy "rows" with numba, "neurons" without; for 256 neurons (more than
    # _FUSED_MAX_NEURONS) the BLAS products and the compiled pass, not the compiled rows loop
    Xn, pn, yn = _data(n=_engine._ROWS_MIN_N, d=20)
    with_numba = Engine(Xn, pn, yn, wide, "kl", 1.0)
    assert with_numba.strategy == ("rows" if _compiled_available() else "neurons")
    assert not with_numba.fused
    assert Engine(Xn, pn, yn, wide, "kl", 1.0, options=Options(compiled=False)).strategy == "neurons"
    if _compiled_available():
        # in float32, more neurons than features and at least _FOLD_MIN_PAIRS pairs per network:
        # the transposed layout folded; not in float64, not for narrower networks, not for M <= d
        assert not with_numba._folded and not with_numba._transposed
        X32 = Xn.astype(np.float32)
        wide32 = _Stack([nd.init_symmetric(256, 20, rng=0, dtype=np.float32)], np.float32)
        eng = Engine(X32, pn, yn, wide32, "kl", 1.0)
        assert eng._folded and eng._transposed
        two = _Stack([nd.init_symmetric(m, 20, rng=0, dtype=np.float32) for m in (128, 126)], np.float32)
        eng = Engine(X32, pn, yn, two, "kl", 1.0)  # 64 and 63 pairs
        assert not eng.fused and not eng._folded and not eng._transposed
        X300 = _data(n=_engine._ROWS_MIN_N, d=300)[0].astype(np.float32)
        few300 = _Stack([nd.init_symmetric(256, 300, rng=0, dtype=np.float32)], np.float32)
        eng = Engine(X300, pn, yn, few300, "kl", 1.0)
        assert not eng._folded and eng._transposed  # M = 256 <= d: the two passes
    Xb, pb, yb = _data(n=_engine._ROWS_MIN_N, d=300)
    wider = _Stack([nd.init_symmetric(256, 300, rng=0)], Xb.dtype)  # 2 * 256 * 300 * 8 > 512 KiB
    eng = Engine(Xb, pb, yb, wider, "kl", 1.0)
    assert eng.strategy == "rows"  # M = 256 <= d, with or without numba
    assert not eng.fused
    if _compiled_available():  # blocks no larger than a worker's share (at least 128 rows)
        for workers, block, used in ((2, 500, 2), (3, 334, 3), (8, 128, 8), (9, 128, 8)):
            eng = Engine(Xb, pb, yb, wider, "kl", 1.0, options=Options(workers=workers))
            assert (eng.block, eng.workers) == (block, used)
    with pytest.raises(ValueError, match=r"strategy == 'cols', must be None, 'rows' or 'neurons'"):
        Engine(X, p, y, few, "kl", 1.0, options=Options(strategy="cols"))
    # the compiled rows loop where it cannot run: refused, not ignored (False is a no-op anywhere)
    with pytest.raises(ValueError, match=r"fused == True needs strategy 'rows' .* strategy == 'neurons'"):
        Engine(X, p, y, wide, "kl", 1.0, options=Options(strategy="neurons", fused=True))
    with pytest.raises(ValueError, match=r"fused == True needs .* compiled loops are off"):
        Engine(X, p, y, few, "kl", 1.0, options=Options(compiled=False, fused=True))
    assert not Engine(X, p, y, wide, "kl", 1.0, options=Options(strategy="neurons", fused=False)).fused


def test_blas_threads_are_restored():
    threadpoolctl = pytest.importorskip("threadpoolctl")
    X, p, _ = _data()
    before = [lib["num_threads"] for lib in threadpoolctl.threadpool_info() if lib["user_api"] == "blas"]
    nd.pgd(X, p, m=[4, 6], eta=1.0, T=2, seeds=2, rng=0, backend=Options(workers=2))
    after = [lib["num_threads"] for lib in threadpoolctl.threadpool_info() if lib["user_api"] == "blas"]
    assert after == before


def test_compiled_rows_loop_is_used_only_where_it_applies():
    """The compiled rows loop needs few neurons with many features; X in another layout is copied to C order once."""
    pytest.importorskip("numba")
    X, p, y = _data(n=50, d=200)
    few = _Stack([nd.init_symmetric(8, 200, rng=0)], X.dtype)  # M = 8 <= min(16, 200 / 16)
    assert Engine(X, p, y, few, "kl", 1.0).fused
    eng = Engine(np.asfortranarray(X), p, y, few, "kl", 1.0)
    assert eng.fused and eng.X.flags.c_contiguous
    assert not Engine(X, p, y, few, "kl", 1.0, options=Options(compiled=False)).fused
    # else the BLAS products and the compiled pass: more than _FUSED_MAX_NEURONS neurons, fewer than
    # _FUSED_FEATURES_PER_NEURON features per neuron, or 2 M d entries over _FUSED_MAX_BYTES (the
    # weights would not stay in cache)
    for m, d in ((20, 1000), (8, 100), (16, 3000)):  # M > 16; 100 / 16 < M = 8; 2 * 16 * 3000 * 8 > 512 KiB
        Xw = np.ones((5, d))
        one = _Stack([nd.init_symmetric(m, d, rng=0)], Xw.dtype)
        assert Engine(Xw, p[:5], y[:5], one, "kl", 1.0, options=Options(strategy="rows", fused=True)).fused
        eng = Engine(Xw, p[:5], y[:5], one, "kl", 1.0, options=Options(strategy="rows"))
        assert eng.strategy == "rows" and eng.compiled and not eng.fused, (m, d)
    # exactly at each limit the loop is on
    for m, d in ((16, 1000), (8, 128), (16, 2048)):
        Xw = np.ones((5, d))
        one = _Stack([nd.init_symmetric(m, d, rng=0)], Xw.dtype)
        assert Engine(Xw, p[:5], y[:5], one, "kl", 1.0, options=Options(strategy="rows")).fused, (m, d)
    # C order, Fortran order and read-only X (numba types it apart), and the BLAS path, train alike
    radius = np.full(8, 0.5 / np.sqrt(8))
    Xr = X.copy()
    Xr.flags.writeable = False
    out = []
    for Xo, compiled, fused in (
        (X, None, None),
        (np.asfortranarray(X), None, None),
        (Xr, None, None),
        (X, False, None),
        (np.asfortranarray(X), None, False),
        (Xr, None, False),
    ):
        W = few.W0.copy()
        with Engine(Xo, p, y, few, "kl", 2.0, radius, options=Options(compiled=compiled, fused=fused)) as eng:
            risks = [eng.step(W)[0].copy() for _ in range(5)]
        out.append((W, np.array(risks)))
    for W, risks in out[1:]:
        np.testing.assert_allclose(W, out[0][0], rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(risks, out[0][1], rtol=1e-12, atol=1e-14)
    assert not np.array_equal(out[0][0], few.W0)


def test_compiled_loops_stay_in_float32():
    """No float64 variable inside the compiled loops when they run on float32 arrays.

    A constant such as ``zero + 1`` (an int64 literal) would make numba compute in float64 and
    round back, which float32 tolerances in the tests above would not notice.
    """
    numba = pytest.importorskip("numba")
    dt = np.float32
    z = dt(0)
    X = np.ones((3, 5), dt)
    W = np.ones((6, 5), dt)
    s = np.ones(6, dt)
    calls = {
        "rows_fused": (X, 0, 3, W, (s, np.zeros(3, np.intp), np.zeros(3, bool), True), (np.ones(3, dt), True, z, z), True,
                       np.zeros((3, 1), dt), np.zeros((6, 5), dt), (np.zeros((4, 6), dt), np.zeros((4, 6), dt))),
        "update_rows": (W, W.copy(), W.copy(), s, z, s, True, np.zeros(6, dt)),
        "update_sum": (W, W.copy(), (np.ones((5, 6), dt),) * 2, True, 0, 6, (z, s, s, True), np.zeros(6, dt),
                       np.zeros((4, 5), dt)),
        "risk_err": (np.zeros((3, 1), dt), np.zeros((3, 1), dt), 0, 3, (np.ones(3, dt), np.ones(3, dt), np.zeros(3, dt),
                     True, z), np.zeros(1), np.zeros(1, np.int64)),
        "pairs_forward": (W, W.copy(), s, s, True, np.zeros(6, bool), z, np.zeros((6, 5), bool), np.zeros((6, 5), bool),
                          np.zeros(5, dt)),
        "rows_middle": (np.ones((3, 6), dt), 0, (s, np.array([0, 3], np.intp), np.zeros(3, np.intp), np.array([1], np.intp),
                        True), (np.ones(3, dt), True, z, z), True, np.zeros((3, 1), dt), np.zeros(1, dt)),
        "neurons_forward": (W, X.T.copy(), np.array([[0, 3, 0]], np.intp), (s[:3], -s[:3], True, np.zeros(3, bool), z),
                            (np.zeros((3, 3), bool), np.zeros((3, 3), bool)), (np.zeros((3, 3), dt), np.zeros((3, 3), dt),
                            np.zeros(3, dt)), np.zeros((1, 3), dt)),
        "neurons_backward": (np.ones((3, 3), bool), np.zeros((3, 3), bool), np.ones((1, 3, 5), dt),
                             np.array([[0, 3, 0]], np.intp), np.zeros((3, 3), dt), np.zeros((6, 5), dt)),
        "rows_middle_t": (np.ones((6, 3), dt), 0, (s, np.array([0, 3], np.intp), np.array([1], np.intp), False),
                          (np.ones(3, dt), False, z, z), True, np.zeros((3, 1), dt), np.zeros(3, dt)),
        "rows_mask_t": (np.ones((6, 3), dt), 0, (s, np.array([0, 3], np.intp), np.array([1], np.intp), False),
                        (np.ones(3, dt), False, z, z), np.zeros((3, 1), dt), np.zeros((1, 3), dt)),
        "_pair_sum": (s, s.copy(), s, s, False, z),
        "_masked_scale": (s.copy(), s, z, z),
        "_dloss": (z, z, False, z, dt(1)),
    }  # fmt: skip
    for name, args in calls.items():
        fn = getattr(_compiled, name)
        fresh = numba.njit(nogil=True, fastmath=fn.targetoptions["fastmath"], error_model="numpy")(fn.py_func)
        fresh(*args)
        (sig,) = fresh.signatures
        typemap = fresh.overloads[sig].type_annotation.typemap
        wide = sorted(var for var, ty in typemap.items() if ty == numba.float64)
        if name == "risk_err":
            # the sums are a float64 array by design (loading sums[k] and adding to it are
            # float64 temporaries, "$..."); every named variable (the term v, f, one, ...) is not
            wide = [var for var in wide if not var.startswith("$")]
        assert not wide, f"{name}: float64 variables {wide}"


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("loss", ["kl", "logistic"])
def test_risk_pass_keeps_nan_and_infinite_losses_of_the_loss_functions(dtype, loss):
    """A NaN logit gives a NaN risk (not clipped to 0), an infinite one what the loss functions give.

    kl_loss at f = +inf is (1 - p) inf: inf for p < 1, NaN (0 inf) for p = 1; at f = -inf, p inf.
    The risk pass must give the same, not inf - inf. Each network's column holds one kind of
    logit against soft labels 0, 0.3 and 1 (or labels -1, 1, 1), so every case is its own sum.
    """
    pytest.importorskip("numba")
    from ntkdistill.losses import kl_loss, logistic_loss

    p = np.array([0.0, 0.3, 1.0], dtype)
    y = np.array([-1.0, 1.0, 1.0], dtype)
    tgt = p if loss == "kl" else y
    F = np.array([[np.nan, np.inf, -np.inf, 2.0]] * 3, dtype)
    from scipy.special import xlogy

    one = dtype(1)
    ent = (xlogy(p, p) + xlogy(one - p, one - p)).astype(dtype) if loss == "kl" else np.zeros(3, dtype)
    with np.errstate(invalid="ignore"):
        vals = kl_loss(tgt[:, None], F) if loss == "kl" else logistic_loss(tgt[:, None], F)
        for r in range(3):  # each row alone, then all together
            sums = np.zeros(4)
            errs = np.zeros(4, dtype=np.int64)
            _engine.risk_sums(F, r, r + 1, tgt, y, ent, loss == "kl", np.empty((2, 4), dtype), sums, errs)
            np.testing.assert_array_equal(np.isnan(sums), np.isnan(vals[r]))
            np.testing.assert_array_equal(np.isposinf(sums), np.isposinf(vals[r]))
        sums = np.zeros(4)
        errs = np.zeros(4, dtype=np.int64)
        _engine.risk_sums(F, 0, 3, tgt, y, ent, loss == "kl", np.empty((2, 4), dtype), sums, errs)
    assert np.isnan(sums[0])  # the NaN column
    np.testing.assert_array_equal(np.isposinf(sums), np.isposinf(vals.sum(axis=0)))
    np.testing.assert_array_equal(errs, np.count_nonzero(y[:, None] * F <= 0, axis=0))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("transposed", [False, True])
def test_compiled_update_sum_matches_the_numpy_sum_and_update(transposed, dtype):
    """update_sum: the workers' gradients summed in order, then the step and the projection.

    Rows [a, b) only (the others untouched), ranges that are not multiples of the chunk, three
    workers' gradients, factors (the output weights of the folded path) of either sign, some
    rows projected onto their balls and some not. Tolerance: the
    compiled sum of squares is reassociated and uses fused multiply-adds, a few ulps of the
    result (1e-12 in float64; 1e-6, about eight float32 ulps, in float32).
    """
    pytest.importorskip("numba")
    rng = np.random.default_rng(0)
    M, d, P, a, b = 150, 7, 3, 13, 140
    W0 = rng.standard_normal((M, d)).astype(dtype)
    W = W0 + dtype(0.1) * rng.standard_normal((M, d)).astype(dtype)
    parts = rng.standard_normal((P, M, d)).astype(dtype)
    radius = rng.uniform(0.05, 1.5, M).astype(dtype)
    eta = dtype(0.3)
    scale = rng.uniform(-2.0, 2.0, M).astype(dtype)
    grad = (parts[0] + parts[1] + parts[2]) * scale[:, None]
    want = W.copy()
    want[a:b] -= eta * grad[a:b]
    dist = np.linalg.norm(want[a:b] - W0[a:b], axis=1)
    out = dist > radius[a:b]
    assert 0 < out.sum() < b - a  # both cases occur
    want[a:b][out] = W0[a:b][out] + (want[a:b][out] - W0[a:b][out]) * (radius[a:b][out] / dist[out])[:, None]
    dist[out] = radius[a:b][out]

    got = W.copy()
    got_dist = np.full(M, -1.0, dtype)
    arr = tuple(np.ascontiguousarray(part.T) if transposed else part for part in parts)
    _compiled.update_sum(got, W0, arr, transposed, a, b, (eta, scale, radius, True), got_dist,
                         np.empty((16, d), dtype))  # fmt: skip
    rtol = 1e-12 if dtype == np.float64 else 1e-6
    np.testing.assert_allclose(got[a:b], want[a:b], rtol=rtol, atol=rtol)
    np.testing.assert_allclose(got_dist[a:b], dist, rtol=rtol)
    np.testing.assert_array_equal(got[:a], W[:a])
    np.testing.assert_array_equal(got[b:], W[b:])
    assert np.all(got_dist[:a] == -1) and np.all(got_dist[b:] == -1)
    # without projection, the same rows only take the step
    free = W.copy()
    _compiled.update_sum(free, W0, arr, transposed, a, b, (eta, scale, radius, False), got_dist,
                         np.empty((16, d), dtype))  # fmt: skip
    np.testing.assert_allclose(free[a:b], W[a:b] - eta * grad[a:b], rtol=rtol, atol=rtol)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("loss", ["kl", "logistic"])
def test_compiled_risk_matches_the_loss_functions_for_logits_of_any_size(dtype, loss):
    """The risk pass gives kl_loss / logistic_loss, term by term and summed, finite for huge logits.

    Chunks of 3 rows (the softplus logarithms by NumPy, then the compiled pass): of the three
    ranges summed below, the first ends inside a chunk, the second at the end of one. Each row
    alone is its own term, compared with the loss function's value; the sums alone would hide
    every term behind the huge ones. Under ``np.errstate(all="raise")``: the underflow of
    ``exp(-|f|)`` for huge logits is no error.
    """
    pytest.importorskip("numba")
    from ntkdistill.losses import kl_loss, logistic_loss

    big = np.finfo(dtype).max / 4
    f = np.array([-big, -1e4, -30.0, -1e-3, 0.0, 1e-3, 30.0, 1e4, big], dtype=dtype)
    F = np.stack([f, -f[::-1] * 0.5], axis=1)  # two networks
    n = f.size
    p = np.linspace(0.0, 1.0, n).astype(dtype)  # soft labels 0 and 1 included
    y = np.where(np.arange(n) % 2 == 0, 1.0, -1.0).astype(dtype)
    tgt = p if loss == "kl" else y
    one = dtype(1)
    from scipy.special import xlogy

    ent = (xlogy(p, p) + xlogy(one - p, one - p)).astype(dtype) if loss == "kl" else np.zeros(n, dtype)
    vals = kl_loss(tgt[:, None], F) if loss == "kl" else logistic_loss(tgt[:, None], F)
    L = np.full((3, 2), np.nan, dtype)  # scratch: no value in it is read before it is written
    kl = loss == "kl"
    # each term carries a few ulps of its own size (different softplus orders, fused
    # multiply-adds); a soft-label term near 0 is a difference of terms of size |f| + 1, so its
    # rounding is a few ulps of that: 16 ulps of |f| + 1 in absolute terms
    eps = np.finfo(dtype).eps
    with np.errstate(all="raise"):
        for r in range(n):
            row = np.zeros(2)
            row_errs = np.zeros(2, dtype=np.int64)
            _engine.risk_sums(F, r, r + 1, tgt, y, ent, kl, L, row, row_errs)
            tol = 16 * eps * (1 + np.abs(F[r].astype(np.float64)))
            assert np.all(np.abs(row - vals[r]) <= tol), (r, row, vals[r])
        sums = np.zeros(2)
        errs = np.zeros(2, dtype=np.int64)
        for lo, hi in ((0, 4), (4, 7), (7, n)):  # three ranges add up
            _engine.risk_sums(F, lo, hi, tgt, y, ent, kl, L, sums, errs)
    assert np.all(np.isfinite(sums))
    # all terms are >= 0, so the sums carry the terms' relative rounding: float32 eps is 1.2e-7,
    # 1e-6 allows about eight ulps
    rtol = 1e-12 if dtype == np.float64 else 1e-6
    np.testing.assert_allclose(sums, vals.astype(np.float64).sum(axis=0), rtol=rtol)
    np.testing.assert_array_equal(errs, np.count_nonzero(y[:, None] * F <= 0, axis=0))
