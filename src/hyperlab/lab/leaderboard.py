"""A leaderboard over a tuner panel, a problem set and several seeds: the statistics only.

The input is plain data, one :class:`PanelRun` per (problem, tuner, seed): the best loss so far
after each trial (lower is better; a maximized problem's values negated), the run's wall time
and the time its tuner spent suggesting. :func:`leaderboard` turns the runs into one
:class:`Leaderboard` of plain rows:

- **regret** per problem, tuner and checkpoint (after 10, 20, 50, 100 trials by default): the
  best loss minus the problem's optimum (its known one, else the best any run of any tuner
  found), as the mean over seeds with a 95% bootstrap interval
  (:func:`hyperlab.lab.stats.bootstrap_interval`) and the median;
- **mean rank** of each tuner at the last checkpoint, ranked among the panel within each
  problem and seed (1 = best, ties share), averaged over every problem and seed with a 95%
  bootstrap interval; the same at every checkpoint in ``rank_curve`` (a run shorter than a
  checkpoint ranks last there);
- **tests** against the reference, a tuner named in advance (never picked from the results:
  a reference picked as the best-ranked of a group biases the tests against it; unnamed, it is
  :data:`REFERENCE` on the trials axis and :data:`FIDELITY_REFERENCE` on a cost axis, and runs
  that lack it are refused, naming their tuners): every other
  tuner's ranks are compared with its ranks over the same (problem, seed) pairs by
  :func:`hyperlab.lab.stats.paired_comparison` (mean difference, Wilcoxon signed-rank p-value,
  verdict), and the page's tests are one family under Holm's correction
  (:func:`~hyperlab.lab.leaderboard_rows.holm_tests`: a better or worse stays only where the
  adjusted p, ``p_holm``, is below 0.05); per problem its regrets at the last checkpoint are
  compared likewise (a seed where either run is shorter than that leaves the pair out), each
  problem's tests one family under the same correction (``problem_tests``: in the result
  files, printed in no table). Why: ``docs/decisions/leaderboard-verdicts.md``;
- **cost** per tuner: mean wall time of a run and mean seconds per suggestion (the suggesting
  time of the runs that recorded one over those runs' trials).

The longest run's last trial is always a checkpoint (ranks and tests are read there);
checkpoints no run reached are left out, and a run shorter than a checkpoint does not count
at it. Running the tuners is :mod:`hyperlab.lab.panel`'s part (through the registry); this
module never imports a tuner.

**Another axis than trials.** Multi-fidelity tuners and pruners spend different compute per
trial, so they are compared at equal cost instead: each run then carries its cumulative cost
after each trial (``PanelRun.cost``, e.g. epochs) and ``leaderboard(..., unit="epochs")``
reads every checkpoint in that unit: a run's value at ``c`` is its best loss over the trials
it had finished within ``c`` (the run cut there), and a run that spent less than ``c`` in all
does not count at it. Checkpoints are then exactly the given ones some run reached (none is
added: runs of one budget overshoot it by different amounts); ranks and tests are read at
the last. The cost rows add each tuner's mean cost of a run (``spent``) and trials within
the last checkpoint (``entries``), and :attr:`Leaderboard.problem_cost` gives both and the
wall time per problem too.

This module builds the :class:`Leaderboard` (:func:`leaderboard`) and keeps the names
imported from it before the split (the package imports them from their homes); the parts live by concept: the runs and how one is read at a checkpoint
(:mod:`~hyperlab.lab.leaderboard_runs`), the rows (:mod:`~hyperlab.lab.leaderboard_rows`) and
the Markdown table (:mod:`~hyperlab.lab.leaderboard_markdown`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from hyperlab.errors import InputError, InputTypeError
from hyperlab.lab.leaderboard_markdown import markdown as markdown
from hyperlab.lab.leaderboard_rows import (
    cost_rows,
    holm_tests,
    problem_cost_rows,
    problem_test_rows,
    rank_rows,
    rank_tests,
    regret_rows,
    seed_ranks,
)
from hyperlab.lab.leaderboard_runs import CHECKPOINTS as CHECKPOINTS
from hyperlab.lab.leaderboard_runs import PanelRun as PanelRun
from hyperlab.lab.leaderboard_runs import checkpoints_read, index_runs, problem_optima

#: The reference when none is named, on the trials axis (full training): Optuna's kind of
#: default sampler, TPE, as hyperlab sets it (``docs/decisions/leaderboard-verdicts.md``).
REFERENCE = "tpe"
#: The reference when none is named, on a cost axis (multi-fidelity): the same TPE with the
#: median pruner, Optuna's kind of default pruner.
FIDELITY_REFERENCE = "tpe+median"


def default_reference(unit: str) -> str:
    """The reference of a leaderboard in ``unit`` when none is named: :data:`REFERENCE` for
    ``"trials"``, :data:`FIDELITY_REFERENCE` for a cost (``"epochs"``, ``"full_trainings"``)."""
    return REFERENCE if unit == "trials" else FIDELITY_REFERENCE


@dataclass
class Leaderboard:
    """The leaderboard's rows (see the module doc); :meth:`to_dict` gives plain data."""

    tuners: list[str]
    problems: list[str]
    checkpoints: list[int]
    reference: str | None
    regret: list[dict[str, Any]] = field(default_factory=list)
    ranks: list[dict[str, Any]] = field(default_factory=list)
    tests: list[dict[str, Any]] = field(default_factory=list)
    problem_tests: list[dict[str, Any]] = field(default_factory=list)
    cost: list[dict[str, Any]] = field(default_factory=list)
    unit: str = "trials"
    problem_cost: list[dict[str, Any]] = field(default_factory=list)
    rank_curve: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """Plain data (JSON-ready)."""
        return asdict(self)


