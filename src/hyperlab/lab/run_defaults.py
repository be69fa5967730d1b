"""The options each tuner and pruner of a run took, defaults included, as recorded when the run
was created (``run.json``'s ``effective_options``), and the warning a resumption gives where a
default changed since: a run resumed under another default would otherwise go on with another
tuner than the one it started with, without a word.
"""

from __future__ import annotations

import math
from typing import Any

from hyperlab.errors import HyperlabError
from hyperlab.lab.plugins import SET_FOR_PRUNERS, SET_FOR_TUNERS, share
from hyperlab.registry import PRUNERS, TASKS, TUNERS, Registry

#: ``{"tuner": {name: {option: value}}, "pruner": {...}}``
Effective = dict[str, dict[str, dict[str, Any]]]
#: An option whose value differs: kind, plug-in name, option, recorded value, value now.
Change = tuple[str, str, str, Any, Any]


def effective_options(
    tuners: list[str],
    pruners: list[str],
    tuner_options: dict[str, Any],
    pruner_options: dict[str, Any],
) -> Effective:
    """The options each of ``tuners`` and ``pruners`` takes: its factory's defaults, updated
    with those of the run's options it takes; only JSON-simple values (numbers, text, booleans,
    ``None``), and none that the lab sets itself (the seed, the space, ...)."""
    return {
        "tuner": _of(TUNERS, tuners, tuner_options, SET_FOR_TUNERS),
        "pruner": _of(PRUNERS, pruners, pruner_options, SET_FOR_PRUNERS),
    }


def effective_task_options(task: str, options: dict[str, Any]) -> dict[str, Any]:
    """The options the task ``task`` takes, as :func:`effective_options` reads a tuner's: its
    factory's defaults updated with those of ``options`` it takes (none for a task that
    cannot be looked up)."""
    return _of(TASKS, [task], options, ()).get(task, {})


def _of(
    registry: Registry[Any], names: list[str], options: dict[str, Any], set_by_lab: tuple[str, ...]
) -> dict[str, dict[str, Any]]:
    out = {}
    for name in names:
        try:
            values = {**registry.defaults(name), **share(registry, name, options)}
        except HyperlabError:  # a plug-in that cannot be looked up: nothing known of it
            continue
        out[name] = {k: v for k, v in values.items() if k not in set_by_lab and _simple(v)}
    return out


def _simple(value: Any) -> bool:
    if isinstance(value, float):
        return math.isfinite(value)
    return value is None or isinstance(value, bool | int | str)


def changes(recorded: Effective, now: Effective) -> list[Change]:
    """The options recorded for a plug-in that it takes now with another value, in the
    recorded order; a plug-in or option only one side names is no change."""
    out = []
    for kind, plugins in recorded.items():
        for name, values in plugins.items():
            current = now.get(kind, {}).get(name, {})
            for option, was in values.items():
                if option in current and not _same(was, current[option]):
                    out.append((kind, name, option, was, current[option]))
    return out


def _same(a: Any, b: Any) -> bool:
    """``1`` is ``1.0`` (JSON may read either) but not ``True``."""
    return isinstance(a, bool) == isinstance(b, bool) and a == b


def resume_warning(run: str, found: list[Change]) -> str:
    """What a resumption under other defaults than the run started with says, once."""
    parts = [
        f"{kind} {name!r} option {option} was {was!r} when this run started and is {now!r} "
        f"now: pass --{kind}-option {option}={_cli(was)} to continue as it started"
        for kind, name, option, was, now in found
    ]
    return (
        f"run {run!r}: {'; '.join(parts)} (left so, its later trials come from the new "
        "default; run.json keeps the options it started with in 'effective_options')"
    )


def _cli(value: Any) -> str:
    """``value`` as ``--tuner-option KEY=VALUE`` reads it back."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return "None" if value is None else str(value)
