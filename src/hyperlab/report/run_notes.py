"""What a report says about its run: the objective, versions and options (and how they changed
across its resumptions), direction, and the notes on a study that is unfinished or whose setup
was warned about."""

from __future__ import annotations

import itertools
from datetime import datetime, timezone
from typing import Any

import optuna

from hyperlab.direction import name_of
from hyperlab.errors import HyperlabError
from hyperlab.lab.plugins import share
from hyperlab.lab.run_versions import version_changes
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


def versions_span(spec: RunSpec) -> str:
    """How the run's versions changed across its resumptions, the packages that changed named
    with each of their versions: ``the run spans several versions: optuna 4.2.0 until it was
    resumed on 2025-06-01 14:02 UTC (the run then held 40 trials), then optuna 4.5.0``; ``""``
    for a run that ran with one set throughout."""
    sets = [e["versions"] for e in spec.earlier_versions] + [spec.versions]
    pairs = itertools.pairwise(sets)
    changed = {name for before, after in pairs for name, *_ in version_changes(before, after)}
    if not changed:
        return ""

    def named(versions: dict[str, Any]) -> str:
        return ", ".join(f"{k} {v}" for k, v in versions.items() if k in changed) or "unknown"

    parts = [
        f"{named(entry['versions'])} until it was resumed on {_when(entry['until'])}{_held(entry)}"
        for entry in spec.earlier_versions
    ]
    return f"the run spans several versions: {', then '.join(parts)}, then {named(spec.versions)}"


def options_span(spec: RunSpec) -> str:
    """The options whose value changed at a resumption (``default_changes``): ``options changed
    during the run: tuner tpe constant_liar False until it was resumed on 2025-06-01 14:02 UTC
    (the run then held 40 trials), then True``; ``""`` for a run whose options never did."""
    parts = [
        f"{e['kind']} {e['name']} {e['option']} {e['was']!r} until it was resumed on "
        f"{_when(e['from'])}{_held(e)}, then {e['now']!r}"
        for e in spec.default_changes
    ]
    return f"options changed during the run: {'; '.join(parts)}" if parts else ""


def _held(entry: dict[str, Any]) -> str:
    """`` (the run then held 40 trials)``, and what its populations under way had trained
    (their trials come when they end); ``""`` when unknown."""
    trials = entry.get("trials")
    if trials is None:
        return ""
    if "member_epochs" not in entry:
        return f" (the run then held {trials} trials)"
    epochs = entry["member_epochs"]
    trained = "an unknown number of" if epochs is None else str(epochs)
    return (
        f" (the run then held {trials} trials, and {trained} member-epochs trained by "
        "populations not yet ended)"
    )


def _when(iso: str) -> str:
    """``2025-06-01 14:02 UTC`` from a recorded ISO time (as recorded when it is not one)."""
    try:
        moment = datetime.fromisoformat(iso)
    except ValueError:
        return iso
    if moment.tzinfo is not None:
        moment = moment.astimezone(timezone.utc)
    return moment.strftime("%Y-%m-%d %H:%M") + (" UTC" if moment.tzinfo is not None else "")


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
