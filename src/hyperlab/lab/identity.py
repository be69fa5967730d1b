"""What a run tunes: its objective's identity and its search space as first seen.

A resumed run appends trials to the studies it finds, so a different objective (or the same
one with other ranges) must not join them: the best value would then mix two problems. The
run records a Python objective's identity (``module:qualname``) in ``run.json`` and compares it
on resumption (:class:`~hyperlab.lab.runspec.RunSpec`); the search space is read back from the
stored trials (each parameter's distribution in the first completed trial that has it) and every
new trial must keep it.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import optuna
from optuna.distributions import (
    BaseDistribution,
    FloatDistribution,
    IntDistribution,
)
from optuna.trial import TrialState

from hyperlab.errors import RunConflictError
from hyperlab.space.config import describe


def objective_identity(func: Callable[..., Any]) -> str:
    """``module:qualname`` of an objective function (of its class for a callable object)."""
    while isinstance(func, functools.partial):
        func = func.func
    module = getattr(func, "__module__", None) or type(func).__module__
    qualname = getattr(func, "__qualname__", None) or type(func).__qualname__
    if module == "__main__" or module is None:  # every script is __main__: name its file
        module = _source_file(func) or str(module)
    return f"{module}:{qualname}"


def _source_file(func: Any) -> str | None:
    """The absolute path of the file that defines ``func`` (or its class); ``None`` when
    there is none (a builtin, a C callable)."""
    import inspect

    try:
        source = inspect.getsourcefile(func) or inspect.getsourcefile(type(func))
    except TypeError:  # a builtin or a C callable
        return None
    return str(Path(source).resolve()) if source else None


def recorded_space(study: optuna.Study) -> dict[str, BaseDistribution]:
    """Each parameter's distribution in the first completed trial (by number) that has it."""
    trials = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    space: dict[str, BaseDistribution] = {}
    for trial in sorted(trials, key=lambda t: t.number):
        for name, dist in trial.distributions.items():
            space.setdefault(name, dist)
    return space


def space_changes(
    recorded: Mapping[str, BaseDistribution], new: Mapping[str, BaseDistribution]
) -> list[str]:
    """``name: old -> new`` for each parameter of ``new`` recorded with another distribution."""
    return [
        f"{name!r}: {describe(recorded[name])} -> {describe(dist)}"
        for name, dist in new.items()
        if name in recorded and recorded[name] != dist
    ]


def space_conflict(study_name: str, changes: list[str]) -> RunConflictError:
    """The error for a search space that changed since the study began."""
    return RunConflictError(
        f"the search space changed since study {study_name!r} began ({'; '.join(changes)}); "
        "resume it with the search space it began with, choose another --name, or pass "
        "--overwrite (overwrite=True) to start over (a range that depends on another "
        "parameter's value is allowed once trials show it varying; the stored ones show one)"
    )


#: Optuna's words when a parameter is suggested with another kind, log setting or set of
#: choices than the study's trials had.
_KIND_CHANGED = (
    "Cannot set different distribution kind to the same parameter name",
    "Cannot set different log configuration to the same parameter name",
    "CategoricalDistribution does not support dynamic value space",
)


def is_kind_change(exc: BaseException) -> bool:
    """Whether ``exc`` is Optuna refusing a parameter's change of kind, log setting or choices."""
    return isinstance(exc, ValueError) and any(words in str(exc) for words in _KIND_CHANGED)


def kind_conflict(trial: optuna.Trial, exc: ValueError) -> RunConflictError:
    """The run-stopping error for a parameter whose kind (float, int, categorical), log
    setting or categorical choices changed since the study began (Optuna refuses it inside the
    suggest call, with words that name neither the parameter nor its distributions: they are
    read from the refused call when its frame shows them)."""
    before = f"; the trial had suggested {sorted(trial.params)} before it" if trial.params else ""
    study = trial.study.study_name
    what = f"a parameter of study {study!r} is suggested with"
    had = ""
    refused = _refused_suggestion(exc)
    if refused is not None:
        name, dist = refused
        what = f"parameter {name!r} of study {study!r} is suggested as {describe(dist)}:"
        earlier = _earlier_distribution(trial, name)
        had = f" ({describe(earlier)})" if earlier is not None else ""
    return RunConflictError(
        f"{what} another kind, log setting or set of choices than its earlier trials had{had} "
        f"(Optuna: {exc}{before}): the "
        "search space changed since the study began, or two branches of a conditional space "
        "give one name to two different parameters (name them apart, e.g. lr_sgd and "
        "lr_adam); resume with the search space it began with, choose another --name, or "
        "pass --overwrite (overwrite=True) to start over"
    )


