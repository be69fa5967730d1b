"""The small learned classifier over curve features: logistic regression, boosted trees, or both.

It is trained by :func:`hyperlab.diagnose.training.train_model` on labelled curve sets (runs of
the built-in MLP tasks, pooled over several independently generated sets); the shipped one is
rebuilt by ``scripts/train_diagnosis_model.py``. It is stored as plain numbers in
``model.json``: for the linear model the feature means, scales, coefficients and intercepts; for
the boosted trees each node's feature, threshold, children and leaf value. No pickle is loaded,
prediction is numpy only, and scikit-learn is needed only to train. Its inputs are the curve
features plus the rule scores (stacking). :class:`Classifier` is the extension point;
:data:`KINDS` maps names to classes.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, ClassVar

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


class Classifier:
    """Base class: class probabilities from an input matrix, and a JSON-able form."""

    kind: ClassVar[str] = ""
    classes: list[str]
    inputs: list[str]

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        """Class probabilities for inputs ``x`` of shape ``(n, d)``; returns ``(n, k)``."""
        raise NotImplementedError

    def to_dict(self) -> dict[str, Any]:
        raise NotImplementedError


def _softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=1, keepdims=True)
    p = np.exp(z)
    return np.asarray(p / p.sum(axis=1, keepdims=True))


@dataclass
class LinearClassifier(Classifier):
    """A fitted multinomial logistic regression as plain arrays.

    Attributes:
        classes: Class names, length ``k``.
        mean: Input means, shape ``(d,)``.
        scale: Input standard deviations, shape ``(d,)``.
        coef: Coefficients on standardized inputs, shape ``(k, d)``.
        intercept: Shape ``(k,)``.
        inputs: Input names, length ``d`` (must equal :data:`INPUT_NAMES`).
    """

    kind: ClassVar[str] = "linear"
    classes: list[str]
    mean: np.ndarray
    scale: np.ndarray
    coef: np.ndarray
    intercept: np.ndarray
    inputs: list[str]

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        z = (np.atleast_2d(x) - self.mean) / self.scale @ self.coef.T + self.intercept
        return _softmax(z)

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
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


@dataclass
class BoostedTrees(Classifier):
    """Gradient-boosted regression trees (one per class and stage) as flat node arrays.

    A sample's score for a class is ``rate`` times the sum of the leaf values its trees reach;
    probabilities are the softmax of the scores. Node ``i`` sends a sample left when
    ``x[feature[i]] <= threshold[i]``; ``left[i] == -1`` marks a leaf.

    Attributes:
        classes: Class names, length ``k``.
        inputs: Input names, length ``d``.
        rate: The boosting learning rate.
        roots: Index of each tree's root node, shape ``(t,)``.
        tree_class: The class each tree scores, shape ``(t,)``.
        feature, threshold, left, right, value: Per node, shape ``(m,)``.
        depth: Largest tree depth.
    """

    kind: ClassVar[str] = "boosted-trees"
    classes: list[str]
    inputs: list[str]
    rate: float
    roots: np.ndarray
    tree_class: np.ndarray
    feature: np.ndarray
    threshold: np.ndarray
    left: np.ndarray
    right: np.ndarray
    value: np.ndarray
    depth: int

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        x = np.atleast_2d(x).astype(np.float32)  # trees were fitted on float32 inputs
        rows = np.arange(len(x))[:, None]
        nodes = np.broadcast_to(self.roots, (len(x), len(self.roots))).copy()
        for _ in range(self.depth):
            leaf = self.left[nodes] < 0
            go_left = x[rows, self.feature[nodes]] <= self.threshold[nodes]
            nodes = np.where(leaf, nodes, np.where(go_left, self.left[nodes], self.right[nodes]))
        onehot = np.eye(len(self.classes))[self.tree_class]
        return _softmax(self.rate * self.value[nodes] @ onehot)

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "classes": list(self.classes),
            "inputs": list(self.inputs),
            "rate": self.rate,
            "depth": self.depth,
            "roots": self.roots.tolist(),
            "tree_class": self.tree_class.tolist(),
            "feature": self.feature.tolist(),
            "threshold": [float(f"{t:.9g}") for t in self.threshold],
            "left": self.left.tolist(),
            "right": self.right.tolist(),
            "value": [float(f"{v:.6g}") for v in self.value],
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> BoostedTrees:
        ints = {k: np.asarray(d[k], dtype=np.int64) for k in ("roots", "tree_class", "feature")}
        return cls(
            classes=list(d["classes"]),
            inputs=list(d["inputs"]),
            rate=float(d["rate"]),
            threshold=np.asarray(d["threshold"], dtype=np.float64),
            left=np.asarray(d["left"], dtype=np.int64),
            right=np.asarray(d["right"], dtype=np.int64),
            value=np.asarray(d["value"], dtype=np.float64),
            depth=int(d["depth"]),
            **ints,
        )


@dataclass
class Ensemble(Classifier):
    """The mean of its members' class probabilities (members share classes and inputs)."""

    kind: ClassVar[str] = "ensemble"
    members: list[Classifier]

    def __post_init__(self) -> None:
        self.classes = list(self.members[0].classes)
        self.inputs = list(self.members[0].inputs)

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        return np.asarray(np.mean([m.predict_proba(x) for m in self.members], axis=0))

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "members": [m.to_dict() for m in self.members]}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Ensemble:
        return cls([from_dict(m) for m in d["members"]])


