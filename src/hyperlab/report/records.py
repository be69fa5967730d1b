"""Report records: plain data built from a run's studies (tested as data, rendered elsewhere)."""

from __future__ import annotations

import math
import re
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import optuna
from optuna.distributions import CategoricalDistribution, IntDistribution
from optuna.trial import FrozenTrial, TrialState

from hyperlab.direction import name_of
from hyperlab.errors import TRACEBACK_ATTR
from hyperlab.lab.notes import stop_note
from hyperlab.lab.results import (
    best_test_score,
    cv_std_err,
    run_task,
    study_records,
    trial_budget,
    trial_config,
    used_epochs,
)
from hyperlab.lab.rundir import RunDir, RunSpec, load_studies
from hyperlab.lab.stats import bootstrap_band, mean_ranks, mean_se, paired_comparison
from hyperlab.lab.summary import state_counts
from hyperlab.lab.trial_kinds import failed_trials, is_bookkeeping, is_interrupted
from hyperlab.lab.workers import SETUP_ATTR
from hyperlab.report.population import PopulationRecords, population_records
from hyperlab.stops import STOP_NOTES, unfinished_driver


@dataclass
class MethodSummary:
    """One tuner (+ pruner) across seeds."""

    label: str
    tuner: str
    pruner: str
    seeds: list[int]
    final_best: list[float]  # best value of each seed's study
    final_mean: float
    final_se: float
    test_scores: list[float]
    test_mean: float
    test_se: float
    epochs: list[int]  # epochs used by each seed's study
    epochs_mean: float
    mean_rank: float = math.nan
    curve_x: list[int] = field(default_factory=list)  # trial index 1..N
    curve_median: list[float] = field(default_factory=list)
    curve_low: list[float] = field(default_factory=list)
    curve_high: list[float] = field(default_factory=list)
    n_pruned: int = 0
    n_failed: int = 0
    n_cut_off: int = 0  # trials an interrupt or a lost worker cut off (queued again)
    band: str = ""  # what the band around ``curve_median`` is, in words

    @property
    def seeds_with_result(self) -> int:
        """Seeds whose study has a finished trial: those ``final_mean`` is taken over."""
        return sum(math.isfinite(v) for v in self.final_best)

    def seeds_text(self) -> str:
        """``"3"``, or ``"2 of 3"`` when a seed's study has no finished trial."""
        n, total = self.seeds_with_result, len(self.final_best)
        return str(total) if n == total else f"{n} of {total}"


@dataclass
class FailureGroup:
    """Failed trials of one study that share their reason.

    Attributes:
        label: The method (empty in a single study's report).
        seed: The study's seed (``None`` in a single study's report).
        reason: The stored reason (an error's type, message and the place it was raised).
        trials: Their trial numbers.
        traceback: The first one's traceback, where one was kept (an error of the code).
    """

    label: str
    seed: int | None
    reason: str
    trials: list[int]
    traceback: str = ""


@dataclass
class PrunedTrial:
    """Why and where a trial was stopped early (``curve``: its reported values at ``steps``)."""

    label: str
    seed: int | None  # None in a single study's report
    trial: int
    epoch: int
    curve: list[float]
    reason: str
    predicted_mean: float | None
    predicted_std: float | None
    steps: list[int] = field(default_factory=list)
    predicted_epoch: int | None = None  # the epoch the prediction is for (the full budget)


