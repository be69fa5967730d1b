"""Many workers on one study: every trial recorded once, numbers unique, the count exact."""

from __future__ import annotations

import json
import os
import socket
from pathlib import Path
from typing import Any

import optuna
import pytest
from optuna.trial import TrialState

from hyperlab.cli import main
from hyperlab.errors import InputError
from hyperlab.lab.runner import StudyJob
from hyperlab.lab.storage import open_storage
from hyperlab.lab.trial_kinds import SURPLUS_REASON
from hyperlab.lab.workers import create_studies, find_jobs, live_trials, run_worker

from .helpers import fork


def _jobs(url: str, trials: int, tuner: str = "tpe") -> list[StudyJob]:
    return [
        StudyJob(f"run:{tuner}:none:seed{seed}", url, "branin", tuner, "none", seed, trials)
        for seed in (0, 1)
    ]


@pytest.mark.slow
def test_four_workers_two_studies(storage_url: str, tmp_path: Path) -> None:
    trials = 8
    jobs = _jobs(storage_url, trials)
    create_studies(jobs)
    procs = [
        fork(
            run_worker,
            tmp_path / f"w{i}.json",
            storage=storage_url,
            name="run",
            worker_name=f"w{i}",
        )
        for i in range(4)
    ]
    for p in procs:
        p.join(120)
        assert p.exitcode == 0
    reports = [json.loads((tmp_path / f"w{i}.json").read_text()) for i in range(4)]
    for job in jobs:
        study = optuna.load_study(study_name=job.study_name, storage=_open(storage_url))
        all_trials = study.get_trials(deepcopy=False)
        numbers = [t.number for t in all_trials]
        assert sorted(numbers) == list(range(len(all_trials)))  # unique, no gaps
        complete = [t for t in all_trials if t.state == TrialState.COMPLETE]
        assert len(complete) == trials  # exact, not more
        others = [t for t in all_trials if t.state != TrialState.COMPLETE]
        assert all(t.user_attrs.get("fail_reason") == SURPLUS_REASON for t in others)
        # every trial a worker ran is in the study once: the workers' counts add up
        ran = sum(r[job.study_name]["ran"] for r in reports)
        assert ran == len(all_trials)
        assert all(r[job.study_name]["finished"] == trials for r in reports)
        # workers drew different points (distinct seeds, constant liar)
        points = {tuple(sorted(t.params.items())) for t in complete}
        assert len(points) == trials


def _open(url: str) -> optuna.storages.BaseStorage:
    from hyperlab.lab.storage import open_storage

    return open_storage(url)


def test_create_only_records_that_it_ran_no_trial_itself(tmp_path: Path) -> None:
    """run.json said ``"jobs": 2`` (or --jobs), though the command ran nothing: workers do."""
    argv = ["tune", "--task", "branin", "--trials", "3", "--name", "c", "--create-only"]
    for jobs in ("1", "3"):  # (the second sets the run, which has no trials, up again)
        assert main([*argv, "--runs-dir", str(tmp_path), "--jobs", jobs]) == 0
        assert json.loads((tmp_path / "c" / "run.json").read_text())["jobs"] == 0
    assert main(["tune", "--task", "branin", "--trials", "3", "--name", "c",
                 "--runs-dir", str(tmp_path), "--no-progress"]) == 0  # fmt: skip
    assert json.loads((tmp_path / "c" / "run.json").read_text())["jobs"] == 1  # this one ran


