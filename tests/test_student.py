"""The student of eq. (1): symmetric initialisation, forward pass, NTK features, linearisation."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ntkdistill import student
from ntkdistill.testing import check_grad


@settings(max_examples=50, deadline=None)
@given(
    st.integers(1, 6).map(lambda k: 2 * k),
    st.integers(1, 8),
    st.integers(1, 12),
    st.integers(0, 2**32 - 1),
)
def test_output_is_exactly_zero_at_init(m, d, n, seed):
    X = np.random.default_rng(seed + 1).normal(size=(n, d)) * 3.7
    W0, a = student.init_symmetric(m, d, rng=seed)
    f = student.forward(X, W0, a)
    assert np.all(f == 0.0)  # exactly, not approximately


def test_init_structure_and_reproducibility():
    W0, a = student.init_symmetric(10, 4, rng=7)
    W1, a1 = student.init_symmetric(10, 4, rng=7)
    assert np.array_equal(W0, W1) and np.array_equal(a, a1)
    assert np.array_equal(W0[:5], W0[5:]) and np.array_equal(a[:5], -a[5:])
    assert set(np.unique(a)) <= {-1.0, 1.0}
    W32, a32 = student.init_symmetric(10, 4, rng=7, dtype=np.float32)
    assert W32.dtype == np.float32 and a32.dtype == np.float32
    assert np.array_equal(W32, W0.astype(np.float32))


def test_init_rejects_odd_width():
    with pytest.raises(ValueError, match=r"m == 5, must be even"):
        student.init_symmetric(5, 3)
    with pytest.raises(TypeError, match="m must be an integer"):
        student.init_symmetric("8", 3)


def test_forward_matches_definition():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(5, 3))
    W = rng.normal(size=(6, 3))
    a = rng.choice([-1.0, 1.0], size=6)
    expected = np.array([sum(a[j] * max(0.0, W[j] @ x) for j in range(6)) / np.sqrt(6) for x in X])
    np.testing.assert_allclose(student.forward(X, W, a), expected, rtol=1e-13, atol=1e-15)


def test_features_and_linearisation():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(4, 3))
    Wt, a = student.init_symmetric(6, 3, rng=2)
    Wt = Wt + 0.3 * rng.normal(size=Wt.shape)
    phi = student.ntk_features(X, Wt)
    assert phi.shape == (4, 6, 3)
    for i in range(4):
        for j in range(6):
            expected = X[i] if Wt[j] @ X[i] > 0 else np.zeros(3)
            np.testing.assert_array_equal(phi[i, j], expected)
    # f^t_i(W(t)) = f_i(W(t)), and f^t is linear in W
    np.testing.assert_allclose(student.linearised(X, Wt, a, Wt), student.forward(X, Wt, a), rtol=1e-12, atol=1e-14)
    W1, W2 = rng.normal(size=(2, 6, 3))
    lin = lambda W: student.linearised(X, Wt, a, W)
    np.testing.assert_allclose(lin(2 * W1 - W2), 2 * lin(W1) - lin(W2), rtol=1e-12, atol=1e-12)
    # and it equals <phi^t_i, W> / sqrt(m) with the signs a_j on the rows
    direct = np.einsum("ijd,jd,j->i", phi, W1, a) / np.sqrt(6)
    np.testing.assert_allclose(lin(W1), direct, rtol=1e-12, atol=1e-14)


def test_activation_pattern_is_strict():
    # E5: 1(<w, x> > 0), so a zero pre-activation is inactive
    assert student.activation_pattern([[1.0, 0.0]], [[0.0, 1.0], [1e-300, 0.0]]).tolist() == [[False, True]]


@pytest.mark.parametrize("loss,targets", [("kl", [0.7, 0.1, 0.5, 0.95]), ("logistic", [1, -1, -1, 1])])
@pytest.mark.parametrize("seed", range(4))
def test_risk_gradient(loss, targets, seed):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(4, 3))
    W0, a = student.init_symmetric(8, 3, rng=seed)
    W = W0 + rng.normal(size=W0.shape)
    check_grad(
        lambda V: student.risk_and_grad(X, targets, V, a, loss)[0],
        lambda V: student.risk_and_grad(X, targets, V, a, loss)[1],
        W,
        rng=seed,
    )


def test_shape_errors():
    with pytest.raises(ValueError, match="W has 2 columns but X has 3"):
        student.forward(np.ones((2, 3)), np.ones((4, 2)), np.ones(4))
    with pytest.raises(ValueError, match=r"X must be a 2-D array \(n, d\), got 1-D"):
        student.forward(np.ones(3), np.ones((4, 3)), np.ones(4))
    with pytest.raises(ValueError, match="a must contain only -1 and \\+1"):
        student.forward(np.ones((2, 3)), np.ones((4, 3)), np.array([1, 2, 1, 1]))