@dataclass
class TrialCurves:
    """Per-epoch curves of one trial.

    Attributes:
        label: The method it belongs to (empty in a single-study report).
        trial: The trial's number.
        value: Its score.
        params: Its parameters.
        curves: A task's per-epoch curves (``train_loss``, ``val_loss``, ...).
        diagnosis: The learning-curve diagnosis of those curves, when there is one.
        std_err: The score's standard error over CV folds (``None``: no CV).
        reported_steps: Steps of the values a user's objective reported with ``trial.report``
            (filled only when there are no task curves).
        reported_values: Those values.
        params_at_end: ``params`` are those the trial's model ended with (a population's
            member changes its hyperparameters while it trains), not those it started with.
        learned: Hyperparameters its training set itself, at the end (a hypergradient-learned
            rate), where there are any.
        seed: The seed of its study, in a comparison (trial numbers repeat across seeds).
    """

    label: str
    trial: int
    value: float
    params: dict[str, Any]
    curves: dict[str, list[float]]
    diagnosis: dict[str, Any] | None = None
    std_err: float | None = None
    reported_steps: list[int] = field(default_factory=list)
    reported_values: list[float] = field(default_factory=list)
    params_at_end: bool = False
    learned: dict[str, float] = field(default_factory=dict)
    seed: int | None = None

    @property
    def title(self) -> str:
        """``<label>, seed S, trial N``; the label and seed only where there are some."""
        parts = [self.label] if self.label else []
        if self.seed is not None:
            parts.append(f"seed {self.seed}")
        return ", ".join([*parts, f"trial {self.trial}"])

    @property
    def has_curves(self) -> bool:
        """Whether the trial has task curves or reported values to draw."""
        return bool(self.reported_values) or any(self.curves.values())


@dataclass
class ParallelAxis:
    """One axis of the parallel-coordinates plot.

    Attributes:
        label: The parameter's name (``value`` for the score).
        values: Each trial's position on the axis: the number (its log10 on a ``log`` axis),
            a categorical choice's index, or ``None`` where the trial lacks the parameter.
        tickvals: Tick positions, ascending.
        ticktext: Their labels (numbers to 4 significant digits).
        log: Whether positions are log10 of the values.
        absent_at: Where trials lacking the parameter are drawn (below every tick; ``None``
            when every trial has it).
    """

    label: str
    values: list[float | None]
    tickvals: list[float]
    ticktext: list[str]
    log: bool = False
    absent_at: float | None = None


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
    versions: str = ""  # "python 3.11.7, optuna 4.1.0, ..."
    #: (method label, seed, records) of each population method's best seed (``pbt``/``pb2``)
    populations: list[tuple[str, int, PopulationRecords]] = field(default_factory=list)
    failures: list[FailureGroup] = field(default_factory=list)  # the failed trials' reasons


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


def objective_label(spec: dict[str, Any]) -> str:
    """What a run tuned, in words: the task's name (or reference to user code), a Python
    objective's recorded ``module:qualname``, else ``your objective``."""
    name = spec.get("task") or spec.get("objective")
    return str(name) if name else "your objective"


def versions_text(versions: dict[str, Any]) -> str:
    """``python 3.11.7, optuna 4.1.0, ...`` (``unknown`` when none were recorded)."""
    return ", ".join(f"{k} {v}" for k, v in versions.items()) or "unknown"


def direction_of(spec: dict[str, Any]) -> str:
    """The run's direction, ``minimize`` or ``maximize`` (runs that recorded none minimized)."""
    return name_of(spec.get("direction") or "minimize")


def _value(t: FrozenTrial) -> float:
    return float(t.value) if t.value is not None else math.nan


def _sorted_best_first(trials: list[FrozenTrial], direction: str) -> list[FrozenTrial]:
    """Completed trials with a value, best first."""
    done = [t for t in trials if t.state == TrialState.COMPLETE and t.value is not None]
    return sorted(done, key=_value, reverse=direction == "maximize")


def _label(tuner: str, pruner: str, spec: RunSpec) -> str:
    return tuner if len(spec.pruners) == 1 else f"{tuner}+{pruner}"


