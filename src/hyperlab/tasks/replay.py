"""Replay tasks: learning curves looked up instead of trained (after Syne Tune's simulator).

A replay task answers ``evaluate(config, budget)`` from stored or learned curves, so that a
comparison of pruners over thousands of trials takes seconds. ``wall_time`` is *simulated*:
the seconds the real training would have taken for the epochs used (the sum of epoch times).

Two sources of curves:

- ``lcbench-<OpenML task id>``: the YAHPO Gym surrogate of LCBench (Pfisterer et al. 2022;
  Zimmer et al. 2021), an ONNX network that maps (task, epoch, configuration) to validation
  cross-entropy, accuracy and elapsed time for funnel-shaped MLPs trained for up to 52 epochs.
  The surrogate is deterministic: the seed does not change the curve.
- ``digits-mlp-bank``: a bank of real curves of the ``digits-mlp`` task, made by
  ``scripts/make_curve_bank.py`` and shipped in ``hyperlab/data/digits_mlp_bank.npz``. Any
  configuration of the task's search space is answered by its nearest neighbour in the bank
  (same activation and optimizer; Euclidean distance on the unit-scaled, log where the axis is
  log-scaled, numeric hyperparameters), so every tuner sees the real hyperparameters.

The base class is in :mod:`hyperlab.tasks.replay_base`, the two sources in
:mod:`hyperlab.tasks.replay_lcbench` and :mod:`hyperlab.tasks.replay_bank`. Importing this
module registers both in :data:`hyperlab.registry.TASKS`; it keeps the names code imports
from here.
"""

from __future__ import annotations

import os

from hyperlab.registry import TASKS
from hyperlab.tasks.replay_bank import DIGITS_BANK, CurveBankTask
from hyperlab.tasks.replay_base import ReplayCurve as ReplayCurve
from hyperlab.tasks.replay_base import ReplayTask
from hyperlab.tasks.replay_lcbench import DATA_ENV as DATA_ENV
from hyperlab.tasks.replay_lcbench import (
    LCBENCH_DIR,
    PACKAGED_DATA,
    LCBenchTask,
    resolve_lcbench_dir,
)
from hyperlab.tasks.replay_lcbench import LCBENCH_EPOCHS as LCBENCH_EPOCHS
from hyperlab.tasks.replay_lcbench import LCBENCH_INPUTS as LCBENCH_INPUTS
from hyperlab.tasks.replay_lcbench import LCBENCH_OPTIMUM_SAMPLES as LCBENCH_OPTIMUM_SAMPLES
from hyperlab.tasks.replay_lcbench import LCBENCH_OUTPUTS as LCBENCH_OUTPUTS
from hyperlab.tasks.replay_lcbench import lcbench_distributions as lcbench_distributions

__all__ = [
    "DIGITS_BANK",
    "LCBENCH_DIR",
    "PACKAGED_DATA",
    "CurveBankTask",
    "LCBenchTask",
    "ReplayTask",
    "resolve_lcbench_dir",
]


def _lcbench(task_id: str, *, data_dir: str | os.PathLike[str] | None = None) -> LCBenchTask:
    return LCBenchTask(task_id, data_dir=data_dir)


TASKS.register(
    "lcbench-",
    _lcbench,
    "LCBench data set <OpenML task id> replayed through the YAHPO surrogate (52 epochs)",
    family=True,
)


TASKS.register(
    "digits-mlp-bank",
    CurveBankTask,
    "replayed bank of real digits-mlp curves (nearest-neighbour lookup; seconds per study)",
)
