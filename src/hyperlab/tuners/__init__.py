"""Tuners: Optuna samplers that choose configurations (classic ones and neural ones).

Importing this package registers the built-in tuners in :data:`hyperlab.registry.TUNERS`. The
samplers are Optuna samplers, usable in any Optuna study::

    from hyperlab.tuners import MetaSampler
    study = optuna.create_study(sampler=MetaSampler(seed=0))
"""

from __future__ import annotations

from hyperlab.tuners import classic as classic  # registers the classic tuners
from hyperlab.tuners import guided as guided  # registers the diagnosis tuner
from hyperlab.tuners import meta as meta  # registers meta
from hyperlab.tuners import neural as neural  # registers neural, neural-ensemble
from hyperlab.tuners import one_epoch as one_epoch  # registers one-epoch
from hyperlab.tuners import peers as peers  # registers the peers (their libraries load lazily)
from hyperlab.tuners.classic import GASampler
from hyperlab.tuners.feedback import PredictionFeedback
from hyperlab.tuners.guided import DiagnosisSampler
from hyperlab.tuners.meta import MetaSampler
from hyperlab.tuners.neural import NeuralSampler

__all__ = ["DiagnosisSampler", "GASampler", "MetaSampler", "NeuralSampler", "PredictionFeedback"]
