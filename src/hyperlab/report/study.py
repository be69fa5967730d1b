"""Report records of a single study: its history, best trials, importances and notes."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import optuna
from optuna.trial import FrozenTrial, TrialState

from hyperlab.direction import name_of
from hyperlab.lab.notes import stop_note
from hyperlab.lab.results import (
    best_test_score,
    run_task,
    spread_over,
    study_records,
    used_epochs,
)
from hyperlab.lab.runspec import RunSpec
from hyperlab.lab.summary import state_counts
from hyperlab.report.failures import FailureGroup, failure_groups
from hyperlab.report.parallel import ParallelAxis, parallel_axes
from hyperlab.report.population import PopulationRecords, population_records
from hyperlab.report.run_notes import (
    objective_label,
    options_span,
    options_text,
    setup_notes,
    unfinished_note,
    versions_span,
    versions_text,
)
from hyperlab.report.trials import (
    PrunedTrial,
    TrialCurves,
    curves_of,
    pruned_of,
    sorted_best_first,
    trial_value,
)
from hyperlab.tasks.base import FOLDS


@dataclass
class StudyRecords:
    """Everything a single-study report shows."""

    name: str
    history: list[dict[str, Any]]
    best: TrialCurves | None
    top: list[TrialCurves]
    importances: dict[str, float]
    test_score: float | None
    stopped: str | None
    direction: str = "minimize"
    test_metric: str = "score"
    objective: str = ""  # what was tuned, in words (empty when the run is not known)
    task: str | None = None
    parallel: list[ParallelAxis] = field(default_factory=list)
    population: PopulationRecords | None = None  # a pbt/pb2 study's schedules and lineage
    failures: list[FailureGroup] = field(default_factory=list)  # the failed trials' reasons
    #: Why importances (and, for a population, parallel coordinates) are left out, or what
    #: the importances rest on; empty when there is nothing to say.
    params_note: str = ""
    #: Trials by how they ended: ``complete``, ``pruned``, ``failed`` (surplus claims left out).
    counts: dict[str, int] = field(default_factory=dict)
    epochs: int = 0  # epochs (budget units) all its trials used, pruned and failed ones too
    pruned: list[PrunedTrial] = field(default_factory=list)  # its pruned trials, by number
    spread_over: str = FOLDS  # what the trials' std_err is over: "folds" or "seeds"
    #: The run's ``run.json`` as plain data (``None``: the run is not known), which the
    #: report's setup paragraph reads: its tuner, pruner, seed, trials, budget.
    spec: dict[str, Any] | None = None
    options: str = ""  # the options each plug-in took, in words ("" when none were given)
    versions: str = ""  # "python 3.11.7, optuna 4.1.0, ..." (those it last ran with)


def study_report_records(
    study: optuna.Study, top_k: int = 5, spec: RunSpec | None = None
) -> StudyRecords:
    """Build the records of a single study (``spec``: its run's setup, when known)."""
    history = study_records(study)
    direction = name_of(study.direction)
    trials = study.get_trials(deepcopy=False)
    complete = sorted_best_first(trials, direction)
    top = [curves_of("", t) for t in complete[:top_k]]
    population = population_records(study)
    importances, params_note = (
        ({}, POPULATION_PARAMS_NOTE) if population is not None else _importances(study, complete)
    )
    test = study.user_attrs.get("test_score", {})
    metric = test.get("metric")
    if metric is None and spec is not None and test:
        task = run_task(spec)
        metric = task.metric if task is not None else None
    finite = [t for t in complete if math.isfinite(trial_value(t))]
    finished = sum(t.state in (TrialState.COMPLETE, TrialState.PRUNED) for t in trials)
    notes = [stop_note(study), unfinished_note(study, finished, spec.trials) if spec else None]
    if spec is not None:
        notes += [*setup_notes(spec), versions_span(spec), options_span(spec)]
    return StudyRecords(
        name=study.study_name,
        history=history,
        best=top[0] if top else None,
        top=top,
        importances=importances,
        test_score=best_test_score(study),
        stopped="; ".join(n for n in notes if n) or None,
        direction=direction,
        test_metric=str(metric or "score"),
        objective=objective_label(spec.to_dict()) if spec is not None else "",
        task=spec.task if spec is not None else None,
        parallel=[] if population else parallel_axes(sorted(finite, key=lambda t: t.number)),
        population=population,
        failures=failure_groups(trials),
        params_note=params_note,
        counts=state_counts(study),
        epochs=used_epochs(history),
        pruned=[pruned_of("", None, t) for t in trials if t.state == TrialState.PRUNED],
        spread_over=spread_over(study, spec.task if spec is not None else None),
        spec=spec.to_dict() if spec is not None else None,
        options=options_text(spec) if spec is not None else "",
        versions=versions_text(spec.versions) if spec is not None else "",
    )


#: Fewest completed trials whose parameter importances a report shows.
MIN_IMPORTANCE_TRIALS = 8


#: Why a population's report shows no importances or parallel coordinates.
POPULATION_PARAMS_NOTE = (
    "Parameter importances and parallel coordinates are left out: a population's members "
    "change their hyperparameters while they train, so a trial's starting values are not those "
    "its model trained with (see the learned schedule's figures)."
)


def _importances(
    study: optuna.Study, complete: Sequence[FrozenTrial]
) -> tuple[dict[str, float], str]:
    """Optuna's parameter importances and a note on the trials they rest on; none, and a note
    saying why, with fewer than :data:`MIN_IMPORTANCE_TRIALS` completed trials (fANOVA on a
    handful of points ranks noise)."""
    n = len(complete)
    if n < MIN_IMPORTANCE_TRIALS:
        return {}, (
            f"Parameter importances are left out: they need at least {MIN_IMPORTANCE_TRIALS} "
            f"completed trials, and this study has {n}."
        )
    try:
        found = optuna.importance.get_param_importances(study)
    except Exception:  # importance needs variation in every parameter
        return {}, ""
    return {k: float(v) for k, v in found.items()}, f"Importances from {n} completed trials."
