"""The neural curve pruners' predictor, optionally pretrained on other tasks' stored curves.

``pretrain`` (an option of ``curve`` and ``curve-halving``) holds replay tasks with the
search space of the task being pruned, never that task itself: its own curves would leak into
the prediction. The registry hands the factories the tasks themselves (the option is declared
with ``reads_tasks``; a user names them). The pretrained network is a fixed prior: pretraining
(its curve draw and network) is seeded by ``pretrain_seed``, not by the study's ``seed``, and is
done once per process for each set of tasks and settings (:func:`pretrained`); each study gets
a copy, whose refits its own ``seed`` seeds.
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import optuna

from hyperlab.errors import InputError, InputTypeError

if TYPE_CHECKING:
    from hyperlab.curves.neural import NeuralCurvePredictor
    from hyperlab.tasks.base import Task
    from hyperlab.tasks.replay_base import ReplayTask

#: Options of the neural curve pruners that configure the predictor's pretraining.
PRETRAIN_OPTIONS = ("pretrain", "pretrain_curves", "pretrain_seed")

#: Pretrained predictors by (task names, curves per task, pretraining seed, options), so that
#: several studies in one process (``compare`` over seeds) pretrain once; each gets a copy.
_PRETRAINED: dict[str, Any] = {}
_PRETRAINED_LOCK = threading.Lock()
_PRETRAINED_MAX = 8


def pretrain_data(
    tasks: Sequence[Task], n_per_task: int = 100, seed: int = 0
) -> tuple[list[np.ndarray], list[dict[str, Any]], list[int], dict[str, Any]]:
    """Complete curves of random configurations of replay tasks, for pretraining.

    Args:
        tasks: Replay tasks (:class:`~hyperlab.tasks.replay_base.ReplayTask`, for example
            ``TASKS.create("lcbench-126026")``) with one search space. Never the task being
            pruned: its own curves would leak into the prediction.
        n_per_task: Random configurations drawn (seeded) from each task's search space.
        seed: Seed of the configuration draw.

    Returns:
        ``(curves, configs, budgets, distributions)``: validation-loss curves (each of its
        task's full length), their configurations, their budgets and the shared search space.
    """
    from hyperlab.optuna_logs import quiet_optuna

    replays, distributions = check_tasks(tasks)
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise InputTypeError(f"pretrain_seed (the pretraining seed) must be an int, got {seed!r}")
    if isinstance(n_per_task, bool) or not isinstance(n_per_task, int) or n_per_task < 1:
        raise InputError(f"pretrain_curves must be a positive int, got {n_per_task!r}")
    curves: list[np.ndarray] = []
    configs: list[dict[str, Any]] = []
    budgets: list[int] = []
    for task in replays:
        with quiet_optuna():
            study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=seed))
        for _ in range(n_per_task):
            trial = study.ask()
            config = task.search_space(trial)
            study.tell(trial, 0.0)
            curves.append(np.asarray(task.curve(config).curves["val_loss"], dtype=np.float64))
            configs.append(config)
            budgets.append(int(task.max_budget))
    return curves, configs, budgets, distributions


def check_tasks(tasks: Any) -> tuple[list[ReplayTask], dict[str, Any]]:
    """``tasks`` as replay tasks, and the search space they share (each bad task named).

    Raises:
        InputTypeError: ``tasks`` is not a sequence of tasks (a task name, say: the registry
            turns names into tasks for the factories).
        InputError: ``tasks`` is empty, holds a task that is not a replay task, or tasks with
            different search spaces.
    """
    from hyperlab.tasks.base import Task
    from hyperlab.tasks.replay_base import ReplayTask as Replay

    if isinstance(tasks, str) or not isinstance(tasks, Sequence):
        raise InputTypeError(f"pretrain must be a list of replay tasks, got {tasks!r}")
    if not tasks:
        raise InputError("pretrain must hold one or more replay tasks, got none")
    replays: list[ReplayTask] = []
    distributions: dict[str, Any] = {}
    for task in tasks:
        if not isinstance(task, Task):
            raise InputTypeError(f"pretrain must hold tasks, got {task!r}")
        if not isinstance(task, Replay):
            raise InputError(
                f"pretrain task {task.name!r} is not a replay task (pretraining reads stored "
                f"curves)"
            )
        space = dict(task.distributions())
        if distributions and sorted(space) != sorted(distributions):
            raise InputError(
                f"pretrain task {task.name!r} has parameters {sorted(space)}, the others "
                f"{sorted(distributions)}; pretrain on tasks with one search space"
            )
        distributions.update(space)
        replays.append(task)
    return replays, distributions


def neural_predictor(options: dict[str, Any], seed: int | None) -> NeuralCurvePredictor:
    """The :class:`~hyperlab.curves.neural.NeuralCurvePredictor` of a neural curve pruner.

    ``options`` (the factory's) lose the keys read here: ``predictor_options`` (passed to the
    predictor), ``pretrain`` (the tasks to pretrain on, see :func:`pretrain_data`),
    ``pretrain_curves`` (random curves of each, default 100) and ``pretrain_seed`` (default 0).
    A pretrained predictor also sets ``min_finished`` to 1 unless given: it acts as soon as one
    trial gives it a value to beat.
    """
    from hyperlab.curves.neural import NeuralCurvePredictor

    tasks = options.pop("pretrain", None)
    n_pretrain = options.pop("pretrain_curves", 100)
    pretrain_seed = options.pop("pretrain_seed", 0)
    predictor_options = pop_predictor_options(options)
    if tasks is None:
        return NeuralCurvePredictor(seed=seed, **predictor_options)
    predictor = pretrained(tasks, n_pretrain, pretrain_seed, predictor_options)
    predictor.seed = seed
    options.setdefault("min_finished", 1)
    return predictor


def pop_predictor_options(options: dict[str, Any]) -> dict[str, Any]:
    """Take ``predictor_options`` out of a pruner factory's ``options``: a dict, or ``None``
    for none.

    Raises:
        InputTypeError: It is neither.
    """
    value = options.pop("predictor_options", None)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise InputTypeError(f"predictor_options must be a dict or None, got {value!r}")
    return value


def pretrained(
    tasks: Sequence[Task], n_pretrain: int, seed: int, predictor_options: dict[str, Any]
) -> NeuralCurvePredictor:
    """A copy of a :class:`~hyperlab.curves.neural.NeuralCurvePredictor` pretrained on
    ``n_pretrain`` curves of each of ``tasks`` (cached by the tasks' descriptions, which hold
    their names and options, and the settings)."""
    from hyperlab.curves.neural import NeuralCurvePredictor

    described = [sorted(task.describe().items()) for task in check_tasks(tasks)[0]]
    key = repr((described, n_pretrain, seed, sorted(predictor_options.items())))
    with _PRETRAINED_LOCK:
        if key not in _PRETRAINED:
            predictor = NeuralCurvePredictor(seed=seed, **predictor_options)
            curves, configs, budgets, distributions = pretrain_data(tasks, n_pretrain, seed)
            predictor.pretrain(curves, configs, budgets, distributions=distributions)
            if len(_PRETRAINED) >= _PRETRAINED_MAX:
                del _PRETRAINED[next(iter(_PRETRAINED))]
            _PRETRAINED[key] = predictor
        return copy.deepcopy(_PRETRAINED[key])
