"""What a report says about its run: the objective, versions, direction, and the notes on a
study that is unfinished or whose setup was warned about."""

from __future__ import annotations

from typing import Any

import optuna

from hyperlab.direction import name_of
from hyperlab.errors import HyperlabError
from hyperlab.lab.plugins import share
from hyperlab.lab.runspec import RunSpec
from hyperlab.lab.workers import SETUP_ATTR
from hyperlab.registry import PRUNERS, TUNERS, Registry
from hyperlab.stops import STOP_NOTES, unfinished_driver


def objective_label(spec: dict[str, Any]) -> str:
    """What a run tuned, in words: the task's name (or reference to user code), a Python
    objective's recorded ``module:qualname``, else ``your objective``."""
    name = spec.get("task") or spec.get("objective")
    return str(name) if name else "your objective"


def versions_text(versions: dict[str, Any]) -> str:
    """``python 3.11.7, optuna 4.1.0, ...`` (``unknown`` when none were recorded)."""
    return ", ".join(f"{k} {v}" for k, v in versions.items()) or "unknown"


def options_text(spec: RunSpec) -> str:
    """The options the run gave, the task's and then each tuner's and pruner's share (the
    options its factory takes): ``task: n_folds=5; smac-rf: planned_trials=20``; ``""`` when
    none were given."""
    parts = [f"task: {_pairs(spec.task_options)}"] if spec.task_options else []
    for registry, names, options in (
        (TUNERS, spec.tuners, spec.tuner_options),
        (PRUNERS, spec.pruners, spec.pruner_options),
    ):
        for name in names:
            mine = _share(registry, name, options)
            if mine:
                parts.append(f"{name}: {_pairs(mine)}")
    return "; ".join(parts)


def _share(registry: Registry[Any], name: str, options: dict[str, Any]) -> dict[str, Any]:
    """The options ``name`` takes; all of them for a name no longer registered."""
    try:
        return share(registry, name, options)
    except HyperlabError:
        return dict(options)


def _pairs(options: dict[str, Any]) -> str:
    return ", ".join(f"{key}={value!r}" for key, value in options.items())


def direction_of(spec: dict[str, Any]) -> str:
    """The run's direction, ``minimize`` or ``maximize`` (runs that recorded none minimized)."""
    return name_of(spec.get("direction") or "minimize")


def unfinished_note(study: optuna.Study, finished: int, target: int) -> str | None:
    """``unfinished, N of M trials ...`` for a study neither done nor stopped early (fewer
    than ``target`` finished trials, or its driving tuner cut off); else ``None``."""
    if any(study.user_attrs.get(k) for k in STOP_NOTES):
        return None
    if finished >= target and not unfinished_driver(study):
        return None
    how = (
        "start workers (hyperlab worker) to finish it"  # (a study set up for workers)
        if study.user_attrs.get(SETUP_ATTR)
        else "run the same command again to finish it"
    )
    return (
        f"unfinished, {finished} of {target} trials"
        + (", its tuner not ended" if finished >= target else "")
        + f" (still running, or cut off: {how})"
    )


def setup_notes(spec: RunSpec) -> list[str]:
    """What the checks of the run's setup warned about, as the report says it."""
    return [f"warned at the start: {w}" for w in spec.warnings]
