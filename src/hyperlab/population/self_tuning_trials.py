"""The ``tpe-hd`` and ``random-hd`` tuners: trials whose models set their own learning rate.

:class:`SelfTuningTrials` wraps an ordinary tuner (the registered ``tpe`` or ``random``): it
draws every hyperparameter as that tuner would, and the learning rate it draws is where the
model's rate *starts*. The lab then trains each trial's model once, for the full budget, through
the task's :meth:`~hyperlab.tasks.Task.train_segment` with its optimizer swapped for the
hypergradient twin (:func:`~hyperlab.population.selftuning.hypergradient_twin`), one epoch per
segment, so every epoch is reported (pruners may stop a trial) and the rate the model learned
is recorded after each one: the trial's ``schedule`` attribute holds one entry per epoch, its
``learned`` the rate at that epoch's end, as a self-tuning population member's does, so the
report draws it and ``results.csv`` gives the final one as ``learned_<name>`` (a pruned trial's
schedule, up to the epoch it was stopped at, is kept as well).
"""

from __future__ import annotations

import contextlib
import functools
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import optuna
from optuna.distributions import BaseDistribution
from optuna.samplers import BaseSampler
from optuna.study import Study
from optuna.trial import FrozenTrial, TrialState

from hyperlab.errors import (
    HyperlabError,
    InputError,
    InputTypeError,
    TaskContractError,
    TrialFailure,
    user_stacklevel,
)
from hyperlab.population.randomness import seeded_globals, segment_seed
from hyperlab.population.replay import member_test_score
from hyperlab.population.segments import check_continues, divergence
from hyperlab.population.selftuning import (
    RecordingWrapper,
    check_wrapped,
    hypergradient_twin,
    learning_rate_of,
    with_learned_rate,
)
from hyperlab.registry import TUNERS
from hyperlab.tasks.base import EpochCallback, Evaluation, Segment, Task, check_segment

#: The trial attribute that says its model trained with hypergradient optimizers.
HYPERGRADIENT_ATTR = "hypergradient"


class SelfTuningTrials(BaseSampler):
    """An Optuna sampler whose trials train self-tuning models (see the module docstring).

    Args:
        sampler: The tuner that draws the hyperparameters (the learning rate as the start).
        task: The task, checked by :func:`check_task`.
        name: The registered name, for messages.
    """

    def __init__(self, sampler: BaseSampler, task: Task, name: str) -> None:
        if not isinstance(sampler, BaseSampler):
            raise InputTypeError(f"sampler must be an Optuna sampler, got {sampler!r}")
        self.sampler, self.name = sampler, name
        self.learned = check_task(name, task)
        startup = getattr(sampler, "startup_trials", None)
        if startup is not None:
            self.startup_trials = startup

    # -- drawing: the wrapped tuner's ---------------------------------------------------------

    def reseed_rng(self) -> None:
        self.sampler.reseed_rng()

    def infer_relative_search_space(
        self, study: Study, trial: FrozenTrial
    ) -> dict[str, BaseDistribution]:
        return self.sampler.infer_relative_search_space(study, trial)

    def sample_relative(
        self, study: Study, trial: FrozenTrial, search_space: dict[str, BaseDistribution]
    ) -> dict[str, Any]:
        return self.sampler.sample_relative(study, trial, search_space)

    def sample_independent(
        self, study: Study, trial: FrozenTrial, param_name: str, param_distribution: Any
    ) -> Any:
        return self.sampler.sample_independent(study, trial, param_name, param_distribution)

    def before_trial(self, study: Study, trial: FrozenTrial) -> None:
        self.sampler.before_trial(study, trial)

    def after_trial(
        self, study: Study, trial: FrozenTrial, state: TrialState, values: Sequence[float] | None
    ) -> None:
        self.sampler.after_trial(study, trial, state, values)

    # -- training: the lab's objective calls these --------------------------------------------

    def evaluate_trial(
        self,
        task: Task,
        config: dict[str, Any],
        budget: int | None,
        seed: int,
        on_epoch: EpochCallback | None,
    ) -> Evaluation:
        """Train ``config``'s model ``budget`` epochs (``None``: the task's maximum) through
        ``task.train_segment``, its optimizers swapped for their hypergradient twins; call
        ``on_epoch`` after each epoch (it may prune) and return the evaluation, whose
        ``extra`` holds the task's own (the last segment's ``extra``: a ``val_accuracy``,
        say), the per-epoch ``schedule`` and the ``hypergradient`` mark.

        Raises:
            InputError: ``budget`` is out of range.
            TaskContractError: The task trained without passing its optimizer through
                ``wrap_optimizer``, built one without a hypergradient twin (no rate could be
                learned), or returned a segment :func:`check_segment` refuses: every trial
                would, so the run stops.
            TrialFailure: The training diverged (a score that is not finite).
        """
        check_task(self.name, task)
        last = task.max_budget if budget is None else budget
        if isinstance(last, bool) or not isinstance(last, int) or not 1 <= last <= task.max_budget:
            raise InputError(f"budget must be in 1..{task.max_budget} for {task.name}, got {last}")
        return _train(task, self.name, self.learned, config, last, int(seed), on_epoch)

    def member_test_score(self, study: Study, task: Task, trial: FrozenTrial) -> float | None:
        """The held-out test score of ``trial``'s model: one fresh model trained on all the
        training data for the trial's epochs with the hypergradient twins, from the drawn
        start rate (:func:`hyperlab.population.member_test_score`); ``None``, with a warning
        that says why, from a task that gives ``test_score`` but not ``_schedule_test_score``
        (its ``test_score`` cannot train with the twin)."""
        if _only_plain_test_score(task):
            warnings.warn(
                f"no held-out test score for {self.name!r}'s best trial: task {task.name!r} "
                "writes test_score, which trains without the hypergradient twin, but not "
                "_schedule_test_score(schedule, seed, wrap_optimizer), through which a model "
                "that learns its rate is scored "
                "(docs/your-model.md, section 6, in a checkout of hyperlab's source)",
                stacklevel=user_stacklevel(),
            )
            return None
        return member_test_score(study, task, trial)