def _curves_of(label: str, t: FrozenTrial, seed: int | None = None) -> TrialCurves:
    curves = {k: list(v) for k, v in t.user_attrs.get("curves", {}).items()}
    reported = sorted(t.intermediate_values.items()) if not curves else []
    se = cv_std_err(t)
    schedule = t.user_attrs.get("schedule")
    params = trial_config(t)
    return TrialCurves(
        label=label,
        trial=t.number,
        value=_value(t),
        params=params,
        params_at_end=bool(schedule),
        learned=dict(schedule[-1].get("learned") or {}) if schedule else {},
        curves=curves,
        diagnosis=_diagnosis(t, params),
        std_err=None if math.isnan(se) else se,
        reported_steps=[int(s) for s, _ in reported],
        reported_values=[float(v) for _, v in reported],
        seed=seed,
    )


def _diagnosis(t: FrozenTrial, config: dict[str, Any]) -> dict[str, Any] | None:
    """The diagnosis of ``t``'s curves, its advice read against ``config`` (the
    hyperparameters its model trained with at the end)."""
    curves = t.user_attrs.get("curves", {})
    if len(curves.get("val_loss", [])) < 3 or "train_loss" not in curves:
        return None
    try:
        from hyperlab.diagnose import diagnose
        from hyperlab.diagnose.inputs import without_odd_metrics
    except ImportError:
        return None
    try:
        result: dict[str, Any] = diagnose(without_odd_metrics(curves), config=config).to_dict()
        return result
    except Exception:  # a diagnosis is a bonus; it never breaks a report
        return None


def _pruned_of(label: str, seed: int | None, t: FrozenTrial) -> PrunedTrial:
    reported = sorted(t.intermediate_values.items())
    return PrunedTrial(
        label=label,
        seed=seed,
        trial=t.number,
        epoch=trial_budget(t),
        curve=[v for _, v in reported],
        reason=t.user_attrs.get("prune_reason", "stopped by the pruner"),
        predicted_mean=t.user_attrs.get("predicted_final_mean"),
        predicted_epoch=t.user_attrs.get("predicted_final_epoch"),
        predicted_std=t.user_attrs.get("predicted_final_std"),
        steps=[int(s) for s, _ in reported],
    )


#: Fewest seeds whose best-so-far band is a bootstrap band of the median; with fewer, the band
#: is the seeds' range (a bootstrap of the median of 2 to 4 values spans about all of them).
MIN_BOOTSTRAP_SEEDS = 5


def band_text(seeds: int) -> str:
    """What the band of ``seeds`` seeds' best-so-far curves is, in words."""
    if seeds >= MIN_BOOTSTRAP_SEEDS:
        return f"95% bootstrap band of the median of {seeds} seeds"
    return "one seed, no band" if seeds == 1 else f"range of {seeds} seeds"


def _band(curves: list[list[float]]) -> tuple[list[float], list[float], list[float]]:
    """Median across seeds of best-so-far curves (shorter ones held flat) and its band: the
    bootstrap band of the median, or the range below :data:`MIN_BOOTSTRAP_SEEDS` seeds."""
    length = max((len(c) for c in curves), default=0)
    if not length:
        return [], [], []
    padded = np.array(
        [c + [c[-1] if c else math.nan] * (length - len(c)) for c in curves], dtype=float
    )
    med, low, high = bootstrap_band(padded)
    if len(curves) < MIN_BOOTSTRAP_SEEDS:
        with warnings.catch_warnings():  # a point no seed has reached yet stays NaN
            warnings.filterwarnings("ignore", "All-NaN slice", RuntimeWarning)
            low, high = np.nanmin(padded, axis=0), np.nanmax(padded, axis=0)
    return med.tolist(), low.tolist(), high.tolist()


@dataclass
class _Method:
    """What one method's studies add to a comparison's records."""

    summary: MethodSummary
    pruned: list[PrunedTrial]
    best: FrozenTrial | None
    stopped: list[str]
    test_metric: str | None
    failures: list[FailureGroup] = field(default_factory=list)
    best_seed: int | None = None  # the seed of the study that holds ``best``


