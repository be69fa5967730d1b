"""The small learned classifier: multinomial logistic regression over curve features.

It is trained by ``benchmarks/diagnose_accuracy.py --write-model`` on the labelled curve set
(``benchmarks/make_diagnosis_set.py``) and shipped as plain numbers in ``model.json`` (feature
means and scales, coefficients, intercepts, class names), so no pickle is loaded and scikit-learn
is needed only to train. Its inputs are the curve features plus the rule scores (stacking).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from hyperlab.diagnose.features import FEATURE_NAMES

MODEL_PATH = Path(__file__).with_name("model.json")
#: Rule scores appended to the features, in this order.
RULE_INPUTS = (
    "lr-too-high",
    "lr-too-low",
    "not-converged",
    "overfitting",
    "underfitting",
    "plateau",
    "noisy-validation",
    "good-fit",
)
INPUT_NAMES = (*FEATURE_NAMES, *(f"rule:{r}" for r in RULE_INPUTS))


@dataclass
class LinearClassifier:
    """A fitted multinomial logistic regression as plain arrays.

    Attributes:
        classes: Class names, length ``k``.
        mean: Input means, shape ``(d,)``.
        scale: Input standard deviations, shape ``(d,)``.
        coef: Coefficients on standardized inputs, shape ``(k, d)``.
        intercept: Shape ``(k,)``.
        inputs: Input names, length ``d`` (must equal :data:`INPUT_NAMES`).
    """

    classes: list[str]
    mean: np.ndarray
    scale: np.ndarray
    coef: np.ndarray
    intercept: np.ndarray
    inputs: list[str]

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        """Class probabilities for inputs ``x`` of shape ``(n, d)``; returns ``(n, k)``."""
        z = (np.atleast_2d(x) - self.mean) / self.scale @ self.coef.T + self.intercept
        z -= z.max(axis=1, keepdims=True)
        p = np.exp(z)
        return p / p.sum(axis=1, keepdims=True)

    def to_dict(self) -> dict[str, Any]:
        return {
            "classes": list(self.classes),
            "inputs": list(self.inputs),
            "mean": self.mean.tolist(),
            "scale": self.scale.tolist(),
            "coef": self.coef.tolist(),
            "intercept": self.intercept.tolist(),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> LinearClassifier:
        return cls(
            classes=list(d["classes"]),
            mean=np.asarray(d["mean"], dtype=np.float64),
            scale=np.asarray(d["scale"], dtype=np.float64),
            coef=np.asarray(d["coef"], dtype=np.float64),
            intercept=np.asarray(d["intercept"], dtype=np.float64),
            inputs=list(d["inputs"]),
        )


def fit(x: np.ndarray, labels: list[str], c: float = 1.0, seed: int = 0) -> LinearClassifier:
    """Fit the classifier (needs scikit-learn).

    Args:
        x: Inputs in :data:`INPUT_NAMES` order, shape ``(n, d)``.
        labels: The class of each row, length ``n``.
        c: Inverse L2 strength of the logistic regression.
        seed: Seed of the solver.

    Returns:
        The fitted classifier, with balanced class weights.
    """
    from sklearn.linear_model import LogisticRegression

    mean = x.mean(axis=0)
    scale = x.std(axis=0)
    scale = np.where(scale < 1e-9, 1.0, scale)
    model = LogisticRegression(C=c, class_weight="balanced", max_iter=5000, random_state=seed)
    model.fit((x - mean) / scale, labels)
    coef, intercept = model.coef_, model.intercept_
    if len(model.classes_) == 2:  # sklearn stores one row for two classes
        coef = np.vstack([-coef, coef]) / 2
        intercept = np.array([-intercept[0], intercept[0]]) / 2
    return LinearClassifier(
        [str(c) for c in model.classes_], mean, scale, coef, intercept, list(INPUT_NAMES)
    )


@lru_cache(maxsize=1)
def load(path: str | None = None) -> LinearClassifier | None:
    """The shipped classifier, or ``None`` when no model file exists or it does not match."""
    p = Path(path) if path else MODEL_PATH
    if not p.is_file():
        return None
    model = LinearClassifier.from_dict(json.loads(p.read_text()))
    if model.inputs != list(INPUT_NAMES):
        return None  # trained on other features: fall back to the rules
    return model
