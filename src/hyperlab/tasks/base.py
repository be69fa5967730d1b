"""The ``Task`` extension point: what is being tuned.

A task owns a search space (a function ``trial -> config`` written with Optuna's
``suggest_*``), evaluates one configuration at a budget (epochs) and a seed, and returns an
:class:`Evaluation`. A task declares which way its score is optimized (``direction``, a loss
is minimized); the lab optimizes that way.

A task whose training can stop and continue also implements :meth:`Task._train_segment`
(state in, more epochs, state out, as a :class:`Segment`) and names in ``mutable_params`` the
hyperparameters that may change between segments; population-based training
(:mod:`hyperlab.population`) needs both.
"""

from __future__ import annotations

import json
import math
import numbers
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import numpy as np
import optuna
from optuna.distributions import BaseDistribution

from hyperlab.direction import check_direction, sign
from hyperlab.errors import (
    InputError,
    InputTypeError,
    TaskContractError,
    TrialFailure,
    counted,
    with_article,
)
from hyperlab.tasks.config_checks import captured, check_config, check_schedule

#: Called after every epoch with ``(epoch, value, curves_so_far)``; may raise
#: ``optuna.TrialPruned`` to stop the evaluation.
EpochCallback = Callable[[int, float, dict[str, list[float]]], None]

#: Names of the per-epoch curves an evaluation may carry.
CURVE_KEYS = ("train_loss", "val_loss", "train_metric", "val_metric")
#: Trial attributes the lab writes itself, from an evaluation's own fields and the trial's
#: seed: an ``extra`` (an evaluation's, a segment's) under one of these names would replace the
#: lab's value (a trial's epochs, its seed), so it is refused.
LAB_ATTRS = ("seed", "curves", "std_err", "budget", "wall_time", "fold_values")
#: Trial attributes that mark a trial trained in segments by a self-tuning tuner (``tpe-hd``),
#: which the report and the held-out test score read as such: a task's own evaluation may not
#: name them (a segment's ``extra`` may: the tuner's own values replace them).
TUNER_ATTRS = ("schedule", "hypergradient")
#: Trial attributes that mark a population member's trial (``pbt``, ``pb2``): its index and its
#: lineage, which the report, the summary and ``hyperlab replay`` read to tell a member from
#: another trial; no ``extra`` may name them (a ``tpe-hd`` trial would read as a member).
MEMBER_ATTR, LINEAGE_ATTR = "member", "lineage"
POPULATION_ATTRS = (MEMBER_ATTR, LINEAGE_ATTR)
#: A trial's system attribute: the names of the user attributes that hold its task's own
#: extras (an ``Evaluation``'s or a ``Segment``'s ``extra``, as :func:`extra_names` gives
#: them), written beside them, so that what reads a trial (``results.csv``'s columns) tells
#: them from the lab's and the tuners' attributes without a list of the lab's names.
EXTRAS_ATTR = "task_extras"
#: What an evaluation's ``std_err`` and ``fold_values`` are over (:attr:`Task.spread_over`):
#: the folds of one cross-validation, whose training sets overlap, or independent trainings
#: under several seeds (a table of several seeds' results).
FOLDS, SEEDS = "folds", "seeds"
SPREADS = (FOLDS, SEEDS)

#: Applied by :meth:`Task.train_segment` to each optimizer the task builds (it returns the
#: optimizer to train with, e.g. a hypergradient twin that learns its own rate).
OptimizerWrapper = Callable[[Any], Any]


