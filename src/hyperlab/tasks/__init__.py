"""Tasks: what is being tuned.

Importing this package registers the built-in tasks in :data:`hyperlab.registry.TASKS`, which
also resolves references to the user's own code (``module:attribute``, ``file.py:attribute``;
see :mod:`hyperlab.tasks.user`).
"""

from __future__ import annotations

from hyperlab.registry import TASKS
from hyperlab.tasks import mlp as mlp  # registers digits-mlp, breast-cancer-mlp, wine-mlp
from hyperlab.tasks import replay as replay  # registers lcbench-<id>, digits-mlp-bank
from hyperlab.tasks import synthetic as synthetic  # registers branin, hartmann6, rosenbrock-4d
from hyperlab.tasks import synthetic_families as synthetic_families  # synth-, gpprior-
from hyperlab.tasks import tables as tables  # registers hpobench-, hpolib-, nb201-<data set>
from hyperlab.tasks import user as user  # resolves module:attribute and file.py:attribute
from hyperlab.tasks.base import CURVE_KEYS, Evaluation, Segment, Task, standard_error

TASKS.set_resolver(user.resolve)

__all__ = ["CURVE_KEYS", "Evaluation", "Segment", "Task", "standard_error"]
