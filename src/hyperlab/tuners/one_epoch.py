"""The ``one-epoch`` tuner: train every configuration for one epoch, then only the top k.

This is the baseline that multi-fidelity methods are held to (Egele et al. 2023, "Is One
Epoch All You Need for Multi-Fidelity Hyperparameter Optimization?"): draw ``trials``
configurations, train each for one epoch, and train only the ``k`` best at that epoch to the
full budget.

:class:`OneEpochTuner` is an Optuna sampler that draws at random (or from a scrambled Sobol
sequence) when used as an ordinary sampler, and declares ``drives_trials``: the lab hands it
the study and the task (:meth:`OneEpochTuner.run_trials`). The study then holds

- one *screening* trial per configuration, ``trials`` of them, numbered first: PRUNED, its
  one-epoch value reported at step 1 and its ``budget`` attribute 1, so its epoch is counted
  as a pruned trial's epochs are;
- one *full* trial for each of the ``k`` best screening trials, added after all of them, best
  first: COMPLETE, the parameters of the screening trial it continues (user attribute
  ``screened``), every epoch ``1..budget`` reported. On a task that continues training
  (:meth:`~hyperlab.tasks.Task.train_segment`) it continues that trial's one-epoch model, and
  its ``budget`` attribute is ``budget - 1``; otherwise (or when an interruption lost the
  one-epoch model) it trains afresh, its ``budget`` is the full budget and ``from_scratch``
  is set.

Only full trials are complete, so the study's best value is always a fully trained model's;
trials are numbered in the order they were trained, so cumulative epochs are honest.

A resumed study loses nothing it had finished: a screening trial left running by an ended
process is failed and its parameters are queued again, screening goes on until ``trials``
configurations are screened, and each of the ``k`` best without a full trial gets one.
"""

from __future__ import annotations

import contextlib
import math
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import optuna
from optuna.distributions import BaseDistribution
from optuna.trial import FrozenTrial, TrialState

from hyperlab.direction import study_sign
from hyperlab.errors import (
    CUT_OFF_FAILURE,
    FAILURE_ATTR,
    REFUSED_ATTR,
    REFUSED_FAILURE,
    TASK_FAILURE,
    TRACEBACK_ATTR,
    InputError,
    InputTypeError,
    SettingError,
    TaskContractError,
    TrialFailure,
    counted,
    failure_reason,
    traceback_text,
)
from hyperlab.folder_lock import folder_lock
from hyperlab.registry import TUNERS
from hyperlab.stops import stop_for_failures
from hyperlab.tasks.base import EXTRAS_ATTR, Task, extra_names, not_finite

#: The user attribute that tells a screening trial (``"screen"``) from a full one (``"full"``).
STAGE_ATTR = "one_epoch"
SCREEN, FULL = "screen", "full"
#: The user attribute of a full trial that holds the number of the screening trial it continues.
SCREENED_ATTR = "screened"
#: The study attribute that holds the run's summary (k, screened, fully trained).
SUMMARY_ATTR = "one_epoch"
#: The samplers that draw the screened configurations.
SAMPLERS: dict[str, Callable[[int | None], optuna.samplers.BaseSampler]] = {
    "random": lambda seed: optuna.samplers.RandomSampler(seed=seed),
    "qmc": lambda seed: optuna.samplers.QMCSampler(
        qmc_type="sobol", scramble=True, seed=seed, warn_independent_sampling=False
    ),
}
_LOCK = "one-epoch.lock"
_INTERRUPTED = "interrupted mid-screening; its parameters are queued again"


