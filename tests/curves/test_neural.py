"""The neural curve predictor on synthetic curves whose asymptote depends on the configuration."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
from optuna.distributions import CategoricalDistribution, FloatDistribution

from hyperlab.curves import ParametricCurvePredictor
from hyperlab.curves.neural import NeuralCurvePredictor
from hyperlab.errors import InputError

T = 20
DISTS = {"x": FloatDistribution(0.0, 1.0), "kind": CategoricalDistribution(["a", "b"])}


def dataset(n: int, seed: int) -> tuple[list[np.ndarray], list[dict[str, object]], np.ndarray]:
    """Curves ``c + t^-0.5`` (+ noise) with asymptote ``c = x`` (+0.3 for kind b)."""
    rng = np.random.default_rng(seed)
    t = np.arange(1, T + 1)
    curves, configs, finals = [], [], []
    for _ in range(n):
        x, kind = float(rng.uniform()), str(rng.choice(["a", "b"]))
        c = x + (0.3 if kind == "b" else 0.0)
        clean = c + 1.0 * t**-0.5
        curves.append(clean + rng.normal(0, 0.01, T))
        configs.append({"x": x, "kind": kind})
        finals.append(clean[-1])
    return curves, configs, np.array(finals)


def small(seed: int = 0, dtype: str = "float32") -> NeuralCurvePredictor:
    return NeuralCurvePredictor(
        seed=seed, max_pairs=300, n_members=3, width=16, steps=150, warm_steps=60, dtype=dtype
    )


@pytest.mark.slow
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_learns_from_the_configuration_and_the_prefix(dtype: str) -> None:
    curves, configs, _ = dataset(40, seed=0)
    test_curves, test_configs, finals = dataset(40, seed=1)
    predictor = small(dtype=dtype).fit(curves[:20], configs[:20], T, distributions=DISTS)
    predictor.fit(curves, configs, T, distributions=DISTS)  # 20 new curves calibrate
    assert predictor.std_scale_ != 2.0
    errors, coverage = [], []
    for s in (2, 5, 10):
        mean, std = predictor.predict_finals([c[:s] for c in test_curves], test_configs)
        assert mean.shape == std.shape == (40,) and np.all(std > 0)
        errors.append(float(np.mean(np.abs(mean - finals))))
        coverage.append(float(np.mean(np.abs(mean - finals) <= 1.645 * std)))
    assert errors[2] < errors[0]
    assert all(0.6 <= c <= 1.0 for c in coverage), coverage
    # from two epochs the configuration says more than the curve-family fit can
    param_mean, _ = ParametricCurvePredictor().predict_finals(
        [c[:2] for c in test_curves], budget=T
    )
    assert errors[0] < float(np.mean(np.abs(param_mean - finals)))


@pytest.mark.slow
def test_deterministic_under_a_seed_and_pickles() -> None:
    curves, configs, _ = dataset(12, seed=2)
    a = small(seed=3).fit(curves, configs, T, distributions=DISTS)
    b = small(seed=3).fit(curves, configs, T, distributions=DISTS)
    prefix, config = curves[0][:4], configs[0]
    assert a.predict_final(prefix, config) == b.predict_final(prefix, config)
    clone = pickle.loads(pickle.dumps(a))
    assert clone.predict_final(prefix, config) == a.predict_final(prefix, config)


def test_partial_curves_train_too_and_inputs_are_checked() -> None:
    curves, configs, _ = dataset(6, seed=4)
    partial = [c[: 4 + i] for i, c in enumerate(curves)]  # none complete
    predictor = small().fit(partial, configs, T, distributions=DISTS)
    mean, std = predictor.predict_final(curves[0][:3], configs[0])
    assert np.isfinite(mean) and std > 0
    with pytest.raises(InputError, match="configurations"):
        predictor.predict_final(curves[0][:3])
    with pytest.raises(InputError, match="fitted"):
        small().predict_final(curves[0][:3], configs[0], budget=T)
    with pytest.raises(InputError, match="distributions"):
        small().fit(curves, configs, T)
    with pytest.raises(InputError, match="longer"):
        small().fit([[1.0], [0.5]], [configs[0], configs[1]], T, distributions=DISTS)


def test_bands_narrow_as_the_prefix_grows() -> None:
    curves, configs, _ = dataset(20, seed=5)
    test_curves, test_configs, _ = dataset(10, seed=6)
    predictor = small(seed=1).fit(curves, configs, T, distributions=DISTS)
    _, early = predictor.predict_finals([c[:3] for c in test_curves], test_configs)
    _, late = predictor.predict_finals([c[:15] for c in test_curves], test_configs)
    assert np.median(late) < np.median(early)


@pytest.mark.slow
def test_pretraining_predicts_before_the_study_and_calibrates_on_held_out_curves() -> None:
    prior_curves, prior_configs, _ = dataset(40, seed=7)
    test_curves, test_configs, finals = dataset(30, seed=8)
    pretrained = small(seed=2).pretrain(prior_curves, prior_configs, T, distributions=DISTS)
    assert pretrained.n_prior_pairs_ > 0 and pretrained.std_scale_ != 2.0
    mean, _ = pretrained.predict_finals([c[:3] for c in test_curves], test_configs, T)
    # before the study has a single curve it extrapolates better than the curve-family fit
    param_mean, _ = ParametricCurvePredictor().predict_finals(
        [c[:3] for c in test_curves], budget=T
    )
    param_mae = float(np.mean(np.abs(param_mean - finals)))
    assert np.mean(np.abs(mean - finals)) < param_mae
    # fine-tuned on a study's first three curves, it still does
    few, few_configs, _ = dataset(3, seed=9)
    pretrained.fit(few, few_configs, T, distributions=DISTS)
    tuned, _ = pretrained.predict_finals([c[:3] for c in test_curves], test_configs, T)
    assert np.mean(np.abs(tuned - finals)) < param_mae
    # held-out coverage, pooled over prefixes of 10%, 25% and 50% of the curve
    covered = []
    for s in (2, 5, 10):
        m, sd = pretrained.predict_finals([c[:s] for c in test_curves], test_configs, T)
        covered.extend(np.abs(m - finals) <= 1.645 * sd)
    assert 0.6 <= np.mean(covered) <= 1.0


def test_pretraining_checks_its_inputs() -> None:
    curves, configs, _ = dataset(6, seed=10)
    with pytest.raises(InputError, match="holdout"):
        small().pretrain(curves, configs, T, distributions=DISTS, holdout=0.95)
    with pytest.raises(InputError, match="configurations"):
        small().pretrain(curves, None, T, distributions=DISTS)  # type: ignore[arg-type]
    with pytest.raises(InputError, match="at least 2"):
        small().pretrain(curves[:1], configs[:1], T, distributions=DISTS)
    predictor = small().pretrain(curves, configs, T, distributions=DISTS)
    other = {"y": FloatDistribution(0.0, 1.0)}
    with pytest.raises(InputError, match="same search space"):
        predictor.fit([c[:5] for c in curves], [{"y": 0.5}] * 6, T, distributions=other)


@pytest.mark.slow
def test_a_refit_scales_the_std_of_the_network_it_refitted() -> None:
    """The first network's errors on the curves new at the refit fall inside the *refitted*
    network's 90% band about 90% of the time at each calibration fraction. (A scale learned on
    the first network's std, applied to the refitted network's several-fold different one, made
    the band cover every one of them -- and every test curve on LCBench.)"""
    curves, configs, _ = dataset(60, seed=50)
    test_curves, test_configs, finals = dataset(60, seed=70)
    predictor = small(seed=0).fit(curves[:30], configs[:30], T, distributions=DISTS)
    fresh, fresh_configs = curves[30:], configs[30:]
    lengths = (2, 5, 10, 15)  # 10%, 25%, 50% and 75% of the curve
    truth = np.array([c[-1] for c in fresh])
    errors = [
        np.abs(predictor.predict_finals([c[:s] for c in fresh], fresh_configs, T)[0] - truth)
        for s in lengths
    ]
    predictor.fit(curves, configs, T, distributions=DISTS)
    for s, error in zip(lengths, errors):
        _, std = predictor.predict_finals([c[:s] for c in fresh], fresh_configs, T)
        assert 0.8 <= np.mean(error <= 1.645 * std) <= 0.95, (s, np.mean(error <= 1.645 * std))
    covered = []
    for s in lengths[:3]:
        mean, std = predictor.predict_finals([c[:s] for c in test_curves], test_configs, T)
        covered.extend(np.abs(mean - finals) <= 1.645 * std)
    assert 0.7 <= np.mean(covered) <= 1.0
