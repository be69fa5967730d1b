"""What a tuner's suggestions cost: seconds per suggestion on a study that already has trials.

A model-based tuner gets slower as a study grows (a GP refits on every trial, a network is
retrained now and then), so its cost is measured at a given number of completed trials.
:func:`suggestion_cost` fills a study with ``trials`` random configurations of a task (the same
ones for every tuner with the same seed), lets the tuner suggest ``suggestions`` more and times
each: Optuna's ``ask`` plus the task's ``suggest_*`` calls (relative samplers work in ``ask``,
independent ones in ``suggest``); every suggestion is told its true value before the next. The
first suggestion is reported apart: a tuner that keeps a model builds it from scratch there.
The mean of the others is the amortized cost when they span the tuner's periodic work (the
``neural`` tuner retrains its network once the trials have grown by a tenth, so ``trials // 10
+ 1`` suggestions include one retraining).
"""

from __future__ import annotations

import math
import time
import warnings
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import optuna

from hyperlab.errors import InputError, InputTypeError
from hyperlab.tasks.base import Task


@dataclass
class SuggestionCost:
    """Seconds per suggestion of one tuner on a study of ``trials`` completed trials.

    Attributes:
        tuner: The tuner's registered name.
        task: The task's name.
        trials: Completed trials in the study before the first suggestion.
        first_s: The first suggestion (a model built from scratch).
        times_s: The following suggestions, in order.
        stopped_early: ``max_seconds`` ran out before every suggestion asked for was timed.
    """

    tuner: str
    task: str
    trials: int
    first_s: float
    times_s: list[float] = field(default_factory=list)
    stopped_early: bool = False

    @property
    def median_s(self) -> float:
        """Median of :attr:`times_s` (``nan`` when there is none)."""
        return float(np.median(self.times_s)) if self.times_s else math.nan

    @property
    def mean_s(self) -> float:
        """Mean of :attr:`times_s`: the amortized cost when they span the periodic work."""
        return float(np.mean(self.times_s)) if self.times_s else math.nan

    def as_dict(self) -> dict[str, Any]:
        """Plain data: the fields plus ``median_s``, ``mean_s`` and ``max_s``."""
        worst = max(self.times_s) if self.times_s else math.nan
        return {**asdict(self), "median_s": self.median_s, "mean_s": self.mean_s, "max_s": worst}


def filled_study(task: Task, trials: int, seed: int = 0) -> optuna.Study:
    """A study holding ``trials`` completed, uniformly random configurations of ``task``.

    The configurations are drawn on the encoded search space (:class:`~hyperlab.space.
    SpaceEncoder`), so the same ``seed`` gives every tuner the same study.
    """
    from optuna.trial import create_trial

    from hyperlab.space import SpaceEncoder

    dists = task.distributions()
    encoder = SpaceEncoder(dists)
    configs = encoder.decode(np.random.default_rng(seed).random((trials, encoder.dim)))
    study = optuna.create_study(
        direction="maximize" if task.direction == "maximize" else "minimize"
    )
    study.add_trials(
        [create_trial(params=c, distributions=dists, value=task.evaluate(c).value) for c in configs]
    )
    return study


def suggestion_cost(
    tuner: str,
    task: str | Task,
    trials: int,
    *,
    suggestions: int = 10,
    max_seconds: float | None = None,
    seed: int = 0,
    tuner_options: Mapping[str, Any] | None = None,
) -> SuggestionCost:
    """Time ``tuner``'s next suggestions on a study that already holds ``trials`` trials.

    Args:
        tuner: A registered tuner name.
        task: A registered task name or a :class:`~hyperlab.tasks.Task`.
        trials: Completed random trials in the study first (>= 0).
        suggestions: Suggestions timed after the first (>= 1).
        max_seconds: Stop timing once this many seconds have been spent in all (the first
            suggestion is always timed, and one more); ``None``: no limit.
        seed: Seeds the random trials and the tuner.
        tuner_options: Keyword options of the tuner's factory.

    Returns:
        The first suggestion's time and the following ones'.

    Raises:
        InputError: ``trials`` is negative, ``suggestions`` below 1, ``max_seconds`` not
            positive, or the tuner takes no option of that name.
        InputTypeError: One of them is not a number.
        UnknownNameError: The tuner or task is not registered.
    """
    _check_settings(trials, suggestions, max_seconds)
    options = dict(tuner_options or {})
    _check_options(tuner, options)
    from hyperlab.lab.plugins import make_tuner
    from hyperlab.registry import TASKS

    the_task = TASKS.create(task) if isinstance(task, str) else task
    study = filled_study(the_task, trials, seed)
    study.sampler = make_tuner(tuner, options, seed=seed, task=the_task)
    times: list[float] = []
    spent = 0.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        while len(times) < suggestions + 1:
            if max_seconds is not None and len(times) >= 2 and spent >= max_seconds:
                break
            start = time.perf_counter()
            trial = study.ask()
            config = the_task.search_space(trial)
            times.append(time.perf_counter() - start)
            spent += times[-1]
            study.tell(trial, the_task.evaluate(config).value)
    return SuggestionCost(
        tuner,
        the_task.name,
        trials,
        times[0],
        times[1:],
        stopped_early=len(times) < suggestions + 1,
    )


def _check_settings(trials: Any, suggestions: Any, max_seconds: Any) -> None:
    for name, value, low in (("trials", trials, 0), ("suggestions", suggestions, 1)):
        if isinstance(value, bool) or not isinstance(value, int):
            raise InputTypeError(f"{name} must be an int, got {value!r}")
        if value < low:
            raise InputError(f"{name} must be at least {low}, got {value}")
    if max_seconds is not None:
        if isinstance(max_seconds, bool) or not isinstance(max_seconds, int | float):
            raise InputTypeError(f"max_seconds must be a number or None, got {max_seconds!r}")
        if not max_seconds > 0:
            raise InputError(f"max_seconds must be positive, got {max_seconds!r}")


def _check_options(tuner: str, options: dict[str, Any]) -> None:
    """The tuner is registered and takes every option; the seed, space and task are ours."""
    from hyperlab.registry import TUNERS

    TUNERS.check(tuner)
    for key in options:
        if key in ("seed", "space", "task"):
            raise InputError(f"tuner option {key!r} is set by suggestion_cost, not by an option")
        if not TUNERS.takes(tuner, key):
            taken = sorted(TUNERS.options(tuner) or ())
            raise InputError(f"tuner {tuner!r} takes no option {key!r}; it takes: {taken}")