class OneEpochTuner(optuna.samplers.BaseSampler):
    """Screen configurations for one epoch, then train the ``k`` best to the full budget.

    Args:
        name: The tuner's registered name (in messages).
        seed: Seed of the configurations drawn as an ordinary sampler (a run of
            :meth:`run_trials` draws from the run's seed, whichever process runs it).
        k: Configurations trained to the full budget (``None``: a tenth of ``trials``, rounded
            up).
        sampler: What draws the configurations: ``"random"`` or ``"qmc"`` (scrambled Sobol).
    """

    drives_trials = True

    def __init__(
        self,
        *,
        name: str = "one-epoch",
        seed: int | None = None,
        k: int | None = None,
        sampler: str = "random",
    ) -> None:
        self.name = name
        self.seed = seed
        self.k = k
        self.sampler = sampler
        self._draw = SAMPLERS[sampler](seed)

    # -- an ordinary sampler: the drawing sampler's choices ------------------------------------

    def infer_relative_search_space(
        self, study: optuna.Study, trial: FrozenTrial
    ) -> dict[str, BaseDistribution]:
        return self._draw.infer_relative_search_space(study, trial)

    def sample_relative(
        self, study: optuna.Study, trial: FrozenTrial, search_space: dict[str, BaseDistribution]
    ) -> dict[str, Any]:
        return self._draw.sample_relative(study, trial, search_space)

    def sample_independent(
        self,
        study: optuna.Study,
        trial: FrozenTrial,
        param_name: str,
        param_distribution: BaseDistribution,
    ) -> Any:
        return self._draw.sample_independent(study, trial, param_name, param_distribution)

    def before_trial(self, study: optuna.Study, trial: FrozenTrial) -> None:
        self._draw.before_trial(study, trial)

    def after_trial(
        self,
        study: optuna.Study,
        trial: FrozenTrial,
        state: TrialState,
        values: Sequence[float] | None,
    ) -> None:
        self._draw.after_trial(study, trial, state, values)

    def reseed_rng(self) -> None:
        self._draw.reseed_rng()

    # -- the run -------------------------------------------------------------------------------

    def top_k(self, trials: int) -> int:
        """How many of ``trials`` screened configurations are trained to the full budget."""
        return self.k if self.k is not None else max(1, math.ceil(trials / 10))

    def check_run(
        self, *, trials: int, budget: int | None, pruners: list[str], stop_at_noise: bool
    ) -> None:
        """Refuse, before the run starts, what this tuner cannot do: a pruner (it stops trials
        itself, all after one epoch), stopping at the noise level, a budget of one epoch, or
        more configurations to train fully than are screened."""
        if any(p not in ("none", "tuner") for p in pruners):  # 'tuner': its own rule, none
            raise InputError(
                f"tuner {self.name!r} stops every configuration after one epoch itself: use "
                f"pruner 'none' (or 'tuner'), got {pruners}"
            )
        if stop_at_noise:
            raise InputError(
                f"tuner {self.name!r} decides after screening which trials to train: "
                "stop_at_noise does not apply"
            )
        self._check_sizes(trials, budget)

    def _check_sizes(self, trials: int, budget: int | None) -> None:
        if budget is not None and budget < 2:
            raise InputError(
                f"tuner {self.name!r} trains its best configurations beyond one epoch: it needs "
                f"budget >= 2 epochs, got budget={budget}"
            )
        if self.k is not None and self.k > trials:
            raise InputError(
                f"tuner {self.name!r} would train k={self.k} configurations fully, but screens "
                f"only trials={trials}: ask for k <= trials"
            )

    def run_trials(
        self,
        study: optuna.Study,
        task: Task,
        *,
        trials: int,
        budget: int,
        seed: int,
        workdir: Path,
        on_progress: Callable[[str], None] | None = None,
    ) -> None:
        """Screen ``trials`` configurations for one epoch and train the ``k`` best to
        ``budget`` epochs, writing the trials described in the module's docstring; resume a
        study that holds some of them; do nothing when it holds them all.

        Args:
            study: The study (its direction says which values are best).
            task: The task; a task that continues training keeps its one-epoch models.
            trials: Configurations to screen.
            budget: Epochs of a fully trained configuration (>= 2).
            seed: The study's seed: it seeds the configurations drawn (with the number of
                trials when the study holds some already) and the training of each screening
                trial (with its number).
            workdir: A folder for the lock that lets one process at a time run the study.
            on_progress: Told where the run stands after each trial (a progress bar's note).

        Raises:
            InputError: The task has no epochs to screen, ``budget`` is under 2 or ``k``
                exceeds ``trials``.
        """
        check_task(self.name, task)
        self._check_sizes(trials, budget)
        k = self.top_k(trials)
        with folder_lock(Path(workdir), _LOCK):  # --jobs N: one process runs it, the rest wait
            _requeue_running(study)
            self._draw = SAMPLERS[self.sampler](_stream_seed(seed, len(study.trials)))
            tell = on_progress or (lambda note: None)
            states = _screen(study, task, trials=trials, k=k, seed=seed, tell=tell)
            best = _best(_screened(study), k, study_sign(study))
            done = {  # a failed full training is tried again by a rerun
                t.user_attrs.get(SCREENED_ATTR)
                for t in _full_trials(study)
                if t.state == TrialState.COMPLETE
            }
            for i, trial in enumerate(best):
                if trial.number not in done:
                    tell(f"training the best {k} fully: {i} done")
                    _train_fully(study, task, trial, states.get(trial.number), budget)
            tell(f"trained the best {k} fully")
            summary = {
                "k": k,
                "screened": len(_screened(study)),
                "trained_fully": [t.number for t in best],
                "budget": budget,
                "sampler": self.sampler,
            }
            study.set_user_attr(SUMMARY_ATTR, summary)


