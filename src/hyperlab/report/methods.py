"""Report records of one method (a tuner, with its pruner) across the seeds of a comparison."""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field

import numpy as np
import optuna
from optuna.trial import FrozenTrial, TrialState

from hyperlab.lab.notes import stop_note
from hyperlab.lab.results import best_test_score, study_records, used_epochs, used_seconds
from hyperlab.lab.stats import bootstrap_band, mean_se
from hyperlab.lab.trial_kinds import (
    failed_trials,
    is_interrupted,
    pruner_failures,
    tuner_after_failures,
    tuner_failures,
)
from hyperlab.report.failures import FailureGroup, failure_groups
from hyperlab.report.run_notes import unfinished_note
from hyperlab.report.trials import PrunedTrial, pruned_of, sorted_best_first
from hyperlab.stops import STOP_NOTES


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
    seconds: list[float] = field(default_factory=list)  # each seed's trials' seconds in all
    seconds_mean: float = math.nan  # (the tuner's suggestions included; NaN: none known)
    mean_rank: float = math.nan
    curve_x: list[int] = field(default_factory=list)  # trial index 1..N
    curve_median: list[float] = field(default_factory=list)
    curve_low: list[float] = field(default_factory=list)
    curve_high: list[float] = field(default_factory=list)
    #: the same against the epochs used (the x: every epoch count where a seed's trial ended)
    epoch_x: list[int] = field(default_factory=list)
    epoch_median: list[float] = field(default_factory=list)
    epoch_low: list[float] = field(default_factory=list)
    epoch_high: list[float] = field(default_factory=list)
    n_pruned: int = 0
    n_failed: int = 0  # the task's failures
    n_tuner_failed: int = 0  # trials failed inside the tuner's choice of parameters
    n_pruner_failed: int = 0  # trials failed inside the pruner's decision to stop them
    n_tuner_after: int = 0  # finished trials whose tuner raised taking in their result
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


def _short(study: optuna.Study, finished: int, target: int) -> str:
    """How far short of its trials a study that stopped early ended (``""``: it did not stop
    early, or it had them all): its best is then over fewer trials than a full study's."""
    if finished >= target or not any(study.user_attrs.get(k) for k in STOP_NOTES):
        return ""
    return (
        f" ({finished} of {target} trials finished: its best is over fewer trials than a "
        "full study's)"
    )


def _on_epochs(runs: list[list[tuple[int, float]]]) -> tuple[list[int], list[list[float]]]:
    """Each seed's best so far read at every epoch count where a trial of any seed ended:
    the best of its trials ended by then (NaN before its first value, held flat after its
    last trial). Returns the epoch counts and one curve per seed over them."""
    grid = sorted({epochs for run in runs for epochs, _ in run})
    curves = []
    for run in runs:
        curve, value, i = [], math.nan, 0
        for epochs in grid:
            while i < len(run) and run[i][0] <= epochs:
                value = run[i][1]
                i += 1
            curve.append(value)
        curves.append(curve)
    return grid, curves


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


def method_summary(
    label: str,
    studies: list[tuple[optuna.Study, str, str, int]],
    optimum: float | None,
    direction: str,
    target: int,
) -> _Method:
    finals, tests, epochs, seconds, curves = [], [], [], [], []
    by_epochs: list[list[tuple[int, float]]] = []
    pruned: list[PrunedTrial] = []
    stopped: list[str] = []
    candidates: list[tuple[FrozenTrial, int]] = []  # each seed's best trial
    metric: str | None = None
    counts = [0] * 5  # the task's, the tuner's and the pruner's failures, taken in, cut off
    failures: list[FailureGroup] = []
    for study, tuner, pruner, seed in studies:
        recs = study_records(study, tuner, pruner, seed, optimum)
        bsf = [r["best_so_far"] for r in recs if r["state"] in ("COMPLETE", "PRUNED")]
        finals.append(bsf[-1] if bsf else math.nan)
        epochs.append(used_epochs(recs))
        seconds.append(used_seconds(recs))
        curves.append(bsf)
        by_epochs.append([(r["epochs_cumulative"], r["best_so_far"]) for r in recs])
        test = study.user_attrs.get("test_score", {})
        score = best_test_score(study)
        tests.append(math.nan if score is None else score)
        metric = metric or test.get("metric")
        stopped += _stop_notes(f"{label} seed {seed}", study, len(bsf), target)
        trials = study.get_trials(deepcopy=False)
        pruned += [pruned_of(label, seed, t) for t in trials if t.state == TrialState.PRUNED]
        counts = [a + b for a, b in zip(counts, _failure_counts(study, trials))]
        failures += failure_groups(trials, label, seed)
        candidates += [(t, seed) for t in sorted_best_first(trials, direction)[:1]]
    n_failed, n_tuner_failed, n_pruner_failed, n_tuner_after, n_cut_off = counts
    stopped += _missing_note(label, [s[3] for s in studies], finals)
    med, low, high = _band(curves)
    epoch_x, epoch_curves = _on_epochs(by_epochs)
    epoch_med, epoch_low, epoch_high = _band(epoch_curves)
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
        seconds=seconds,
        seconds_mean=mean_se(seconds)[0],
        curve_x=list(range(1, len(med) + 1)),
        curve_median=med,
        curve_low=low,
        curve_high=high,
        epoch_x=epoch_x,
        epoch_median=epoch_med,
        epoch_low=epoch_low,
        epoch_high=epoch_high,
        n_pruned=len(pruned),
        n_failed=n_failed,
        n_tuner_failed=n_tuner_failed,
        n_pruner_failed=n_pruner_failed,
        n_tuner_after=n_tuner_after,
        n_cut_off=n_cut_off,
        band=band_text(len(curves)),
    )
    best = next(iter(sorted_best_first([t for t, _ in candidates], direction)), None)
    best_seed = next((seed for t, seed in candidates if t is best), None)
    return _Method(summary, pruned, best, stopped, metric, failures, best_seed)


def _stop_notes(who: str, study: optuna.Study, finished: int, target: int) -> list[str]:
    """Why the study of ``who`` (``"random seed 0"``) stopped early and what it left
    unfinished, each a line of the comparison's notes."""
    out = []
    note = stop_note(study)
    if note:
        out.append(f"{who}: {note}{_short(study, finished, target)}")
    unfinished = unfinished_note(study, finished, target)
    if unfinished:
        out.append(f"{who}: {unfinished}")
    return out


def _failure_counts(study: optuna.Study, trials: list[FrozenTrial]) -> list[int]:
    """The study's failed trials by kind: the task's, the tuner's, the pruner's, the finished
    ones its tuner raised taking in, and those cut off (``trials``: the study's)."""
    return [
        failed_trials(study),
        tuner_failures(study),
        pruner_failures(study),
        tuner_after_failures(study),
        sum(map(is_interrupted, trials)),
    ]


def _missing_note(label: str, seeds: list[int], finals: list[float]) -> list[str]:
    """The note on the seeds of method ``label`` with no completed trial (none: every seed
    has one), whose final best values are ``finals``."""
    missing = [seed for seed, v in zip(seeds, finals) if not math.isfinite(v)]
    if not missing:
        return []
    rest = len(finals) - len(missing)
    return [
        f"{label}: no completed trial in seed(s) {missing}; "
        + (
            f"its mean and standard error are over the other {rest} seed(s), and the "
            "paired comparisons leave those seeds out"
            if rest
            else "it has no mean, and no paired comparison"
        )
    ]
