"""Running many studies: in this process, or over ``--jobs N`` worker processes that share one
study or take whole studies each, with a progress bar read from storage.

A process killed mid-trial has its trial failed and queued again, and a new process takes its
place while the study still lacks trials.
"""

from __future__ import annotations

import functools
import math
import multiprocessing as mp
import os
import signal
import socket
import sys
import time
import warnings
from typing import Any

import optuna

from hyperlab.errors import HyperlabError, InputError, NoCompletedTrialError
from hyperlab.lab import interrupts
from hyperlab.lab.cut_off import fail_interrupted
from hyperlab.lab.heartbeat import MAX_RETRY
from hyperlab.lab.held_out import record_test_score
from hyperlab.lab.objective import UserObjective
from hyperlab.lab.runner import run_job
from hyperlab.lab.storage import open_storage
from hyperlab.lab.study_job import StudyJob, build_study
from hyperlab.lab.trial_kinds import FINISHED, KILLED_REASON, count
from hyperlab.optuna_logs import quiet_optuna
from hyperlab.registry import TASKS
from hyperlab.stops import clear_failure_stop, settle_failure_stop, unfinished_driver


def _worker_main(job: StudyJob, worker: int, owner: bool) -> bool:
    """Run ``job`` in a worker process (after :func:`_worker_init`).

    Returns:
        Whether the worker was interrupted (then the trial it cut off is failed and queued
        again); it leaves quietly, without a traceback.
    """
    try:
        with interrupts.armed():
            run_job(job, worker=worker, owner=owner)
    except KeyboardInterrupt:
        return True
    return interrupts.interrupted() is not None


def _worker_init(interruptible: bool, parent: int) -> None:
    """Signals of a worker process: it stops once on SIGINT/SIGTERM, and when its parent ends."""
    interrupts.install(interruptible)
    interrupts.follow_parent(parent)


def _shared_worker(job: StudyJob, worker: int, interruptible: bool, parent: int) -> None:
    """A process of ``--jobs N`` on one study; exits with 130 when interrupted, and with
    :data:`WORKER_ERROR_EXIT` after printing a hyperlab error in one line."""
    _worker_init(interruptible, parent)
    try:
        interrupted = _worker_main(job, worker, owner=False)
    except NoCompletedTrialError as exc:  # recorded on the study: the parent's summary tells it
        print(f"hyperlab worker process: {exc}", file=sys.stderr, flush=True)
        sys.exit(0)
    except HyperlabError as exc:
        print(f"hyperlab worker process: error: {exc}", file=sys.stderr, flush=True)
        sys.exit(WORKER_ERROR_EXIT)
    if interrupted:
        sys.exit(interrupts.INTERRUPTED_EXIT)


def run_jobs(
    jobs: list[StudyJob],
    processes: int = 1,
    *,
    objective: UserObjective | None = None,
    progress: bool = True,
    description: str = "trials",
) -> None:
    """Run several studies, in this process or in ``processes`` worker processes.

    With one job and several processes, the processes share the study; with several jobs,
    each process takes whole studies. Progress is read from storage, so it is exact either way.
    """
    if processes < 1:
        raise InputError(f"jobs must be a positive integer, got {processes}")
    total = sum(j.trials for j in jobs)
    bar = _progress_bar(total, description, progress)
    try:
        if processes == 1 or objective is not None:
            if processes > 1:
                warnings.warn(
                    f"a Python objective runs in this process only; jobs={processes} is "
                    "ignored (give the task as an importable reference, 'module:attribute', "
                    "to run it in several processes)",
                    stacklevel=2,
                )
            noted = _Noted(bar, jobs) if bar is not None else None
            for job in jobs:
                if noted is not None:
                    noted.next_job()  # the last job's note is not this one's
                # the other studies wait while this one runs: counted once, not after each trial
                others = _finished([j for j in jobs if j is not job]) if bar is not None else 0
                run_job(
                    job,
                    objective=objective,
                    on_trial=functools.partial(_refresh, bar, [job], others),
                    on_progress=noted,
                )
                if noted is not None:
                    noted.flush()  # (the job's last note, which the pace may have held back)
            return
        ctx = mp.get_context("spawn")
        if len(jobs) == 1:
            _run_shared(jobs[0], processes, ctx, bar)
        else:
            _run_pool(jobs, processes, ctx, bar)
        _refresh(bar, jobs)
    finally:
        if bar is not None:
            bar.close()


