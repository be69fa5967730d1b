"""Report records of a comparison run: its methods, their paired comparisons, and notes."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import optuna

from hyperlab.lab.compare_reference import default_reference, method_label
from hyperlab.lab.results import run_task
from hyperlab.lab.run_folder import RunDir
from hyperlab.lab.rundir import load_studies
from hyperlab.lab.runspec import RunSpec
from hyperlab.lab.stats import mean_ranks, paired_comparison
from hyperlab.report.failures import FailureGroup
from hyperlab.report.methods import MethodSummary, method_summary
from hyperlab.report.population import PopulationRecords, population_records
from hyperlab.report.run_notes import (
    direction_of,
    objective_label,
    options_span,
    options_text,
    setup_notes,
    versions_span,
    versions_text,
)
from hyperlab.report.trials import PrunedTrial, TrialCurves, curves_of


@dataclass
class CompareRecords:
    """Everything a comparison report shows."""

    name: str
    task: str | None
    optimum: float | None
    trials: int
    methods: list[MethodSummary]
    comparisons: list[dict[str, Any]]
    reference: str
    pruned: list[PrunedTrial]
    best_curves: list[TrialCurves]
    stopped: list[str]
    spec: dict[str, Any]
    objective: str = "your objective"  # what was tuned, in words
    direction: str = "minimize"
    test_metric: str = "score"  # what the test scores measure
    versions: str = ""  # "python 3.11.7, optuna 4.1.0, ..." (those it last ran with)
    #: how its versions changed across its resumptions ("" when they did not; see
    #: :func:`~hyperlab.report.run_notes.versions_span`)
    versions_span: str = ""
    options: str = ""  # the options each plug-in took, in words ("" when none were given)
    #: the options whose value changed at a resumption ("" when none did; see
    #: :func:`~hyperlab.report.run_notes.options_span`)
    options_span: str = ""
    #: (method label, seed, records) of each population method's best seed (``pbt``/``pb2``)
    populations: list[tuple[str, int, PopulationRecords]] = field(default_factory=list)
    failures: list[FailureGroup] = field(default_factory=list)  # the failed trials' reasons


def _label(tuner: str, pruner: str, spec: RunSpec) -> str:
    return method_label(tuner, pruner, spec.pruners)


def _reference(spec: RunSpec) -> tuple[str, list[str]]:
    """The method the run's others are paired against (the one named, else the default of
    :mod:`~hyperlab.lab.compare_reference`), and the note that says why there is none (empty when there is one)."""
    reference = spec.reference or default_reference(spec.tuners, spec.pruners)
    if reference is not None:
        return reference, []
    return "", [
        "no paired comparisons: the run names no reference, and neither random nor tpe is "
        "among its tuners (resume it with --reference NAME, reference= in Python, to pair "
        "the others against NAME)"
    ]


def _comparisons(
    methods: list[MethodSummary], reference: str, direction: str
) -> list[dict[str, Any]]:
    ref = next((m for m in methods if m.label == reference), None)
    if ref is None:
        return []
    by_seed_ref = dict(zip(ref.seeds, ref.final_best))
    out = []
    for m in methods:
        if m.label == reference:
            continue
        pairs = [(v, by_seed_ref[s]) for s, v in zip(m.seeds, m.final_best) if s in by_seed_ref]
        cmp = paired_comparison(
            [a for a, _ in pairs], [b for _, b in pairs], m.label, reference, direction
        )
        out.append(cmp.__dict__)
    return out


def _mean_ranks(methods: list[MethodSummary], direction: str) -> dict[str, float]:
    """Each method's mean rank over the seeds every method has a study of, paired by seed (a
    study not started leaves its seed out, as the paired comparisons do)."""
    if not methods:
        return {}
    shared = [s for s in methods[0].seeds if all(s in m.seeds for m in methods)]
    finals = {m.label: dict(zip(m.seeds, m.final_best)) for m in methods}
    return mean_ranks({k: [v[s] for s in shared] for k, v in finals.items()}, direction)


def compare_records(run_dir: str | Path | RunDir) -> CompareRecords:
    """Build the records of a comparison run from its storage (a :class:`RunDir` lends its
    open storage)."""
    run_dir = run_dir if isinstance(run_dir, RunDir) else RunDir(run_dir)
    spec = run_dir.load_spec()
    spec_data = spec.to_dict()
    direction = direction_of(spec_data)
    task = run_task(spec)
    optimum = task.optimum if task is not None else None
    grouped: dict[str, list[tuple[optuna.Study, str, str, int]]] = {}
    for study, tuner, pruner, seed in load_studies(run_dir):
        grouped.setdefault(_label(tuner, pruner, spec), []).append((study, tuner, pruner, seed))
    parts = [
        method_summary(label, studies, optimum, direction, spec.trials)
        for label, studies in grouped.items()
    ]
    loaded = {(_label(t, p, spec), s) for studies in grouped.values() for _, t, p, s in studies}
    not_started = [
        f"{label} seed {seed}: not started (run the same command again to run it)"
        for _, t, p, seed in spec.study_names()
        if ((label := _label(t, p, spec)), seed) not in loaded
    ]
    methods = [p.summary for p in parts]
    ranks = _mean_ranks(methods, direction)
    for m in methods:
        m.mean_rank = ranks.get(m.label, math.nan)
    reference, unpaired = _reference(spec)
    recorded = next((p.test_metric for p in parts if p.test_metric), None)
    return CompareRecords(
        name=spec.name,
        task=spec.task,
        optimum=optimum,
        trials=spec.trials,
        methods=methods,
        comparisons=_comparisons(methods, reference, direction),
        reference=reference,
        pruned=[t for p in parts for t in p.pruned],
        failures=[f for p in parts for f in p.failures],
        best_curves=[
            curves_of(p.summary.label, p.best, p.best_seed) for p in parts if p.best is not None
        ],
        stopped=[s for p in parts for s in p.stopped] + not_started + setup_notes(spec) + unpaired,
        spec=spec_data,
        objective=objective_label(spec_data),
        direction=direction,
        test_metric=recorded or (str(task.metric) if task is not None else "score"),
        versions=versions_text(spec.versions),
        versions_span=versions_span(spec),
        options=options_text(spec),
        options_span=options_span(spec),
        populations=_best_populations(grouped, direction),
    )


def _best_populations(
    grouped: dict[str, list[tuple[optuna.Study, str, str, int]]], direction: str
) -> list[tuple[str, int, PopulationRecords]]:
    """For each method whose studies trained a population, the seed whose best member ended
    best, with its records (the schedule the comparison's report shows)."""
    sign = -1.0 if direction == "maximize" else 1.0
    out = []
    for label, studies in grouped.items():
        found = [(population_records(study), seed) for study, _, _, seed in studies]
        kept = [(rec, seed) for rec, seed in found if rec is not None]
        if kept:
            rec, seed = min(kept, key=lambda rs: sign * rs[0].best_member.value)
            out.append((label, seed, rec))
    return out
