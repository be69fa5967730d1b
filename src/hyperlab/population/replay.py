"""Replay a schedule a population discovered: one fresh model trained segment by segment
with the hyperparameters each segment of the schedule used."""

from __future__ import annotations

from typing import Any

import optuna

from hyperlab.errors import InputError
from hyperlab.population.selftuning import hypergradient_twin
from hyperlab.tasks.base import Segment, Task


def replay(
    task: Task,
    schedule: list[dict[str, Any]],
    *,
    seed: int = 0,
    hypergradient: bool = False,
) -> list[Segment]:
    """Train one fresh model of ``task`` with ``schedule`` (a trial's ``schedule`` attribute).

    With the seed of the member the schedule starts from (the ``seed`` attribute of the trial
    of ``schedule[0]["member"]``) and the run's ``hypergradient``, the replay retraces the
    member's path: the same scores, epoch for epoch.

    Args:
        task: The task the population trained.
        schedule: Segments with ``start``, ``end`` and ``config``, contiguous from epoch 0.
        seed: Seeds the fresh model.
        hypergradient: Train with hypergradient optimizers, as self-tuning members do.

    Returns:
        The segments, in order.

    Raises:
        InputError: The schedule is empty or its segments are not contiguous from epoch 0.
    """
    if not schedule:
        raise InputError("the schedule to replay is empty")
    state: Any = None
    epoch = 0
    out = []
    for entry in schedule:
        if entry["start"] != epoch or entry["end"] <= epoch:
            raise InputError(
                f"schedule segments must follow each other from epoch 0; got {entry['start']}.."
                f"{entry['end']} after epoch {epoch}"
            )
        config = task.search_space(optuna.trial.FixedTrial(entry["config"]))  # type: ignore[arg-type]
        wrap = hypergradient_twin if hypergradient else None
        segment = task.train_segment(
            config, state, entry["end"] - epoch, seed=seed, wrap_optimizer=wrap
        )
        out.append(segment)
        state, epoch = segment.state, entry["end"]
    return out
