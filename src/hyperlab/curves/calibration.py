"""Calibration of :class:`~hyperlab.curves.neural.NeuralCurvePredictor`'s standard deviations.

Training pairs cut from the same curve are strongly correlated, so the surrogate's own spread
underestimates the error on a new curve. Before each refit the current network predicts the
curves that are new since the last fit -- data it has never seen -- from
:data:`CALIBRATION_FRACTIONS` of their length, and these out-of-sample errors are kept. After
the refit each kept error is divided by the std the *refitted* network gives for the same
prefix, and the std is scaled so that 90% of these ratios fall inside the 90% interval (a
prequential, split-conformal style estimate; Vovk et al. 2005), with one scale per prefix
fraction (a prediction uses the scale of the fraction nearest its own, in log) because early
prefixes err far more than late ones. The ratio uses the std of the network whose predictions
the scale will multiply, since a refit can change the raw std several-fold. The scale may go
down to 0.05: the raw std can be far too wide. Until enough such errors exist the scale is the
initial one, or the one learned on held-out pretraining curves (normalized in the same way by
the current network).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np

_Z90 = 1.6448536269514722
#: Prefix fractions at which out-of-sample errors are measured; each has its own std scale,
#: used for prefixes nearest to it (in log fraction).
CALIBRATION_FRACTIONS = (0.1, 0.25, 0.5, 0.75)
#: Smallest and largest std scale (the network's raw std can be several times too wide).
_SCALE_RANGE = (0.05, 50.0)

#: ``(prefixes, configs or None, target epoch) -> (mean (m,), uncalibrated std (m,))``.
RawPredictor = Callable[
    [list[np.ndarray], list[dict[str, Any]] | None, int], tuple[np.ndarray, np.ndarray]
]


class HeldOutError(NamedTuple):
    """One out-of-sample prediction: the prefix it was made from and its absolute error."""

    fraction: float  # prefix length / curve length
    prefix: np.ndarray
    config: dict[str, Any] | None
    target: int  # the epoch predicted (the curve's length)
    error: float  # |true value at target - predicted mean|


class StdCalibration:
    """The std scales of a refitted network, from its errors on curves it had not seen.

    Args:
        initial_scale: The scale until there are errors to learn one from.

    Attributes:
        scale_: The scale pooled over all prefix fractions.
        scales_: One scale per :data:`CALIBRATION_FRACTIONS` entry, shape ``(4,)``.
    """

    def __init__(self, initial_scale: float) -> None:
        self.scale_ = float(initial_scale)
        self.scales_ = np.full(len(CALIBRATION_FRACTIONS), float(initial_scale))
        self.study_errors: list[HeldOutError] = []  # the study's own out-of-sample errors
        self.prior_errors: list[HeldOutError] = []  # errors on held-out pretraining curves
        self._seen: set[bytes] = set()

    def set_prior(self, errors: list[HeldOutError]) -> None:
        """Start over from the errors on held-out pretraining curves."""
        self.study_errors = []
        self.prior_errors = errors

    def mark_seen(self, curves: list[np.ndarray]) -> None:
        """Remember ``curves`` as trained on (their errors are no longer out of sample)."""
        self._seen.update(_key(c) for c in curves)

    def collect_new(
        self,
        predict_raw: RawPredictor,
        curves: list[np.ndarray],
        configs: list[dict[str, Any]] | None,
        min_prefix: int,
    ) -> None:
        """Keep the current network's errors on those of ``curves`` it was not trained on."""
        new = [i for i, c in enumerate(curves) if _key(c) not in self._seen]
        self.study_errors.extend(
            held_out_errors(
                predict_raw,
                [curves[i] for i in new],
                None if configs is None else [configs[i] for i in new],
                min_prefix,
            )
        )

    def update(self, predict_raw: RawPredictor, min_errors: int) -> None:
        """Scales that make 90% of the out-of-sample errors fall in the 90% interval of the
        network ``predict_raw``: one pooled (``scale_``) and one per calibration fraction
        (``scales_``; the pooled one where a fraction has fewer than ``min_errors`` errors).
        Each error is divided by the std the network gives for its prefix. The study's own
        errors are used once there are ``min_errors`` of them, else the pretraining ones."""
        errors = self.study_errors if len(self.study_errors) >= min_errors else self.prior_errors
        if len(errors) < min_errors:
            return
        _, std = predict_errors(predict_raw, errors)
        z = np.array([e.error for e in errors]) / std
        bucket = _bucket(np.array([e.fraction for e in errors]))
        self.scale_ = _scale_from(z)
        self.scales_ = np.array(
            [
                _scale_from(z[bucket == b]) if np.sum(bucket == b) >= min_errors else self.scale_
                for b in range(len(CALIBRATION_FRACTIONS))
            ]
        )

    def scales(self, fractions: np.ndarray) -> np.ndarray:
        """The scale for each prefix fraction (prefix length / target epoch), shape ``(m,)``."""
        return self.scales_[_bucket(fractions)]


def held_out_errors(
    predict_raw: RawPredictor,
    curves: list[np.ndarray],
    configs: list[dict[str, Any]] | None,
    min_prefix: int,
) -> list[HeldOutError]:
    """Errors of ``predict_raw`` from :data:`CALIBRATION_FRACTIONS` of each curve's length
    (at least ``min_prefix`` epochs) at the curve's last epoch (curves it was not trained on)."""
    made: list[HeldOutError] = []
    truth: list[float] = []
    for i, curve in enumerate(curves):
        if len(curve) <= min_prefix:
            continue
        for fraction in CALIBRATION_FRACTIONS:
            s = max(min_prefix, round(fraction * len(curve)))
            if s < len(curve):
                config = None if configs is None else configs[i]
                made.append(HeldOutError(s / len(curve), curve[:s], config, len(curve), 0.0))
                truth.append(float(curve[-1]))
    if not made:
        return []
    mean, _ = predict_errors(predict_raw, made)
    return [e._replace(error=abs(t - float(m))) for e, t, m in zip(made, truth, mean)]


def predict_errors(
    predict_raw: RawPredictor, errors: list[HeldOutError]
) -> tuple[np.ndarray, np.ndarray]:
    """The raw mean and std, each ``(len(errors),)``, of ``predict_raw`` for the prefixes of
    ``errors`` (grouped by target epoch)."""
    mean, std = np.zeros(len(errors)), np.zeros(len(errors))
    for target in sorted({e.target for e in errors}):
        idx = [k for k, e in enumerate(errors) if e.target == target]
        configs = [c for c in (errors[k].config for k in idx) if c is not None]
        mean[idx], std[idx] = predict_raw(
            [errors[k].prefix for k in idx],
            configs if len(configs) == len(idx) else None,
            target,
        )
    return mean, std


def _scale_from(z: np.ndarray) -> float:
    """The std scale that puts 90% of the ``|error| / std`` values ``z`` inside the 90% band."""
    return float(np.clip(np.quantile(z, 0.9) / _Z90, *_SCALE_RANGE))


def _bucket(fractions: np.ndarray) -> np.ndarray:
    """Index of the calibration fraction nearest (in log) to each prefix fraction."""
    logs = np.log(np.asarray(CALIBRATION_FRACTIONS))
    edges = (logs[1:] + logs[:-1]) / 2
    return np.searchsorted(edges, np.log(np.maximum(fractions, 1e-9)))


def _key(curve: np.ndarray) -> bytes:
    return np.asarray(curve, dtype=np.float64).tobytes()
