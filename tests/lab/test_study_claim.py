"""Two runs of one name in one storage never share a study (the claim rule of lab/claim.py)."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import optuna
import pytest

import hyperlab
from hyperlab.cli import main
from hyperlab.errors import RunConflictError
from hyperlab.lab.claim import MARK, claim_studies, other_owner
from hyperlab.lab.rundir import RunDir
from hyperlab.lab.runner import StudyJob, build_study
from hyperlab.lab.storage import open_storage
from hyperlab.registry import TUNERS


def _url(kind: str, folder: Path) -> str:
    if kind == "journal":
        return f"journal:{folder / 'shared.journal'}"
    url = f"sqlite:///{folder / 'shared.db'}"
    open_storage(url)  # the tables first: this race is about studies, not the schema
    return url


def _race(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, url: str, tuners: list[str]
) -> dict[int, Any]:
    """Two runs ``r`` from two run folders into ``url``, lined up by a barrier once both have
    passed every check that reads the storage (their run folders are prepared)."""
    TUNERS.check(tuners[0])  # the registry loads its entries once, before the threads start
    barrier = threading.Barrier(2)
    prepare = RunDir.prepare

    def lined_up(self: RunDir, *args: Any, **kwargs: Any) -> Any:
        try:
            spec = prepare(self, *args, **kwargs)
        except BaseException:
            barrier.abort()  # (the other run must not wait for this one)
            raise
        barrier.wait()
        return spec

    monkeypatch.setattr(RunDir, "prepare", lined_up)
    outcome: dict[int, Any] = {}

    def run(i: int) -> None:
        try:
            outcome[i] = hyperlab.compare(
                "branin", tuners, seeds=[0], trials=3, name="r", storage=url,
                runs_dir=tmp_path / f"folder{i}", progress=False, report=False,
            )  # fmt: skip
        except Exception as exc:
            outcome[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in (0, 1)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return outcome


@pytest.mark.parametrize("kind", ["sqlite", "journal"])
@pytest.mark.parametrize("tuners", [["random"], ["random", "qmc"]])
def test_two_runs_of_one_name_racing_for_one_storage_never_share_a_study(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, kind: str, tuners: list[str]
) -> None:
    """Both runs passed the ownership check before either had trials, and both ran their
    trials into the same studies (each marking them as its own), so each run's results were
    the two runs' together. Now one run claims the studies; the other is refused by name and
    leaves no run behind."""
    url = _url(kind, tmp_path)
    outcome = _race(monkeypatch, tmp_path, url, tuners)
    refused = [i for i, out in outcome.items() if isinstance(out, RunConflictError)]
    assert len(refused) == 1, outcome
    (winner,) = {0, 1} - set(refused)
    assert "already holds study 'r:random:none:seed0' of another run" in str(outcome[refused[0]])
    assert "choose another --name" in str(outcome[refused[0]])
    assert not (tmp_path / f"folder{refused[0]}" / "r").exists()
    run = RunDir(tmp_path / f"folder{winner}" / "r").load_spec().created
    storage = open_storage(url)
    studies = storage.get_all_studies()
    assert sorted(s.study_name for s in studies) == sorted(f"r:{t}:none:seed0" for t in tuners)
    for study in studies:
        assert study.user_attrs[MARK]["run"] == run
        assert len(storage.get_all_trials(study._study_id)) == 3  # the winner's own, no more


def test_a_study_another_run_created_is_refused_before_it_has_trials(tmp_path: Path) -> None:
    """Ownership was checked only once a study held trials: a run set up for workers that had
    not started yet was joined by any run of its name."""
    shared = f"sqlite:///{tmp_path}/shared.db"
    argv = ["tune", "--task", "branin", "--tuner", "random", "--trials", "2", "--name", "r",
            "--storage", shared, "--no-progress"]  # fmt: skip
    assert main([*argv, "--runs-dir", str(tmp_path / "a"), "--create-only"]) == 0
    assert main([*argv, "--runs-dir", str(tmp_path / "b")]) == 2
    assert not (tmp_path / "b" / "r").exists()
    assert optuna.load_study(study_name="r:random:none:seed0", storage=shared).trials == []
    # the owner sets it up again (it keeps its identity) and runs it
    assert main([*argv, "--runs-dir", str(tmp_path / "a"), "--create-only"]) == 0
    assert main([*argv, "--runs-dir", str(tmp_path / "a")]) == 0
    assert len(optuna.load_study(study_name="r:random:none:seed0", storage=shared).trials) == 2


def test_a_run_set_up_again_that_loses_the_claim_leaves_no_record_behind(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A run with no trials set up again on a shared storage, whose studies there another run
    claimed between its check and its claim, was refused but kept its run.json, rewritten to
    name the shared storage: `hyperlab report` then showed the other run's trials as its own."""
    shared = f"journal:{tmp_path / 'shared.journal'}"
    argv = ["tune", "--task", "branin", "--tuner", "random", "--trials", "2", "--name", "r",
            "--runs-dir", str(tmp_path / "a"), "--no-progress"]  # fmt: skip
    assert main([*argv, "--create-only"]) == 0  # a run with no trials, in its own journal
    prepare = RunDir.prepare

    def overtaken(self: RunDir, *args: Any, **kwargs: Any) -> Any:
        spec = prepare(self, *args, **kwargs)
        claim_studies(open_storage(shared), [_job(shared, "r:random:none:seed0", run="theirs")])
        return spec

    monkeypatch.setattr(RunDir, "prepare", overtaken)
    assert main([*argv, "--storage", shared]) == 2
    assert "of another run (a run of task 'branin', made theirs)" in capsys.readouterr().err
    assert not (tmp_path / "a" / "r" / "run.json").exists()
    assert main(["report", str(tmp_path / "a" / "r")]) == 2
    assert "is not a hyperlab run directory (no run.json)" in capsys.readouterr().err


