"""The neural-surrogate sampler: a network predicts each configuration's score and how sure it is.

Bayesian optimization with a neural surrogate (Snoek et al. 2015, DNGO; Springenberg et al.
2016, BOHAMIANN; Lakshminarayanan et al. 2017 for ensembles): after a quasi-random start-up
design, every suggestion fits the surrogate to the trials so far (the network is retrained as
the data grow, only its last layer refit in between) and proposes the candidate with the best
acquisition value among many random candidates and local perturbations of the best points.

The three classic objections to neural surrogates are answered by design:

- *They need lots of data*: a Sobol start-up design, cheap last-layer refits, optional transfer
  from other studies in the same storage, optional multi-fidelity data from short or pruned trials.
- *They extrapolate badly*: every decision uses the predictive uncertainty (expected
  improvement by default), and a small fraction of proposals is purely random.
- *They have hyperparameters of their own*: the Bayesian last layer sets its own
  regularization by maximizing the evidence; width, depth and training steps are fixed to
  robust values whose influence ``benchmarks/surrogate_sensitivity.py`` measures.

A trial that failed (raised, returned NaN or infinity, or was pruned with nothing to read)
joins the training data at the worst score so far (:mod:`hyperlab.tuners.failed_trials`), so
the surrogate learns to leave the region it failed in.

This module ties the loop together; its parts live beside it: ``settings`` (option checks),
``design`` (the start-up design), ``observations`` (trials as training data, and what is
remembered between suggestions), ``fitting`` (the surrogate's inputs and fit) and
``proposal`` (the acquisition search).
"""

from __future__ import annotations

import threading
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
from optuna.distributions import BaseDistribution
from optuna.samplers import BaseSampler, RandomSampler
from optuna.study import Study
from optuna.trial import FrozenTrial, TrialState

from hyperlab.errors import InputError
from hyperlab.pickling import LockFreePickling
from hyperlab.space import SpaceEncoder
from hyperlab.surrogates import Surrogate, make_acquisition
from hyperlab.tuners.failed_trials import FailedTrials
from hyperlab.tuners.merged_space import MergedSpace
from hyperlab.tuners.neural.design import startup_size
from hyperlab.tuners.neural.fitting import (
    OWN_STUDY,
    InputLayout,
    Row,
    TrainingSet,
    as_rows,
    failed_rows,
    fit_with_running,
    make_model,
    training_set,
)
from hyperlab.tuners.neural.observations import (
    Observation,
    TrialMemory,
    TrialReader,
    largest_budget_rows,
    transfer_study_names,
)
from hyperlab.tuners.neural.proposal import AcquisitionSearch
from hyperlab.tuners.neural.settings import check_settings