def test_cli_create_only_then_worker(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    url = f"journal:{tmp_path / 'shared.journal'}"
    code = main(
        [
            "tune",
            "--task",
            "branin",
            "--trials",
            "4",
            "--name",
            "cw",
            "--runs-dir",
            str(tmp_path / "runs"),
            "--storage",
            url,
            "--create-only",
        ]
    )
    assert code == 0
    out = capsys.readouterr().out
    assert "hyperlab worker --storage" in out and "--name cw" in out
    setup = find_jobs(url, "cw")
    assert [(j.task, j.tuner, j.trials, j.heartbeat_interval) for j in setup] == [
        ("branin", "tpe", 4, 10)
    ]
    study = optuna.load_study(study_name=setup[0].study_name, storage=_open(url))
    assert study.trials == []  # created, nothing run
    from hyperlab.report.records import unfinished_note

    assert "start workers (hyperlab worker) to finish it" in str(unfinished_note(study, 0, 4))
    assert main(["worker", "--storage", url, "--name", "cw", "--worker-name", "a"]) == 0
    assert "4/4 finished (4 trials run here)" in capsys.readouterr().out
    assert not (tmp_path / "shared.journal.heartbeats").exists()  # no empty folder left
    study = optuna.load_study(study_name=setup[0].study_name, storage=_open(url))
    assert len([t for t in study.trials if t.state == TrialState.COMPLETE]) == 4
    assert {t.user_attrs["worker"] for t in study.trials} == {"a"}  # its --worker-name
    assert {t.user_attrs["process"].split(":")[0] for t in study.trials} == {socket.gethostname()}
    # a second worker finds the study done and leaves at once
    assert main(["worker", "--storage", url, "--name", "cw"]) == 0
    assert "(0 trials run here)" in capsys.readouterr().out
    # setting it up again for more trials says what it holds (it said "created study")
    argv = ["tune", "--task", "branin", "--trials", "6", "--name", "cw", "--create-only"]
    assert main([*argv, "--runs-dir", str(tmp_path / "runs"), "--storage", url]) == 0
    assert "resumable study 'cw:tpe:none:seed0' (6 trials, 4 finished already)" in (
        capsys.readouterr().out
    )
    assert main(["worker", "--storage", url, "--name", "cw"]) == 0
    capsys.readouterr()
    assert main([*argv, "--runs-dir", str(tmp_path / "runs"), "--storage", url]) == 0
    assert "complete study 'cw:tpe:none:seed0' (6 trials, 6 finished: a worker has nothing" in (
        capsys.readouterr().out
    )


def _more(tmp_path: Path, url: str, trials: int, *extra: str) -> int:
    """``hyperlab tune`` on the run ``more`` (branin, random) for ``trials`` trials."""
    argv = ["tune", "--task", "branin", "--tuner", "random", "--name", "more"]
    runs = ["--runs-dir", str(tmp_path / "runs"), "--storage", url, "--no-progress"]
    return main([*argv, "--trials", str(trials), *runs, *extra])


def test_a_running_worker_goes_on_to_the_count_its_run_is_set_up_again_for(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A worker read its study's count once, when it started: set up again for more trials
    while it ran (``--create-only`` with a larger ``--trials``), it stopped at the old count."""
    from hyperlab.lab.trial_loop import TrialLoop

    url = f"journal:{tmp_path / 'shared.journal'}"
    assert _more(tmp_path, url, 2, "--create-only") == 0
    real, done = TrialLoop.after_trial, []

    def set_up_again_after_the_first(self: TrialLoop) -> bool:
        if self.ran == 1 and not done:  # (another shell, while this worker runs)
            done.append(_more(tmp_path, url, 4, "--create-only"))
        return real(self)

    monkeypatch.setattr(TrialLoop, "after_trial", set_up_again_after_the_first)
    capsys.readouterr()
    assert main(["worker", "--storage", url, "--name", "more", "--worker-name", "a"]) == 0
    assert done == [0]
    assert "a: more:random:none:seed0: 4/4 finished (4 trials run here)" in capsys.readouterr().out


def test_a_run_for_workers_resumed_for_more_trials_in_one_process_asks_its_workers_too(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Resumed without ``--create-only`` for more trials, a run set up for workers ran them
    here but left its study's setup at the old count: workers stopped there ("5/3 finished")."""
    url = f"journal:{tmp_path / 'shared.journal'}"
    assert _more(tmp_path, url, 2, "--create-only") == 0
    assert main(["worker", "--storage", url, "--name", "more", "--max-trials", "1"]) == 0
    assert _more(tmp_path, url, 4) == 0  # here, in this process
    assert [job.trials for job in find_jobs(url, "more")] == [4]
    capsys.readouterr()
    assert main(["worker", "--storage", url, "--name", "more", "--worker-name", "a"]) == 0
    assert "a: more:random:none:seed0: 4/4 finished (0 trials run here)" in capsys.readouterr().out


def test_a_run_for_workers_is_not_resumed_in_one_process_while_its_workers_run_trials(
    storage_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Resumed in one process, the run failed the trials that its workers were running (as
    left over by a run cut off) and queued them again: their work was lost."""
    assert _create(tmp_path, storage_url, "--create-only") == 0
    trial = _claim(storage_url)
    assert _create(tmp_path, storage_url, "--no-progress") == 2
    err = capsys.readouterr().err
    assert "cannot resume run 'lw' in this process (to have the workers run more trials" in err
    assert "workers are running 1 trial" in err and "trial 0 of study 'lw:tpe:none:seed0'" in err
    assert trial.study.trials[0].state == TrialState.RUNNING  # the worker's trial goes on


def test_worker_unknown_study_lists_known(tmp_path: Path) -> None:
    url = f"journal:{tmp_path / 's.journal'}"
    create_studies(_jobs(url, 2))
    with pytest.raises(InputError, match=r"no study named 'other'.*run:tpe:none:seed0"):
        find_jobs(url, "other")
    with pytest.raises(InputError, match="Python objective"):
        create_studies([StudyJob("x", url, None, "tpe", "none", 0, 2)])


def test_worker_names_the_studies_of_a_tune_run_it_cannot_join(tmp_path: Path) -> None:
    from hyperlab.api import tune

    tune("branin", "random", trials=2, name="t", runs_dir=tmp_path, progress=False, report=False)
    url = f"sqlite:///{tmp_path / 't' / 'study.db'}"
    with pytest.raises(InputError) as info:
        find_jobs(url, "t")
    message = str(info.value)
    assert "t:random:none:seed0" in message and "not set up for workers" in message
    assert "studies there: none" not in message
    with pytest.raises(InputError) as info:
        find_jobs(url, "other")
    assert "not set up for workers: t:random:none:seed0" in str(info.value)


@pytest.mark.parametrize("scheme", ["sqlite:///", "journal:"])
def test_worker_refuses_a_storage_file_that_does_not_exist(tmp_path: Path, scheme: str) -> None:
    from hyperlab.errors import DataNotFoundError

    missing = tmp_path / "missing.db"
    with pytest.raises(DataNotFoundError, match=f"no such storage file '{missing}'"):
        run_worker(f"{scheme}{missing}", "run")
    assert list(tmp_path.iterdir()) == []  # nothing created


def _create(tmp_path: Path, url: str, *extra: str) -> int:
    argv = ["tune", "--task", "branin", "--trials", "4", "--name", "lw"]
    return main([*argv, "--runs-dir", str(tmp_path / "runs"), "--storage", url, *extra])


def _claim(url: str) -> optuna.trial.Trial:
    """What a live worker does: claim a trial (its first heartbeat is its start)."""
    storage = open_storage(url, heartbeat_interval=10, grace_period=30)
    study = optuna.load_study(study_name="lw:tpe:none:seed0", storage=storage)
    trial = study.ask()
    storage.record_heartbeat(trial._trial_id)  # type: ignore[attr-defined]
    return trial


def test_overwrite_is_refused_while_a_worker_runs_a_trial(
    storage_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _create(tmp_path, storage_url, "--create-only") == 0
    trial = _claim(storage_url)
    assert [t.number for t in live_trials(storage_url)] == [0]
    assert _create(tmp_path, storage_url, "--create-only", "--overwrite") == 2
    err = capsys.readouterr().err
    assert "cannot overwrite run 'lw': workers are running 1 trial" in err
    assert "trial 0 of study 'lw:tpe:none:seed0'" in err and "stop the `hyperlab worker`" in err
    assert "stops counting 30 s after its last heartbeat" in err  # the study's grace period
    assert len(find_jobs(storage_url, "lw")) == 1  # the run and its trial are still there
    trial.study.tell(trial, 1.0)  # the worker finished: nothing runs now
    assert live_trials(storage_url) == []
    assert _create(tmp_path, storage_url, "--create-only", "--overwrite") == 0


def test_a_trial_whose_worker_stopped_beating_does_not_hold_a_run(tmp_path: Path) -> None:
    url = f"journal:{tmp_path / 'shared.journal'}"
    assert _create(tmp_path, url, "--create-only") == 0
    trial = _claim(url)
    beat = tmp_path / "shared.journal.heartbeats" / str(trial._trial_id)
    assert beat.is_file()
    os.utime(beat, (beat.stat().st_mtime - 31, beat.stat().st_mtime - 31))  # killed 31 s ago
    assert live_trials(url) == []
    assert _create(tmp_path, url, "--create-only", "--overwrite") == 0


def test_recover_is_refused_while_a_worker_runs_a_trial(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"journal:{tmp_path / 'shared.journal'}"
    assert _create(tmp_path, url, "--create-only") == 0
    trial = _claim(url)
    journal = tmp_path / "shared.journal"
    with journal.open("ab") as f:
        f.write(b'{"op_code": 5, "worker_id": "x", "tri')  # a line a kill cut off
    before = journal.read_bytes()
    assert main(["recover", url]) == 2
    assert "cannot recover" in capsys.readouterr().err
    assert journal.read_bytes() == before  # left as it was
    trial.study.tell(trial, 1.0)
    assert main(["recover", url]) == 0


def test_recover_of_a_sqlite_file_is_refused_while_a_worker_runs_a_trial(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    assert _create(tmp_path, url, "--create-only") == 0
    trial = _claim(url)
    assert [(t.study, t.number) for t in live_trials(url, read=False)] == [("lw:tpe:none:seed0", 0)]
    assert main(["recover", url]) == 2
    assert "workers are running 1 trial" in capsys.readouterr().err
    trial.study.tell(trial, 1.0)
    assert live_trials(url, read=False) == []
    assert main(["recover", url]) == 0


def _aged(url: str, trial: optuna.trial.Trial, seconds: int) -> None:
    """``trial``'s last heartbeat made ``seconds`` old, as a worker's that beats less often."""
    import contextlib
    import sqlite3

    if url.startswith("journal:"):
        beat = Path(url[len("journal:") :] + ".heartbeats") / str(trial._trial_id)
        os.utime(beat, (beat.stat().st_mtime - seconds, beat.stat().st_mtime - seconds))
        return
    with contextlib.closing(sqlite3.connect(url[len("sqlite:///") :])) as db:
        db.execute(
            "UPDATE trial_heartbeats SET heartbeat = datetime(heartbeat, ?) WHERE trial_id = ?",
            (f"-{seconds} seconds", trial._trial_id),
        )
        db.commit()


@pytest.mark.parametrize("kind", ["journal", "sqlite"])
def test_recover_judges_a_trial_by_its_own_workers_grace_period(
    kind: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A worker that beats every 40 s (grace 120 s) records its grace with its trial; recover
    judged every trial by the default 30 s, so such a trial 60 s after its last beat read as
    lost and its file was replaced under the worker. A trial whose worker's grace is shorter
    than the default is judged by it too."""
    from hyperlab.lab.heartbeat import GRACE_ATTR

    url = f"journal:{tmp_path / 'shared.journal'}" if kind == "journal" else ""
    url = url or f"sqlite:///{tmp_path / 'shared.db'}"
    assert _create(tmp_path, url, "--create-only") == 0
    trial = _claim(url)
    trial.storage.set_trial_system_attr(trial._trial_id, GRACE_ATTR, 120.0)
    _aged(url, trial, 60)
    live = live_trials(url, read=False)
    assert [(t.number, t.grace) for t in live] == [(0, 120.0)]
    assert main(["recover", url]) == 2
    assert "stops counting 120 s after its last heartbeat" in capsys.readouterr().err
    trial.storage.set_trial_system_attr(trial._trial_id, GRACE_ATTR, 45.0)
    assert live_trials(url, read=False) == []  # (60 s without a beat: past its own 45 s)


def test_a_beat_file_removed_while_the_folder_is_read_is_a_trial_that_ended(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A worker whose trial ends removes its beat file; one listed and then removed before its
    time was read made `recover` fail with a traceback (FileNotFoundError)."""
    folder = tmp_path / "shared.journal.heartbeats"
    folder.mkdir()
    (folder / "3").touch()
    listing = Path.iterdir

    def listed_then_removed(self: Path):  # type: ignore[no-untyped-def]
        yield from listing(self)
        yield self / "7"  # its trial finished between the listing and the read

    monkeypatch.setattr(Path, "iterdir", listed_then_removed)
    live = live_trials(f"journal:{tmp_path / 'shared.journal'}", read=False)
    assert [t.number for t in live] == [3]


def test_the_grace_periods_default_is_the_one_the_help_states() -> None:
    import argparse
    import dataclasses

    from hyperlab.cli import build_parser
    from hyperlab.lab.workers import with_heartbeats

    job = StudyJob("run:random:none:seed0", "journal:x", "branin", "random", "none", 0, 2)
    assert with_heartbeats(job, None, None).grace_period == 30
    assert with_heartbeats(job, 20, None).grace_period == 60  # three intervals
    recorded = dataclasses.replace(job, heartbeat_interval=5, grace_period=40)
    assert with_heartbeats(recorded, None, None).grace_period == 40  # the study's
    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    for command in ("tune", "worker"):
        text = " ".join(sub.choices[command].format_help().split())
        assert "30; three heartbeat intervals" in text or "30, or three heartbeat" in text


def test_fewer_trials_are_refused_while_workers_run_trials_that_would_finish_past_them(
    storage_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Set up again for fewer trials while workers ran two, the run was allowed (no study held
    more finished trials yet); both then finished: 2 finished trials in a study asking for 1."""
    assert _create(tmp_path, storage_url, "--create-only") == 0
    first, second = _claim(storage_url), _claim(storage_url)
    argv = ["tune", "--task", "branin", "--trials", "1", "--name", "lw", "--create-only"]
    assert main([*argv, "--runs-dir", str(tmp_path / "runs"), "--storage", storage_url]) == 2
    err = capsys.readouterr().err
    assert "cannot ask run 'lw' for 1 trial per study (it was made with 4)" in err
    assert "holds 0 finished trials and workers run 2 more" in err and "ask for 2 or more" in err
    assert [job.trials for job in find_jobs(storage_url, "lw")] == [4]  # the setup unchanged
    assert first.study.trials[0].state == TrialState.RUNNING
    assert second.number == 1
    # as many as the workers run is fine
    argv[4] = "2"
    assert main([*argv, "--runs-dir", str(tmp_path / "runs"), "--storage", storage_url]) == 0
    assert [job.trials for job in find_jobs(storage_url, "lw")] == [2]


@pytest.mark.parametrize("setup", [None, "x", {}, {"trials": "9"}, {"trials": True}, {"trials": 0}])
def test_a_setup_without_a_count_of_trials_leaves_a_workers_count(
    tmp_path: Path, setup: object
) -> None:
    """A setup whose count is missing or not a positive whole number is no count to follow: a
    count of 0 had every running worker leave at once, its study unfinished."""
    from hyperlab.lab.study_job import SETUP_ATTR, asked_trials

    url = f"journal:{tmp_path / 's.journal'}"
    study = create_studies(_jobs(url, 3))[0]
    assert asked_trials(study) == 3
    study.set_user_attr(SETUP_ATTR, setup)
    assert asked_trials(study) is None


def test_a_run_for_workers_is_resumed_in_one_process_once_its_workers_beats_are_past_grace(
    tmp_path: Path,
) -> None:
    """A worker killed long ago left its trial running: its last heartbeat is past the study's
    grace period, so the resume goes ahead and fails that trial as cut off (the refusal is for
    trials that still beat)."""
    from hyperlab.lab.heartbeat import beats_folder

    journal = tmp_path / "shared.journal"
    url = f"journal:{journal}"
    assert _create(tmp_path, url, "--create-only") == 0
    trial = _claim(url)
    beat = beats_folder(journal) / str(trial._trial_id)
    assert [t.number for t in live_trials(url)] == [0]
    old = beat.stat().st_mtime - 3600  # (an hour before: far past the 30 s grace period)
    os.utime(beat, (old, old))
    assert live_trials(url) == []
    assert _create(tmp_path, url, "--no-progress") == 0
    study = optuna.load_study(study_name="lw:tpe:none:seed0", storage=_open(url))
    assert study.trials[0].state == TrialState.FAIL  # (cut off before it drew: none to queue)
    assert len([t for t in study.trials if t.state == TrialState.COMPLETE]) == 4


def test_a_worker_claims_against_the_count_its_run_asks_for_as_it_claims(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A worker read its study's count before each trial, but admitted the trial it then
    claimed against that reading: a run set up again for fewer trials in between (another
    shell, while its sampler chose) had the worker finish a trial past the new count."""
    from hyperlab.lab import trial_loop
    from hyperlab.lab.study_job import SETUP_ATTR

    url = f"journal:{tmp_path / 'shared.journal'}"
    assert _more(tmp_path, url, 4, "--create-only") == 0
    real, done = trial_loop.progress, []

    def set_up_for_one_after_reading(study: optuna.Study, pending: bool = False) -> Any:
        counts = real(study, pending)
        if counts[0] == 1 and not done:  # (the worker has read its count: 4)
            done.append(study.study_name)
            study.set_user_attr(SETUP_ATTR, {**study.user_attrs[SETUP_ATTR], "trials": 1})
        return counts

    monkeypatch.setattr(trial_loop, "progress", set_up_for_one_after_reading)
    capsys.readouterr()
    assert main(["worker", "--storage", url, "--name", "more", "--worker-name", "a"]) == 0
    assert done == ["more:random:none:seed0"]
    assert "a: more:random:none:seed0: 1/1 finished" in capsys.readouterr().out


def _age_beat(url: str, storage: optuna.storages.BaseStorage, trial_id: int, seconds: int) -> None:
    """Set the trial's last heartbeat ``seconds`` back (a worker that beats that seldom)."""
    if url.startswith("journal:"):
        beat = Path(url[len("journal:") :] + ".heartbeats") / str(trial_id)
        old = beat.stat().st_mtime - seconds
        os.utime(beat, (old, old))
        return
    import sqlalchemy

    with storage.engine.begin() as conn:  # type: ignore[attr-defined]
        conn.execute(
            sqlalchemy.text(
                "UPDATE trial_heartbeats SET heartbeat = heartbeat - make_interval(secs => :s) "
                "WHERE trial_id = :t"
            ),
            {"s": seconds, "t": trial_id},
        )


def test_a_worker_that_beats_less_often_than_its_study_s_setup_is_judged_by_its_own_grace(
    storage_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A worker started with ``--heartbeat-interval 60`` (grace 180 s) beside a setup of 10 s
    (grace 30 s): 60 s after its last beat its trial looked dead to a resume (which would have
    overwritten the run under it) and to the other workers (which failed it as lost)."""
    from hyperlab.lab.admission import Claimed
    from hyperlab.lab.cut_off import recover_stale

    assert _create(tmp_path, storage_url, "--create-only") == 0
    slow = open_storage(storage_url, heartbeat_interval=60, grace_period=180)
    study = optuna.load_study(study_name="lw:tpe:none:seed0", storage=slow)
    trial = study.ask()
    slow.record_heartbeat(trial._trial_id)  # type: ignore[attr-defined]
    seen: dict[str, Any] = {}

    def objective(trial: optuna.Trial) -> float:
        _age_beat(storage_url, slow, trial._trial_id, 60)  # its next beat is due only now
        seen["live"] = [t.number for t in live_trials(storage_url)]
        seen["grace"] = [t.grace for t in live_trials(storage_url)]
        other = open_storage(storage_url, heartbeat_interval=10, grace_period=30)
        recover_stale(optuna.load_study(study_name="lw:tpe:none:seed0", storage=other))
        seen["state"] = other.get_trial(trial._trial_id).state
        seen["overwrite"] = _create(tmp_path, storage_url, "--create-only", "--overwrite")
        return 1.0

    Claimed(objective, 4)(trial)
    assert seen == {"live": [0], "grace": [180], "state": TrialState.RUNNING, "overwrite": 2}
    assert "cannot overwrite run 'lw': workers are running 1 trial" in capsys.readouterr().err
    # past its own grace period it is lost, as any other
    _age_beat(storage_url, slow, trial._trial_id, 200)
    assert live_trials(storage_url) == []
    other = open_storage(storage_url, heartbeat_interval=10, grace_period=30)
    recover_stale(optuna.load_study(study_name="lw:tpe:none:seed0", storage=other))
    assert other.get_trial(trial._trial_id).state == TrialState.FAIL


def test_fewer_trials_are_refused_when_a_worker_claims_a_trial_between_the_check_and_the_write(
    storage_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Set up again for fewer trials, the run checked the trials its workers ran and only later
    wrote the smaller count: a worker that read the old count claimed a trial in between, both
    passed their checks, and the study finished past the new count."""
    from hyperlab.lab import run_resume
    from hyperlab.lab.study_job import asked_trials
    from hyperlab.lab.trial_kinds import admitted

    assert _create(tmp_path, storage_url, "--create-only") == 0
    first = _claim(storage_url)
    real, claimed = run_resume._check_live_within, []

    def a_worker_claims_after_the_first_check(*args: Any) -> None:
        real(*args)
        if not claimed:  # (another machine, between this process's check and its write)
            trial = _claim(storage_url)
            assert admitted(trial.study, trial.number, asked_trials(trial.study) or 0)
            claimed.append(trial)

    monkeypatch.setattr(run_resume, "_check_live_within", a_worker_claims_after_the_first_check)
    argv = ["tune", "--task", "branin", "--trials", "1", "--name", "lw", "--create-only"]
    assert main([*argv, "--runs-dir", str(tmp_path / "runs"), "--storage", storage_url]) == 2
    assert "holds 0 finished trials and workers run 2 more" in capsys.readouterr().err
    assert [job.trials for job in find_jobs(storage_url, "lw")] == [4]  # asked for again
    assert [t.state for t in first.study.trials] == [TrialState.RUNNING] * 2


def test_a_running_worker_goes_on_with_the_setup_its_run_is_set_up_again_with(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A worker read its study's setup once, when it started: set up again while it ran (here
    ``--create-only --heartbeat-interval 20``, for workers that beat less often), it kept the
    old setup for all its later trials (it beat, and was judged, by the old settings)."""
    from hyperlab.lab.heartbeat import GRACE_ATTR
    from hyperlab.lab.trial_loop import TrialLoop

    url = f"journal:{tmp_path / 'shared.journal'}"
    assert _more(tmp_path, url, 3, "--create-only") == 0
    real, done = TrialLoop.after_trial, []

    def set_up_again_after_the_first(self: TrialLoop) -> bool:
        if self.ran == 1 and not done:  # (another shell, while this worker runs)
            done.append(_more(tmp_path, url, 3, "--create-only", "--heartbeat-interval", "20"))
        return real(self)

    monkeypatch.setattr(TrialLoop, "after_trial", set_up_again_after_the_first)
    capsys.readouterr()
    assert main(["worker", "--storage", url, "--name", "more", "--worker-name", "a"]) == 0
    assert done == [0]
    assert "a: more:random:none:seed0: 3/3 finished (3 trials run here)" in capsys.readouterr().out
    study = optuna.load_study(study_name="more:random:none:seed0", storage=_open(url))
    graces = [t.system_attrs.get(GRACE_ATTR) for t in study.trials]
    assert graces == [30, 60, 60]  # the trials after it beat as set up now


def test_fewer_trials_cut_short_after_the_smaller_count_was_written_leave_the_old_count(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Set up again for fewer trials and interrupted (Ctrl-C) during the check made after the
    smaller count was written, the run kept its old count in run.json while its setup for
    workers asked for the smaller one: workers stopped there."""
    from hyperlab.lab import run_resume

    url = f"journal:{tmp_path / 'shared.journal'}"
    assert _create(tmp_path, url, "--create-only") == 0
    _claim(url)  # (the run holds a trial: it is resumed, not set up afresh)
    real, checks = run_resume._check_live_within, []

    def interrupted_at_the_second_check(*args: Any) -> None:
        checks.append(args)
        if len(checks) == 2:
            raise KeyboardInterrupt
        real(*args)

    monkeypatch.setattr(run_resume, "_check_live_within", interrupted_at_the_second_check)
    argv = ["tune", "--task", "branin", "--trials", "2", "--name", "lw", "--create-only"]
    assert main([*argv, "--runs-dir", str(tmp_path / "runs"), "--storage", url]) == 130
    assert len(checks) == 2
    assert [job.trials for job in find_jobs(url, "lw")] == [4]
    assert json.loads((tmp_path / "runs" / "lw" / "run.json").read_text())["trials"] == 4


def test_a_worker_that_joins_its_study_again_with_other_beats_keeps_no_idle_connections(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A worker that joined its study again after a re-setup with other heartbeat settings
    opened a storage for them and kept the old one's pooled connections open, idle, for as
    long as it ran: a database's connections ran out as workers followed re-setups."""
    from hyperlab.lab import study_job
    from hyperlab.lab.trial_loop import TrialLoop

    url = f"sqlite:///{tmp_path / 's.db'}"
    assert _more(tmp_path, url, 4, "--create-only") == 0
    real_loop, real_open, done = TrialLoop.after_trial, study_job._process_storage, []
    opened: list[optuna.storages.BaseStorage] = []

    def set_up_again_after_the_first(self: TrialLoop) -> bool:
        if self.ran == 1 and not done:  # (another shell, while this worker runs)
            done.append(_more(tmp_path, url, 4, "--create-only", "--heartbeat-interval", "20"))
        return real_loop(self)

    def process_storage(*key: Any) -> optuna.storages.BaseStorage:
        storage = real_open(*key)
        if all(storage is not s for s in opened):
            opened.append(storage)
        return storage

    monkeypatch.setattr(TrialLoop, "after_trial", set_up_again_after_the_first)
    monkeypatch.setattr(study_job, "_process_storage", process_storage)
    argv = ["worker", "--storage", url, "--name", "more", "--worker-name", "a"]
    assert main([*argv, "--max-trials", "3"]) == 0
    assert done == [0] and len(opened) == 2
    assert "a: more:random:none:seed0: 3/4 finished (3 trials run here)" in capsys.readouterr().out
    idle = [s.engine.pool.checkedin() for s in opened]  # type: ignore[attr-defined]
    assert idle[0] == 0 and idle[1] > 0


def test_a_check_for_lost_trials_reads_the_heartbeats_of_the_trials_it_judges_alone(
    tmp_path: Path,
) -> None:
    """Judging a trial whose worker beats less often than its own, a worker's check for lost
    trials (before each of its trials) read the whole heartbeat table: a row for every trial
    that ever beat in the database, in any study."""
    import sqlalchemy

    from hyperlab.lab.heartbeat import record_grace

    url = f"sqlite:///{tmp_path / 's.db'}"
    slow = open_storage(url, heartbeat_interval=60, grace_period=180)
    study = optuna.create_study(study_name="s", storage=slow)
    for _ in range(2):  # (finished trials keep their heartbeat rows)
        done = study.ask()
        slow.record_heartbeat(done._trial_id)  # type: ignore[attr-defined]
        study.tell(done, 1.0)
    trial = study.ask()
    slow.record_heartbeat(trial._trial_id)  # type: ignore[attr-defined]
    record_grace(slow, trial._trial_id)
    with slow.engine.begin() as conn:  # type: ignore[attr-defined]
        conn.execute(sqlalchemy.text(  # (its worker beat 60 s ago: due again only now)
            "UPDATE trial_heartbeats SET heartbeat = datetime(heartbeat, '-60 seconds')"
        ))  # fmt: skip
    judge = open_storage(url, heartbeat_interval=10, grace_period=30)
    read: list[str] = []

    @sqlalchemy.event.listens_for(judge.engine, "before_cursor_execute")  # type: ignore[attr-defined]
    def note(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if "FROM trial_heartbeats" in statement:
            read.append(" ".join(statement.split()))

    assert judge._get_stale_trial_ids(study._study_id) == []  # type: ignore[attr-defined]
    assert read and all(" WHERE " in statement for statement in read), read
