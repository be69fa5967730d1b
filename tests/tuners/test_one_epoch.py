"""The one-epoch tuner: screens every configuration for one epoch, trains the k best at that
epoch to the full budget, counts epochs as a pruner's trials count them, optimizes either way,
repeats itself under a seed, resumes without losing work and refuses what it cannot do."""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path
from typing import Any

import optuna
import pytest
from optuna.trial import TrialState, create_trial

from hyperlab.errors import FAILURE_ATTR, InputError, InputTypeError
from hyperlab.lab.plugins import check_plugins
from hyperlab.lab.results import study_records, trial_budget
from hyperlab.lab.trial_kinds import failure_kind
from hyperlab.registry import TASKS, TUNERS
from hyperlab.space import SpaceEncoder
from hyperlab.tasks.base import Task
from hyperlab.tuners.failed_trials import FailedTrials, is_failure
from hyperlab.tuners.one_epoch import FULL, SCREEN, SCREENED_ATTR, STAGE_ATTR, OneEpochTuner

from .one_epoch_tasks import Continued, Screened

TASK_FILE = Path(__file__).with_name("one_epoch_tasks.py")


@pytest.fixture(autouse=True)
def _quiet() -> None:
    optuna.logging.set_verbosity(optuna.logging.WARNING)


def _run(
    task: Task,
    workdir: Path,
    *,
    trials: int = 12,
    budget: int = 6,
    seed: int = 0,
    study: optuna.Study | None = None,
    **options: Any,
) -> optuna.Study:
    tuner = TUNERS.create("one-epoch", seed=seed, space=task.distributions(), task=task, **options)
    if study is None:
        study = optuna.create_study(sampler=tuner, direction=task.direction or "minimize")
    else:
        study.sampler = tuner
    tuner.run_trials(study, task, trials=trials, budget=budget, seed=seed, workdir=workdir)
    return study


def _stage(study: optuna.Study, stage: str) -> list[optuna.trial.FrozenTrial]:
    return [t for t in study.trials if t.user_attrs.get(STAGE_ATTR) == stage]


def _outcome(study: optuna.Study) -> list[tuple[Any, ...]]:
    return [(t.number, t.state, t.params, t.value, t.intermediate_values) for t in study.trials]


@pytest.mark.parametrize("kind", [Continued, Screened])
def test_the_k_best_at_epoch_one_are_trained_to_the_full_budget(
    kind: type[Screened], tmp_path: Path
) -> None:
    study = _run(kind(), tmp_path, k=3)
    screened, full = _stage(study, SCREEN), _stage(study, FULL)
    assert [t.number for t in screened] == list(range(12))
    assert all(
        t.state == TrialState.PRUNED and list(t.intermediate_values) == [1] for t in screened
    )
    by_epoch_one = sorted(screened, key=lambda t: t.intermediate_values[1])
    assert [t.user_attrs[SCREENED_ATTR] for t in full] == [t.number for t in by_epoch_one[:3]]
    assert [t.number for t in full] == [12, 13, 14]  # numbered after the screening, as trained
    for t in full:
        first = study.trials[t.user_attrs[SCREENED_ATTR]]
        assert t.state == TrialState.COMPLETE and t.params == first.params
        assert list(t.intermediate_values) == [1, 2, 3, 4, 5, 6]
        assert t.intermediate_values[1] == pytest.approx(first.intermediate_values[1])
    assert study.best_trial in full  # only fully trained models can be best


@pytest.mark.parametrize(("kind", "full_epochs"), [(Continued, 5), (Screened, 6)])
def test_epochs_are_counted_as_every_pruner_counts_them(
    kind: type[Screened], full_epochs: int, tmp_path: Path
) -> None:
    task = kind()
    study = _run(task, tmp_path, trials=10, k=2)
    assert [trial_budget(t) for t in study.trials] == [1] * 10 + [full_epochs] * 2
    assert study_records(study)[-1]["epochs_cumulative"] == 10 + 2 * full_epochs == task.epochs
    continued = kind is Continued
    assert all(t.user_attrs.get("from_scratch", False) != continued for t in _stage(study, FULL))