def unfinished_note(study: optuna.Study, finished: int, target: int) -> str | None:
    """``unfinished, N of M trials ...`` for a study neither done nor stopped early (fewer
    than ``target`` finished trials, or its driving tuner cut off); else ``None``."""
    if any(study.user_attrs.get(k) for k in STOP_NOTES):
        return None
    if finished >= target and not unfinished_driver(study):
        return None
    how = (
        "start workers (hyperlab worker) to finish it"  # (a study set up for workers)
        if study.user_attrs.get(SETUP_ATTR)
        else "run the same command again to finish it"
    )
    return (
        f"unfinished, {finished} of {target} trials"
        + (", its tuner not ended" if finished >= target else "")
        + f" (still running, or cut off: {how})"
    )


def failure_groups(
    trials: Sequence[FrozenTrial], label: str = "", seed: int | None = None
) -> list[FailureGroup]:
    """The failed trials (not the surplus of a claim) grouped by kind, first failure first.

    Errors of one type raised at one place are one kind, whatever their messages (one cause
    whose message carries a value, ``"diverged at lr=0.31"``, is one row, not one per value);
    the row shows the first message and says how many others there were."""
    groups: dict[str, FailureGroup] = {}
    messages: dict[str, set[str]] = {}
    for t in sorted(trials, key=lambda t: t.number):
        if t.state != TrialState.FAIL or is_bookkeeping(t):
            continue
        reason = str(t.user_attrs.get("fail_reason") or "no reason recorded")
        kept = str(t.user_attrs.get(TRACEBACK_ATTR) or "")
        key = _failure_kind(reason)
        groups.setdefault(key, FailureGroup(label, seed, reason, [], kept)).trials.append(t.number)
        messages.setdefault(key, set()).add(reason)
    for key, group in groups.items():
        others = len(messages[key]) - 1
        if others:
            group.reason += f" (and {others} other message{'s' if others > 1 else ''} of this kind)"
    return list(groups.values())


#: A stored reason's parts: ``Type: message (at FILE:LINE in FUNCTION)``.
_REASON = re.compile(r"(?P<type>[\w.]+): .*?(?P<place> \(at [^()]*:\d+ in [^()]*\))?", re.DOTALL)


def _failure_kind(reason: str) -> str:
    """The error type and the place it was raised; the whole reason where it has no place (a
    killed worker, a lost heartbeat: their messages are the kind)."""
    match = _REASON.fullmatch(reason)
    if match is None or match["place"] is None:
        return reason
    return match["type"] + match["place"]


