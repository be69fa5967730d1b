"""``LearningCurvePruner``: stop a trial whose predicted final value is unlikely to win.

At each check the pruner predicts, from the trial's curve so far (and its configuration), the
value the curve will reach at the maximum budget, as a Gaussian ``(mean, std)``, and stops the
trial when the probability that it ends better than the current k-th best final value is below
a threshold (after Domhan et al. 2015, who stop a run when
``P(final > best) < 5%``). Until enough trials have finished for the predictor to be fitted,
a median rule stands in (stop a trial whose best value so far is worse than the median of the
finished trials at the same epoch). A trial is never stopped before ``min_epochs`` epochs, nor
when its value is the best of all trials at its epoch or already better than the best final
value.

The final step is ``max_budget`` when it is known (a task's epochs); without it (a user's
objective) it is learned from the study: the largest step a complete trial reported. No trial is
stopped before one has completed (a warm-up, like Optuna's ``n_startup_trials``), and the budget
grows when a later trial completes with more steps. A maximized study's values are negated once,
as they are read (:func:`hyperlab.direction.study_sign`; values written back, in reasons and
predictions, are turned back), so that every rule and the predictor minimize.

When it stops a trial it records on it (user attributes) ``prune_reason``,
``predicted_final_mean`` and ``predicted_final_std``, which the report shows.
"""

from __future__ import annotations

import math
import threading
import warnings
from typing import Any

import numpy as np
import optuna
from optuna.pruners import BasePruner
from optuna.trial import FrozenTrial, TrialState

from hyperlab.curves.base import CurvePredictor, prob_below
from hyperlab.direction import study_sign
from hyperlab.errors import InputError, InputTypeError
from hyperlab.registry import PRUNERS


def default_min_epochs(max_budget: int) -> int:
    """Ten per cent of the budget, at least two epochs, but below ``max_budget`` (so that one
    epoch is left to check) where the budget allows: 1 for budgets of 1 and 2."""
    return max(1, min(max_budget - 1, max(2, math.ceil(max_budget / 10))))


def learned_budget(trials: list[FrozenTrial]) -> int | None:
    """The largest step a complete trial reported; ``None`` before one has."""
    steps = [
        t.last_step for t in trials if t.state == TrialState.COMPLETE and t.last_step is not None
    ]
    return max(steps, default=None)


def _not_epochs(trials: list[FrozenTrial]) -> FrozenTrial | None:
    """A complete trial whose steps are not 1, 2, ..., n (the pruners read steps as epochs)."""
    for t in trials:
        if t.state == TrialState.COMPLETE and t.intermediate_values:
            steps = sorted(t.intermediate_values)
            if steps != list(range(1, len(steps) + 1)):
                return t
    return None


def _first_steps(trial: FrozenTrial) -> str:
    steps = sorted(trial.intermediate_values)
    return ", ".join(map(str, steps[:4])) + (", ..." if len(steps) > 4 else "")


def trial_curve(trial: FrozenTrial) -> np.ndarray:
    """The trial's reported values in step order: array of shape ``(n_steps,)``."""
    steps = sorted(trial.intermediate_values)
    return np.array([trial.intermediate_values[s] for s in steps], dtype=np.float64)


