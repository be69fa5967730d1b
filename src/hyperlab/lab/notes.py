"""Study notes: why a study stopped early and what its settings could not do, kept in the
study's attributes so that its summary and report repeat them.
"""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING, Any

import optuna
from optuna.trial import TrialState

from hyperlab.lab.fold_scores import CV_SCORES
from hyperlab.lab.trend import against_direction
from hyperlab.stops import STOP_NOTES

if TYPE_CHECKING:
    from hyperlab.lab.study_job import StudyJob


#: The study attribute that holds notes on settings that could not act (a list of lines).
NOTES = "notes"
#: The study attribute that says a curve pruner's predictor never acted ("" once it has).
IDLE_PREDICTOR = "idle_predictor"
#: Finished trials after which :class:`TrendWatch` stops looking (its reading is settled).
TREND_WATCH = 50


def stop_note(study: optuna.Study) -> str | None:
    """Why the study stopped early, and what its settings could not do (``None``: nothing)."""
    parts = [study.user_attrs[k] for k in STOP_NOTES if study.user_attrs.get(k)][:1]
    parts += list(study.user_attrs.get(NOTES) or [])
    parts += [study.user_attrs[IDLE_PREDICTOR]] if study.user_attrs.get(IDLE_PREDICTOR) else []
    return "; ".join(parts) or None


def _add_note(study: optuna.Study, note: str) -> None:
    notes = list(study.user_attrs.get(NOTES) or [])
    if note not in notes:
        study.set_user_attr(NOTES, [*notes, note])


def note_unused_settings(study: optuna.Study, job: StudyJob) -> None:
    """Note in the study (and so in its summary and report) a setting that could not act:
    ``stop_at_noise`` with no trial's fold scores, a pruner with no trial's intermediate
    values."""
    trials = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE, TrialState.PRUNED))
    complete = [t for t in trials if t.state == TrialState.COMPLETE]
    if job.stop_at_noise and not study.user_attrs.get("stopped_at_noise") and complete:
        if not any(CV_SCORES in t.system_attrs for t in complete):
            _add_note(
                study,
                "stop at noise did not apply: no trial reported cross-validation fold scores "
                "(a task's Evaluation.fold_values, or an objective's "
                "hyperlab.report_fold_scores(trial, scores)), so there was "
                "no noise to measure and every trial ran",
            )
    if job.pruner not in ("none", "tuner") and trials:
        if not any(t.intermediate_values for t in trials):
            _add_note(
                study,
                f"pruner {job.pruner!r} could not act: no trial reported an intermediate value "
                "(trial.report, or a task's on_epoch), so none could be stopped early",
            )
        _note_idle_predictor(study, job.pruner, len(complete), len(trials) - len(complete))


def startup_trials(sampler: Any) -> int | None:
    """The trials ``sampler`` draws from its start-up design before its model chooses
    (its ``startup_trials``; ``None`` when it declares none or does not know it yet)."""
    startup = getattr(sampler, "startup_trials", None)
    return startup if isinstance(startup, int) and not isinstance(startup, bool) else None


def note_startup_only(study: optuna.Study, job: StudyJob, known_at_start: int | None) -> None:
    """Note a tuner that drew every trial of the study from its start-up design when the
    design's size was not known as the run began (a tuner that sizes it from the search space,
    on an objective whose space only its first trial shows), so the run could not warn then;
    a size known at the start was warned about then (:mod:`hyperlab.lab.plugins`)."""
    startup = startup_trials(study.sampler)
    if known_at_start is not None or startup is None or job.trials > startup:
        return
    _add_note(
        study,
        f"tuner {job.tuner!r} drew every trial from its start-up design: it sizes the design "
        f"from the search space ({startup} trials here), which the objective showed only at "
        f"its first trial, so the run could not warn at the start; with trials={job.trials} "
        f"its results are that design's (ask for more than {startup} trials)",
    )


def _rule(stand_in: Any) -> str:
    """The name of a stand-in rule from how its stops' reasons begin (``median rule (...``)."""
    return str(stand_in).split(" (")[0].strip() or "rule standing in"


def _note_idle_predictor(study: optuna.Study, name: str, complete: int, pruned: int) -> None:
    """Note a curve pruner whose predictor never acted: it waits for ``min_finished`` complete
    trials, and the rule standing in for it (a pruner that has one declares how the reasons of
    its stops begin, ``stand_in``) stopped trials before that many had completed
    (``pruned``: the study's pruned trials)."""
    wanted = getattr(study.pruner, "min_finished", None)
    stand_in = getattr(study.pruner, "stand_in", None)
    stops = (
        sum(
            str(t.user_attrs.get("prune_reason", "")).startswith(stand_in)
            for t in study.get_trials(deepcopy=False, states=(TrialState.PRUNED,))
        )
        if pruned and isinstance(stand_in, str)
        else 0
    )
    idle = isinstance(wanted, int) and complete < wanted and stops > 0
    note = (
        f"pruner {name!r}: its curve predictor never acted; it waits for {wanted} complete "
        f"trials, and only {complete} completed: its stand-in, the {_rule(stand_in)}, made "
        f"{'all ' if stops == pruned else ''}{stops} stop{'s' if stops > 1 else ''} (ask for "
        "more trials, or a smaller min_finished)"
        if idle
        else ""
    )
    if study.user_attrs.get(IDLE_PREDICTOR, "") != note:  # (a resumed run may have moved on)
        study.set_user_attr(IDLE_PREDICTOR, note)


class TrendWatch:
    """Looks after each trial whether the trials' reports run against the study's direction
    (:mod:`hyperlab.lab.trend`: a score optimized the wrong way, or a loss reported beside a
    returned accuracy), and says so once: a warning while the run goes on, and a note that the
    summary and the report repeat. It stops looking once it has spoken or the study holds
    :data:`TREND_WATCH` finished trials.
    """

    def __init__(self, study: optuna.Study) -> None:
        self.study = study
        self.done = False

    def check(self) -> None:
        """Read the study's finished trials once more (nothing once done)."""
        if self.done:
            return
        states = (TrialState.COMPLETE, TrialState.PRUNED)
        trials = self.study.get_trials(deepcopy=False, states=states)
        self.done = len(trials) >= TREND_WATCH
        trend = against_direction(trials, self.study.direction)
        if trend is None:
            return
        self.done = True
        _add_note(self.study, trend.note())
        warnings.warn(f"{trend.advice()} (the run's notes give the count)", UserWarning, 2)
