"""End to end: ``hyperlab compare`` of pruners on a replayed LCBench task."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from hyperlab.cli import main
from hyperlab.lab.rundir import load_studies


@pytest.mark.slow
def test_compare_none_and_curve_on_lcbench(tmp_path: Path) -> None:
    args = ["compare", "--task", "lcbench-3945", "--tuners", "random", "--pruners", "none,curve"]
    args += ["--seeds", "1", "--trials", "10", "--budget", "20"]
    args += ["--runs-dir", str(tmp_path), "--name", "lc"]
    assert main([*args, "--no-progress"]) == 0
    df = pd.read_csv(tmp_path / "lc" / "results.csv")
    assert set(df["pruner"]) == {"none", "curve"}
    epochs = df.groupby("pruner")["budget"].sum()
    assert epochs["none"] == 10 * 20
    assert epochs["curve"] < epochs["none"]  # the curve pruner stopped something
    pruned = [
        t
        for study, _, pruner, _ in load_studies(tmp_path / "lc")
        for t in study.trials
        if t.state.name == "PRUNED" and pruner == "curve"
    ]
    assert pruned
    reasons = [t.user_attrs["prune_reason"] for t in pruned]
    assert all(r.startswith(("median rule", "predicted final")) for r in reasons), reasons
    assert all(t.last_step is not None and t.last_step >= 2 for t in pruned)
    assert "random+curve" in (tmp_path / "lc" / "report.html").read_text()


def test_pruner_options_reach_the_pruner_and_bad_ones_are_named(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    base = ["tune", "--task", "lcbench-3945", "--tuner", "random", "--trials", "8"]
    base += ["--budget", "12", "--runs-dir", str(tmp_path), "--no-progress"]
    options = ["--pruner-option", "min_epochs=5", "--pruner-option", "min_finished=2"]
    assert main([*base, "--pruner", "curve-parametric", "--name", "ok", *options]) == 0
    spec = json.loads((tmp_path / "ok" / "run.json").read_text())
    assert spec["pruner_options"] == {"min_epochs": 5, "min_finished": 2}
    ((study, _, _, _),) = load_studies(tmp_path / "ok")
    pruned = [t for t in study.trials if t.state.name == "PRUNED"]
    assert all(t.last_step is not None and t.last_step >= 5 for t in pruned)
    capsys.readouterr()
    bad = [*base, "--pruner-option", "colour=red"]
    assert main([*bad, "--pruner", "curve", "--name", "bad1"]) == 2
    assert "colour" in capsys.readouterr().err
    assert main([*bad, "--pruner", "median", "--name", "bad2"]) == 2
    assert "no pruner of this run takes the option 'colour'" in capsys.readouterr().err
    assert not (tmp_path / "bad2").exists()  # nothing was created for a bad option
    assert main([*base, "--pruner", "curve", "--name", "bad3", "--pruner-option", "seed=3"]) == 2
    assert "'seed' is set by the lab" in capsys.readouterr().err


def test_a_comparison_gives_each_pruner_the_options_it_takes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["compare", "--task", "lcbench-3945", "--tuners", "random"]
    args += ["--pruners", "none,curve-parametric", "--seeds", "1", "--trials", "8"]
    args += ["--budget", "12", "--runs-dir", str(tmp_path), "--no-progress"]
    args += ["--pruner-option", "min_epochs=5"]  # curve-parametric's; none takes no options
    assert main([*args, "--name", "ok"]) == 0
    by_pruner = {p: s for s, _, p, _ in load_studies(tmp_path / "ok")}
    pruned = [t for t in by_pruner["curve-parametric"].trials if t.state.name == "PRUNED"]
    assert all(t.last_step is not None and t.last_step >= 5 for t in pruned)
    assert all(t.state.name == "COMPLETE" for t in by_pruner["none"].trials)
    capsys.readouterr()
    # a pretraining option only the neural pruners take is refused by the parametric one
    bad = [*args, "--pruner-option", "pretrain_curves=100", "--name", "bad"]
    assert main(bad) == 2
    assert "pretrain_curves" in capsys.readouterr().err
    assert not (tmp_path / "bad").exists()


def test_pretraining_on_the_task_being_tuned_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["compare", "--task", "lcbench-3945", "--tuners", "random", "--pruners", "curve"]
    args += ["--seeds", "1", "--trials", "2", "--runs-dir", str(tmp_path), "--no-progress"]
    leak = [*args, "--pruner-option", "pretrain=lcbench-126026,lcbench-3945", "--name", "leak"]
    assert main(leak) == 2
    # the lab's generic check of the tasks a plug-in option names (``reads_tasks``)
    assert "'curve' would read the task being tuned, 'lcbench-3945'" in capsys.readouterr().err
    assert not (tmp_path / "leak").exists()
