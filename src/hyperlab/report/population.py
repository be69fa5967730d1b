"""Report records of a population (``pbt``/``pb2``): the learned schedules and the lineage.

A population's study holds one complete trial per member whose ``schedule`` user attribute is
the path of the model the member ends with (its segments, each with the hyperparameters it
trained with and, where it began with a copy, the member copied) and whose ``lineage`` is what
happened to the member's slot (each copy, failure and restart). These records are plain data;
``hyperlab.report.population_html`` draws them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import optuna
from optuna.distributions import BaseDistribution, CategoricalDistribution
from optuna.trial import FrozenTrial, TrialState

from hyperlab.lab.summary import population_notes

#: The trial attribute that marks a population's trial and holds a model's segments.
SCHEDULE_ATTR = "schedule"


#: The suffix of a parameter's name for the value its training learned (hypergradient members).
LEARNED = " (learned)"


@dataclass
class ScheduledParam:
    """A hyperparameter the population changes while it trains (a mutable one).

    Attributes:
        name: Its name in the search space.
        log: Whether its range is log-scaled (its figure gets a log axis).
        low: The lower end of a numeric range (``None`` for a categorical one).
        high: The upper end of a numeric range.
        choices: A categorical parameter's choices (empty for a numeric one).
    """

    name: str
    log: bool = False
    low: float | None = None
    high: float | None = None
    choices: list[Any] = field(default_factory=list)


@dataclass
class ScheduleSegment:
    """Epochs ``start`` to ``end`` of a model's path and the hyperparameters they used.

    Attributes:
        start: The epoch the segment began at.
        end: The epoch it ended at.
        trained_by: The member that trained the model in this segment.
        config: Every hyperparameter of the segment.
        copied_from: The member whose model the segment began from by a copy (``None``: none).
        perturbation: ``name -> [before, after]`` of the values explored at that copy.
        learned: Hyperparameters the training set itself (a hypergradient member's learning
            rate), as they stood at the segment's end.
    """

    start: int
    end: int
    trained_by: int
    config: dict[str, Any]
    copied_from: int | None = None
    perturbation: dict[str, Any] = field(default_factory=dict)
    learned: dict[str, Any] = field(default_factory=dict)


@dataclass
class Copy:
    """A member's slot continuing from another member's model at ``epoch``."""

    epoch: int
    copied_from: int


@dataclass
class MemberSchedule:
    """One member: its final model's segments and the copies its slot made.

    Attributes:
        member: The member's number.
        trial: Its trial's number.
        value: The final score of the model it ends with.
        segments: That model's path, first segment first.
        copies: The copies its slot made, in order.
        restarts: Epochs at which its slot restarted from a fresh model.
    """

    member: int
    trial: int
    value: float
    segments: list[ScheduleSegment]
    copies: list[Copy] = field(default_factory=list)
    restarts: list[int] = field(default_factory=list)

    def values_of(self, name: str) -> list[Any]:
        """The value of ``name`` in each segment (``None`` where a segment lacks it); a name
        ending in :data:`LEARNED` is the learned value at the segment's end."""
        if name.endswith(LEARNED):
            return [s.learned.get(name[: -len(LEARNED)]) for s in self.segments]
        return [s.config.get(name) for s in self.segments]


@dataclass
class Branch:
    """A node of the lineage tree: a member's slot from ``start`` on, until its next copy.

    Attributes:
        member: The member.
        start: The epoch the branch begins at (0, or the epoch of a copy or restart).
        copied_from: The donor when the branch began with a copy (``None`` otherwise).
        parent: Index in :attr:`PopulationRecords.branches` of the donor's branch it copied
            (``None`` for a root: a member's start or restart).
        final: Whether the member ends on this branch.
        restarted: Whether the branch began with a restart (a fresh model after a failure
            with no member to copy).
    """

    member: int
    start: int
    copied_from: int | None = None
    parent: int | None = None
    final: bool = False
    restarted: bool = False


@dataclass
class PopulationRecords:
    """Everything the report shows about a population.

    Attributes:
        tuner: ``pbt`` or ``pb2`` (empty when the study did not record it).
        budget: Epochs of each member.
        params: The mutable hyperparameters, in search-space order.
        members: Every member, by number.
        best: The number of the member with the best final value.
        branches: The lineage tree, roots and copies in the order they happened.
        sentence: What the best member's schedule did, in one plain sentence.
        notes: The population's screen and its members' failed segments, one line each.
        unit: What a member is called: ``"member"``, or ``"trial"`` for trials that train
            alone (``tpe-hd``, ``random-hd``: no population, no copies).
    """

    tuner: str
    budget: int
    params: list[ScheduledParam]
    members: list[MemberSchedule]
    best: int
    branches: list[Branch]
    sentence: str
    notes: list[str] = field(default_factory=list)
    unit: str = "member"

    @property
    def best_member(self) -> MemberSchedule:
        """The best member's record."""
        return next(m for m in self.members if m.member == self.best)


def population_records(study: optuna.Study) -> PopulationRecords | None:
    """The population records of ``study``, or ``None`` when its trials hold no schedule (a
    ``tpe-hd`` study's trials hold one, each epoch a segment, with the rate learned by then)."""
    trials = [
        t
        for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
        if t.user_attrs.get(SCHEDULE_ATTR) and t.value is not None
    ]
    if not trials:
        return None
    summary = study.user_attrs.get("population") or {}
    members = sorted((_member(t) for t in trials), key=lambda m: m.member)
    explored = summary.get("explored")
    if explored is None and all(t.user_attrs.get("hypergradient") is True for t in trials):
        explored = []  # self-tuning trials without a population (tpe-hd): only the rate moves
    params = _params(trials, explored)
    maximize = study.direction == optuna.study.StudyDirection.MAXIMIZE
    best = (max if maximize else min)(members, key=lambda m: m.value)
    budget = int(summary.get("budget") or max(m.segments[-1].end for m in members))
    unit = "member" if any("member" in t.user_attrs for t in trials) else "trial"
    return PopulationRecords(
        tuner=str(summary.get("tuner", "")),
        budget=budget,
        params=params,
        members=members,
        best=best.member,
        branches=lineage_tree(members),
        sentence=schedule_sentence(best, params, unit),
        notes=population_notes(study),
        unit=unit,
    )


