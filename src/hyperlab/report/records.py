"""Report records: plain data built from a run's studies (tested as data, rendered elsewhere)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import optuna
from optuna.trial import TrialState

from hyperlab.lab.records import study_records, trial_budget
from hyperlab.lab.rundir import RunDir, RunSpec, load_studies
from hyperlab.lab.stats import bootstrap_band, mean_ranks, mean_se, paired_comparison


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


@dataclass
class PrunedTrial:
    """Why and where a trial was stopped early."""

    label: str
    seed: int
    trial: int
    epoch: int
    curve: list[float]
    reason: str
    predicted_mean: float | None
    predicted_std: float | None


@dataclass
class TrialCurves:
    """Per-epoch curves of one trial."""

    label: str
    trial: int
    value: float
    params: dict[str, Any]
    curves: dict[str, list[float]]
    diagnosis: dict[str, Any] | None = None


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


def _label(tuner: str, pruner: str, spec: RunSpec) -> str:
    return tuner if len(spec.pruners) == 1 else f"{tuner}+{pruner}"


def _curves_of(label: str, t: optuna.trial.FrozenTrial) -> TrialCurves:
    return TrialCurves(
        label=label,
        trial=t.number,
        value=float(t.value) if t.value is not None else math.nan,
        params=dict(t.params),
        curves={k: list(v) for k, v in t.user_attrs.get("curves", {}).items()},
        diagnosis=_diagnosis(t),
    )


def _diagnosis(t: optuna.trial.FrozenTrial) -> dict[str, Any] | None:
    curves = t.user_attrs.get("curves", {})
    if len(curves.get("val_loss", [])) < 3 or "train_loss" not in curves:
        return None
    try:
        from hyperlab.diagnose import diagnose
    except ImportError:
        return None
    try:
        result: dict[str, Any] = diagnose(curves, config=dict(t.params)).to_dict()
        return result
    except Exception:  # a diagnosis is a bonus; it never breaks a report
        return None


def compare_records(run_dir: str | Path) -> CompareRecords:
    """Build the records of a comparison run from its storage."""
    spec = RunDir(run_dir).load_spec()
    optimum = None
    if spec.task is not None:
        from hyperlab.registry import TASKS

        optimum = TASKS.create(spec.task, **spec.task_options).optimum
    grouped: dict[str, list[tuple[optuna.Study, str, str, int]]] = {}
    for study, tuner, pruner, seed in load_studies(run_dir):
        grouped.setdefault(_label(tuner, pruner, spec), []).append((study, tuner, pruner, seed))
    methods: list[MethodSummary] = []
    pruned: list[PrunedTrial] = []
    best_curves: list[TrialCurves] = []
    stopped: list[str] = []
    for label, studies in grouped.items():
        finals, tests, epochs, curves = [], [], [], []
        n_pruned = n_failed = 0
        best_overall: optuna.trial.FrozenTrial | None = None
        for study, tuner, pruner, seed in studies:
            recs = study_records(study, tuner, pruner, seed, optimum)
            done = [r for r in recs if r["state"] in ("COMPLETE", "PRUNED")]
            bsf = [r["best_so_far"] for r in done]
            finals.append(bsf[-1] if bsf else math.nan)
            epochs.append(sum(r["budget"] for r in recs))
            curves.append(bsf)
            test = study.user_attrs.get("test_score", {}).get("value")
            tests.append(float(test) if test is not None else math.nan)
            for note in ("stopped_at_noise", "stopped"):
                if study.user_attrs.get(note):
                    stopped.append(f"{label} seed {seed}: {study.user_attrs[note]}")
            for t in study.get_trials(deepcopy=False):
                if t.state == TrialState.PRUNED:
                    n_pruned += 1
                    pruned.append(
                        PrunedTrial(
                            label=label,
                            seed=seed,
                            trial=t.number,
                            epoch=trial_budget(t),
                            curve=[v for _, v in sorted(t.intermediate_values.items())],
                            reason=t.user_attrs.get("prune_reason", "stopped by the pruner"),
                            predicted_mean=t.user_attrs.get("predicted_final_mean"),
                            predicted_std=t.user_attrs.get("predicted_final_std"),
                        )
                    )
                elif t.state == TrialState.FAIL:
                    n_failed += 1
                elif t.state == TrialState.COMPLETE and t.value is not None:
                    if best_overall is None or t.value < (best_overall.value or math.inf):
                        best_overall = t
        length = max((len(c) for c in curves), default=0)
        padded = np.array(
            [c + [c[-1] if c else math.nan] * (length - len(c)) for c in curves], dtype=float
        )
        if length:
            med, low, high = bootstrap_band(padded)
        else:
            med = low = high = np.array([])
        f_mean, f_se = mean_se(finals)
        t_mean, t_se = mean_se(tests)
        first = studies[0]
        methods.append(
            MethodSummary(
                label=label,
                tuner=first[1],
                pruner=first[2],
                seeds=[s[3] for s in studies],
                final_best=finals,
                final_mean=f_mean,
                final_se=f_se,
                test_scores=tests,
                test_mean=t_mean,
                test_se=t_se,
                epochs=epochs,
                epochs_mean=float(np.mean(epochs)) if epochs else math.nan,
                curve_x=list(range(1, length + 1)),
                curve_median=med.tolist(),
                curve_low=low.tolist(),
                curve_high=high.tolist(),
                n_pruned=n_pruned,
                n_failed=n_failed,
            )
        )
        if best_overall is not None:
            best_curves.append(_curves_of(label, best_overall))
    ranks = mean_ranks({m.label: m.final_best for m in methods}) if methods else {}
    for m in methods:
        m.mean_rank = ranks.get(m.label, math.nan)
    reference = next(
        (m.label for m in methods if m.tuner == "random"), methods[0].label if methods else ""
    )
    ref = next((m for m in methods if m.label == reference), None)
    comparisons = []
    if ref is not None:
        by_seed_ref = dict(zip(ref.seeds, ref.final_best))
        for m in methods:
            if m.label == reference:
                continue
            pairs = [(v, by_seed_ref[s]) for s, v in zip(m.seeds, m.final_best) if s in by_seed_ref]
            cmp = paired_comparison(
                [a for a, _ in pairs], [b for _, b in pairs], m.label, reference
            )
            comparisons.append(cmp.__dict__)
    return CompareRecords(
        name=spec.name,
        task=spec.task,
        optimum=optimum,
        trials=spec.trials,
        methods=methods,
        comparisons=comparisons,
        reference=reference,
        pruned=pruned,
        best_curves=best_curves,
        stopped=stopped,
        spec=spec.to_dict(),
    )


def study_report_records(study: optuna.Study, top_k: int = 5) -> StudyRecords:
    """Build the records of a single study."""
    history = study_records(study)
    complete = [
        t
        for t in study.get_trials(deepcopy=False)
        if t.state == TrialState.COMPLETE and t.value is not None
    ]
    complete.sort(key=lambda t: t.value)  # type: ignore[arg-type, return-value]
    top = [_curves_of(f"trial {t.number}", t) for t in complete[:top_k]]
    importances: dict[str, float] = {}
    if len(complete) >= 4:
        try:
            importances = {
                k: float(v) for k, v in optuna.importance.get_param_importances(study).items()
            }
        except Exception:  # importance needs variation in every parameter
            importances = {}
    test = study.user_attrs.get("test_score", {})
    return StudyRecords(
        name=study.study_name,
        history=history,
        best=top[0] if top else None,
        top=top,
        importances=importances,
        test_score=test.get("value"),
        stopped=study.user_attrs.get("stopped_at_noise") or study.user_attrs.get("stopped"),
    )
