"""The parametric curve predictor on synthetic power-law curves with a known asymptote."""

from __future__ import annotations

import numpy as np
import pytest

from hyperlab.curves import ParametricCurvePredictor
from hyperlab.curves.base import gaussian_interval, prob_below
from hyperlab.errors import InputError, InputTypeError

T = 40


def power_curves(n: int, seed: int = 0, noise: float = 0.01) -> tuple[np.ndarray, np.ndarray]:
    """``n`` noisy curves ``c + a t^-alpha`` of length ``T`` and their noiseless finals."""
    rng = np.random.default_rng(seed)
    t = np.arange(1, T + 1)
    c = rng.uniform(0.1, 1.0, n)[:, None]
    a = rng.uniform(0.5, 2.0, n)[:, None]
    alpha = rng.uniform(0.3, 1.5, n)[:, None]
    clean = c + a * t[None, :] ** (-alpha)
    return clean + rng.normal(0.0, noise, clean.shape), clean[:, -1]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_error_shrinks_as_the_prefix_grows(dtype: type) -> None:
    curves, finals = power_curves(60)
    curves = curves.astype(dtype)
    predictor = ParametricCurvePredictor(calibrate=False)
    errors = []
    for fraction in (0.1, 0.25, 0.5, 0.9):
        s = int(fraction * T)
        mean, std = predictor.predict_finals(list(curves[:, :s]), budget=T)
        assert mean.shape == std.shape == (60,) and np.all(std > 0)
        errors.append(float(np.mean(np.abs(mean - finals))))
    assert errors[0] > errors[1] > errors[2] > errors[3]
    assert errors[3] < 0.02  # close to the noise level once 90% of the curve is seen


def test_intervals_are_calibrated() -> None:
    curves, finals = power_curves(120, seed=1)
    predictor = ParametricCurvePredictor().fit(list(curves[:20]), budgets=T)
    assert 0.5 <= predictor.std_scale_ <= 20.0
    for fraction in (0.1, 0.25, 0.5):
        s = int(fraction * T)
        mean, std = predictor.predict_finals(list(curves[20:, :s]))
        covered = np.mean(np.abs(finals[20:] - mean) <= 1.645 * std)
        assert 0.75 <= covered <= 1.0, (fraction, covered)


def test_rising_curve_is_extrapolated_upwards() -> None:
    t = np.arange(1, 11)
    rising = 1.0 - 0.5 * t**-0.7  # an overfitting validation loss
    mean, _ = ParametricCurvePredictor().predict_final(rising, budget=50)
    assert mean > rising[-1]


def test_complete_curve_returns_its_last_value() -> None:
    curve = [1.0, 0.5, 0.4]
    mean, std = ParametricCurvePredictor().predict_final(curve, budget=3)
    assert mean == 0.4 and 0 < std < 1e-3


def test_fit_checks_and_truncates() -> None:
    predictor = ParametricCurvePredictor(min_calibration_curves=2)
    predictor.fit([[1.0, 0.5, float("nan"), 0.2], [1.0, 0.6, 0.5, 0.45]], budgets=[4, 4])
    assert predictor.max_budget_ == 4
    with pytest.raises(InputError, match="budgets"):
        predictor.fit([[1.0, 0.5, 0.3]], budgets=2)
    with pytest.raises(InputError, match="2 configs"):
        predictor.fit([[1.0]], configs=[{}, {}])
    with pytest.raises(InputTypeError):
        predictor.fit("curves")  # type: ignore[arg-type]
    with pytest.raises(InputTypeError):
        predictor.fit([["a", "b"]])  # type: ignore[list-item]


def test_predict_checks_inputs() -> None:
    predictor = ParametricCurvePredictor()
    with pytest.raises(InputError, match="budget"):
        predictor.predict_final([1.0, 0.5])  # not fitted and no budget
    with pytest.raises(InputError, match="non-finite"):
        predictor.predict_final([1.0, float("nan")], budget=10)
    with pytest.raises(InputError, match=r"1\.\.3"):
        predictor.predict_final([1.0] * 5, budget=3)
    with pytest.raises(InputError, match="one-dimensional"):
        predictor.predict_final([[1.0, 0.5]], budget=3)  # type: ignore[list-item]
    with pytest.raises(InputError, match="noise_levels"):
        ParametricCurvePredictor(noise_levels=(-1.0,)).predict_final([1.0], budget=3)


def test_gaussian_helpers() -> None:
    low, high = gaussian_interval(1.0, 2.0, 0.9)
    assert low == pytest.approx(1.0 - 1.645 * 2.0, abs=1e-3) and high == pytest.approx(
        4.29, abs=1e-2
    )
    assert prob_below(0.0, 1.0, 0.0) == pytest.approx(0.5)
    assert prob_below(0.0, 1.0, -1.645) == pytest.approx(0.05, abs=1e-3)
    assert prob_below(1.0, 0.0, 2.0) == 1.0