class LearningCurvePruner(BasePruner):
    """Prune when a curve predictor says a trial will very probably not beat the k-th best.

    Args:
        predictor: The curve predictor (a :class:`~hyperlab.curves.CurvePredictor`); it is
            refitted on the study's trials as they finish.
        max_budget: The final step (epoch) whose value is predicted; ``None``: learned from
            the study (the largest step a complete trial reported; see the module docstring).
        k: Compare with the k-th best final value among complete trials (1: the best).
        threshold: Prune when ``P(final better than the k-th best) < threshold``.
        min_epochs: Never prune before this step (default: :func:`default_min_epochs` of
            the budget). Refused when not below a given ``max_budget``; with a learned budget
            that it is not below, the pruner warns once (it then stops no trial).
        min_finished: Trials that must have reached ``max_budget`` before the predictor acts;
            until then the median rule does.
        median_startup: Finished trials the median rule needs before it acts.
        refit_growth: Refit the predictor when the number of finished trials (complete or
            pruned) has grown by this fraction since the last fit (at least by one).
        interval: Check every ``interval`` steps after ``min_epochs``.
        check_growth: When positive, check only at the steps ``min_epochs * (1 +
            check_growth)**j`` (rounded up; a geometric schedule that spends the predictor's
            time where a decision saves the most epochs) instead of every ``interval`` steps.
        protect: Never prune a trial whose value ranks in this top fraction of all trials'
            values at its epoch (0: only the best one is protected). On LCBench the run that
            ends best is often mediocre early (median rank 6-20 of 100 at epoch 6 on four
            development tasks). The ``curve`` pruner sets 0.2 when its predictor is pretrained
            on other tasks: such a predictor can be confidently wrong about a task it has not
            seen. With the guard it kept the median rule's regret (random sampling, 8 LCBench
            tasks, 40 seeds: regret minus the median rule's +0.0000 [-0.0002, +0.0003]) at 0.26
            of the epochs of no pruning; on the same 30 seeds as the unguarded runs it lowered
            their regret by 0.0015 [0.0003, 0.0034] for 0.015 more of the epochs
            (``benchmarks/pruning.py``, rule F).
        slope_guard: Never prune a trial that ranks in this top fraction at its epoch and
            whose mean slope over its last three epochs, continued in a straight line to
            ``max_budget``, would beat the reference (0: off). On six development LCBench tasks
            (random sampling, 10 seeds) 0.5 lowered the regret by 0.002 at +0.025 of the
            epochs of no pruning; off by default, as the epochs are what this pruner saves.
        audit: Check each stop against the pruner's own record: keep the predictions it made
            for trials that went on to finish, and do not prune when more than ``threshold``
            of those made at a similar rank (within a factor of two of this trial's rank
            fraction at its epoch; at least 20 of them) ended below their prediction by more
            stds than this trial needs to beat the reference. This corrects, from the study's
            own outcomes, a predictor that is too sure about the contenders: on LCBench the
            neural predictor's lower tail is right over all curves but too narrow for the best
            ones (23% of the top 10% fell below the 5% bound on a development task). The
            record holds only finished trials, so it learns nothing from the ones it stopped.
            The ``curve`` pruner turns it on.
    """

    #: It stores each stopped trial's predicted final value (read by ``pruner_predictions``).
    records_predictions = True

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
        slope_guard: float = 0.0,
        audit: bool = False,
    ) -> None:
        if not isinstance(predictor, CurvePredictor):
            raise InputTypeError(f"predictor must be a CurvePredictor, got {predictor!r}")
        if max_budget is not None and (
            isinstance(max_budget, bool) or not isinstance(max_budget, int) or max_budget < 1
        ):
            raise InputError(f"max_budget must be an int >= 1 or None, got {max_budget!r}")
        for name, value, low in (
            ("k", k, 1),
            ("min_finished", min_finished, 1),
            ("median_startup", median_startup, 1),
            ("interval", interval, 1),
        ):
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise InputError(f"{name} must be an int >= {low}, got {value!r}")
        if min_epochs is not None and (
            isinstance(min_epochs, bool) or not isinstance(min_epochs, int) or min_epochs < 1
        ):
            raise InputError(f"min_epochs must be a positive int, got {min_epochs!r}")
        if min_epochs is not None and max_budget is not None and min_epochs >= max_budget:
            raise InputError(
                f"min_epochs={min_epochs} leaves no epoch to stop a trial at: the pruner stops "
                f"trials before their last epoch, max_budget={max_budget}; give a smaller one"
            )
        if not 0.0 < threshold < 1.0:
            raise InputError(f"threshold must be in (0, 1), got {threshold!r}")
        if not refit_growth >= 0.0:
            raise InputError(f"refit_growth must be >= 0, got {refit_growth!r}")
        if not check_growth >= 0.0:
            raise InputError(f"check_growth must be >= 0, got {check_growth!r}")
        if isinstance(protect, bool) or not isinstance(protect, int | float):
            raise InputTypeError(f"protect must be a number in [0, 1), got {protect!r}")
        if not 0.0 <= protect < 1.0:
            raise InputError(f"protect must be in [0, 1), got {protect!r}")
        self.predictor = predictor
        self.max_budget = max_budget
        self.k = k
        self.threshold = threshold
        self.min_epochs = min_epochs
        self.min_finished = min_finished
        self.median_startup = median_startup
        self.refit_growth = refit_growth
        self.interval = interval
        self.check_growth = check_growth
        if isinstance(slope_guard, bool) or not isinstance(slope_guard, int | float):
            raise InputTypeError(f"slope_guard must be a number in [0, 1], got {slope_guard!r}")
        if not 0.0 <= slope_guard <= 1.0:
            raise InputError(f"slope_guard must be in [0, 1], got {slope_guard!r}")
        self.slope_guard = slope_guard
        if not isinstance(audit, bool):
            raise InputTypeError(f"audit must be True or False, got {audit!r}")
        self.audit = audit
        # trial number -> the (mean, std, rank fraction) of each prediction made for it
        self._made: dict[int, list[tuple[float, float, float]]] = {}
        self.protect = protect
        self._fitted_on = 0
        self._fitted_budget: int | None = None
        self._warned_inert = False
        self._warned_steps = False
        self._lock = threading.RLock()

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        del state["_lock"]
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._lock = threading.RLock()

    # ------------------------------------------------------------------ the decision

    @property
    def startup_trials(self) -> int:
        """Complete trials the pruner needs before it can stop one (the lab refuses a run of
        no more trials than this)."""
        return min(self.median_startup, self.min_finished)

    def first_check(self, budget: int) -> int:
        """The first step at which a trial may be stopped, for a final step ``budget``."""
        return default_min_epochs(budget) if self.min_epochs is None else self.min_epochs

    def budget(self, trials: list[FrozenTrial]) -> int | None:
        """The final step: ``max_budget``, or else learned from ``trials`` (the largest step a
        complete one reported; ``None`` before one has). Warns once when a learned budget
        leaves the pruner's settings nothing to act on (:meth:`_inert_reason`)."""
        if self.max_budget is not None:
            return self.max_budget
        budget = learned_budget(trials)
        if budget is not None and not self._warned_steps:
            odd = _not_epochs(trials)
            if odd is not None:
                self._warned_steps = True
                warnings.warn(
                    f"{type(self).__name__} reads a trial's steps as its epochs 1, 2, 3, ...; "
                    f"trial {odd.number} reported steps {_first_steps(odd)}: report once per "
                    "epoch with step=epoch (1-based), or its predictions are for the wrong epoch",
                    UserWarning,
                    stacklevel=2,
                )
        if budget is not None and not self._warned_inert:
            reason = self._inert_reason(budget)
            if reason is not None:
                self._warned_inert = True
                warnings.warn(
                    f"{type(self).__name__}: {reason}, the largest step a complete trial "
                    f"reported: it stops no trial until a trial completes with more steps",
                    UserWarning,
                    stacklevel=2,
                )
        return budget

    def _inert_reason(self, budget: int) -> str | None:
        """Why a setting leaves nothing to check with the final step ``budget``, or ``None``."""
        if self.first_check(budget) >= budget:
            return f"min_epochs={self.first_check(budget)} is not below {budget}"
        return None

    def prune(self, study: optuna.Study, trial: FrozenTrial) -> bool:
        """Whether to stop ``trial`` now (see the class docstring)."""
        settled = self._settled(study, trial)
        if settled is not None:
            return settled
        step = trial.last_step
        assert step is not None
        # a known budget decides the schedule without reading the study
        trials = None if self.max_budget is not None else study.get_trials(deepcopy=False)
        budget = self.budget(trials or [])
        if budget is None:
            return False
        first = self.first_check(budget)
        if step < first or step >= budget or not self._is_check_step(step, first):
            return False
        if trials is None:
            trials = study.get_trials(deepcopy=False)
        return self._decide(study, trial, trials, budget)

    def _decide(
        self, study: optuna.Study, trial: FrozenTrial, trials: list[FrozenTrial], budget: int
    ) -> bool:
        """The rules of the class docstring, at a check step before ``budget``."""
        step = trial.last_step
        assert step is not None
        value = trial.intermediate_values[step]
        sign = study_sign(study)
        others = [t for t in trials if t.number != trial.number]
        mine = sign * trial_curve(trial)
        mine = mine[np.isfinite(mine)]
        # never prune the current best: best value at this epoch among all trials
        at_step = [
            sign * t.intermediate_values[step]
            for t in others
            if step in t.intermediate_values and math.isfinite(t.intermediate_values[step])
        ]
        if not at_step or sign * value <= min(at_step):
            return False
        better = sum(v < sign * value for v in at_step)
        if better < self.protect * (len(at_step) + 1):
            return False
        finals = self._finals(others, sign, budget)
        if finals.size and sign * value <= finals.min():
            return False
        if finals.size < self.min_finished:
            return self._median_rule(study, trial, others, step, float(mine.min()), sign)
        reference = float(np.sort(finals)[min(self.k, finals.size) - 1])
        if better < self.slope_guard * (len(at_step) + 1) and _still_on_course(
            mine, budget - step, reference
        ):
            return False
        with self._lock:
            self._maybe_refit(others, sign, budget)
            mean, std = self.predictor.predict_final(
                mine, trial.params if self.predictor.uses_config else None, budget
            )
        p_better = prob_below(mean, std, reference)
        if self.audit:
            rank = better / (len(at_step) + 1)
            with self._lock:
                audited = self._audited(others, sign, (mean, std), reference, rank, budget)
                p_better = max(p_better, audited)
                self._made.setdefault(trial.number, []).append((mean, std, rank))
        if p_better >= self.threshold:
            return False
        which = "best" if self.k == 1 else f"{self.k}-th best"
        reason = (
            f"predicted final value at epoch {budget}: {sign * mean:.4g} ± "
            f"{std:.2g} (from {step} epochs) vs the {which} final value {sign * reference:.4g} "
            f"of {finals.size} complete trials; P(better) = {p_better:.2%} < "
            f"{self.threshold:.0%}"
        )
        self._record(study, trial, reason, sign * mean, std)
        return True

    def _settled(self, study: optuna.Study, trial: FrozenTrial) -> bool | None:
        """The answer before any rule: ``False`` with no value yet, ``True`` (recorded) for a
        non-finite last value, ``None`` to go on."""
        step = trial.last_step
        if step is None:
            return False
        value = trial.intermediate_values[step]
        if value is None or not math.isfinite(value):
            self._record(study, trial, f"non-finite intermediate value {value} at epoch {step}")
            return True
        return None

    def _audited(
        self,
        others: list[FrozenTrial],
        sign: float,
        prediction: tuple[float, float],
        reference: float,
        rank: float,
        budget: int,
    ) -> float:
        """The share of this pruner's earlier predictions, for trials that went on to finish
        and that ranked about as well as this one (rank fraction within a factor of two of
        ``rank``), whose final value beat its prediction by more stds than ``reference`` beats
        the predicted mean; 0 with fewer than 20 such predictions. ``prediction``: this
        trial's predicted final ``(mean, std)``."""
        mean, std = prediction
        finals = {
            t.number: sign * t.intermediate_values.get(budget, t.value)
            for t in others
            if t.number in self._made
            and t.state == TrialState.COMPLETE
            and t.value is not None
            and (t.last_step or 0) >= budget
        }
        z = [
            (final - m) / s
            for number, final in finals.items()
            for m, s, r in self._made[number]
            if rank / 2 <= r <= max(2 * rank, 0.02) and s > 0 and math.isfinite(final)
        ]
        if len(z) < 20:
            return 0.0
        return float(np.mean(np.array(z) < (reference - mean) / max(std, 1e-300)))

    def _is_check_step(self, step: int, first: int) -> bool:
        """Whether ``step`` is on the check schedule that starts at step ``first``."""
        if self.check_growth <= 0.0:
            return (step - first) % self.interval == 0
        check = float(first)
        while math.ceil(check) < step:
            check = max(check * (1.0 + self.check_growth), math.ceil(check) + 1.0)
        return math.ceil(check) == step

    def _finals(self, trials: list[FrozenTrial], sign: float, budget: int) -> np.ndarray:
        """Sign-adjusted final values of the complete trials that reached ``budget``."""
        out = []
        for t in trials:
            if t.state != TrialState.COMPLETE or t.value is None:
                continue
            last = t.last_step
            if last is not None and last < budget:
                continue
            value = t.intermediate_values.get(budget, t.value)
            if math.isfinite(value):
                out.append(sign * value)
        return np.array(out, dtype=np.float64)

    def _median_rule(
        self,
        study: optuna.Study,
        trial: FrozenTrial,
        others: list[FrozenTrial],
        step: int,
        best_so_far: float,
        sign: float,
    ) -> bool:
        values = [
            sign * t.intermediate_values[step]
            for t in others
            if t.state == TrialState.COMPLETE
            and step in t.intermediate_values
            and math.isfinite(t.intermediate_values[step])
        ]
        if len(values) < self.median_startup:
            return False
        median = float(np.median(values))
        if best_so_far <= median:
            return False
        self._record(
            study,
            trial,
            f"median rule (the predictor waits for {self.min_finished} complete trials): best "
            f"value so far {sign * best_so_far:.4g} at epoch {step} is worse than the median "
            f"{sign * median:.4g} of {len(values)} complete trials at that epoch",
        )
        return True

    def _maybe_refit(self, others: list[FrozenTrial], sign: float, budget: int) -> None:
        """Refit the predictor on the finished trials' curves (cut at ``budget``) when they
        have grown by ``refit_growth`` or the budget has changed since the last fit."""
        done = [
            t
            for t in others
            if t.state in (TrialState.COMPLETE, TrialState.PRUNED) and t.intermediate_values
        ]
        needed = self._fitted_on + max(1, int(self.refit_growth * self._fitted_on))
        fitted = self._fitted_on and self._fitted_budget == budget
        if fitted and len(done) < needed and self.predictor.max_budget_ is not None:
            return
        curves, configs, budgets = [], [], []
        distributions: dict[str, Any] = {}
        for t in done:
            curve = sign * trial_curve(t)
            curve = curve[:budget]
            if not np.isfinite(curve[0]):
                continue
            curves.append(curve)
            configs.append(t.params)
            budgets.append(budget)
            distributions.update(t.distributions)
        self.predictor.fit(
            curves,
            configs if self.predictor.uses_config else None,
            budgets,
            distributions=distributions if self.predictor.uses_config else None,
        )
        self._fitted_on = len(done)
        self._fitted_budget = budget

    @staticmethod
    def _record(
        study: optuna.Study,
        trial: FrozenTrial,
        reason: str,
        mean: float | None = None,
        std: float | None = None,
    ) -> None:
        attrs: dict[str, Any] = {"prune_reason": reason}
        if mean is not None and std is not None:
            attrs.update(predicted_final_mean=float(mean), predicted_final_std=float(std))
        for key, value in attrs.items():
            study._storage.set_trial_user_attr(trial._trial_id, key, value)
            # Optuna hands the pruner a shallow copy of the running trial's cached record, so
            # this makes the attributes visible through ``Trial.user_attrs`` in the objective
            # as well (a harmless local update where it is a deep copy).
            trial.user_attrs[key] = value