def _refused_suggestion(exc: BaseException) -> tuple[str, BaseDistribution] | None:
    """The name and distribution of the ``suggest_*`` call that raised ``exc``, read from
    the frame of Optuna's ``Trial._suggest`` in its traceback (``None`` when none shows them)."""
    tb = exc.__traceback__
    found = None
    while tb is not None:
        frame = tb.tb_frame
        if frame.f_code.co_name == "_suggest":
            name, dist = frame.f_locals.get("name"), frame.f_locals.get("distribution")
            if isinstance(name, str) and isinstance(dist, BaseDistribution):
                found = (name, dist)
        tb = tb.tb_next
    return found


def _earlier_distribution(trial: optuna.Trial, name: str) -> BaseDistribution | None:
    """Parameter ``name``'s distribution as this trial or the study's first other trial
    holding it had it."""
    if name in trial.distributions:  # suggested twice in one trial
        return trial.distributions[name]
    for other in sorted(trial.study.get_trials(deepcopy=False), key=lambda t: t.number):
        if other.number != trial.number and name in other.distributions:
            return other.distributions[name]
    return None


class SpaceGuard:
    """Checks each trial of a study against the search space its earlier trials recorded.

    Args:
        study: The study (its completed trials give the recorded space).
    """

    def __init__(self, study: optuna.Study) -> None:
        self.study_name = study.study_name
        self.space = recorded_space(study)
        self.dynamic = dynamic_params(study)
        self.seen: dict[str, BaseDistribution] = {}  # each parameter's first in this process

    def check(
        self,
        distributions: Mapping[str, BaseDistribution],
        complete: bool,
        params: Mapping[str, Any] | None = None,
    ) -> None:
        """Refuse a trial whose distributions differ from the recorded ones.

        A completed trial's new parameters are recorded (a conditional space shows its
        parameters trial by trial). A range that depends on another parameter's value (a
        dynamic range, ``suggest_int("k", 1, n)``) is allowed once it is seen to vary: in the
        stored trials, or between two trials of this process (one code, so not a change of
        the space), or when a bound of its range is another parameter's value in the same
        trial (``params``: the trial's values); its kind, log setting and step must still
        stay.

        Raises:
            RunConflictError: A parameter's distribution changed; the message names it.
        """
        for name, dist in distributions.items():
            first = self.seen.setdefault(name, dist)
            if first != dist and _same_shape(first, dist):
                self.dynamic.add(name)  # this process's own trials show it varying
            if params is not None and _bound_follows(name, dist, params):
                self.dynamic.add(name)  # its range ends at another parameter's value
        recorded = {n: d for n, d in self.space.items() if n not in self.dynamic}
        changes = space_changes(recorded, distributions)
        if changes:
            raise space_conflict(self.study_name, changes)
        for name in self.dynamic & set(distributions):  # still: kind, log and step
            known = self.space.get(name, self.seen[name])
            if not _same_shape(known, distributions[name]):
                raise space_conflict(
                    self.study_name, space_changes({name: known}, {name: distributions[name]})
                )
        if complete:
            for name, dist in distributions.items():
                self.space.setdefault(name, dist)


def dynamic_params(study: optuna.Study) -> set[str]:
    """The parameters whose range varies among the study's completed and pruned trials (with
    one kind, log setting and step), or ends at another parameter's value: ranges that depend
    on other parameters' values."""
    trials = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE, TrialState.PRUNED))
    first: dict[str, BaseDistribution] = {}
    out: set[str] = set()
    for trial in trials:
        for name, dist in trial.distributions.items():
            old = first.setdefault(name, dist)
            if (old != dist and _same_shape(old, dist)) or _bound_follows(name, dist, trial.params):
                out.add(name)
    return out


def _bound_follows(name: str, dist: BaseDistribution, params: Mapping[str, Any]) -> bool:
    """Whether a bound of ``name``'s numeric range is another parameter's value in the same
    trial (``suggest_int("k", 1, n)``): a range that depends on it, even where the trials
    stored so far happen to show one."""
    if not isinstance(dist, FloatDistribution | IntDistribution):
        return False
    values = [
        float(v)
        for n, v in params.items()
        if n != name and isinstance(v, int | float) and not isinstance(v, bool)
    ]
    return any(float(bound) in values for bound in (dist.low, dist.high))


def _same_shape(a: BaseDistribution, b: BaseDistribution) -> bool:
    """Whether two numeric distributions differ at most in their range."""
    numeric = (FloatDistribution, IntDistribution)
    return (
        type(a) is type(b)
        and isinstance(a, numeric)
        and isinstance(b, numeric)
        and a.log == b.log
        and a.step == b.step
    )


def check_planned_space(
    studies: list[optuna.Study], distributions: Mapping[str, BaseDistribution]
) -> None:
    """Refuse, before any trial runs, a task whose search space differs from the studies'.

    Raises:
        RunConflictError: A parameter's distribution changed; the message names it.
    """
    for study in studies:
        dynamic = dynamic_params(study)  # ranges that vary with other parameters' values
        recorded = {n: d for n, d in recorded_space(study).items() if n not in dynamic}
        changes = space_changes(recorded, distributions)
        if changes:
            raise space_conflict(study.study_name, changes)
