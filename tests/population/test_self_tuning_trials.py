"""``tpe-hd`` and ``random-hd``: each trial's model learns its rate from the drawn start."""

from __future__ import annotations

import copy
import math
from dataclasses import replace
from pathlib import Path
from typing import Any, ClassVar

import optuna
import pandas as pd
import pytest

import hyperlab
from hyperlab.errors import InputError, TrialFailure
from hyperlab.population.replay import replay, replay_member
from hyperlab.population.self_tuning_trials import check_task
from hyperlab.population.selftuning import hypergradient_twin
from hyperlab.population.tuner import check_task as check_population_task
from hyperlab.registry import TASKS, TUNERS
from hyperlab.tasks.base import OptimizerWrapper, Segment, Task
from tests.population.test_selftuning import OwnLinear

_KW: dict[str, Any] = {"progress": False, "report": False}


class StartLinear(OwnLinear):
    """``OwnLinear`` noting the rate each fresh model's optimizer holds once wrapped, and the
    number of segments it trained."""

    name = "start-linear"
    starts: ClassVar[list[float]] = []
    segments: ClassVar[int] = 0

    def _train_segment(
        self,
        config: dict[str, Any],
        state: Any,
        epochs: int,
        seed: int,
        wrap_optimizer: OptimizerWrapper | None,
    ) -> Segment:
        type(self).segments += 1
        if state is None and wrap_optimizer is not None:

            def noting(opt: Any) -> Any:
                twin = wrap_optimizer(opt)
                type(self).starts.append(float(twin.param_groups[0]["lr"]))
                return twin

            return super()._train_segment(config, state, epochs, seed, noting)
        return super()._train_segment(config, state, epochs, seed, wrap_optimizer)


class NoRate(OwnLinear):
    """A task that continues training but names no learning rate."""

    name = "no-rate"
    learning_rate_param = None


class OffSpace(OwnLinear):
    """A task whose learning rate is no parameter of its search space."""

    name = "off-space"
    learning_rate_param = "rate"


class Unwrapped(OwnLinear):
    """A task that names its rate but never passes its optimizer through the wrapper."""

    name = "unwrapped"

    def _train_segment(
        self,
        config: dict[str, Any],
        state: Any,
        epochs: int,
        seed: int,
        wrap_optimizer: OptimizerWrapper | None,
    ) -> Segment:
        return super()._train_segment(config, state, epochs, seed, None)


@pytest.mark.parametrize("tuner", ["tpe-hd", "random-hd"])
def test_each_trial_starts_from_the_drawn_rate_and_learns_its_own(
    tuner: str, tmp_path: Path
) -> None:
    StartLinear.starts.clear()
    study, _ = hyperlab.tune(StartLinear, tuner, trials=3, runs_dir=tmp_path, name="own", **_KW)
    trials = study.trials
    assert StartLinear.starts == pytest.approx([t.params["lr"] for t in trials], rel=1e-12)
    for t in trials:
        schedule = t.user_attrs["schedule"]
        assert [(e["start"], e["end"]) for e in schedule] == [(i, i + 1) for i in range(6)]
        assert all(e["config"]["lr"] == t.params["lr"] for e in schedule)  # the drawn start
        learned = [e["learned"]["lr"] for e in schedule]
        assert len(set(learned)) == len(learned)  # the rate moves epoch by epoch
        assert learned[-1] != pytest.approx(t.params["lr"], rel=1e-3)
        assert len(t.intermediate_values) == 6  # every epoch reported
    trial, segments = replay_member(study, StartLinear())  # the same model, retrained
    assert [s.value for s in segments] == pytest.approx(
        list(trial.intermediate_values.values()), rel=1e-9
    )


def test_a_pruned_trial_trains_no_further_than_it_was_stopped() -> None:
    task = StartLinear()
    sampler = TUNERS.create("tpe-hd", seed=0, space=task.distributions(), task=task)
    config = {"lr": 0.01, "scale": 1.0}

    def stop_at_two(epoch: int, value: float, curves: dict[str, list[float]]) -> None:
        if epoch == 2:
            raise optuna.TrialPruned()

    StartLinear.segments = 0
    with pytest.raises(optuna.TrialPruned):
        sampler.evaluate_trial(task, config, None, 0, stop_at_two)
    assert StartLinear.segments == 2


