"""The threaded Monte Carlo paths (ntkdistill._fast) give the same numbers on any thread count.

Teacher logits, the margin's certificate and dual evaluations, and the NTK Gram matrix run their
blocks on worker threads and add the blocks' partial sums in block order, so one and two workers
agree to rounding (bit for bit where no product has a long inner dimension that the BLAS could
split between its threads: the Gram matrix and the teacher's products have inner dimension d);
and the blocked computations must match the formulas written directly.
No speed is asserted here; benchmarks/ measures it.
"""

import importlib

import numpy as np
import pytest

from ntkdistill import _fast, margin, teacher_logits
from ntkdistill._fast import montecarlo as _montecarlo
from ntkdistill.kernel import ntk_kernel
from ntkdistill.margin import MaxMarginField

margin_mod = importlib.import_module("ntkdistill.margin")  # the module (the package exports a function)


@pytest.fixture
def two_workers():
    """Two worker threads for the Monte Carlo blocks, whatever the BLAS thread count."""
    with _fast.use(_fast.Options(workers=2)):
        yield


def _data(n=400, d=8, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    X /= np.linalg.norm(X, axis=1, keepdims=True)
    y = np.where(X @ rng.standard_normal(d) > 0, 1.0, -1.0)
    return X, y


def _field(X, y, seed=1):
    q = np.random.default_rng(seed).random(X.shape[0])
    q[::3] = 0.0  # a support smaller than the data
    return MaxMarginField(X, y, q / q.sum(), eps=1e-3)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_teacher_logits_do_not_depend_on_the_thread_count(dtype):
    X, y = _data()
    X = X.astype(dtype)
    v = _field(X, y)
    u = np.ones(X.shape[1]) / np.sqrt(X.shape[1])
    results = {}
    for workers in (1, 2):
        with _fast.use(_fast.Options(workers=workers)):
            own = teacher_logits(X, v, n_samples=[3000, 12000], rng=4)  # blocks of 4096: 1, then 3
            user = teacher_logits(X, lambda Z: np.broadcast_to(u, Z.shape), n_samples=5000, rng=4)
            results[workers] = (own, user)
    for a, b in zip(results[1], results[2]):
        np.testing.assert_array_equal(a.z, b.z)
        np.testing.assert_array_equal(a.stderr, b.stderr)


def test_teacher_logits_match_the_formula_written_directly():
    """z_i = mean_s 1(<z_s, x_i> > 0) <v(z_s), x_i>, with the directions drawn from the same stream."""
    X, y = _data(n=150, d=5, seed=3)
    v = _field(X, y)
    S = 3000
    z, se, _ = teacher_logits(X, v, n_samples=S, rng=9)
    gen = np.random.default_rng(9)
    Z = gen.standard_normal((S, X.shape[1]))  # one block: the generator's stream does not depend on blocks
    M = (v(Z) @ X.T) * (Z @ X.T > 0)
    np.testing.assert_allclose(z, M.mean(axis=0), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(se, M.std(axis=0, ddof=1) / np.sqrt(S), rtol=1e-9, atol=1e-14)


def test_margin_does_not_depend_on_the_thread_count():
    X, y = _data(n=600, d=6, seed=5)  # blocks of 3495 directions: several per evaluation
    results = {}
    for workers in (1, 2):
        with _fast.use(_fast.Options(workers=workers)):
            results[workers] = margin(X, y, n_samples=10000, rng=2)
    a, b = results[1], results[2]
    # S n d = 3.6e7: the solver works in float32, where the two thread counts round the dual's
    # products differently (see below) and the iterates drift apart by a few 1e-6. The solver
    # stops at a gap of 0.05 sqrt(2 ln(40) / 10000) = 1.4e-3; the estimates must agree well
    # inside it (1e-4), and the support of q must be the same points up to a few
    np.testing.assert_allclose([b.gamma, b.lower, b.upper], [a.gamma, a.lower, a.upper], rtol=0, atol=1e-4)
    assert np.count_nonzero((a.q > 0) != (b.q > 0)) <= 0.02 * X.shape[0]


@pytest.mark.parametrize("cached", [True, False])
def test_dual_evaluation_matches_the_formula_and_the_thread_count(monkeypatch, cached):
    """F(q) = mean_s ||g_s|| with g_s = sum_i q_i y_i A_si x_i, and its gradient, blocks or not."""
    X, y = _data(n=1200, d=7, seed=8)
    if not cached:
        monkeypatch.setattr(margin_mod, "_CACHE_BYTES", 0)  # masks regenerated from the seed
    dirs = margin_mod._Directions(X, seed=3, total=5000)
    assert dirs.block < 2500  # three blocks
    q = np.random.default_rng(1).random(X.shape[0])
    q /= q.sum()
    out = {}
    for workers in (1, 2):
        with _fast.use(_fast.Options(workers=workers)):
            dual = margin_mod._Dual(X, y, dirs, np.float64)
            dual.eps = 0.01
            smooth, grad = dual(q)
            out[workers] = (smooth, grad, dual.last_exact)
    # A^T U sums over the directions of a block: the BLAS may split that sum between its threads
    np.testing.assert_allclose(out[2][:1] + out[2][2:], out[1][:1] + out[1][2:], rtol=1e-13)
    np.testing.assert_allclose(out[2][1], out[1][1], rtol=1e-12, atol=1e-16)
    Z = np.random.default_rng(3).standard_normal((5000, X.shape[1]))
    A = (Z @ X.T > 0).astype(float)
    G = A @ ((q * y)[:, None] * X)
    norms = np.linalg.norm(G, axis=1)
    se = np.sqrt(norms**2 + 0.01**2)
    np.testing.assert_allclose(out[1][2], norms.mean(), rtol=1e-12)
    np.testing.assert_allclose(out[1][0], (se - 0.01).mean(), rtol=1e-12)
    B = A.T @ (G / se[:, None]) / 5000
    np.testing.assert_allclose(out[1][1], y * np.einsum("ij,ij->i", B, X), rtol=1e-10, atol=1e-14)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_ntk_kernel_blocks_match_the_formula(dtype):
    rng = np.random.default_rng(2)
    X = rng.standard_normal((700, 5)).astype(dtype)  # 490,000 entries: threaded, 6 row blocks
    X[3] = 0.0  # a zero row gives zeros
    X[5] = 2.5 * X[4]  # parallel rows: theta = 0 exactly
    results = {}
    for workers in (1, 2):
        with _fast.use(_fast.Options(workers=workers)):
            results[workers] = ntk_kernel(X)
    np.testing.assert_array_equal(results[1], results[2])
    K = results[2]
    np.testing.assert_array_equal(K, K.T)  # exactly symmetric
    assert K.dtype == dtype
    X64 = X.astype(np.float64)
    norms = np.linalg.norm(X64, axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        cos = np.clip(X64 @ X64.T / np.outer(norms, norms), -1, 1)
    expected = np.nan_to_num(X64 @ X64.T * (np.pi - np.arccos(cos)) / (2 * np.pi))
    tol = {"rtol": 1e-9, "atol": 1e-7} if dtype == np.float64 else {"rtol": 1e-3, "atol": 1e-3}
    np.testing.assert_allclose(K, expected, **tol)
    np.testing.assert_allclose(np.diag(K), norms**2 / 2, **tol)  # K(x, x) = ||x||^2 / 2
    assert np.all(K[3] == 0) and np.all(K[:, 3] == 0)
    assert K[4, 5] == pytest.approx(2.5 * np.dot(X64[4], X64[4]) / 2, rel=1e-6)


def _blas_threads(threadpoolctl):
    return [lib["num_threads"] for lib in threadpoolctl.threadpool_info() if lib["user_api"] == "blas"]


def test_ordered_map_keeps_order_raises_and_restores_the_blas(two_workers):
    threadpoolctl = pytest.importorskip("threadpoolctl")
    with threadpoolctl.threadpool_limits(limits=2, user_api="blas"):
        before = _blas_threads(threadpoolctl)
        assert max(before) == 2

        def square(i):
            assert max(_blas_threads(threadpoolctl)) == 1  # the BLAS held at one thread meanwhile
            return i * i

        assert list(_fast.ordered_map(square, range(50))) == [i * i for i in range(50)]
        assert _blas_threads(threadpoolctl) == before

        def boom(i):
            if i == 7:
                raise ValueError("block 7 failed")
            return i

        with pytest.raises(ValueError, match="block 7 failed"):
            list(_fast.ordered_map(boom, range(20)))
        assert _blas_threads(threadpoolctl) == before  # also after an error

        gen = _fast.ordered_map(square, range(50))
        assert next(gen) == 0
        gen.close()  # abandoned early
        assert _blas_threads(threadpoolctl) == before


def test_ordered_map_nested_in_a_worker_runs_serially(two_workers):

    def outer(i):  # would deadlock if the inner call waited on the same pool's threads
        return sum(_fast.ordered_map(lambda j: i * j, range(10)))

    assert list(_fast.ordered_map(outer, range(8))) == [45 * i for i in range(8)]


def test_field_built_on_other_points_and_user_fields_that_reuse_a_buffer():
    X, y = _data(n=200, d=5, seed=6)
    res = margin(X, y, n_samples=2048, rng=1)
    X_new, _ = _data(n=150, d=5, seed=7)  # other points: the field's masks are not columns of theirs
    direct = teacher_logits(X_new, lambda Z: res.v(Z), n_samples=9000, rng=2)
    passed = teacher_logits(X_new, res, n_samples=9000, rng=2)
    np.testing.assert_array_equal(passed.z, direct.z)

    buf = np.empty((0, 5))

    def reusing(Z):  # fills and returns the same array for every block
        nonlocal buf
        if buf.shape != Z.shape:
            buf = np.empty_like(Z)
        np.copyto(buf, res.v(Z))
        return buf

    np.testing.assert_array_equal(teacher_logits(X_new, reusing, n_samples=9000, rng=2).z, direct.z)


def test_margin_result_field_is_used_with_shared_masks():
    """A MarginResult's own field takes the teacher's masks; the result equals calling it directly."""
    X, y = _data(n=120, d=4, seed=4)
    res = margin(X, y, n_samples=2048, rng=1)
    direct = teacher_logits(X, lambda Z: res.v(Z), n_samples=4000, rng=3)
    shared = teacher_logits(X, res, n_samples=4000, rng=3)
    np.testing.assert_allclose(shared.z, direct.z, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_compiled_and_numpy_sums_agree(dtype):
    """The teacher's sums with the compiled pass (numba) and with the NumPy passes.

    Both take every term to float64 and add the rows of a sub-block in order; they differ only by
    a fused multiply-add in the squares, a few ulps of float64 on sums of 2000 terms.
    """
    pytest.importorskip("numba")
    X, y = _data(n=300, d=8, seed=4)
    X = X.astype(dtype)
    rng = np.random.default_rng(2)
    Z = rng.standard_normal((2000, 8)).astype(dtype)
    V = rng.standard_normal((2000, 8)).astype(dtype)
    V /= np.linalg.norm(V, axis=1, keepdims=True)
    with_numba = _montecarlo._block_sums(X, Z, V, None, 64, True)
    plain = _montecarlo._block_sums(X, Z, V, None, 64, False)
    for a, b in zip(with_numba[:2], plain[:2]):
        assert a.dtype == np.float64
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)
    # and the sums are those of the formula, M_si = 1(z_s . x_i > 0) v(z_s) . x_i, with the products
    # in the same dtype: each |M_si| <= 1 may differ by a few ulps (products of d = 8 terms summed
    # in another order), so a sum of S = 2000 terms by at most S * 8 * eps
    M = np.where(Z @ X.T > 0, V @ X.T, 0).astype(np.float64)
    tol = 2000 * 8 * np.finfo(dtype).eps
    np.testing.assert_allclose(with_numba[0], M.sum(axis=0), rtol=0, atol=tol)
