r"""A scikit-learn estimator: the two-layer student of eq. (1) trained by PGD (optional extra ``sklearn``).

:class:`NTKStudentClassifier` trains one network

.. math::

    f(x; W) = \frac{1}{\sqrt m}\sum_{j=1}^m a_j \max(0, W_j \cdot x)

with :func:`ntkdistill.pgd` from the symmetric initialisation, on hard labels (logistic loss,
Proposition 5) or on soft labels (KL loss, Theorem 2), so that the paper's protocols can be
written with scikit-learn's tools (``GridSearchCV``, ``cross_val_score``, pipelines). Soft labels
come from ``fit(X, y, soft_labels=p)``, or from a ``teacher``: ``"ntk"`` for the infinite-width
max-margin NTK teacher of the training data (:func:`ntkdistill.margin`, then
:func:`ntkdistill.teacher_logits` and :func:`ntkdistill.soft_labels`), or any fitted binary
classifier with a ``decision_function`` (its logits, divided by ``temperature``).

Binary classification only (the paper's setting). scikit-learn is imported by this module alone;
``import ntkdistill`` never imports it.

Examples
--------
>>> import numpy as np
>>> from sklearn.model_selection import GridSearchCV
>>> gen = np.random.default_rng(0)
>>> X = gen.normal(size=(60, 3)); X /= np.linalg.norm(X, axis=1, keepdims=True)
>>> y = np.where(X[:, 0] > 0, "up", "down")
>>> search = GridSearchCV(NTKStudentClassifier(m=16, T=100, random_state=0), {"eta": [0.5, 2.0]}, cv=3)
>>> search.fit(X, y).best_params_ in ({"eta": 0.5}, {"eta": 2.0}), search.best_estimator_.classes_.tolist()
(True, ['down', 'up'])
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

try:
    from sklearn.base import BaseEstimator, ClassifierMixin, clone
    from sklearn.exceptions import NotFittedError
    from sklearn.utils.multiclass import check_classification_targets, type_of_target
    from sklearn.utils.validation import check_is_fitted, validate_data
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError("ntkdistill.sklearn needs scikit-learn >= 1.6: pip install 'ntkdistill[sklearn]'.") from exc

from ._typing import ArrayLike, SeedLike
from .losses import sigmoid
from .pgd import pgd

__all__ = ["NTKStudentClassifier"]


class NTKStudentClassifier(ClassifierMixin, BaseEstimator):
    r"""The two-layer ReLU student of eq. (1), trained by projected gradient descent.

    .. math::

        W_j(t+1) = \Pi_{\|W_j - W_j(0)\| \le B/\sqrt m}\bigl(W_j(t) - \eta\nabla_{W_j} R(W(t))\bigr)

    with :math:`R` the logistic risk on the labels (no soft labels) or the KL risk on soft labels
    :math:`p_i = P(y_i = \texttt{classes\_[1]})`.

    Parameters
    ----------
    m : int, default 64
        Width, positive and even (the symmetric initialisation pairs neurons).
    eta : float, default 1.0
        Step size.
    T : int, default 200
        PGD iterations.
    B : float, default inf
        Projection radius (``inf``: plain gradient descent).
    teacher : None, "ntk" or a fitted binary classifier, default None
        Where soft labels come from when ``fit`` is given none: None trains on the hard labels;
        ``"ntk"`` uses the infinite-width max-margin NTK teacher of the training data; an
        estimator uses ``sigmoid(teacher.decision_function(X) / temperature)``, after fitting a
        clone of it on the training data when it is not fitted (as inside ``GridSearchCV``, which
        clones the parameters: the teacher then never sees a validation fold).
    temperature : float > 0, default 1.0
        Divides the teacher's logits.
    n_teacher_samples : int, default 20000
        Monte Carlo directions for the ``"ntk"`` teacher.
    random_state : None, int, SeedSequence or Generator
        Seed of the initialisation (and of the ``"ntk"`` teacher's directions).

    Attributes
    ----------
    classes_ : ndarray, shape (2,)
        The two labels; ``classes_[1]`` is the positive class (logit > 0).
    n_features_in_ : int
    result_ : PGDResult
        The training run (risk and error curves, weights).
    soft_labels_ : ndarray or None
        The soft labels trained on, None for hard labels.
    teacher_ : estimator
        The fitted teacher whose logits gave the soft labels (only with an estimator ``teacher``).

    Examples
    --------
    >>> import numpy as np
    >>> X = np.array([[1.0, 0.0], [0.0, 1.0], [0.8, 0.6], [0.6, 0.8]])
    >>> clf = NTKStudentClassifier(m=8, T=50, random_state=0).fit(X, [1, 0, 1, 0])
    >>> clf.predict(X).tolist(), clf.predict_proba(X).shape
    ([1, 0, 1, 0], (4, 2))
    """

    def __init__(
        self,
        m: int = 64,
        eta: float = 1.0,
        T: int = 200,
        B: float = math.inf,
        teacher: Any = None,
        temperature: float = 1.0,
        n_teacher_samples: int = 20000,
        random_state: SeedLike = None,
    ) -> None:
        self.m = m
        self.eta = eta
        self.T = T
        self.B = B
        self.teacher = teacher
        self.temperature = temperature
        self.n_teacher_samples = n_teacher_samples
        self.random_state = random_state

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_class = False
        return tags

    def fit(self, X: ArrayLike, y: ArrayLike, soft_labels: ArrayLike | None = None) -> NTKStudentClassifier:
        """Train on ``(X, y)``; with ``soft_labels`` (P(y = classes_[1]) per row) on those instead.

        Returns the fitted estimator.
        """
        X, y = validate_data(self, X, y, dtype=np.float64)
        check_classification_targets(y)
        kind = type_of_target(y, input_name="y")
        classes = np.unique(y)
        if kind != "binary" or classes.size != 2:
            raise ValueError(
                f"Only binary classification is supported. The type of the target is {kind}, with "
                f"{classes.size} class(es): {classes[:5].tolist()}."
            )
        self.classes_ = classes
        signs = np.where(y == classes[1], 1.0, -1.0)
        p = self._soft_labels(X, signs, soft_labels)
        if p is None:
            self.result_ = pgd(
                X,
                signs,
                m=self.m,
                eta=self.eta,
                T=self.T,
                B=self.B,
                loss="logistic",
                rng=self.random_state,
                progress=False,
            )
        else:
            self.result_ = pgd(
                X,
                p,
                m=self.m,
                eta=self.eta,
                T=self.T,
                B=self.B,
                loss="kl",
                labels=signs,
                rng=self.random_state,
                progress=False,
            )
        self.soft_labels_ = p
        return self

    def _soft_labels(self, X: np.ndarray, signs: np.ndarray, given: ArrayLike | None) -> np.ndarray | None:
        if given is not None:
            p = np.asarray(given, dtype=np.float64)
            if p.shape != (X.shape[0],) or not np.all((p >= 0) & (p <= 1)):
                raise ValueError(
                    f"soft_labels must be {X.shape[0]} probabilities in [0, 1] (one per row of X), got shape {p.shape}."
                )
            return p
        if self.teacher is None:
            return None
        if not (isinstance(self.temperature, (int, float)) and self.temperature > 0):
            raise ValueError(f"temperature must be a positive number, got {self.temperature!r}.")
        if isinstance(self.teacher, str):
            if self.teacher != "ntk":
                raise ValueError(f"teacher must be None, 'ntk' or a fitted classifier, got {self.teacher!r}.")
            from .margin import margin
            from .teacher import teacher_logits

            gen = np.random.default_rng(self.random_state)
            field = margin(X, signs, rng=gen)
            z = teacher_logits(X, field, n_samples=self.n_teacher_samples, rng=gen).z
            return sigmoid(z / self.temperature)
        if not callable(getattr(self.teacher, "decision_function", None)):
            raise TypeError(
                f"teacher must be None, 'ntk' or a binary classifier with decision_function, "
                f"got {type(self.teacher).__name__}."
            )
        teacher = self.teacher
        try:
            check_is_fitted(teacher)
        except NotFittedError:  # e.g. a clone made by GridSearchCV: fit it on this training data
            teacher = clone(teacher).fit(X, np.where(signs > 0, self.classes_[1], self.classes_[0]))
        self.teacher_ = teacher
        z = np.asarray(teacher.decision_function(X), dtype=np.float64)
        if z.shape != (X.shape[0],):
            raise ValueError(f"teacher.decision_function(X) must have shape ({X.shape[0]},), got {z.shape}.")
        return sigmoid(z / self.temperature)

    def decision_function(self, X: ArrayLike) -> np.ndarray:
        """The network's logit :math:`f(x)` per row; positive means ``classes_[1]``."""
        check_is_fitted(self, "result_")
        X = validate_data(self, X, reset=False, dtype=np.float64)
        return self.result_.predict(X)[0]

    def predict_proba(self, X: ArrayLike) -> np.ndarray:
        """Columns ``[1 - mu(f), mu(f)]``, in the order of ``classes_``."""
        p = sigmoid(self.decision_function(X))
        return np.column_stack([1.0 - p, p])

    def predict(self, X: ArrayLike) -> np.ndarray:
        """``classes_[1]`` where the logit is positive, ``classes_[0]`` otherwise (ties are errors, E6)."""
        positive = self.decision_function(X) > 0
        return self.classes_[positive.astype(int)]