class DivergesAtTwo(OwnLinear):
    """A task whose training diverges in its second epoch (its score NaN)."""

    name = "diverges"

    def _train_segment(self, config: Any, state: Any, *args: Any) -> Segment:
        segment = super()._train_segment(config, state, *args)
        if segment.epoch >= 2:
            return replace(segment, values=[math.nan] * len(segment.values))
        return segment


def test_a_trial_whose_training_diverges_fails_naming_the_epoch() -> None:
    """Said as a population member's segment and a replay say it."""
    task = DivergesAtTwo()
    sampler = TUNERS.create("tpe-hd", seed=0, space=task.distributions(), task=task)
    said = r"^the training diverged: non-finite score nan at epoch 2$"
    with pytest.raises(TrialFailure, match=said):
        sampler.evaluate_trial(task, {"lr": 0.01, "scale": 1.0}, None, 0, None)


@pytest.mark.parametrize(
    ("task", "named"),
    [
        (NoRate, "names no learning_rate_param"),
        ("branin", "cannot continue training, so tuner 'tpe-hd' cannot train it"),
    ],
)
def test_a_task_whose_rate_cannot_be_learned_is_refused_by_name(
    task: Any, named: str, tmp_path: Path
) -> None:
    name = task if isinstance(task, str) else task.name
    with pytest.raises(InputError, match=f"task {name!r}.*{named}|{named}.*{name!r}"):
        hyperlab.tune(task, "tpe-hd", trials=2, runs_dir=tmp_path, name="x", **_KW)
    assert not (tmp_path / "x").exists()  # refused before anything is stored


@pytest.mark.parametrize(
    ("task", "said"),
    [
        (NoRate, r"^task 'no-rate' names no learning_rate_param, so {} has no rate to learn: set"),
        (
            OffSpace,
            r"^learning_rate_param 'rate' of task 'off-space' is not in its search space, so {} "
            r"has no rate to start from: name",
        ),
    ],
)
def test_self_tuning_trials_and_members_refuse_a_task_without_a_rate_in_its_space(
    task: type[Task], said: str
) -> None:
    """Both checks name the task and the tuner, and say what to set."""
    with pytest.raises(InputError, match=said.format("'tpe-hd'")):
        check_task("tpe-hd", task())
    with pytest.raises(InputError, match=said.format("'pbt' with hypergradient=true")):
        check_population_task("pbt", task(), hypergradient=True)


def test_a_task_that_does_not_wrap_its_optimizer_is_refused_at_its_first_trial(
    tmp_path: Path,
) -> None:
    with pytest.raises(
        InputError,
        match=r"trial 0: task 'unwrapped' trained a fresh model without .* so the trials of "
        r"'tpe-hd' cannot learn their rate: call wrap_optimizer\(optimizer\)",
    ):
        hyperlab.tune(Unwrapped, "tpe-hd", trials=2, runs_dir=tmp_path, name="x", **_KW)


def test_a_comparison_holds_both_arms_at_equal_trials_and_epochs(tmp_path: Path) -> None:
    task = f"{Path(__file__)}:StartLinear"
    records = hyperlab.compare(
        task, ["tpe", "tpe-hd"], seeds=2, trials=3, runs_dir=tmp_path, name="both", **_KW
    )
    rows = pd.read_csv(tmp_path / "both" / "results.csv")
    assert len(rows) == len(records) == 12
    by = rows.groupby("tuner")
    assert by.size().to_dict() == {"tpe": 6, "tpe-hd": 6}
    assert by.budget.sum().to_dict() == {"tpe": 36, "tpe-hd": 36}  # equal epochs
    hd = rows[rows.tuner == "tpe-hd"]
    assert (hd.learned_lr > 0).all() and (hd.learned_lr != hd.param_lr).all()
    assert rows[rows.tuner == "tpe"].learned_lr.isna().all()
    # timed as any trial (the task's segments say no seconds): the evaluation, the whole trial
    assert (hd.wall_time > 0).all() and (hd.seconds > 0).all()
    # paired by seed: the same trial draws the same start (TPE's start-up design)
    plain = rows[rows.tuner == "tpe"].sort_values(["seed", "trial"])
    assert list(hd.sort_values(["seed", "trial"]).param_lr) == list(plain.param_lr)