def _only_plain_test_score(task: Task) -> bool:
    """Whether ``task`` writes ``test_score`` but neither ``_schedule_test_score`` nor
    ``schedule_test_score`` (what :meth:`Task.continues_training` reads for its own method)."""
    kind = type(task)
    return kind.test_score is not Task.test_score and (
        kind._schedule_test_score is Task._schedule_test_score
        and kind.schedule_test_score is Task.schedule_test_score
    )


def check_task(tuner: str, task: Any) -> str:
    """The name of ``task``'s learning rate, after checking that the trials of ``tuner`` can
    learn it: a Task that continues training (:func:`~hyperlab.population.segments.check_continues`)
    and names a ``learning_rate_param`` of its space
    (:func:`~hyperlab.population.selftuning.learning_rate_of`).

    Raises:
        InputError: No task (a plain objective), a task that cannot continue training or
            that names no ``learning_rate_param`` (or one not in its space).
        InputTypeError: Not a hyperlab Task.
    """
    does = "trains each trial's model through a task's train_segment with a hypergradient optimizer"
    return learning_rate_of(check_continues(tuner, task, does), repr(tuner))


def _train(
    task: Task,
    tuner: str,
    learned: str,
    config: dict[str, Any],
    budget: int,
    seed: int,
    on_epoch: EpochCallback | None,
) -> Evaluation:
    """The model of ``config`` trained one epoch per segment, as a replay retraces it;
    ``tuner`` names the tuner in the message that refuses a task that wraps no optimizer."""
    state: Any = None
    curves: dict[str, list[float]] = {}
    schedule: list[dict[str, Any]] = []
    seconds, began = 0.0, time.perf_counter()
    segment: Segment | None = None
    for epoch in range(budget):
        segment = _epoch(task, tuner, config, state, epoch, seed)
        state, seconds = segment.state, seconds + segment.wall_time
        for key, values in segment.curves.items():
            curves.setdefault(key, []).extend(float(v) for v in values)
        entry: dict[str, Any] = {"start": epoch, "end": epoch + 1, "config": dict(config)}
        if learned in segment.learned:
            entry["learned"] = {learned: float(segment.learned[learned])}
        schedule.append(entry)
        schedule[0]["seed"] = seed  # (the seed a replay or the test score starts from)
        if on_epoch is not None:
            _report(on_epoch, epoch + 1, float(segment.values[-1]), curves, schedule)
    assert segment is not None  # budget >= 1
    return Evaluation(
        value=float(segment.values[-1]),
        std_err=float(segment.std_err),
        budget=budget,
        curves=curves,
        fold_values=[float(v) for v in segment.fold_values],
        wall_time=seconds or time.perf_counter() - began,  # (a task may not time segments)
        extra={**segment.extra, "schedule": schedule, HYPERGRADIENT_ATTR: True},
    )