def _member(t: FrozenTrial) -> MemberSchedule:
    segments = [
        ScheduleSegment(
            start=int(s["start"]),
            end=int(s["end"]),
            trained_by=int(s.get("member", t.user_attrs.get("member", t.number))),
            config=dict(s.get("config", {})),
            copied_from=s.get("copied_from"),
            perturbation=dict(s.get("perturbation") or {}),
            learned=dict(s.get("learned") or {}),
        )
        for s in t.user_attrs[SCHEDULE_ATTR]
    ]
    lineage = t.user_attrs.get("lineage", [])
    return MemberSchedule(
        member=int(t.user_attrs.get("member", t.number)),
        trial=t.number,
        value=float(t.value) if t.value is not None else math.nan,
        segments=segments,
        copies=[
            Copy(int(e["epoch"]), int(e["copied_from"])) for e in lineage if "copied_from" in e
        ],
        restarts=[int(e["epoch"]) for e in lineage if e.get("restarted")],
    )


def _params(trials: list[FrozenTrial], explored: list[str] | None) -> list[ScheduledParam]:
    """The mutable parameters: those the study recorded as explored, else those whose value
    changes between segments of some member."""
    dists: dict[str, BaseDistribution] = {}
    for t in trials:
        dists.update(t.distributions)
    if explored is None:
        configs = [s.get("config", {}) for t in trials for s in t.user_attrs[SCHEDULE_ATTR]]
        names = {k for c in configs for k in c}
        explored = [k for k in sorted(names) if len({repr(c.get(k)) for c in configs}) > 1]
    learned = sorted(
        {k for t in trials for s in t.user_attrs[SCHEDULE_ATTR] for k in s.get("learned") or {}}
    )
    return [_param(name, dists.get(name)) for name in explored] + [
        _param(name + LEARNED, dists.get(name)) for name in learned
    ]


def _param(name: str, dist: BaseDistribution | None) -> ScheduledParam:
    if isinstance(dist, CategoricalDistribution):
        return ScheduledParam(name, choices=list(dist.choices))
    if dist is None:
        return ScheduledParam(name)
    low, high = getattr(dist, "low", None), getattr(dist, "high", None)
    return ScheduledParam(
        name,
        log=bool(getattr(dist, "log", False)),
        low=None if low is None else float(low),
        high=None if high is None else float(high),
    )


def lineage_tree(members: list[MemberSchedule]) -> list[Branch]:
    """The lineage as a tree of branches: each member's start (and restart) is a root; each
    copy starts a branch under the donor's branch current at that epoch.

    A member's branch at epoch ``e`` is its latest one starting at or before ``e``; events at
    the same epoch are taken in member order, restarts and copies of one member by epoch.
    """
    events = sorted(
        [(0, m.member, "start", None) for m in members]
        + [(e, m.member, "restart", None) for m in members for e in m.restarts]
        + [(c.epoch, m.member, "copy", c.copied_from) for m in members for c in m.copies],
        key=lambda e: (e[0], e[2] != "start", e[1]),
    )
    branches: list[Branch] = []
    current: dict[int, int] = {}  # member -> index of its branch now
    for epoch, member, kind, donor in events:
        parent = current.get(donor) if donor is not None else None
        branches.append(
            Branch(
                member, epoch, donor if kind == "copy" else None, parent, False, kind == "restart"
            )
        )
        current[member] = len(branches) - 1
    for index in current.values():
        branches[index].final = True
    return branches


def schedule_sentence(
    member: MemberSchedule, params: list[ScheduledParam], unit: str = "member"
) -> str:
    """What ``member``'s schedule did, e.g. ``lr went from 0.003 to 0.0008 over 12 epochs``;
    ``unit`` names it (``member``, or ``trial`` for a trial that trained alone)."""
    epochs = member.segments[-1].end if member.segments else 0
    changed, kept = [], []
    for p in params:
        values = [v for v in member.values_of(p.name) if v is not None]
        if not values:
            continue
        if len({repr(v) for v in values}) == 1:
            kept.append(f"{p.name} stayed {_number(values[0])}")
        elif repr(values[0]) == repr(values[-1]):
            changed.append(
                f"{p.name} moved between {_number(min(values))} and {_number(max(values))} "
                f"and ended at {_number(values[-1])}"
            )
        else:
            changed.append(f"{p.name} went from {_number(values[0])} to {_number(values[-1])}")
    copies = [s for s in member.segments if s.copied_from is not None]
    what = ", ".join(changed) or "no explored hyperparameter changed"
    sentence = f"The best {unit}, {member.member}: {what} over {epochs} epochs"
    if kept:
        sentence += "; " + ", ".join(kept)
    if copies:  # the member that copied is the one that trained on from the copy
        sentence += " (its line: " + ", then ".join(
            f"member {s.trained_by} copied member {s.copied_from} at epoch {s.start}"
            for s in copies
        )
        sentence += ")"
    return sentence + "."


def _number(v: Any) -> str:
    return f"{v:.3g}" if isinstance(v, float) else str(v)