def check_task(tuner: str, task: Any) -> None:
    """Refuse a task whose epochs ``tuner`` cannot screen: none (a plain objective, or a task
    that runs whole trials itself), another type, or a task of one epoch."""
    if task is None:
        raise InputError(
            f"tuner {tuner!r} trains each configuration for one epoch itself: it needs a task "
            "with epochs (a hyperlab Task), not a plain objective function"
        )
    if not isinstance(task, Task):
        raise InputTypeError(f"tuner {tuner!r} needs a hyperlab Task, got {task!r}")
    if task.max_budget < 2:
        raise InputError(
            f"task {task.name!r} has max_budget={task.max_budget}: tuner {tuner!r} needs a task "
            "trained over several epochs (one epoch to screen, more to train the best)"
        )


@dataclass
class _Training:
    """What one stretch of training gave: the value after each epoch and the rest."""

    values: list[float]
    curves: dict[str, list[float]] = field(default_factory=dict)
    state: Any = None
    std_err: float = 0.0
    fold_values: list[float] = field(default_factory=list)
    wall_time: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)

    def attrs(self) -> dict[str, Any]:
        """The trial attributes that the lab's own trials carry too."""
        return {
            "curves": self.curves,
            "std_err": self.std_err,
            "fold_values": self.fold_values,
            "wall_time": self.wall_time,
            **self.extra,
        }


def _train(task: Task, config: dict[str, Any], state: Any, epochs: int, seed: int) -> _Training:
    """Train ``epochs`` epochs: continuing ``state`` on a task that continues training, else
    (``state`` is then ``None``) a fresh evaluation."""
    if task.continues_training:
        seg = task.train_segment(config, state, epochs, seed=seed)
        out = _Training(
            list(seg.values), seg.curves, seg.state, seg.std_err, seg.fold_values, seg.wall_time
        )
    else:
        values: list[float] = []
        ev = task.evaluate(config, epochs, seed=seed, on_epoch=lambda e, v, c: values.append(v))
        if len(values) != epochs:
            raise TrialFailure(
                f"task {task.name!r} reported {counted(len(values), 'value')} over "
                f"{counted(epochs, 'epoch')}: its "
                "evaluation must call on_epoch after every epoch",
                ev.curves,
            )
        values[-1] = ev.value
        out = _Training(values, ev.curves, None, ev.std_err, ev.fold_values, ev.wall_time, ev.extra)
    if not all(math.isfinite(v) for v in out.values):
        raise TrialFailure(f"non-finite score in {out.values}", out.curves)
    out.std_err, out.fold_values = float(out.std_err), [float(v) for v in out.fold_values]
    spread = not_finite(out.values[-1], out.std_err, out.fold_values)
    if spread is not None:  # as the lab's objective fails a trial
        raise TrialFailure(spread, out.curves)
    return out


def trial_seed(study_seed: int, number: int) -> int:
    """The seed trial ``number`` trains with: the lab's per-trial seed, so the screening
    trials train as the same-numbered trials of a study run by the lab with that seed do."""
    return zlib.crc32(f"{study_seed}:{number}".encode()) % (2**31)


def _stream_seed(seed: int, trials_so_far: int) -> int:
    """The seed of the configurations drawn in a study holding ``trials_so_far`` trials: the
    study's seed for a new study (so the draws are ``random``'s), else one derived from both
    (a resumed study draws no configuration again), whichever process of ``--jobs N`` runs it.
    """
    if trials_so_far == 0:
        return seed
    return int(np.random.SeedSequence([seed, trials_so_far]).generate_state(1)[0] % 2**31)


def _screen(
    study: optuna.Study,
    task: Task,
    *,
    trials: int,
    k: int,
    seed: int,
    tell: Callable[[str], None],
) -> dict[int, Any]:
    """Screen configurations until the study holds ``trials`` screening trials (``tell``
    hears after each how many are screened).

    Returns:
        The one-epoch models (states) of the ``k`` best configurations screened here, by trial
        number (only on a task that continues training; the others are let go as screening
        goes on, so at most ``k + 1`` models are held at once).
    """
    sign = study_sign(study)
    ranked = [(sign * t.intermediate_values[1], t.number) for t in _screened(study)]
    states: dict[int, Any] = {}
    failures, limit = 0, max(10, trials)
    while len(ranked) < trials:
        screened = _screen_one(study, task, seed)
        if screened is None:
            failures += 1
            if failures >= limit:
                stop_for_failures(study, f"stopped after {failures} failed screening trials")
                break
            continue
        number, value, state = screened
        ranked.append((sign * value, number))
        tell(f"screened {len(ranked)}/{trials} for one epoch")
        if state is not None:
            states[number] = state
        keep = {n for _, n in sorted(ranked)[:k]}
        states = {n: s for n, s in states.items() if n in keep}
    return states