def test_the_best_trial_is_scored_on_the_test_split_as_it_trained(tmp_path: Path) -> None:
    study, summary = hyperlab.tune(
        "wine-mlp", "tpe-hd", trials=2, budget=3, seed=1, runs_dir=tmp_path, name="w", **_KW
    )
    best = study.best_trial
    task = TASKS.create("wine-mlp")
    config = task.search_space(optuna.trial.FixedTrial(best.params))
    seed = best.user_attrs["schedule"][0]["seed"]
    steps = [(copy.deepcopy(config), 1)] * 3
    by_hand = task.schedule_test_score(steps, seed, wrap_optimizer=hypergradient_twin)
    assert summary.test_score == by_hand != task.test_score(config, 3, seed)
    lines = "\n".join(summary.lines())
    assert f"best trial trained 3 epochs from its drawn hyperparameters (the rate where it " \
        f"started): lr={best.params['lr']:.4g}" in lines  # fmt: skip
    learned = best.user_attrs["schedule"][-1]["learned"]["lr"]
    assert f"learned while it trained, at the end: lr={learned:.4g}" in lines


class AdamW(OwnLinear):
    """A task whose optimizer has no hypergradient twin (decoupled weight decay)."""

    name = "adamw"

    def _train_segment(
        self,
        config: dict[str, Any],
        state: Any,
        epochs: int,
        seed: int,
        wrap_optimizer: OptimizerWrapper | None,
    ) -> Segment:
        import torch

        model = torch.nn.Linear(1, 1)
        opt = torch.optim.AdamW(model.parameters(), lr=config["lr"])
        if wrap_optimizer is not None:
            wrap_optimizer(opt)
        return super()._train_segment(config, state, epochs, seed, wrap_optimizer)


def test_a_task_whose_optimizer_has_no_twin_stops_the_run_at_its_first_trial(
    tmp_path: Path,
) -> None:
    with pytest.raises(InputError, match=r"task 'adamw', trial 0: task 'adamw' cannot train"):
        hyperlab.tune(AdamW, "tpe-hd", trials=2, runs_dir=tmp_path, name="x", **_KW)


KILLED_ONCE = """
import os, signal
from pathlib import Path

from tests.population.test_selftuning import OwnLinear


class KilledOnce(OwnLinear):
    name = "killed-once"

    def _train_segment(self, config, state, epochs, seed, wrap_optimizer):
        marker = Path(__file__).with_name("killed")
        if state is not None and state["epoch"] == 3 and not marker.exists():
            marker.write_text("once")
            os.kill(os.getpid(), signal.SIGKILL)  # mid-trial, as the out-of-memory killer would
        return super()._train_segment(config, state, epochs, seed, wrap_optimizer)
"""


def test_a_run_killed_mid_trial_resumes_and_trains_the_cut_off_trial_again(
    tmp_path: Path,
) -> None:
    import os
    import subprocess
    import sys

    (tmp_path / "killed.py").write_text(KILLED_ONCE)
    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(root / "src"), str(root)])}
    command = [
        sys.executable, "-m", "hyperlab", "tune", "--task", f"{tmp_path / 'killed.py'}:KilledOnce",
        "--tuner", "tpe-hd", "--trials", "3", "--runs-dir", str(tmp_path / "runs"),
        "--name", "k", "--no-progress",
    ]  # fmt: skip
    first = subprocess.run(command, env=env, cwd=tmp_path, timeout=300, check=False)
    assert first.returncode == -9
    again = subprocess.run(command, env=env, cwd=tmp_path, timeout=300, check=False)
    assert again.returncode == 0
    storage = f"sqlite:///{tmp_path / 'runs' / 'k' / 'study.db'}"
    trials = optuna.load_study(study_name="k:tpe-hd:none:seed0", storage=storage).trials
    complete = [t for t in trials if t.state.name == "COMPLETE"]
    cut = [t for t in trials if t.state.name == "FAIL"]
    assert len(complete) == 3 and len(cut) == 1
    assert cut[0].params in [t.params for t in complete]  # queued again, trained in full
    assert all(len(t.user_attrs["schedule"]) == 6 for t in complete)


def test_the_report_draws_the_learned_rate_and_no_lineage(tmp_path: Path) -> None:
    hyperlab.tune(StartLinear, "tpe-hd", trials=2, runs_dir=tmp_path, name="r", progress=False)
    page = (tmp_path / "r" / "report.html").read_text()
    assert "lr (learned) went from" in page
    assert "scale stayed" not in page  # only the learned rate is scheduled: no other parameter
    assert "Lineage" not in page  # no copies: no tree


