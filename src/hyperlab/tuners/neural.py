"""The neural-surrogate sampler: a network predicts each configuration's score and how sure it is.

Bayesian optimization with a neural surrogate (Snoek et al. 2015, DNGO; Springenberg et al.
2016, BOHAMIANN; Lakshminarayanan et al. 2017 for ensembles): after a quasi-random initial
design, every suggestion fits the surrogate to the trials so far (the network is retrained as
the data grow, only its last layer refit in between) and proposes the candidate with the best
acquisition value among many random candidates and local perturbations of the best points.

The three classic objections to neural surrogates are answered by design:

- *They need lots of data*: a Sobol initial design, cheap last-layer refits, optional transfer
  from other studies in the same storage, optional multi-fidelity data from short or pruned trials.
- *They extrapolate badly*: every decision uses the predictive uncertainty (expected
  improvement by default), and a small fraction of proposals is purely random.
- *They have hyperparameters of their own*: the Bayesian last layer sets its own
  regularization by maximizing the evidence; width, depth and training steps are fixed to
  robust values whose influence ``benchmarks/surrogate_sensitivity.py`` measures.
"""

from __future__ import annotations

import math
import threading
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import optuna
from optuna.distributions import BaseDistribution
from optuna.samplers import BaseSampler, RandomSampler
from optuna.search_space import IntersectionSearchSpace
from optuna.study import Study
from optuna.trial import FrozenTrial, TrialState

from hyperlab.direction import sign as direction_sign
from hyperlab.direction import study_sign
from hyperlab.errors import InputError, InputTypeError
from hyperlab.registry import TUNERS
from hyperlab.space import SpaceEncoder
from hyperlab.surrogates import (
    ACQUISITIONS,
    SURROGATES,
    Acquisition,
    Surrogate,
    make_acquisition,
    make_surrogate,
)
from hyperlab.tuners.feedback import predicted_final

_LIARS = ("best", "mean", "none")
# Target transform of each surrogate when the sampler is given none (measured, see the docstring)
DEFAULT_TRANSFORMS = {"bll": "power", "ensemble": "standardize"}
_SOBOL_POINTS = 64  # size of the scrambled Sobol table (a power of two)