def test_maximizing_picks_the_mirror_image_of_minimizing(tmp_path: Path) -> None:
    low = _run(Continued(), tmp_path / "min", k=2)
    high = _run(Continued(direction="maximize"), tmp_path / "max", k=2)
    assert [t.params for t in _stage(high, FULL)] == [t.params for t in _stage(low, FULL)]
    assert high.best_value == pytest.approx(-low.best_value)


def test_a_seed_repeats_the_run_and_another_seed_does_not(tmp_path: Path) -> None:
    first = _outcome(_run(Continued(), tmp_path / "a", seed=3))
    assert _outcome(_run(Continued(), tmp_path / "b", seed=3)) == first
    assert _outcome(_run(Continued(), tmp_path / "c", seed=4)) != first
    # the run's seed decides, not the sampler's (a worker process's is offset)
    task = Continued()
    tuner = TUNERS.create("one-epoch", seed=99, task=task)
    study = optuna.create_study(sampler=tuner)
    tuner.run_trials(study, task, trials=12, budget=6, seed=3, workdir=tmp_path / "d")
    assert _outcome(study) == first


def test_k_defaults_to_a_tenth_of_the_trials_rounded_up(tmp_path: Path) -> None:
    assert OneEpochTuner().top_k(25) == 3
    assert OneEpochTuner().top_k(4) == 1
    study = _run(Continued(), tmp_path, trials=11, sampler="qmc")
    assert len(_stage(study, FULL)) == 2
    assert study.user_attrs["one_epoch"]["k"] == 2


def test_an_interrupted_screening_resumes_without_losing_a_trial(tmp_path: Path) -> None:
    study = optuna.create_study()
    with pytest.raises(KeyboardInterrupt):
        _run(Continued(interrupt_at=4), tmp_path, study=study, k=2)
    cut = study.trials[4]
    assert cut.state == TrialState.FAIL and "interrupted" in cut.user_attrs["fail_reason"]
    task = Continued()
    _run(task, tmp_path, study=study, k=2)
    screened = _stage(study, SCREEN)
    assert [t.state for t in screened].count(TrialState.PRUNED) == 12
    assert screened[5].params == cut.params  # its configuration is screened again
    assert len(_stage(study, FULL)) == 2
    done = _run(Continued(), tmp_path, study=study, k=2)
    assert len(done.trials) == len(study.trials)  # a finished study is left as it is


def test_a_resumed_study_trains_afresh_what_it_lost_and_counts_it(tmp_path: Path) -> None:
    study = optuna.create_study()
    with pytest.raises(KeyboardInterrupt):  # calls 0..5 screen; 6 trains the best fully
        _run(Continued(interrupt_at=7), tmp_path, study=study, trials=6, k=3)
    assert len(_stage(study, FULL)) == 1
    task = Continued()
    _run(task, tmp_path, study=study, trials=6, k=3)
    full = _stage(study, FULL)
    assert len(full) == 3 and task.epochs == 2 * 6
    assert [t.user_attrs.get("from_scratch", False) for t in full] == [False, True, True]


def test_a_trial_left_running_is_failed_and_its_configuration_queued(tmp_path: Path) -> None:
    study = optuna.create_study()
    orphan = study.ask({"x": optuna.distributions.FloatDistribution(0.0, 1.0)})
    orphan.set_user_attr(STAGE_ATTR, SCREEN)
    _run(Continued(), tmp_path, study=study, trials=4, k=1)
    assert study.trials[0].state == TrialState.FAIL
    assert study.trials[1].params["x"] == orphan.params["x"]
    assert len(_stage(study, SCREEN)) == 5 and len(_stage(study, FULL)) == 1


def test_a_failing_configuration_is_failed_and_screening_goes_on(tmp_path: Path) -> None:
    class Diverging(Continued):
        def score(self, config: dict[str, Any], epoch: int, offset: float) -> float:
            return float("nan") if config["x"] > 0.7 else super().score(config, epoch, offset)

    study = _run(Diverging(), tmp_path, k=2)
    assert len([t for t in study.trials if t.state == TrialState.PRUNED]) == 12
    assert all(
        "non-finite" in t.user_attrs["fail_reason"] for t in study.trials if t.state.name == "FAIL"
    )