def _still_on_course(curve: np.ndarray, remaining: int, reference: float) -> bool:
    """Whether the curve's mean slope over its last three epochs, continued in a straight line
    for ``remaining`` epochs, would take it below ``reference`` (the optimistic reading of a
    curve still falling; a convex falling curve does no better)."""
    if curve.size < 2:
        return False
    span = min(3, curve.size - 1)
    slope = (curve[-1] - curve[-1 - span]) / span
    return bool(slope < 0.0 and curve[-1] + slope * remaining < reference)


# ---------------------------------------------------------------------------- registry


#: Options of the neural curve pruners that configure the predictor's pretraining.
PRETRAIN_OPTIONS = ("pretrain", "pretrain_curves", "pretrain_seed", "pretrain_pairs")


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
        "slope_guard",
        "audit",
        *PRETRAIN_OPTIONS,
    }
)


def _options(options: dict[str, Any]) -> dict[str, Any]:
    known = CURVE_OPTIONS
    unknown = set(options) - known
    if unknown:
        raise InputError(f"unknown curve-pruner options {sorted(unknown)}; known: {sorted(known)}")
    return options


def pretrain_names(pretrain: Any) -> list[str] | None:
    """The task names of a ``pretrain`` option (a list, or one comma-separated string), stripped;
    ``None`` for a value of another type (which :func:`pretrain_data` refuses by name)."""
    names = pretrain.split(",") if isinstance(pretrain, str) else pretrain
    if not isinstance(names, list | tuple):
        return None
    stripped = [n.strip() if isinstance(n, str) else n for n in names]
    return [n for n in stripped if n != ""]


