"""``--population N``: a population tuner's size on the command line."""

from __future__ import annotations

import json
from pathlib import Path

import optuna
import pytest

from hyperlab.cli import main

QUADRATIC = f"{Path(__file__).parents[1] / 'population' / 'quadratic.py'}:Quadratic"


def _run(runs: Path, *args: str) -> int:
    return main(
        ["tune", "--task", QUADRATIC, "--budget", "4", "--runs-dir", str(runs), "--name", "p",
         "--no-progress", *args]
    )  # fmt: skip


def test_population_sets_the_members_and_the_trials(tmp_path: Path) -> None:
    assert (
        _run(tmp_path, "--tuner", "pbt", "--population", "3", "--tuner-option", "interval=2") == 0
    )
    storage = f"sqlite:///{tmp_path / 'p' / 'study.db'}"
    (name,) = optuna.get_all_study_names(storage)
    study = optuna.load_study(study_name=name, storage=storage)
    assert sorted(t.user_attrs["member"] for t in study.trials) == [0, 1, 2]
    spec = json.loads((tmp_path / "p" / "run.json").read_text())
    assert spec["trials"] == 3


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--tuner", "random", "--population", "3"], "no tuner of this run trains one ('random')"),
        (["--tuner", "pbt", "--population", "4", "--pruner", "median"], "use pruner 'none'"),
        (["--tuner", "pbt", "--population", "3", "--trials", "5"], "--trials 5 disagree"),
        (["--tuner", "pb2", "--population", "1"], "population must be at least 2 members, got 1"),
        (
            ["--tuner", "pbt", "--population", "3", "--tuner-option", "population=4"],
            "population=4 disagree",
        ),
    ],
)
def test_population_refuses_what_it_cannot_mean(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    assert _run(tmp_path, *args) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert not (tmp_path / "p").exists()


def test_population_and_trials_are_one_setting_on_resume(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    common = ["--tuner", "pbt", "--tuner-option", "interval=2"]
    assert _run(tmp_path, *common, "--population", "3") == 0
    assert _run(tmp_path, *common, "--trials", "3") == 0  # the same run: nothing to train
    assert "other settings" not in capsys.readouterr().err


def test_a_population_too_large_for_one_process_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _run(tmp_path, "--tuner", "pbt", "--population", "20000") == 2
    err = capsys.readouterr().err
    assert "20000 members is more than the 10000" in err and "Traceback" not in err


def test_a_checkpoint_that_cannot_be_written_ends_the_run_with_a_message(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "p" / "population" / "p_pbt_none_seed0"
    (folder / "population.pkl.tmp").mkdir(parents=True)  # where the checkpoint is written first
    assert _run(tmp_path, "--tuner", "pbt", "--population", "3") == 1
    err = capsys.readouterr().err
    assert "Traceback" not in err and "hyperlab tune: error:" in err
    assert f"the population checkpoint {folder / 'population.pkl'} was not written" in err