class _Diverging(Continued):
    """Configurations with ``x`` above 0.6 diverge at once (a NaN score)."""

    def score(self, config: dict[str, Any], epoch: int, offset: float) -> float:
        return float("nan") if config["x"] > 0.6 else super().score(config, epoch, offset)


def _read_as_failed(study: optuna.Study) -> list[tuple[float, ...]]:
    """The encoded configurations that meta, neural and diagnosis, reading the study, take for
    failed ones (at the worst score so far)."""
    enc = SpaceEncoder(Continued().distributions())
    probe = create_trial(state=TrialState.COMPLETE, value=0.0)  # (a trial not of the study)
    return sorted(tuple(p) for p in FailedTrials().points(study, probe, enc))


def test_a_tuner_that_reads_its_study_takes_only_the_task_failures_for_failed_configurations(
    tmp_path: Path,
) -> None:
    """It failed its own trials without saying how the failure counts, so a study resumed with
    meta, neural or diagnosis read a trial left running by an ended process, and one cut off
    by Ctrl-C, as configurations that failed (both had all their parameters), and steered away
    from them; only the diverged configurations are the task's failures."""
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    orphan = study.ask(Continued().distributions())  # all its parameters, left running
    orphan.set_user_attr(STAGE_ATTR, SCREEN)
    with pytest.raises(KeyboardInterrupt):
        _run(_Diverging(interrupt_at=3), tmp_path, study=study, k=2)
    _run(_Diverging(), tmp_path, study=study, k=2)
    failed = [t for t in study.trials if t.state == TrialState.FAIL]
    cut = [t for t in failed if t.user_attrs["fail_reason"].startswith("interrupted")]
    crashed = [t for t in failed if "non-finite" in t.user_attrs["fail_reason"]]
    assert len(cut) == 2 and crashed and len(cut) + len(crashed) == len(failed)
    enc = SpaceEncoder(Continued().distributions())
    assert _read_as_failed(study) == sorted(tuple(enc.encode([t.params])[0]) for t in crashed)
    assert [t.user_attrs.get(FAILURE_ATTR) for t in cut] == ["cut off"] * 2
    assert {t.user_attrs.get(FAILURE_ATTR) for t in crashed} == {"task"}
    assert all(t.user_attrs[FAILURE_ATTR] == failure_kind(t) for t in failed)  # (results.csv's)


class _NanSpreadScreened(Screened):
    """Gives a configuration with ``x > 0.7`` a NaN ``std_err`` (its scores stay finite)."""

    def _evaluate(self, config: dict[str, Any], *args: Any) -> Any:
        done = super()._evaluate(config, *args)
        return replace(done, std_err=float("nan")) if config["x"] > 0.7 else done


class _NanSpreadContinued(Continued):
    """As :class:`_NanSpreadScreened`, in its segments."""

    def _train_segment(self, config: dict[str, Any], *args: Any) -> Any:
        done = super()._train_segment(config, *args)
        return replace(done, std_err=float("nan")) if config["x"] > 0.7 else done


@pytest.mark.parametrize("kind", [_NanSpreadScreened, _NanSpreadContinued])
def test_a_configuration_whose_std_err_is_nan_is_failed_as_a_diverged_one(
    kind: type[Screened], tmp_path: Path
) -> None:
    """A NaN std_err was stored with the screening trial; the lab's objective fails such a
    trial, and so does the one-epoch tuner, from an evaluation or a segment alike."""
    study = _run(kind(), tmp_path, k=2)
    failed = [t for t in study.trials if t.state == TrialState.FAIL]
    assert failed and all(t.params["x"] > 0.7 for t in failed)
    assert {t.user_attrs["fail_reason"] for t in failed} == {
        "non-finite std_err nan (the score's standard error over folds)"
    }
    assert all(t.params["x"] <= 0.7 for t in study.trials if t.state != TrialState.FAIL)