def test_the_reports_call_the_trials_trials_not_members(tmp_path: Path) -> None:
    """A population's wording (members, who trained a segment, who was copied) is kept for
    pbt and pb2."""
    import re

    task = f"{Path(__file__)}:StartLinear"
    hyperlab.compare(task, ["tpe", "tpe-hd"], seeds=1, trials=2, runs_dir=tmp_path, name="c")
    pages = [(tmp_path / "c" / "report.html").read_text()]
    hyperlab.tune(StartLinear, "tpe-hd", trials=2, runs_dir=tmp_path, name="r", progress=False)
    pages.append((tmp_path / "r" / "report.html").read_text())
    for page in pages:
        assert re.search(r"The best trial, \d+: lr \(learned\) went from", page)
        assert re.search(r"Schedule of the best trial \(\d+, final value", page)
        assert re.search(r"trial \d+ \(best\)", page)  # the figure's trace
        assert not re.search(r"best member|member \d|trained by|copied from", page)
    assert "the seed whose best trial ended best" in pages[0]


def test_a_trial_is_timed_from_its_start_to_its_end_though_it_holds_a_schedule() -> None:
    import datetime

    from hyperlab.lab.results import trial_seconds

    start = datetime.datetime(2026, 12, 6, 12, 0, 0)
    trial = optuna.trial.create_trial(
        value=0.5,
        user_attrs={
            "schedule": [{"start": 0, "end": 1, "config": {"lr": 0.1}}],
            "hypergradient": True,
            "wall_time": 0.25,  # the evaluation's own
        },
    )
    trial.datetime_start, trial.datetime_complete = start, start + datetime.timedelta(seconds=2)
    assert trial_seconds(trial) == 2.0  # a population member (with "member") gives wall_time


