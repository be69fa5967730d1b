"""Pruners: Optuna pruners that read partial learning curves and stop the losers.

Importing this package registers the built-in pruners in :data:`hyperlab.registry.PRUNERS`.
"""

from __future__ import annotations

from hyperlab.pruners import classic as classic  # registers the classic pruners
from hyperlab.pruners import curve as curve  # registers curve, curve-parametric
from hyperlab.pruners import curve_halving as curve_halving  # registers curve-halving
