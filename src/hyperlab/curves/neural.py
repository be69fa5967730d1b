"""A neural learning-curve predictor: configuration + description of the prefix -> final value.

The network reads a fixed-length description of a prefix of any length and the encoded
configuration (:mod:`hyperlab.curves.prefix`) and predicts how far the curve will still move,
with its uncertainty. It is one of the shared surrogates of :mod:`hyperlab.surrogates` (a deep
ensemble by default, after Lakshminarayanan et al. 2017; or a Bayesian last layer, after Snoek
et al. 2015), trained on (prefix, later value) pairs cut from the study's complete *and* partial
curves: a partial curve of length ``L`` teaches the move from each of its prefixes to epoch
``L``, so the target epoch is an input (as in the LC-PFN of Adriaensen et al. 2023, which also
conditions on the epoch to predict). Its standard deviations are calibrated on curves it has
not seen (:mod:`hyperlab.curves.calibration`).

Pretraining. :meth:`NeuralCurvePredictor.pretrain` fits the network on curves from other
studies with the same search space (for example other LCBench tasks; never the task being
pruned), so it predicts from the first trial on. Later :meth:`fit` calls mix these prior pairs
with the study's own.

Refits start from a fresh network (``warm_start=False`` for the ensemble): a warm-started
network, refitted for a few steps on more curves, drifts from the data instead of following it
(``docs/decisions/curve-pruner.md``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from optuna.distributions import BaseDistribution

from hyperlab.curves.base import CurveData, CurveLike, CurvePredictor, check_curve_data
from hyperlab.curves.calibration import StdCalibration, held_out_errors
from hyperlab.curves.prefix import PrefixDescriber, curve_scale, target_move, training_pairs
from hyperlab.errors import InputError, InputTypeError, SettingError

#: Defaults of the deep ensemble, smaller than the sampler's: it is refitted during a study.
_ENSEMBLE_DEFAULTS = {
    "n_members": 5,
    "width": 32,
    "steps": 200,
    "warm_start": False,
    "predict_variance": True,
}


class NeuralCurvePredictor(CurvePredictor):
    """Predict final values from partial curves with a shared neural surrogate.

    Args:
        surrogate: ``"ensemble"`` (:class:`~hyperlab.surrogates.DeepEnsemble`) or ``"bll"``
            (:class:`~hyperlab.surrogates.BayesianLastLayer`).
        n_points: Length of the log-epoch resampling of the prefix.
        max_pairs: Largest number of training pairs, the study's and the pretraining curves'
            each (a seeded subsample beyond it).
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
        self._describer = PrefixDescriber(n_points)
        self._calibration = StdCalibration(initial_std_scale)
        self._encoder: Any = None
        self._model: Any = None
        self._model_dim = -1
        self._prior: tuple[np.ndarray, np.ndarray] | None = None  # cached (X, y) prior pairs
        self._prior_names: list[str] | None = None
        self.n_prior_pairs_ = 0

    @property
    def std_scale_(self) -> float:
        """The std scale pooled over all prefix fractions."""
        return self._calibration.scale_

    @property
    def std_scales_(self) -> np.ndarray:
        """The std scale of each calibration fraction, shape ``(4,)``."""
        return self._calibration.scales_

    # -------------------------------------------------------------------------- pretrain

    def pretrain(
        self,
        curves: Sequence[CurveLike],
        configs: Sequence[Mapping[str, Any]],
        budgets: int | Sequence[int] | None = None,
        *,
        distributions: Mapping[str, BaseDistribution],
        holdout: float = 0.2,
    ) -> NeuralCurvePredictor:
        """Fit on curves of other studies before the study starts; calibrate on held-out ones.

        The curves are split (seeded) into a training part and a held-out ``holdout`` fraction;
        the network is fitted on the training part (at most ``max_pairs`` pairs), and its errors
        on the held-out curves set the scale of its standard deviations. The training pairs are
        kept and mixed into every later :meth:`fit`.

        Args:
            curves: Curves of other studies (same search space as the study's).
            configs: Their configurations (needed: this predictor reads them).
            budgets: Their target budgets (as in :meth:`fit`).
            distributions: Their search space; later fits must use the same parameters.
            holdout: Fraction of the curves held out for calibration, in ``[0, 0.9]``.

        Returns:
            ``self``.
        """
        _check_pretraining(configs, distributions, holdout)
        self._use_settings(min_pairs=2)
        data = check_curve_data(curves, configs, budgets)
        if len(data.curves) < 2:
            raise InputError(f"pretrain needs at least 2 curves, got {len(data.curves)}")
        self._pretrain(data, dict(distributions), float(holdout))
        return self

    def _pretrain(
        self, data: CurveData, distributions: dict[str, BaseDistribution], holdout: float
    ) -> None:
        from hyperlab.space.encoding import SpaceEncoder

        assert data.configs is not None
        rng = np.random.default_rng(self.seed)
        order = rng.permutation(len(data.curves))
        n_held = round(holdout * len(order))
        held, train = sorted(order[:n_held]), sorted(order[n_held:])
        self._describer.set_level(
            np.concatenate([data.curves[i] for i in train if len(data.curves[i])])
        )
        self._encoder = SpaceEncoder(distributions)
        self._prior_names = sorted(distributions)
        self._prior = None
        self._budget = int(data.budgets.max())
        part = CurveData(
            curves=[data.curves[i] for i in train],
            configs=[data.configs[i] for i in train],
            budgets=data.budgets[train],
        )
        self._prior = self._pairs(part, rng)
        self.n_prior_pairs_ = len(self._prior[1])
        self.max_budget_ = self._budget
        self._train(*self._prior)
        # the study's own out-of-sample errors replace these once there are enough
        self._calibration.set_prior(
            held_out_errors(
                self._predict_raw,
                [data.curves[i] for i in held],
                [data.configs[i] for i in held],
                self.min_prefix,
            )
        )
        self._calibration.update(self._predict_raw, self.min_calibration)

    # ------------------------------------------------------------------------------- fit

    def _use_settings(self, min_pairs: int) -> None:
        """Check ``n_points`` and ``max_pairs`` (at least ``min_pairs``) and hand ``n_points``
        to the prefix description (settings are read when a fit starts)."""
        n_points, max_pairs = self.n_points, self.max_pairs
        if isinstance(n_points, bool) or not isinstance(n_points, int) or n_points < 2:
            raise InputError(f"n_points must be an int >= 2, got {n_points!r}")
        if isinstance(max_pairs, bool) or not isinstance(max_pairs, int) or max_pairs < min_pairs:
            raise InputError(f"max_pairs must be an int >= {min_pairs}, got {max_pairs!r}")
        self._describer.n_points = n_points

    def check_space(self, distributions: dict[str, BaseDistribution]) -> None:
        names = sorted(distributions)
        if self._prior_names is not None and names != self._prior_names:
            raise SettingError(
                f"the task's parameters {names} differ from the pretraining curves' "
                f"{self._prior_names}; pretrain on studies with the same search space"
            )

    def _fit(self, data: CurveData, distributions: dict[str, BaseDistribution] | None) -> None:
        self._use_settings(min_pairs=1)
        if data.configs is not None and distributions is None:
            raise InputError("NeuralCurvePredictor.fit needs the distributions of the configs")
        if self._prior is not None:
            names = sorted(distributions or {})
            if data.configs is None or names != self._prior_names:
                raise SettingError(
                    f"the study's parameters {names} differ from the pretraining curves' "
                    f"{self._prior_names}; pretrain on studies with the same search space"
                )
        if self._model is not None:
            self._calibration.collect_new(
                self._predict_raw, data.curves, data.configs, self.min_prefix
            )
        self._start(data, distributions)
        X, y = self._pairs(
            data, np.random.default_rng(self.seed), allow_empty=self._prior is not None
        )
        if self._prior is not None:
            X = np.concatenate([self._prior[0], X]) if len(y) else self._prior[0]
            y = np.concatenate([self._prior[1], y]) if len(y) else self._prior[1]
        self._train(X, y)
        self._calibration.mark_seen(data.curves)
        self._calibration.update(self._predict_raw, self.min_calibration)

    def _start(self, data: CurveData, distributions: dict[str, BaseDistribution] | None) -> None:
        """Set the budget, the encoder and the level of the features for a fit on ``data``
        (a pretrained predictor keeps its encoder and level)."""
        from hyperlab.space.encoding import SpaceEncoder

        budget = int(data.budgets.max())
        if self._prior is not None:
            self._budget = max(self._budget, budget)
            return
        self._budget = budget
        self._encoder = (
            None if data.configs is None or not distributions else SpaceEncoder(dict(distributions))
        )
        self._describer.set_level(np.concatenate([c for c in data.curves if len(c)]))

    def _pairs(
        self, data: CurveData, rng: np.random.Generator, allow_empty: bool = False
    ) -> tuple[np.ndarray, np.ndarray]:
        """Training inputs ``(p, d)`` and targets ``(p,)`` of (prefix, later value) pairs, at
        most ``max_pairs`` of them."""
        pairs = training_pairs(data.curves, self.min_prefix)
        if len(pairs) < 2 and not allow_empty:
            raise InputError(
                f"NeuralCurvePredictor needs curves longer than {self.min_prefix} epochs to fit "
                f"(got {len(data.curves)} curves)"
            )
        if len(pairs) > self.max_pairs:
            keep = rng.choice(len(pairs), size=self.max_pairs, replace=False)
            pairs = [pairs[k] for k in sorted(keep)]
        if not pairs:
            return np.zeros((0, 0)), np.zeros(0)
        configs = None if data.configs is None else [data.configs[i] for i, _, _ in pairs]
        X = self._describer.features(
            [data.curves[i][:s] for i, s, _ in pairs],
            [t for _, _, t in pairs],
            self._budget,
            self._encode(configs, len(pairs)),
        )
        y = np.array([target_move(data.curves[i], s, t) for i, s, t in pairs])
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

    def _encode(self, configs: list[dict[str, Any]] | None, m: int) -> np.ndarray:
        """The ``m`` configurations encoded, shape ``(m, d_config)``: zeros without them, none
        without an encoder (a predictor fitted without configurations)."""
        if self._encoder is None:
            return np.zeros((m, 0))
        if configs is None:
            return np.zeros((m, self._encoder.dim))
        return np.asarray(self._encoder.encode([dict(c) for c in configs]), dtype=np.float64)

    # --------------------------------------------------------------------------- predict

    def _predict(
        self, curves: list[np.ndarray], configs: list[dict[str, Any]] | None, budget: int
    ) -> tuple[np.ndarray, np.ndarray]:
        mean, std = self._predict_raw(curves, configs, budget)
        fractions = np.array([len(c) / budget for c in curves])
        return mean, std * self._calibration.scales(fractions)

    def _predict_raw(
        self, curves: list[np.ndarray], configs: list[dict[str, Any]] | None, budget: int
    ) -> tuple[np.ndarray, np.ndarray]:
        """Mean and uncalibrated std, each ``(m,)``."""
        config_x = self._encode(configs, len(curves))
        X = self._describer.features(curves, [budget] * len(curves), self._budget, config_x)
        delta, std = self._model.predict(X)
        last = np.array([c[-1] for c in curves])
        scale = np.array([curve_scale(c) for c in curves])
        return last + scale * delta, np.maximum(scale * std, 1e-12)


def _check_pretraining(configs: Any, distributions: Any, holdout: Any) -> None:
    """Refuse the arguments of :meth:`NeuralCurvePredictor.pretrain` that it cannot use."""
    if configs is None:
        raise InputError("NeuralCurvePredictor.pretrain needs the configurations")
    if not isinstance(distributions, Mapping) or not distributions:
        raise InputTypeError(
            f"distributions must be a non-empty dict of name -> distribution, got {distributions!r}"
        )
    if isinstance(holdout, bool) or not isinstance(holdout, float | int):
        raise InputTypeError(f"holdout must be a number in [0, 0.9], got {holdout!r}")
    if not 0.0 <= holdout <= 0.9:
        raise InputError(f"holdout must be in [0, 0.9], got {holdout!r}")
