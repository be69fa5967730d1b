"""Search spaces: a task's Optuna distributions, and their encoding as points of the unit cube.

:func:`capture_distributions` reads the distributions a task's ``space`` function suggests;
:class:`SpaceEncoder` maps configurations to ``[0, 1]^d`` and back for the neural tuners and
curve predictors.
"""

from __future__ import annotations

from hyperlab.space.distributions import (
    capture_distributions,
    centre,
    check_distributions,
    grid_space,
    grid_values,
)
from hyperlab.space.encoding import SpaceEncoder

__all__ = [
    "SpaceEncoder",
    "capture_distributions",
    "centre",
    "check_distributions",
    "grid_space",
    "grid_values",
]