#: kind name -> class, for :func:`from_dict`.
KINDS: dict[str, Any] = {c.kind: c for c in (LinearClassifier, BoostedTrees, Ensemble)}


def from_dict(d: dict[str, Any]) -> Classifier:
    """A classifier from its :meth:`Classifier.to_dict` form (no ``kind``: linear)."""
    kind = d.get("kind", LinearClassifier.kind)
    if kind not in KINDS:
        raise ValueError(f"unknown classifier kind {kind!r}; known: {sorted(KINDS)}")
    model: Classifier = KINDS[kind].from_dict(d)
    return model


def _balanced_weights(labels: list[str]) -> np.ndarray:
    names, inverse, counts = np.unique(labels, return_inverse=True, return_counts=True)
    return np.asarray(len(labels) / (len(names) * counts[inverse]), dtype=np.float64)


def fit(x: np.ndarray, labels: list[str], c: float = 1.0, seed: int = 0) -> LinearClassifier:
    """Fit the logistic regression (needs scikit-learn).

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


def fit_trees(
    x: np.ndarray,
    labels: list[str],
    n_stages: int = 60,
    depth: int = 2,
    rate: float = 0.1,
    seed: int = 0,
) -> BoostedTrees:
    """Fit gradient-boosted trees with balanced class weights (needs scikit-learn; >= 3 classes).

    Deterministic: no subsampling, features are all considered at every split, ``seed`` fixed.
    """
    from sklearn.ensemble import GradientBoostingClassifier

    model = GradientBoostingClassifier(
        n_estimators=n_stages,
        max_depth=depth,
        learning_rate=rate,
        init="zero",
        random_state=seed,
    )
    model.fit(x, labels, sample_weight=_balanced_weights(labels))
    if len(model.classes_) < 3:
        raise ValueError("boosted trees need at least 3 classes")
    feature, threshold, left, right, value, roots, tree_class = [], [], [], [], [], [], []
    offset = 0
    for stage in model.estimators_:
        for k, est in enumerate(stage):
            t = est.tree_
            roots.append(offset)
            tree_class.append(k)
            is_leaf = t.children_left < 0
            feature += np.where(is_leaf, 0, t.feature).tolist()
            threshold += np.where(is_leaf, 0.0, t.threshold).tolist()
            left += np.where(is_leaf, -1, t.children_left + offset).tolist()
            right += np.where(is_leaf, -1, t.children_right + offset).tolist()
            value += t.value[:, 0, 0].tolist()
            offset += t.node_count
    return BoostedTrees(
        classes=[str(c) for c in model.classes_],
        inputs=list(INPUT_NAMES),
        rate=rate,
        roots=np.asarray(roots, dtype=np.int64),
        tree_class=np.asarray(tree_class, dtype=np.int64),
        feature=np.asarray(feature, dtype=np.int64),
        threshold=np.asarray(threshold, dtype=np.float64),
        left=np.asarray(left, dtype=np.int64),
        right=np.asarray(right, dtype=np.int64),
        value=np.asarray(value, dtype=np.float64),
        depth=depth,
    )


@lru_cache(maxsize=1)
def blend_weight(default: float, path: str | None = None) -> float:
    """The classifier's weight against the rules stored with the model (``default`` if none).

    :func:`hyperlab.diagnose.training.train_model` chooses it by leave-one-task-out over the
    labelled runs; it is stored as ``blend_weight`` beside the model.
    """
    p = Path(path) if path else MODEL_PATH
    if not p.is_file():
        return default
    return float(json.loads(p.read_text()).get("blend_weight", default))


@lru_cache(maxsize=1)
def load(path: str | None = None) -> Classifier | None:
    """The shipped classifier, or ``None`` when no model file exists or it does not match."""
    p = Path(path) if path else MODEL_PATH
    if not p.is_file():
        return None
    model = from_dict(json.loads(p.read_text()))
    if model.inputs != list(INPUT_NAMES):
        return None  # trained on other features: fall back to the rules
    return model