def _screen_one(study: optuna.Study, task: Task, seed: int) -> tuple[int, float, Any] | None:
    """Train one new configuration for one epoch and tell its trial PRUNED at step 1.

    Returns:
        ``(trial number, value, one-epoch state)``, or ``None`` when it failed (the trial is
        failed with its reason).
    """
    trial = study.ask()
    try:
        config = task.search_space(trial)
        own_seed = trial_seed(seed, trial.number)
        trial.set_user_attr("seed", own_seed)
        trial.set_user_attr(STAGE_ATTR, SCREEN)
        run = _train(task, config, None, 1, own_seed)
    except KeyboardInterrupt:
        with contextlib.suppress(Exception):  # the storage may be what was interrupted
            trial.set_user_attr("fail_reason", _INTERRUPTED)
            _fail(study, trial, CUT_OFF_FAILURE)
            study.enqueue_trial(dict(trial.params))
        raise
    except TaskContractError as exc:  # a task that breaks its contract: all would fail
        broken = exc.in_trial(task.name, f"trial {trial.number}")
        trial.set_user_attr("fail_reason", f"{type(broken).__name__}: {broken}")
        trial.set_user_attr(TRACEBACK_ATTR, traceback_text(exc))
        _fail(study, trial, REFUSED_FAILURE)
        raise broken from None
    except Exception as exc:
        reason = str(exc) if isinstance(exc, TrialFailure) else failure_reason(exc)
        trial.set_user_attr("fail_reason", reason)
        if not isinstance(exc, TrialFailure):
            trial.set_user_attr(TRACEBACK_ATTR, traceback_text(exc))
        if isinstance(exc, SettingError):  # a setting that cannot work: all would fail
            _fail(study, trial, REFUSED_FAILURE)
            raise
        _fail(study, trial, TASK_FAILURE)
        return None
    reason = "screened for one epoch by the one-epoch tuner"
    lab = {"budget": 1, "prune_reason": reason, STAGE_ATTR: SCREEN}  # (over a task's extra)
    for key, value in {**run.attrs(), **lab}.items():
        trial.set_user_attr(key, value)
    names = extra_names(run.extra, lab)
    if names:  # (which attributes are the task's own: results.csv's columns)
        trial.storage.set_trial_system_attr(trial._trial_id, EXTRAS_ATTR, names)
    trial.report(run.values[0], 1)
    study.tell(trial, state=TrialState.PRUNED)
    return trial.number, run.values[0], run.state


def _fail(study: optuna.Study, trial: optuna.Trial, kind: str) -> None:
    """Tell ``trial`` failed, having recorded how its failure counts as the lab records it on
    the trials it fails (:data:`~hyperlab.errors.FAILURE_ATTR`; a refused trial marked as
    refused): a tuner that reads the study later takes it for its configuration's failure only
    when ``kind`` is the task's."""
    if kind == REFUSED_FAILURE:
        trial.set_user_attr(REFUSED_ATTR, True)
    trial.set_user_attr(FAILURE_ATTR, kind)
    study.tell(trial, state=TrialState.FAIL)


