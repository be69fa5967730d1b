"""Workers that join studies by name from a shared storage, on any number of machines.

``hyperlab tune ... --storage URL --create-only`` creates the run's studies and writes the whole
setup (task, tuner, pruner, seed, trials, budget, direction, options, heartbeat settings) into
each study's user attribute ``hyperlab_setup``; ``hyperlab worker --storage URL --name NAME``
rebuilds every :class:`~hyperlab.lab.study_job.StudyJob` from the storage alone and runs trials
until each study has its requested number of finished trials (see :mod:`hyperlab.lab.admission`
for why the count is exact however many workers race).
"""

from __future__ import annotations

import dataclasses
import logging
import signal
import types
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import optuna
from optuna.trial import TrialState

from hyperlab.errors import (
    DataNotFoundError,
    HyperlabError,
    InputError,
    RunInUseError,
    listed,
)
from hyperlab.lab.heartbeat import beat_ages, beats_folder, own_grace
from hyperlab.lab.heartbeat_files import fresh_beat_files, fresh_sqlite_beats
from hyperlab.lab.held_out import record_test_score
from hyperlab.lab.runner import run_job
from hyperlab.lab.storage import open_storage
from hyperlab.lab.storage_errors import redact, storage_failures
from hyperlab.lab.storage_settings import check_heartbeats
from hyperlab.lab.study_job import SETUP_ATTR as SETUP_ATTR
from hyperlab.lab.study_job import (
    StudyJob,
    asked_trials,
    build_study,
    job_from_setup,
    release_connections,
    setup_changes,
)
from hyperlab.lab.trial_kinds import progress
from hyperlab.lab.urls import storage_file
from hyperlab.lab.worker_logs import configure_worker
from hyperlab.registry import TASKS
from hyperlab.stops import clear_failure_stop

if TYPE_CHECKING:
    from hyperlab.lab.plan import RunPlan
    from hyperlab.lab.run_folder import RunDir

DEFAULT_HEARTBEAT = 10
DEFAULT_GRACE = 30


def with_heartbeats(
    job: StudyJob, interval: int | None = None, grace: int | None = None
) -> StudyJob:
    """``job`` with heartbeats on: ``interval``/``grace`` if given, else the job's, else defaults.

    Without a grace period, it is three intervals (the default interval is 10 s).

    Raises:
        InputError: ``interval`` or ``grace`` is not a positive whole number, or the grace
            period is shorter than two intervals (:func:`hyperlab.lab.storage.check_heartbeats`).
    """
    check_heartbeats(interval, grace)
    beat = interval or job.heartbeat_interval or DEFAULT_HEARTBEAT
    if grace is None:
        grace = job.grace_period if interval is None and job.grace_period else None
    grace = grace or (DEFAULT_GRACE if beat == DEFAULT_HEARTBEAT else 3 * beat)
    check_heartbeats(beat, grace)
    return dataclasses.replace(job, heartbeat_interval=beat, grace_period=grace)


def create_studies(jobs: list[StudyJob]) -> list[optuna.Study]:
    """Create the jobs' studies (or load them) and record each job's setup in the study.

    Raises:
        InputError: A job has no registered task (a Python objective cannot be shipped to
            workers on other machines).
    """
    configure_worker()
    studies = []
    for job in jobs:
        if job.task is None:
            raise InputError(
                "workers rebuild the task by name; a Python objective cannot be shared with "
                "workers: give it by reference (module:attribute or path/to/file.py:attribute) "
                "or register it as a task (hyperlab.registry.TASKS.register)"
            )
        task = TASKS.create(job.task, **job.task_options)
        study = build_study(job, task)
        clear_failure_stop(study)  # a resumed run counts its failures afresh
        setup = {k: v for k, v in dataclasses.asdict(job).items() if k != "storage"}
        study.set_user_attr(SETUP_ATTR, setup)
        studies.append(study)
    return studies


def ask_trials(storage: optuna.storages.BaseStorage, jobs: list[StudyJob]) -> None:
    """Have the setups for workers of the jobs' studies (those that have one) ask for each
    job's count of trials: a run resumed for another count without ``--create-only``, whose
    workers would otherwise stop at the count it was set up with."""
    wanted = {job.study_name: job.trials for job in jobs}
    for frozen in storage.get_all_studies():
        setup = frozen.user_attrs.get(SETUP_ATTR)
        trials = wanted.get(frozen.study_name)
        if isinstance(setup, dict) and trials is not None and setup.get("trials") != trials:
            setup = {**setup, "trials": trials}
            storage.set_study_user_attr(frozen._study_id, SETUP_ATTR, setup)


