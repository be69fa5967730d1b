"""Ctrl-C on ``hyperlab tune`` (the whole process group gets SIGINT), with one or two workers.

The same guarantees either way: exit 130 with one line and no traceback, no trial left
running, and the re-run completes the study without evaluating any configuration twice.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from optuna.trial import FrozenTrial, TrialState

from hyperlab.lab.rundir import load_studies
from hyperlab.testing.tasks import SLEEP_BRANIN

from .helpers import wait_for

HYPERLAB = str(Path(sys.executable).parent / "hyperlab")


def _trials(run: Path) -> list[FrozenTrial]:
    try:
        return list(load_studies(run)[0][0].get_trials(deepcopy=False))
    except Exception:  # not created yet, or busy
        return []


def _busy(run: Path) -> int:
    """Trials running inside the objective (past their claim: they have their seed)."""
    return sum(t.state == TrialState.RUNNING and "seed" in t.user_attrs for t in _trials(run))


def _foreground() -> None:
    """SIGINT as a terminal's foreground job has it, even when these tests run in a background
    job of a shell (which starts its children with SIGINT ignored)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _tune(runs: Path, jobs: int) -> list[str]:
    return [
        HYPERLAB,
        "tune",
        "--task",
        SLEEP_BRANIN,
        "--task-option",
        "seconds=2",
        "--tuner",
        "random",
        "--trials",
        "12",
        "--jobs",
        str(jobs),
        "--name",
        "ctrlc",
        "--runs-dir",
        str(runs),
        "--no-progress",
    ]


@pytest.mark.slow
@pytest.mark.parametrize("jobs", [1, 2])
def test_ctrl_c_leaves_nothing_running_and_resume_repeats_nothing(
    tmp_path: Path, jobs: int
) -> None:
    runs = tmp_path / "runs"
    run = runs / "ctrlc"
    # its own process group, as a terminal's foreground job: Ctrl-C signals the whole group
    proc = subprocess.Popen(
        _tune(runs, jobs),
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
        preexec_fn=_foreground,
    )
    try:
        wait_for(lambda: len(_trials(run)) >= 2 and _busy(run) >= jobs, timeout=180, poll=0.1)
        os.killpg(proc.pid, signal.SIGINT)
        _out, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert proc.returncode == 130, err
    assert "Traceback" not in err, err
    assert "interrupted; finished trials (and a population's last checkpoint) are saved" in err
    interrupted = _trials(run)
    assert not [t.number for t in interrupted if t.state == TrialState.RUNNING]
    assert any("interrupted" in str(t.user_attrs.get("fail_reason")) for t in interrupted)
    again = subprocess.run(_tune(runs, jobs), capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr
    complete = [t for t in _trials(run) if t.state == TrialState.COMPLETE]
    assert len(complete) == 12
    configs = [tuple(sorted(t.params.items())) for t in complete]
    assert len(set(configs)) == 12, "a configuration ran twice"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.mark.slow
def test_workers_stop_when_their_parent_is_killed(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    run = runs / "ctrlc"
    proc = subprocess.Popen(_tune(runs, 2), stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        wait_for(lambda: _busy(run) >= 2, timeout=180, poll=0.1)
        workers = {
            int(str(t.user_attrs["worker"]).rsplit(":", 1)[1])
            for t in _trials(run)
            if t.state == TrialState.RUNNING
        }
        os.kill(proc.pid, signal.SIGKILL)  # the parent only: its lock goes, its workers stay
        proc.wait()
        wait_for(lambda: not any(_alive(pid) for pid in workers), timeout=120, poll=0.1)
    finally:
        with contextlib.suppress(ProcessLookupError):  # any process of it still there
            os.killpg(proc.pid, signal.SIGKILL)
    left = _trials(run)
    # they stopped mid-study, as on an interrupt, rather than finishing it unattended
    assert len([t for t in left if t.state == TrialState.COMPLETE]) < 12
    assert not [t.number for t in left if t.state == TrialState.RUNNING]
    again = subprocess.run(_tune(runs, 2), capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr  # the lock left behind was taken over
    complete = [t for t in _trials(run) if t.state == TrialState.COMPLETE]
    assert len(complete) == 12
    assert len({tuple(sorted(t.params.items())) for t in complete}) == 12


def test_ctrl_c_between_trials_queues_no_earlier_failed_trial_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A worker interrupted while it waited for other workers queued the parameters of the
    last trial it had run when that trial had failed (its objective's error, or failed as lost
    elsewhere and queued already): the configuration ran twice, and took another's slot."""
    from types import SimpleNamespace

    import optuna
    from optuna.distributions import FloatDistribution

    from hyperlab.lab import admission, trial_loop

    study = optuna.create_study()
    earlier = study.ask({"x": FloatDistribution(0.0, 1.0)})
    study.tell(earlier, state=TrialState.FAIL)
    func = admission.Claimed(lambda trial: 0.0, target=2)
    func.trial_id = earlier._trial_id  # (the last trial this worker ran)
    job = SimpleNamespace(trials=2, storage="journal:x")
    loop = trial_loop.TrialLoop(study, job, func, retries=0)  # type: ignore[arg-type]

    def interrupted(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(trial_loop, "progress", interrupted)
    with pytest.raises(KeyboardInterrupt):
        loop.step(wait=True, poll=0.0)
    assert [t.state for t in study.trials] == [TrialState.FAIL]


def test_a_worker_process_started_with_sigint_held_back_takes_it_once_installed() -> None:
    """Worker processes are started with SIGINT blocked (so a Ctrl-C during their start waits)
    and inherit that mask; nothing unblocked it, so a worker never saw Ctrl-C: it ran its study
    to the end (or until the parent killed it 30 s later) instead of stopping at once."""
    code = (
        "import signal\n"
        "from hyperlab.lab import interrupts\n"
        "signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})  # as a spawned worker\n"
        "interrupts.install(True)\n"
        "print(signal.SIGINT in signal.pthread_sigmask(signal.SIG_BLOCK, set()))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"