class NeuralSampler(BaseSampler):
    """Bayesian optimization with a neural-network surrogate.

    Args:
        surrogate: ``"bll"`` (Bayesian last layer, default) or ``"ensemble"`` (deep ensemble).
        acquisition: ``"ei"`` (expected improvement, default), ``"ucb"`` or ``"ts"``.
        surrogate_options: Keyword arguments of the surrogate (width, depth, steps, ...).
        acquisition_options: Keyword arguments of the acquisition (``xi``, ``kappa``).
        search_space: The distributions to model when known in advance (the initial design
            then starts at the first trial); by default the intersection of the search spaces
            of the finished trials.
        n_startup: Trials of the Sobol initial design; default ``2 * dim + 1`` clipped to
            ``[5, 20]`` (``dim`` = columns of the encoded space). With transfer data, at most 3.
        random_fraction: Probability that a suggestion is uniformly random (exploration).
        n_candidates: Random candidates per suggestion; half as many again are local
            perturbations of the best points, then the best few are refined locally.
        running: How trials still running are taken into account: ``"best"`` (constant liar:
            a fake observation at the best value so far, one fit; default), ``"mean"``
            (kriging believer: the model's own prediction, two fits) or ``"none"``. Either way
            a candidate identical to a running or finished trial is never proposed while
            another one is available.
        transfer_studies: Names of other studies in the same storage whose trials (same
            parameter names) join the training data, with one indicator input per study.
        multi_fidelity: Use pruned trials and trials with a smaller budget as training data,
            with the budget fraction as an extra input; predictions are made at full budget.
        max_budget: Full budget for ``multi_fidelity`` (default: the largest budget seen).
        pruner_predictions: A pruned trial on which a learning-curve pruner recorded its
            prediction of the final value (user attributes ``predicted_final_mean`` and
            ``predicted_final_std``, as ``curve`` and ``curve-halving`` do) joins the training data as
            a full-budget observation of that mean, with the std as its known noise, instead
            of being left out (or, with ``multi_fidelity``, entered at its last value and
            budget). Trials pruned without a prediction are treated as before. On by
            default: with ``curve`` it lowered the regret at equal epochs by 0.067 [0.044,
            0.093] on the 9 pruning tasks (seeds 0-9) and by 0.047 [0.014, 0.081] on seeds
            10-14, run after the choice rule was written (``benchmarks/pruner_feedback.py``).
        budget_fallback: While fewer full-budget observations than the initial design exist
            but enough trials (complete or pruned) have reported a value at some step, fit
            the surrogate on the values at the largest such step instead of drawing more
            Sobol points (the model-on-the-largest-budget-with-enough-data rule of BOHB,
            Falkner et al. 2018). Without it, a pruner that finishes few trials (``asha``,
            ``hyperband``) keeps this sampler in its initial design for the whole study.
            Ignored with ``multi_fidelity`` (which models every budget at once). The
            intermediate values must measure what the final value measures. Off by default:
            on six development LCBench tasks (seeds 100-104, 100 trials) it lowered the regret
            with ``hyperband`` by 0.083 [0.047, 0.122] but not with ``asha`` (+0.007 [-0.116,
            +0.154]; 100 ASHA trials finish only 3-6), and the rule set beforehand asked for
            both.
        target_transform: ``"power"`` (Yeo-Johnson with its maximum-likelihood exponent,
            then standardized; tames heavy tails), ``"standardize"`` or ``"rank"``; default
            ``None``: ``power`` for the Bayesian last layer, ``standardize`` for the ensemble.
            On the development seeds (100-104, 50 trials, median regret) ``power`` took the
            Bayesian last layer from 51 to 14 on rosenbrock-4d, 0.017 to 0.005 on branin,
            0.57 to 0.49 on hartmann6 (``rank``: 43, 0.26, 0.46), but the ensemble from 25 to
            40, 0.04 to 0.28 and 0.35 to 0.46.
        gradient_steps: Adam steps of gradient ascent on the acquisition from the best five
            candidates (numeric parameters only). Off by default: on the development seeds
            it made the sampler greedier and worse (hartmann6 median regret 0.57 -> 1.5,
            rosenbrock-4d 51 -> 74 with 50 steps).
        latent_acquisition: Score candidates with the uncertainty of the function alone
            (without the noise terms of the surrogate). Off by default: measured no better on
            the development seeds.
        warn_independent_sampling: Warn once when a parameter outside the relative search
            space is sampled independently (at random).
        seed: Seed of every random choice; the same seed gives the same suggestions when the
            trials run one after another.
    """

    def __init__(
        self,
        *,
        surrogate: str = "bll",
        acquisition: str = "ei",
        surrogate_options: dict[str, Any] | None = None,
        acquisition_options: dict[str, Any] | None = None,
        search_space: dict[str, BaseDistribution] | None = None,
        n_startup: int | None = None,
        random_fraction: float = 0.05,
        n_candidates: int = 1000,
        running: str = "best",
        transfer_studies: Sequence[str] | None = None,
        multi_fidelity: bool = False,
        max_budget: int | None = None,
        pruner_predictions: bool = True,
        budget_fallback: bool = False,
        target_transform: str | None = None,
        gradient_steps: int = 0,
        latent_acquisition: bool = False,
        warn_independent_sampling: bool = True,
        seed: int | None = None,
    ) -> None:
        self.surrogate = surrogate
        self.acquisition = acquisition
        self.surrogate_options = surrogate_options
        self.acquisition_options = acquisition_options
        self.search_space = search_space
        self.n_startup = n_startup
        self.random_fraction = random_fraction
        self.n_candidates = n_candidates
        self.running = running
        self.transfer_studies = transfer_studies
        self.multi_fidelity = multi_fidelity
        self.max_budget = max_budget
        self.pruner_predictions = pruner_predictions
        self.budget_fallback = budget_fallback
        self.target_transform = target_transform
        self.gradient_steps = gradient_steps
        self.latent_acquisition = latent_acquisition
        self.warn_independent_sampling = warn_independent_sampling
        self.seed = seed
        self._rng = np.random.default_rng(seed)
        self._random_sampler = RandomSampler(seed=seed)
        self._intersection = IntersectionSearchSpace(
            include_pruned=bool(multi_fidelity or pruner_predictions or budget_fallback)
        )
        self._lock = threading.Lock()
        self._checked = False
        self._warned = False
        self._space_known = False
        self._model: Surrogate | None = None
        self._encoder: SpaceEncoder | None = None
        self._rows: dict[tuple[str, int], tuple[np.ndarray, float, float, float] | None] = {}
        self._transfer: dict[str, list[tuple[np.ndarray, float, float, float]]] = {}
        self._proposed: dict[tuple[str, int], np.ndarray] = {}
        self._sobol: np.ndarray | None = None
        self._check_settings()  # a bad setting fails here, not in the first trial

    # ------------------------------------------------------------------ Optuna's contract
    def reseed_rng(self) -> None:
        self._rng = np.random.default_rng()
        self._random_sampler.reseed_rng()

    def infer_relative_search_space(
        self, study: Study, trial: FrozenTrial
    ) -> dict[str, BaseDistribution]:
        self._check_settings()
        if self.search_space is not None:
            return dict(self.search_space)
        return dict(self._intersection.calculate(study))

    def sample_relative(
        self, study: Study, trial: FrozenTrial, search_space: dict[str, BaseDistribution]
    ) -> dict[str, Any]:
        if not search_space:
            return {}
        if len(study.directions) > 1:
            raise InputError(
                f"NeuralSampler optimizes one objective; this study has {len(study.directions)}"
            )
        with self._lock:
            self._space_known = True
            return self._sample_relative(study, trial, search_space)

    def sample_independent(
        self,
        study: Study,
        trial: FrozenTrial,
        param_name: str,
        param_distribution: BaseDistribution,
    ) -> Any:
        if self._space_known and self.warn_independent_sampling and not self._warned:
            self._warned = True
            warnings.warn(
                f"NeuralSampler samples parameter {param_name!r} of trial {trial.number} "
                "independently at random: it is not in the relative search space (a "
                "conditional or dynamic parameter). Further such parameters are sampled the "
                "same way without another warning.",
                UserWarning,
                stacklevel=2,
            )
        return self._random_sampler.sample_independent(study, trial, param_name, param_distribution)

    def after_trial(
        self,
        study: Study,
        trial: FrozenTrial,
        state: TrialState,
        values: Sequence[float] | None,
    ) -> None:
        with self._lock:
            self._proposed.pop((study.study_name, trial.number), None)

    # ------------------------------------------------------------------------- pickling
    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        del state["_lock"]
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._lock = threading.Lock()

    # -------------------------------------------------------------------------- private
    def _check_settings(self) -> None:
        if self._checked:
            return
        if self.surrogate not in SURROGATES:
            raise InputError(
                f"surrogate must be one of {sorted(SURROGATES)}, got {self.surrogate!r}"
            )
        if self.acquisition not in ACQUISITIONS:
            raise InputError(
                f"acquisition must be one of {sorted(ACQUISITIONS)}, got {self.acquisition!r}"
            )
        for name in ("surrogate_options", "acquisition_options"):
            value = getattr(self, name)
            if value is not None and not isinstance(value, dict):
                raise InputTypeError(f"{name} must be a dict or None, got {value!r}")
        if self.surrogate_options:  # an option the surrogate does not take fails here, by name
            make_surrogate(self.surrogate, **self.surrogate_options)
        if self.n_startup is not None and (
            isinstance(self.n_startup, bool)
            or not isinstance(self.n_startup, int)
            or self.n_startup < 1
        ):
            raise InputError(f"n_startup must be a positive int or None, got {self.n_startup!r}")
        if not isinstance(self.random_fraction, int | float) or not 0 <= self.random_fraction <= 1:
            raise InputError(f"random_fraction must be in [0, 1], got {self.random_fraction!r}")
        if (
            isinstance(self.n_candidates, bool)
            or not isinstance(self.n_candidates, int)
            or (self.n_candidates < 1)
        ):
            raise InputError(f"n_candidates must be a positive int, got {self.n_candidates!r}")
        if (
            isinstance(self.gradient_steps, bool)
            or not isinstance(self.gradient_steps, int)
            or self.gradient_steps < 0
        ):
            raise InputError(
                f"gradient_steps must be a non-negative int, got {self.gradient_steps!r}"
            )
        if self.running not in _LIARS:
            raise InputError(f"running must be one of {_LIARS}, got {self.running!r}")
        if self.transfer_studies is not None and (
            isinstance(self.transfer_studies, str)
            or not all(isinstance(s, str) for s in self.transfer_studies)
        ):
            raise InputTypeError(
                f"transfer_studies must be a list of study names, got {self.transfer_studies!r}"
            )
        if self.max_budget is not None and (
            isinstance(self.max_budget, bool)
            or not isinstance(self.max_budget, int | float)
            or self.max_budget <= 0
        ):
            raise InputError(f"max_budget must be positive, got {self.max_budget!r}")
        for name in (
            "multi_fidelity",
            "pruner_predictions",
            "budget_fallback",
            "latent_acquisition",
        ):
            if not isinstance(getattr(self, name), bool):
                raise InputTypeError(f"{name} must be True or False, got {getattr(self, name)!r}")
        if self.search_space is not None and not isinstance(self.search_space, dict):
            raise InputTypeError(f"search_space must be a dict or None, got {self.search_space!r}")
        self._checked = True

    def _encoder_for(self, search_space: dict[str, BaseDistribution]) -> SpaceEncoder:
        if self._encoder is None or self._encoder.distributions != search_space:
            self._encoder = SpaceEncoder(search_space)
            self._rows.clear()
            self._transfer.clear()
            self._sobol = None
        return self._encoder

    @property
    def startup_trials(self) -> int | None:
        """Trials of the initial design before the surrogate is used (``None`` while the search
        space is unknown and ``n_startup`` not given; at most this many with transfer data)."""
        if self.n_startup is not None:
            return int(self.n_startup)
        if self.search_space:
            return self._startup_trials(SpaceEncoder(dict(self.search_space)), False)
        return None

    def _startup_trials(self, enc: SpaceEncoder, has_transfer: bool) -> int:
        if self.n_startup is not None:
            n = int(self.n_startup)
        else:
            n = min(max(2 * enc.dim + 1, 5), 20)
        return min(n, 3) if has_transfer else n

    def _sobol_point(self, enc: SpaceEncoder, index: int) -> np.ndarray:
        if self._sobol is None:
            from scipy.stats import qmc

            seed = (
                np.random.default_rng(self.seed).integers(0, 2**31)
                if self.seed is not None
                else None
            )
            self._sobol = qmc.Sobol(d=enc.dim, scramble=True, seed=seed).random(_SOBOL_POINTS)
        return enc.snap(self._sobol[index % _SOBOL_POINTS][None, :])[0]

    def _sample_relative(
        self, study: Study, trial: FrozenTrial, search_space: dict[str, BaseDistribution]
    ) -> dict[str, Any]:
        enc = self._encoder_for(search_space)
        sign = study_sign(study)  # sign * value is minimized
        states = (TrialState.COMPLETE, TrialState.PRUNED, TrialState.RUNNING)
        trials = study.get_trials(deepcopy=False, states=states)
        obs, running = [], []
        for t in trials:
            if t.number == trial.number:
                continue
            if t.state == TrialState.RUNNING:
                x = self._running_row(study, enc, t)
                if x is not None:
                    running.append(x)
                continue
            key = (study.study_name, t.number)
            if key not in self._rows:
                self._rows[key] = self._row(enc, t, sign)
            row = self._rows[key]
            if row is not None:
                obs.append(row)
        transfer = self._transfer_rows(study, enc, sign)
        x_new = self._choose(study, trial, enc, obs, running, transfer)
        self._proposed[(study.study_name, trial.number)] = x_new
        return enc.decode(x_new[None, :])[0]

    def _choose(
        self,
        study: Study,
        trial: FrozenTrial,
        enc: SpaceEncoder,
        obs: list[tuple[np.ndarray, float, float, float]],
        running: list[np.ndarray],
        transfer: list[list[tuple[np.ndarray, float, float, float]]],
    ) -> np.ndarray:
        use_budget = bool(self.multi_fidelity)
        n_ind = len(transfer)
        rows: list[tuple[np.ndarray, float, float, float, int]] = [(*r, -1) for r in obs]
        for k, study_rows in enumerate(transfer):
            rows.extend((*r, k) for r in study_rows)
        finite = [r[3] for r in rows if math.isfinite(r[3])]
        max_b = float(self.max_budget) if self.max_budget is not None else max(finite, default=1.0)
        # Budget fractions; a row is at full budget when it reached the largest budget.
        rows = [(x, y, nz, min(b / max_b, 1.0), k) for x, y, nz, b, k in rows]
        full = [r for r in rows if r[3] >= 1.0 and r[4] == -1]
        n_transfer = sum(len(t) for t in transfer)
        n_start = self._startup_trials(enc, n_transfer > 0)
        if len(full) < n_start:
            low = self._largest_budget_rows(study, enc, n_start) if not use_budget else None
            if low is None:
                return self._sobol_point(enc, trial.number)
            full = [(x, y, 0.0, 1.0, -1) for x, y in low]
            rows = full + [r for r in rows if r[4] != -1]
        if self._rng.random() < float(self.random_fraction):
            return enc.random(1, self._rng)[0]
        if not use_budget:
            rows = [r for r in rows if r[3] >= 1.0]
        X = self._inputs(
            np.stack([r[0] for r in rows]),
            np.array([r[3] for r in rows]),
            np.array([r[4] for r in rows]),
            use_budget,
            n_ind,
        )
        y = np.array([r[1] for r in rows])
        noise = np.array([r[2] for r in rows])
        best = min(r[1] for r in full) if full else float(y.min())

        model = self._get_model()
        try:
            if running and self.running != "none":
                n_run = len(running)
                Xr = self._inputs(
                    np.stack(running), np.ones(n_run), np.full(n_run, -1), use_budget, n_ind
                )
                if self.running == "mean":
                    model.fit(X, y, noise)
                    lies = model.predict(Xr)[0]
                else:
                    lies = np.full(len(running), best)
                X, y = np.vstack([X, Xr]), np.concatenate([y, lies])
                noise = np.concatenate([noise, np.zeros(len(running))])
            model.fit(X, y, noise)
            anchors = [r[0] for r in sorted(full or rows, key=lambda r: r[1])[:5]]
            taken = [r[0] for r in obs] + [r[0] for r in full] + list(running)
            return self._maximize(enc, model, anchors, taken, best, use_budget, n_ind)
        except InputError:  # bad surrogate or acquisition options: the user must know
            raise
        except (np.linalg.LinAlgError, FloatingPointError, ValueError) as exc:
            warnings.warn(
                f"NeuralSampler could not fit its surrogate ({exc}); this suggestion is random",
                UserWarning,
                stacklevel=2,
            )
            return enc.random(1, self._rng)[0]

    def _maximize(
        self,
        enc: SpaceEncoder,
        model: Surrogate,
        anchor_points: list[np.ndarray],
        taken_points: list[np.ndarray],
        best: float,
        use_budget: bool,
        n_ind: int,
    ) -> np.ndarray:
        acq = make_acquisition(self.acquisition, **(self.acquisition_options or {}))
        rng = self._rng
        n_rand = int(self.n_candidates)
        anchors = np.stack(anchor_points)
        n_local = max(n_rand // 2, len(anchors))
        local = self._perturb(enc, anchors[rng.integers(0, len(anchors), n_local)], rng, 0.1)
        cands = np.vstack([enc.random(n_rand, rng), local])
        taken = np.stack(taken_points) if taken_points else np.zeros((0, enc.dim))

        def score(C: np.ndarray) -> np.ndarray:
            inputs = np.hstack([C, self._extra_columns(len(C), use_budget, n_ind)])
            s = np.asarray(
                acq.evaluate(model, inputs, best, rng, latent=self.latent_acquisition),
                dtype=float,
            )
            s = np.where(np.isfinite(s), s, -np.inf)
            dup = _is_duplicate(C, taken)
            if not dup.all():
                s = np.where(dup, -np.inf, s)
            return s

        s = score(cands)
        top = cands[np.argsort(-s, kind="stable")[:5]]
        refined = self._perturb(enc, np.repeat(top, 40, axis=0), rng, 0.02)
        ascended = self._ascend(enc, model, acq, top, best, use_budget, n_ind)
        final = np.vstack([top, refined, ascended])
        return final[int(np.argmax(score(final)))]

    def _ascend(
        self,
        enc: SpaceEncoder,
        model: Surrogate,
        acq: Acquisition,
        X0: np.ndarray,
        best: float,
        use_budget: bool,
        n_ind: int,
    ) -> np.ndarray:
        """Gradient ascent of the acquisition (in model units) on the numeric columns of ``X0``.

        Projected Adam steps inside ``[0, 1]``; integer and stepped columns are rounded
        afterwards by ``snap``, categorical columns stay fixed. Returns ``(0, dim)`` when the
        surrogate or the acquisition has no differentiable form.
        """
        cols = enc.numeric_columns
        steps = int(self.gradient_steps)
        if not cols or not steps or not model.differentiable:
            return np.zeros((0, enc.dim))
        import torch

        best_z = float(model.to_model_units(np.array([best]))[0])
        extra = torch.as_tensor(self._extra_columns(len(X0), use_budget, n_ind))
        mask = torch.zeros(enc.dim, dtype=torch.float64)
        mask[cols] = 1.0
        x = torch.as_tensor(X0, dtype=torch.float64).clone().requires_grad_(True)
        m, v = torch.zeros_like(x), torch.zeros_like(x)
        lr, b1, b2 = 0.01, 0.9, 0.999
        for t in range(1, steps + 1):
            mean, std = model.predict_torch(
                torch.cat([x, extra], dim=1), latent=self.latent_acquisition
            )
            gain = acq.score_torch(mean, std, best_z)
            if gain is None:
                return np.zeros((0, enc.dim))
            (grad,) = torch.autograd.grad(gain.sum(), x)
            with torch.no_grad():
                grad = torch.nan_to_num(grad) * mask
                m.mul_(b1).add_(grad, alpha=1 - b1)
                v.mul_(b2).addcmul_(grad, grad, value=1 - b2)
                step = (m / (1 - b1**t)) / ((v / (1 - b2**t)).sqrt() + 1e-12)
                x.add_(lr * step).clamp_(0.0, 1.0)
        return enc.snap(x.detach().numpy())

    @staticmethod
    def _perturb(
        enc: SpaceEncoder, X: np.ndarray, rng: np.random.Generator, scale: float
    ) -> np.ndarray:
        """Gaussian steps on numeric columns; each categorical switches with probability 0.2."""
        out = X.copy()
        cols = enc.numeric_columns
        if cols:
            scales = scale * np.exp(rng.uniform(np.log(0.1), 0.0, size=(len(X), 1)))
            out[:, cols] += scales * rng.standard_normal((len(X), len(cols)))
        for start, width in enc.categorical_blocks:
            switch = rng.random(len(X)) < 0.2
            new = rng.integers(0, width, size=len(X))
            block = out[:, start : start + width]
            block[switch] = 0.0
            block[switch, new[switch]] = 1.0
        return enc.snap(np.clip(out, 0.0, 1.0))

    def _get_model(self) -> Surrogate:
        if self._model is None:
            options = dict(self.surrogate_options or {})
            options.setdefault("seed", int(self._rng.integers(0, 2**31)))
            transform = self.target_transform or DEFAULT_TRANSFORMS.get(
                self.surrogate, "standardize"
            )
            options.setdefault("target_transform", transform)
            self._model = make_surrogate(self.surrogate, **options)
        return self._model

    @staticmethod
    def _extra_columns(n: int, use_budget: bool, n_ind: int) -> np.ndarray:
        return np.hstack([np.ones((n, int(use_budget))), np.zeros((n, n_ind))])

    @staticmethod
    def _inputs(
        x: np.ndarray, frac: np.ndarray, study_index: np.ndarray, use_budget: bool, n_ind: int
    ) -> np.ndarray:
        """Model inputs ``(n, d + use_budget + n_ind)`` from encoded params ``(n, d)``."""
        cols = [x]
        if use_budget:
            cols.append(np.minimum(frac, 1.0)[:, None])
        if n_ind:
            cols.append((study_index[:, None] == np.arange(n_ind)[None, :]).astype(float))
        return np.hstack(cols)

    def _row(
        self, enc: SpaceEncoder, t: FrozenTrial, sign: float
    ) -> tuple[np.ndarray, float, float, float] | None:
        """``(x, y, noise, budget)`` of a finished trial, or None when unusable.

        ``budget`` is ``inf`` for a completed trial whose budget is unknown (a full run).
        """
        x = _encode_trial(enc, t)
        if x is None:
            return None
        predicted = (
            predicted_final(t) if self.pruner_predictions and t.state == TrialState.PRUNED else None
        )
        if t.state == TrialState.COMPLETE and t.value is not None and math.isfinite(t.value):
            value = float(t.value)
            budget = self._budget(t) if self.multi_fidelity else math.inf
        elif predicted is not None:
            value, std = predicted
            budget = float(self.max_budget) if self.max_budget is not None else math.inf
            return x, sign * value, std, budget
        elif t.state == TrialState.PRUNED and self.multi_fidelity and t.intermediate_values:
            value = float(t.intermediate_values[max(t.intermediate_values)])
            if not math.isfinite(value):
                return None
            budget = self._budget(t)
            budget = float(max(t.intermediate_values)) if math.isinf(budget) else budget
        else:
            return None
        std_err = t.user_attrs.get("std_err", 0.0)
        try:
            noise = float(std_err)
        except (TypeError, ValueError):
            noise = 0.0
        noise = noise if math.isfinite(noise) and noise > 0 else 0.0
        return x, sign * value, noise, budget

    def _largest_budget_rows(
        self, study: Study, enc: SpaceEncoder, needed: int
    ) -> list[tuple[np.ndarray, float]] | None:
        """``(x, y)`` of every trial at the largest step that ``needed`` trials reached.

        None when ``budget_fallback`` is off or no step has enough finite values.
        """
        if not self.budget_fallback:
            return None
        sign = study_sign(study)  # sign * value is minimized
        states = (TrialState.COMPLETE, TrialState.PRUNED)
        by_step: dict[int, list[tuple[np.ndarray, float]]] = {}
        for t in study.get_trials(deepcopy=False, states=states):
            if not t.intermediate_values:
                continue
            x = _encode_trial(enc, t)
            if x is None:
                continue
            for step, value in t.intermediate_values.items():
                if math.isfinite(value):
                    by_step.setdefault(step, []).append((x, sign * float(value)))
        for step in sorted(by_step, reverse=True):
            if len(by_step[step]) >= needed:
                return by_step[step]
        return None

    @staticmethod
    def _budget(t: FrozenTrial) -> float:
        """The trial's budget: its ``budget`` attribute, else its last reported step."""
        budget = t.user_attrs.get("budget")
        if isinstance(budget, int | float) and not isinstance(budget, bool) and budget > 0:
            return float(budget)
        if t.intermediate_values:
            return float(max(max(t.intermediate_values), 1))
        return math.inf

    def _running_row(self, study: Study, enc: SpaceEncoder, t: FrozenTrial) -> np.ndarray | None:
        x = _encode_trial(enc, t)
        if x is None:
            return self._proposed.get((study.study_name, t.number))
        return x

    def _transfer_rows(
        self, study: Study, enc: SpaceEncoder, sign: float
    ) -> list[list[tuple[np.ndarray, float, float, float]]]:
        """Rows of each transfer study, read once from the storage when first needed."""
        out = []
        for name in self.transfer_studies or ():
            if name == study.study_name:
                continue
            if name not in self._transfer:
                storage = study._storage
                try:
                    study_id = storage.get_study_id_from_name(name)
                except KeyError as exc:
                    raise InputError(f"transfer study {name!r} is not in this storage") from exc
                directions = storage.get_study_directions(study_id)
                t_sign = direction_sign(directions[0])
                states = (TrialState.COMPLETE, TrialState.PRUNED)
                rows = [
                    self._row(enc, t, t_sign)
                    for t in storage.get_all_trials(study_id, deepcopy=False, states=states)
                ]
                self._transfer[name] = [r for r in rows if r is not None]
            out.append(self._transfer[name])
        return out


def _encode_trial(enc: SpaceEncoder, t: FrozenTrial) -> np.ndarray | None:
    """The encoded parameters of ``t``, or None when it lacks one or holds one out of range."""
    params = t.params
    for name, dist in enc.distributions.items():
        if name not in params:
            return None
        own = t.distributions.get(name)
        if own is not None and own != dist:
            try:
                if not dist._contains(dist.to_internal_repr(params[name])):
                    return None
            except (ValueError, TypeError):
                return None
    try:
        return enc.encode([params])[0]
    except (InputError, InputTypeError):
        return None


def _is_duplicate(C: np.ndarray, taken: np.ndarray) -> np.ndarray:
    """Which rows of ``C`` ``(m, d)`` coincide with a row of ``taken`` ``(k, d)``."""
    if taken.size == 0:
        return np.zeros(len(C), dtype=bool)
    seen = {row.tobytes() for row in np.round(taken, 9)}
    return np.array([row.tobytes() in seen for row in np.round(C, 9)], dtype=bool)


def _factory(surrogate: str):  # type: ignore[no-untyped-def]
    def factory(
        *,
        seed: int | None = None,
        space: dict[str, BaseDistribution] | None = None,
        task: Any = None,
        **options: Any,
    ) -> optuna.samplers.BaseSampler:
        options.setdefault("surrogate", surrogate)
        # the full budget is the largest one seen, not the task's maximum: a run may train every
        # trial for fewer epochs than the task allows (``--budget``)
        return NeuralSampler(search_space=space, seed=seed, **options)

    factory.__name__ = f"neural_{surrogate}"
    factory.forwards_to = NeuralSampler  # type: ignore[attr-defined]
    return factory


TUNERS.register(
    "neural",
    _factory("bll"),
    "neural-surrogate BO: Bayesian-last-layer MLP (DNGO) + expected improvement",
)
TUNERS.register(
    "neural-ensemble",
    _factory("ensemble"),
    "neural-surrogate BO: deep ensemble of 5 MLPs + expected improvement",
)
