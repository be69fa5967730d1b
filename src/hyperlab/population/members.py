"""A member of the population: its hyperparameters, its current model and how it got there."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field, fields
from typing import Any

from hyperlab.tasks.base import Segment


@dataclass(eq=False)  # members are compared by identity (their states hold tensors)
class Member:
    """One slot of the population and the model it holds now.

    After an exploit the slot holds a copy of another member's model, so the model's record
    (``values``, ``curves``, ``schedule``) is that model's whole path, while ``lineage`` is
    what happened to the slot itself.

    Attributes:
        index: The slot's number, ``0..population-1`` (its trial's order).
        params: The hyperparameters of its next segment (names of the search space).
        initial: The hyperparameters it started with (its trial's parameters).
        seed: Seeds a fresh model.
        state: The task's state of its current model (``None`` before the first segment).
        epoch: Epochs its current model has trained.
        value: The current model's score at ``epoch`` (``None`` before the first segment).
        values: The current model's score after each epoch, ``epoch`` of them.
        curves: The current model's per-epoch curves (``train_loss``, ``val_loss``, ...).
        schedule: The current model's segments: ``start``/``end`` epoch, ``config``, the
            ``member`` that trained it and its ``seed`` then, ``learned`` hyperparameters, and ``copied_from`` and
            ``perturbation`` when the segment began with an exploit.
        lineage: The slot's own events: each exploit (``epoch``, ``copied_from``, its value and
            the donor's) and each failed segment (``failed``: the reason).
        epochs_trained: Epochs the slot trained, failed segments included (its compute).
        wall_time: Seconds the slot trained.
        std_err: Standard error over folds of ``value``.
        fold_values: Per-fold scores behind ``value``.
        origin: How ``params`` came about when the next segment begins with an exploit
            (``copied_from``, ``perturbation``); empty otherwise.
        restarts: Fresh restarts after a failure with no member to copy.
        extra: The task's own extras of the current model's last segment (``Segment.extra``:
            a ``val_accuracy``, say), JSON-simple (:func:`~hyperlab.tasks.base.check_segment`).
    """

    index: int
    params: dict[str, Any]
    initial: dict[str, Any]
    seed: int
    state: Any = None
    epoch: int = 0
    value: float | None = None
    values: list[float] = field(default_factory=list)
    curves: dict[str, list[float]] = field(default_factory=dict)
    schedule: list[dict[str, Any]] = field(default_factory=list)
    lineage: list[dict[str, Any]] = field(default_factory=list)
    epochs_trained: int = 0
    wall_time: float = 0.0
    std_err: float = 0.0
    fold_values: list[float] = field(default_factory=list)
    origin: dict[str, Any] = field(default_factory=dict)
    restarts: int = 0
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """The fields as a dict (shallow: the state is not copied), for a checkpoint."""
        return {f.name: getattr(self, f.name) for f in fields(self)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Member:
        """A member from :meth:`to_dict`."""
        return cls(**data)

    def record(self, segment: Segment, start: int, active: dict[str, Any] | None = None) -> None:
        """Take a finished segment that began at epoch ``start`` from this member's model;
        ``active`` is the part of ``params`` the segment's configuration used (the branch of a
        conditional space; ``None``: all of it), which its record holds."""
        config = dict(self.params if active is None else active)
        perturbation = self.origin.get("perturbation")
        if perturbation is not None:
            perturbation = {k: v for k, v in perturbation.items() if k in config}
        self.state = segment.state
        self.epoch = start + len(segment.values)
        self.values.extend(float(v) for v in segment.values)
        self.value = self.values[-1]
        for key, curve in segment.curves.items():
            self.curves.setdefault(key, []).extend(float(v) for v in curve)
        self.schedule.append(
            {
                "member": self.index,
                "seed": self.seed,  # the trainer's seed then (a restart changes a slot's seed)
                "start": start,
                "end": self.epoch,
                "config": config,
                "learned": {k: float(v) for k, v in segment.learned.items()},
                "copied_from": self.origin.get("copied_from"),
                "perturbation": perturbation,
            }
        )
        self.origin = {}
        self.std_err = float(segment.std_err)
        self.fold_values = [float(v) for v in segment.fold_values]
        self.extra = copy.deepcopy(segment.extra)

    def copy_from(self, donor: Member, reason: str, state: Any = None) -> None:
        """Exploit: continue from a deep copy of ``donor``'s model (weights and optimizer state,
        as they are now: never an older checkpoint) with its hyperparameters and epoch;
        ``state`` is that copy when the caller made it (``None``: made here)."""
        self.lineage.append(
            {
                "epoch": donor.epoch,
                "copied_from": donor.index,
                "value": self.value,
                "donor_value": donor.value,
                "reason": reason,
            }
        )
        self.state = copy.deepcopy(donor.state) if state is None else state
        self.epoch = donor.epoch
        self.value = donor.value
        self.values = list(donor.values)
        self.curves = {k: list(v) for k, v in donor.curves.items()}
        self.schedule = copy.deepcopy(donor.schedule)
        self.params = dict(donor.params)
        self.std_err = donor.std_err
        self.fold_values = list(donor.fold_values)
        self.extra = copy.deepcopy(donor.extra)
        self.origin = {"copied_from": donor.index, "perturbation": {}}

    @property
    def untested(self) -> bool:
        """Whether the member copied a donor and has not trained since: its score is the
        donor's, its (perturbed) hyperparameters untried, so it is no donor itself."""
        return self.origin.get("copied_from") is not None

    def restart(self, params: dict[str, Any], seed: int) -> None:
        """Start again from a fresh model with ``params`` (a failure with nothing to copy)."""
        self.restarts += 1
        self.lineage.append({"epoch": self.epoch, "restarted": True})
        self.params, self.seed, self.state = dict(params), seed, None
        self.epoch, self.value, self.values, self.curves, self.schedule = 0, None, [], {}, []
        self.origin, self.extra = {}, {}
