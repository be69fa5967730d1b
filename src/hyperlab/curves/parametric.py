"""A parametric learning-curve predictor: a weighted combination of curve families.

After Domhan, Springenberg & Hutter (2015), "Speeding up automatic hyperparameter optimization
of deep neural networks by extrapolation of learning curves": the prefix of a curve is
explained by several parametric families and the extrapolation is their weighted combination.
Domhan et al. sample the weights and parameters with MCMC; here the families are written so
that the model is linear in two parameters (asymptote and amplitude) given a shape parameter,
the shape parameters and the noise level range over fixed grids, and the posterior over the
grid is computed exactly (Bayesian model averaging with conjugate Gaussian priors). That is
fast enough to run at every epoch of every trial.

Families (``t`` = epoch, ``c`` = asymptote, ``a`` = amplitude; all fitted to losses, where a
negative amplitude gives a rising curve):

- power law ``c + a * t**(-alpha)``
- exponential ``c + a * exp(-b * t)``
- log-power ``c + a / (1 + (t / m)**d)`` (Domhan's "log power" with an asymptote)

Each shape is normalized to 1 at epoch 1 and 0 at the target budget ``T``, so ``c`` is the
value at ``T`` directly. Fitting on a study's complete curves learns one scale for the
predicted standard deviations so that 90% intervals cover about 90% of the observed finals.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from optuna.distributions import BaseDistribution

from hyperlab.curves.base import CurveData, CurvePredictor
from hyperlab.errors import InputError

#: Prefix fractions used to calibrate the predicted standard deviations on complete curves.
CALIBRATION_FRACTIONS = (0.1, 0.25, 0.5)
_Z90 = 1.6448536269514722


def family_shapes(budget: int) -> tuple[np.ndarray, list[str]]:
    """All grid shapes, normalized to 1 at epoch 1 and 0 at ``budget``.

    Returns:
        ``(shapes, family)``: array of shape ``(G, budget)`` (shape ``g`` at epochs
        ``1..budget``) and the family name of each row.
    """
    t = np.arange(1, budget + 1, dtype=np.float64)
    rows: list[np.ndarray] = []
    names: list[str] = []
    for alpha in np.geomspace(0.05, 4.0, 20):
        rows.append(t ** (-alpha))
        names.append("power")
    for rate in np.geomspace(0.3, 50.0, 20) / budget:
        rows.append(np.exp(-rate * t))
        names.append("exponential")
    for mid in np.geomspace(1.0, float(budget), 8):
        for d in (0.5, 1.0, 2.0, 4.0):
            rows.append(1.0 / (1.0 + (t / mid) ** d))
            names.append("log-power")
    raw = np.stack(rows)
    span = raw[:, :1] - raw[:, -1:]
    span = np.where(np.abs(span) < 1e-12, 1.0, span)
    return (raw - raw[:, -1:]) / span, names


class ParametricCurvePredictor(CurvePredictor):
    """Weighted combination of power-law, exponential and log-power curves (Domhan et al. 2015).

    Args:
        noise_levels: Grid of observation-noise levels, relative to the prefix's scale.
        prior_scale: Prior standard deviations of ``(asymptote - last value, amplitude)``,
            relative to the prefix's scale.
        calibrate: Learn a scale for the standard deviations in :meth:`fit` from complete
            curves (needs at least ``min_calibration_curves`` of them).
        min_calibration_curves: Complete curves needed before calibrating.
    """

    uses_config = False
    needs_fit = False

    def __init__(
        self,
        noise_levels: tuple[float, ...] = (0.003, 0.01, 0.03, 0.1, 0.3),
        prior_scale: tuple[float, float] = (5.0, 10.0),
        calibrate: bool = True,
        min_calibration_curves: int = 5,
    ) -> None:
        self.noise_levels = noise_levels
        self.prior_scale = prior_scale
        self.calibrate = calibrate
        self.min_calibration_curves = min_calibration_curves
        self.std_scale_ = 1.0
        self._shapes: dict[int, tuple[np.ndarray, np.ndarray]] = {}

    def _check(self) -> None:
        levels = np.asarray(self.noise_levels, dtype=np.float64)
        if levels.ndim != 1 or len(levels) == 0 or np.any(levels <= 0):
            raise InputError(f"noise_levels must be positive numbers, got {self.noise_levels!r}")
        if len(self.prior_scale) != 2 or min(self.prior_scale) <= 0:
            raise InputError(f"prior_scale must be two positive numbers, got {self.prior_scale!r}")

    def _grid(self, budget: int) -> tuple[np.ndarray, np.ndarray]:
        if budget not in self._shapes:
            shapes, names = family_shapes(budget)
            # equal prior mass per family, spread evenly over its grid
            fam, counts = np.unique(names, return_counts=True)
            per = {f: 1.0 / (len(fam) * c) for f, c in zip(fam, counts)}
            log_prior = np.log([per[n] for n in names])
            self._shapes[budget] = (shapes, log_prior)
        return self._shapes[budget]

    def _fit(self, data: CurveData, distributions: dict[str, BaseDistribution] | None) -> None:
        self._check()
        self.std_scale_ = 1.0
        if not self.calibrate:
            return
        complete = [c for c, ok in zip(data.curves, data.complete) if ok and len(c) >= 4]
        if len(complete) < self.min_calibration_curves:
            return
        z: list[float] = []
        for curve in complete:
            budget = len(curve)
            prefixes = sorted({max(2, round(f * budget)) for f in CALIBRATION_FRACTIONS})
            prefixes = [p for p in prefixes if p < budget]
            if not prefixes:
                continue
            mean, std = self._predict([curve[:p] for p in prefixes], None, budget)
            z.extend(np.abs(curve[-1] - mean) / std)
        if len(z) >= self.min_calibration_curves:
            self.std_scale_ = float(np.clip(np.quantile(z, 0.9) / _Z90, 0.5, 20.0))

    def _predict(
        self, curves: list[np.ndarray], configs: list[dict[str, Any]] | None, budget: int
    ) -> tuple[np.ndarray, np.ndarray]:
        self._check()
        means, stds = np.empty(len(curves)), np.empty(len(curves))
        for i, curve in enumerate(curves):
            means[i], stds[i] = self._predict_one(curve, budget)
        return means, stds * self.std_scale_

    def _predict_one(self, y: np.ndarray, budget: int) -> tuple[float, float]:
        s = len(y)
        last = float(y[-1])
        scale = max(float(np.ptp(y)), 0.02 * abs(last), 1e-8)
        if s >= budget:
            return last, 1e-6 * scale
        shapes, log_prior = self._grid(budget)
        phi = shapes[:, :s]  # (G, s)
        z = (y - last) / scale  # (s,)
        n = float(s)
        s1 = phi.sum(1)
        s2 = (phi**2).sum(1)
        bz0 = z.sum()
        bz1 = phi @ z
        zz = float(z @ z)
        tau_c, tau_a = self.prior_scale
        var = np.asarray(self.noise_levels, dtype=np.float64)[None, :] ** 2  # (1, K)
        # A = X'X / var + diag(1/tau^2); b = X'z / var, for every grid shape and noise level
        a00 = n / var + 1 / tau_c**2
        a01 = s1[:, None] / var
        a11 = s2[:, None] / var + 1 / tau_a**2
        b0 = bz0 / var
        b1 = bz1[:, None] / var
        det = a00 * a11 - a01**2
        mu0 = (a11 * b0 - a01 * b1) / det
        mu1 = (a00 * b1 - a01 * b0) / det
        cov00 = a11 / det
        quad = b0 * mu0 + b1 * mu1
        log_ml = -0.5 * (
            zz / var - quad + n * np.log(var) + np.log(det) + 2 * np.log(tau_c * tau_a)
        )
        log_w = log_ml + log_prior[:, None]
        w = np.exp(log_w - log_w.max())
        w /= w.sum()
        pred_var = cov00 + var
        mean_z = float((w * mu0).sum())
        var_z = float((w * (pred_var + mu0**2)).sum()) - mean_z**2
        return last + scale * mean_z, scale * float(np.sqrt(max(var_z, 1e-12)))
