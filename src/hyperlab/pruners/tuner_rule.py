"""``tuner``: the pruner that asks the study's tuner whether a trial stops.

A multi-fidelity tuner (Syne Tune's ASHA and BOHB, ...) both proposes configurations and
decides, epoch by epoch, which trials go on. In hyperlab the proposal is the sampler's job and
the decision the pruner's: a trial reports its value after each epoch and ``trial.should_prune``
asks ``study.pruner.prune(study, trial)``. :class:`TunerRulePruner` hands that question to the
study's sampler when the sampler declares a stopping rule of its own (``stops_trials = True``
and a method ``should_stop(study, trial) -> bool``), so a trial such a tuner stops is recorded
as pruned, with its epochs counted exactly as every other pruner's are.

A tuner without a rule of its own is never stopped (the pruner is then ``none``; the lab warns
when a run pairs them). The pruner carries the trials' epochs (``max_budget``: the run's budget
or the task's epochs, as every pruner gets them); a tuner with a rule reads them from it.
"""

from __future__ import annotations

from typing import Any

import optuna
from optuna.pruners import BasePruner
from optuna.trial import FrozenTrial

from hyperlab.errors import InputError
from hyperlab.pruners.base import check_int
from hyperlab.registry import PRUNERS


class TunerRulePruner(BasePruner):
    """Stops a trial when the study's tuner says so (see the module doc).

    Args:
        max_budget: The trials' epochs (``None``: not known; a tuner that needs them refuses to
            start without them).

    Raises:
        InputError: ``max_budget`` is not an int >= 1 or ``None``.
    """

    #: It asks the tuner: a tuner without a stopping rule of its own runs every trial in full.
    asks_tuner = True

    def __init__(self, max_budget: int | None = None) -> None:
        check_int("max_budget", max_budget, 1, optional=True)
        self.max_budget = max_budget

    def prune(self, study: optuna.Study, trial: FrozenTrial) -> bool:
        sampler: Any = study.sampler
        if not getattr(sampler, "stops_trials", False):
            return False
        return bool(sampler.should_stop(study, trial))


@PRUNERS.add(
    "tuner",
    "the tuner's own stopping rule (multi-fidelity tuners such as syne-asha); stops nothing "
    "for a tuner without one",
)
def tuner(
    *, max_budget: int | None = None, seed: int | None = None, **options: Any
) -> TunerRulePruner:
    """The pruner that asks the study's tuner (it takes no options).

    Raises:
        InputError: An option was given.
    """
    if options:
        raise InputError(f"pruner 'tuner' takes no options, got {sorted(options)}")
    return TunerRulePruner(max_budget=max_budget)


tuner.takes_options = frozenset()  # type: ignore[attr-defined]
