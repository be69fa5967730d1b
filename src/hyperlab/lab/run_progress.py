"""How far a run had got when a resumption changed what it runs with, as ``run.json`` keeps it
(an item of ``earlier_versions`` or ``default_changes``): ``{"trials": N}``, the trials its
studies held then, with ``"member_epochs"`` added while a population was under way.

A population writes its trials to its study only when it ends, so its study holds none while
it trains; what it had trained is in its work folder (``population/STUDY/``): the checkpoint,
and beside it a small plain record of how far it had got, ``{"member_epochs": N}`` (the epochs
its members stand at, summed), which is read here without loading the checkpoint. A checkpoint
without that record (written before hyperlab kept one) leaves ``member_epochs`` null: unknown.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

#: The checkpoint a population writes in its work folder, and the record of its progress
#: beside it (:mod:`hyperlab.population.checkpoint_file` names them too: the lab does not
#: import a tuner's code).
CHECKPOINT = "population.pkl"
PROGRESS = "progress.json"


def run_progress(trials: dict[str, int] | None, folders: dict[str, Path]) -> dict[str, Any]:
    """``{"trials": N}``: the trials the run's studies held (``trials``, by study name;
    ``None``: the storage could not be read, ``N`` null), with ``"member_epochs"`` (see
    :func:`member_epochs`) where a study that holds no trial has a population checkpoint in its
    work folder (``folders``, by study name)."""
    if trials is None:
        return {"trials": None}
    out: dict[str, Any] = {"trials": sum(trials.values())}
    under_way = [
        folder
        for name, folder in folders.items()
        if not trials.get(name) and (folder / CHECKPOINT).is_file()
    ]
    if under_way:
        out["member_epochs"] = member_epochs(under_way)
    return out


def member_epochs(folders: list[Path]) -> int | None:
    """The epochs the members of the populations checkpointed in ``folders`` stand at, summed
    (``None``: one of them has no readable record of its progress)."""
    total = 0
    for folder in folders:
        try:
            value = json.loads((folder / PROGRESS).read_text(encoding="utf-8"))["member_epochs"]
        except (OSError, ValueError, TypeError, KeyError):
            return None
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            return None
        total += value
    return total