def find_jobs(storage: str, name: str) -> list[StudyJob]:
    """The jobs of the studies called ``name`` or ``name:...`` (a run's studies) in ``storage``.

    Raises:
        DataNotFoundError: The storage is a SQLite or journal file that does not exist.
        InputError: No study of that name was created for workers (the message lists the
            studies there: those set up for workers, and those a worker cannot join).
        StorageError: The storage cannot be opened.
    """
    try:
        with storage_failures(storage, "read the studies of"):
            studies = open_storage(storage, must_exist=True).get_all_studies()
    except DataNotFoundError as exc:
        raise DataNotFoundError(f"{exc}: {CREATE_HINT}") from None
    jobs = []
    for frozen in sorted(studies, key=lambda s: s.study_name):
        if frozen.study_name != name and not frozen.study_name.startswith(name + ":"):
            continue
        job = job_from_setup(frozen.user_attrs.get(SETUP_ATTR), frozen.study_name, storage)
        if job is not None:
            jobs.append(job)
    if not jobs:
        raise _no_jobs(storage, name, studies)
    return jobs


#: How a study for workers is made.
CREATE_HINT = "create the run for workers with `hyperlab tune ... --storage URL --create-only`"


def _no_jobs(storage: str, name: str, studies: list[Any]) -> InputError:
    """The error of a worker that found no study ``name`` set up for workers: it names the
    studies there, and says why a worker cannot join those not set up for workers."""
    set_up = {s.study_name for s in studies if isinstance(s.user_attrs.get(SETUP_ATTR), dict)}
    ready = sorted(set_up)
    plain = sorted(s.study_name for s in studies if s.study_name not in set_up)
    named = [n for n in plain if n == name or n.startswith(name + ":")]
    lost = (
        "; a worker cannot join a study without the setup `hyperlab tune --create-only` "
        "records in it (one run by `hyperlab tune` itself has none): resume such a run with "
        "the same `hyperlab tune` command"
    )
    if named:
        return InputError(
            f"the studies named {name!r} in {redact(storage)!r} ({listed(named)}) were not set "
            f"up for workers{lost}, or {CREATE_HINT}"
        )
    text = (
        f"no study named {name!r} (or {name + ':...'!r}) set up for workers in "
        f"{redact(storage)!r}; {CREATE_HINT}; studies there set up for workers: "
        f"{listed(ready)}"
    )
    if plain:
        text += f"; studies there not set up for workers: {listed(plain)}{lost}"
    return InputError(text)


def worker_index(name: str) -> int:
    """A sampler-seed offset for a worker name (workers must not draw the same random points)."""
    return 1 + zlib.crc32(name.encode()) % 1_000_003


@dataclasses.dataclass
class WorkerReport:
    """What one worker did: per study, its finished trials and how many this worker ran."""

    studies: dict[str, dict[str, int]]

    def lines(self) -> list[str]:
        return [
            f"{name}: {v['finished']}/{v['trials']} finished ({v['ran']} "
            f"trial{'' if v['ran'] == 1 else 's'} run here)"
            for name, v in self.studies.items()
        ]


