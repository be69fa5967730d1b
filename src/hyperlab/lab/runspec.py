"""A run's recorded setup: :class:`RunSpec`, what ``run.json`` holds, and the checks of a
loaded one (which settings a resumed run may change, and what each recorded setting must be).
"""

from __future__ import annotations

import platform
from collections.abc import Callable, Sequence
from dataclasses import MISSING, dataclass, field, fields
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from hyperlab.errors import HyperlabError, InputError
from hyperlab.lab import urls
from hyperlab.lab.run_defaults import stages

# Settings that may change between a run and its resumption (``name``: a copied run keeps the
# study names it was recorded with).
_RESUMABLE = {
    "trials",
    "jobs",
    "created",
    "versions",
    "earlier_versions",
    "effective_options",
    "default_changes",
    "command",
    "name",
    "warnings",
    "reference",
}
# Settings a run recorded by an older hyperlab may lack (null): then they are not compared.
_UNKNOWN_WHEN_NULL = {"objective"}


def versions(packages: Sequence[str] = ()) -> dict[str, str]:
    """Versions of Python and the libraries a result depends on (read without importing them):
    hyperlab's own dependencies, then ``packages`` (the other libraries its tuners run, such
    as a peer's); one not installed is left out."""
    from importlib.metadata import PackageNotFoundError, version

    out = {"python": platform.python_version()}
    core = ("hyperlab", "optuna", "torch", "numpy", "scikit-learn", "scipy")
    for name in dict.fromkeys((*core, *packages)):
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            continue
    return out


