from __future__ import annotations

import numpy as np
import pytest

from hyperlab.errors import InputError, UnknownNameError
from hyperlab.surrogates import (
    ExpectedImprovement,
    ThompsonSampling,
    UpperConfidenceBound,
    make_acquisition,
)


@pytest.mark.parametrize("xi", [0.0, 0.1])
def test_expected_improvement_matches_monte_carlo(xi: float) -> None:
    mean = np.array([0.0, 1.0, -0.5, 2.0, 0.3])
    std = np.array([1.0, 0.5, 0.1, 2.0, 0.0])
    best = 0.2
    ei = ExpectedImprovement(xi=xi).score(mean, std, best)
    draws = mean + std * np.random.default_rng(0).standard_normal((400_000, 5))
    mc = np.maximum(best - xi - draws, 0.0).mean(axis=0)
    np.testing.assert_allclose(ei, mc, rtol=0.02, atol=2e-3)
    assert ei[4] == pytest.approx(0.0)  # no uncertainty and no improvement


def test_ucb_prefers_uncertain_points_at_equal_mean() -> None:
    score = UpperConfidenceBound(kappa=2.0).score(np.zeros(2), np.array([0.1, 1.0]), 0.0)
    assert score[1] > score[0]
    np.testing.assert_allclose(score, [0.2, 2.0])


def test_thompson_score_varies_around_minus_the_mean() -> None:
    ts = ThompsonSampling(seed=0)
    draws = np.stack([ts.score(np.full(3, 1.0), np.full(3, 0.5), 0.0) for _ in range(2000)])
    assert draws.mean() == pytest.approx(-1.0, abs=0.03)
    assert draws.std() == pytest.approx(0.5, abs=0.03)


def test_bad_inputs_and_names() -> None:
    with pytest.raises(InputError):
        ExpectedImprovement().score(np.zeros(2), np.array([1.0, -1.0]), 0.0)
    with pytest.raises(InputError):
        ExpectedImprovement().score(np.zeros(2), np.zeros(3), 0.0)
    with pytest.raises(UnknownNameError, match="ei"):
        make_acquisition("nope")


def test_evaluate_scores_in_model_units_where_the_belief_is_gaussian() -> None:
    # Right-skewed scores: the power transform's inverse is steep at the top, so the belief
    # mapped back to raw units has a huge spread that says nothing about improvement below
    # the best score. ``evaluate`` must score the Gaussian belief itself.
    from hyperlab.surrogates import BayesianLastLayer

    rng = np.random.default_rng(0)
    X = rng.random((20, 2))
    y = np.exp(4 * X.sum(axis=1))
    model = BayesianLastLayer(seed=0, steps=100, cv_folds=0, target_transform="power").fit(X, y)
    C = rng.random((50, 2))
    ei = ExpectedImprovement()
    mean_z, std_z = model.predict(C, model_units=True)
    best_z = float(model.to_model_units(np.array([y.min()]))[0])
    got = ei.evaluate(model, C, float(y.min()), rng)
    np.testing.assert_allclose(got, ei.score(mean_z, std_z, best_z))
    mean, std = model.predict(C)
    assert not np.allclose(got, ei.score(mean, std, float(y.min())))
    np.testing.assert_allclose(model._target.inverse(mean_z), mean)
