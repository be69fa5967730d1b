"""What made a tuner panel's cached run, and which cached runs a command may reuse.

A panel keeps each finished run in a JSON-lines cache (:func:`hyperlab.lab.panel.append_run`)
under its task, label and seed. The label does not say what ran under it: options given under
the same label, a default of hyperlab's changed since, another weights file. So each run
records under :data:`MADE_WITH` what made it (:func:`made_with`): its tuner's (and pruner's)
options with their defaults, read as ``run.json`` reads them
(:func:`hyperlab.lab.run_defaults.effective_options`), its task's, and the content hash of
each file an option names (``reads_files`` at registration; the plug-in's default file,
``default_files``, for an option left at its default). :func:`reusable` keeps the cached runs
that the current command would make alike and sets the others aside to be run again, with
one line per label that names what differs.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from hyperlab.lab.plugins import absolute_files
from hyperlab.lab.run_defaults import changes, effective_options, effective_task_options
from hyperlab.registry import PRUNERS, TUNERS

#: A run's key in a cache: ``(task, tuner label, seed)``.
Key = tuple[str, str, int]
#: ``{"tuner" | "pruner" | "task" | "tuner file" | "pruner file": {name: {option: value}}}``
Fingerprint = dict[str, dict[str, dict[str, Any]]]
#: The field of a cached run that holds its :class:`Fingerprint`.
MADE_WITH = "made_with"
#: Options a panel sets itself for each study (its length), not part of what made a run.
SIZED_BY_PANEL = ("planned_trials",)
#: The kinds whose plug-ins are compared by name as well as by option.
_NAMED = ("tuner", "pruner", "task")


def made_with(
    task: str,
    tuner: str,
    tuner_options: dict[str, Any] | None = None,
    pruner: str | None = None,
    pruner_options: dict[str, Any] | None = None,
    task_options: dict[str, Any] | None = None,
) -> Fingerprint:
    """What makes a run of ``tuner`` (with ``pruner``) on ``task``, as plain data.

    Args:
        task: The registered task.
        tuner: The registered tuner.
        tuner_options: The options the run gives the tuner.
        pruner: The registered pruner, or ``None`` for a run without one.
        pruner_options: The options the run gives the pruner.
        task_options: The options the run gives the task.

    Returns:
        ``{"tuner": {tuner: options}, "pruner": {pruner: options} (empty without one),
        "task": {task: options}, "tuner file": {tuner: {option: hash}}, "pruner file": ...}``:
        each plug-in's options with its defaults (JSON-simple values; a path made absolute;
        none of :data:`SIZED_BY_PANEL`), and ``sha256:...`` of the content of each file an
        option names, or of the plug-in's default file for an option left at ``None``.
    """
    t_options = absolute_files(TUNERS, [tuner], dict(tuner_options or {}))
    pruners = [] if pruner is None else [pruner]
    p_options = absolute_files(PRUNERS, pruners, dict(pruner_options or {}))
    found: Fingerprint = dict(effective_options([tuner], pruners, t_options, p_options))
    for kind in ("tuner", "pruner"):
        for values in found[kind].values():
            for option in SIZED_BY_PANEL:
                values.pop(option, None)
    found["task"] = {task: effective_task_options(task, dict(task_options or {}))}
    found["tuner file"] = _files(TUNERS, found["tuner"])
    found["pruner file"] = _files(PRUNERS, found["pruner"])
    return found


def _files(registry: Any, plugins: dict[str, dict[str, Any]]) -> dict[str, dict[str, str]]:
    out: dict[str, dict[str, str]] = {}
    for name, values in plugins.items():
        for option in registry.file_options(name):
            path = values.get(option) or registry.default_file(name, option)
            if path:
                out.setdefault(name, {})[option] = _digest(Path(path))
    return out


def _digest(path: Path) -> str:
    """``sha256:HEX`` of the file's content; what kept it from being read, when it could not."""
    digest = hashlib.sha256()
    try:
        with path.open("rb") as file:
            for block in iter(lambda: file.read(1 << 20), b""):
                digest.update(block)
    except OSError as exc:
        return f"unreadable ({exc.strerror or type(exc).__name__})"
    return f"sha256:{digest.hexdigest()}"


