"""Tuners: Optuna samplers that choose configurations (classic ones and neural ones).

Importing this package registers the built-in tuners in :data:`hyperlab.registry.TUNERS`. The
samplers are Optuna samplers, usable in any Optuna study::

    from hyperlab.samplers import NeuralSampler
    study = optuna.create_study(sampler=NeuralSampler(seed=0))
"""

from __future__ import annotations

from hyperlab.samplers import classic as classic  # registers the classic tuners
from hyperlab.samplers import diagnosis as diagnosis  # registers the diagnosis tuner
from hyperlab.samplers import neural as neural  # registers neural, neural-ensemble
from hyperlab.samplers.classic import GASampler
from hyperlab.samplers.diagnosis import DiagnosisSampler
from hyperlab.samplers.feedback import PredictionFeedback
from hyperlab.samplers.neural import NeuralSampler

__all__ = ["DiagnosisSampler", "GASampler", "NeuralSampler", "PredictionFeedback"]
