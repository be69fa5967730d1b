"""Why a study stopped early: the study attributes that the lab, its tuners and its reports share.

A study that stops before its trials are done says why in its ``stopped`` attribute (a grid
visited in full, too many failed trials) or ``stopped_at_noise``. A stop for failures also sets
:data:`FAILED_OUT`, which the command line turns into a failing exit status and a resumed run
clears (it counts its failures afresh). A study whose tuner drives its trials itself (a
population, ``one-epoch``) carries :data:`DRIVING` while that tuner works: one found with it
was cut off before its tuner ended, even where its trials already fill the count.
"""

from __future__ import annotations

import optuna

#: The study attributes that say why a study stopped early.
STOP_NOTES = ("stopped_at_noise", "stopped")
#: The study attribute set (``True``) when the study stopped because too many trials failed.
FAILED_OUT = "stopped_by_failures"
#: The study attribute set (``True``) while a tuner that drives its trials itself runs them.
DRIVING = "tuner_running"


def unfinished_driver(study: optuna.Study) -> bool:
    """Whether the study's tuner drives its trials itself and was cut off before it ended."""
    return bool(study.user_attrs.get(DRIVING))


def failures_reason(failures: int, counted_in: str = "a process of this run") -> str:
    """Why a study stopped for failures: ``failures`` counted where ``counted_in`` says (a run
    counts them afresh, so the study's failures in all may be more)."""
    return f"stopped after {failures} failed trials in {counted_in}"


def stop_for_failures(study: optuna.Study, reason: str) -> None:
    """Record that the study stops because too many trials failed (``reason`` says how many)."""
    study.set_user_attr("stopped", reason)
    study.set_user_attr(FAILED_OUT, True)


def stopped_by_failures(study: optuna.Study) -> bool:
    """Whether the study's last run stopped because too many of its trials failed."""
    return bool(study.user_attrs.get(FAILED_OUT))


def settle_failure_stop(study: optuna.Study, target: int) -> None:
    """Forget a stop for failures once the study holds ``target`` finished trials: with
    several processes, one that stopped for its own failures does not stop the others."""
    finished = (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED)
    if stopped_by_failures(study) and len(study.get_trials(False, states=finished)) >= target:
        clear_failure_stop(study)


def clear_failure_stop(study: optuna.Study) -> None:
    """Forget the last run's stop for failures (a resumed run counts its failures afresh).

    Studies of versions before :data:`FAILED_OUT` are read by their reason's words.
    """
    old = str(study.user_attrs.get("stopped") or "")
    if stopped_by_failures(study) or (old.startswith("stopped after") and "failed" in old):
        study.set_user_attr("stopped", None)
        study.set_user_attr(FAILED_OUT, False)
