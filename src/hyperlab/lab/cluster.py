"""Run a study's trials as Dask tasks against the shared storage.

Each Dask task runs one trial (:func:`hyperlab.lab.runner.run_job` with ``max_trials=1``): it
loads the study from the storage, claims a trial, runs it and writes the result back, so the
storage stays the single source of truth and Dask only places work. Keeping one task in flight
per Dask thread fills the cluster; when a Dask worker dies, the scheduler reruns its task
elsewhere and the heartbeat marks the lost trial failed and queues its parameters again.

``address`` is a scheduler address (``tcp://host:8786``) or ``local:N`` for a
:class:`distributed.LocalCluster` of N single-threaded worker processes on this machine.
"""

from __future__ import annotations

import dataclasses
import re
import time
from collections.abc import Callable
from typing import Any

import optuna

from hyperlab.errors import InputError, StorageError
from hyperlab.lab.runner import run_job
from hyperlab.lab.storage import open_storage
from hyperlab.lab.study_job import StudyJob
from hyperlab.lab.trial_kinds import failed_trials, progress
from hyperlab.stops import failures_reason, stop_for_failures


def _one_trial(job: StudyJob, slot: int) -> dict[str, int]:
    """A Dask task: run at most one trial of ``job``; the study's progress afterwards."""
    study = run_job(job, worker=slot, owner=False, wait=False, max_trials=1)
    finished, claimed = progress(study)
    return {
        "finished": finished,
        "claimed": claimed,
        "failed": failed_trials(study, interrupted=True),
    }


def _load(job: StudyJob) -> optuna.Study:
    return optuna.load_study(study_name=job.study_name, storage=open_storage(job.storage))


#: The command that installs Dask's ``distributed`` (the ``dask`` extra).
INSTALL = "pip install 'hyperlab[dask]'"

#: The most worker processes ``local:N`` starts on one machine.
MAX_LOCAL = 256


def parse_address(address: str) -> tuple[str, int]:
    """``("local", N)`` for ``local:N``, else ``("remote", 0)``.

    Raises:
        InputError: ``local:N`` with N not a positive integer, an empty address, or a
            scheduler address without a port.
    """
    if not isinstance(address, str) or not address.strip():
        raise InputError(f"Dask address must be local:N or a scheduler address, got {address!r}")
    if address.startswith("local:"):
        text = address[len("local:") :]
        if not text.isdigit() or int(text) < 1:
            raise InputError(f"Dask address local:N needs a positive N, got {address!r}")
        if int(text) > MAX_LOCAL:
            raise InputError(
                f"Dask address local:N starts N worker processes on this machine: at most "
                f"{MAX_LOCAL}, got {address!r}"
            )
        return "local", int(text)
    port = re.search(r":(\d+)$", address.strip())
    if port is None:
        raise InputError(
            f"Dask address must be local:N or a scheduler address with its port "
            f"(tcp://HOST:8786), got {address!r}"
        )
    if not 1 <= int(port.group(1)) <= 65535:
        raise InputError(f"Dask address {address!r}: a port is in 1..65535")
    return "remote", 0


def connect(address: str) -> Any:
    """A :class:`distributed.Client` for ``address`` (starting a local cluster for ``local:N``).

    Raises:
        InputError: Dask's ``distributed`` package is not installed (the message names the
            extra that installs it).
        StorageError: The scheduler cannot be reached (message names the address).
    """
    kind, n = parse_address(address)
    try:
        from distributed import Client, LocalCluster
    except ImportError:
        raise InputError(
            f"running trials on Dask ({address!r}) needs the package 'distributed', which is not "
            f"installed; install it with `{INSTALL}`"
        ) from None

    if kind == "local":
        cluster = LocalCluster(
            n_workers=n,
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
            silence_logs=40,
        )
        return Client(cluster)
    try:
        return Client(address, timeout=30)
    except OSError as exc:
        raise StorageError(f"cannot reach the Dask scheduler {address!r}: {exc}") from None


def tasks_in_flight(client: Any, jobs: int | None = None) -> int:
    """Dask tasks to keep running at once: ``jobs`` where given, else the thread count of the
    cluster's workers now (at least 1)."""
    if jobs is not None:
        return jobs
    return max(1, sum(client.nthreads().values()))


def run_on_dask(
    jobs: list[StudyJob],
    client: Any,
    *,
    in_flight: int | None = None,
    poll: float = 1.0,
    on_progress: Callable[[], None] | None = None,
) -> None:
    """Run the jobs' trials as Dask tasks until every study has its finished trials.

    Args:
        jobs: The studies (already created, with heartbeats on so lost trials are recovered).
        client: A :class:`distributed.Client`.
        in_flight: Tasks kept running at once (default: :func:`tasks_in_flight`).
        poll: Seconds to wait before asking again about a study whose remaining trials all run
            elsewhere.
        on_progress: Called whenever a task ends.
    """
    from distributed import as_completed

    in_flight = tasks_in_flight(client, in_flight)
    slot = 0
    open_jobs = {job.study_name: job for job in jobs}
    pending: dict[Any, str] = {}
    # each task runs one trial, so the run counts its studies' failures here, from where it began
    failed_before = {job.study_name: failed_trials(_load(job), interrupted=True) for job in jobs}

    def submit(job: StudyJob) -> None:
        nonlocal slot
        slot += 1
        fut = client.submit(_one_trial, job, slot, pure=False, key=f"trial-{job.study_name}-{slot}")
        pending[fut] = job.study_name

    def fill() -> None:
        names = [n for n in open_jobs]
        i = 0
        while names and len(pending) < in_flight:
            submit(open_jobs[names[i % len(names)]])
            i += 1

    fill()
    queue = as_completed(list(pending))
    while pending:
        fut = next(queue)
        name = pending.pop(fut)
        state = fut.result()  # a task's error (bad storage, broken task) surfaces here
        if on_progress is not None:
            on_progress()
        job = open_jobs.get(name)
        if job is not None and state["finished"] >= job.trials:
            del open_jobs[name]
        elif job is not None and state["failed"] - failed_before[name] >= max(10, job.trials):
            failures = state["failed"] - failed_before[name]
            stop_for_failures(_load(job), failures_reason(failures, "this run"))
            del open_jobs[name]  # as an in-process run stops: its tasks in flight still end
        elif job is not None and state["claimed"] >= job.trials:
            time.sleep(poll)  # the rest is running elsewhere; ask again later
        before = set(pending)
        fill()
        for new in set(pending) - before:
            queue.add(new)


def dask_jobs(jobs: list[StudyJob]) -> list[StudyJob]:
    """The jobs as Dask runs them: test scores are recorded once, by the caller."""
    return [dataclasses.replace(job, test_score=False) for job in jobs]
