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