def pretrain_data(
    task_names: str | list[str] | tuple[str, ...], n_per_task: int = 100, seed: int = 0
) -> tuple[list[np.ndarray], list[dict[str, Any]], list[int], dict[str, Any]]:
    """Complete curves of random configurations of replay tasks, for pretraining.

    Args:
        task_names: Registered replay tasks (for example ``["lcbench-126026",
            "lcbench-167104"]``, or one comma-separated string) with the same search space. Never
            name the task being pruned: its own curves would leak into the prediction.
        n_per_task: Random configurations drawn (seeded) from each task's search space.
        seed: Seed of the configuration draw.

    Returns:
        ``(curves, configs, budgets, distributions)``: validation-loss curves (each of its
        task's full length), their configurations, their budgets and the shared search space.
    """
    from hyperlab.optuna_logs import quiet_optuna
    from hyperlab.registry import TASKS
    from hyperlab.tasks.replay import ReplayTask

    names = pretrain_names(task_names)
    if not names:
        raise InputError(f"pretrain must name one or more replay tasks, got {task_names!r}")
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise InputTypeError(f"the pretraining seed must be an int, got {seed!r}")
    if isinstance(n_per_task, bool) or not isinstance(n_per_task, int) or n_per_task < 1:
        raise InputError(f"pretrain_curves must be a positive int, got {n_per_task!r}")
    curves: list[np.ndarray] = []
    configs: list[dict[str, Any]] = []
    budgets: list[int] = []
    distributions: dict[str, Any] = {}
    for name in names:
        if not isinstance(name, str):
            raise InputTypeError(f"pretrain task names must be strings, got {name!r}")
        task = TASKS.create(name)
        if not isinstance(task, ReplayTask):
            raise InputError(
                f"pretrain task {name!r} is not a replay task (pretraining reads stored curves)"
            )
        space = dict(task.distributions())
        if distributions and sorted(space) != sorted(distributions):
            raise InputError(
                f"pretrain task {name!r} has parameters {sorted(space)}, the others "
                f"{sorted(distributions)}; pretrain on tasks with one search space"
            )
        distributions.update(space)
        with quiet_optuna():
            study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=seed))
        for _ in range(n_per_task):
            trial = study.ask()
            config = task.search_space(trial)
            study.tell(trial, 0.0)
            curve = np.asarray(task.curve(config).curves["val_loss"], dtype=np.float64)
            curves.append(curve)
            configs.append(config)
            budgets.append(int(task.max_budget))
    return curves, configs, budgets, distributions


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
    predictor = ParametricCurvePredictor(**options.pop("predictor_options", {}))
    return LearningCurvePruner(predictor, max_budget=max_budget, **options)


