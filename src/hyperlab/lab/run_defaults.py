"""The options each tuner and pruner of a run takes, defaults included, as recorded when the run
was created (``run.json``'s ``effective_options``), and the warning a resumption gives where a
default changed since: a run resumed under another default would otherwise go on with another
tuner than the one it started with, without a word. A resumption that goes on under the new
default records it: ``effective_options`` then holds the value the run goes on with, and
``default_changes`` each change, when it applied and how far the run had got then (so a later
resumption under the same default says no more).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from hyperlab.errors import HyperlabError
from hyperlab.lab.plugins import SET_FOR_PRUNERS, SET_FOR_TUNERS, share
from hyperlab.registry import PRUNERS, TASKS, TUNERS, Registry

#: ``{"tuner": {name: {option: value}}, "pruner": {...}}``
Effective = dict[str, dict[str, dict[str, Any]]]
#: An option whose value differs: kind, plug-in name, option, recorded value, value now.
Change = tuple[str, str, str, Any, Any]
#: What names one option of one plug-in in an item of ``default_changes``.
_KEY = ("kind", "name", "option")


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


def given(change: Change, tuner_options: dict[str, Any], pruner_options: dict[str, Any]) -> bool:
    """Whether the option of ``change`` is among the options given now (the user's word, not a
    default that changed)."""
    kind, _name, option, *_ = change
    return option in (tuner_options if kind == "tuner" else pruner_options)


def applied(recorded: Effective, found: list[Change]) -> Effective:
    """``recorded`` with the value of each option of ``found`` that it takes now."""
    out = {
        kind: {name: dict(values) for name, values in plugins.items()}
        for kind, plugins in recorded.items()
    }
    for kind, name, option, _was, now in found:
        out[kind][name][option] = now
    return out


def stages(recorded: Effective, history: list[dict[str, Any]]) -> list[Effective]:
    """The options the run took in each of its stretches, from its start to now: ``recorded``
    with the changes of ``history`` (``default_changes``) undone one by one."""
    out = [applied(recorded, [])]
    for entry in reversed(history):
        before = applied(out[0], [])
        values = before.get(entry["kind"], {}).get(entry["name"])
        if values is not None:
            values[entry["option"]] = entry["was"]
        out.insert(0, before)
    return out


def with_changes(
    history: list[dict[str, Any]], found: list[Change], when: str, progress: dict[str, Any]
) -> list[dict[str, Any]]:
    """``history`` (``default_changes``) with each change of ``found`` added as it applied from
    the resumption at ``when`` (ISO time), when the run had got as far as ``progress``
    (``{"trials": N, ...}``, see :mod:`hyperlab.lab.run_progress`). A change of an option whose
    last change came at the same progress (a resumption cut off before anything ran) replaces
    that one: the two that cancel out leave none."""
    out = list(history)
    for kind, name, option, was, now in found:
        entry = {"kind": kind, "name": name, "option": option, "was": was, "now": now}
        last = next((e for e in reversed(out) if _names(e) == (kind, name, option)), None)
        if last is not None and _same_progress(last, progress):
            out.remove(last)
            entry["was"] = last["was"]
            if _same(entry["was"], now):
                continue
        out.append({**entry, "from": when, **progress})
    return out


def _names(entry: dict[str, Any]) -> tuple[Any, ...]:
    return tuple(entry.get(k) for k in _KEY)


def _same_progress(entry: dict[str, Any], progress: dict[str, Any]) -> bool:
    """Whether ``entry`` was recorded as far as ``progress`` (known, not ``None``)."""
    recorded = {k: entry[k] for k in ("trials", "member_epochs") if k in entry}
    return None not in progress.values() and recorded == progress


def resume_warning(run: str, found: list[Change], history: Sequence[dict[str, Any]] = ()) -> str:
    """What a resumption under other defaults than the run last ran with says, once (an option
    with no change in ``history``: the defaults it started with)."""
    changed = {_names(e) for e in history}
    parts = []
    for kind, name, option, was, now in found:
        then = "last ran" if (kind, name, option) in changed else "started"
        parts.append(
            f"{kind} {name!r} option {option} was {was!r} when this run {then} and is {now!r} "
            f"now: pass --{kind}-option {option}={_cli(was)} to continue as it "
            f"{'ran' if then == 'last ran' else 'started'}"
        )
    return (
        f"run {run!r}: {'; '.join(parts)} (left so, its later trials come from the new "
        "default: run.json records the change in 'default_changes', and a later resumption "
        "under this default says no more)"
    )


def _cli(value: Any) -> str:
    """``value`` as ``--tuner-option KEY=VALUE`` reads it back."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return "None" if value is None else str(value)