@pytest.mark.parametrize(
    ("options", "error", "match"),
    [
        ({"k": 0}, InputError, "k must be at least 1"),
        ({"k": 2.5}, InputTypeError, "k must be an integer"),
        ({"k": True}, InputTypeError, "k must be an integer"),
        ({"sampler": "tpe"}, InputError, "sampler must be one of"),
        ({"task": None}, InputError, "not a plain objective"),
        ({"task": "curves"}, InputTypeError, "needs a hyperlab Task"),
        ({"task": TASKS.create("branin")}, InputError, "max_budget=1"),
    ],
)
def test_bad_options_are_refused_by_name(
    options: dict[str, Any], error: type[Exception], match: str
) -> None:
    settings = {"task": Continued(), **options}
    with pytest.raises(error, match=match):
        TUNERS.create("one-epoch", seed=0, **settings)


@pytest.mark.parametrize(
    ("pruners", "budget", "trials", "noise", "match"),
    [
        (["asha"], None, 10, False, "pruner 'none'"),
        (["none"], None, 10, True, "stop_at_noise"),
        (["none"], 1, 10, False, "budget >= 2"),
        (["none"], None, 3, False, "k=4 configurations"),
    ],
)
def test_a_run_it_cannot_do_is_refused_before_it_starts(
    pruners: list[str], budget: int | None, trials: int, noise: bool, match: str
) -> None:
    with pytest.raises(InputError, match=match):
        check_plugins(
            ["one-epoch"],
            pruners,
            {"k": 4},
            {},
            task_name=None,
            task=Continued(),
            budget=budget,
            trials=trials,
            stop_at_noise=noise,
        )


@pytest.mark.filterwarnings("error:All-NaN slice:RuntimeWarning")  # no band before a full trial
def test_in_the_lab_it_screens_the_configurations_random_search_trains(tmp_path: Path) -> None:
    import hyperlab

    task = f"{TASK_FILE}:Continued"
    settings: dict[str, Any] = {"seeds": 1, "trials": 8, "runs_dir": tmp_path, "progress": False}
    records = hyperlab.compare(task, ["random", "one-epoch"], name="cmp", **settings)
    mine = [r for r in records if r["tuner"] == "one-epoch"]
    rand = [r for r in records if r["tuner"] == "random"]
    assert [r["state"] for r in mine] == ["PRUNED"] * 8 + ["COMPLETE"]
    assert mine[-1]["epochs_cumulative"] == 8 + 5 and rand[-1]["epochs_cumulative"] == 8 * 6
    assert [r["param_x"] for r in mine[:8]] == [r["param_x"] for r in rand]  # same draws
    again = hyperlab.compare(task, ["random", "one-epoch"], name="cmp", **settings)
    assert len(again) == len(records)  # the same command resumes a finished run: no new trials
    assert (tmp_path / "cmp" / "report.html").exists()


def test_a_plain_objective_is_refused_before_anything_runs(tmp_path: Path) -> None:
    import hyperlab

    def objective(trial: optuna.Trial) -> float:
        return trial.suggest_float("x", 0.0, 1.0)

    with pytest.raises(InputError, match=r"one-epoch.*plain objective"):
        hyperlab.compare(objective, ["one-epoch"], seeds=1, trials=4, runs_dir=tmp_path)
    assert not any(tmp_path.iterdir())


def test_a_study_gets_the_held_out_test_score_of_its_best_full_trial(tmp_path: Path) -> None:
    import hyperlab
    from hyperlab.registry import TASKS

    study, summary = hyperlab.tune(
        "wine-mlp", "one-epoch", trials=6, seed=0, budget=3, runs_dir=tmp_path, name="one",
        progress=False, report=False,
    )  # fmt: skip
    best = study.best_trial
    assert best.user_attrs["one_epoch"] == FULL
    task = TASKS.create("wine-mlp")
    config = task.search_space(optuna.trial.FixedTrial(best.params))
    assert summary.test_score == study.user_attrs["test_score"]["value"]
    assert summary.test_score == task.test_score(config, 3, seed=0)