@PRUNERS.add(
    "curve",
    "stop a trial whose final value a neural curve predictor (deep ensemble) says will not win",
)
def curve(
    *, max_budget: int | None = None, seed: int | None = None, **options: Any
) -> LearningCurvePruner:
    """The neural curve pruner; ``pretrain=[replay task names]`` (with ``pretrain_curves``
    random curves of each, default 100) pretrains its predictor on other tasks' curves, keeping
    at most ``pretrain_pairs`` (prefix, later value) pairs of them (default: the predictor's
    ``max_pairs``, 600). Pretrained, it acts after one complete trial (``min_finished`` 1) and
    never stops a trial in the top fifth at its epoch (``protect`` 0.2), unless told otherwise.

    The pretraining (its curve draw and network) is seeded by ``pretrain_seed`` (default 0),
    not by ``seed``: the pretrained network is a fixed prior, shared by every study of a process
    that asks for the same one (pretrained once, each study gets a copy); ``seed`` seeds the
    study's own refits."""
    options = _options(options)
    # a network fit costs seconds and a prediction milliseconds: refit when the data grew by
    # half, and check at epochs about 20% apart rather than at every epoch
    options.setdefault("refit_growth", 0.5)
    options.setdefault("check_growth", 0.2)
    # on six development LCBench tasks (10 seeds, random sampling) the audit kept one winner
    # the pruner had stopped, at the same epochs; see ``LearningCurvePruner``
    options.setdefault("audit", True)
    if options.get("pretrain") is not None:
        # a prior from other tasks can be sure and wrong on this one: keep the top fifth
        # (see ``protect`` in ``LearningCurvePruner``)
        options.setdefault("protect", 0.2)
    predictor = neural_predictor(options, seed)
    return LearningCurvePruner(predictor, max_budget=max_budget, **options)


