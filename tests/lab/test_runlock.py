"""One run, one writer: the run lock, and a second command on a run in use."""

from __future__ import annotations

import multiprocessing as mp
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from optuna.trial import FrozenTrial, TrialState

from hyperlab.cli import main
from hyperlab.errors import RunInUseError
from hyperlab.lab import runlock
from hyperlab.lab.rundir import load_studies
from hyperlab.lab.runlock import LOCK_FILE, Holder, RunLock
from hyperlab.testing.tasks import SLEEP_BRANIN

from .helpers import wait_for

HYPERLAB = str(Path(sys.executable).parent / "hyperlab")


def _hold(folder: str, ready: Any) -> None:
    """In a forked child: take the lock, say so, and hold it until killed."""
    RunLock(folder).acquire()
    ready.set()
    time.sleep(600)
    os._exit(0)


def _holder_process(folder: Path) -> mp.process.BaseProcess:
    ctx = mp.get_context("fork")
    ready = ctx.Event()
    proc = ctx.Process(target=_hold, args=(str(folder), ready), daemon=True)
    proc.start()
    assert ready.wait(60)
    return proc


def _record(folder: Path) -> Holder | None:
    path = folder / LOCK_FILE
    return Holder.parse(path.read_text()) if path.exists() else None


def test_second_acquire_in_another_process_fails_naming_it(tmp_path: Path) -> None:
    folder = tmp_path / "dup"
    proc = _holder_process(folder)
    try:
        with pytest.raises(RunInUseError, match=f"run 'dup' is in use by process {proc.pid} since"):
            RunLock(folder).acquire()
        record = _record(folder)
        assert record is not None and record.pid == proc.pid
    finally:
        proc.kill()
        proc.join()


def test_lock_left_by_a_killed_process_is_taken_over(tmp_path: Path) -> None:
    folder = tmp_path / "dup"
    proc = _holder_process(folder)
    assert proc.pid is not None
    os.kill(proc.pid, signal.SIGKILL)
    proc.join()
    record = _record(folder)
    assert record is not None and record.pid == proc.pid  # left behind, naming a dead process
    with RunLock(folder) as lock:
        assert lock.held
        record = _record(folder)
        assert record is not None and record.pid == os.getpid()


def test_release_leaves_no_lock_file_and_removes_only_a_folder_it_made(tmp_path: Path) -> None:
    made = tmp_path / "made"
    with RunLock(made):
        assert (made / LOCK_FILE).exists()
    assert not made.exists()  # nothing else was written: no trace left
    kept = tmp_path / "kept"
    with RunLock(kept):
        (kept / "run.json").write_text("{}")
    assert [p.name for p in kept.iterdir()] == ["run.json"]
    with RunLock(kept), pytest.raises(RunInUseError, match=f"process {os.getpid()}"):
        RunLock(kept).acquire()  # another holder in this very process is refused too


def test_without_flock_the_recorded_process_is_checked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(runlock, "fcntl", None)
    folder = tmp_path / "dup"
    folder.mkdir()
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    me = Holder.me()
    (folder / LOCK_FILE).write_text(Holder(dead.pid, me.host, me.since).dumps())
    with RunLock(folder):  # a gone process on this host: stale
        record = _record(folder)
        assert record is not None and record.pid == os.getpid()
    live = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    try:
        (folder / LOCK_FILE).write_text(Holder(live.pid, me.host, me.since).dumps())
        with pytest.raises(RunInUseError, match=f"in use by process {live.pid}"):
            RunLock(folder).acquire()
    finally:
        live.kill()
        live.wait()


def _tune_args(runs: Path, trials: int) -> list[str]:
    return [
        "tune",
        "--task",
        SLEEP_BRANIN,
        "--task-option",
        "seconds=0.5",
        "--tuner",
        "random",
        "--trials",
        str(trials),
        "--name",
        "dup",
        "--runs-dir",
        str(runs),
        "--no-progress",
    ]


def _trials(run: Path) -> list[FrozenTrial]:
    try:
        return list(load_studies(run)[0][0].get_trials(deepcopy=False))
    except Exception:  # not created yet, or busy
        return []


def _distinct(trials: list[FrozenTrial]) -> int:
    return len({tuple(sorted(t.params.items())) for t in trials})


def _states(run: Path) -> set[TrialState]:
    return {t.state for t in _trials(run)}


@pytest.mark.slow
def test_second_tune_on_a_run_in_use_stops_at_once(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    runs = tmp_path / "runs"
    run = runs / "dup"
    first = subprocess.Popen([HYPERLAB, *_tune_args(runs, 6)], stderr=subprocess.PIPE, text=True)
    try:
        wait_for(lambda: TrialState.COMPLETE in _states(run), timeout=120, poll=0.2)
        spec = (run / "run.json").read_bytes()
        assert main(_tune_args(runs, 6)) == 2
        err = capsys.readouterr().err
        assert f"run 'dup' is in use by process {first.pid} since" in err
        assert "Traceback" not in err
        assert (run / "run.json").read_bytes() == spec  # nothing written to the run
        _out, first_err = first.communicate(timeout=300)
    finally:
        if first.poll() is None:
            first.kill()
    assert first.returncode == 0, first_err
    trials = _trials(run)
    complete = [t for t in trials if t.state == TrialState.COMPLETE]
    assert len(complete) == len(trials) == 6
    assert _distinct(complete) == 6
    # the lock went with the first process: a re-run resumes, with new configurations
    assert main(_tune_args(runs, 9)) == 0
    complete = [t for t in _trials(run) if t.state == TrialState.COMPLETE]
    assert len(complete) == 9
    assert _distinct(complete) == 9


def test_a_refused_run_leaves_no_runs_folder_it_made(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """An empty ``runs/`` (and every folder made above the run's) was left by each refusal."""
    runs = tmp_path / "a" / "b" / "runs"
    argv = ["tune", "--task", "branin", "--trials", "0", "--runs-dir", str(runs)]
    assert main(argv) == 2
    assert list(tmp_path.iterdir()) == []
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "mine.txt").write_text("x")
    assert main(argv) == 2
    assert sorted(p.name for p in (tmp_path / "a").iterdir()) == ["mine.txt"]


def test_a_runs_folder_that_cannot_be_made_is_named_not_in_use(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """It read "in use: its lock file keeps changing" after 20 tries."""
    argv = ["tune", "--task", "branin", "--trials", "1", "--runs-dir", "/proc/no-such-folder"]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "cannot create the run folder '/proc/no-such-folder/branin-tpe'" in err
    assert "in use" not in err


def test_a_run_folder_that_is_a_dangling_link_is_named(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """It read "in use: its lock file keeps changing"."""
    (tmp_path / "runs").mkdir()
    (tmp_path / "runs" / "r").symlink_to(tmp_path / "nowhere")
    argv = ["tune", "--task", "branin", "--trials", "1", "--runs-dir", str(tmp_path / "runs")]
    assert main([*argv, "--name", "r"]) == 2
    err = capsys.readouterr().err
    assert "is a link to" in err and "which does not exist" in err and "in use" not in err