def test_the_pruner_tuner_is_accepted_as_pbt_accepts_it() -> None:
    """A panel that gives multi-fidelity peers the pruner 'tuner' can hold one-epoch too (it
    stops its trials itself); any other pruner is refused by name."""
    tuner = TUNERS.create("one-epoch", seed=0, task=Continued())
    tuner.check_run(trials=10, budget=None, pruners=["tuner"], stop_at_noise=False)
    with pytest.raises(InputError, match="pruner 'none' \\(or 'tuner'\\)"):
        tuner.check_run(trials=10, budget=None, pruners=["median"], stop_at_noise=False)


def test_it_tells_its_progress_as_it_screens_and_trains(tmp_path: Path) -> None:
    notes: list[str] = []
    task = Continued()
    tuner = TUNERS.create("one-epoch", seed=0, space=task.distributions(), task=task)
    study = optuna.create_study(sampler=tuner)
    tuner.run_trials(
        study, task, trials=6, budget=4, seed=0, workdir=tmp_path, on_progress=notes.append
    )
    assert notes == [f"screened {i}/6 for one epoch" for i in range(1, 7)] + [
        "training the best 1 fully: 0 done",
        "trained the best 1 fully",
    ]


@pytest.mark.parametrize("jobs", [1, 2])
def test_a_run_cut_off_in_its_full_trainings_is_told_as_unfinished_and_resumes(
    jobs: int, tmp_path: Path
) -> None:
    """Its screening trials already fill the count, yet the report must not call it done."""
    import hyperlab
    from hyperlab.report import compare_records

    task = f"{TASK_FILE}:Continued"
    run = {"trials": 6, "budget": 4, "runs_dir": tmp_path, "name": "cut", "progress": False}
    with pytest.raises(KeyboardInterrupt):  # screening makes calls 0-5, the full training 6
        hyperlab.tune(task, "one-epoch", task_options={"interrupt_at": 6}, report=False, **run)
    stopped = "\n".join(compare_records(tmp_path / "cut").stopped)
    assert "unfinished, 6 of 6 trials, its tuner not ended" in stopped
    from hyperlab.report import write_report

    page = write_report(tmp_path / "cut").read_text()  # the page a tune run writes says it too
    assert "unfinished, 6 of 6 trials, its tuner not ended" in page
    # the same command again (with --jobs 2 too): a new process's calls count from 0, so
    # none is interrupted, and it trains what the count of trials says is done
    study, _ = hyperlab.tune(
        task, "one-epoch", task_options={"interrupt_at": 6}, report=False, jobs=jobs, **run
    )
    assert "unfinished" not in "\n".join(compare_records(tmp_path / "cut").stopped)
    assert [t.user_attrs[STAGE_ATTR] for t in study.trials if t.state.name == "COMPLETE"] == [FULL]


class _FullFails(Continued):
    """Epochs past the first raise (in a helper) while ``broken`` is set."""

    broken = True

    def score(self, config: dict[str, Any], epoch: int, offset: float) -> float:
        if epoch > 1 and self.broken:
            _blow_up()
        return super().score(config, epoch, offset)


def _blow_up() -> None:
    raise FloatingPointError("weights blew up")


def test_a_failed_full_training_names_where_and_a_rerun_trains_it_again(tmp_path: Path) -> None:
    task = _FullFails()
    study = _run(task, tmp_path, trials=6, k=1)
    failed = [t for t in study.trials if t.state == TrialState.FAIL]
    assert len(failed) == 1 and failed[0].user_attrs[STAGE_ATTR] == FULL
    reason = failed[0].user_attrs["fail_reason"]
    assert reason.startswith("full training failed: FloatingPointError: weights blew up (at ")
    assert "in _blow_up" in reason and "Traceback" in failed[0].user_attrs["fail_traceback"]
    assert is_failure(failed[0]) and failed[0].user_attrs.get(FAILURE_ATTR) == "task"
    task.broken = False
    study = _run(task, tmp_path, trials=6, k=1, study=study)  # the same command again
    full = [t for t in study.trials if t.user_attrs.get(STAGE_ATTR) == FULL]
    assert [t.state for t in full] == [TrialState.FAIL, TrialState.COMPLETE]