curve_parametric.takes_options = CURVE_OPTIONS - set(PRETRAIN_OPTIONS)  # type: ignore[attr-defined]
curve.takes_options = CURVE_OPTIONS  # type: ignore[attr-defined]


def neural_predictor(options: dict[str, Any], seed: int | None) -> Any:
    """The :class:`NeuralCurvePredictor` of a neural curve pruner's ``options``, which lose
    its keys (``predictor_options`` and :data:`PRETRAIN_OPTIONS`); a pretrained one also sets
    ``min_finished`` to 1 unless given. ``pretrain_pairs`` caps the (prefix, later value) pairs
    cut from the pretraining curves (default: the predictor's ``max_pairs``)."""
    from hyperlab.curves.neural import NeuralCurvePredictor

    pretrain = options.pop("pretrain", None)
    n_pretrain = options.pop("pretrain_curves", 100)
    pretrain_seed = options.pop("pretrain_seed", 0)
    n_pairs = options.pop("pretrain_pairs", None)
    predictor_options = options.pop("predictor_options", {})
    if n_pairs is not None and (isinstance(n_pairs, bool) or not isinstance(n_pairs, int)):
        raise InputTypeError(f"pretrain_pairs must be an int >= 2, got {n_pairs!r}")
    if n_pairs is not None and n_pairs < 2:
        raise InputError(f"pretrain_pairs must be an int >= 2, got {n_pairs!r}")
    if pretrain is None:
        if n_pairs is not None:
            raise InputError("pretrain_pairs needs pretrain (the tasks to pretrain on)")
        return NeuralCurvePredictor(seed=seed, **predictor_options)
    predictor = _pretrained(pretrain, n_pretrain, pretrain_seed, predictor_options, n_pairs)
    predictor.seed = seed
    # the pretrained predictor acts as soon as one trial gives it a value to beat
    options.setdefault("min_finished", 1)
    return predictor


