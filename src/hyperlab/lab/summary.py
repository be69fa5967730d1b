"""What a finished ``tune`` run found: the best trial, its noise, its test score."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import optuna
from optuna.trial import TrialState

from hyperlab.direction import MINIMIZE, name_of, past_tense
from hyperlab.errors import NoCompletedTrialError, counted
from hyperlab.lab.notes import stop_note
from hyperlab.lab.results import (
    best_test_score,
    cv_std_err,
    spread_over,
    std_err_text,
    trial_config,
)
from hyperlab.lab.trial_kinds import (
    failed_trials,
    is_bookkeeping,
    is_interrupted,
    is_pruner_failure,
    is_tuner_failure,
    pruner_failures,
    tuner_after_failures,
    tuner_failures,
)
from hyperlab.tasks.base import FOLDS


@dataclass
class TuneSummary:
    """What :func:`tune` found.

    Attributes:
        best_params: The best trial's parameters; for a population, those its best model
            ended with (the last segment of its schedule: after copies, architecture
            included), not the ones its slot started from.
        best_value: Its cross-validated mean score.
        best_std_err: Its standard error over the CV folds, or over the seeds where the
            task's spread is over seeds (``spread_over``; NaN when it has no CV).
        test_score: Its score on the held-out test split (``None`` when the task has none).
        test_metric: What ``test_score`` measures and which way is better
            (e.g. ``cross-entropy, lower is better``).
        n_trials: Finished trials in the study.
        n_pruned: The finished trials that were pruned (stopped early).
        n_interrupted: Trials cut off by an interrupt or a lost worker (their parameters were
            queued again; not counted as failures).
        n_failed: The task's failed trials in it (not counting a claim's surplus, nor the
            tuner's failures); ``first_failure`` names the first failure's reason.
        n_tuner_failed: Trials failed inside the tuner's choice of their parameters (its
            sampler raised before the objective's own work ran).
        n_pruner_failed: Trials failed inside the pruner's decision whether to stop them.
        n_tuner_after: Finished trials whose tuner raised taking in their result (its
            ``after_trial``): they keep their state and value.
        stopped: Why the study stopped early, if it did, and what its settings could not do
            (a pruner that saw no intermediate value, stop at noise without fold scores).
        run_dir: Where the run lives.
        direction: Which way the value was optimized (``"minimize"`` or ``"maximize"``).
        spread_over: What ``best_std_err`` is over: ``"folds"`` or ``"seeds"`` (a table of
            several seeds' results).
    """

    best_params: dict[str, Any]
    best_value: float
    best_std_err: float
    test_score: float | None
    n_trials: int
    stopped: str | None = None
    run_dir: Path | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    direction: str = MINIMIZE
    test_metric: str | None = None
    n_failed: int = 0
    first_failure: str = ""
    n_pruned: int = 0
    n_interrupted: int = 0
    n_tuner_failed: int = 0
    n_pruner_failed: int = 0
    n_tuner_after: int = 0
    spread_over: str = FOLDS

    def lines(self) -> list[str]:
        """Human-readable summary lines."""
        se = std_err_text(self.best_std_err, self.spread_over)
        out = [
            f"best value ({past_tense(self.direction)}): {self.best_value:.6g}{se} "
            f"after {counted(self.n_trials, 'trial')}"
            + (f" ({self.n_pruned} of them pruned)" if self.n_pruned else "")
        ]
        schedule = self.extra.get("schedule")
        if schedule:  # a trial that changed its hyperparameters while it trained
            out += _schedule_end(schedule, bool(self.extra.get("hypergradient")))
            if self.run_dir is not None:
                out.append(f"its whole schedule: hyperlab replay {self.run_dir}")
            out += _screen_and_failures(self.extra)
            if self.extra.get("resumed_at") is not None:
                out.append(
                    "the population resumed from its checkpoint, where every member stood at "
                    f"epoch {self.extra['resumed_at']} or later (what trained after it was "
                    "trained again)"
                )
        else:
            out.append(
                "best configuration: "
                + ", ".join(f"{k}={_fmt(v)}" for k, v in self.best_params.items())
            )
        if self.test_score is not None:
            metric = f" ({self.test_metric})" if self.test_metric else ""
            out.append(f"held-out test score: {self.test_score:.6g}{metric}")
            if _far_worse(self.test_score, self.best_value, self.direction):
                out.append(
                    f"  (the held-out score is {self.test_score / self.best_value:.3g}x the "
                    "validation value: the retraining it was measured on, with the whole "
                    "training split and another seed, may have diverged; the configuration "
                    "is at the edge of stability)"
                )
        if self.stopped:
            out.append(self.stopped)
        return out + self._failure_lines()

    def _failure_lines(self) -> list[str]:
        """The summary's lines on the trials cut off or failed: the task's, the tuner's and the
        pruner's failures, and the finished trials whose tuner raised taking them in."""
        out = []
        if self.n_interrupted:
            out.append(
                f"{self.n_interrupted} trial{'s' if self.n_interrupted > 1 else ''} cut off by "
                "an interrupt or a lost worker (not counted as failed: the parameters were "
                "queued again)"
            )
        if self.n_failed:
            out.append(
                f"{self.n_failed} trial{'s' if self.n_failed > 1 else ''} failed (each reason "
                "and traceback: the report's 'Failed trials'" + self.first_failure[:300] + ")"
            )
        if self.n_tuner_failed:
            out.append(
                f"{self.n_tuner_failed} trial{'s' if self.n_tuner_failed > 1 else ''} failed "
                "in the tuner, which raised while choosing the parameters (not counted as the "
                "task's failures; each reason and traceback: the report's 'Failed trials')"
            )
        if self.n_pruner_failed:
            out.append(
                f"{self.n_pruner_failed} trial{'s' if self.n_pruner_failed > 1 else ''} failed "
                "in the pruner, which raised while deciding whether to stop it (not counted as "
                "the task's failures; each reason and traceback: the report's 'Failed trials')"
            )
        if self.n_tuner_after:
            n = self.n_tuner_after
            out.append(
                f"the tuner raised taking in the result of {n} finished trial{'s' if n > 1 else ''} "
                "(its after_trial: the trial keeps its value, but the tuner may not have learnt "
                "from it; counted towards the limit on failed trials; each reason and traceback: the "
                "report's 'Failed trials')"
            )
        return out


#: A held-out loss this many times the validation loss is told as a likely divergence.
FAR_WORSE = 10.0


def _far_worse(test: float, valid: float, direction: str) -> bool:
    """Whether a minimized positive score's held-out value is :data:`FAR_WORSE` times or more
    its validation value."""
    return direction == MINIMIZE and valid > 0 and math.isfinite(test) and test >= FAR_WORSE * valid


def _fmt(v: Any) -> str:
    return f"{v:.4g}" if isinstance(v, float) else str(v)


#: How :func:`state_counts` names the trials cut off (an interrupt, a lost worker), queued again.
INTERRUPTED = "cut off and run again"
#: How :func:`state_counts` names the trials failed inside the tuner's choice of parameters.
TUNER_FAILED = "failed in the tuner"
#: How :func:`state_counts` names the trials failed inside the pruner's decision.
PRUNER_FAILED = "failed in the pruner"


def state_counts(study: optuna.Study) -> dict[str, int]:
    """The study's trials by how they ended: ``complete``, ``pruned`` and ``failed`` (the
    task's failures, :func:`~hyperlab.lab.trial_kinds.failed_trials`) always; those failed in
    the tuner (:data:`TUNER_FAILED`) or the pruner (:data:`PRUNER_FAILED`), those cut off by an interrupt or a lost worker
    (:data:`INTERRUPTED`), ``running`` and ``waiting`` where there are any."""
    trials = study.get_trials(deepcopy=False)
    counts = {
        "complete": sum(t.state == TrialState.COMPLETE for t in trials),
        "pruned": sum(t.state == TrialState.PRUNED for t in trials),
        "failed": failed_trials(study),
        TUNER_FAILED: tuner_failures(study),
        PRUNER_FAILED: pruner_failures(study),
        INTERRUPTED: sum(map(is_interrupted, trials)),
        "running": sum(t.state == TrialState.RUNNING for t in trials),
        "waiting": sum(t.state == TrialState.WAITING for t in trials),
    }
    return {k: n for k, n in counts.items() if n or k in ("complete", "pruned", "failed")}


def _ended(study: optuna.Study) -> str:
    """How a study's trials ended, e.g. ``"12 pruned, 1 failed"`` (none: ``"no trial ran"``)."""
    counts = state_counts(study)
    return ", ".join(f"{n} {state}" for state, n in counts.items() if n) or "no trial ran"


def summarize(study: optuna.Study, run_dir: Path | None = None) -> TuneSummary:
    """A :class:`TuneSummary` of a finished study."""
    finished = [
        t for t in study.get_trials(deepcopy=False) if t.state.name in ("COMPLETE", "PRUNED")
    ]
    try:
        best = study.best_trial
    except ValueError:
        where = " (each failure's reason: the report's 'Failed trials')"
        stop = stop_note(study)
        raise NoCompletedTrialError(
            f"study {study.study_name!r} has no completed trial ({_ended(study)})"
            + (f"; {stop}" if stop else "")
            + _first_failure(study)
            + (
                where
                if failed_trials(study) or tuner_failures(study) or pruner_failures(study)
                else ""
            )
        ) from None
    return TuneSummary(
        best_params=trial_config(best),
        best_value=float(best.value if best.value is not None else math.nan),
        best_std_err=cv_std_err(best),
        spread_over=spread_over(study),
        test_score=best_test_score(study),
        test_metric=_test_metric(study),
        n_trials=len(finished),
        n_pruned=sum(t.state.name == "PRUNED" for t in finished),
        n_interrupted=state_counts(study).get(INTERRUPTED, 0),
        stopped=stop_note(study),
        run_dir=run_dir,
        direction=name_of(study.direction),
        extra=_population_extra(study, best),
        n_failed=failed_trials(study),
        n_tuner_failed=tuner_failures(study),
        n_pruner_failed=pruner_failures(study),
        n_tuner_after=tuner_after_failures(study),
        first_failure=_first_failure(study),
    )


def population_notes(study: optuna.Study) -> list[str]:
    """What a population's summary says about its screen and its members' failed segments
    (empty for any other study)."""
    return _screen_and_failures(_population_info(study))


def _screen_and_failures(extra: dict[str, Any]) -> list[str]:
    """The lines on a population's screen and its members' failed segments."""
    out = []
    if "screen" in extra:
        let_go, epochs, failed_there = extra["screen"]
        out.append(
            f"the screen trained {let_go} more candidate members for one segment and let them "
            f"go ({epochs} epochs beyond the members'"
            + (f"; {failed_there} of them failed)" if failed_there else ")")
        )
    if extra.get("replayed_curves"):
        out.append(
            "a replay task: a segment after a copy follows the new configuration's recorded "
            "curve, as if it had trained from the start (an approximation, not real training)"
        )
    failed = extra.get("failed_segments") or []
    if failed:
        epoch, member, reason = failed[0]
        out.append(
            f"{len(failed)} segment{'s' if len(failed) > 1 else ''} of members failed and "
            f"{'were' if len(failed) > 1 else 'was'} replaced by a copy of a good member; "
            f"first: member {member} at epoch {epoch}: {reason[:200]}"
        )
    return out


def _population_extra(study: optuna.Study, best: optuna.trial.FrozenTrial) -> dict[str, Any]:
    """What a population adds to its summary: the best trial's schedule and
    :func:`_population_info` (each where there is one); a ``tpe-hd`` trial's schedule too,
    marked ``hypergradient``."""
    out = _population_info(study)
    if "schedule" in best.user_attrs:
        out["schedule"] = best.user_attrs["schedule"]
        if best.user_attrs.get("hypergradient") is True and "member" not in best.user_attrs:
            out["hypergradient"] = True  # a tpe-hd trial: one model that learned its rate
    return out


def _population_info(study: optuna.Study) -> dict[str, Any]:
    """The epoch a population resumed at, its screen, whether it replayed curves, and its
    members' failed segments (each where there is one; empty for any other study)."""
    out: dict[str, Any] = {}
    info = study.user_attrs.get("population")
    if not isinstance(info, dict):
        return out  # not a population: its trials' attributes are the user's
    if info.get("resumed_at") is not None:
        out["resumed_at"] = info["resumed_at"]
    if info.get("screened"):
        let_go = info["screened"]
        out["screen"] = (
            len(let_go),
            int(info.get("screen_epochs", 0)),
            sum(isinstance(c, dict) and "failed" in c for c in let_go),
        )
    if info.get("replayed_curves"):
        out["replayed_curves"] = True
    failed = [
        (int(e.get("epoch", 0)), int(t.user_attrs.get("member", -1)), str(e["failed"]))
        for t in study.get_trials(deepcopy=False)
        for e in t.user_attrs.get("lineage", [])
        if isinstance(e, dict) and "failed" in e
    ]
    if failed:
        out["failed_segments"] = sorted(failed)  # the earliest first
    return out


def _test_metric(study: optuna.Study) -> str:
    """What the study's test score measures and which way is better (``cross-entropy, lower is
    better``; ``score`` when the metric was not recorded)."""
    better = "higher" if study.direction == optuna.study.StudyDirection.MAXIMIZE else "lower"
    return f"{study.user_attrs.get('test_score', {}).get('metric') or 'score'}, {better} is better"


def _first_failure(study: optuna.Study) -> str:
    """``"; trial N failed: REASON"`` for the first failed trial with a stored reason, or ``""``."""
    for t in study.get_trials(deepcopy=False, states=(TrialState.FAIL,)):
        reason = t.user_attrs.get("fail_reason")
        if reason and not is_bookkeeping(t):
            where = " in the tuner" if is_tuner_failure(t) else ""
            where = " in the pruner" if is_pruner_failure(t) else where
            return f"; trial {t.number} failed{where}: {reason}"
    return ""


def _schedule_end(schedule: list[dict[str, Any]], one_model: bool) -> list[str]:
    """What the best trial that changed its hyperparameters while it trained ended with. A
    population member's hyperparameters at the end, a learned value (a self-tuning member's
    learning rate) in place of the one its last segment started from; or (``one_model``: a
    ``tpe-hd`` trial) those it was drawn with, its rate's start. Then the learned values on a
    line of their own."""
    learned = schedule[-1].get("learned") or {}
    if one_model:
        head = (
            f"best trial trained {schedule[-1]['end']} epochs from its drawn hyperparameters "
            "(the rate where it started): "
            + ", ".join(f"{k}={_fmt(v)}" for k, v in schedule[0]["config"].items())
        )
    else:
        head = (
            f"best trial trained in {len(schedule)} segments; its hyperparameters at the end: "
            + ", ".join(
                f"{k}={_fmt(learned[k])} (learned; {_fmt(v)} at its last segment's start)"
                if k in learned
                else f"{k}={_fmt(v)}"
                for k, v in schedule[-1]["config"].items()
            )
        )
    out = [head]
    if learned:
        out.append(
            "learned while it trained, at the end: "
            + ", ".join(f"{k}={_fmt(v)}" for k, v in learned.items())
        )
    return out