@contextmanager
def graceful_signals() -> Iterator[None]:
    """Turn SIGTERM into ``KeyboardInterrupt`` (as SIGINT already is) while inside.

    The running trial is then failed with a reason and its parameters queued again, and the
    worker leaves; a process manager's stop or a cluster's pre-emption loses nothing.
    """

    def on_term(signum: int, frame: types.FrameType | None) -> None:
        raise KeyboardInterrupt("SIGTERM")

    try:
        previous = signal.signal(signal.SIGTERM, on_term)
    except ValueError:  # not the main thread (e.g. a Dask task): leave signals alone
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def run_worker(
    storage: str,
    name: str,
    *,
    worker_name: str = "worker",
    heartbeat_interval: int | None = None,
    grace_period: int | None = None,
    wait: bool = True,
    poll: float = 1.0,
    max_trials: int | None = None,
) -> WorkerReport:
    """Join the studies ``name`` in ``storage`` and run trials until each has its count.

    Args:
        storage: The shared storage URL.
        name: A study name, or a run name (all studies ``name:...``).
        worker_name: This worker's name (it seeds its sampler, and the trials run here record
            it as their ``worker`` attribute).
        heartbeat_interval: Seconds between heartbeats (default: the study's setting, else 10).
        grace_period: Seconds without heartbeat before a trial is stale (default: the study's
            setting, else 30; three intervals where ``heartbeat_interval`` is given).
        wait: When every remaining trial runs elsewhere, wait for them (and take over the
            trials of workers that died) instead of leaving.
        poll: Seconds between checks while waiting.
        max_trials: Run at most this many trials per study here.

    Raises:
        InputError: ``max_trials`` is not a positive whole number, or a heartbeat setting is
            out of range.
        KeyboardInterrupt: On SIGINT/SIGTERM, after failing and re-queuing the current trial.
    """
    if max_trials is not None and (
        isinstance(max_trials, bool) or not isinstance(max_trials, int) or max_trials < 1
    ):
        raise InputError(f"max_trials must be a positive whole number, got {max_trials!r}")
    check_heartbeats(heartbeat_interval, grace_period)
    beats = (heartbeat_interval, grace_period)
    report: dict[str, dict[str, int]] = {}
    with graceful_signals():
        for found in find_jobs(storage, name):
            counter = {"ran": 0}
            study, job = _run_setup(found, worker_name, counter, wait, poll, max_trials, beats)
            with storage_failures(storage, "read the study in"):
                finished, _claimed = progress(study)
                trials = asked_trials(study) or job.trials  # (set up again meanwhile?)
            if finished >= trials and job.test_score and job.task is not None:
                task = TASKS.create(job.task, **job.task_options)
                scorer = getattr(study.sampler, "member_test_score", None)  # tpe-hd's own
                record_test_score(study, task, job, scorer)
            report[job.study_name] = {
                "finished": finished,
                "trials": trials,
                "ran": counter["ran"],
            }
    return WorkerReport(report)


def _run_setup(
    found: StudyJob,
    worker_name: str,
    counter: dict[str, int],
    wait: bool,
    poll: float,
    max_trials: int | None,
    beats: tuple[int | None, int | None],
) -> tuple[optuna.Study, StudyJob]:
    """Run trials of ``found``'s study (its job as its setup for workers describes it) until it
    is done, counting them in ``counter["ran"]``; when its setup changes meanwhile (a run set
    up again: ``hyperlab tune --create-only`` with other heartbeat settings, say), the study is
    joined again as the new setup describes it (the worker's own heartbeat settings, ``beats``,
    kept). Returns the study and the job it last ran."""

    def tick() -> None:
        counter["ran"] += 1

    while True:
        job = with_heartbeats(found, *beats)
        left = None if max_trials is None else max_trials - counter["ran"]
        study = run_job(
            job,
            worker=worker_index(worker_name),
            worker_name=worker_name,
            follow_setup=True,
            built_from=found,
            owner=False,
            wait=wait,
            poll=poll,
            max_trials=left,
            on_trial=tick,
        )
        with storage_failures(found.storage, "read the study in"):
            changed = setup_changes(study, found)
            setup = study.user_attrs.get(SETUP_ATTR)
        now = job_from_setup(setup, found.study_name, found.storage)
        spent = max_trials is not None and counter["ran"] >= max_trials
        if not changed or now is None or spent:
            return study, job
        logging.getLogger(__name__).warning(
            "%s: the setup of study %r changed (%s): going on with the new one",
            worker_name,
            found.study_name,
            ", ".join(changed),
        )
        if _beats(with_heartbeats(now, *beats)) != _beats(job):
            release_connections(study)  # (the storage opened for the new beats is another)
        found = now


def _beats(job: StudyJob) -> tuple[int | None, int | None]:
    return job.heartbeat_interval, job.grace_period


def study_states(study: optuna.Study) -> dict[str, Any]:
    """Counts of trials per state (for logs and tests)."""
    out: dict[str, Any] = {}
    for t in study.get_trials(deepcopy=False):
        out[t.state.name] = out.get(t.state.name, 0) + 1
    return out


def prepare_run(
    plan: RunPlan,
    runs_dir: str | Path,
    *,
    overwrite: bool = False,
    heartbeat_interval: int | None = None,
    grace_period: int | None = None,
) -> tuple[RunDir, list[StudyJob]]:
    """Prepare a run for workers: its run folder and its created, described studies.

    Without a storage URL in the plan, the run folder's journal file is used (safe for
    several local processes).

    Returns:
        The run folder and the jobs (with heartbeats on).
    """
    from hyperlab.lab.execute import start_run
    from hyperlab.lab.storage_settings import default_storage

    if not plan.spec.storage:
        plan.spec.storage = default_storage(Path(runs_dir) / plan.spec.name, jobs=2)
    for job in plan.jobs()[:1]:  # bad heartbeat settings fail before the folder is touched
        with_heartbeats(job, heartbeat_interval, grace_period)
    run_dir = start_run(plan, runs_dir, overwrite=overwrite)
    jobs = [with_heartbeats(j, heartbeat_interval, grace_period) for j in plan.jobs()]
    create_studies(jobs)
    return run_dir, jobs


