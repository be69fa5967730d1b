"""PBT and PB2 on a cheap quadratic task: both modes finish, failures, resume, seeds, options."""

from __future__ import annotations

import contextlib
import itertools
import math
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import optuna
import pytest

from hyperlab.errors import DataNotFoundError, InputError, InputTypeError, TrialFailure
from hyperlab.lab.rundir import load_studies
from hyperlab.lab.summary import summarize
from hyperlab.population import PopulationFailure, PopulationTuner, checkpoint, loop
from hyperlab.population.checkpoint import FILE
from hyperlab.population.replay import replay_member
from hyperlab.registry import TASKS, TUNERS
from hyperlab.space import SpaceEncoder
from hyperlab.tasks.mlp import SklearnMLPTask
from tests.population.conftest import outcome, run_population
from tests.population.quadratic import Quadratic, SimulatedCrash

REPO = Path(__file__).resolve().parents[2]


def _check_complete(study: optuna.Study, trials: int, budget: int) -> None:
    """One complete trial per member, each with its model's whole path."""
    done = study.get_trials(states=(optuna.trial.TrialState.COMPLETE,))
    assert sorted(t.user_attrs["member"] for t in done) == list(range(trials))
    for t in done:
        assert list(t.intermediate_values) == list(range(1, budget + 1))
        assert t.value == t.intermediate_values[budget]
        schedule = t.user_attrs["schedule"]
        assert schedule[0]["start"] == 0 and schedule[-1]["end"] == budget
        assert all(a["end"] == b["start"] for a, b in itertools.pairwise(schedule))
        assert t.user_attrs["budget"] >= budget


@pytest.mark.parametrize("tuner", ["pbt", "pb2"])
@pytest.mark.parametrize("mode", ["sync", "async"])
def test_sync_and_async_finish(tuner: str, mode: str, tmp_path: Path) -> None:
    study = run_population(tuner, Quadratic(), tmp_path, trials=6, budget=8, interval=2, mode=mode)
    _check_complete(study, 6, 8)
    exploits = [e for t in study.trials for e in t.user_attrs["lineage"] if "copied_from" in e]
    assert exploits, "no member ever exploited another"
    for t in study.trials:
        for segment in t.user_attrs["schedule"]:
            if segment["copied_from"] is not None:  # an exploit: epoch counters carried over
                assert segment["start"] > 0 and segment["perturbation"] is not None
    summary = study.user_attrs["population"]
    assert summary["mode"] == mode and summary["tuner"] == tuner and summary["interval"] == 2


def test_same_seed_same_population_and_another_seed_another(tmp_path: Path) -> None:
    a = run_population("pb2", Quadratic(), tmp_path / "a", seed=3, interval=2)
    b = run_population("pb2", Quadratic(), tmp_path / "b", seed=3, interval=2)
    c = run_population("pb2", Quadratic(), tmp_path / "c", seed=4, interval=2)
    assert outcome(a) == outcome(b)
    assert outcome(a) != outcome(c)


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_resume_after_a_crash_loses_nothing(mode: str, tmp_path: Path) -> None:
    whole = run_population("pbt", Quadratic(), tmp_path / "whole", interval=1, mode=mode)
    crashing = Quadratic(crash_after=9)  # in the third generation / the tenth segment
    with pytest.raises(SimulatedCrash, match="simulated crash"):
        run_population("pbt", crashing, tmp_path / "run", interval=1, mode=mode)
    assert (tmp_path / "run" / FILE).exists()
    resumed_task = Quadratic()
    resumed = run_population("pbt", resumed_task, tmp_path / "run", interval=1, mode=mode)
    assert outcome(resumed) == outcome(whole)
    # only the segments after the last checkpoint ran again: fewer than the whole run's
    assert resumed_task.segments < 4 * 6
    assert whole.user_attrs["population"]["resumed_at"] is None
    assert 0 <= resumed.user_attrs["population"]["resumed_at"] < 6
    lines = summarize(resumed).lines()
    assert any("resumed from its checkpoint, where every member stood" in line for line in lines)


class _CrashingMLP(SklearnMLPTask):
    """A small ``wine-mlp`` whose process "dies" after ``crash_after`` segments."""

    def __init__(self, crash_after: int | None = None) -> None:
        super().__init__("wine", n_folds=2, max_epochs=5)
        self.crash_after, self.segments = crash_after, 0

    def _train_segment(self, *args: Any, **kwargs: Any) -> Any:
        if self.crash_after is not None and self.segments >= self.crash_after:
            raise SimulatedCrash("simulated crash")
        self.segments += 1
        return super()._train_segment(*args, **kwargs)


@pytest.mark.parametrize(
    ("tuner", "options"),
    [("pb2", {"mode": "async"}), ("pbt", {"mode": "sync", "hypergradient": True})],
    ids=["pb2-async", "pbt-hypergradient"],
)
def test_a_resumed_mlp_population_ends_as_an_uninterrupted_one(
    tuner: str, options: dict[str, Any], tmp_path: Path
) -> None:
    """With real model and optimizer states (weights, Adam's moments, learned rates, random
    streams) restored from the checkpoint, not a toy state."""
    settings = {"trials": 4, "budget": 5, "interval": 1, **options}
    whole = run_population(tuner, _CrashingMLP(), tmp_path / "whole", **settings)
    with pytest.raises(SimulatedCrash, match="simulated crash"):
        run_population(tuner, _CrashingMLP(crash_after=11), tmp_path / "run", **settings)
    resumed_task = _CrashingMLP()
    resumed = run_population(tuner, resumed_task, tmp_path / "run", **settings)
    assert outcome(resumed) == outcome(whole)
    assert 0 < resumed_task.segments < 4 * 5


class _WaitsForTheWrite(Quadratic):
    """Holds its first segment after generation 1 until the checkpoint write has failed."""

    def __init__(self, failed: threading.Event, members: int) -> None:
        super().__init__()
        self.failed, self.members = failed, members

    def _train_segment(self, *args: Any, **kwargs: Any) -> Any:
        if self.segments == self.members:
            assert self.failed.wait(timeout=60), "the write never failed"
        return super()._train_segment(*args, **kwargs)