def test_a_task_that_breaks_its_contract_stops_the_screening_at_its_first_trial(
    tmp_path: Path,
) -> None:
    """A task whose _evaluate returned no Evaluation was screened again and again, each
    configuration failed alike, until the tuner's failure limit: as in a study the lab runs,
    the TaskContractError stops the run at once, its trial failed with the reason and refused
    (not its configuration's failure to a tuner that reads the study later)."""
    from hyperlab.errors import TaskContractError

    class Broken(Screened):
        def _evaluate(self, config: dict[str, Any], budget: int, seed: int, on_epoch: Any) -> Any:
            return config["x"]

    study = optuna.create_study()
    with pytest.raises(TaskContractError, match="not an Evaluation") as info:
        _run(Broken(), tmp_path, k=2, study=study)
    assert str(info.value).startswith("task 'screened', trial 0: Broken._evaluate returned ")
    (trial,) = study.trials
    assert trial.state == TrialState.FAIL
    assert trial.user_attrs["fail_reason"] == f"TaskContractError: {info.value}"
    assert not is_failure(trial) and not _read_as_failed(study)
    assert trial.user_attrs.get(FAILURE_ATTR) == failure_kind(trial) == "refused"


def test_a_score_that_is_not_a_number_stops_the_screening_at_its_trial(tmp_path: Path) -> None:
    """math.isfinite refused the text with a TypeError: each configuration failed alike, and
    the screening went on until the tuner's failure limit."""
    from hyperlab.errors import TaskContractError

    class Text(Screened):
        def _evaluate(self, config: dict[str, Any], budget: int, seed: int, on_epoch: Any) -> Any:
            if on_epoch is not None:
                on_epoch(1, str(config["x"]), {})
            return super()._evaluate(config, budget, seed, on_epoch)

    study = optuna.create_study()
    with pytest.raises(TaskContractError) as info:
        _run(Text(), tmp_path, k=2, study=study)
    said = "task 'screened', trial 0: Text._evaluate reported '0."
    assert str(info.value).startswith(said) and "of type str to on_epoch at epoch 1" in str(
        info.value
    )
    (trial,) = study.trials
    assert trial.user_attrs["fail_reason"] == f"TaskContractError: {info.value}"


def test_a_task_that_breaks_its_contract_only_in_full_training_stops_there(
    tmp_path: Path,
) -> None:
    """The full trainings failed alike too, one after another, each recorded as a failure."""
    from hyperlab.errors import TaskContractError

    class BrokenLater(Screened):
        def _evaluate(self, config: dict[str, Any], budget: int, seed: int, on_epoch: Any) -> Any:
            done = super()._evaluate(config, budget, seed, on_epoch)
            return done if budget == 1 else done.value

    study = optuna.create_study()
    with pytest.raises(TaskContractError, match="not an Evaluation") as info:
        _run(BrokenLater(), tmp_path, trials=4, k=2, study=study)
    assert re.match(r"task 'screened', the full training of trial \d: BrokenLater", str(info.value))
    assert not [t for t in study.trials if t.user_attrs.get(STAGE_ATTR) == FULL]


class NamesTheStage(Screened):
    """A task whose evaluation's extra has the name of the tuner's own stage attribute."""

    name = "names-the-stage"

    def _evaluate(self, *args: Any) -> Any:
        return replace(super()._evaluate(*args), extra={STAGE_ATTR: "mine", "acc": 0.5})


def test_a_tasks_extra_under_the_stage_attributes_name_does_not_stop_the_full_trials(
    tmp_path: Path,
) -> None:
    """The screening trials' stage was written before the task's extras, which replaced it:
    no trial read as screened, and none was trained to the full budget."""
    study = _run(NamesTheStage(), tmp_path, trials=4, budget=3, k=2)
    assert len(_stage(study, SCREEN)) == 4 and len(_stage(study, FULL)) == 2
    assert all(t.user_attrs["acc"] == 0.5 for t in study.trials)