def leaderboard(
    runs: Sequence[PanelRun],
    checkpoints: Sequence[int] = CHECKPOINTS,
    reference: str | None = None,
    unit: str = "trials",
    *,
    reference_group: None = None,
) -> Leaderboard:
    """The leaderboard of ``runs`` (see the module doc).

    Args:
        runs: One run per (problem, tuner, seed); every tuner should have run every problem
            with the same seeds (a missing run ranks last).
        checkpoints: Trial counts to read the regret at (those no run reached are left out; the
            longest run's length is added).
        reference: The tuner every other is tested against, named in advance (``None``:
            :func:`default_reference` of ``unit``, ``tpe`` or ``tpe+median``, which the runs
            must hold).
        unit: What the checkpoints count: ``"trials"``, or the name of the cost every run
            carries (``PanelRun.cost``, e.g. ``"epochs"``); the regret rows key their
            checkpoint by it.
        reference_group: Not taken (refused with the reason): the best-ranked tuner of a
            group, tested against the ranks that picked it, is called ahead too often; name
            the reference instead (``reference``).

    Raises:
        InputError: No runs, a run with no trials, a checkpoint that is not a positive integer,
            two runs of the same problem, tuner and seed, a unit other than ``"trials"`` with
            a run that carries no cost (or a cost that is not one non-decreasing value per
            trial), no run that reached any checkpoint of that unit, a reference that
            is not one of the runs' tuners (or, none named, runs without the default
            reference), or a ``reference_group``.
        InputTypeError: A reference that is not one name (a list of names, say).
    """
    table = index_runs(runs, unit)
    tuners = sorted({r.tuner for r in runs})
    reference = _reference(reference, runs, reference_group, unit)
    problems = sorted({r.problem for r in runs})
    points = checkpoints_read(runs, checkpoints, unit)
    optima = problem_optima(runs)
    board = Leaderboard(tuners, problems, points, None, unit=unit)
    board.regret = regret_rows(table, problems, tuners, points, optima, unit)
    by_point = {p: seed_ranks(table, problems, tuners, p, unit) for p in points}
    board.rank_curve = [{**row, unit: p} for p in points for row in rank_rows(by_point[p], tuners)]
    ranks = by_point[points[-1]]
    board.ranks = rank_rows(ranks, tuners)
    board.reference = reference
    board.tests = holm_tests(rank_tests(ranks, tuners, reference))
    board.problem_tests = problem_test_rows(
        table, problems, tuners, board.reference, optima, (points[-1], unit)
    )
    board.cost = cost_rows(runs, tuners, unit, points[-1])
    board.problem_cost = problem_cost_rows(table, problems, tuners, unit, points[-1])
    return board


def _reference(reference: Any, runs: Sequence[PanelRun], group: Any, unit: str) -> str:
    """The named reference, checked against the runs' tuners (``None``: the default of
    ``unit``, refused where the runs do not hold it)."""
    why = (
        "the best-ranked tuner of a group, tested against the ranks that picked it, is called "
        "ahead too often (docs/decisions/leaderboard-verdicts.md in a checkout of hyperlab's "
        "source)"
    )
    if group is not None:
        raise InputError(
            f"leaderboard() takes no reference_group (got {group!r}): {why}; name one tuner "
            "in advance instead, reference=NAME"
        )
    if reference is not None and not isinstance(reference, str):
        raise InputTypeError(
            f"the reference is one tuner's name, got {reference!r} "
            f"({type(reference).__name__}): {why}; name one tuner in advance"
        )
    named = list(dict.fromkeys(r.tuner for r in runs))
    if reference is None:
        default = default_reference(unit)
        if default not in named:
            raise InputError(
                f"no reference named, and the runs hold no {default!r} (the default reference "
                f"in {unit}): name the tuner every other is tested against, reference=NAME, "
                f"one of: {', '.join(named)}"
            )
        return default
    if reference not in named:
        raise InputError(
            f"the reference {reference!r} is not one of the runs' tuners: {', '.join(named)}"
        )
    return reference
