from __future__ import annotations

import json

import numpy as np
import pytest

from hyperlab.diagnose import classifier as clf


def _data(n: int = 90) -> tuple[np.ndarray, list[str]]:
    rng = np.random.default_rng(0)
    x = rng.standard_normal((n, len(clf.INPUT_NAMES)))
    labels = ["a" if v < -0.5 else "b" if v < 0.5 else "c" for v in x[:, 0] + 0.3 * x[:, 1]]
    return x, labels


def test_boosted_trees_match_scikit_learn_and_survive_json() -> None:
    from sklearn.ensemble import GradientBoostingClassifier

    x, labels = _data()
    trees = clf.fit_trees(x, labels, n_stages=10, depth=2)
    reference = GradientBoostingClassifier(
        n_estimators=10, max_depth=2, learning_rate=0.1, init="zero", random_state=0
    ).fit(x, labels, sample_weight=clf._balanced_weights(labels))
    np.testing.assert_allclose(trees.predict_proba(x), reference.predict_proba(x), atol=1e-9)
    clone = clf.from_dict(json.loads(json.dumps(trees.to_dict())))
    assert isinstance(clone, clf.BoostedTrees)
    np.testing.assert_allclose(clone.predict_proba(x), trees.predict_proba(x), atol=1e-5)
    assert (
        clone.predict_proba(x).argmax(1) == np.searchsorted(["a", "b", "c"], labels)
    ).mean() > 0.9


def test_ensemble_averages_its_members_and_round_trips() -> None:
    x, labels = _data()
    linear, trees = clf.fit(x, labels), clf.fit_trees(x, labels, n_stages=5)
    both = clf.Ensemble([linear, trees])
    expected = (linear.predict_proba(x) + trees.predict_proba(x)) / 2
    np.testing.assert_allclose(both.predict_proba(x), expected)
    clone = clf.from_dict(json.loads(json.dumps(both.to_dict())))
    np.testing.assert_allclose(clone.predict_proba(x), expected, atol=1e-5)
    assert clone.classes == ["a", "b", "c"]


def test_old_linear_files_without_kind_still_load_and_unknown_kinds_are_named() -> None:
    x, labels = _data()
    d = clf.fit(x, labels).to_dict()
    del d["kind"]
    assert isinstance(clf.from_dict(d), clf.LinearClassifier)
    with pytest.raises(ValueError, match="'forest'"):
        clf.from_dict({"kind": "forest"})


def test_shipped_model_loads_and_matches_the_features() -> None:
    model = clf.load()
    assert model is not None, "model.json is missing or was trained on other features"
    assert model.inputs == list(clf.INPUT_NAMES)
    p = model.predict_proba(np.zeros((2, len(clf.INPUT_NAMES))))
    np.testing.assert_allclose(p.sum(axis=1), 1.0)


class _Fixed(clf.Classifier):
    """A stand-in classifier that gives every input the same probabilities."""

    def __init__(self, probs: dict[str, float]) -> None:
        self.classes = sorted(probs)
        self.inputs = list(clf.INPUT_NAMES)
        self._p = np.array([probs[c] for c in self.classes])

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        return np.tile(self._p, (len(np.atleast_2d(x)), 1))


def test_an_unknown_finding_keeps_its_rule_score_only_where_its_stand_ins_are_believed() -> None:
    from hyperlab.diagnose import _diagnose
    from hyperlab.diagnose.curves import check_curves

    t = np.arange(40.0)
    flat = {
        "train_loss": (2.2 + 0.1 * np.exp(-t) + 0.001 * np.cos(t)).tolist(),
        "val_loss": (2.21 + 0.1 * np.exp(-t) + 0.001 * np.sin(t)).tolist(),
    }
    curves = check_curves(flat)
    rules_only = _diagnose(curves, None, None).finding("plateau")
    assert rules_only is not None and rules_only.confidence > 0.9
    others = ("good-fit", "lr-too-low", "noisy-validation", "not-converged", "overfitting")
    believed = _Fixed({"underfitting": 0.6, "lr-too-high": 0.4, **dict.fromkeys(others, 0.0)})
    d = _diagnose(curves, None, believed, 0.75)
    assert d.primary.name == "plateau"
    doubted = _Fixed(
        {"good-fit": 1.0, "underfitting": 0.0, "lr-too-high": 0.0, **dict.fromkeys(others[1:], 0.0)}
    )
    d = _diagnose(curves, None, doubted, 0.75)
    assert d.primary.name == "good-fit"
    plateau = d.finding("plateau")
    assert plateau is None or plateau.confidence == pytest.approx(0.25 * rules_only.confidence)
