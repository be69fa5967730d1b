"""How :class:`~hyperlab.curves.neural.NeuralCurvePredictor` reads a curve prefix.

The network reads a fixed-length description of a prefix of any length (all scale-free except
the level, which is standardized with the training curves' median and spread):

- the prefix resampled at ``n_points`` log-spaced epochs between 1 and its last epoch,
- the last value, the best value so far and the mean slope over the last three epochs,
- the prefix length and the target epoch as fractions of the budget (linear and log),
- the extrapolation of :class:`~hyperlab.curves.parametric.ParametricCurvePredictor` (mean and
  log std), so the network learns a correction to the curve-family fit rather than the shape
  of a learning curve from scratch.

Its target is the move still ahead, ``(value at target epoch - last observed value) / prefix
scale``, where the prefix scale (:func:`curve_scale`) is the range of the prefix's second half
(at least 2% of its last value): a curve that has settled gets a narrow band and one still
moving a wide band. The range of the whole prefix would keep the first epochs' fall, and so
widen the bands as a curve settles.
"""

from __future__ import annotations

import math

import numpy as np

from hyperlab.curves.parametric import ParametricCurvePredictor


class PrefixDescriber:
    """The network's inputs for curve prefixes.

    Args:
        n_points: Length of the log-epoch resampling of the prefix.
    """

    def __init__(self, n_points: int) -> None:
        self.n_points = n_points
        self.center = 0.0
        self.scale = 1.0
        self._parametric = ParametricCurvePredictor(calibrate=False)

    def set_level(self, values: np.ndarray) -> None:
        """Center and scale of the level features, from the training curves' ``values``."""
        self.center = float(np.median(values))
        q25, q75 = np.quantile(values, [0.25, 0.75])
        self.scale = float(max(q75 - q25, 1e-3 * max(1.0, abs(self.center)), 1e-8))

    def describe(self, curve: np.ndarray, target: int, budget: int) -> np.ndarray:
        """Prefix features, shape ``(2 * n_points + 9,)`` (before the configuration)."""
        s = len(curve)
        grid = np.exp(np.linspace(0.0, math.log(s), self.n_points))
        resampled = np.interp(grid, np.arange(1, s + 1), curve)
        last = curve[-1]
        slope = (curve[-1] - curve[max(0, s - 4)]) / max(1, min(3, s - 1))
        mean, std = self._parametric.predict_final(curve, budget=target)
        level = (np.concatenate([resampled, [last, curve.min(), mean]]) - self.center) / self.scale
        shape = (resampled - last) / self.scale
        log_b = math.log(budget)
        extra = [
            slope / self.scale,
            (mean - last) / self.scale,
            math.log(max(std, 1e-12) / self.scale),
            s / budget,
            math.log(s) / log_b if log_b > 0 else 1.0,
            target / budget,
            math.log(target) / log_b if log_b > 0 else 1.0,
        ]
        return np.concatenate([level, shape, extra])

    def features(
        self, curves: list[np.ndarray], targets: list[int], budget: int, config_x: np.ndarray
    ) -> np.ndarray:
        """Network inputs, shape ``(m, d_config + d_prefix)``, squashed into about [0, 1].

        Args:
            curves: ``m`` prefixes.
            targets: The epoch each prefix is to be predicted at.
            budget: The longest budget the network is trained for.
            config_x: Encoded configurations, shape ``(m, d_config)``.
        """
        prefix = np.stack([self.describe(c, t, budget) for c, t in zip(curves, targets)])
        prefix = 0.5 + np.tanh(prefix / 3.0) / 2.0
        return np.concatenate([config_x, prefix], axis=1)


def curve_scale(prefix: np.ndarray) -> float:
    """The prefix's recent scale: the range of its second half, at least 2% of its last value."""
    recent = prefix[(len(prefix) - 1) // 2 :]
    return max(float(np.ptp(recent)), 0.02 * abs(float(prefix[-1])), 1e-8)


def target_move(curve: np.ndarray, prefix: int, target: int) -> float:
    """The training target of the pair (first ``prefix`` epochs of ``curve``, epoch
    ``target``): the move from the prefix's last value, over :func:`curve_scale`."""
    return float((curve[target - 1] - curve[prefix - 1]) / curve_scale(curve[:prefix]))


def prefix_lengths(low: int, high: int) -> list[int]:
    """Prefix lengths from ``low`` to ``high``: every one up to 8, then about 15% apart."""
    out: list[int] = []
    s = max(1, low)
    while s <= high:
        out.append(s)
        s = s + 1 if s < 8 else max(s + 1, round(s * 1.15))
    return out


def training_pairs(curves: list[np.ndarray], min_prefix: int) -> list[tuple[int, int, int]]:
    """``(curve index, prefix length, target epoch)`` of the training pairs cut from
    ``curves``: each prefix of :func:`prefix_lengths` from ``min_prefix`` on, predicting the
    curve's last epoch (a partial curve teaches the move to its own last epoch)."""
    return [
        (i, s, len(curve))
        for i, curve in enumerate(curves)
        for s in prefix_lengths(min_prefix, len(curve) - 1)
    ]
