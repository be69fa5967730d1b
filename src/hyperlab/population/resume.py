"""When a population run writes its checkpoint, and which checkpoint it may resume from.

A run writes its checkpoint (:mod:`hyperlab.population.checkpoint`) after its first step and
then only once the training since the last one is worth a save (:func:`checkpoint_due`); it
resumes only from a checkpoint of its own layout (:func:`check_layout`) made with its own
settings (:func:`check_settings`). :func:`time_spent` says what the checkpoints cost.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from hyperlab.errors import InputError
from hyperlab.population import checkpoint
from hyperlab.population.checkpoint_file import FILE


def checkpoint_due(
    writer: checkpoint.Writer | None, saved_at: float | None, trained: float, share: float
) -> bool:
    """Whether to write a checkpoint now: none was written by this process yet, or the
    training since the last one (``trained`` seconds in all, ``saved_at`` at the last) is at
    least what a save costs over ``share`` (``CHECKPOINT_SHARE``).
    """
    if saved_at is None or writer is None or writer.saves == 0:
        return True
    return trained - saved_at >= writer.cost_per_save() / share


def check_layout(workdir: Path, data: Any, layout: int) -> None:
    """Refuse ``data`` (loaded from ``workdir``) unless it is a population checkpoint of
    ``layout``."""
    if not isinstance(data, dict) or "format" not in data:
        raise InputError(
            f"{workdir / FILE} is not a population checkpoint; remove it to "
            "start the population again"
        )
    if data.get("format") != layout:
        raise InputError(
            f"the population checkpoint in {workdir} has layout {data.get('format')!r}; "
            f"this version reads layout {layout} (remove it to start the population again)"
        )


def check_settings(
    workdir: Path, stored: dict[str, Any], mine: dict[str, Any], before: dict[str, Any]
) -> None:
    """Refuse the checkpoint in ``workdir``, made with settings ``stored``, unless they are
    this run's, ``mine``; ``before`` holds the value of a setting a checkpoint may lack."""
    for key in mine:
        was = stored.get(key, before.get(key))
        if was != mine[key]:
            raise InputError(
                f"the population checkpoint in {workdir} was made with "
                f"{key}={was!r}, this run has {key}={mine[key]!r}; use a new "
                "run (or remove the checkpoint to start the population again)"
            )


def kept_settings(
    workdir: Path,
    saved: dict[str, Any],
    mine: dict[str, Any],
    defaulted: frozenset[str],
    before: dict[str, Any],
) -> dict[str, Any]:
    """The settings a run resumed from the checkpoint in ``workdir``, made with settings
    ``saved``, keeps from it in place of its own ``mine``: those the user left at their
    default (``defaulted``) and those the checkpoint lacks (``before`` holds the value every
    run had then). Any other difference is refused (:func:`check_settings`)."""
    # a setting added since the checkpoint was written had then the value every run had
    # (the run's record allowed no other): the run goes on with it, as do the defaulted
    added = before.keys() - saved.keys()
    stored = {**before, **saved}
    kept = {k: stored[k] for k in defaulted | added if k in stored and stored[k] != mine[k]}
    check_settings(workdir, stored, {**mine, **kept}, before)
    return kept


def time_spent(seconds: dict[str, float], writer: checkpoint.Writer | None) -> dict[str, Any]:
    """Where a run's time went (``seconds`` training, saving and restoring) and how many
    checkpoints ``writer`` wrote and replaced, as the run's summary gives them."""
    train = seconds["train"]
    return {
        "train_seconds": train,
        "checkpoint_seconds": seconds["save"],
        "restore_seconds": seconds["restore"],
        "checkpoint_share": seconds["save"] / train if train > 0 else math.nan,
        "checkpoints_written": w.saves - w.replaced if (w := writer) else 0,
        "checkpoints_replaced": w.replaced if w else 0,
    }