def _train_fully(
    study: optuna.Study, task: Task, screened: FrozenTrial, state: Any, budget: int
) -> None:
    """Add the full trial of ``screened``: its one-epoch model trained on to ``budget`` epochs
    when ``state`` holds it, else its configuration trained afresh; a failure is added as a
    failed trial with its reason."""
    config = task.search_space(optuna.trial.FixedTrial(screened.params))  # type: ignore[arg-type]
    own_seed = int(screened.user_attrs.get("seed", 0))
    attrs: dict[str, Any] = {STAGE_ATTR: FULL, SCREENED_ATTR: screened.number, "seed": own_seed}
    try:
        if state is not None:
            run = _train(task, config, state, budget - 1, own_seed)
            run.values = [screened.intermediate_values[1], *run.values]
            run.curves = _joined(screened.user_attrs.get("curves") or {}, run.curves)
            attrs["budget"] = budget - 1
        else:
            run = _train(task, config, None, budget, own_seed)
            attrs.update(budget=budget, from_scratch=True)
    except TaskContractError as exc:  # (a task that breaks its contract: all would)
        raise exc.in_trial(task.name, f"the full training of trial {screened.number}") from None
    except (KeyboardInterrupt, SettingError):
        raise
    except Exception as exc:
        curves = exc.curves if isinstance(exc, TrialFailure) else {}
        attrs.update(
            fail_reason=f"full training failed: {failure_reason(exc)}",
            curves=curves,
            budget=max((len(c) for c in curves.values()), default=0),
        )
        attrs[FAILURE_ATTR] = TASK_FAILURE  # (its configuration failed, trained on)
        if not isinstance(exc, TrialFailure):
            attrs[TRACEBACK_ATTR] = traceback_text(exc)
        study.add_trial(_frozen(screened, TrialState.FAIL, None, {}, attrs))
        return
    values = dict(enumerate(run.values, start=1))
    frozen = _frozen(
        screened, TrialState.COMPLETE, run.values[-1], values, {**run.attrs(), **attrs}
    )
    names = extra_names(run.extra, attrs)
    if names:  # (which attributes are the task's own: results.csv's columns)
        frozen.system_attrs = {**frozen.system_attrs, EXTRAS_ATTR: names}
    study.add_trial(frozen)


def _frozen(
    screened: FrozenTrial,
    state: TrialState,
    value: float | None,
    intermediate: dict[int, float],
    attrs: dict[str, Any],
) -> FrozenTrial:
    return optuna.trial.create_trial(
        state=state,
        params=dict(screened.params),
        distributions=dict(screened.distributions),
        value=value,
        intermediate_values=intermediate,
        user_attrs=attrs,
    )


def _joined(first: dict[str, list[float]], rest: dict[str, list[float]]) -> dict[str, list[float]]:
    """Per-epoch curves of one model trained in two stretches (keys both stretches have)."""
    return {key: [*first[key], *rest[key]] for key in rest if key in first}


def _screened(study: optuna.Study) -> list[FrozenTrial]:
    """The study's finished screening trials."""
    return [
        t
        for t in study.get_trials(deepcopy=False, states=(TrialState.PRUNED,))
        if t.user_attrs.get(STAGE_ATTR) == SCREEN and 1 in t.intermediate_values
    ]


def _full_trials(study: optuna.Study) -> list[FrozenTrial]:
    """The study's full trials (complete or failed)."""
    return [t for t in study.get_trials(deepcopy=False) if t.user_attrs.get(STAGE_ATTR) == FULL]


def _best(screened: list[FrozenTrial], k: int, sign: float) -> list[FrozenTrial]:
    """The ``k`` screening trials with the best one-epoch values, best first (``sign``: +1
    when minimizing, -1 when maximizing; ties go to the earlier trial)."""
    return sorted(screened, key=lambda t: (sign * t.intermediate_values[1], t.number))[:k]


def _requeue_running(study: optuna.Study) -> None:
    """Fail the trials an ended process left running, as cut off, and queue their parameters
    again (only this tuner's process runs the study, under the lock: a running trial is an
    orphan)."""
    for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        study._storage.set_trial_user_attr(t._trial_id, "fail_reason", _INTERRUPTED)
        study._storage.set_trial_user_attr(t._trial_id, FAILURE_ATTR, CUT_OFF_FAILURE)
        study._storage.set_trial_state_values(t._trial_id, TrialState.FAIL)
        study.enqueue_trial(dict(t.params))


@TUNERS.add(
    "one-epoch",
    "train every configuration one epoch, then the k best to the full budget (trials = "
    "configurations; Egele et al. 2023)",
)
def one_epoch(
    *,
    seed: int | None = None,
    space: Any = None,
    task: Task | None = None,
    k: int | None = None,
    sampler: str = "random",
    **_: Any,
) -> OneEpochTuner:
    """The one-epoch baseline; ``k`` configurations are trained fully (default: a tenth of
    the trials, rounded up), ``sampler`` draws them (``"random"`` or ``"qmc"``)."""
    check_task("one-epoch", task)
    if k is not None:
        if isinstance(k, bool) or not isinstance(k, int):
            raise InputTypeError(f"k must be an integer number of configurations, got {k!r}")
        if k < 1:
            raise InputError(f"k must be at least 1 (configurations trained fully), got {k}")
    if not isinstance(sampler, str) or sampler not in SAMPLERS:
        raise InputError(f"sampler must be one of {sorted(SAMPLERS)}, got {sampler!r}")
    return OneEpochTuner(seed=seed, k=k, sampler=sampler)