def differences(recorded: Any, now: Fingerprint) -> list[str]:
    """What differs between the fingerprint a cached run ``recorded`` and the one a run would
    have ``now``, one phrase each (an option only one side names is no difference: a plug-in
    that gained an option kept its old behaviour); none when the run may be reused."""
    if not _well_formed(recorded):
        return [f"its record of the options that made it cannot be read ({recorded!r:.60})"]
    out = []
    for kind in _NAMED:
        was, new = sorted(recorded.get(kind, {})), sorted(now.get(kind, {}))
        if was != new:
            out.append(f"{kind} was {_names(was)}, now {_names(new)}")
    for kind, name, option, was, new in changes(recorded, now):
        if kind.endswith(" file"):
            out.append(
                f"{kind[: -len(' file')]} {name!r} option {option} names a file of other "
                f"content ({_short(was)}, now {_short(new)})"
            )
        else:
            out.append(f"{kind} {name!r} option {option} was {was!r}, now {new!r}")
    return out


def _well_formed(recorded: Any) -> bool:
    return isinstance(recorded, dict) and all(
        isinstance(plugins, dict) and all(isinstance(v, dict) for v in plugins.values())
        for plugins in recorded.values()
    )


def _names(names: list[str]) -> str:
    return ", ".join(repr(n) for n in names) or "none"


def _short(digest: Any) -> str:
    text = str(digest)
    return text[: len("sha256:") + 12] + "..." if text.startswith("sha256:") else text


def reusable(
    runs: dict[Key, dict[str, Any]],
    expected: Callable[[str, str], Fingerprint | None],
    cache: str | Path,
) -> tuple[dict[Key, dict[str, Any]], list[str]]:
    """The cached ``runs`` that the current command may reuse, and what it should print.

    Args:
        runs: Cached runs by ``(task, label, seed)``, as :func:`hyperlab.lab.panel.load_runs`
            reads them.
        expected: The fingerprint (:func:`made_with`) a run of ``(task, label)`` would have
            now; ``None`` for a run the command does not make (it is kept as it is).
        cache: The cache file, named in the notice.

    Returns:
        The runs made as the command would make them, and those without a record of what
        made them (older caches: reused as they are); and the lines that say, one per label,
        how many runs were set aside (to be run again) and what differs, then how many were
        reused without a record.
    """
    kept: dict[Key, dict[str, Any]] = {}
    aside: dict[str, list[list[str]]] = {}
    bare = 0
    fingerprints: dict[tuple[str, str], Fingerprint | None] = {}
    for key, run in runs.items():
        task, label = key[0], key[1]
        if (task, label) not in fingerprints:
            fingerprints[(task, label)] = expected(task, label)
        now = fingerprints[(task, label)]
        if now is not None and MADE_WITH not in run:
            bare += 1
        found = [] if now is None or MADE_WITH not in run else differences(run[MADE_WITH], now)
        if found:
            aside.setdefault(label, []).append(found)
        else:
            kept[key] = run
    notes = [_aside_line(label, found) for label, found in aside.items()]
    if bare:
        notes.append(
            f"cached runs with no record of the options that made them, reused as they are: "
            f"{bare} in {cache} (delete it to run them again)"
        )
    return kept, notes


def _aside_line(label: str, found: list[list[str]]) -> str:
    reasons = list(dict.fromkeys(phrase for run in found for phrase in run))
    n = len(found)
    return (
        f"{label}: {n} cached run{'s' if n != 1 else ''} set aside, not reused (the command "
        f"runs again those it needs), made with other options: {'; '.join(reasons)}"
    )