def test_a_failed_checkpoint_write_stops_the_run_at_the_next_segment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    failed = threading.Event()

    def full_disk(self: checkpoint.Writer, _packed: object) -> None:
        self._error = OSError(28, "No space left on device")
        failed.set()

    monkeypatch.setattr(checkpoint.Writer, "_run", full_disk)
    task = _WaitsForTheWrite(failed, members=4)
    with pytest.raises(OSError, match="No space left on device"):
        run_population("pbt", task, tmp_path, trials=4, interval=1, budget=6)
    # generation 1 (4 segments) was saved; the run stopped before a second segment after the
    # failure (4 when it was seen before the next segment began, 5 when during it), not at
    # the next save (8)
    assert task.segments in (4, 5)


def test_a_finished_population_is_not_resized(tmp_path: Path) -> None:
    study = run_population("pbt", Quadratic(), tmp_path / "run", trials=3, interval=2)
    (tmp_path / "run" / FILE).unlink()  # even without its checkpoint
    with pytest.raises(InputError, match="holds a finished population of 3 members; this run"):
        run_population("pbt", Quadratic(), tmp_path / "run", trials=5, interval=2, study=study)
    assert len(study.trials) == 3


def test_a_finished_population_is_not_trained_again(tmp_path: Path) -> None:
    task = Quadratic()
    study = run_population("pbt", task, tmp_path, interval=2)
    n = task.segments
    again = run_population("pbt", task, tmp_path, interval=2, study=study)
    assert task.segments == n and len(again.trials) == 4  # the study holds every member
    fresh = run_population("pbt", task, tmp_path, interval=2)  # a new study: from the checkpoint
    assert task.segments == n and outcome(fresh) == outcome(study)


def test_resume_after_kill_9(tmp_path: Path) -> None:
    """A process killed with SIGKILL after its first checkpoint resumes to the same end."""
    code = (
        "from pathlib import Path\n"
        "from tests.population.conftest import run_population\n"
        "from tests.population.quadratic import Quadratic, SimulatedCrash\n"
        f"run_population('pbt', Quadratic(sleep=0.05), Path({str(tmp_path / 'run')!r}),"
        " interval=1, budget=12)\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", code], cwd=REPO, env=dict(os.environ))
    try:
        while not (tmp_path / "run" / FILE).exists() and proc.poll() is None:
            time.sleep(0.02)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait()
    assert proc.returncode == -signal.SIGKILL, "the population finished before it was killed"
    resumed = run_population("pbt", Quadratic(), tmp_path / "run", interval=1, budget=12)
    whole = run_population("pbt", Quadratic(), tmp_path / "whole", interval=1, budget=12)
    _check_complete(resumed, 4, 12)
    assert outcome(resumed) == outcome(whole)


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_failing_members_copy_a_good_member_and_the_population_goes_on(
    mode: str, tmp_path: Path
) -> None:
    study = run_population(
        "pbt", Quadratic(lr_high=1.0), tmp_path, trials=8, budget=6, interval=1, mode=mode, seed=1
    )
    _check_complete(study, 8, 6)
    failures = [e for t in study.trials for e in t.user_attrs["lineage"] if "failed" in e]
    assert failures, "no member failed: the test needs a space where some diverge"
    assert all("diverged" in e["failed"] for e in failures)
    recovered = [e for t in study.trials for e in t.user_attrs["lineage"] if "reason" in e]
    assert any(e["reason"].startswith("failed:") for e in recovered)


def test_a_population_whose_members_all_fail_says_so(tmp_path: Path) -> None:
    task = Quadratic(lr_high=1.0)
    task.search_space = lambda trial: {  # type: ignore[method-assign]
        "lr": trial.suggest_float("lr", 0.5, 1.0, log=True),
        "momentum": trial.suggest_float("momentum", 0.5, 0.9),
        "steps": trial.suggest_int("steps", 4, 8),
        "start": trial.suggest_categorical("start", ["far"]),
    }
    with pytest.raises(PopulationFailure, match=r"every member .* failed.*member 0: diverged"):
        run_population("pbt", task, tmp_path, interval=1)
    with pytest.raises(PopulationFailure) as info:  # async: each member's latest failure
        run_population("pbt", task, tmp_path / "async", trials=6, interval=1, mode="async")
    message = str(info.value)
    assert "last 6 segments all failed" in message
    named = re.findall(r"member (\d+): diverged", message)
    assert len(named) == len(set(named)) >= 2


class _TextScores(Quadratic):
    """Reports its scores as text, as a user's task might by mistake."""

    def _train_segment(self, *args: Any, **kwargs: Any) -> Any:
        segment = super()._train_segment(*args, **kwargs)
        segment.values = [str(v) for v in segment.values]
        return segment


def test_a_segment_whose_scores_are_not_numbers_stops_the_run_by_name(tmp_path: Path) -> None:
    with pytest.raises(InputTypeError, match=r"returned '[0-9.e-]+' of type str, not a number"):
        run_population("pbt", _TextScores(), tmp_path, interval=1)


class _BadScoresOf(Quadratic):
    """Gives ``score`` for every epoch of one member's segments from epoch ``start`` on (the
    member told by its seed: a slot keeps its seed when it copies another's model)."""

    def __init__(self, member: int, start: int, score: Any) -> None:
        super().__init__()
        self.seed, self.start, self.score = loop.member_seed(0, member, 0), start, score

    def _train_segment(self, *args: Any, **kwargs: Any) -> Any:
        segment = super()._train_segment(*args, **kwargs)
        if args[3] == self.seed and segment.epoch > self.start:
            segment.values = [self.score] * len(segment.values)
        return segment


@pytest.mark.parametrize(
    ("member", "screen", "named"),
    [
        (2, 1, "member 2, segment from epoch 2 to 4"),
        (6, 2, "screen candidate 6, segment from epoch 0 to 2"),
    ],
)
def test_a_score_that_is_not_a_number_names_the_member_and_the_segment(
    member: int, screen: int, named: str, tmp_path: Path
) -> None:
    task = _BadScoresOf(member, start=2 if screen == 1 else 0, score="0.5")
    message = rf"^task 'quadratic', {named}: its segment returned '0.5' of type str, not a n"
    with pytest.raises(InputTypeError, match=message):
        run_population("pbt", task, tmp_path, interval=2, screen=screen)