#: Pretrained predictors by (tasks, curves per task, pretraining seed, options), so that several
#: studies in one process (a benchmark, ``compare`` over seeds) pretrain once; each gets a copy.
_PRETRAINED: dict[str, Any] = {}
_PRETRAINED_LOCK = threading.Lock()
_PRETRAINED_MAX = 8


def _pretrained(
    pretrain: str | list[str] | tuple[str, ...],
    n_pretrain: int,
    seed: int,
    predictor_options: dict[str, Any],
    n_pairs: int | None = None,
) -> Any:
    """A copy of a :class:`NeuralCurvePredictor` pretrained on ``pretrain`` (cached)."""
    import copy

    from hyperlab.curves.neural import NeuralCurvePredictor

    key = repr(
        (
            pretrain_names(pretrain),
            n_pretrain,
            seed,
            sorted(predictor_options.items()),
            n_pairs,
        )
    )
    with _PRETRAINED_LOCK:
        if key not in _PRETRAINED:
            predictor = NeuralCurvePredictor(seed=seed, **predictor_options)
            curves, configs, budgets, distributions = pretrain_data(pretrain, n_pretrain, seed)
            predictor.pretrain(
                curves, configs, budgets, distributions=distributions, max_pairs=n_pairs
            )
            if len(_PRETRAINED) >= _PRETRAINED_MAX:
                del _PRETRAINED[next(iter(_PRETRAINED))]
            _PRETRAINED[key] = predictor
        return copy.deepcopy(_PRETRAINED[key])
