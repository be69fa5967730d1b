"""Pruners: Optuna pruners that read partial learning curves and stop the losers.

Importing this package registers the built-in pruners in :data:`hyperlab.registry.PRUNERS`. The
pruners are Optuna pruners, usable in any Optuna study::

    from hyperlab.curves import ParametricCurvePredictor
    from hyperlab.pruners import LearningCurvePruner
    pruner = LearningCurvePruner(ParametricCurvePredictor(), max_budget=20)
    study = optuna.create_study(pruner=pruner)

The curve pruners (:class:`~hyperlab.pruners.base.PredictorPruner` and its subclasses) are
built from small parts: what they read from trials (``trials``), when they check
(``schedule``), the trials they never stop (``guards``), the median rule that stands in for an
unfitted predictor (``median``) and the pretrained neural predictor (``pretrain``).
"""

from __future__ import annotations

from hyperlab.pruners import classic as classic  # registers the classic pruners
from hyperlab.pruners import curve as curve  # registers curve, curve-parametric
from hyperlab.pruners import curve_halving as curve_halving  # registers curve-halving
from hyperlab.pruners import oracle as oracle  # registers oracle (a yardstick)
from hyperlab.pruners import tuner_rule as tuner_rule  # registers tuner (the tuner's own rule)
from hyperlab.pruners.base import PredictorPruner
from hyperlab.pruners.curve import LearningCurvePruner
from hyperlab.pruners.curve_halving import CurveHalvingPruner
from hyperlab.pruners.oracle import OraclePruner
from hyperlab.pruners.tuner_rule import TunerRulePruner

__all__ = [
    "CurveHalvingPruner",
    "LearningCurvePruner",
    "OraclePruner",
    "PredictorPruner",
    "TunerRulePruner",
]