@dataclasses.dataclass(frozen=True)
class LiveTrial:
    """A trial a worker is running now: it beat within its study's grace period.

    Attributes:
        study: The study's name (empty when the storage could not be read: see ``number``).
        number: The trial's number in it (its heartbeat file's name when ``study`` is empty).
        age: Seconds since its last heartbeat (since its start, before the first).
        grace: The grace period it was judged by (seconds): it stops counting as running once
            ``age`` passes it.
    """

    study: str
    number: int
    age: float
    grace: float = DEFAULT_GRACE

    def describe(self) -> str:
        if not self.study:
            return f"a trial whose heartbeat file {self.number} was touched {self.age:.0f} s ago"
        return f"trial {self.number} of study {self.study!r}, last heartbeat {self.age:.0f} s ago"


def live_trials(
    storage: str,
    names: set[str] | None = None,
    *,
    read: bool = True,
    opened: optuna.storages.BaseStorage | None = None,
) -> list[LiveTrial]:
    """The trials that workers are running now in ``storage`` (in the studies ``names``).

    Only studies set up for workers (``hyperlab tune --create-only``, ``--dask``) keep
    heartbeats; a running trial there is live while it beat within the study's grace period.
    A trial left running by a killed process, or in a study without heartbeats, is not live.
    A journal that does not open (damaged), or is not to be opened (``read=False``: opening
    would repair a cut last line), is judged by its heartbeat files alone, each trial by the
    grace period its worker recorded in the journal's lines (read as text), else the default;
    with ``read=False`` a SQLite file is read for its heartbeats and its trials' grace periods
    alone, read-only (opening it through Optuna could write into it); a database that does not
    open has no live trials that can be seen. ``opened``: the storage of ``storage``, open already.
    """
    path = storage_file(storage)
    folder = beats_folder(path) if path is not None and storage.startswith("journal:") else None
    if not read and folder is None:
        beats = fresh_sqlite_beats(path, DEFAULT_GRACE) if path is not None else []
        return [LiveTrial(*beat) for beat in beats]
    if read:
        try:
            opened = opened or open_storage(storage, must_exist=True)
            return _live_in(opened, names, folder)
        except HyperlabError:
            pass  # (damaged: a journal is judged by its files below)
    files = fresh_beat_files(folder, DEFAULT_GRACE, path) if folder is not None else {}
    return [LiveTrial("", trial_id, age, grace) for trial_id, (age, grace) in files.items()]


def _live_in(
    storage: optuna.storages.BaseStorage, names: set[str] | None, folder: Path | None
) -> list[LiveTrial]:
    out = []
    for frozen in storage.get_all_studies():
        setup = frozen.user_attrs.get(SETUP_ATTR)
        if (names is not None and frozen.study_name not in names) or not isinstance(setup, dict):
            continue
        if not setup.get("heartbeat_interval"):
            continue
        grace = float(setup.get("grace_period") or DEFAULT_GRACE)
        ages = beat_ages(storage, frozen._study_id, folder)
        graces = _graces(storage, frozen._study_id, grace)
        judged = [(n, age, graces.get(n, grace)) for n, age in sorted(ages.items())]
        out += [LiveTrial(frozen.study_name, n, age, g) for n, age, g in judged if age <= g]
    return out


def _graces(
    storage: optuna.storages.BaseStorage, study_id: int, default: float
) -> dict[int, float]:
    """The grace period each running trial of the study is judged by, by number: its own
    worker's (a worker may beat less often than the study's setup says), else ``default``."""
    running = storage.get_all_trials(study_id, deepcopy=False, states=(TrialState.RUNNING,))
    return {t.number: own_grace(t, float(default)) for t in running}


def workers_running_error(storage: str, live: list[LiveTrial], doing: str) -> RunInUseError:
    """The error for ``doing`` (what was refused) while workers run trials of ``storage``."""
    many = len(live) > 1
    return RunInUseError(
        f"cannot {doing}: workers are running {len(live)} trial{'s' if many else ''} in "
        f"{redact(storage)!r} now ({live[0].describe()}{' and more' if many else ''}); stop "
        "the `hyperlab worker` processes first (Ctrl-C or SIGTERM: each queues its trial "
        "again), or wait until they are done; a trial whose process was killed stops counting "
        f"{max(t.grace for t in live):.0f} s after its last heartbeat (the grace period)"
    )