def _method(
    label: str,
    studies: list[tuple[optuna.Study, str, str, int]],
    optimum: float | None,
    direction: str,
    target: int,
) -> _Method:
    finals, tests, epochs, curves = [], [], [], []
    pruned: list[PrunedTrial] = []
    stopped: list[str] = []
    candidates: list[tuple[FrozenTrial, int]] = []  # each seed's best trial
    metric: str | None = None
    n_failed = n_cut_off = 0
    failures: list[FailureGroup] = []
    for study, tuner, pruner, seed in studies:
        recs = study_records(study, tuner, pruner, seed, optimum)
        bsf = [r["best_so_far"] for r in recs if r["state"] in ("COMPLETE", "PRUNED")]
        finals.append(bsf[-1] if bsf else math.nan)
        epochs.append(used_epochs(recs))
        curves.append(bsf)
        test = study.user_attrs.get("test_score", {})
        score = best_test_score(study)
        tests.append(math.nan if score is None else score)
        metric = metric or test.get("metric")
        note = stop_note(study)
        if note:
            stopped.append(f"{label} seed {seed}: {note}")
        unfinished = unfinished_note(study, len(bsf), target)
        if unfinished:
            stopped.append(f"{label} seed {seed}: {unfinished}")
        trials = study.get_trials(deepcopy=False)
        pruned += [_pruned_of(label, seed, t) for t in trials if t.state == TrialState.PRUNED]
        n_failed += failed_trials(study)
        n_cut_off += sum(map(is_interrupted, trials))
        failures += failure_groups(trials, label, seed)
        candidates += [(t, seed) for t in _sorted_best_first(trials, direction)[:1]]
    missing = [seed for (*_, seed), v in zip(studies, finals) if not math.isfinite(v)]
    if missing:
        rest = len(finals) - len(missing)
        stopped.append(
            f"{label}: no completed trial in seed(s) {missing}; "
            + (
                f"its mean and standard error are over the other {rest} seed(s), and the "
                "paired comparisons leave those seeds out"
                if rest
                else "it has no mean, and no paired comparison"
            )
        )
    med, low, high = _band(curves)
    f_mean, f_se = mean_se(finals)
    t_mean, t_se = mean_se(tests)
    summary = MethodSummary(
        label=label,
        tuner=studies[0][1],
        pruner=studies[0][2],
        seeds=[s[3] for s in studies],
        final_best=finals,
        final_mean=f_mean,
        final_se=f_se,
        test_scores=tests,
        test_mean=t_mean,
        test_se=t_se,
        epochs=epochs,
        epochs_mean=float(np.mean(epochs)) if epochs else math.nan,
        curve_x=list(range(1, len(med) + 1)),
        curve_median=med,
        curve_low=low,
        curve_high=high,
        n_pruned=len(pruned),
        n_failed=n_failed,
        n_cut_off=n_cut_off,
        band=band_text(len(curves)),
    )
    best = next(iter(_sorted_best_first([t for t, _ in candidates], direction)), None)
    best_seed = next((seed for t, seed in candidates if t is best), None)
    return _Method(summary, pruned, best, stopped, metric, failures, best_seed)


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
        _method(label, studies, optimum, direction, spec.trials)
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
    reference = next(
        (m.label for m in methods if m.tuner == "random"), methods[0].label if methods else ""
    )
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
            _curves_of(p.summary.label, p.best, p.best_seed) for p in parts if p.best is not None
        ],
        stopped=[s for p in parts for s in p.stopped] + not_started + _setup_notes(spec),
        spec=spec_data,
        objective=objective_label(spec_data),
        direction=direction,
        test_metric=recorded or (str(task.metric) if task is not None else "score"),
        versions=versions_text(spec.versions),
        populations=_best_populations(grouped, direction),
    )


def _setup_notes(spec: RunSpec) -> list[str]:
    """What the checks of the run's setup warned about, as the report says it."""
    return [f"warned at the start: {w}" for w in spec.warnings]


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


def study_report_records(
    study: optuna.Study, top_k: int = 5, spec: RunSpec | None = None
) -> StudyRecords:
    """Build the records of a single study (``spec``: its run's setup, when known)."""
    history = study_records(study)
    direction = name_of(study.direction)
    trials = study.get_trials(deepcopy=False)
    complete = _sorted_best_first(trials, direction)
    top = [_curves_of("", t) for t in complete[:top_k]]
    population = population_records(study)
    importances, params_note = (
        ({}, POPULATION_PARAMS_NOTE) if population is not None else _importances(study, complete)
    )
    test = study.user_attrs.get("test_score", {})
    metric = test.get("metric")
    if metric is None and spec is not None and test:
        task = run_task(spec)
        metric = task.metric if task is not None else None
    finite = [t for t in complete if math.isfinite(_value(t))]
    finished = sum(t.state in (TrialState.COMPLETE, TrialState.PRUNED) for t in trials)
    notes = [stop_note(study), unfinished_note(study, finished, spec.trials) if spec else None]
    notes += _setup_notes(spec) if spec is not None else []
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
        pruned=[_pruned_of("", None, t) for t in trials if t.state == TrialState.PRUNED],
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


def parallel_axes(trials: Sequence[FrozenTrial]) -> list[ParallelAxis]:
    """The axes of a parallel-coordinates plot of completed ``trials``: one per parameter (by
    name; numbers on numeric axes, log10 on log-scale ones), then the score (``value``)."""
    names = sorted({name for t in trials for name in t.params})
    axes = [_param_axis(name, trials) for name in names]
    axes.append(_numeric_axis("value", [_value(t) for t in trials], log=False))
    return axes


