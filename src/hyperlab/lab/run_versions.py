"""The library versions a run ran with across its resumptions: what changed since the recorded
ones, the warning a resumption gives, and the earlier sets ``run.json`` keeps
(``earlier_versions``, oldest first; ``versions`` holds the set it last ran with).
"""

from __future__ import annotations

from typing import Any

#: A package whose version changed: its name, the version recorded, the one installed now.
Change = tuple[str, str, str]


def version_changes(recorded: dict[str, Any], current: dict[str, Any]) -> list[Change]:
    """The packages recorded in both sets whose versions differ, in the recorded order.

    A package only one set names is not a change: a hyperlab that records more packages than
    the one that made the run (or fewer) does not say what was installed then.
    """
    return [
        (name, str(was), str(current[name]))
        for name, was in recorded.items()
        if name in current and current[name] != was
    ]


def changes_text(changes: list[Change]) -> tuple[str, str]:
    """``("optuna 4.2.0, torch 2.5.0", "optuna 4.5.0, torch 2.6.0")``: before and now."""
    before = ", ".join(f"{name} {was}" for name, was, _ in changes)
    now = ", ".join(f"{name} {new}" for name, _, new in changes)
    return before, now


def resume_warning(run: str, changes: list[Change]) -> str:
    """What a resumption with other versions than the recorded ones says, once."""
    before, now = changes_text(changes)
    return (
        f"run {run!r} last ran with {before} and resumes with {now}: its trials come from "
        "both (run.json keeps the earlier versions in 'earlier_versions', and the report "
        "says which trials ran with which)"
    )


def earlier_set(versions: dict[str, Any], until: str, progress: dict[str, Any]) -> dict[str, Any]:
    """An item of ``earlier_versions``: the set ``versions`` the run ran with until the
    resumption at ``until`` (ISO time), when it had got as far as ``progress`` (``{"trials":
    N}``: the trials its studies held, ``None``: unknown; with ``"member_epochs"`` while a
    population was under way, see :mod:`hyperlab.lab.run_progress`)."""
    return {"versions": dict(versions), "until": until, **progress}