def _run_shared(job: StudyJob, processes: int, ctx: Any, bar: Any) -> None:
    """Several processes share one study.

    Raises:
        KeyboardInterrupt: This process or a worker was interrupted; the workers have ended and
            no trial is left running (the trials cut off are failed and queued again).
    """
    task = TASKS.create(job.task, **job.task_options) if job.task is not None else None
    with quiet_optuna():  # the workers' settings: no "a new study created" line in this one
        study = build_study(job, task)
    clear_failure_stop(study)  # a resumed run counts its failures afresh
    fail_interrupted(study)
    processes = _shared_workers(study, job, processes)
    signals = (interrupts.interruptible(), os.getpid())
    procs = [ctx.Process(target=_shared_worker, args=(job, w, *signals)) for w in range(processes)]
    # index of each process killed by a signal: whether a new one took its place
    replaced: dict[int, bool] = {}
    try:
        with interrupts.starting_workers():
            for p in procs:
                p.start()
        while True:
            _replace_killed(study, job, procs, replaced, (ctx, signals, processes))
            if not any(p.is_alive() for p in procs) and not _rerun_orphans(
                study, job, procs, (ctx, signals, processes)
            ):
                break
            time.sleep(0.5)
            _refresh(bar, [job])
    except BaseException:
        with interrupts.sigint_ignored():
            interrupts.stop(procs)
            fail_interrupted(study)
        raise
    if any(p.exitcode == interrupts.INTERRUPTED_EXIT for p in procs):
        fail_interrupted(study)
        raise KeyboardInterrupt("a worker process was interrupted")
    if any(p.exitcode not in (0, None) for p in procs):
        fail_interrupted(study)  # every process has ended: what is left running was cut off
    for i, p in enumerate(procs):
        if not replaced.get(i):
            _check_exit(p)
    if not getattr(study.sampler, "drives_trials", False):  # (their trials count otherwise)
        settle_failure_stop(study, job.trials)
    if task is not None and job.test_score:
        record_test_score(study, task, job, getattr(study.sampler, "member_test_score", None))


def _replace_killed(
    study: optuna.Study,
    job: StudyJob,
    procs: list[Any],
    replaced: dict[int, bool],
    how: tuple[Any, tuple[bool, int], int],
) -> None:
    """A process of ``--jobs N`` killed by a signal (``kill -9``, the out-of-memory killer):
    its running trial is failed and queued again, and a new process takes its place while the
    study still lacks trials (at most ``N`` replacements in all)."""
    ctx, signals, processes = how
    for i, p in enumerate(list(procs)):
        if i in replaced or p.exitcode is None or p.exitcode >= 0:
            continue
        reason = f"{KILLED_REASON} (signal {-p.exitcode})"
        fail_interrupted(study, f"{socket.gethostname()}:{p.pid}", reason, max_retry=MAX_RETRY)
        # forgiven its exit: a process the study no longer needs, or one with a successor
        # (at most N successors in all)
        needed = _lacking(study, job) > 0
        replaced[i] = not needed or len(procs) - processes < processes
        if needed and replaced[i]:
            new = ctx.Process(target=_shared_worker, args=(job, len(procs), *signals))
            with interrupts.starting_workers():
                new.start()
            procs.append(new)


def _rerun_orphans(
    study: optuna.Study, job: StudyJob, procs: list[Any], how: tuple[Any, tuple[bool, int], int]
) -> bool:
    """Once every process has ended: a process killed between creating its trial and naming
    itself on it left that trial RUNNING with no owner, and the others ended one trial short.
    Fail it, queue it again and start one more process (within the ``N`` successors);
    ``True`` when one was started."""
    ctx, signals, processes = how
    if not any(p.exitcode is not None and p.exitcode < 0 for p in procs):
        return False
    reason = f"{KILLED_REASON} before it named itself on the trial"
    if not fail_interrupted(study, reason=reason, max_retry=MAX_RETRY):
        return False
    if _lacking(study, job) <= 0 or len(procs) - processes >= processes:
        return False
    new = ctx.Process(target=_shared_worker, args=(job, len(procs), *signals))
    with interrupts.starting_workers():
        new.start()
    procs.append(new)
    return True


def _run_pool(jobs: list[StudyJob], processes: int, ctx: Any, bar: Any) -> None:
    """A pool of long-lived processes, each taking whole studies.

    Raises:
        KeyboardInterrupt: As for :func:`_run_shared`.
    """
    from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait

    pool = ProcessPoolExecutor(
        max_workers=_pool_workers(jobs, processes),
        mp_context=ctx,
        initializer=_worker_init,
        initargs=(interrupts.interruptible(), os.getpid()),
    )
    pending: set[Any] = set()
    try:
        with interrupts.starting_workers():  # the pool starts its processes on submit
            pending = {pool.submit(_worker_main, job, 0, True) for job in jobs}
        while pending:
            done, pending = wait(pending, timeout=0.5, return_when=FIRST_COMPLETED)
            for fut in done:
                if fut.result():  # re-raise a worker's error here
                    raise KeyboardInterrupt("a worker process was interrupted")
            _refresh(bar, jobs)
    except BaseException:
        with interrupts.sigint_ignored():
            _stop_pool(pool, pending)
            _fail_left_running(jobs)
        raise
    pool.shutdown(wait=True)


