"""Tuners: Optuna samplers that choose configurations (classic ones and neural ones).

Importing this package registers the built-in tuners in :data:`hyperlab.registry.TUNERS`.
"""

from __future__ import annotations

from hyperlab.samplers import classic as classic  # registers the classic tuners
from hyperlab.samplers import diagnosis as diagnosis  # registers the diagnosis tuner
from hyperlab.samplers import neural as neural  # registers neural, neural-ensemble