def test_a_score_that_is_not_finite_still_fails_only_its_member(tmp_path: Path) -> None:
    study = run_population("pbt", _BadScoresOf(2, start=2, score=math.nan), tmp_path, interval=2)
    _check_complete(study, 4, 6)
    (member,) = [t for t in study.trials if t.user_attrs["member"] == 2]
    failed = [e for e in member.user_attrs["lineage"] if "failed" in e]
    said = "the training diverged: non-finite score nan at epoch 3"
    assert failed and failed[0] == {"epoch": 2, "failed": said}


class _BadSpreadOf(_BadScoresOf):
    """Gives ``score`` as the ``std_err`` (``field="std_err"``) or as a fold value
    (``field="fold_values"``) of one member's segments from epoch ``start`` on."""

    def __init__(self, member: int, start: int, score: Any, field: str) -> None:
        super().__init__(member, start, score)
        self.field = field

    def _train_segment(self, *args: Any, **kwargs: Any) -> Any:
        segment = Quadratic._train_segment(self, *args, **kwargs)
        if args[3] == self.seed and segment.epoch > self.start:
            setattr(
                segment, self.field, self.score if self.field == "std_err" else [1.0, self.score]
            )
        return segment


@pytest.mark.parametrize(
    ("field", "score", "reason"),
    [
        ("std_err", math.nan, "non-finite std_err nan (the score's standard error over folds)"),
        ("std_err", math.inf, "non-finite std_err inf (the score's standard error over folds)"),
        ("fold_values", math.nan, "non-finite fold_values [1.0, nan]"),
        ("fold_values", -math.inf, "non-finite fold_values [1.0, -inf]"),
    ],
)
def test_a_spread_that_is_not_finite_fails_only_its_member(
    field: str, score: float, reason: str, tmp_path: Path
) -> None:
    task = _BadSpreadOf(2, start=2, score=score, field=field)
    study = run_population("pbt", task, tmp_path, interval=2)
    _check_complete(study, 4, 6)
    (member,) = [t for t in study.trials if t.user_attrs["member"] == 2]
    failed = [e for e in member.user_attrs["lineage"] if "failed" in e]
    said = f"the training diverged: {reason} at epoch 4"  # (the segment's last)
    assert failed and failed[0] == {"epoch": 2, "failed": said}


@pytest.mark.parametrize(
    ("option", "value", "error"),
    [
        ("interval", 0, InputError),
        ("interval", 12, InputError),
        ("interval", 1.5, InputTypeError),
        ("quantile", 0.75, InputError),
        ("quantile", "x", InputTypeError),
        ("mode", "parallel", InputError),
        ("hypergradient", "yes", InputTypeError),
        ("resample_probability", 1.5, InputError),
        ("start", "sobol", InputError),
    ],
)
def test_bad_options_are_refused_by_name(option: str, value: object, error: type) -> None:
    task = Quadratic()
    with pytest.raises(error, match=f"{option}.*{re.escape(repr(value))}"):
        TUNERS.create("pbt", seed=0, space=task.distributions(), task=task, **{option: value})


def test_an_interval_as_long_as_the_largest_budget_is_told_the_largest_it_may_be() -> None:
    """The message said "less than the budget (at most 8 epochs ...)" for interval=8, which
    read as if 8 were allowed."""
    task = Quadratic()
    top = task.max_budget
    with pytest.raises(InputError, match=rf"at most {top - 1} \(the budget can be at most {top} "):
        TUNERS.create("pbt", seed=0, space=task.distributions(), task=task, interval=top)


def test_pb2_options_are_its_own() -> None:
    task = Quadratic()
    with pytest.raises(InputError, match=r"ucb_kappa.*-1"):
        TUNERS.create("pb2", seed=0, task=task, ucb_kappa=-1)
    assert TUNERS.takes("pb2", "ucb_kappa") and not TUNERS.takes("pb2", "resample_probability")
    assert TUNERS.takes("pbt", "resample_probability") and not TUNERS.takes("pbt", "ucb_kappa")


def test_a_task_that_cannot_continue_is_refused_by_name() -> None:
    with pytest.raises(InputError, match=r"'branin' cannot continue training.*_train_segment"):
        TUNERS.create("pbt", seed=0, task=TASKS.create("branin"))
    said = r"tuner 'pb2' trains a population .*: it needs a hyperlab Task that can continue"
    with pytest.raises(InputError, match=said):
        TUNERS.create("pb2", seed=0, space=None, task=None)
    said = r"^task 'quadratic' names no learning_rate_param, so 'pbt' with hypergradient=true"
    with pytest.raises(InputError, match=said):
        TUNERS.create("pbt", seed=0, task=Quadratic(), hypergradient=True)


class _OneNameWithoutItsComma(Quadratic):
    mutable_params = ("lr")  # fmt: skip  # a string: ("lr",) is the tuple


def test_mutable_params_given_as_one_string_are_refused_by_name() -> None:
    with pytest.raises(
        InputTypeError, match=r"mutable_params of task 'quadratic' .* 'lr'.*\('lr',\)"
    ):
        TUNERS.create("pbt", seed=0, task=_OneNameWithoutItsComma())


def test_run_settings_are_checked(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="trials >= 2"):
        run_population("pbt", Quadratic(), tmp_path, trials=1)
    with pytest.raises(InputError, match="interval must be less than the budget"):
        run_population("pbt", Quadratic(), tmp_path, budget=3, interval=3)
    run_population("pbt", Quadratic(), tmp_path / "a", interval=2)
    with pytest.raises(InputError, match=r"checkpoint .* interval=2, this run has interval=3"):
        run_population("pbt", Quadratic(), tmp_path / "a", interval=3)


def test_as_an_ordinary_sampler_it_draws_at_random() -> None:
    tuner = TUNERS.create("pbt", seed=5, task=Quadratic())
    assert isinstance(tuner, PopulationTuner) and tuner.drives_trials
    study = optuna.create_study(sampler=tuner)
    study.optimize(lambda t: t.suggest_float("x", 0, 1) ** 2, n_trials=5)
    assert len({t.params["x"] for t in study.trials}) == 5