@dataclass
class RunSpec:
    """Everything needed to resume and report a run.

    Attributes:
        kind: ``tune`` or ``compare``.
        task: Task name (``None`` for a user objective).
        tuners: Tuner names.
        pruners: Pruner names.
        seeds: Seeds (one study per tuner x pruner x seed).
        trials: Finished trials wanted per study.
        storage: Storage URL.
        budget: Epochs per trial (``None``: the task's maximum).
        jobs: Processes that run the trials here (``0``: none, ``hyperlab tune
            --create-only`` left them to ``hyperlab worker`` processes); for ``hyperlab tune
            --dask``, the Dask tasks kept in flight (``--jobs``, else the cluster's threads
            when the run started).
        stop_at_noise: End a study once the remaining improvement is within noise.
        direction: ``"minimize"`` or ``"maximize"``: which way the score was optimized (a
            ``run.json`` without it is a minimized run).
        task_options: Options given to the task's factory.
        tuner_options: Options given to each tuner's factory.
        pruner_options: Options for the pruners' factories (each gets those it takes).
        objective: The identity of a Python objective given as a function (``module:qualname``;
            ``None`` for a task name, which identifies itself).
        warnings: What the checks of the setup warned about (a tuner that never leaves its
            start-up design, a run too short for its tuner's first full trial): the report
            repeats it beside the results it concerns.
        versions: The versions the run last ran with (:func:`versions`, recorded each time it
            starts or resumes).
        earlier_versions: The sets of versions it ran with before, oldest first, each kept
            when a resumption found others installed: ``{"versions": {...}, "until": ISO
            time of that resumption, "trials": trials the run's studies held then (null:
            unknown)}``, with ``"member_epochs"`` where a population was under way then (see
            :mod:`hyperlab.lab.run_versions` and :mod:`hyperlab.lab.run_progress`; empty: one
            set throughout).
        effective_options: The options each tuner and pruner takes, its factory's defaults
            included, as the run was created, updated by each of ``default_changes``:
            ``{"tuner": {name: {option: value}}, "pruner": {...}}`` (JSON-simple values only;
            see :mod:`hyperlab.lab.run_defaults`; empty: a run recorded before run.json kept
            them). A resumption under other defaults warns.
        default_changes: The options whose value changed at a resumption (a default changed
            since, or the option given then), oldest first: ``{"kind": "tuner" or "pruner",
            "name": ..., "option": ..., "was": ..., "now": ..., "from": ISO time of that
            resumption, "trials": ...}`` (and ``"member_epochs"``, as in
            ``earlier_versions``); empty: none changed.
        reference: The method a comparison pairs the others against, as named
            (``--reference``; ``None``: the default of
            :func:`hyperlab.lab.compare_reference.default_reference`). It only changes what
            the report says, so a resumption may name another.
    """

    kind: str
    task: str | None
    tuners: list[str]
    pruners: list[str]
    seeds: list[int]
    trials: int
    storage: str
    budget: int | None = None
    jobs: int = 1
    stop_at_noise: bool = False
    direction: str = "minimize"
    task_options: dict[str, Any] = field(default_factory=dict)
    tuner_options: dict[str, Any] = field(default_factory=dict)
    pruner_options: dict[str, Any] = field(default_factory=dict)
    name: str = ""
    created: str = ""
    versions: dict[str, str] = field(default_factory=dict)
    earlier_versions: list[dict[str, Any]] = field(default_factory=list)
    effective_options: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    default_changes: list[dict[str, Any]] = field(default_factory=list)
    command: list[str] = field(default_factory=list)
    objective: str | None = None
    warnings: list[str] = field(default_factory=list)
    reference: str | None = None

    def study_names(self) -> list[tuple[str, str, str, int]]:
        """``(study name, tuner, pruner, seed)`` of every study in the run."""
        out = []
        for tuner in self.tuners:
            for pruner in self.pruners:
                for seed in self.seeds:
                    out.append((f"{self.name}:{tuner}:{pruner}:seed{seed}", tuner, pruner, seed))
        return out

    def to_dict(self) -> dict[str, Any]:
        """The settings as plain data, with no password in ``storage`` or ``command``."""
        out = dict(self.__dict__)
        out["storage"] = urls.without_password(self.storage)
        out["command"] = urls.mask_args(list(self.command))
        return out

    def differences(self, other: RunSpec) -> list[str]:
        """Settings that differ from ``other`` and forbid resuming (passwords aside)."""
        mine, theirs = self.to_dict(), other.to_dict()
        taken = stages(other.effective_options, other.default_changes)
        for kind in ("tuner", "pruner"):  # an option given now at a value the run took (its
            key = f"{kind}_options"  # default then) is the setting it left out
            theirs[key] = _as_started(
                theirs.get(key) or {}, mine.get(key) or {}, [t.get(kind, {}) for t in taken]
            )
        # ``--population N`` is ``--trials N`` (resumable; a population refuses another size
        # by name): the copy of it among the tuner options is not a setting of its own
        for data in (mine, theirs):
            options = dict(data.get("tuner_options") or {})
            if options.get("population") == data.get("trials"):
                del options["population"]
            # an option spelled out at its default is the same setting as one left out; a
            # file's path recorded relative (before runs recorded them absolute) is read from
            # the current folder, where a run that recorded it so is resumed
            data["tuner_options"] = _without_defaults(
                "tuner", data.get("tuners"), _files("tuner", data.get("tuners"), options)
            )
            pruner_options = dict(data.get("pruner_options") or {})
            data["pruner_options"] = _without_defaults(
                "pruner", data.get("pruners"), _files("pruner", data.get("pruners"), pruner_options)
            )
        budgets = {mine.get("budget"), theirs.get("budget")}
        if len(budgets) == 2 and None in budgets and budgets - {None} == {_max_budget(self)}:
            mine["budget"] = theirs["budget"]  # the task's full budget, given or left out
        return [
            f"{k}: {_short(theirs.get(k))} -> {_short(mine.get(k))}"
            for k in mine
            if k not in _RESUMABLE
            and mine.get(k) != theirs.get(k)
            and not (k in _UNKNOWN_WHEN_NULL and theirs.get(k) is None)
        ]


def _as_started(
    given: dict[str, Any], now: dict[str, Any], taken: list[dict[str, dict[str, Any]]]
) -> dict[str, Any]:
    """The options ``given`` when a run was created, with each option given ``now`` but not
    then added where every plug-in that took it in one stretch of the run (``taken``: their
    effective options in each, see :func:`hyperlab.lab.run_defaults.stages`) took that very
    value: ``constant_liar=False`` given to resume a run started when False was the default is
    the setting it started with, whatever the default is today."""
    out = dict(given)
    for key, value in now.items():
        for effective in taken:
            took = [options[key] for options in effective.values() if key in options]
            if key not in out and took and all(_same(t, value) for t in took):
                out[key] = value
    return out


