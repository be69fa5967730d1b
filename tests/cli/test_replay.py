"""``hyperlab replay``: a fresh model follows a population's discovered schedule."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from hyperlab.cli import main

QUADRATIC = f"{Path(__file__).parents[1] / 'population' / 'quadratic.py'}:Quadratic"


def _tune(runs: Path, tuner: str, *extra: str) -> Path:
    code = main(
        ["tune", "--task", QUADRATIC, "--tuner", tuner, "--trials", "4", "--budget", "6",
         "--runs-dir", str(runs), "--name", tuner, "--no-progress", *extra]
    )  # fmt: skip
    assert code == 0
    return runs / tuner


def test_replay_retraces_the_best_members_scores(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = _tune(tmp_path, "pbt", "--tuner-option", "interval=2")
    summary = capsys.readouterr().out
    assert "best trial trained in 3 segments" in summary
    assert f"its whole schedule: hyperlab replay {run}" in summary
    assert main(["replay", str(run)]) == 0
    out = capsys.readouterr().out
    pairs = re.findall(r"score (\S+) \(the member's: (\S+)\)", out)
    assert len(pairs) == 3  # 6 epochs in segments of 2
    assert all(float(a) == pytest.approx(float(b), rel=1e-9) for a, b in pairs)
    assert "left the member's path" not in out
    assert main(["replay", str(run), "--member", "2"]) == 0
    assert "replaying member 2" in capsys.readouterr().out


def test_replay_says_when_it_leaves_the_members_path(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    task = QUADRATIC.replace(":Quadratic", ":Unseeded")
    assert main(
        ["tune", "--task", task, "--tuner", "pbt", "--trials", "4", "--budget", "6",
         "--runs-dir", str(tmp_path), "--name", "u", "--no-progress"]
    ) == 0  # fmt: skip
    capsys.readouterr()
    assert main(["replay", str(tmp_path / "u")]) == 0
    assert "note: the replay left the member's path at epoch 1" in capsys.readouterr().out


def test_replay_refuses_a_run_without_a_population_and_an_unknown_member(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    plain = _tune(tmp_path, "random")
    capsys.readouterr()
    assert main(["replay", str(plain)]) == 2
    assert "holds no population" in capsys.readouterr().err
    run = _tune(tmp_path, "pbt", "--tuner-option", "interval=2")
    capsys.readouterr()
    assert main(["replay", str(run), "--member", "9"]) == 2
    err = capsys.readouterr().err
    assert "no member 9" in err and "[0, 1, 2, 3]" in err and "Traceback" not in err


def test_replay_of_a_finished_run_of_another_tuner_that_trains_its_trials(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``one-epoch`` keeps its lock where a population keeps its checkpoint: its run holds no
    population, not one still training that its command would finish."""
    run = _tune(tmp_path, "one-epoch")
    assert any((run / "population").iterdir())  # (its folder, with its lock)
    capsys.readouterr()
    assert main(["replay", str(run)]) == 2
    err = capsys.readouterr().err
    assert "holds no population" in err and "has not finished" not in err


def _compare(runs: Path, tuners: str) -> Path:
    code = main(
        ["compare", "--task", QUADRATIC, "--tuners", tuners, "--population", "3", "--budget",
         "4", "--seeds", "1", "--runs-dir", str(runs), "--name", "cmp", "--no-progress",
         "--tuner-option", "interval=2"]
    )  # fmt: skip
    assert code == 0
    return runs / "cmp"