#: A parameter a trial did not suggest (``None`` may be a categorical's choice).
_ABSENT = object()


def _param_axis(name: str, trials: Sequence[FrozenTrial]) -> ParallelAxis:
    dists = [t.distributions[name] for t in trials if name in t.distributions]
    if any(isinstance(d, CategoricalDistribution) for d in dists):
        given = [t.params[name] if name in t.params else _ABSENT for t in trials]
        return _categorical_axis(name, dists, given)
    values = [t.params.get(name) if name in t.params else None for t in trials]
    log = any(getattr(d, "log", False) for d in dists)
    integer = all(isinstance(d, IntDistribution) for d in dists)
    numbers = [None if v is None else float(v) for v in values]
    return _numeric_axis(name, numbers, log=log, integer=integer)


def _categorical_axis(name: str, dists: list[Any], values: list[Any]) -> ParallelAxis:
    choices: list[Any] = []
    for d in dists:
        for c in getattr(d, "choices", ()):
            if c not in choices:
                choices.append(c)
    for v in values:  # a value outside every recorded distribution still gets a place
        if v is not _ABSENT and v not in choices:
            choices.append(v)
    positions: list[float | None] = [
        None if v is _ABSENT else float(choices.index(v)) for v in values
    ]
    return ParallelAxis(
        label=name,
        values=positions,
        tickvals=[float(i) for i in range(len(choices))],
        ticktext=[_number(c) if isinstance(c, float) else str(c) for c in choices],
        absent_at=-1.0 if any(v is _ABSENT for v in values) else None,
    )


def _numeric_axis(
    name: str, values: list[float | None], log: bool, integer: bool = False
) -> ParallelAxis:
    present = [v for v in values if v is not None]
    log = log and bool(present) and all(v > 0 for v in present)
    pos: list[float | None] = [None if v is None else (math.log10(v) if log else v) for v in values]
    known = [p for p in pos if p is not None]
    lo, hi = (min(known), max(known)) if known else (0.0, 1.0)
    ticks = _int_ticks(lo, hi) if integer and not log else _ticks(lo, hi, log)
    if integer and log:  # whole numbers at their places on the log axis
        ticks = sorted({math.log10(max(1, round(10**t))) for t in ticks})
    return ParallelAxis(
        label=name,
        values=pos,
        tickvals=ticks,
        ticktext=[_number(10**t if log else t) for t in ticks],
        log=log,
        absent_at=(lo - (0.2 * (hi - lo) if hi > lo else 1.0)) if None in pos else None,
    )


#: At most about this many decades get a tick on a log axis (a wider one gets every k-th).
MAX_DECADE_TICKS = 12


def _ticks(lo: float, hi: float, log: bool) -> list[float]:
    """Tick positions from ``lo`` to ``hi``: on a log axis that spans two or more whole decades,
    those and both ends (unless next to a decade), else five evenly spaced (one when
    ``lo == hi``)."""
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return []
    if hi <= lo:
        return [lo]
    if log and math.floor(hi) - math.ceil(lo) >= 1:
        step = max(1, math.ceil((math.floor(hi) - math.ceil(lo)) / MAX_DECADE_TICKS))
        decades = [float(d) for d in range(math.ceil(lo), math.floor(hi) + 1, step)]
        ends = [e for e in (lo, hi) if min(abs(e - d) for d in decades) > 0.25 * step]
        return sorted(decades + ends)
    return [float(t) for t in np.linspace(lo, hi, 5)]


def _int_ticks(lo: float, hi: float) -> list[float]:
    """Whole-number ticks from ``lo`` to ``hi``: each one on a short axis, else five rounded."""
    if hi - lo <= 10:
        return [float(i) for i in range(round(lo), round(hi) + 1)]
    return sorted({float(round(t)) for t in _ticks(lo, hi, log=False)})


def _number(v: float) -> str:
    """A number to 4 significant digits."""
    return f"{v:.4g}"