def test_two_workers_on_one_study_train_the_population_once(tmp_path: Path) -> None:
    task = Quadratic()
    study = optuna.create_study()
    threads = [
        threading.Thread(
            target=run_population,
            args=("pbt", task, tmp_path),
            kwargs={"study": study, "interval": 2},
        )
        for _ in range(2)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    _check_complete(study, 4, 6)
    assert len(study.trials) == 4 and task.segments == 4 * 3


@pytest.mark.parametrize("start", ["latin", "random"])
def test_the_first_members_are_drawn_as_asked(start: str, tmp_path: Path) -> None:
    """A Latin start puts one member in each quarter of every numeric range; the members'
    starting values are the trials' parameters."""
    study = run_population("pbt", Quadratic(), tmp_path, trials=4, budget=4, start=start)
    initial = [t.params for t in sorted(study.trials, key=lambda t: t.user_attrs["member"])]
    enc = SpaceEncoder(Quadratic().distributions())
    codes = enc.encode(initial)
    quarters = [sorted(np.floor(codes[:, c] * 4).astype(int).tolist()) for c in enc.numeric_columns]
    if start == "latin":
        assert all(q == [0, 1, 2, 3] for q in quarters[:2])  # lr, momentum (floats)
    assert study.user_attrs["population"]["start"] == start


@pytest.mark.parametrize("start", ["latin", "random"])
def test_a_checkpoint_from_before_the_start_option_resumes_as_the_random_start_it_had(
    start: str, tmp_path: Path
) -> None:
    """A run recorded before the option existed is resumed with the default (latin), the only
    value its run.json lets the lab ask for: its members were drawn at random, and the run
    goes on as it would have. It was refused ('made with start='random', this run has
    start='latin'; use a new run'), and the run's record refused start=random."""
    whole = run_population("pbt", Quadratic(), tmp_path / "whole", budget=6, start="random")
    with pytest.raises(SimulatedCrash, match="simulated crash"):
        run_population("pbt", Quadratic(crash_after=9), tmp_path / "run", budget=6, start="random")
    data = checkpoint.load(tmp_path / "run")
    assert data is not None and data["settings"].pop("start") == "random"
    checkpoint.save(tmp_path / "run", data)  # as written before the option existed
    resumed = run_population("pbt", Quadratic(), tmp_path / "run", budget=6, start=start)
    assert outcome(resumed) == outcome(whole)
    assert resumed.user_attrs["population"]["start"] == "random"


def test_a_checkpoint_keeps_the_interval_it_was_started_with_when_none_is_asked(
    tmp_path: Path,
) -> None:
    """A run started when the default interval was another resumes with its own."""
    whole = run_population("pbt", Quadratic(), tmp_path / "whole", budget=10, interval=2)
    with pytest.raises(SimulatedCrash, match="simulated crash"):
        run_population("pbt", Quadratic(crash_after=9), tmp_path / "run", budget=10, interval=2)
    resumed = run_population("pbt", Quadratic(), tmp_path / "run", budget=10)  # default: 1
    assert outcome(resumed) == outcome(whole)
    assert resumed.user_attrs["population"]["interval"] == 2
    with pytest.raises(InputError, match="interval=2, this run has interval=3"):
        run_population("pbt", Quadratic(), tmp_path / "run", budget=10, interval=3)


@pytest.mark.parametrize(("share", "every_step"), [(1e9, True), (1e-12, False)])
def test_checkpoints_are_written_as_often_as_their_cost_allows(
    share: float, every_step: bool, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A share no save can exceed writes after every generation; one every save exceeds
    writes only the first and the last, and the population still resumes from them."""
    monkeypatch.setattr(loop, "CHECKPOINT_SHARE", share)
    saved: list[int] = []
    save = checkpoint.Writer.save

    def counted(self: checkpoint.Writer, payload: dict[str, Any], *progress: Any) -> None:
        saved.append(payload["steps"])
        save(self, payload, *progress)

    monkeypatch.setattr(checkpoint.Writer, "save", counted)
    whole = run_population("pbt", Quadratic(), tmp_path / "whole", interval=1)
    assert saved == ([1, 2, 3, 4, 5, 6] if every_step else [1, 6])
    info = whole.user_attrs["population"]
    assert info["checkpoints_written"] + info["checkpoints_replaced"] == len(saved)
    with pytest.raises(SimulatedCrash, match="simulated crash"):
        run_population("pbt", Quadratic(crash_after=9), tmp_path / "run", interval=1)
    resumed_task = Quadratic()
    resumed = run_population("pbt", resumed_task, tmp_path / "run", interval=1)
    assert outcome(resumed) == outcome(whole)
    # generation 2 was written only when every step is: then 4 + 4 of 24 segments are not redone
    assert resumed_task.segments == (16 if every_step else 20)


class _RaisesAboveARate(Quadratic):
    """Its own code raises a plain error for large rates, as a user's training might."""

    def _train_segment(self, config: dict[str, Any], *args: Any, **kwargs: Any) -> Any:
        if config["lr"] > 0.03:
            raise ValueError(f"boom at lr={config['lr']:.3g}")
        return super()._train_segment(config, *args, **kwargs)


def test_a_plain_error_of_the_tasks_code_fails_the_member_not_the_run(tmp_path: Path) -> None:
    study = run_population("pbt", _RaisesAboveARate(), tmp_path, trials=8, interval=1, seed=2)
    _check_complete(study, 8, 6)
    failures = [e["failed"] for t in study.trials for e in t.user_attrs["lineage"] if "failed" in e]
    assert failures and all(f.startswith("ValueError: boom at lr=") for f in failures)


class _ExitsAboveARate(Quadratic):
    """Its training code calls ``sys.exit()`` for large rates."""

    def _train_segment(self, config: dict[str, Any], *args: Any, **kwargs: Any) -> Any:
        if config["lr"] > 0.03:
            sys.exit(3)
        return super()._train_segment(config, *args, **kwargs)


def test_a_sys_exit_in_the_tasks_code_fails_the_member_not_the_process(tmp_path: Path) -> None:
    study = run_population("pbt", _ExitsAboveARate(), tmp_path, trials=8, interval=1, seed=2)
    _check_complete(study, 8, 6)
    failures = [e["failed"] for t in study.trials for e in t.user_attrs["lineage"] if "failed" in e]
    assert failures and all(
        f.startswith("the code of the trial called sys.exit(3)") for f in failures
    )


class _Broken(Quadratic):
    """Breaks the segment contract the way ``how`` says."""

    def __init__(self, how: str) -> None:
        super().__init__()
        self.how = how

    def _train_segment(self, *args: Any, **kwargs: Any) -> Any:
        segment = super()._train_segment(*args, **kwargs)
        if self.how == "tuple":
            return segment.state, segment.values
        if self.how == "count":
            segment.values = segment.values[:1] * (len(segment.values) + 1)
        if self.how == "lock":
            segment.state = {**segment.state, "lock": threading.Lock()}
        if self.how == "lambda":
            segment.state = {**segment.state, "f": lambda x: x}
        if self.how == "no state":
            segment.state = None
        if self.how == "epoch":
            segment.epoch = len(segment.values)  # this segment's epochs, not the model's
        if self.how == "curve not a list":
            segment.curves = {"val_loss": 0.5}  # the last loss, not one per epoch
        if self.how == "curve of text":
            segment.curves = {"val_loss": ["low"] * len(segment.values)}
        if self.how == "curve length":
            segment.curves = {"val_loss": segment.values * 2}
        if self.how == "learned list":
            segment.learned = [0.1]  # type: ignore[assignment]
        if self.how == "learned text":
            segment.learned = {"lr": "fast"}  # type: ignore[dict-item]
        if self.how == "std_err None":
            segment.std_err = None  # type: ignore[assignment]
        if self.how == "extra list":
            segment.extra = [0.9]  # type: ignore[assignment]
        if self.how == "extra of NumPy":
            segment.extra = {"acc": np.float32(0.5)}
        if self.how == "in place" and args[1] is not None:  # the state it was given, changed
            args[1]["w"][:] = segment.state["w"]
            args[1]["epoch"] = segment.state["epoch"]
            segment.state = args[1]
        return segment


@pytest.mark.parametrize(
    ("how", "error", "message"),
    [
        ("tuple", InputTypeError, r"its segment is a tuple, not a hyperlab.tasks.Segment"),
        ("count", InputError, r"its segment has 3 scores for 2 epochs"),
        ("lock", InputTypeError, r"state of task 'quadratic' cannot be deep-copied"),
        ("lambda", InputTypeError, r"state of task 'quadratic' cannot be pickled"),
        ("no state", InputError, r"has state None, which means a fresh model"),
        ("epoch", InputError, r"from epoch 2 trained 2 epochs but says epoch=2 "),
        ("in place", InputError, r"task 'quadratic' changed the state it was given"),
        ("curve not a list", InputTypeError, r"its segment's curve 'val_loss' is 0.5, not a"),
        ("curve of text", InputTypeError, r"curve 'val_loss' returned 'low' of type str"),
        ("curve length", InputError, r"its segment's curve 'val_loss' has 4 values for 2 ep"),
        ("learned list", InputTypeError, r"its segment has learned \[0.1\], not a dict"),
        ("learned text", InputTypeError, r"its segment's learned 'lr' returned 'fast' of type"),
        ("std_err None", InputTypeError, r"its segment's std_err returned None of type"),
        ("extra list", InputTypeError, r"its segment has extra \[0.9\], not a dict keyed by"),
        (
            "extra of NumPy",
            InputTypeError,
            r"extra\['acc'\] np.float32\(0.5\) of type float32, which a trial's attributes cannot",
        ),
    ],
)
def test_a_task_that_breaks_the_segment_contract_is_told_how(
    how: str, error: type, message: str, tmp_path: Path
) -> None:
    with pytest.raises(error, match=message):
        run_population("pbt", _Broken(how), tmp_path, interval=2)


class _GlobalStreams(Quadratic):
    """Draws its noise from NumPy's, torch's and Python's global streams (no state of its own):
    a resumed run or a replay is exact only if the lab seeds those per segment."""

    def _train_segment(self, config: dict[str, Any], *args: Any, **kwargs: Any) -> Any:
        import random

        import torch

        segment = super()._train_segment(config, *args, **kwargs)
        noise = np.random.rand() + float(torch.rand(1)) + random.random()
        segment.values = [v + 1e-3 * noise for v in segment.values]
        return segment


def test_a_task_on_the_global_random_streams_resumes_and_replays_exactly(tmp_path: Path) -> None:
    from hyperlab.population.replay import replay_member

    whole = run_population("pbt", _GlobalStreams(), tmp_path / "whole", interval=1)
    np.random.rand(), random_draws()  # what the process did before must not matter
    with pytest.raises(SimulatedCrash):
        crashing = _GlobalStreams()
        crashing.crash_after = 9
        run_population("pbt", crashing, tmp_path / "run", interval=1)
    resumed = run_population("pbt", _GlobalStreams(), tmp_path / "run", interval=1)
    assert outcome(resumed) == outcome(whole)
    trial, segments = replay_member(whole, _GlobalStreams())
    assert [v for s in segments for v in s.values] == list(trial.intermediate_values.values())


def random_draws() -> float:
    import random

    import torch

    return random.random() + float(torch.rand(1))


@pytest.mark.parametrize("tuner", ["pbt", "pb2"])
def test_a_screen_keeps_the_best_first_members_and_counts_its_epochs(
    tuner: str, tmp_path: Path
) -> None:
    study = run_population(tuner, Quadratic(), tmp_path, trials=4, budget=6, interval=2, screen=3)
    _check_complete(study, 4, 6)
    info = study.user_attrs["population"]
    assert info["screen"] == 3 and len(info["screened"]) == 8
    assert info["screen_epochs"] == 8 * 2
    # every kept member's first segment was at least as good as any candidate let go
    firsts = [t.user_attrs["schedule"][0] for t in study.trials]
    kept_first = [t.intermediate_values[2] for t in study.trials if not t.user_attrs["lineage"]]
    assert {entry["member"] for entry in firsts} <= {0, 1, 2, 3}  # renumbered
    assert kept_first and max(kept_first) <= min(c["value"] for c in info["screened"])
    # the members' seeds and numbers are those replay finds: it retraces the best member
    trial, segments = replay_member(study, Quadratic())
    assert [v for s in segments for v in s.values] == list(trial.intermediate_values.values())
    # the epochs a comparison and the report count include the screen's (no trial holds them)
    from hyperlab.lab.results import study_records, used_epochs

    records = study_records(study)
    assert used_epochs(records) == 4 * 6 + 8 * 2
    assert records[0]["epochs_cumulative"] == 8 * 2 + records[0]["budget"]


def test_a_screened_population_resumes_as_an_uninterrupted_one(tmp_path: Path) -> None:
    whole = run_population("pb2", Quadratic(), tmp_path / "whole", interval=1, screen=2)
    with pytest.raises(SimulatedCrash):
        run_population("pb2", Quadratic(crash_after=14), tmp_path / "run", interval=1, screen=2)
    resumed = run_population("pb2", Quadratic(), tmp_path / "run", interval=1, screen=2)
    assert outcome(resumed) == outcome(whole)
    assert (
        resumed.user_attrs["population"]["screened"] == whole.user_attrs["population"]["screened"]
    )
    with pytest.raises(InputError, match="screen=2, this run has screen=3"):
        run_population("pb2", Quadratic(), tmp_path / "run", interval=1, screen=3)


class _FailsInTheScreen(Quadratic):
    """Most of the screen's 8 candidates fail; any segment after the screen trains."""

    def __init__(self) -> None:
        super().__init__()
        self.calls = 0

    def _train_segment(self, config: dict[str, Any], state: Any, *args: Any, **kw: Any) -> Any:
        self.calls += 1
        if self.calls <= 8 and config["lr"] > 0.003:  # 6 of 8 Latin draws
            raise TrialFailure(f"diverged at once at lr={config['lr']:.6g}")
        return super()._train_segment(config, state, *args, **kw)


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_a_screen_with_failed_candidates_keeps_every_member_in_step(
    mode: str, tmp_path: Path
) -> None:
    study = run_population(
        "pbt", _FailsInTheScreen(), tmp_path, trials=4, budget=6, interval=2, screen=2, mode=mode
    )
    _check_complete(study, 4, 6)
    info = study.user_attrs["population"]
    kept_failed = [e for t in study.trials for e in t.user_attrs["lineage"] if e.get("epoch") == 0]
    assert all(e["failed"].startswith("diverged at once") for e in kept_failed if "failed" in e)
    copied_after_failing = 0
    for t in study.trials:  # a kept candidate that failed copies a good one, for its own reason
        lineage = t.user_attrs["lineage"]
        for failure, copy in itertools.pairwise(lineage):
            if failure.get("epoch") == 0 and "failed" in failure:
                assert copy["reason"] == f"failed: {failure['failed']}"
                assert failure["failed"] == f"diverged at once at lr={t.params['lr']:.6g}"
                copied_after_failing += 1
    assert copied_after_failing == 2
    assert sum("failed" in c for c in info["screened"]) >= 1


class _OwnTrainSegment(Quadratic):
    """Overrides ``train_segment`` itself (skipping the base class's checks)."""

    def __init__(self, values: Any) -> None:
        super().__init__()
        self.values = values

    def train_segment(self, config: Any, state: Any, epochs: int, seed: int = 0, **kw: Any) -> Any:
        segment = self._train_segment(config, state, epochs, seed, None)
        segment.values = self.values(segment.values)
        return segment


@pytest.mark.parametrize(
    ("values", "error", "message"),
    [
        (lambda v: [*v, v[-1]], InputError, "has 3 scores for 2 epochs"),
        (lambda v: v[-1], InputTypeError, "not a list of scores"),
    ],
)
def test_the_segment_contract_holds_for_a_task_with_its_own_train_segment(
    values: Any, error: type, message: str, tmp_path: Path
) -> None:
    with pytest.raises(error, match=message):
        run_population("pbt", _OwnTrainSegment(values), tmp_path, interval=2)


class _LearnedAsNumbers(Quadratic):
    """Says what it learned as a tensor and a NumPy float32 (neither is JSON)."""

    def _train_segment(self, *args: Any, **kwargs: Any) -> Any:
        import torch

        segment = super()._train_segment(*args, **kwargs)
        segment.learned = {"lr": torch.tensor(0.5), "momentum": np.float32(0.25)}
        segment.std_err, segment.fold_values = torch.tensor(0.1), [np.float32(1.0)]
        return segment


def test_learned_values_may_come_as_a_tensor_and_are_stored_as_floats(tmp_path: Path) -> None:
    study = run_population("pbt", _LearnedAsNumbers(), tmp_path, interval=2)
    _check_complete(study, 4, 6)
    for t in study.trials:
        assert all(s["learned"] == {"lr": 0.5, "momentum": 0.25} for s in t.user_attrs["schedule"])
        assert all(
            type(v) is float for s in t.user_attrs["schedule"] for v in s["learned"].values()
        )


def test_scores_may_come_as_a_tensor(tmp_path: Path) -> None:
    import torch

    task = _OwnTrainSegment(lambda v: torch.tensor(v))
    _check_complete(run_population("pbt", task, tmp_path, interval=2), 4, 6)


class _MissingData(Quadratic):
    def _train_segment(self, *args: Any, **kwargs: Any) -> Any:
        raise DataNotFoundError("no such data folder")


class _KeyErrorBug(Quadratic):
    def _train_segment(self, *args: Any, **kwargs: Any) -> Any:
        state: dict[str, Any] = {}
        return state["weights"]


def test_a_lab_error_stops_the_run_and_a_bug_names_its_line(tmp_path: Path) -> None:
    with pytest.raises(DataNotFoundError, match="no such data folder"):
        run_population("pbt", _MissingData(), tmp_path / "a", interval=2)
    with pytest.raises(
        PopulationFailure,
        match=r"KeyError: 'weights' \(at test_population.py:\d+ in _train_segment\)",
    ):
        run_population("pbt", _KeyErrorBug(), tmp_path / "b", interval=2)


def test_a_kill_after_the_screen_keeps_the_screen(tmp_path: Path) -> None:
    whole = run_population("pb2", Quadratic(), tmp_path / "whole", interval=2, screen=2)
    with pytest.raises(SimulatedCrash):  # 8 candidates screened, then 1 more segment
        run_population("pb2", Quadratic(crash_after=9), tmp_path / "run", interval=2, screen=2)
    task = Quadratic()
    resumed = run_population("pb2", task, tmp_path / "run", interval=2, screen=2)
    assert outcome(resumed) == outcome(whole)
    assert resumed.user_attrs["population"]["resumed_at"] == 2 and task.segments == 4 * 2


def test_the_summary_and_report_tell_the_screen_and_the_failed_segments(tmp_path: Path) -> None:
    from hyperlab.report.population import population_records

    study = run_population(
        "pbt", _FailsInTheScreen(), tmp_path, trials=4, budget=6, interval=2, screen=2
    )
    lines = summarize(study).lines()
    assert "the screen trained 4 more candidate members for one segment and let them go (8 " in (
        "\n".join(lines)
    )
    assert any(line.startswith("2 segments of members failed") for line in lines)
    records = population_records(study)
    assert records is not None and records.notes == [
        line for line in lines if line.startswith(("the screen", "2 segments"))
    ]
    from hyperlab.report.population_html import population_section

    assert "<p class='note'>The screen trained 4 more" in population_section(records)


def test_the_summary_of_a_plain_study_ignores_its_own_lineage_attributes() -> None:
    def objective(trial: optuna.Trial) -> float:
        trial.set_user_attr("lineage", ["failed once"])  # the user's own attribute
        return trial.suggest_float("x", 0, 1)

    study = optuna.create_study()
    study.optimize(objective, n_trials=2)
    assert not any("failed" in line for line in summarize(study).lines())


def test_a_population_on_a_replay_task_says_it_replays_curves(tmp_path: Path) -> None:
    study = run_population("pbt", TASKS.create("digits-mlp-bank"), tmp_path, trials=4, budget=6)
    assert any(line.startswith("a replay task:") for line in summarize(study).lines())
    assert not any(line.startswith("a replay task:") for line in summarize(
        run_population("pbt", Quadratic(), tmp_path / "q", interval=2)).lines())  # fmt: skip


def test_replay_uses_the_seed_each_segment_was_trained_with(tmp_path: Path) -> None:
    from hyperlab.population.replay import replay

    study = run_population("pbt", _GlobalStreams(), tmp_path, interval=1)
    trial = study.best_trial
    schedule = trial.user_attrs["schedule"]
    scores = list(trial.intermediate_values.values())
    wrong = dict.fromkeys(range(4), 12345)  # as if the slots had restarted since
    seed = schedule[0]["seed"]
    segments = replay(_GlobalStreams(), schedule, seed=seed, member_seeds=wrong)
    assert [v for s in segments for v in s.values] == scores
    older = [{k: v for k, v in entry.items() if k != "seed"} for entry in schedule]
    segments = replay(_GlobalStreams(), older, seed=seed, member_seeds=wrong)
    assert [v for s in segments for v in s.values] != scores  # the streams' seeds matter


class _SeedPerSegment(Quadratic):
    """Seeds each segment's noise from its ``seed`` argument and the epoch it starts at (the
    documented contract allows it: a segment is set by config, state, epochs and seed)."""

    def _train_segment(self, config: dict[str, Any], state: Any, *args: Any, **kw: Any) -> Any:
        segment = super()._train_segment(config, state, *args, **kw)
        start = 0 if state is None else state["epoch"]
        seed = kw["seed"] if "seed" in kw else args[1]
        noise = np.random.default_rng((seed, start)).random()
        segment.values = [v * (1 + 1e-3 * noise) for v in segment.values]
        return segment


def test_replay_passes_each_segment_the_seed_of_the_member_that_trained_it(
    tmp_path: Path,
) -> None:
    from hyperlab.population.replay import replay_member

    study = run_population("pbt", _SeedPerSegment(), tmp_path, trials=4, interval=1)
    copied = [t for t in study.trials if t.user_attrs["lineage"]]
    assert copied, "no member copied another: the test shows nothing"
    for trial in copied:
        _, segments = replay_member(study, _SeedPerSegment(), member=trial.number)
        assert [v for s in segments for v in s.values] == list(trial.intermediate_values.values())


class _NotWrittenYet(Quadratic):
    """A user's segment code that raises NotImplementedError for some configurations."""

    def _train_segment(self, config: dict[str, Any], *args: Any, **kw: Any) -> Any:
        if config["start"] == "far":
            raise NotImplementedError("far starts are not written yet")
        return super()._train_segment(config, *args, **kw)


def test_a_not_implemented_error_of_the_tasks_own_code_fails_the_member_not_the_run(
    tmp_path: Path,
) -> None:
    study = run_population("pbt", _NotWrittenYet(), tmp_path, trials=4, interval=2)
    failures = [e["failed"] for t in study.trials for e in t.user_attrs["lineage"] if "failed" in e]
    assert failures and all("NotImplementedError: far starts" in f for f in failures)
    assert len(study.trials) == 4 and all(t.value is not None for t in study.trials)


@pytest.mark.parametrize("tuner", ["pbt", "pb2"])
def test_async_never_copies_a_member_that_has_not_trained_since_its_own_copy(
    tuner: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A fresh copy carries its donor's score but untried hyperparameters: no donor."""
    from hyperlab.population.loop import PopulationRun

    original = PopulationRun._exploit
    offered: list[bool] = []

    def watched(self: PopulationRun, m: Any, donors: list[Any], reason: str) -> None:
        if reason == "bottom quantile":  # (a failed member may copy any scored model)
            offered.extend(d.untested for d in donors)
            e = m.epoch  # donors: as far, and better at m's epoch (minimized)
            assert m not in donors and all(d.values[e - 1] <= m.value for d in donors)
            assert all(d.epoch >= e for d in donors)
        original(self, m, donors, reason)

    monkeypatch.setattr(PopulationRun, "_exploit", watched)
    run_population(tuner, Quadratic(), tmp_path, trials=8, budget=12, interval=1, mode="async")
    assert offered, "no member copied another: the test shows nothing"
    assert not any(offered)


def test_a_populations_best_params_are_those_its_best_model_ended_with(tmp_path: Path) -> None:
    study = run_population("pbt", Quadratic(), tmp_path, trials=4, interval=1)
    best = study.best_trial
    assert summarize(study).best_params == best.user_attrs["schedule"][-1]["config"]


class _NothingToExplore(Quadratic):
    def search_space(self, trial: optuna.Trial) -> dict[str, Any]:
        return {
            "lr": trial.suggest_float("lr", 0.05, 0.05),
            "momentum": trial.suggest_float("momentum", 0.5, 0.5),
            "steps": trial.suggest_int("steps", 4, 4),
            "start": trial.suggest_categorical("start", ["near", "far"]),
        }


def test_a_population_with_nothing_to_explore_says_so(tmp_path: Path) -> None:
    with pytest.warns(UserWarning, match=r"nothing to explore.*each allow one value"):
        run_population("pbt", _NothingToExplore(), tmp_path, interval=2)


def test_async_with_two_members_never_copies_itself(tmp_path: Path) -> None:
    for seed in range(4):
        study = run_population(
            "pbt", Quadratic(), tmp_path / str(seed), trials=2, budget=12, interval=1,
            mode="async", seed=seed,
        )  # fmt: skip
        for t in study.trials:
            own = t.user_attrs["member"]
            assert all(e.get("copied_from") != own for e in t.user_attrs["lineage"])


class _Branching(Quadratic):
    """``momentum`` is asked for only when ``method`` (mutable, so an explore may switch it) is
    ``"heavy-ball"``."""

    mutable_params = ("lr", "method", "momentum", "steps")

    def search_space(self, trial: optuna.Trial) -> dict[str, Any]:
        config = {
            "lr": trial.suggest_float("lr", 1e-3, 0.1, log=True),
            "method": trial.suggest_categorical("method", ["plain", "heavy-ball"]),
            "steps": trial.suggest_int("steps", 1, 8),
            "start": trial.suggest_categorical("start", ["near", "far"]),
        }
        heavy = config["method"] == "heavy-ball"
        config["momentum"] = trial.suggest_float("momentum", 0.0, 0.9) if heavy else 0.0
        return config


@pytest.mark.parametrize("tuner", ["pbt", "pb2"])
def test_a_conditional_spaces_members_record_only_their_branchs_values(
    tuner: str, tmp_path: Path
) -> None:
    study = run_population(tuner, _Branching(), tmp_path, trials=6, budget=8, interval=1)
    configs = [s["config"] for t in study.trials for s in t.user_attrs["schedule"]]
    assert {c["method"] for c in configs} == {"plain", "heavy-ball"}
    for config in [t.params for t in study.trials] + configs:
        assert ("momentum" in config) == (config["method"] == "heavy-ball"), config
    for t in study.trials:
        for s in t.user_attrs["schedule"]:
            assert set(s["perturbation"] or {}) <= set(s["config"])
    best = study.best_trial
    assert set(summarize(study).best_params) == set(best.user_attrs["schedule"][-1]["config"])
    _, segments = replay_member(study, _Branching())  # the records are enough to retrace it
    assert [v for s in segments for v in s.values] == list(best.intermediate_values.values())


def test_a_population_tells_its_progress_as_it_trains(tmp_path: Path) -> None:
    notes: list[str] = []
    run_population(
        "pbt", Quadratic(), tmp_path, trials=4, budget=6, interval=2, on_progress=notes.append
    )
    done = [int(re.match(r"population: (\d+)/24 member-epochs", n).group(1)) for n in notes]  # type: ignore[union-attr]
    assert done == sorted(done) and done[0] == 2 and done[-1] == 24 and len(done) == 12


def test_a_tune_runs_progress_bar_shows_the_populations_progress(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import hyperlab

    quadratic = f"{Path(__file__).parent / 'quadratic.py'}:Quadratic"
    hyperlab.tune(quadratic, "pbt", trials=4, budget=6, runs_dir=tmp_path, name="bar")
    err = capsys.readouterr().err
    assert "population: 1/24 member-epochs" in err  # the first segment (interval 1)
    assert "population: 24/24 member-epochs]" in err.split("\r")[-1]  # the last, not held back


class _NeverWraps(Quadratic):
    """Names its rate but builds no optimizer through ``wrap_optimizer``."""

    learning_rate_param = "lr"


def test_hypergradient_members_of_a_task_that_never_wraps_its_optimizer_are_refused(
    tmp_path: Path,
) -> None:
    said = r"without passing its optimizer through.*wrap_optimizer, so its self-tuning members"
    with pytest.raises(InputError, match=said + r" cannot learn their rate.*hypergradient off"):
        run_population("pbt", _NeverWraps(), tmp_path, hypergradient=True)
    import hyperlab

    task = f"{Path(__file__).parent / 'test_population.py'}:_NeverWraps"
    with pytest.raises(InputError):
        hyperlab.tune(task, "pbt", trials=4, budget=6, runs_dir=tmp_path, name="nw",
                      progress=False, tuner_options={"hypergradient": True})  # fmt: skip
    study = load_studies(tmp_path / "nw")[0][0]
    assert study.user_attrs["tuner_running"] is False  # refused by name: not a run cut off


class _AllDiverge(Quadratic):
    """Every rate diverges: every member fails."""

    def search_space(self, trial: optuna.Trial) -> dict[str, Any]:
        return {
            "lr": trial.suggest_float("lr", 10.0, 20.0, log=True),
            "momentum": trial.suggest_float("momentum", 0.0, 0.9),
            "steps": trial.suggest_int("steps", 4, 8),
            "start": trial.suggest_categorical("start", ["near", "far"]),
        }


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_a_population_whose_members_all_fail_exits_1_with_its_report(
    jobs: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """It exited 2, as refused input, with no report (with --jobs 2 a waiting process then
    trained the whole failing population again)."""
    from hyperlab.cli import main

    task = f"{Path(__file__).resolve()}:_AllDiverge"
    args = ["tune", "--task", task, "--tuner", "pbt", "--trials", "4", "--budget", "4"]
    args += ["--runs-dir", str(tmp_path), "--name", "bad", "--no-progress", "--jobs", jobs]
    with pytest.warns(UserWarning) if jobs == "2" else contextlib.nullcontext():
        assert main(args) == 1
    err = capsys.readouterr().err
    assert "every member of the population failed" in err
    page = (tmp_path / "bad" / "report.html").read_text()
    assert "every member of the population failed" in page and "diverged" in page