def test_replay_of_a_run_with_several_populations_asks_which(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = _compare(tmp_path, "pbt,pb2")
    hints = re.findall(
        r"its schedules: hyperlab replay (\S+) --study (\S+)", capsys.readouterr().out
    )
    assert sorted(hints) == [(str(run), "cmp:pb2:none:seed0"), (str(run), "cmp:pbt:none:seed0")]
    assert main(["replay", str(run)]) == 2
    err = capsys.readouterr().err
    assert "several populations; pick one with --study" in err
    names = re.findall(r"cmp:\S+?seed0", err)
    assert sorted(names) == ["cmp:pb2:none:seed0", "cmp:pbt:none:seed0"]
    assert main(["replay", str(run), "--study", "cmp:pb2:none:seed0"]) == 0
    assert "of study cmp:pb2:none:seed0" in capsys.readouterr().out
    assert main(["replay", str(run), "--study", "cmp:nope"]) == 2
    assert "no study 'cmp:nope'" in capsys.readouterr().err
    # a study with a population checkpoint but no members yet: one still training
    mixed = _compare(tmp_path / "mixed", "random,pbt")
    (mixed / "population" / "cmp_random_none_seed0").mkdir()
    capsys.readouterr()
    assert main(["replay", str(mixed), "--study", "cmp:random:none:seed0"]) == 2
    err = capsys.readouterr().err
    assert "population of study 'cmp:random:none:seed0' has not finished" in err
    assert "it stopped before its first checkpoint" in err  # the folder holds no checkpoint


def test_replay_finds_the_one_population_of_a_mixed_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = _compare(tmp_path, "random,pbt")
    capsys.readouterr()
    assert main(["replay", str(run)]) == 0
    assert "of study cmp:pbt:none:seed0" in capsys.readouterr().out


def test_replay_of_a_population_still_training_says_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = _tune(tmp_path, "random")
    checkpoints = run / "population" / "random_random_none_seed0"  # as if it were training
    checkpoints.mkdir(parents=True)
    (checkpoints / "population.pkl").write_bytes(b"generation 1")
    capsys.readouterr()
    assert main(["replay", str(run)]) == 2
    err = capsys.readouterr().err
    assert "has not finished (its checkpoint is in" in err and "run its command again" in err


def test_replay_refuses_a_data_dir_the_runs_own_task_option_overrides(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from hyperlab.tasks.replay import PACKAGED_DATA

    own = ["--task-option", f"data_dir={PACKAGED_DATA}"]
    argv = ["tune", "--task", "lcbench-3945", "--tuner", "random", "--trials", "1", *own]
    assert main([*argv, "--runs-dir", str(tmp_path), "--name", "r", "--no-progress"]) == 0
    capsys.readouterr()
    assert main(["replay", str(tmp_path / "r"), "--data-dir", "/elsewhere"]) == 2
    assert "--data-dir '/elsewhere' would be ignored: the run's task option" in (
        capsys.readouterr().err
    )


def test_a_replay_that_diverges_fails_with_the_segment_and_epoch(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Its NaN scores were printed as the replay's results, and the command exited 0."""
    from hyperlab.registry import TASKS
    from tests.population.quadratic import Diverging

    run = _tune(tmp_path, "pbt", "--tuner-option", "interval=2")
    capsys.readouterr()
    monkeypatch.setattr(TASKS, "create", lambda name, **options: Diverging("nan", after=2))
    assert main(["replay", str(run)]) == 1
    captured = capsys.readouterr()
    assert "final score" not in captured.out and "score nan" not in captured.out
    said = re.search(r"the replay failed, it has no result: (.*)", captured.err)
    assert said is not None and "Traceback" not in captured.err
    assert re.fullmatch(
        r"task 'quadratic', schedule entry 1 \(member \d\), segment from epoch 2 to 4: the "
        r"training diverged: non-finite score nan at epoch 4",
        said.group(1),
    )


def test_replay_of_self_tuning_members_prints_the_rate_they_learned(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    task = f"{Path(__file__).parents[1] / 'population' / 'test_selftuning.py'}:OwnLinear"
    assert main(
        ["tune", "--task", task, "--tuner", "pbt", "--trials", "4", "--runs-dir", str(tmp_path),
         "--name", "hd", "--no-progress", "--tuner-option", "interval=2",
         "--tuner-option", "hypergradient=true"]
    ) == 0  # fmt: skip
    assert "learned while it trained, at the end: lr=" in capsys.readouterr().out
    assert main(["replay", str(tmp_path / "hd")]) == 0
    pairs = re.findall(r"learned by the segment's end: lr=(\S+) \(the member's: (\S+)\)",
                       capsys.readouterr().out)  # fmt: skip
    assert len(pairs) == 3 and all(a == b for a, b in pairs)


def test_replay_of_a_tpe_hd_trial_names_a_trial_not_a_member(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A tpe-hd trial has no member: the replay said 'replaying member None', 'epochs 1-1'
    and compared each score with 'the member's'."""
    task = f"{Path(__file__).parents[1] / 'population' / 'test_selftuning.py'}:OwnLinear"
    assert main(
        ["tune", "--task", task, "--tuner", "tpe-hd", "--trials", "2", "--budget", "3",
         "--runs-dir", str(tmp_path), "--name", "hd", "--no-progress"]
    ) == 0  # fmt: skip
    capsys.readouterr()
    assert main(["replay", str(tmp_path / "hd")]) == 0
    out = capsys.readouterr().out
    assert re.match(r"replaying trial \d of study hd:tpe-hd:none:seed0\n", out)
    assert "member" not in out
    assert re.findall(r"^  (epoch \d):", out, re.MULTILINE) == ["epoch 1", "epoch 2", "epoch 3"]
    pairs = re.findall(r"score (\S+) \(the trial's: (\S+)\)", out)
    assert len(pairs) == 3 and all(float(a) == pytest.approx(float(b)) for a, b in pairs)
    assert re.search(r"learned by the segment's end: lr=\S+ \(the trial's: \S+\)", out)