def test_a_leaderboard_panel_trains_its_trials_with_a_learned_rate(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from hyperlab.lab.panel import run_study
    from hyperlab.population.self_tuning_trials import SelfTuningTrials

    trained = []
    train = SelfTuningTrials.evaluate_trial

    def noted(self: SelfTuningTrials, *args: Any) -> Any:
        ev = train(self, *args)
        trained.append(ev.extra["schedule"][-1]["learned"]["lr"])
        return ev

    monkeypatch.setattr(SelfTuningTrials, "evaluate_trial", noted)
    run = run_study("wine-mlp", "tpe-hd", seed=0, trials=2)
    assert len(trained) == 2 and run["best"][-1] < float("inf")


def test_worker_processes_score_the_best_trial_as_it_trained(tmp_path: Path) -> None:
    study, summary = hyperlab.tune(
        "wine-mlp", "tpe-hd", trials=2, budget=2, jobs=2, runs_dir=tmp_path, name="j", **_KW
    )
    best = study.best_trial
    task = TASKS.create("wine-mlp")
    config = task.search_space(optuna.trial.FixedTrial(best.params))
    seed = best.user_attrs["schedule"][0]["seed"]
    by_hand = task.schedule_test_score([(config, 1)] * 2, seed, wrap_optimizer=hypergradient_twin)
    assert summary.test_score == by_hand


def test_a_run_on_dask_scores_the_best_trial_as_it_trained(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The run scores its study loaded from the storage, without the sampler that ran it: its
    tpe-hd trial got no score (its schedule skipped it)."""
    import hyperlab.lab.cluster as cluster
    from hyperlab.cli import main
    from hyperlab.lab.rundir import load_studies
    from hyperlab.lab.runner import run_job
    from tests.lab.test_dask import _Client

    def in_process(jobs: Any, client: Any, **_: Any) -> None:  # what the Dask tasks run
        for job in jobs:
            run_job(job, worker=1, owner=False, wait=False)

    monkeypatch.setattr(cluster, "connect", lambda address: _Client())
    monkeypatch.setattr(cluster, "run_on_dask", in_process)
    args = ["tune", "--task", "wine-mlp", "--tuner", "tpe-hd", "--trials", "2", "--budget", "2"]
    args += ["--name", "d", "--runs-dir", str(tmp_path), "--dask", "tcp://a:8786", "--no-progress"]
    assert main(args) == 0
    study = load_studies(tmp_path / "d")[0][0]
    best = study.best_trial
    task = TASKS.create("wine-mlp")
    config = task.search_space(optuna.trial.FixedTrial(best.params))
    seed = best.user_attrs["schedule"][0]["seed"]
    by_hand = task.schedule_test_score([(config, 1)] * 2, seed, wrap_optimizer=hypergradient_twin)
    assert study.user_attrs["test_score"]["value"] == by_hand
    assert f"held-out test score: {by_hand:.6g}" in capsys.readouterr().out


def test_a_pruned_trial_keeps_the_rate_its_model_had_learned_when_it_was_stopped() -> None:
    from hyperlab.lab.objective import TaskObjective
    from hyperlab.lab.results import study_records

    task = OwnLinear()
    sampler = TUNERS.create("tpe-hd", seed=0, space=task.distributions(), task=task)
    pruner = optuna.pruners.ThresholdPruner(lower=2.0)  # (an R² is below 2: stops at epoch 1)
    study = optuna.create_study(direction="maximize", sampler=sampler, pruner=pruner)
    study.optimize(TaskObjective(task, 0, None, sampler.evaluate_trial), n_trials=1)
    trial = study.trials[0]
    assert trial.state == optuna.trial.TrialState.PRUNED and trial.user_attrs["budget"] == 1
    schedule = trial.user_attrs["schedule"]
    assert [(e["start"], e["end"]) for e in schedule] == [(0, 1)]
    learned = schedule[0]["learned"]["lr"]
    assert learned > 0 and learned != pytest.approx(trial.params["lr"], rel=1e-6)
    (record,) = study_records(study, "tpe-hd", "none", 0)
    assert record["learned_lr"] == learned and record["param_lr"] == trial.params["lr"]


MAYBE_WRAPPED = """
import os

from tests.population.test_selftuning import OwnLinear


class MaybeWrapped(OwnLinear):
    name = "maybe-wrapped"

    def _train_segment(self, config, state, epochs, seed, wrap_optimizer):
        if os.environ.get("HYPERLAB_TEST_NO_WRAP"):  # (the task changed since its run)
            wrap_optimizer = None
        return super()._train_segment(config, state, epochs, seed, wrap_optimizer)
"""


def test_hyperlab_replay_refuses_a_task_that_no_longer_wraps_its_optimizer(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """It retrained the self-tuning run's model with a plain optimizer, and said only that
    the replay left the trial's path."""
    from hyperlab.cli import main

    (tmp_path / "maybe.py").write_text(MAYBE_WRAPPED)
    task = f"{tmp_path / 'maybe.py'}:MaybeWrapped"
    hyperlab.tune(task, "tpe-hd", trials=1, budget=3, runs_dir=tmp_path, name="m", **_KW)
    monkeypatch.setenv("HYPERLAB_TEST_NO_WRAP", "1")
    assert main(["replay", str(tmp_path / "m")]) == 2
    out, err = capsys.readouterr()
    assert "task 'maybe-wrapped', schedule entry 0, segment from epoch 0 to 1: task " \
        "'maybe-wrapped' trained a fresh model without passing its optimizer through " \
        "train_segment's wrap_optimizer, so the replayed model's optimizers cannot learn " \
        "their rate" in err  # fmt: skip
    assert "replaying" not in out


class UnwrappedStart(StartLinear):
    """``StartLinear`` (which counts its segments) passing no optimizer through the wrapper."""

    name = "unwrapped-start"

    def _train_segment(self, config: Any, state: Any, epochs: int, seed: int, wrap: Any) -> Any:
        return super()._train_segment(config, state, epochs, seed, None)


class NoRateStart(StartLinear):
    """``StartLinear`` naming no learning rate."""

    name = "no-rate-start"
    learning_rate_param = None


@pytest.mark.parametrize(
    ("task", "said", "segments"),
    [
        (UnwrappedStart, r"schedule entry 0, segment from epoch 0 to 1: .* cannot learn", 1),
        (NoRateStart, r"names no learning_rate_param, so a replay with hypergradient has no", 0),
    ],
)
def test_a_replay_with_hypergradient_refuses_a_task_whose_rate_cannot_be_learned(
    task: type[Task], said: str, segments: int
) -> None:
    """As tpe-hd refuses it: by name, before the replay trains on (or at all)."""
    schedule = [{"start": e, "end": e + 1, "config": {"lr": 0.01, "scale": 1.0}} for e in range(3)]
    task.segments = 0  # type: ignore[attr-defined]  # (counted on the class itself)
    with pytest.raises(InputError, match=said):
        replay(task(), schedule, seed=0, hypergradient=True)
    assert task.segments == segments  # type: ignore[attr-defined]
    assert len(replay(task(), schedule, seed=0)) == 3  # (without hypergradient: as it was)


class PlainTestScore(OwnLinear):
    """A task that scores a configuration on its test split, but not a model that learned."""

    name = "plain-test"

    def test_score(
        self, config: dict[str, Any], budget: int | None = None, seed: int = 0
    ) -> float | None:
        return 0.5


def test_a_task_whose_test_score_cannot_train_with_the_twin_is_told_why_it_has_none(
    tmp_path: Path,
) -> None:
    with pytest.warns(UserWarning, match="writes test_score, which trains without the hyper"):
        _, summary = hyperlab.tune(
            PlainTestScore, "tpe-hd", trials=1, budget=2, runs_dir=tmp_path, name="p", **_KW
        )
    assert summary.test_score is None


class TwoRates(OwnLinear):
    """A task whose Adam trains the bias at a tenth of the weight's rate (``lr``); each segment
    trains a fresh model (enough for the rate read after it)."""

    name = "two-rates"

    def _train_segment(
        self,
        config: dict[str, Any],
        state: Any,
        epochs: int,
        seed: int,
        wrap_optimizer: OptimizerWrapper | None,
    ) -> Segment:
        import torch

        from tests.population.test_selftuning import _X, _Y

        torch.manual_seed(seed)
        model = torch.nn.Linear(1, 1)
        groups = [{"params": [model.weight]}, {"params": [model.bias], "lr": config["lr"] / 10}]
        opt = torch.optim.Adam(groups, lr=config["lr"])
        opt = wrap_optimizer(opt) if wrap_optimizer is not None else opt
        scores = []
        for _ in range(epochs):
            for _ in range(4):
                opt.zero_grad()
                ((model(_X) - _Y) ** 2).mean().backward()
                opt.step()
            scores.append(-float(((model(_X) - _Y) ** 2).mean()))
        return Segment(state={"model": model}, values=scores, epoch=epochs)


def test_no_rate_is_read_from_groups_that_run_at_different_rates() -> None:
    task = TwoRates()
    sampler = TUNERS.create("tpe-hd", seed=0, space=task.distributions(), task=task)
    ev = sampler.evaluate_trial(task, {"lr": 0.01, "scale": 1.0}, 2, 0, None)
    assert all("learned" not in entry for entry in ev.extra["schedule"])  # (was their mean)


def test_a_trial_keeps_the_extras_the_task_gives_as_a_tpe_trial_does() -> None:
    task = TASKS.create("wine-mlp")
    config = task.default_config()
    sampler = TUNERS.create("tpe-hd", seed=0, space=task.distributions(), task=task)
    ev = sampler.evaluate_trial(task, config, 2, 0, None)
    plain = task.evaluate(config, 2, seed=0).extra
    assert set(plain) == {"val_accuracy", "val_accuracy_se"}
    assert set(ev.extra) == {*plain, "schedule", "hypergradient"}  # (was the lab's two only)
    assert 0.0 <= ev.extra["val_accuracy"] <= 1.0


class WithExtra(OwnLinear):
    """A task whose segments keep a number of their own, and one under a name the lab uses."""

    name = "with-extra"

    def _train_segment(self, *args: Any) -> Segment:
        segment = super()._train_segment(*args)
        return replace(segment, extra={"epoch_seen": segment.epoch, "schedule": "mine"})


def test_a_trial_keeps_its_last_segments_extra_under_the_lab_s_own() -> None:
    task = WithExtra()
    sampler = TUNERS.create("tpe-hd", seed=0, space=task.distributions(), task=task)
    ev = sampler.evaluate_trial(task, {"lr": 0.01, "scale": 1.0}, 3, 0, None)
    assert ev.extra["epoch_seen"] == 3 and len(ev.extra["schedule"]) == 3


class WrapsWhenBuilt(OwnLinear):
    """A task that passes its Adam through ``wrap_optimizer`` once, where it builds it (before
    the copy of the state), and trains the twin its state carries from then on."""

    name = "wraps-when-built"

    def _train_segment(
        self,
        config: dict[str, Any],
        state: Any,
        epochs: int,
        seed: int,
        wrap_optimizer: OptimizerWrapper | None,
    ) -> Segment:
        import torch

        from tests.population.test_selftuning import _X, _Y

        if state is None:
            torch.manual_seed(seed)
            model = torch.nn.Linear(1, 1)
            opt = torch.optim.Adam(model.parameters(), lr=config["lr"])
            opt = wrap_optimizer(opt) if wrap_optimizer is not None else opt
            state = {"model": model, "opt": opt, "epoch": 0}
        state = copy.deepcopy(state)
        model, opt, scores = state["model"], state["opt"], []
        for _ in range(epochs):
            for _ in range(4):
                opt.zero_grad()
                ((model(_X) - _Y) ** 2).mean().backward()
                opt.step()
            scores.append(-float(((model(_X) - _Y) ** 2).mean().detach()))
        state["epoch"] += epochs
        return Segment(state=state, values=scores, epoch=state["epoch"])


def test_the_rate_is_read_from_the_state_of_a_task_that_wrapped_its_optimizer_once() -> None:
    task = WrapsWhenBuilt()
    sampler = TUNERS.create("tpe-hd", seed=0, space=task.distributions(), task=task)
    ev = sampler.evaluate_trial(task, {"lr": 0.01, "scale": 1.0}, 3, 0, None)
    learned = [entry["learned"]["lr"] for entry in ev.extra["schedule"]]  # (was none)
    assert len(set(learned)) == 3 and 0.01 not in learned
    segments = replay(task, ev.extra["schedule"], seed=0, hypergradient=True)
    assert learned[-1] == segments[-1].state["opt"].param_groups[0]["lr"]  # the rate in use


class BadCurves(OwnLinear):
    """A task whose segments break the contract: a curve of two values for one epoch."""

    name = "bad-curves"
    trained = 0

    def _train_segment(self, *args: Any) -> Segment:
        BadCurves.trained += 1
        segment = super()._train_segment(*args)
        return replace(segment, curves={"val_loss": [0.5, 0.4]})


class OwnSegment(OwnLinear):
    """A task that overrides ``train_segment`` itself (so the base class checks nothing) and
    returns two scores for one epoch."""

    name = "own-segment"

    def train_segment(self, config: Any, state: Any, epochs: int, seed: int = 0, **kw: Any) -> Any:
        segment = self._train_segment(config, state, epochs, seed, kw.get("wrap_optimizer"))
        return replace(segment, values=[*segment.values, 0.0])


@pytest.mark.parametrize(
    ("task", "said"),
    [
        (BadCurves, r"curve 'val_loss' has 2 values for 1 epoch"),
        (OwnSegment, r"its segment has 2 scores for 1 epoch"),
    ],
)
@pytest.mark.parametrize("tuner", ["tpe-hd", "random-hd"])
def test_a_segment_that_breaks_the_task_contract_stops_the_run_at_its_first_trial(
    task: type[Task], said: str, tuner: str, tmp_path: Path
) -> None:
    """As a plain tpe run stops at a task's ``evaluate`` that breaks it: every trial would."""
    from hyperlab.errors import TaskContractError

    BadCurves.trained = 0
    name = task.name
    with pytest.raises(TaskContractError, match=rf"^task {name!r}, trial 0: .*{said}.*run stops"):
        hyperlab.tune(task, tuner, trials=4, runs_dir=tmp_path, name="x", **_KW)
    assert BadCurves.trained <= 1  # (was one per trial: each failed, the run went on)


class DivergesAtHighRates(OwnLinear):
    """A task whose training diverges in its second epoch from a start rate above 0.03."""

    name = "diverges-at-high-rates"

    def _train_segment(self, config: Any, state: Any, *args: Any) -> Segment:
        segment = super()._train_segment(config, state, *args)
        if segment.epoch >= 2 and config["lr"] > 0.03:
            return replace(segment, values=[math.nan] * len(segment.values))
        return segment


def test_a_trial_whose_training_diverges_fails_alone_and_the_run_goes_on(tmp_path: Path) -> None:
    task = DivergesAtHighRates
    study, _ = hyperlab.tune(task, "tpe-hd", trials=6, runs_dir=tmp_path, name="x", **_KW)
    failed = [t for t in study.trials if t.state == optuna.trial.TrialState.FAIL]
    assert failed and all("diverged" in t.user_attrs["fail_reason"] for t in failed)
    assert len(study.trials) - len(failed) == 6
