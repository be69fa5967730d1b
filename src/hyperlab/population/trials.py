"""The finished population as Optuna trials: one complete trial per member.

The trials are written only when the population has finished, each in one storage call
(``study.add_trial``), so a study never holds half a member; a resumed run adds the members
that are missing and nothing else.
"""

from __future__ import annotations

from typing import Any

import optuna
from optuna.distributions import BaseDistribution
from optuna.trial import TrialState

from hyperlab.population.members import Member
from hyperlab.tasks.base import EXTRAS_ATTR, LINEAGE_ATTR, MEMBER_ATTR, extra_names

#: The study attribute that holds the population's settings and time spent.
SUMMARY_ATTR = "population"


def missing_members(study: optuna.Study, population: int) -> list[int]:
    """The members ``0..population-1`` the study holds no complete trial of."""
    present = {
        t.user_attrs.get(MEMBER_ATTR)
        for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    }
    return [i for i in range(population) if i not in present]


def write_trials(
    study: optuna.Study,
    members: list[Member],
    space: dict[str, BaseDistribution],
    summary: dict[str, Any],
) -> None:
    """Add a complete trial for each member the study lacks, and the run's summary.

    A trial's parameters are the member's initial hyperparameters, its value the final score
    of the model it ends with, reported at every epoch of that model's path; its user
    attributes hold ``member``, ``schedule`` (the model's segments), ``lineage`` (the member's
    exploits and failures), ``curves``, ``budget`` (the epochs the member trained, failed
    segments included), ``wall_time``, ``std_err``, ``fold_values`` and ``seed``, beside the
    task's own extras of the model's last segment (``Segment.extra``, as a ``tpe-hd`` trial
    keeps them; a name the lab uses keeps the lab's value), whose names its system attribute
    :data:`~hyperlab.tasks.base.EXTRAS_ATTR` lists.
    """
    missing = set(missing_members(study, len(members)))
    for m in members:
        if m.index in missing:
            study.add_trial(_frozen(m, space))
    study.set_user_attr(SUMMARY_ATTR, summary)


def _frozen(m: Member, space: dict[str, BaseDistribution]) -> optuna.trial.FrozenTrial:
    own = {
        MEMBER_ATTR: m.index,
        "schedule": m.schedule,
        LINEAGE_ATTR: m.lineage,
        "curves": m.curves,
        "budget": m.epochs_trained,
        "wall_time": m.wall_time,
        "std_err": m.std_err,
        "fold_values": m.fold_values,
        "seed": m.seed,
    }
    names = extra_names(m.extra, own)
    return optuna.trial.create_trial(
        params=dict(m.initial),
        distributions={name: space[name] for name in m.initial},
        value=m.value,
        intermediate_values={epoch + 1: v for epoch, v in enumerate(m.values)},
        user_attrs={**m.extra, **own},
        system_attrs={EXTRAS_ATTR: names} if names else None,
    )
