"""Trials as Dask tasks on a local cluster of 2 worker processes, against shared storage."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import optuna
import pytest
from optuna.trial import TrialState

from hyperlab.cli import main
from hyperlab.errors import InputError
from hyperlab.lab.cluster import dask_jobs, parse_address, run_on_dask
from hyperlab.lab.rundir import load_studies
from hyperlab.lab.runner import StudyJob
from hyperlab.lab.storage import open_storage
from hyperlab.lab.workers import create_studies


def _cluster() -> Any:
    """A local cluster of 2 worker processes.

    Its workers are spawned (Dask's default), which costs each a fresh import of hyperlab and
    torch (~10 s on this busy machine), once; forking them from the test process is faster but
    can deadlock on locks held by the test process's other threads. One test uses it, so the
    cluster starts once even when pytest-xdist spreads the tests over processes.
    """
    from distributed import LocalCluster

    return LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        dashboard_address=None,
        silence_logs=40,
    )


@pytest.mark.slow
def test_dask_local_cluster(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from distributed import Client

    with _cluster() as cluster, Client(cluster) as client:
        client.wait_for_workers(2, timeout=120)
        _two_workers_two_studies(tmp_path, client)
        _cli_tune_dask(tmp_path, client.scheduler.address, capsys)
        _cli_tune_dask_always_failing(tmp_path, client.scheduler.address, capsys)


def _two_workers_two_studies(tmp_path: Path, client: Any) -> None:
    # journal only: the storage code paths are the same as the workers' (tested on PostgreSQL)
    storage_url = f"journal:{tmp_path / 'dask.journal'}"
    trials = 6
    jobs = [
        StudyJob(f"dk:tpe:none:seed{s}", storage_url, "branin", "tpe", "none", s, trials)
        for s in (0, 1)
    ]
    create_studies(jobs)
    run_on_dask(dask_jobs(jobs), client, poll=0.1)
    pids = set()
    for job in jobs:
        study = optuna.load_study(study_name=job.study_name, storage=open_storage(storage_url))
        complete = [t for t in study.trials if t.state == TrialState.COMPLETE]
        assert len(complete) == trials
        assert sorted(t.number for t in study.trials) == list(range(len(study.trials)))
        pids |= {t.user_attrs["worker"] for t in study.trials}
    # trials ran in the Dask workers (which of the two gets how many is up to the scheduler and
    # the machine's load, so the test does not insist that both got some)
    assert 1 <= len(pids) <= 2


def _cli_tune_dask(tmp_path: Path, address: str, capsys: pytest.CaptureFixture[str]) -> None:
    args = ["tune", "--task", "branin", "--trials", "4", "--name", "dl"]
    args += ["--runs-dir", str(tmp_path / "runs"), "--dask", address, "--no-progress"]
    assert main(args) == 0  # an existing cluster by address, as on a real one
    out = capsys.readouterr().out
    assert "after 4 trials" in out and "report:" in out
    assert (tmp_path / "runs" / "dl" / "study.journal").exists()  # the default shared storage


ALWAYS_FAILS = """
def objective(trial):
    trial.suggest_float("x", 0.0, 1.0)
    raise RuntimeError("the data are broken")
"""


def _cli_tune_dask_always_failing(
    tmp_path: Path, address: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """Each Dask task runs one trial: the run itself counts the failures and stops at
    max(10, trials), exit status 1, instead of failing trials until it is killed."""
    (tmp_path / "fails.py").write_text(ALWAYS_FAILS)
    args = ["tune", "--task", f"{tmp_path / 'fails.py'}:objective", "--trials", "4"]
    args += ["--name", "df", "--runs-dir", str(tmp_path / "runs"), "--dask", address]
    assert main([*args, "--no-progress"]) == 1  # no completed trial: the trials all failed
    assert "no completed trial" in capsys.readouterr().err
    storage = open_storage(f"journal:{tmp_path / 'runs' / 'df' / 'study.journal'}")
    study = optuna.load_study(study_name="df:tpe:none:seed0", storage=storage)
    assert study.user_attrs["stopped_by_failures"] is True
    assert 10 <= len(study.trials) <= 10 + 2  # the tasks in flight when it stopped end too


def test_bad_dask_address() -> None:
    with pytest.raises(InputError, match="local:0"):
        parse_address("local:0")
    with pytest.raises(InputError, match="scheduler address"):
        parse_address("")
    assert parse_address("local:3") == ("local", 3)
    assert parse_address("tcp://10.0.0.1:8786") == ("remote", 0)
    for portless in ("foo", "tcp://10.0.0.1"):  # Dask's own traceback before
        with pytest.raises(InputError, match=f"with its port .*got '{portless}'"):
            parse_address(portless)
    with pytest.raises(InputError, match=r"a port is in 1\.\.65535"):
        parse_address("tcp://127.0.0.1:99999")  # (it waited 30 s, then could not reach it)
    with pytest.raises(InputError, match="at most 256, got 'local:100000'"):
        parse_address("local:100000")


class _Client:
    """A Dask client of a cluster whose workers have 3 threads in all."""

    cluster = None

    def nthreads(self) -> dict[str, int]:
        return {"tcp://a:1": 1, "tcp://b:1": 2}

    def close(self) -> None:
        pass


def test_run_json_records_the_dask_tasks_kept_in_flight(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """run.json said ``"jobs": 2`` (or --jobs), while the run kept the cluster's threads'
    worth of tasks in flight (or --jobs where above 1)."""
    import json

    import hyperlab.lab.cluster as cluster

    used = []

    def run(jobs: Any, client: Any, *, in_flight: int) -> None:
        used.append(in_flight)
        raise KeyboardInterrupt  # (it stops here: the run itself is not the test's concern)

    monkeypatch.setattr(cluster, "connect", lambda address: _Client())
    monkeypatch.setattr(cluster, "run_on_dask", run)
    args = ["tune", "--task", "branin", "--trials", "3", "--name", "j", "--no-progress"]
    for jobs, expected in (("1", 3), ("5", 5)):
        argv = [*args, "--runs-dir", str(tmp_path), "--dask", "tcp://a:8786", "--jobs", jobs]
        assert main(argv) == 130
        assert json.loads((tmp_path / "j" / "run.json").read_text())["jobs"] == expected
        assert used.pop() == expected


def test_ctrl_c_of_a_local_dask_run_fails_and_requeues_what_its_workers_ran(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Its trials were left RUNNING until a heartbeat noticed them on the next run."""
    import hyperlab.lab.cluster as cluster

    def interrupted(jobs: Any, client: Any, **_: Any) -> None:
        study = optuna.load_study(
            study_name=jobs[0].study_name, storage=open_storage(jobs[0].storage)
        )
        study.ask({"x1": optuna.distributions.FloatDistribution(-5, 10)})  # a worker's trial
        raise KeyboardInterrupt

    monkeypatch.setattr(cluster, "connect", lambda address: _Client())
    monkeypatch.setattr(cluster, "run_on_dask", interrupted)
    args = ["tune", "--task", "branin", "--trials", "3", "--dask", "local:1", "--no-progress"]
    assert main([*args, "--name", "k", "--runs-dir", str(tmp_path)]) == 130
    study = load_studies(tmp_path / "k")[0][0]
    states = [t.state.name for t in study.trials]
    assert states == ["FAIL", "WAITING"]  # failed with its reason, its parameters queued again
    assert "interrupted by SIGINT" in study.trials[0].user_attrs["fail_reason"]


def test_dask_not_installed_names_the_extra(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Without the dask extra, --dask is refused by name with its install command (a
    ModuleNotFoundError traceback before), and no run folder is written."""
    import sys

    monkeypatch.setitem(sys.modules, "distributed", None)  # `import distributed` raises
    args = ["tune", "--task", "branin", "--trials", "2", "--name", "nd", "--no-progress"]
    assert main([*args, "--runs-dir", str(tmp_path / "runs"), "--dask", "local:1"]) == 2
    err = capsys.readouterr().err
    assert "needs the package 'distributed'" in err and "pip install 'hyperlab[dask]'" in err
    assert "Traceback" not in err
    assert not (tmp_path / "runs" / "nd").exists()
