"""Experiments (``hyperlab experiment NAME``): self-contained studies with a report section.

Each experiment module registers itself in :data:`hyperlab.registry.EXPERIMENTS` with a
factory ``factory(*, out_dir: Path, quick: bool, seed: int) -> ExperimentResult``; ``quick``
runs a short version (seconds) for the demo and the tests.
"""

from __future__ import annotations

from hyperlab.experiments.base import ExperimentResult

__all__ = ["ExperimentResult"]

# Experiment modules register themselves on import (one line each, below).
from hyperlab.experiments import l2_collapse as l2_collapse
from hyperlab.experiments import relaxed_architecture as relaxed_architecture
from hyperlab.experiments import self_lr as self_lr
from hyperlab.experiments import self_tuning_net as self_tuning_net