def _report(
    on_epoch: EpochCallback,
    epoch: int,
    value: float,
    curves: dict[str, list[float]],
    schedule: list[dict[str, Any]],
) -> None:
    """``on_epoch``'s report of ``epoch``; a prune it raises carries the schedule so far (the
    rate learned up to the stop), for the pruned trial's attributes."""
    try:
        on_epoch(epoch, value, curves)
    except optuna.TrialPruned as exc:
        exc.extra = {"schedule": schedule, HYPERGRADIENT_ATTR: True}  # type: ignore[attr-defined]
        raise


def _epoch(
    task: Task, tuner: str, config: dict[str, Any], state: Any, epoch: int, seed: int
) -> Segment:
    """One epoch of the model from ``state`` (``None``: fresh), with the hypergradient twins
    and the global random streams seeded as a population member's segment is."""
    wrap = RecordingWrapper(functools.partial(_twin, task.name))
    with _broken_contract(task.name), seeded_globals(segment_seed(seed, epoch)):
        segment = task.train_segment(config, state, 1, seed=seed, wrap_optimizer=wrap)
    with _broken_contract(task.name):  # (also where train_segment is the task's own)
        check_segment(task.name, segment, 1)
    if state is None:
        instead = "tune it with a tuner that does not learn the rate"
        check_wrapped(wrap, task.name, f"the trials of {tuner!r}", instead)
    diverged = divergence(segment, epoch)
    if diverged is not None:
        raise TrialFailure(diverged, segment.curves)
    return with_learned_rate(task, segment, wrap)


@contextlib.contextmanager
def _broken_contract(task: str) -> Iterator[None]:
    """Turn an error of ours met in ``task``'s segment (:func:`check_segment`'s refusal of what
    it returned, say) into a :class:`TaskContractError`, which stops the run at the trial it
    is met in (every trial would meet it), as a plain trial's ``evaluate`` does; a
    :class:`TrialFailure` (a training that diverged) passes as it is, and fails the trial
    alone, as does an error of the task's own code."""
    try:
        yield
    except (TrialFailure, TaskContractError):
        raise
    except HyperlabError as exc:
        raise TaskContractError(str(exc).removeprefix(f"task {task!r}: ")) from exc


def _twin(task: str, optimizer: Any) -> Any:
    """The hypergradient twin of ``optimizer``; an optimizer that has none stops the run (every
    trial would build it), naming ``task``.

    Raises:
        TaskContractError: The optimizer cannot be swapped (another kind, AMSGrad, ...).
    """
    try:
        return hypergradient_twin(optimizer)
    except (InputError, InputTypeError) as exc:
        raise TaskContractError(f"task {task!r} cannot train with a learned rate: {exc}") from None


def _factory(name: str, base: str) -> Callable[..., SelfTuningTrials]:
    """The factory of ``name``: ``base``'s sampler with its options, wrapped."""

    def factory(
        *, seed: int | None = None, space: Any = None, task: Task | None = None, **options: Any
    ) -> SelfTuningTrials:
        check_task(name, task)
        assert task is not None  # (check_task refuses None)
        inner = TUNERS.create(base, seed=seed, space=space, task=task, **options)
        return SelfTuningTrials(inner, task, name)

    factory.__doc__ = (
        f"``{base}`` drawing every hyperparameter, the learning rate as where the model's rate "
        "starts; each trial's model learns its rate by hypergradient while it trains; "
        f"``{base}``'s options apply."
    )
    factory.forwards_to = TUNERS.builders(base)[0]  # type: ignore[attr-defined]
    return factory


tpe_hd = TUNERS.add(
    "tpe-hd",
    "tpe drawing the start rate; each trial's model learns its rate by hypergradient",
)(_factory("tpe-hd", "tpe"))
random_hd = TUNERS.add(
    "random-hd",
    "random search drawing the start rate; each trial's model learns its rate by hypergradient",
)(_factory("random-hd", "random"))
