"""A neural learning-curve predictor: configuration + description of the prefix -> final value.

The network reads a fixed-length description of a prefix of any length and the encoded
configuration and predicts how far the curve will still move, with its uncertainty. It is one
of the shared surrogates of :mod:`hyperlab.surrogates` (a deep ensemble by default, after
Lakshminarayanan et al. 2017; or a Bayesian last layer, after Snoek et al. 2015), trained on
(prefix, later value) pairs cut from the study's complete *and* partial curves: a partial curve
of length ``L`` teaches the move from each of its prefixes to epoch ``L``, so the target epoch
is an input (as in the LC-PFN of Adriaensen et al. 2023, which also conditions on the epoch to
predict).

The prefix description (all scale-free except the level, which is standardized with the
training curves' median and spread):

- the prefix resampled at ``n_points`` log-spaced epochs between 1 and its last epoch,
- the last value, the best value so far and the mean slope over the last three epochs,
- the prefix length and the target epoch as fractions of the budget (linear and log),
- the extrapolation of :class:`~hyperlab.curves.parametric.ParametricCurvePredictor` (mean and
  log std), so the network learns a correction to the curve-family fit rather than the shape
  of a learning curve from scratch.

The target is ``(value at target epoch - last observed value) / prefix scale``, where the
prefix scale is the range of the prefix's second half (at least 2% of its last value): a curve
that has settled gets a narrow band and one still moving a wide band. (The range of the whole
prefix, used before, grows with the prefix -- it keeps the first epochs' fall -- so the bands
*widened* as a curve settled and the pruner rarely acted; see ``benchmarks/pruning.py``.)

Pretraining. :meth:`NeuralCurvePredictor.pretrain` fits the network on curves from other
studies with the same search space (for example other LCBench tasks; never the task being
pruned), so it predicts from the first trial on. Later :meth:`fit` calls mix these prior pairs
with the study's own.

Refits start from a fresh network (``warm_start=False`` for the ensemble). A warm-started refit
of 60 steps -- the default before -- made the network *worse* than the one it replaced: on
synthetic power-law curves (``tests/curves``) its error after a refit on twice the curves was
up to 20 times that of the first fit and its std up to 20 times wider, while a fresh network of
200 steps kept both at the first fit's level.

Calibration. Training pairs cut from the same curve are strongly correlated, so the
surrogate's own spread underestimates the error on a new curve. Before each refit the current
network predicts the curves that are new since the last fit -- data it has never seen -- from
10%, 25%, 50% and 75% of their length, and these out-of-sample errors are kept. After the refit
each kept error is divided by the std the *refitted* network gives for the same prefix, and the
std is scaled so that 90% of these ratios fall inside the 90% interval (a prequential,
split-conformal style estimate; Vovk et al. 2005), with one scale per prefix fraction (a
prediction uses the scale of the fraction nearest its own, in log) because early prefixes err
far more than late ones. The ratio must use the std of the network whose predictions the scale
will multiply: a refit can change the raw std several-fold, and a scale learned on the old
network's std made the 90% interval cover every LCBench test curve (``benchmarks/
curve_accuracy.py``). The scale may go down to 0.05, since the raw std can be far too wide.
Until ``min_calibration`` such errors exist the scale is ``initial_std_scale``, or the one
learned on held-out pretraining curves (normalized in the same way by the current network).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

import numpy as np
from optuna.distributions import BaseDistribution

from hyperlab.curves.base import CurveData, CurveLike, CurvePredictor, check_curve_data
from hyperlab.curves.parametric import ParametricCurvePredictor
from hyperlab.errors import InputError, InputTypeError

_Z90 = 1.6448536269514722
#: Prefix fractions at which out-of-sample errors are measured; each has its own std scale,
#: used for prefixes nearest to it (in log fraction).
CALIBRATION_FRACTIONS = (0.1, 0.25, 0.5, 0.75)
#: Defaults of the deep ensemble, smaller than the sampler's: it is refitted during a study.
_ENSEMBLE_DEFAULTS = {
    "n_members": 5,
    "width": 32,
    "steps": 200,
    "warm_start": False,
    "predict_variance": True,
}
#: Smallest and largest std scale (the network's raw std can be several times too wide).
_SCALE_RANGE = (0.05, 50.0)


class _HeldOutError(NamedTuple):
    """One out-of-sample prediction: the prefix it was made from and its absolute error."""

    fraction: float  # prefix length / curve length
    prefix: np.ndarray
    config: dict[str, Any] | None
    target: int  # the epoch predicted (the curve's length)
    error: float  # |true value at target - predicted mean|


class NeuralCurvePredictor(CurvePredictor):
    """Predict final values from partial curves with a shared neural surrogate.

    Args:
        surrogate: ``"ensemble"`` (:class:`~hyperlab.surrogates.DeepEnsemble`) or ``"bll"``
            (:class:`~hyperlab.surrogates.BayesianLastLayer`).
        n_points: Length of the log-epoch resampling of the prefix.
        max_pairs: Largest number of training pairs (a seeded subsample beyond it).
        min_prefix: Shortest prefix used for training pairs.
        seed: Seed of the network and the subsample.
        initial_std_scale: Scale of the predicted standard deviations before calibration.
        min_calibration: Out-of-sample errors needed before the scale is estimated.
        surrogate_options: Passed to the surrogate (default: a deep ensemble of 5 networks
            of width 32 that also predict a variance, 200 Adam steps from scratch on every
            fit).
    """

    uses_config = True
    needs_fit = True

    def __init__(
        self,
        surrogate: str = "ensemble",
        n_points: int = 8,
        max_pairs: int = 600,
        min_prefix: int = 2,
        seed: int | None = None,
        initial_std_scale: float = 2.0,
        min_calibration: int = 10,
        **surrogate_options: Any,
    ) -> None:
        self.surrogate = surrogate
        self.n_points = n_points
        self.max_pairs = max_pairs
        self.min_prefix = min_prefix
        self.seed = seed
        self.initial_std_scale = initial_std_scale
        self.min_calibration = min_calibration
        self.surrogate_options = surrogate_options
        self._parametric = ParametricCurvePredictor(calibrate=False)
        self._encoder: Any = None
        self._model: Any = None
        self._model_dim = -1
        self._seen: set[bytes] = set()
        self._oos: list[_HeldOutError] = []  # the study's own out-of-sample errors
        self._prior_oos: list[_HeldOutError] = []  # errors on held-out pretraining curves
        self.std_scale_ = float(initial_std_scale)
        self.std_scales_ = np.full(len(CALIBRATION_FRACTIONS), float(initial_std_scale))
        self._prior: tuple[np.ndarray, np.ndarray] | None = None  # cached (X, y) prior pairs
        self._prior_names: list[str] | None = None
        self.n_prior_pairs_ = 0

    # -------------------------------------------------------------------------- features

    def _describe(self, curve: np.ndarray, target: int, budget: int) -> np.ndarray:
        """Prefix features, shape ``(2 * n_points + 9,)`` (before the configuration)."""
        s = len(curve)
        grid = np.exp(np.linspace(0.0, math.log(s), self.n_points))
        resampled = np.interp(grid, np.arange(1, s + 1), curve)
        last = curve[-1]
        slope = (curve[-1] - curve[max(0, s - 4)]) / max(1, min(3, s - 1))
        mean, std = self._parametric.predict_final(curve, budget=target)
        level = (
            np.concatenate([resampled, [last, curve.min(), mean]]) - self._center
        ) / self._scale
        shape = (resampled - last) / self._scale
        log_b = math.log(budget)
        extra = [
            slope / self._scale,
            (mean - last) / self._scale,
            math.log(max(std, 1e-12) / self._scale),
            s / budget,
            math.log(s) / log_b if log_b > 0 else 1.0,
            target / budget,
            math.log(target) / log_b if log_b > 0 else 1.0,
        ]
        return np.concatenate([level, shape, extra])

    def _features(
        self, curves: list[np.ndarray], targets: list[int], budget: int, config_x: np.ndarray
    ) -> np.ndarray:
        """Network inputs, shape ``(m, d_config + d_prefix)``, squashed into about [0, 1]."""
        prefix = np.stack([self._describe(c, t, budget) for c, t in zip(curves, targets)])
        prefix = 0.5 + np.tanh(prefix / 3.0) / 2.0
        return np.concatenate([config_x, prefix], axis=1)

    def _encode(self, configs: list[dict[str, Any]]) -> np.ndarray:
        if self._encoder is None:
            return np.zeros((len(configs), 0))
        return np.asarray(self._encoder.encode([dict(c) for c in configs]), dtype=np.float64)

    # -------------------------------------------------------------------------- pretrain

    def pretrain(
        self,
        curves: Sequence[CurveLike],
        configs: Sequence[Mapping[str, Any]],
        budgets: int | Sequence[int] | None = None,
        *,
        distributions: Mapping[str, BaseDistribution],
        holdout: float = 0.2,
        max_pairs: int | None = None,
    ) -> NeuralCurvePredictor:
        """Fit on curves of other studies before the study starts; calibrate on held-out ones.

        The curves are split (seeded) into a training part and a held-out ``holdout`` fraction;
        the network is fitted on the training part, and its errors on the held-out curves
        from 10%, 25% and 50% of their length set the scale of its standard deviations. The
        training pairs are kept and mixed into every later :meth:`fit`.

        Args:
            curves: Curves of other studies (same search space as the study's).
            configs: Their configurations (needed: this predictor reads them).
            budgets: Their target budgets (as in :meth:`fit`).
            distributions: Their search space; later fits must use the same parameters.
            holdout: Fraction of the curves held out for calibration, in ``[0, 0.9]``.
            max_pairs: Largest number of prior training pairs (default: ``max_pairs``).

        Returns:
            ``self``.
        """
        if configs is None:
            raise InputError("NeuralCurvePredictor.pretrain needs the configurations")
        if not isinstance(distributions, Mapping) or not distributions:
            raise InputTypeError(
                f"distributions must be a non-empty dict of name -> distribution, got "
                f"{distributions!r}"
            )
        if isinstance(holdout, bool) or not isinstance(holdout, float | int):
            raise InputTypeError(f"holdout must be a number in [0, 0.9], got {holdout!r}")
        if not 0.0 <= holdout <= 0.9:
            raise InputError(f"holdout must be in [0, 0.9], got {holdout!r}")
        limit = self.max_pairs if max_pairs is None else max_pairs
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 2:
            raise InputError(f"max_pairs must be an int >= 2, got {limit!r}")
        data = check_curve_data(curves, configs, budgets)
        if len(data.curves) < 2:
            raise InputError(f"pretrain needs at least 2 curves, got {len(data.curves)}")
        self._pretrain(data, dict(distributions), float(holdout), limit)
        return self

    def _pretrain(
        self,
        data: CurveData,
        distributions: dict[str, BaseDistribution],
        holdout: float,
        limit: int,
    ) -> None:
        from hyperlab.space.encoding import SpaceEncoder

        assert data.configs is not None
        rng = np.random.default_rng(self.seed)
        order = rng.permutation(len(data.curves))
        n_held = round(holdout * len(order))
        held, train = sorted(order[:n_held]), sorted(order[n_held:])
        values = np.concatenate([data.curves[i] for i in train if len(data.curves[i])])
        self._set_level(values)
        self._encoder = SpaceEncoder(distributions)
        self._prior_names = sorted(distributions)
        self._prior = None
        self._budget = int(data.budgets.max())
        part = CurveData(
            curves=[data.curves[i] for i in train],
            configs=[data.configs[i] for i in train],
            budgets=data.budgets[train],
        )
        self._prior = self._pairs(part, limit, rng)
        self.n_prior_pairs_ = len(self._prior[1])
        self.max_budget_ = self._budget
        self._train(*self._prior)
        # the study's own out-of-sample errors replace these once there are enough
        self._oos = []
        self._prior_oos = self._held_out_errors(
            [data.curves[i] for i in held], [data.configs[i] for i in held]
        )
        self._update_scale()

    # ------------------------------------------------------------------------------- fit

    def _fit(self, data: CurveData, distributions: dict[str, BaseDistribution] | None) -> None:
        from hyperlab.space.encoding import SpaceEncoder

        if (
            isinstance(self.n_points, bool)
            or not isinstance(self.n_points, int)
            or self.n_points < 2
        ):
            raise InputError(f"n_points must be an int >= 2, got {self.n_points!r}")
        if not isinstance(self.max_pairs, int) or self.max_pairs < 1:
            raise InputError(f"max_pairs must be a positive int, got {self.max_pairs!r}")
        if data.configs is not None and distributions is None:
            raise InputError("NeuralCurvePredictor.fit needs the distributions of the configs")
        if self._prior is not None:
            names = sorted(distributions or {})
            if data.configs is None or names != self._prior_names:
                raise InputError(
                    f"the study's parameters {names} differ from the pretraining curves' "
                    f"{self._prior_names}; pretrain on studies with the same search space"
                )
        budget = int(data.budgets.max())
        if self._model is not None:
            self._collect_out_of_sample(data)
        if self._prior is None:
            self._budget = budget
            self._encoder = (
                None
                if data.configs is None or not distributions
                else SpaceEncoder(dict(distributions))
            )
            values = np.concatenate([c for c in data.curves if len(c)])
            self._set_level(values)
        else:
            self._budget = max(self._budget, budget)
        rng = np.random.default_rng(self.seed)
        X, y = self._pairs(data, self.max_pairs, rng, allow_empty=self._prior is not None)
        if self._prior is not None:
            X = np.concatenate([self._prior[0], X]) if len(y) else self._prior[0]
            y = np.concatenate([self._prior[1], y]) if len(y) else self._prior[1]
        self._train(X, y)
        self._seen.update(_key(c) for c in data.curves)
        self._update_scale()

    def _set_level(self, values: np.ndarray) -> None:
        """Center and scale of the level features, from training values."""
        self._center = float(np.median(values))
        q25, q75 = np.quantile(values, [0.25, 0.75])
        self._scale = float(max(q75 - q25, 1e-3 * max(1.0, abs(self._center)), 1e-8))

    def _pairs(
        self, data: CurveData, limit: int, rng: np.random.Generator, allow_empty: bool = False
    ) -> tuple[np.ndarray, np.ndarray]:
        """Training inputs ``(p, d)`` and targets ``(p,)`` of (prefix, later value) pairs."""
        pairs: list[tuple[int, int, int]] = []  # (curve index, prefix length, target epoch)
        for i, curve in enumerate(data.curves):
            length = len(curve)
            for s in _prefix_lengths(self.min_prefix, length - 1):
                pairs.append((i, s, length))
        if len(pairs) < 2 and not allow_empty:
            raise InputError(
                f"NeuralCurvePredictor needs curves longer than {self.min_prefix} epochs to fit "
                f"(got {len(data.curves)} curves)"
            )
        if len(pairs) > limit:
            keep = rng.choice(len(pairs), size=limit, replace=False)
            pairs = [pairs[k] for k in sorted(keep)]
        if not pairs:
            return np.zeros((0, 0)), np.zeros(0)
        prefixes = [data.curves[i][:s] for i, s, _ in pairs]
        targets = [t for _, _, t in pairs]
        if data.configs is not None and self._encoder is not None:
            config_x = self._encode([data.configs[i] for i, _, _ in pairs])
        else:
            config_x = np.zeros((len(pairs), 0))
        X = self._features(prefixes, targets, self._budget, config_x)
        y = np.array(
            [
                (data.curves[i][t - 1] - data.curves[i][s - 1]) / _curve_scale(data.curves[i][:s])
                for i, s, t in pairs
            ]
        )
        return X, y

    def _train(self, X: np.ndarray, y: np.ndarray) -> None:
        from hyperlab.surrogates import make_surrogate

        options = dict(self.surrogate_options)
        options.setdefault("seed", self.seed)
        if self.surrogate == "ensemble":
            for key, value in _ENSEMBLE_DEFAULTS.items():
                options.setdefault(key, value)
        if self._model is None or self._model_dim != X.shape[1]:
            self._model = make_surrogate(self.surrogate, **options)
            self._model_dim = X.shape[1]
        self._model.fit(X, y)
        self.n_pairs_ = len(y)

    def _collect_out_of_sample(self, data: CurveData) -> None:
        """Keep the errors of the current network on the curves it was not trained on."""
        new = [i for i, c in enumerate(data.curves) if _key(c) not in self._seen]
        self._oos.extend(
            self._held_out_errors(
                [data.curves[i] for i in new],
                None if data.configs is None else [data.configs[i] for i in new],
            )
        )

    def _held_out_errors(
        self, curves: list[np.ndarray], configs: list[dict[str, Any]] | None
    ) -> list[_HeldOutError]:
        """Errors of the current network's predictions from :data:`CALIBRATION_FRACTIONS` of
        each curve's length (curves it has not been trained on)."""
        made: list[_HeldOutError] = []
        truth: list[float] = []
        for i, curve in enumerate(curves):
            if len(curve) <= self.min_prefix:
                continue
            for fraction in CALIBRATION_FRACTIONS:
                s = max(self.min_prefix, round(fraction * len(curve)))
                if s < len(curve):
                    config = None if configs is None else configs[i]
                    made.append(_HeldOutError(s / len(curve), curve[:s], config, len(curve), 0.0))
                    truth.append(float(curve[-1]))
        if not made:
            return []
        mean, _ = self._predict_held_out(made)
        return [e._replace(error=abs(t - float(m))) for e, t, m in zip(made, truth, mean)]

    def _predict_held_out(self, errors: list[_HeldOutError]) -> tuple[np.ndarray, np.ndarray]:
        """The current network's raw mean and std, each ``(len(errors),)``, for the prefixes of
        ``errors`` (grouped by target epoch)."""
        mean, std = np.zeros(len(errors)), np.zeros(len(errors))
        for target in sorted({e.target for e in errors}):
            idx = [k for k, e in enumerate(errors) if e.target == target]
            configs = [c for c in (errors[k].config for k in idx) if c is not None]
            mean[idx], std[idx] = self._predict_raw(
                [errors[k].prefix for k in idx],
                configs if len(configs) == len(idx) else None,
                target,
            )
        return mean, std

    def _update_scale(self) -> None:
        """Scales that make 90% of the out-of-sample errors fall in the 90% interval of the
        current network: one pooled (``std_scale_``) and one per calibration fraction
        (``std_scales_``; the pooled one where a fraction has fewer than ``min_calibration``
        errors). Each error is divided by the std the current network gives for its prefix.
        The study's own errors are used once there are ``min_calibration`` of them, else the
        pretraining ones."""
        errors = self._oos if len(self._oos) >= self.min_calibration else self._prior_oos
        if len(errors) < self.min_calibration:
            return
        _, std = self._predict_held_out(errors)
        z = np.array([e.error for e in errors]) / std
        bucket = _bucket(np.array([e.fraction for e in errors]))
        self.std_scale_ = _scale_from(z)
        self.std_scales_ = np.array(
            [
                _scale_from(z[bucket == b])
                if np.sum(bucket == b) >= self.min_calibration
                else self.std_scale_
                for b in range(len(CALIBRATION_FRACTIONS))
            ]
        )

    def _predict(
        self, curves: list[np.ndarray], configs: list[dict[str, Any]] | None, budget: int
    ) -> tuple[np.ndarray, np.ndarray]:
        mean, std = self._predict_raw(curves, configs, budget)
        fractions = np.array([len(c) / budget for c in curves])
        return mean, std * self.std_scales_[_bucket(fractions)]

    def _predict_raw(
        self, curves: list[np.ndarray], configs: list[dict[str, Any]] | None, budget: int
    ) -> tuple[np.ndarray, np.ndarray]:
        """Mean and uncalibrated std, each ``(m,)``."""
        if configs is None or self._encoder is None:
            config_x = np.zeros((len(curves), 0 if self._encoder is None else self._encoder.dim))
        else:
            config_x = self._encode(configs)
        X = self._features(curves, [budget] * len(curves), self._budget, config_x)
        delta, std = self._model.predict(X)
        last = np.array([c[-1] for c in curves])
        scale = np.array([_curve_scale(c) for c in curves])
        return last + scale * delta, np.maximum(scale * std, 1e-12)


def _curve_scale(prefix: np.ndarray) -> float:
    """The prefix's recent scale: the range of its second half, at least 2% of its last value."""
    recent = prefix[(len(prefix) - 1) // 2 :]
    return max(float(np.ptp(recent)), 0.02 * abs(float(prefix[-1])), 1e-8)


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


def _prefix_lengths(low: int, high: int) -> list[int]:
    """Prefix lengths from ``low`` to ``high``: every one up to 8, then about 15% apart."""
    out: list[int] = []
    s = max(1, low)
    while s <= high:
        out.append(s)
        s = s + 1 if s < 8 else max(s + 1, round(s * 1.15))
    return out