class NeuralSampler(LockFreePickling, BaseSampler):
    """Bayesian optimization with a neural-network surrogate.

    Args:
        surrogate: ``"bll"`` (Bayesian last layer, default) or ``"ensemble"`` (deep ensemble).
        acquisition: ``"ei"`` (expected improvement, default), ``"ucb"`` or ``"ts"``.
        surrogate_options: Keyword arguments of the surrogate (width, depth, steps, ...).
        acquisition_options: Keyword arguments of the acquisition (``xi``, ``kappa``).
        search_space: The distributions to model when known in advance (the start-up design
            then starts at the first trial); by default the parameters every finished trial
            has, a numeric one over the union of the ranges the trials gave it
            (:mod:`hyperlab.tuners.merged_space`; a value proposed outside the range a trial
            asks for is drawn at random for that trial). A parameter of the given space that a
            finished trial lacks (another branch's) leaves the modelled space and is sampled at
            random.
        n_startup: Trials of the Sobol start-up design; default ``2 * dim + 1`` clipped to
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
            parameter names) join the training data, with one indicator input per study
            (read at the first model-based suggestion; a name not in the storage, or a
            study none of whose finished trials fits this space, stops the study).
        multi_fidelity: Use pruned trials and trials with a smaller budget as training data,
            with the budget fraction as an extra input; predictions are made at full budget.
        max_budget: Full budget for ``multi_fidelity`` (default: the largest budget seen).
        pruner_predictions: A pruned trial on which a learning-curve pruner recorded its
            prediction of the final value (user attributes ``predicted_final_mean`` and
            ``predicted_final_std``, as ``curve`` and ``curve-halving`` do) joins the training
            data as a full-budget observation of that mean, with the std as its known noise,
            instead of being left out (or, with ``multi_fidelity``, entered at its last value
            and budget). Trials pruned without a prediction are treated as without the option.
            On by default: a curve pruner stops most trials, and without their predictions
            the surrogate learns only from the few it lets finish.
        pruned_last_value: A trial pruned without a prediction joins the training data at
            its last reported value, as if it had ended there (a pessimistic reading of a
            curve that improves with training), instead of being left out. Without it the
            surrogate never learns that a pruned region is poor and keeps proposing it (under
            ``median`` or ``asha`` most trials are pruned without a prediction). On by
            default. Ignored with ``multi_fidelity`` (which reads such a trial at its own
            budget) and with ``budget_fallback`` (which models the values at one step).
        budget_fallback: While fewer full-budget observations than the start-up design exist
            but enough trials (complete or pruned) have reported a value at some step, fit
            the surrogate on the values at the largest such step instead of drawing more
            Sobol points (the model-on-the-largest-budget-with-enough-data rule of BOHB,
            Falkner et al. 2018). Without it, a pruner that finishes few trials (``asha``,
            ``hyperband``) keeps this sampler in its start-up design for the whole study.
            Ignored with ``multi_fidelity`` (which models every budget at once). The
            intermediate values must measure what the final value measures. Off by default:
            it helps with ``hyperband`` but not with ``asha``.
        target_transform: ``"power"`` (Yeo-Johnson with its maximum-likelihood exponent,
            then standardized; tames heavy tails), ``"standardize"`` or ``"rank"``; default
            ``None``: ``power`` for the Bayesian last layer, ``standardize`` for the ensemble
            (``DEFAULT_TRANSFORMS``).
        warn_independent_sampling: Warn once when a parameter outside the relative search
            space is sampled independently (at random).
        seed: Seed of every random choice; the same seed gives the same suggestions when the
            trials run one after another.

    The evidence behind the defaults is in ``docs/decisions/neural-tuner.md``.
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
        pruned_last_value: bool = True,
        budget_fallback: bool = False,
        target_transform: str | None = None,
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
        self.transfer_studies = transfer_study_names(transfer_studies)
        self.multi_fidelity = multi_fidelity
        self.max_budget = max_budget
        self.pruner_predictions = pruner_predictions
        self.pruned_last_value = pruned_last_value
        self.budget_fallback = budget_fallback
        self.target_transform = target_transform
        self.warn_independent_sampling = warn_independent_sampling
        self.seed = seed
        self._checked = False
        self._check_settings()  # a bad setting fails here, not in the first trial
        self._rng = np.random.default_rng(seed)
        self._random_sampler = RandomSampler(seed=seed)
        self._merged = MergedSpace(
            bool(multi_fidelity or pruner_predictions or pruned_last_value or budget_fallback)
        )
        self._lock = threading.Lock()
        self._warned = False
        self._model: Surrogate | None = None
        self._memory = TrialMemory()
        self._failed = FailedTrials()

    # ------------------------------------------------------------------ Optuna's contract
    def reseed_rng(self) -> None:
        self._rng = np.random.default_rng()
        self._random_sampler.reseed_rng()

    def infer_relative_search_space(
        self, study: Study, trial: FrozenTrial
    ) -> dict[str, BaseDistribution]:
        self._check_settings()
        with self._lock:
            if self.search_space is not None:
                return self._memory.modelled_space(study, dict(self.search_space))
            return self._merged.calculate(study)

    def sample_relative(
        self, study: Study, trial: FrozenTrial, search_space: dict[str, BaseDistribution]
    ) -> dict[str, Any]:
        if len(study.directions) > 1:  # refused at the first trial, before any runs
            raise InputError(
                f"NeuralSampler optimizes one objective; this study has {len(study.directions)} "
                "(Optuna's TPESampler and NSGAIISampler take several)"
            )
        with self._lock:
            # (a space given in advance is known before any trial finished)
            read = self.search_space is not None or self._merged.has_read(study)
            self._memory.note_modelled(study, trial, search_space, read)
            if not search_space:
                return {}
            return self._sample_relative(study, trial, search_space)

    def sample_independent(
        self,
        study: Study,
        trial: FrozenTrial,
        param_name: str,
        param_distribution: BaseDistribution,
    ) -> Any:
        # a parameter of the modelled space comes here only when the value proposed for it lies
        # outside the range this trial asks for (a merged range): drawn for this trial alone
        told = self._warned or not self.warn_independent_sampling
        if not told and self._memory.left_out(study, trial, param_name):
            self._warned = True
            _warn_random(param_name, trial.number)
        return self._random_sampler.sample_independent(study, trial, param_name, param_distribution)

    def after_trial(
        self,
        study: Study,
        trial: FrozenTrial,
        state: TrialState,
        values: Sequence[float] | None,
    ) -> None:
        with self._lock:
            self._memory.forget(study, trial)

    @property
    def startup_trials(self) -> int | None:
        """Trials of the start-up design before the surrogate is used (``None`` while the
        search space is unknown and ``n_startup`` not given: on an objective's study, until the
        first suggestion has learnt it; at most this many with transfer data)."""
        if self.n_startup is not None:
            return int(self.n_startup)
        if self.search_space:
            return startup_size(SpaceEncoder(dict(self.search_space)).dim, None, False)
        learnt = self._memory.encoder
        return startup_size(learnt.dim, None, False) if learnt is not None else None

    # -------------------------------------------------------------------------- private
    def _check_settings(self) -> None:
        if not self._checked:
            check_settings({k: v for k, v in vars(self).items() if not k.startswith("_")})
            if self.search_space is not None:  # (a checked mapping, kept as a dict)
                self.search_space = dict(self.search_space)
            self._checked = True

    def _sample_relative(
        self, study: Study, trial: FrozenTrial, search_space: dict[str, BaseDistribution]
    ) -> dict[str, Any]:
        memory = self._memory
        enc = memory.encoder_for(search_space)
        reader = TrialReader(
            bool(self.pruner_predictions),
            bool(self.multi_fidelity),
            self.max_budget,
            bool(self.pruned_last_value and not self.budget_fallback),
        )
        obs, running, unread = memory.observations(study, trial, enc, reader)
        transfer = memory.transfer_rows(study, enc, self.transfer_studies or (), reader)
        failed = self._failed.points(study, trial, enc)
        x_new = self._choose(study, trial, enc, obs, (running, unread, failed), transfer)
        memory.proposed[(study.study_name, trial.number)] = x_new
        return enc.decode(x_new[None, :])[0]

    def _choose(
        self,
        study: Study,
        trial: FrozenTrial,
        enc: SpaceEncoder,
        obs: list[Observation],
        points: tuple[list[np.ndarray], list[np.ndarray], list[np.ndarray]],
        transfer: list[list[Observation]],
    ) -> np.ndarray:
        """The next point ``(d,)``: from the start-up design, at random, or the surrogate's
        (``points``: those of the running trials, of finished trials that gave no
        observation, and of failed trials, which join the data at the worst score)."""
        running, unread, failed = points
        layout = InputLayout(bool(self.multi_fidelity), len(transfer))
        rows = as_rows(obs, transfer, self.max_budget)
        full = [r for r in rows if r.fraction >= 1.0 and r.study == OWN_STUDY]
        n_start = startup_size(enc.dim, self.n_startup, any(transfer))
        if len(full) < n_start:
            low = self._fallback_rows(study, enc, n_start)
            if low is None:
                return self._memory.design_point(enc, trial.number, self.seed)
            full = low
            rows = full + [r for r in rows if r.study != OWN_STUDY]
        if self._rng.random() < float(self.random_fraction):
            return enc.random(1, self._rng)[0]
        if not layout.use_budget:
            rows = [r for r in rows if r.fraction >= 1.0]
        rows = rows + failed_rows(full, failed, running)
        taken = [o.x for o in obs] + [r.x for r in full] + [*running, *unread, *failed]
        return self._fit_and_propose(enc, layout, training_set(rows, full, layout), running, taken)

    def _fallback_rows(self, study: Study, enc: SpaceEncoder, needed: int) -> list[Row] | None:
        """With ``budget_fallback`` (and without ``multi_fidelity``): the trials' values at the
        largest step ``needed`` of them reached, as full-budget rows; else None."""
        if self.multi_fidelity or not self.budget_fallback:
            return None
        low = largest_budget_rows(study, enc, needed)
        if low is None:
            return None
        return [Row(x, y, 0.0, 1.0, OWN_STUDY) for x, y in low]

    def _fit_and_propose(
        self,
        enc: SpaceEncoder,
        layout: InputLayout,
        data: TrainingSet,
        running: list[np.ndarray],
        taken: list[np.ndarray],
    ) -> np.ndarray:
        """Fit the surrogate and maximize the acquisition; a numerical failure of either
        gives a random point (with a warning) instead of ending the study."""
        model = self._get_model()
        try:
            running_X = layout.at_full_budget(np.stack(running)) if running else np.zeros((0, 0))
            fit_with_running(model, data, running_X, self.running)
            acq = make_acquisition(self.acquisition, **(self.acquisition_options or {}))
            search = AcquisitionSearch(enc, layout, int(self.n_candidates), self._rng)
            return search.propose(acq, model, data.anchors, taken, data.best)
        except InputError:  # bad surrogate or acquisition options: the user must know
            raise
        except (np.linalg.LinAlgError, FloatingPointError, ValueError) as exc:
            warnings.warn(
                f"NeuralSampler could not fit its surrogate ({exc}); this suggestion is random",
                UserWarning,
                stacklevel=2,
            )
            return enc.random(1, self._rng)[0]

    def _get_model(self) -> Surrogate:
        if self._model is None:
            self._model = make_model(
                self.surrogate, self.surrogate_options, self.target_transform, self._rng
            )
        return self._model


def _warn_random(name: str, number: int) -> None:
    """Tell that parameter ``name`` of trial ``number`` is sampled at random (said once)."""
    warnings.warn(
        f"NeuralSampler samples parameter {name!r} of trial {number} "
        "independently at random: it is not in the relative search space (a "
        "conditional or dynamic parameter). Further such parameters are sampled the "
        "same way without another warning.",
        UserWarning,
        stacklevel=5,  # the objective's suggest_* call
    )