def _stop_pool(pool: Any, futures: set[Any], grace: float = 30.0) -> None:
    """Interrupt the pool's running studies (SIGINT, repeated until they end), then close it;
    processes still busy after ``grace`` seconds are killed."""
    from concurrent.futures import wait

    running = {fut for fut in futures if not fut.cancel()}
    processes = dict(getattr(pool, "_processes", None) or {})  # pid -> Process
    deadline = time.monotonic() + grace
    while running and time.monotonic() < deadline:
        for pid in processes:
            interrupts.send(pid, signal.SIGINT)  # idle processes only take note
        _done, running = wait(running, timeout=0.2)
    if running:
        for proc in processes.values():
            proc.kill()
    pool.shutdown(wait=True, cancel_futures=True)


def _shared_workers(study: optuna.Study, job: StudyJob, processes: int) -> int:
    """Processes worth starting on one shared study: no more than the trials it still lacks."""
    return max(0, min(processes, _lacking(study, job)))


def _lacking(study: optuna.Study, job: StudyJob) -> int:
    """Trials the study still lacks; at least 1 while a tuner that drives its trials was cut
    off before it ended (``one-epoch``'s screening trials fill the count before its full
    trainings)."""
    return max(job.trials - count(study, FINISHED), int(unfinished_driver(study)))


def _pool_workers(jobs: list[StudyJob], processes: int) -> int:
    """Processes worth keeping in a pool: no more than the studies not finished (at least one)."""
    unfinished = 0
    for job in jobs:
        try:
            study = optuna.load_study(
                study_name=job.study_name, storage=_shared_storage(job.storage)
            )
        except KeyError:  # not created yet
            unfinished += 1
            continue
        unfinished += int(_lacking(study, job) > 0)
    return max(1, min(processes, unfinished))


def _fail_left_running(jobs: list[StudyJob]) -> None:
    """After an interrupt: fail (and queue again) what the jobs' ended processes left running."""
    for job in jobs:
        try:
            study = optuna.load_study(study_name=job.study_name, storage=open_storage(job.storage))
        except KeyError:  # not created yet
            continue
        fail_interrupted(study)


#: Exit status of a worker process that stopped on a hyperlab error (printed by the worker).
WORKER_ERROR_EXIT = 3


def _check_exit(proc: Any) -> None:
    if proc.exitcode == WORKER_ERROR_EXIT:
        raise WorkerError("a worker process stopped on the error printed above")
    if proc.exitcode not in (0, None):
        raise WorkerError(f"a worker process exited with code {proc.exitcode}")


class WorkerError(HyperlabError, RuntimeError):
    """A worker process of ``--jobs N`` failed (its own error was printed by it)."""


def _progress_bar(total: int, description: str, enabled: bool) -> Any:
    if not enabled:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=description, unit="trial", dynamic_ncols=True)


@functools.lru_cache(maxsize=8)
def _shared_storage(url: str) -> optuna.storages.BaseStorage:
    return open_storage(url)


class _Noted:
    """The progress bar's ``on_progress``: shows a driving tuner's note beside the bar and
    refreshes the count of finished trials, at most every :attr:`EVERY` seconds."""

    EVERY = 0.5

    def __init__(self, bar: Any, jobs: list[StudyJob]) -> None:
        self.bar, self.jobs, self.last, self.note = bar, jobs, -math.inf, ""

    def __call__(self, note: str) -> None:
        self.note = note
        now = time.monotonic()
        if now - self.last >= self.EVERY:
            self.last = now
            self.flush()

    def flush(self) -> None:
        """Show the latest note (the last of a job, which the pace may have held back)."""
        if self.note:
            self.bar.set_postfix_str(self.note, refresh=False)
        _refresh(self.bar, self.jobs)

    def next_job(self) -> None:
        """Forget the last job's note: the next job tells its own, or none."""
        if self.note:
            self.note = ""
            self.bar.set_postfix_str("", refresh=False)


def _refresh(bar: Any, jobs: list[StudyJob], others: int = 0) -> None:
    """Show the finished trials of ``jobs`` plus ``others`` (those of studies not read)."""
    if bar is None:
        return
    bar.n = others + _finished(jobs)
    bar.refresh()


def _finished(jobs: list[StudyJob]) -> int:
    """The finished trials of ``jobs``' studies, read from storage (each up to its target)."""
    done = 0
    for job in jobs:
        try:
            study = optuna.load_study(
                study_name=job.study_name, storage=_shared_storage(job.storage)
            )
        except KeyError:
            continue
        done += min(job.trials, count(study, FINISHED))
    return done
