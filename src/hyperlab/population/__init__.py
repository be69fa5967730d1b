"""Population-based training: PBT and PB2 as the tuners ``pbt`` and ``pb2``.

A population of ``trials`` members trains a task's models in segments; between segments the
worst members copy the best ones (weights and optimizer state) and explore new values of the
task's mutable hyperparameters, so the population learns a hyperparameter schedule. PBT
explores by random perturbation (Jaderberg et al. 2017), PB2 by a Gaussian-process bandit
(Parker-Holder et al. 2020). The task must continue training
(:meth:`hyperlab.tasks.Task.train_segment`). Importing this package registers both tuners in
:data:`hyperlab.registry.TUNERS`; how to use them, what is stored and how a run resumes:
``docs/population.md``. It also registers ``tpe-hd`` and ``random-hd``
(:mod:`hyperlab.population.self_tuning_trials`): no population, each trial's model learns its
rate by hypergradient from the start rate the tuner drew.
"""

from __future__ import annotations

from hyperlab.population.bandit import GPBandit
from hyperlab.population.explore import Context, Explorer, Perturb
from hyperlab.population.loop import PopulationFailure
from hyperlab.population.members import Member
from hyperlab.population.replay import member_test_score, replay, replay_member
from hyperlab.population.self_tuning_trials import SelfTuningTrials
from hyperlab.population.selftuning import hypergradient_twin
from hyperlab.population.tuner import PopulationTuner

__all__ = [
    "Context",
    "Explorer",
    "GPBandit",
    "Member",
    "Perturb",
    "PopulationFailure",
    "PopulationTuner",
    "SelfTuningTrials",
    "hypergradient_twin",
    "member_test_score",
    "replay",
    "replay_member",
]
