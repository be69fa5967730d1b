"""``CurveHalvingPruner``: asynchronous successive halving that ranks by predicted final value.

ASHA (Li et al. 2020) checks a trial at its rungs, ``min_resource * reduction_factor**k``
epochs, and keeps it only when its value there is in the top ``1 / reduction_factor`` of the
values of every trial that reached that rung. This pruner keeps ASHA's budget allocation but
ranks by the curve predictor's predicted *final* value (the trial's curve so far and its
configuration), so that a slow starter predicted to end well is kept and a fast starter
predicted to flatten out is stopped. Until the predictor has ``min_finished`` complete trials
the value at the rung ranks, as in ASHA. All trials at a rung are ranked by the same fit of the
predictor: their predictions are recomputed after each refit. Without a ``max_budget`` the final
step is learned from the study (:class:`~hyperlab.pruners.base.PredictorPruner`; no trial is
stopped before one has completed).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import optuna
from optuna.trial import FrozenTrial

from hyperlab.curves.base import CurvePredictor
from hyperlab.direction import study_sign
from hyperlab.errors import InputError
from hyperlab.pruners.base import PredictorPruner, check_int
from hyperlab.pruners.pretrain import PRETRAIN_OPTIONS, neural_predictor
from hyperlab.pruners.trials import final_values, trial_curve, value_at
from hyperlab.registry import PRUNERS


class CurveHalvingPruner(PredictorPruner):
    """ASHA whose ranking statistic is the predicted final value.

    Args:
        predictor: The curve predictor; refitted on the study's trials as they finish.
        max_budget: The final step (epoch) whose value is predicted; ``None``: learned from
            the study (the largest step a complete trial reported).
        reduction_factor: Keep the top ``1 / reduction_factor`` at each rung (ASHA's eta).
        min_resource: The first rung (default: the budget ``// 27``, at least 1, as the
            ``asha`` pruner). Refused when not below a given ``max_budget``; with a learned
            budget that it is not below, the pruner warns once (it then stops no trial).
        min_finished: Complete trials the predictor needs before it ranks.
        refit_growth: Refit when the finished trials have grown by this fraction.
    """

    def __init__(
        self,
        predictor: CurvePredictor,
        *,
        max_budget: int | None = None,
        reduction_factor: int = 3,
        min_resource: int | None = None,
        min_finished: int = 5,
        refit_growth: float = 0.5,
    ) -> None:
        super().__init__(
            predictor, max_budget=max_budget, min_finished=min_finished, refit_growth=refit_growth
        )
        check_int("reduction_factor", reduction_factor, 2)
        if min_resource is not None and (
            isinstance(min_resource, bool) or not isinstance(min_resource, int) or min_resource < 1
        ):
            raise InputError(f"min_resource must be a positive int, got {min_resource!r}")
        if min_resource is not None and max_budget is not None and min_resource >= max_budget:
            raise InputError(
                f"min_resource={min_resource} leaves no rung to stop a trial at: the rungs lie "
                f"before the last epoch, max_budget={max_budget}; give a smaller one"
            )
        self.reduction_factor = reduction_factor
        self.min_resource = min_resource
        #: ASHA's rungs when ``max_budget`` is given (``None``: they follow the learned budget)
        self.rungs = None if max_budget is None else self.rungs_for(max_budget)
        # (trial number, rung) -> predicted final (mean, std), valid for the fit it was made with
        self._scores: dict[tuple[int, int], tuple[float, float]] = {}
        self._scored_on: tuple[int, int] = (-1, -1)  # (fit, budget) of the cached scores

    _without_prediction = "the trials at a rung are ranked by their value there"

    @property
    def startup_trials(self) -> int:
        """ASHA's rule can stop the second trial at a rung (one complete trial first when the
        budget is learned)."""
        return 1

    def rungs_for(self, budget: int) -> tuple[int, ...]:
        """ASHA's rungs ``min_resource * reduction_factor**k`` below the final step ``budget``."""
        step = max(1, budget // 27) if self.min_resource is None else self.min_resource
        rungs = []
        while step < budget:
            rungs.append(step)
            step *= self.reduction_factor
        return tuple(rungs)

    def _inert_reason(self, budget: int) -> str | None:
        if not self.rungs_for(budget):
            return f"min_resource={self.min_resource} is not below {budget}"
        return None

    def prune(self, study: optuna.Study, trial: FrozenTrial) -> bool:
        """Whether to stop ``trial`` now (see the module docstring)."""
        settled = self._settled(study, trial)
        if settled is not None:
            return settled
        step = trial.last_step
        if self.rungs is not None and step not in self.rungs:  # no need to read the study
            self._check_own_steps(trial)  # (steps that miss every rung would stop none)
            return False
        trials = study.get_trials(deepcopy=False)
        budget = self.budget(trials)
        if budget is None or step not in self.rungs_for(budget):
            return False
        sign = study_sign(study)
        others = [t for t in trials if t.number != trial.number]
        # the trials that reached this rung with a finite curve so far (one stopped at a NaN
        # never does; one added by hand might)
        at_rung = [trial] + [
            t
            for t in others
            if step in t.intermediate_values and np.all(np.isfinite(trial_curve(t)[:step]))
        ]
        keep = max(len(at_rung) // self.reduction_factor, 1)
        prediction: tuple[float, float] | None = None
        if final_values(others, sign, budget).size < self.min_finished:
            scores = np.array([sign * value_at(t, step) for t in at_rung])
            what = f"value at epoch {step}"
        else:
            with self._lock:
                self._refit(others, sign, budget, at_rung)
                scores = self._predicted(at_rung, step, sign, budget)
                prediction = self._scores[(trial.number, step)]
            what = f"predicted final value (epoch {budget}) from {step} epochs"
        rank = int(np.sum(scores < scores[0])) + 1
        if rank <= keep:
            return False
        reason = (
            f"{what}: {sign * scores[0]:.4g} ranks {rank} of the {len(at_rung)} trials that "
            f"reached epoch {step}; successive halving keeps the top {keep}"
        )
        if prediction is None:
            self._record(study, trial, reason)
        else:  # the prediction is recorded as the curve pruner does (a sampler may use it)
            self._record(study, trial, reason, sign * prediction[0], prediction[1], budget)
        return True

    def _predicted(
        self, at_rung: list[FrozenTrial], step: int, sign: float, budget: int
    ) -> np.ndarray:
        """Predicted final means (at ``budget``) of the trials at a rung, from their first
        ``step`` values, all by the current fit (cached until the next refit)."""
        if self._scored_on != (self._fits, budget):
            self._scores.clear()
            self._scored_on = (self._fits, budget)
        missing = [t for t in at_rung if (t.number, step) not in self._scores]
        if missing:
            curves = [sign * trial_curve(t)[:step] for t in missing]
            configs = (
                [self._config(t) or {} for t in missing] if self.predictor.uses_config else None
            )
            means, stds = self.predictor.predict_finals(curves, configs, budget)
            for t, m, s in zip(missing, means, stds, strict=True):
                self._scores[(t.number, step)] = (float(m), float(s))
        return np.array([self._scores[(t.number, step)][0] for t in at_rung])


@PRUNERS.add(
    "curve-halving",
    "successive halving (as asha) that ranks trials by a neural curve predictor's final value",
    reads_tasks=("pretrain",),
)
def curve_halving(
    *, max_budget: int | None = None, seed: int | None = None, **options: Any
) -> CurveHalvingPruner:
    """``predictor_options`` and the pretraining options (``pretrain``, ``pretrain_curves``,
    ``pretrain_seed``) as for ``curve``; ``reduction_factor``, ``min_resource``,
    ``min_finished``, ``refit_growth``."""
    known = curve_halving.takes_options  # type: ignore[attr-defined]
    unknown = set(options) - known
    if unknown:
        raise InputError(f"unknown curve-halving options {sorted(unknown)}; known: {sorted(known)}")
    predictor = neural_predictor(options, seed)
    return CurveHalvingPruner(predictor, max_budget=max_budget, **options)


curve_halving.takes_options = frozenset(  # type: ignore[attr-defined]
    {
        "predictor_options",
        "reduction_factor",
        "min_resource",
        "min_finished",
        "refit_growth",
        *PRETRAIN_OPTIONS,
    }
)
