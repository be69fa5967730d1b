"""``LearningCurvePruner``: stop a trial whose predicted final value is unlikely to win.

At each check the pruner predicts, from the trial's curve so far (and its configuration), the
value the curve will reach at the final step, as a Gaussian ``(mean, std)``, and stops the
trial when the probability that it ends better than the current k-th best final value is below
a threshold (after Domhan et al. 2015, who stop a run when ``P(final > best) < 5%``). Until
enough trials have finished for the predictor to be fitted, a median rule stands in
(:mod:`hyperlab.pruners.median`). The guards of :mod:`hyperlab.pruners.guards` keep some trials
whatever the prediction says; :mod:`hyperlab.pruners.schedule` says when a trial is checked.
What it shares with the other curve pruners (the learned budget, the refits, what a stop
records) is in :class:`~hyperlab.pruners.base.PredictorPruner`.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import optuna
from optuna.trial import FrozenTrial

from hyperlab.curves.base import CurvePredictor, prob_below
from hyperlab.direction import study_sign
from hyperlab.errors import InputError, InputTypeError, check_bool
from hyperlab.pruners.base import PredictorPruner, check_int
from hyperlab.pruners.guards import PredictionAudit, Standing, beats_every_final
from hyperlab.pruners.median import STAND_IN, median_stop
from hyperlab.pruners.pretrain import PRETRAIN_OPTIONS, neural_predictor, pop_predictor_options
from hyperlab.pruners.schedule import default_min_epochs, is_check_step
from hyperlab.pruners.trials import final_values, trial_curve
from hyperlab.registry import PRUNERS


class LearningCurvePruner(PredictorPruner):
    """Prune when a curve predictor says a trial will very probably not beat the k-th best.

    Args:
        predictor: The curve predictor (a :class:`~hyperlab.curves.CurvePredictor`); it is
            refitted on the study's trials as they finish.
        max_budget: The final step (epoch) whose value is predicted; ``None``: learned from
            the study (see :mod:`hyperlab.pruners.base`).
        k: Compare with the k-th best final value among complete trials (1: the best).
        threshold: Prune when ``P(final better than the k-th best) < threshold``.
        min_epochs: Never prune before this step (default: :func:`~hyperlab.pruners.schedule.
            default_min_epochs` of the budget). Refused when not below a given ``max_budget``;
            with a learned budget that it is not below, the pruner warns once (it then stops no
            trial).
        min_finished: Trials that must have reached the final step before the predictor acts;
            until then the median rule does.
        median_startup: Finished trials the median rule needs before it acts.
        refit_growth: Refit the predictor when the number of finished trials (complete or
            pruned) has grown by this fraction since the last fit (at least by one).
        interval: Check every ``interval`` steps after ``min_epochs``.
        check_growth: When positive, check only at the steps ``min_epochs * (1 +
            check_growth)**j`` (rounded up) instead of every ``interval`` steps.
        protect: Never prune a trial whose value ranks in this top fraction of all trials'
            values at its epoch (0: only the best one is protected); for a predictor that can
            be sure and wrong about the eventual winner, which is often mediocre early.
        audit: Check each stop against the pruner's own record of predictions for trials that
            went on to finish (:class:`~hyperlab.pruners.guards.PredictionAudit`).
    """

    def __init__(
        self,
        predictor: CurvePredictor,
        *,
        max_budget: int | None = None,
        k: int = 1,
        threshold: float = 0.05,
        min_epochs: int | None = None,
        min_finished: int = 5,
        median_startup: int = 3,
        refit_growth: float = 0.25,
        interval: int = 1,
        check_growth: float = 0.0,
        protect: float = 0.0,
        audit: bool = False,
    ) -> None:
        super().__init__(
            predictor, max_budget=max_budget, min_finished=min_finished, refit_growth=refit_growth
        )
        for name, value in (("k", k), ("median_startup", median_startup), ("interval", interval)):
            check_int(name, value, 1)
        _check_min_epochs(min_epochs, max_budget)
        for label, number in (("threshold", threshold), ("check_growth", check_growth)):
            if isinstance(number, bool) or not isinstance(number, int | float):
                raise InputTypeError(f"{label} must be a number, got {number!r}")
        if not 0.0 < threshold < 1.0:
            raise InputError(f"threshold must be in (0, 1), got {threshold!r}")
        if not check_growth >= 0.0:
            raise InputError(f"check_growth must be >= 0, got {check_growth!r}")
        if isinstance(protect, bool) or not isinstance(protect, int | float):
            raise InputTypeError(f"protect must be a number in [0, 1), got {protect!r}")
        if not 0.0 <= protect < 1.0:
            raise InputError(f"protect must be in [0, 1), got {protect!r}")
        check_bool("audit", audit)
        self.k = k
        self.threshold = threshold
        self.min_epochs = min_epochs
        self.median_startup = median_startup
        self.interval = interval
        self.check_growth = check_growth
        self.protect = protect
        self.audit = audit
        self._audit = PredictionAudit()

    _without_prediction = "the median rule decides"

    #: How the reasons of the stops made by the median rule standing in for the predictor
    #: begin (the lab counts them to say when the predictor never acted).
    stand_in = STAND_IN

    @property
    def startup_trials(self) -> int:
        """Complete trials the pruner needs before it can stop one (the lab refuses a run of
        no more trials than this)."""
        return min(self.median_startup, self.min_finished)

    def first_check(self, budget: int) -> int:
        """The first step at which a trial may be stopped, for a final step ``budget``."""
        return default_min_epochs(budget) if self.min_epochs is None else self.min_epochs

    def _inert_reason(self, budget: int) -> str | None:
        if self.first_check(budget) >= budget:
            return f"min_epochs={self.first_check(budget)} is not below {budget}"
        return None

    def prune(self, study: optuna.Study, trial: FrozenTrial) -> bool:
        """Whether to stop ``trial`` now (see the module docstring)."""
        settled = self._settled(study, trial)
        if settled is not None:
            return settled
        step = trial.last_step
        assert step is not None
        # a known budget decides the schedule without reading the study
        trials = None if self.max_budget is not None else study.get_trials(deepcopy=False)
        budget = self.budget(trials or [])
        if budget is None or step >= budget:
            return False
        first = self.first_check(budget)
        if not is_check_step(step, first, self.interval, self.check_growth):
            self._check_own_steps(trial)  # the study is read only at a check step
            return False
        if trials is None:  # a given budget: read the trials' steps now
            trials = study.get_trials(deepcopy=False)
            self._check_steps(trials)
        return self._decide(study, trial, trials, budget)

    def _decide(
        self, study: optuna.Study, trial: FrozenTrial, trials: list[FrozenTrial], budget: int
    ) -> bool:
        """The guards, then the median rule or the prediction, at a check step."""
        step = trial.last_step
        assert step is not None
        sign = study_sign(study)
        value = sign * trial.intermediate_values[step]
        others = [t for t in trials if t.number != trial.number]
        standing = Standing.at(value, others, step, sign)
        if standing.leads or standing.protected(self.protect):
            return False
        finals = final_values(others, sign, budget)
        if beats_every_final(value, finals):
            return False
        mine = sign * trial_curve(trial)
        mine = mine[np.isfinite(mine)]
        if finals.size < self.min_finished:
            return self._median_rule(study, trial, others, float(mine.min()), sign)
        reference = float(np.sort(finals)[min(self.k, finals.size) - 1])
        mean, std, p_better = self._p_better(trial, mine, others, sign, budget, reference, standing)
        if p_better >= self.threshold:
            return False
        which = "best" if self.k == 1 else f"{self.k}-th best"
        reason = (
            f"predicted final value at epoch {budget}: {sign * mean:.4g} ± "
            f"{std:.2g} (from {step} epochs) vs the {which} final value {sign * reference:.4g} "
            f"of {finals.size} complete trials; P(better) = {p_better:.2%} < "
            f"{self.threshold:.0%}"
        )
        self._record(study, trial, reason, sign * mean, std, budget)
        return True

    def _p_better(
        self,
        trial: FrozenTrial,
        mine: np.ndarray,
        others: list[FrozenTrial],
        sign: float,
        budget: int,
        reference: float,
        standing: Standing,
    ) -> tuple[float, float, float]:
        """The predicted final ``(mean, std)`` of ``trial``, whose finite sign-adjusted curve
        is ``mine``, and the probability that it ends below ``reference`` (raised by the audit,
        when on, to the share of its record that ended further below its prediction)."""
        with self._lock:
            self._refit(others, sign, budget, [trial])
            mean, std = self.predictor.predict_final(mine, self._config(trial), budget)
            p_better = prob_below(mean, std, reference)
            if self.audit:
                rank = standing.fraction
                audited = self._audit.share_beaten(
                    others, sign, (mean, std), reference, rank, budget
                )
                p_better = max(p_better, audited)
                self._audit.remember(trial.number, (mean, std), rank)
        return mean, std, p_better

    def _median_rule(
        self,
        study: optuna.Study,
        trial: FrozenTrial,
        others: list[FrozenTrial],
        best_so_far: float,
        sign: float,
    ) -> bool:
        """Stop (and record why) when :func:`~hyperlab.pruners.median.median_stop` says so."""
        step = trial.last_step
        assert step is not None
        stop = median_stop(others, step, best_so_far, sign, self.median_startup)
        if stop is None:
            return False
        median, n = stop
        self._record(
            study,
            trial,
            f"{STAND_IN} {self.min_finished} complete trials): best "
            f"value so far {sign * best_so_far:.4g} at epoch {step} is worse than the median "
            f"{sign * median:.4g} of {n} complete trials at that epoch",
        )
        return True


def _check_min_epochs(min_epochs: Any, max_budget: int | None) -> None:
    if min_epochs is not None and (
        isinstance(min_epochs, bool) or not isinstance(min_epochs, int) or min_epochs < 1
    ):
        raise InputError(f"min_epochs must be a positive int, got {min_epochs!r}")
    if min_epochs is not None and max_budget is not None and min_epochs >= max_budget:
        raise InputError(
            f"min_epochs={min_epochs} leaves no epoch to stop a trial at: the pruner stops "
            f"trials before their last epoch, max_budget={max_budget}; give a smaller one"
        )


# ---------------------------------------------------------------------------- registry


#: Options of the ``curve`` pruner (``curve-parametric``: all but :data:`PRETRAIN_OPTIONS`).
CURVE_OPTIONS = frozenset(
    {
        "predictor_options",
        "k",
        "threshold",
        "min_epochs",
        "min_finished",
        "median_startup",
        "refit_growth",
        "interval",
        "check_growth",
        "protect",
        "audit",
        *PRETRAIN_OPTIONS,
    }
)


def _options(options: dict[str, Any]) -> dict[str, Any]:
    unknown = set(options) - CURVE_OPTIONS
    if unknown:
        raise InputError(
            f"unknown curve-pruner options {sorted(unknown)}; known: {sorted(CURVE_OPTIONS)}"
        )
    return options


@PRUNERS.add(
    "curve-parametric",
    "stop a trial whose extrapolated curve (power/exp/log-power mix) will not beat the best",
)
def curve_parametric(
    *, max_budget: int | None = None, seed: int | None = None, **options: Any
) -> LearningCurvePruner:
    from hyperlab.curves.parametric import ParametricCurvePredictor

    options = _options(options)
    pretraining = sorted(set(options) & set(PRETRAIN_OPTIONS))
    if pretraining:
        raise InputError(
            f"curve-parametric fits each curve on its own and takes no pretraining options "
            f"(got {pretraining}); they belong to the neural pruners 'curve' and 'curve-halving'"
        )
    predictor = ParametricCurvePredictor(**pop_predictor_options(options))
    return LearningCurvePruner(predictor, max_budget=max_budget, **options)


@PRUNERS.add(
    "curve",
    "stop a trial whose final value a neural curve predictor (deep ensemble) says will not win",
    reads_tasks=("pretrain",),
)
def curve(
    *, max_budget: int | None = None, seed: int | None = None, **options: Any
) -> LearningCurvePruner:
    """The neural curve pruner, with the pretraining options of
    :func:`~hyperlab.pruners.pretrain.neural_predictor`. Pretrained, it acts after one complete
    trial (``min_finished`` 1) and never stops a trial in the top fifth at its epoch
    (``protect`` 0.2), unless told otherwise: a prior from other tasks can be sure and wrong
    about this one. It audits its stops (``audit``)."""
    options = _options(options)
    # a network fit costs seconds and a prediction milliseconds: refit when the data grew by
    # half, and check at epochs about 20% apart rather than at every epoch
    options.setdefault("refit_growth", 0.5)
    options.setdefault("check_growth", 0.2)
    options.setdefault("audit", True)
    if options.get("pretrain") is not None:
        options.setdefault("protect", 0.2)
    predictor = neural_predictor(options, seed)
    return LearningCurvePruner(predictor, max_budget=max_budget, **options)


curve_parametric.takes_options = CURVE_OPTIONS - set(PRETRAIN_OPTIONS)  # type: ignore[attr-defined]
curve.takes_options = CURVE_OPTIONS  # type: ignore[attr-defined]