def _max_budget(spec: RunSpec) -> int | None:
    """The full budget of the spec's registered task (``None``: no such task, or it cannot be
    built now)."""
    from hyperlab.registry import TASKS

    if spec.task is None or spec.task not in TASKS:
        return None
    try:
        return int(TASKS.create(spec.task, **spec.task_options).max_budget)
    except Exception:  # a task that cannot be built is refused elsewhere, by name
        return None


def _files(kind: str, names: Any, options: dict[str, Any]) -> dict[str, Any]:
    """``options`` with the paths of files made absolute (see
    :func:`hyperlab.lab.plugins.absolute_files`); kept as they are when a name is not
    registered (a plug-in gone since the run)."""
    from hyperlab.lab.plugins import absolute_files
    from hyperlab.registry import PRUNERS, TUNERS

    try:
        return absolute_files(TUNERS if kind == "tuner" else PRUNERS, names or [], options)
    except HyperlabError:
        return options


def _without_defaults(kind: str, names: Any, options: dict[str, Any]) -> dict[str, Any]:
    """``options`` less each one whose value is the factory's default for every tuner (``kind``
    ``"tuner"``) or pruner in ``names`` that takes it. Kept: an option no factory is known to
    take, or one whose default is not in a factory's signature (a factory that checks its own
    keywords); all are kept when a name is not registered (a plug-in gone since the run)."""
    from hyperlab.registry import PRUNERS, TUNERS

    registry = TUNERS if kind == "tuner" else PRUNERS
    try:
        factories = [(registry.options(n), registry.defaults(n)) for n in names or []]
    except HyperlabError:
        return options

    def is_default(key: str, value: Any) -> bool:
        takers = [d for taken, d in factories if taken is None or key in taken]
        return bool(takers) and all(_same(d.get(key, _NONE), value) for d in takers)

    return {k: v for k, v in options.items() if not is_default(k, v)}


_NONE = object()


def _same(default: Any, value: Any) -> bool:
    """Whether ``value`` is ``default`` as a setting (``1`` is ``1.0`` but not ``True``)."""
    if default is _NONE or isinstance(default, bool) != isinstance(value, bool):
        return False
    if isinstance(default, int | float) and isinstance(value, int | float):
        return default == value
    try:
        return type(default) is type(value) and bool(default == value)
    except Exception:  # an exotic default that cannot be compared
        return False


def _short(value: Any, limit: int = 120) -> str:
    """``repr(value)``, cut to ``limit`` characters (a setting may list a million seeds)."""
    text = repr(value)
    return text if len(text) <= limit else f"{text[: limit - 20]}... ({len(text)} characters)"


def timestamp_now() -> str:
    """The time a run is created, to the microsecond: it identifies the run (its studies record
    it), so two runs started in one second get two identities."""
    return datetime.now(timezone.utc).isoformat(timespec="microseconds")


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_version_set(entry: Any) -> bool:
    """Whether ``entry`` is an item of ``earlier_versions``."""
    return (
        isinstance(entry, dict)
        and isinstance(entry.get("versions"), dict)
        and isinstance(entry.get("until"), str)
        and (entry.get("trials") is None or _is_int(entry.get("trials")))
        and (entry.get("member_epochs") is None or _is_int(entry.get("member_epochs")))
    )


def _is_option_change(entry: Any) -> bool:
    """Whether ``entry`` is an item of ``default_changes``."""
    return (
        isinstance(entry, dict)
        and all(isinstance(entry.get(k), str) for k in ("kind", "name", "option", "from"))
        and entry["kind"] in ("tuner", "pruner")
        and {"was", "now"} <= entry.keys()
        and (entry.get("trials") is None or _is_int(entry.get("trials")))
        and (entry.get("member_epochs") is None or _is_int(entry.get("member_epochs")))
    )


