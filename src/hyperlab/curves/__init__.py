"""Learning-curve predictors: from the first epochs of a curve to its final value.

``CurvePredictor`` is the extension point (``fit(curves, configs, budgets)``,
``predict_final(partial_curve, config) -> (mean, std)``); ``ParametricCurvePredictor`` is a
weighted combination of curve families (after Domhan et al. 2015); ``NeuralCurvePredictor``
(imported from ``hyperlab.curves.neural``, which loads torch) reads the configuration and a
description of the prefix with a shared neural surrogate.
"""

from __future__ import annotations

from hyperlab.curves.base import CurvePredictor, gaussian_interval, prob_below
from hyperlab.curves.parametric import ParametricCurvePredictor

__all__ = ["CurvePredictor", "ParametricCurvePredictor", "gaussian_interval", "prob_below"]