def _job(url: str, name: str, run: str) -> StudyJob:
    return StudyJob(study_name=name, storage=url, task="branin", tuner="random",
                    pruner="none", seed=0, trials=2, run=run)  # fmt: skip


def test_a_refused_claim_deletes_the_studies_it_created(tmp_path: Path) -> None:
    url = f"journal:{tmp_path / 'j.journal'}"
    storage = open_storage(url)
    claim_studies(storage, [_job(url, "r:b", run="theirs")])
    with pytest.raises(RunConflictError, match=r"'r:b' of another run .*made theirs"):
        claim_studies(storage, [_job(url, "r:a", run="mine"), _job(url, "r:b", run="mine")])
    assert [s.study_name for s in storage.get_all_studies()] == ["r:b"]
    claim_studies(storage, [_job(url, "r:b", run="theirs")])  # its own: claimed again


def test_a_study_is_never_marked_as_another_runs(tmp_path: Path) -> None:
    """Building a study rewrote its mark with the job's run, whoever had made it."""
    url = f"sqlite:///{tmp_path / 's.db'}"
    claim_studies(open_storage(url), [_job(url, "r:s", run="theirs")])
    with pytest.raises(RunConflictError, match="'r:s' of another run"):
        build_study(_job(url, "r:s", run="mine"), None)
    assert build_study(_job(url, "r:s", run="theirs"), None).user_attrs[MARK]["run"] == "theirs"


def test_whose_study_it_is() -> None:
    mine = {"task": "branin", "run": "t1"}
    assert other_owner(mine, True, "branin", "t1") is None
    assert other_owner(mine, False, "branin", None) == "a run of task 'branin', made t1"
    # marked by an older lab, without its run: its task tells
    assert other_owner({"task": "branin"}, True, "branin", "t2") is None
    assert other_owner({"task": "branin"}, False, "wine-mlp", "t2") == "a run of task 'branin'"
    # no mark: one being claimed now when it has no trial; made before marks when it has
    assert "creating it now" in str(other_owner(None, False, "branin", "t1"))
    assert other_owner(None, True, "branin", "t1") is None