def _is_effective(value: Any) -> bool:
    """Whether ``value`` is an ``effective_options``: objects of objects of objects."""
    return isinstance(value, dict) and all(
        isinstance(plugins, dict) and all(isinstance(o, dict) for o in plugins.values())
        for plugins in value.values()
    )


def _is_list_of(kind: type) -> Callable[[Any], bool]:
    def check(value: Any) -> bool:
        return isinstance(value, list) and all(
            isinstance(v, kind) and not isinstance(v, bool) for v in value
        )

    return check


#: What each recorded setting of ``run.json`` must be: a test and how to say it.
_SPEC_CHECKS: dict[str, tuple[Callable[[Any], bool], str]] = {
    "kind": (lambda v: v in ("tune", "compare"), "'tune' or 'compare'"),
    "task": (lambda v: v is None or isinstance(v, str), "a task name or null"),
    "tuners": (_is_list_of(str), "a list of names"),
    "pruners": (_is_list_of(str), "a list of names"),
    "seeds": (_is_list_of(int), "a list of integers"),
    "trials": (_is_int, "an integer"),
    "storage": (lambda v: isinstance(v, str), "a string"),
    "budget": (lambda v: v is None or _is_int(v), "an integer or null"),
    "jobs": (_is_int, "an integer"),
    "stop_at_noise": (lambda v: isinstance(v, bool), "true or false"),
    "direction": (lambda v: v in ("minimize", "maximize"), "'minimize' or 'maximize'"),
    "task_options": (lambda v: isinstance(v, dict), "an object"),
    "tuner_options": (lambda v: isinstance(v, dict), "an object"),
    "pruner_options": (lambda v: isinstance(v, dict), "an object"),
    "name": (lambda v: isinstance(v, str), "a string"),
    "created": (lambda v: isinstance(v, str), "a string"),
    "versions": (lambda v: isinstance(v, dict), "an object"),
    "earlier_versions": (
        lambda v: isinstance(v, list) and all(_is_version_set(e) for e in v),
        'a list of {"versions": {...}, "until": "...", "trials": N or null}',
    ),
    "effective_options": (
        _is_effective,
        'an object {"tuner": {NAME: {OPTION: VALUE}}, "pruner": {...}}',
    ),
    "default_changes": (
        lambda v: isinstance(v, list) and all(_is_option_change(e) for e in v),
        'a list of {"kind": "tuner" or "pruner", "name": ..., "option": ..., "was": ..., '
        '"now": ..., "from": "...", "trials": N or null}',
    ),
    "command": (_is_list_of(str), "a list of strings"),
    "objective": (lambda v: v is None or isinstance(v, str), "a module:qualname or null"),
    "warnings": (_is_list_of(str), "a list of strings"),
    "reference": (lambda v: v is None or isinstance(v, str), "a method's name or null"),
}


#: Settings every hyperlab ``run.json`` holds (one of them tells a run's record from another's).
RUN_KEYS = {"kind", "tuners", "pruners", "seeds", "trials"}


def spec_fields(data: Any, path: Path) -> dict[str, Any]:
    """The settings of a loaded ``run.json`` that :class:`RunSpec` knows, each checked.

    Raises:
        InputError: ``data`` is not a JSON object, lacks a required setting or holds one of
            the wrong type; the message names the file and every bad key.
    """
    where = f"run record {str(path)!r}"
    if not isinstance(data, dict):
        raise InputError(f"{where} must hold a JSON object, got {type(data).__name__}")
    known = {f.name: f for f in fields(RunSpec)}
    missing = [
        name
        for name, f in known.items()
        if name not in data and f.default is MISSING and f.default_factory is MISSING
    ]
    bad = [
        f"{key} must be {_SPEC_CHECKS[key][1]}, got {data[key]!r}"
        for key in known
        if key in data and key in _SPEC_CHECKS and not _SPEC_CHECKS[key][0](data[key])
    ]
    problems = ([f"missing keys {missing}"] if missing else []) + bad
    if problems:
        raise InputError(
            f"{where} is damaged ({'; '.join(problems)}); restore it, or delete the run "
            "directory to start over"
        )
    return {k: v for k, v in data.items() if k in known}