@dataclass
class Evaluation:
    """The result of evaluating one configuration.

    :meth:`Task.evaluate` checks what ``_evaluate`` returns (:func:`check_evaluation`): a
    ``value``, ``std_err``, fold value or curve point that is not a number (text, a bool,
    ``None``), ``fold_values`` or ``curves`` of another kind than described here (a curve's
    name that is not text, a curve longer than the epochs trained), or a negative ``std_err``
    is a mistake in the task's code and stops the run; a NaN or infinite ``value``,
    ``std_err`` or fold value (a training that diverged) fails its trial only, and a curve may
    hold NaN or infinity (the epochs where it diverged).

    Attributes:
        value: Mean validation score over the folds at the last epoch (better in the task's
            ``direction``: lower for a loss).
        std_err: Standard error of ``value`` over the folds (over the seeds for a task whose
            :attr:`Task.spread_over` is ``"seeds"``), >= 0 (0.0 for noiseless tasks); 0.0
            (the default) beside ``fold_values`` of two or more finite scores that differ:
            :meth:`Task.evaluate` fills in the standard error of their mean.
        budget: Epochs (or other budget units) actually used; 0 (the default): the budget
            :meth:`Task.evaluate` asked for, filled in there.
        curves: Per-epoch means over folds: ``train_loss``, ``val_loss`` and optionally
            ``train_metric``/``val_metric`` (named by text); each a list of length ``budget``
            (one point per epoch, epoch 1 first; a longer one is refused). The diagnosis
            reads the losses as lower-is-better with 0 the best, and a metric as an accuracy,
            a fraction in [0, 1] (one outside it is left out of the report's diagnosis).
        fold_values: The per-fold (or per-seed) scores behind ``value`` and ``std_err``.
        wall_time: Seconds spent (simulated seconds for replayed tasks); 0.0 (the default):
            :meth:`Task.evaluate` fills in the seconds it measured.
        extra: Anything else worth keeping (e.g. accuracy), JSON-serializable.
    """

    value: float
    std_err: float = 0.0
    budget: int = 0
    curves: dict[str, list[float]] = field(default_factory=dict)
    fold_values: list[float] = field(default_factory=list)
    wall_time: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Plain-data form (JSON-serializable)."""
        return asdict(self)


def check_score(value: Any, what: str) -> float:
    """``value`` as a float when it is a number: an int, a float (NumPy's included) or a
    one-number tensor; never a bool or text, which ``float()`` would read silently.

    Args:
        value: A value a user's code returned.
        what: What returned it, for the message (e.g. ``"objective"``).

    Raises:
        TrialFailure: ``value`` is not a number; the message names it and its type.
    """
    number = _as_number(value)
    if number is None:
        raise TrialFailure(f"{what} returned {_shown(value)}, not a number")
    return number


def check_reported(task: Task, value: Any, epoch: int | None = None) -> float:
    """``value`` as a float when it is a number (as :func:`check_score` reads one): a score
    ``task``'s ``_evaluate`` reported to ``on_epoch`` at ``epoch``, or (``epoch`` ``None``)
    returned as its ``Evaluation.value``. NaN and infinity pass: a training may diverge, which
    fails its trial, not the run.

    Raises:
        TaskContractError: ``value`` is not a number (text, a bool, ``None``): a mistake in
            the task's code, which every trial would repeat.
    """
    number = _as_number(value)
    if number is not None:
        return number
    source = f"{type(task).__name__}._evaluate"
    said = (
        f"returned Evaluation.value {_shown(value)}"
        if epoch is None
        else f"reported {_shown(value)} to on_epoch at epoch {epoch}"
    )
    raise TaskContractError(
        f"{source} {said}, not a number (a score is a float, or a tensor of one number)"
    )


def check_evaluation(task: Task, result: Any, budget: int | None = None) -> Evaluation:
    """``result``, what ``task``'s ``_evaluate`` returned, when it is an :class:`Evaluation`
    whose numbers are numbers (as :func:`check_score` reads one), with them as floats:
    ``value`` (:func:`check_reported`), ``std_err`` (>= 0; 0.0 beside two or more finite fold
    values that differ is returned as the standard error of their mean), each of
    ``fold_values`` (a list) and each point of each curve of ``curves`` (a dict of curve name,
    text, -> list). NaN and
    infinity pass, as for ``value``: :func:`not_finite` says which fail a trial. Given the
    ``budget`` ``_evaluate`` was asked for, ``result.budget`` must be the epochs trained, one
    of 1..``budget``, or 0 for all of them (returned as ``budget``, an int), checked first (a
    wrong one would be told as curves too long); and no curve may hold more points than the
    epochs trained (a curve holds one number per epoch, from epoch 1; a shorter one passes).

    Raises:
        TaskContractError: ``result`` is no :class:`Evaluation`, its ``budget`` is not the
            epochs trained (given the ``budget`` asked for), one of those numbers is not a
            number (text, a bool, ``None``), ``fold_values``, ``curves`` or a curve is of
            another kind, a curve's name is not text, a curve is longer than the epochs
            trained, ``std_err`` is negative, or ``extra`` is not a dict keyed by text whose
            values are JSON-serializable (a trial stores it), or names an attribute the lab
            writes itself (:data:`LAB_ATTRS`) or one that marks a population member
            (:data:`POPULATION_ATTRS`): a mistake in the task's code, which every
            trial would repeat. The message names the field and the value.
    """
    if not isinstance(result, Evaluation):
        raise TaskContractError(
            f"{type(task).__name__}._evaluate returned {result!r:.60} of type "
            f"{type(result).__name__}, not an Evaluation (return "
            "hyperlab.tasks.Evaluation(value=...))"
        )
    used = result.budget if budget is None else _check_used(task, result.budget, budget)
    value = check_reported(task, result.value)
    std_err = _field_number(task, "std_err", result.std_err, _STD_ERR)
    if std_err < 0 and math.isfinite(std_err):  # (an infinite one fails its trial only)
        raise _broken_field(task, f"std_err {std_err!r}, a negative number ({_STD_ERR})")
    folds = _field_numbers(task, "fold_values", result.fold_values, "one score per fold")
    if std_err == 0 and len(folds) >= 2 and all(math.isfinite(f) for f in folds):
        std_err = standard_error(folds)  # not given: that of the folds' mean, not "± 0"
    curves = result.curves
    if not isinstance(curves, dict):
        raise _broken_field(
            task,
            f"curves {_short(curves)}, {with_article(type(curves).__name__)}, not a dict of "
            "curve name -> one number per epoch",
        )
    for key in curves:
        if not isinstance(key, str):
            raise _broken_field(
                task,
                f"curves key {_shown(key)}, not a curve's name (text, such as 'val_loss')",
            )
    checked = {
        key: _field_numbers(task, f"curves[{key!r}]", curve, "a curve holds one number per epoch")
        for key, curve in curves.items()
    }
    if budget is not None:
        _check_curve_lengths(task, checked, used, budget)
    unstorable = _unstorable(result.extra)
    if unstorable is not None:
        raise _broken_field(task, unstorable)
    return replace(
        result, value=value, std_err=std_err, budget=used, fold_values=folds, curves=checked
    )


def _checked_epochs(task: Task, on_epoch: EpochCallback | None) -> EpochCallback | None:
    """``on_epoch`` handed each score ``task``'s ``_evaluate`` reports as a float once it is
    seen to be a number (see :func:`check_reported`)."""
    if on_epoch is None:
        return None

    def checked(epoch: int, value: float, curves: dict[str, list[float]]) -> None:
        on_epoch(epoch, check_reported(task, value, epoch), curves)

    return checked


def _completed(task: Task, result: Any, budget: int, seconds: float) -> Evaluation:
    """``task``'s ``_evaluate``'s result checked (:func:`check_evaluation`, which fills in an
    unset budget; and no ``extra`` under a name of :data:`TUNER_ATTRS`), with its unset wall
    time filled in."""
    result = check_evaluation(task, result, budget)
    reserved = _unstorable(result.extra, TUNER_ATTRS)
    if reserved is not None:
        raise _broken_field(task, reserved)
    return replace(result, wall_time=result.wall_time or seconds)


def _check_used(task: Task, used: Any, budget: int) -> int:
    """``used``, a reported ``Evaluation.budget``, as the epochs trained (0 read as all of
    ``budget``, the budget asked for); refused unless it is 0 or one of 1..``budget``."""
    ok = isinstance(used, numbers.Integral) and not isinstance(used, bool)
    if not ok or not 0 <= int(used) <= budget:
        raise TaskContractError(
            f"{type(task).__name__}._evaluate reported budget {used!r} "
            f"({type(used).__name__}): it must be the epochs it used, a whole number in "
            f"1..{budget} (the budget asked for), or 0 for all of them"
        )
    return int(used) or budget


def _check_curve_lengths(
    task: Task, curves: dict[str, list[float]], epochs: int, budget: int
) -> None:
    """Refuse a curve of more points than the ``epochs`` trained (of ``budget`` asked for)."""
    for key, curve in curves.items():
        if len(curve) > epochs:
            asked = "" if epochs == budget else f"its budget={epochs}, of {budget} asked for; "
            raise _broken_field(
                task,
                f"curves[{key!r}] of {counted(len(curve), 'point')}, more than the "
                f"{counted(epochs, 'epoch')} trained ({asked}a curve holds one number per "
                "epoch trained, epoch 1 first)",
            )


#: What a standard error is, for a message.
_STD_ERR = "the standard error of value over the folds, a number >= 0; 0.0 for one fold"


def not_finite(value: float, std_err: float, fold_values: list[float]) -> str | None:
    """Why a checked evaluation (:func:`check_evaluation`) fails its trial: its ``value``,
    ``std_err`` or a fold value is NaN or infinite (a training that diverged; a curve may hold
    such points); ``None`` when it does not."""
    if not math.isfinite(value):
        return f"non-finite score {value}"
    if not math.isfinite(std_err):
        return f"non-finite std_err {std_err} (the score's standard error over folds)"
    if not all(map(math.isfinite, fold_values)):
        return f"non-finite fold_values {fold_values}"
    return None


def _field_number(task: Task, name: str, value: Any, needs: str) -> float:
    """``value``, ``Evaluation.<name>``, as a float when it is a number (else refused)."""
    number = _as_number(value)
    if number is None:
        raise _broken_field(task, f"{name} {_shown(value)}, not a number ({needs})")
    return number


def _field_numbers(task: Task, name: str, values: Any, needs: str) -> list[float]:
    """``values``, ``Evaluation.<name>``, as a list of floats when it is a list (a tuple, an
    array) of numbers (else refused, the first that is not named by its position)."""
    if isinstance(values, str | bytes | dict) or not hasattr(values, "__len__"):
        raise _broken_field(
            task,
            f"{name} {_short(values)}, {with_article(type(values).__name__)}, not a list of "
            f"numbers ({needs})",
        )
    read = [_as_number(v) for v in values]
    numbers = [n for n in read if n is not None]
    if len(numbers) < len(read):  # (the names are made only here: a curve may be long)
        i = read.index(None)
        _field_number(task, f"{name}[{i}]", list(values)[i], needs)
    return numbers


def _broken_field(task: Task, said: str) -> TaskContractError:
    return TaskContractError(f"{type(task).__name__}._evaluate returned Evaluation.{said}")


def _as_number(value: Any) -> float | None:
    """``value`` as a float when it is a number (never a bool or text), else ``None``."""
    if type(value) is float:  # the common case, first (a curve may be long)
        return value
    if isinstance(value, bool | np.bool_ | str | bytes) or not hasattr(value, "__float__"):
        return None
    try:
        return float(value)
    except (TypeError, ValueError, RuntimeError):  # a tensor of several numbers, say
        return None


def _shown(value: Any) -> str:
    """``value`` and its type, for a message."""
    return f"{_short(value)} of type {type(value).__name__}"


def check_segment(name: str, segment: Any, epochs: int, *, start: int | None = None) -> None:
    """Refuse what task ``name`` returned for a segment of ``epochs`` epochs unless it is a
    :class:`Segment` with one number per epoch (in ``values`` and in each curve) and a state
    to go on from, and (where the caller knows the segment began at epoch ``start``) with
    ``epoch == start + epochs``: a mistake in the task's code, which every segment would
    repeat.

    Raises:
        InputTypeError: Not a :class:`Segment`, or its ``values`` or a curve are not a
            sequence of numbers (``curves`` not a dict), or its ``extra`` is not a dict keyed
            by text whose values are JSON-serializable, or names an attribute the lab writes
            itself (:data:`LAB_ATTRS`) or one that marks a population member
            (:data:`POPULATION_ATTRS`).
        InputError: Another number of scores or of a curve's values than ``epochs``, a
            negative ``std_err``, no state, or a wrong epoch.
    """
    where = f"task {name!r}: its segment"
    if not isinstance(segment, Segment):
        raise InputTypeError(
            f"{where} is {with_article(type(segment).__name__)}, not a hyperlab.tasks.Segment "
            "(Segment(state=..., values=[one score per epoch], epoch=...))"
        )
    values = segment.values
    if isinstance(values, str | bytes) or not hasattr(values, "__len__"):
        raise InputTypeError(f"{where} has values {_short(values)}, not a list of scores")
    if len(values) != epochs:
        raise InputError(
            f"{where} has {counted(len(values), 'score')} for {counted(epochs, 'epoch')} "
            "(values needs one score per epoch trained)"
        )
    _check_numbers(values, where, "values needs one number per epoch")
    _check_curves(segment.curves, epochs, where)
    _check_extras(segment, where)
    if segment.state is None:
        raise InputError(
            f"{where} has state None, which means a fresh model: the next segment would start "
            "over instead of going on (return what training needs to continue)"
        )
    if start is not None and segment.epoch != start + epochs:
        raise InputError(
            f"{where} from epoch {start} trained {counted(epochs, 'epoch')} but says epoch="
            f"{segment.epoch!r} (Segment.epoch counts every epoch of the model, this segment's "
            f"included: {start + epochs})"
        )


def _check_numbers(values: Sequence[Any], where: str, needs: str) -> None:
    """Refuse a value of ``values`` that is not a number (``needs`` says what they must be)."""
    for value in values:
        try:
            check_score(value, where)
        except TrialFailure as exc:  # not a number: every segment would say the same
            raise InputTypeError(f"{exc} ({needs})") from None


def _check_curves(curves: Any, epochs: int, where: str) -> None:
    """Refuse a segment's ``curves`` unless each is a list of one number per epoch (a
    stored curve of another length would be read against the wrong epochs)."""
    if not isinstance(curves, dict):
        raise InputTypeError(
            f"{where} has curves {_short(curves)}, not a dict of curve name -> one number per epoch"
        )
    for key, curve in curves.items():
        what = f"{where}'s curve {key!r}"
        if isinstance(curve, str | bytes | dict) or not hasattr(curve, "__len__"):
            raise InputTypeError(
                f"{what} is {_short(curve)}, not a list of one number per epoch of the segment"
            )
        if len(curve) != epochs:
            raise InputError(
                f"{what} has {counted(len(curve), 'value')} for {counted(epochs, 'epoch')} "
                "(a curve holds one number per epoch of this segment, not of the model's whole "
                "path)"
            )
        _check_numbers(curve, what, f"curve {key!r} needs one number per epoch")


def _check_extras(segment: Segment, where: str) -> None:
    """Refuse a segment's ``learned``, ``std_err`` or ``fold_values`` that is not numbers
    (stored with the trials only at the population's end, which they would stop), a negative
    finite ``std_err`` (as :func:`check_evaluation`), and an ``extra`` that a trial cannot
    store (:func:`_unstorable`: not a dict keyed by text, a key of :data:`LAB_ATTRS` or
    :data:`POPULATION_ATTRS`, or a value not JSON-serializable)."""
    unstorable = _unstorable(segment.extra)
    if unstorable is not None:
        raise InputTypeError(f"{where} has {unstorable}")
    learned = segment.learned
    if not isinstance(learned, dict):
        raise InputTypeError(
            f"{where} has learned {_short(learned)}, not a dict of hyperparameter -> number"
        )
    for key, value in learned.items():
        _check_number(value, f"{where}'s learned {key!r}")
    std_err = _check_number(segment.std_err, f"{where}'s std_err")
    if std_err < 0 and math.isfinite(std_err):  # (an infinite one fails the segment only)
        raise InputError(f"{where} has std_err {std_err!r}, a negative number ({_STD_ERR})")
    folds = segment.fold_values
    if isinstance(folds, str | bytes | dict) or not hasattr(folds, "__len__"):
        raise InputTypeError(f"{where} has fold_values {_short(folds)}, not a list of numbers")
    _check_numbers(folds, f"{where}'s fold_values", "one number per fold")


def extra_names(extra: dict[str, Any], replaced: Iterable[str] = ()) -> list[str]:
    """The names of ``extra`` (a task's evaluation's or segment's, checked) that a trial stores
    as the task's own values (:data:`EXTRAS_ATTR`), in their order: all but those whose value an
    attribute of the lab or of a tuner replaces (``replaced``, the names it writes after
    ``extra``, and :data:`TUNER_ATTRS`, a ``tpe-hd`` trial's own)."""
    taken = {*replaced, *LAB_ATTRS, *TUNER_ATTRS, *POPULATION_ATTRS}
    return [key for key in extra if key not in taken]


def _unstorable(
    extra: Any, reserved: Sequence[str] = (*LAB_ATTRS, *POPULATION_ATTRS)
) -> str | None:
    """Why ``extra`` (an evaluation's or a segment's) cannot be stored with a trial, or None:
    it is not a dict keyed by text (its keys name the trial's attributes), a key is one of the
    ``reserved`` attributes (by default those the lab writes, :data:`LAB_ATTRS`, and those that
    mark a population member, :data:`POPULATION_ATTRS`), or a value of it is not
    JSON-serializable (the storage writes attributes as JSON)."""
    if not isinstance(extra, dict) or not all(isinstance(k, str) for k in extra):
        return f"extra {_short(extra)}, not a dict keyed by text"
    taken = [key for key in extra if key in reserved]
    if taken and taken[0] in LAB_ATTRS:
        return (
            f"extra[{taken[0]!r}], a trial attribute the lab writes itself (one of "
            f"{', '.join(LAB_ATTRS)}), whose value it would replace: give it a name of its own"
        )
    if taken and taken[0] in POPULATION_ATTRS:
        return (
            f"extra[{taken[0]!r}], a trial attribute that marks a population member's trial "
            f"({', '.join(POPULATION_ATTRS)}), which the report and the summary would read "
            "as a member: give it a name of its own"
        )
    if taken:
        return (
            f"extra[{taken[0]!r}], a trial attribute that marks a trial a self-tuning tuner "
            f"trained ({', '.join(TUNER_ATTRS)}), which the report and the held-out test score "
            "would misread: give it a name of its own"
        )
    for key, value in extra.items():
        try:
            json.dumps(value)
        except (TypeError, ValueError) as exc:
            return (
                f"extra[{key!r}] {_shown(value)}, which a trial's attributes cannot store "
                f"({exc}: give numbers, text, lists and dicts of them, float(x) for a "
                "NumPy or torch number)"
            )
    return None


def _check_number(value: Any, what: str) -> float:
    try:
        return check_score(value, what)
    except TrialFailure as exc:
        raise InputTypeError(str(exc)) from None


def _short(value: Any, limit: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


@dataclass
class Segment:
    """One stretch of training that can continue: what :meth:`Task.train_segment` returns.

    Attributes:
        state: Everything needed to continue training (the models, their optimizers' states,
            the random streams, the epoch). Opaque to the caller; picklable, and
            ``copy.deepcopy`` gives an independent copy. Pass it back to continue.
        values: The task's score after each epoch of this segment (as :class:`Evaluation`'s
            ``value``: the mean over folds of the validation score).
        epoch: Epochs trained in total, this segment included.
        curves: Per-epoch curves of this segment (keys of :data:`CURVE_KEYS` the task has,
            ``train_loss`` among them when it has one), each of length ``len(values)``.
        std_err: Standard error over the folds of the last value.
        fold_values: The per-fold scores behind the last value. A NaN or infinite score,
            ``std_err`` or fold value fails the population member's segment, not the run.
        learned: Hyperparameters the training set itself (a hypergradient-learned rate: its
            value at the segment's end, the mean over folds); empty when it set none.
        wall_time: Seconds spent.
        extra: Anything else worth keeping about the model at the segment's end, as
            :class:`Evaluation`'s ``extra`` (e.g. the validation accuracy), a dict keyed by
            text, JSON-serializable; a ``tpe-hd`` or ``random-hd`` trial keeps its last
            segment's, as a ``tpe`` trial keeps its evaluation's.
    """

    state: Any
    values: list[float]
    epoch: int
    curves: dict[str, list[float]] = field(default_factory=dict)
    std_err: float = 0.0
    fold_values: list[float] = field(default_factory=list)
    learned: dict[str, float] = field(default_factory=dict)
    wall_time: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def value(self) -> float:
        """The score at the segment's last epoch."""
        return self.values[-1]


def standard_error(values: list[float]) -> float:
    """Standard error of the mean of ``values`` (0.0 for fewer than two values)."""
    n = len(values)
    if n < 2:
        return 0.0
    mean = sum(values) / n
    var = sum((v - mean) ** 2 for v in values) / (n - 1)
    return math.sqrt(var / n)


class Task(ABC):
    """Base class of everything hyperlab can tune.

    Subclasses set ``name``, ``max_budget`` and ``metric`` and implement :meth:`search_space`
    and :meth:`_evaluate`. ``optimum`` is the known best achievable score, when there is one.
    ``direction`` says which way the score is better: ``"minimize"`` (a loss or a regret, the
    default) or ``"maximize"`` (an accuracy, say); ``None`` leaves it to the run (``direction``
    of :func:`hyperlab.tune`, minimize by default).
    """

    name: str = "task"
    description: str = ""
    max_budget: int = 1
    metric: str = "loss"
    optimum: float | None = None
    direction: str | None = "minimize"
    #: Hyperparameters that may change between segments of :meth:`train_segment`; the others
    #: are fixed for a model's life (its architecture, its kind of optimizer).
    mutable_params: tuple[str, ...] = ()
    #: The hyperparameter that is the learning rate of the optimizers :meth:`train_segment`
    #: passes through its ``wrap_optimizer`` (``None``: it passes none).
    learning_rate_param: str | None = None
    #: What its evaluations' ``std_err`` and ``fold_values`` are over: ``"folds"`` (one
    #: cross-validation's folds) or ``"seeds"`` (independent trainings, e.g. a table's seeds).
    #: Summaries and reports name the standard error by it, and ``stop_at_noise`` reads the
    #: spread by it (Nadeau and Bengio's correction for overlapping folds only over folds).
    spread_over: str = FOLDS
    #: The space read from throwaway trials, kept once read, and whether it was read
    #: thoroughly (:mod:`hyperlab.tasks.config_checks`); unset before.
    _space_cache: tuple[dict[str, BaseDistribution], set[str]]
    _space_thorough: bool

    @abstractmethod
    def search_space(self, trial: optuna.Trial) -> dict[str, Any]:
        """Suggest a configuration with ``trial.suggest_*`` and return it."""

    @abstractmethod
    def _evaluate(
        self, config: dict[str, Any], budget: int, seed: int, on_epoch: EpochCallback | None
    ) -> Evaluation:
        """Compute the evaluation (inputs already checked)."""

    def evaluate(
        self,
        config: dict[str, Any],
        budget: int | None = None,
        seed: int = 0,
        on_epoch: EpochCallback | None = None,
    ) -> Evaluation:
        """Evaluate ``config`` for ``budget`` epochs (default: ``max_budget``).

        Args:
            config: A configuration as returned by :meth:`search_space`.
            budget: Epochs, 1..``max_budget``.
            seed: Seed of every random choice in the evaluation.
            on_epoch: Called after each epoch with the score as a float; may raise
                ``optuna.TrialPruned``.

        Returns:
            The evaluation.

        Raises:
            TaskContractError: ``_evaluate`` returned no :class:`Evaluation`, reported a
                budget it was not given, or gave a score (its ``value``, or one handed to
                ``on_epoch``), a ``std_err``, a fold value or a curve point that is not a
                number, a negative ``std_err``, a curve whose name is not text or one longer
                than the epochs trained (see :func:`check_evaluation`).
        """
        if not isinstance(config, dict):
            raise InputTypeError(f"config must be a dict, got {type(config).__name__}")
        budget = self.max_budget if budget is None else budget
        if isinstance(budget, bool) or not isinstance(budget, int):
            raise InputTypeError(f"budget must be an int, got {budget!r}")
        if not 1 <= budget <= self.max_budget:
            raise InputError(
                f"budget must be in 1..{self.max_budget} for {self.name}, got {budget}"
            )
        check_config(self, config)
        began = time.perf_counter()
        result = self._evaluate(config, budget, int(seed), _checked_epochs(self, on_epoch))
        return _completed(self, result, budget, time.perf_counter() - began)

    def train_segment(
        self,
        config: dict[str, Any],
        state: Any,
        epochs: int,
        seed: int = 0,
        *,
        wrap_optimizer: OptimizerWrapper | None = None,
    ) -> Segment:
        """Train ``config`` for ``epochs`` more epochs, from ``state`` (``None``: a fresh model).

        ``k`` segments of ``e`` epochs with one configuration equal one of ``k * e`` epochs.
        The mutable hyperparameters (``mutable_params``) of ``config`` take effect from this
        segment on; the others must be those ``state`` was trained with. ``state`` is not
        changed.

        Args:
            config: A configuration as returned by :meth:`search_space`.
            state: ``Segment.state`` of an earlier segment, or ``None``.
            epochs: Epochs to train (>= 1).
            seed: Seeds a fresh model (a continued ``state`` keeps its own random streams).
            wrap_optimizer: Applied to each optimizer the task builds (see
                ``learning_rate_param``).

        Returns:
            The segment.

        Raises:
            NotImplementedError: The task cannot continue training
                (:attr:`continues_training` is false).
            InputTypeError: ``_train_segment`` returned something other than a
                :class:`Segment`, or its ``values`` are not a sequence of numbers.
            InputError: It returned another number of scores than ``epochs``, or no state
                (``None``) to go on from (see :func:`check_segment`).
        """
        if not isinstance(config, dict):
            raise InputTypeError(f"config must be a dict, got {type(config).__name__}")
        if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 1:
            raise InputError(f"epochs must be a positive integer, got {epochs!r}")
        check_config(self, config, values=False)  # (see check_config)
        segment = self._train_segment(config, state, epochs, int(seed), wrap_optimizer)
        check_segment(self.name, segment, epochs)
        return segment

    def _train_segment(
        self,
        config: dict[str, Any],
        state: Any,
        epochs: int,
        seed: int,
        wrap_optimizer: OptimizerWrapper | None,
    ) -> Segment:
        """Compute the segment (inputs already checked); tasks that can continue override it."""
        raise NotImplementedError(
            f"task {self.name!r} cannot continue training: it does not implement _train_segment"
        )

    @property
    def continues_training(self) -> bool:
        """Whether the task implements :meth:`train_segment` (overrides ``_train_segment``, or
        ``train_segment`` itself)."""
        kind = type(self)
        return (
            kind._train_segment is not Task._train_segment
            or kind.train_segment is not Task.train_segment
        )

    def check(self) -> None:
        """Check that the task's settings can work, before any trial runs.

        The lab calls this once when a run starts, so that a setting which would fail every
        trial (more folds than the data allow, say) is refused by name, and nothing is stored.
        This one checks ``max_budget``, ``direction`` and ``spread_over``, and that each
        method the task writes (``_evaluate``, ``search_space``, ``_train_segment``, ...) takes
        the arguments the lab passes it; tasks with data-dependent settings extend it.

        Raises:
            InputError: A setting cannot work, or a method cannot take its arguments; the
                message names it and its value (the signature to write).
        """
        from hyperlab.tasks.contract import check_signatures

        check_signatures(self, Task)
        budget = self.max_budget
        if isinstance(budget, bool) or not isinstance(budget, int) or budget < 1:
            raise InputError(
                f"max_budget of {self.name} must be a positive integer, got {budget!r}"
            )
        if self.direction is not None:
            check_direction(self.direction, f"direction of task {self.name!r}")
        if not isinstance(self.spread_over, str) or self.spread_over not in SPREADS:
            raise InputError(
                f"spread_over of task {self.name!r} must be 'folds' or 'seeds' (what its "
                f"std_err and fold_values are over), got {self.spread_over!r}"
            )

    def warm_up(self) -> None:
        """Do the one-time work that the first training would otherwise do inside its clock:
        imports, loading the data, a library's first use (torch's first optimizer step
        imports seconds of its compiler's code).

        The lab calls this once per study, when the task is built and before its first trial
        starts, so that the first study of a process (the first method of a comparison) is not
        charged seconds that any later one is spared. This one does nothing.
        """
        return None

    def trial_objective(self) -> Callable[[optuna.Trial], float] | None:
        """The task's own Optuna objective when it runs whole trials itself, else ``None``.

        A task that has one is run by calling it with each trial (it suggests its own
        parameters, so its search space is known only from the trials); otherwise the lab
        suggests a configuration with :meth:`search_space` and calls :meth:`evaluate`.
        """
        return None

    def test_score(
        self, config: dict[str, Any], budget: int | None = None, seed: int = 0
    ) -> float | None:
        """Score on data the tuners never see, in the task's ``metric`` and better in the same
        direction as the validation score (``None`` when the task has no test split).

        The lab scores a study's best trial with it once the trials are stored; an error
        raised here, or a score that is not a finite number, is told as a warning and no test
        score is recorded (the trials, summary and report stay as they are)."""
        return None

    def schedule_test_score(
        self,
        schedule: Sequence[tuple[dict[str, Any], int]],
        seed: int = 0,
        *,
        wrap_optimizer: OptimizerWrapper | None = None,
    ) -> float | None:
        """:meth:`test_score` of one model trained through a schedule, as a population member's
        model was: ``schedule`` holds ``(configuration, epochs)`` per segment, in order, and
        each segment's mutable hyperparameters take effect when it starts (as in
        :meth:`train_segment`). ``None`` when the task has no test split or cannot train
        through a schedule.

        Raises:
            InputTypeError: The schedule is not a list, or a segment's configuration is not a
                dict.
            InputError: The schedule is empty, a segment is not a ``(dict, epochs)`` pair, its
                epochs are not a positive int, or its configuration lacks a parameter.
        """
        return self._schedule_test_score(check_schedule(self, schedule), int(seed), wrap_optimizer)

    def _schedule_test_score(
        self,
        schedule: list[tuple[dict[str, Any], int]],
        seed: int,
        wrap_optimizer: OptimizerWrapper | None,
    ) -> float | None:
        """Compute :meth:`schedule_test_score` (inputs already checked); ``None`` here."""
        return None

    def configuration(self, params: dict[str, Any], where: str = "parameters") -> dict[str, Any]:
        """The configuration :meth:`search_space` makes of parameter values (a trial's
        ``params``, a schedule segment's ``config``), the values checked first as
        :meth:`evaluate` checks a configuration.

        Args:
            params: A value for each parameter of the branch its values choose.
            where: What ``params`` are, for messages (e.g. ``"schedule entry 2's config"``).

        Raises:
            InputTypeError: ``params`` is not a dict, or a value has the wrong type.
            InputError: A parameter is missing, a value is out of range or not a choice, or a
                key is no parameter of the task.
        """
        if not isinstance(params, dict):
            raise InputTypeError(f"{where} must be a dict, got {params!r:.60}")
        check_config(self, params, where)
        return self.search_space(optuna.trial.FixedTrial(params))  # type: ignore[arg-type]

    def default_config(self) -> dict[str, Any]:
        """A reasonable hand-picked starting configuration (the centre of the space by default)."""
        from hyperlab.space.distributions import centre

        return centre(self.distributions())

    def distributions(self) -> dict[str, BaseDistribution]:
        """The search space as Optuna distributions: every parameter :meth:`search_space`
        suggests, of every branch of a conditional space (read from throwaway trials)."""
        return dict(captured(self)[0])

    def regret(self, value: float) -> float | None:
        """How far ``value`` falls short of the optimum when it is known: ``value - optimum``
        when minimizing, ``optimum - value`` when maximizing."""
        if self.optimum is None:
            return None
        return sign(self.direction or "minimize") * (value - self.optimum)

    def describe(self) -> dict[str, Any]:
        """Plain-data description recorded with every run."""
        return {
            "name": self.name,
            "max_budget": self.max_budget,
            "metric": self.metric,
            "optimum": self.optimum,
            "direction": self.direction,
        }
