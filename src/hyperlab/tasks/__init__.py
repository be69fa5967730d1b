"""Tasks: what is being tuned.

Importing this package registers the built-in tasks in :data:`hyperlab.registry.TASKS`.
"""

from __future__ import annotations

from hyperlab.tasks import mlp as mlp  # registers digits-mlp, breast-cancer-mlp, wine-mlp
from hyperlab.tasks import replay as replay  # registers lcbench-<id>, digits-mlp-bank
from hyperlab.tasks import synthetic as synthetic  # registers branin, hartmann6, rosenbrock-4d
from hyperlab.tasks.base import CURVE_KEYS, Evaluation, Task, standard_error

__all__ = ["CURVE_KEYS", "Evaluation", "Task", "standard_error"]
