"""Every bad input gives a clean error: exit status 2, the bad value named, no traceback."""

from __future__ import annotations

import concurrent.futures
import json
import os
import subprocess
import sys
from concurrent.futures import Future
from pathlib import Path
from typing import Any

import pytest

from hyperlab.cli import main
from hyperlab.lab import processes
from hyperlab.lab.rundir import load_studies
from hyperlab.registry import TASKS, Entry
from hyperlab.tasks.base import EpochCallback, Evaluation
from hyperlab.tasks.synthetic import Branin


def run(*args: str) -> int:
    return main(list(args))


def tune_args(runs_dir: Path, *more: str, task: str = "branin", name: str = "b") -> list[str]:
    return [
        "tune",
        "--task",
        task,
        "--runs-dir",
        str(runs_dir),
        "--name",
        name,
        "--no-progress",
        *more,
    ]


def clean_error(capsys: pytest.CaptureFixture[str], code: int, *named: str) -> str:
    """Assert a clean exit 2 whose message names every string of ``named``; return it."""
    out = capsys.readouterr()
    assert code == 2, out
    assert "Traceback" not in out.out + out.err
    assert "error:" in out.err
    for text in named:
        assert text in out.err, (text, out.err)
    return out.err


@pytest.mark.parametrize("seed", ["-5", "4294967296"])
def test_seed_out_of_range(tmp_path: Path, capsys: pytest.CaptureFixture[str], seed: str) -> None:
    code = run(*tune_args(tmp_path, "--trials", "2", "--seed", seed))
    clean_error(capsys, code, seed, "4294967295")
    assert not (tmp_path / "b").exists()


def test_a_seed_count_past_the_bound_is_refused_not_a_memory_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["compare", "--task", "branin", "--trials", "2", "--runs-dir", str(tmp_path)]
    code = run(*argv, "--seeds", "99999999999999999", "--name", "c")
    clean_error(capsys, code, "99999999999999999", "at most 10000")
    assert not (tmp_path / "c").exists()


def test_unknown_task_option_lists_the_options(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = run(*tune_args(tmp_path, "--task-option", "bogus=1", task="wine-mlp"))
    clean_error(capsys, code, "'bogus'", "n_folds", "test_fraction", "max_epochs")
    assert not (tmp_path / "b").exists()


def test_bad_task_option_value(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = run(*tune_args(tmp_path, "--task-option", "test_fraction=abc", task="wine-mlp"))
    clean_error(capsys, code, "test_fraction", "'abc'")


def test_task_factory_type_error_is_an_input_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def picky(*, size: int = 1) -> Branin:
        range(size)  # a plain TypeError for a size that is not an int
        return Branin()

    TASKS.names()  # load the built-in entries first
    monkeypatch.setitem(TASKS._entries, "picky", Entry("picky", picky, "test"))
    code = run(*tune_args(tmp_path, "--task-option", "size=x", task="picky"))
    clean_error(capsys, code, "picky", "'x'")


@pytest.mark.parametrize(
    ("tuner", "option", "named"),
    [("grid", "points=0", "points"), ("ga", "population_size=0", "population_size")],
)
def test_bad_tuner_option_value(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], tuner: str, option: str, named: str
) -> None:
    code = run(*tune_args(tmp_path, "--tuner", tuner, "--tuner-option", option))
    clean_error(capsys, code, named, "0")
    assert not (tmp_path / "b").exists()


@pytest.mark.parametrize(
    ("tuner", "option"),
    [
        ("diagnosis", "min_step=None"),
        ("diagnosis", "use_model=null"),
        ("neural", "warn_independent_sampling=None"),
        ("tpe", "constant_liar=None"),
    ],
)
def test_none_tuner_option_refused_by_a_tuner_that_needs_a_value(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], tuner: str, option: str
) -> None:
    code = run(*tune_args(tmp_path, "--tuner", tuner, "--tuner-option", option))
    clean_error(capsys, code, option.split("=")[0], "None")
    assert not (tmp_path / "b").exists()


def test_none_tuner_option_reaches_a_tuner_that_takes_it() -> None:
    from hyperlab.lab.plan import make_plan
    from hyperlab.registry import parse_options

    options = parse_options(["n_startup=None"])
    plan = make_plan(
        "tune",
        "branin",
        name="b",
        tuners=["neural"],
        pruners=["none"],
        seeds=[0],
        trials=5,
        tuner_options=options,
    )
    assert plan.spec.tuner_options == {"n_startup": None}


def test_diagnose_binary_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "curves.csv"
    path.write_bytes(bytes(range(128, 256)) * 4)
    clean_error(capsys, run("diagnose", str(path)), str(path), "UTF-8")


def test_diagnose_figure_into_a_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "curves.csv"
    rows = [f"{e},{2.0 / e},{2.1 / e}" for e in range(1, 8)]
    path.write_text("epoch,train_loss,val_loss\n" + "\n".join(rows) + "\n")
    clean_error(capsys, run("diagnose", str(path), "--out", str(tmp_path)), str(tmp_path))


def _make_run(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    assert run(*tune_args(tmp_path, "--trials", "2")) == 0
    capsys.readouterr()
    return tmp_path / "b"


@pytest.mark.parametrize(
    ("damage", "named"),
    [
        (lambda spec: {}, ["missing keys", "'kind'", "'seeds'", "'trials'"]),
        (lambda spec: [spec], ["JSON object", "list"]),
        (lambda spec: {**spec, "trials": "many", "seeds": 0}, ["trials", "'many'", "seeds"]),
        (lambda spec: {k: v for k, v in spec.items() if k != "tuners"}, ["'tuners'"]),
    ],
)
@pytest.mark.parametrize("command", ["report", "tune"])
def test_damaged_run_json(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    damage: Any,
    named: list[str],
    command: str,
) -> None:
    run_dir = _make_run(tmp_path, capsys)
    spec_file = run_dir / "run.json"
    spec_file.write_text(json.dumps(damage(json.loads(spec_file.read_text()))))
    if command == "report":
        code = run("report", str(run_dir))
    else:
        code = run(*tune_args(tmp_path, "--trials", "3"))
    clean_error(capsys, code, str(spec_file), *named)


def test_report_of_a_missing_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "nonexist"
    err = clean_error(capsys, run("report", str(missing)), str(missing), "does not exist")
    assert "run.json" not in err


@pytest.mark.parametrize("command", ["report", "diagnose"])
def test_run_whose_storage_was_deleted(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], command: str
) -> None:
    run_dir = _make_run(tmp_path, capsys)
    for path in run_dir.glob("study.db*"):
        path.unlink()
    args = [command, str(run_dir)] + (["--trial", "0"] if command == "diagnose" else [])
    clean_error(capsys, run(*args), "no such storage file", str(run_dir / "study.db"))
    assert not list(run_dir.glob("study.db*"))  # nothing created


@pytest.mark.parametrize("below", ["", "sub"])
@pytest.mark.parametrize("command", ["tune", "compare"])
def test_runs_dir_that_is_a_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], command: str, below: str
) -> None:
    blocking = tmp_path / "afile"
    blocking.write_text("mine\n")
    runs_dir = blocking / below if below else blocking
    args = ["--task", "branin", "--trials", "2", "--runs-dir", str(runs_dir), "--no-progress"]
    more = ["--tuner", "random"] if command == "tune" else ["--tuners", "random", "--seeds", "1"]
    err = clean_error(capsys, run(command, *args, *more), f"{str(blocking)!r} is a file")
    assert str(runs_dir) in err and "Errno" not in err
    assert blocking.read_text() == "mine\n"


@pytest.mark.parametrize("task", ["wine-mlp", "branin"])
def test_data_dir_for_a_task_that_reads_none(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, task: str
) -> None:
    monkeypatch.setenv("HYPERLAB_DATA", "before")  # restored (absent or not) after the test
    monkeypatch.delenv("HYPERLAB_DATA")
    code = run(*tune_args(tmp_path, "--data-dir", str(tmp_path), task=task))
    clean_error(capsys, code, f"--data-dir {str(tmp_path)!r}", f"task {task!r}", "lcbench-<id>")
    assert "HYPERLAB_DATA" not in os.environ and not (tmp_path / "b").exists()


def test_data_dir_beside_the_task_option_data_dir_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    option = ["--task-option", f"data_dir={tmp_path}", "--tuner", "random", "--trials", "2"]
    code = run(*tune_args(tmp_path, *option, "--data-dir", "/elsewhere", task="lcbench-3945"))
    clean_error(capsys, code, "--data-dir '/elsewhere' would be ignored", f"data_dir={tmp_path}")
    assert not (tmp_path / "b").exists()


def test_data_dir_reaches_the_tasks_that_read_it(monkeypatch: pytest.MonkeyPatch) -> None:
    import argparse

    from hyperlab.cli._common import apply_data_dir, run_tasks

    monkeypatch.setenv("HYPERLAB_DATA", "before")  # restored (absent or not) after the test
    monkeypatch.delenv("HYPERLAB_DATA")
    args = argparse.Namespace(
        task="branin", data_dir="/data", tuner_option=[], pruner_option=["pretrain=lcbench-3945"]
    )
    names = run_tasks(args, ["random"], ["none", "curve"])
    assert names == ["branin", "lcbench-3945"]  # the task a pruner pretrains on reads it
    apply_data_dir(args, names)
    assert os.environ["HYPERLAB_DATA"] == "/data"
    monkeypatch.delenv("HYPERLAB_DATA")
    apply_data_dir(argparse.Namespace(data_dir="/own"), ["my_code:objective"])  # may read it
    assert os.environ["HYPERLAB_DATA"] == "/own"


def _plugin_task(size: int = 3) -> Any:  # a plug-in's factory with options of its own
    return TASKS.create("branin")


def test_data_dir_is_left_to_a_plugin_task(monkeypatch: pytest.MonkeyPatch) -> None:
    """A task another package registers may read HYPERLAB_DATA itself: not refused."""
    import argparse

    from hyperlab.cli._common import apply_data_dir

    monkeypatch.setitem(TASKS._entries, "plugin-ut", Entry("plugin-ut", _plugin_task, "test"))
    assert not TASKS.is_builtin("plugin-ut") and TASKS.is_builtin("wine-mlp")
    monkeypatch.setenv("HYPERLAB_DATA", "before")
    apply_data_dir(argparse.Namespace(data_dir="/plugin"), ["plugin-ut"])
    assert os.environ["HYPERLAB_DATA"] == "/plugin"


def test_broken_pipe_is_quiet(tmp_path: Path) -> None:
    path = tmp_path / "curves.csv"
    rows = [f"{e},{2.0 / e},{2.1 / e}" for e in range(1, 8)]
    path.write_text("epoch,train_loss,val_loss\n" + "\n".join(rows) + "\n")
    read_end, write_end = os.pipe()
    os.close(read_end)  # the reader is gone before a byte is written, as after `| head -c 10`
    try:
        proc = subprocess.run(
            [
                sys.executable,
                "-c",
                "import sys; from hyperlab.cli import main; sys.exit(main())",
                "diagnose",
                str(path),
                "--json",
                "--no-html",
            ],
            stdout=write_end,
            stderr=subprocess.PIPE,
            text=True,
            timeout=300,
        )
    finally:
        os.close(write_end)
    assert "Traceback" not in proc.stderr
    assert "BrokenPipeError" not in proc.stderr
    assert proc.returncode == 141, proc.stderr


def test_task_settings_checked_before_any_trial(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = run(
        *tune_args(tmp_path, "--trials", "2", "--task-option", "n_folds=100", task="wine-mlp")
    )
    clean_error(capsys, code, "n_folds", "100")
    assert not (tmp_path / "b").exists()  # nothing stored


class _AlwaysFails(Branin):
    name = "always-fails"

    def _evaluate(
        self, config: dict[str, Any], budget: int, seed: int, on_epoch: EpochCallback | None
    ) -> Evaluation:
        raise RuntimeError("the simulator is unplugged")


def test_all_failed_names_the_first_reason(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    TASKS.names()  # load the built-in entries first
    entry = Entry("always-fails", _AlwaysFails, "test")
    monkeypatch.setitem(TASKS._entries, "always-fails", entry)
    code = run(*tune_args(tmp_path, "--trials", "2", task="always-fails"))
    out = capsys.readouterr()
    assert code == 1 and "Traceback" not in out.err  # it ran: not refused input (exit 2)
    for text in ("no completed trial", "trial 0", "the simulator is unplugged", "Failed trials"):
        assert text in out.err


class _FakeProcess:
    def __init__(self, target: Any, args: tuple[Any, ...]) -> None:
        self.pid: int | None = None
        self.exitcode: int | None = None

    def start(self) -> None:
        self.pid, self.exitcode = 0, 0

    def is_alive(self) -> bool:
        return False

    def join(self, timeout: float | None = None) -> None:
        return None

    def terminate(self) -> None:
        return None

    def kill(self) -> None:
        return None


def test_jobs_beyond_the_trials_left_start_no_idle_process(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert run(*tune_args(tmp_path, "--trials", "2")) == 0
    started: list[_FakeProcess] = []

    class Context:
        def Process(self, target: Any, args: tuple[Any, ...]) -> _FakeProcess:
            started.append(_FakeProcess(target, args))
            return started[-1]

    monkeypatch.setattr(processes, "mp", type("mp", (), {"get_context": lambda _m: Context()}))
    assert run(*tune_args(tmp_path, "--trials", "3", "--jobs", "4")) == 0
    assert len(started) == 1  # one trial left: one process, not four


def test_pool_no_larger_than_the_studies_left(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    base = ["compare", "--task", "branin", "--tuners", "random,tpe", "--seeds", "1"]
    base += ["--runs-dir", str(tmp_path), "--name", "c", "--no-progress"]
    assert run(*base, "--trials", "2") == 0
    sizes: list[int] = []

    class Pool:
        def __init__(self, max_workers: int, **_: Any) -> None:
            sizes.append(max_workers)
            self._processes: dict[int, Any] = {}

        def submit(self, fn: Any, *args: Any) -> Future[bool]:
            done: Future[bool] = Future()
            done.set_result(False)  # the studies are not run: only the pool's size matters
            return done

        def shutdown(self, wait: bool = True, cancel_futures: bool = False) -> None:
            return None

        def __enter__(self) -> Pool:
            return self

        def __exit__(self, *exc: Any) -> None:
            return None

    monkeypatch.setattr(concurrent.futures, "ProcessPoolExecutor", Pool)
    assert run(*base, "--trials", "3", "--jobs", "8") == 0
    assert sizes == [2]  # two studies left, not eight processes


def test_grid_stops_when_exhausted(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = tune_args(tmp_path, "--tuner", "grid", "--tuner-option", "points=2", "--trials", "7")
    assert run(*args) == 0
    out = capsys.readouterr().out
    assert "grid exhausted after 4 points (asked for 7 trials)" in out
    study = load_studies(tmp_path / "b")[0][0]
    assert len(study.trials) == 4
    params = {tuple(sorted(t.params.items())) for t in study.trials}
    assert len(params) == 4  # no point repeated


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["relax", "--seed", "-5"], "seed must be a whole number in 0..4294967295, got -5"),
        (["relax", "--seed", str(2**70)], f"got {2**70}"),
        (["relax", "relax"], "experiments ['relax'] are named more than once"),
    ],
)
def test_bad_experiment_input_is_refused_before_anything_runs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    out = tmp_path / "exp"
    assert run("experiment", *args, "--quick", "--out", str(out)) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert not out.exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--max-trials", "0"], "max_trials must be a positive whole number, got 0"),
        (["--max-trials", "-1"], "max_trials must be a positive whole number, got -1"),
        (["--heartbeat-interval", "10", "--grace-period", "1"], "at least twice"),
    ],
)
def test_bad_worker_input_is_refused_before_the_storage_is_touched(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    db = tmp_path / "shared.db"
    assert run("worker", "--name", "w", "--storage", f"sqlite:///{db}", *args) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert not db.exists()


def test_a_portless_dask_address_is_refused_before_anything_is_written(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = run(*tune_args(tmp_path, "--trials", "3", "--dask", "foo"))
    clean_error(capsys, code, "'foo'", "port")
    assert not (tmp_path / "b").exists()


def test_heartbeat_flags_are_checked_in_every_run_and_said_to_act_only_for_workers(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = run(*tune_args(tmp_path, "--trials", "2", "--heartbeat-interval", "-1"))
    clean_error(capsys, code, "heartbeat_interval must be a positive whole number", "-1")
    with pytest.warns(UserWarning, match="--grace-period act on studies made for workers"):
        assert run(*tune_args(tmp_path, "--trials", "2", "--grace-period", "60")) == 0


def test_jobs_with_create_only_is_said_to_have_no_effect(tmp_path: Path) -> None:
    """--create-only runs no trial, so its --jobs went unused without a word."""
    with pytest.warns(UserWarning, match="--jobs 3 has no effect with --create-only"):
        assert run(*tune_args(tmp_path, "--trials", "2", "--create-only", "--jobs", "3")) == 0


class _PrunesAll(Branin):
    name = "prunes-all"

    def _evaluate(
        self, config: dict[str, Any], budget: int, seed: int, on_epoch: EpochCallback | None
    ) -> Evaluation:
        import optuna

        raise optuna.TrialPruned()


def test_compare_exits_1_when_a_study_ends_with_no_completed_trial(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    TASKS.names()
    monkeypatch.setitem(TASKS._entries, "prunes-all", Entry("prunes-all", _PrunesAll, "test"))
    code = run(
        "compare", "--task", "prunes-all", "--tuners", "random", "--seeds", "2", "--trials", "2",
        "--runs-dir", str(tmp_path), "--name", "c", "--no-progress",
    )  # fmt: skip
    err = capsys.readouterr().err
    assert code == 1 and "ended with no completed trial" in err and "Traceback" not in err


def test_a_warning_of_the_users_own_code_keeps_its_file_and_line() -> None:
    """Every warning read "hyperlab: warning: ...", a user's own NumPy warning included,
    without the file and line that would find it."""
    from hyperlab.cli import _one_line_warning

    user = _one_line_warning("divide by zero", RuntimeWarning, "/home/me/train.py", 12, "y = a / b")
    assert user.startswith("/home/me/train.py:12: RuntimeWarning: divide by zero")
    import hyperlab.lab.processes as lab_processes

    ours = _one_line_warning("jobs ignored", UserWarning, lab_processes.__file__, 5)
    assert ours == "hyperlab: warning: jobs ignored\n"


def test_a_warning_raised_in_optunas_code_names_optuna_not_the_lab() -> None:
    """Optuna's deprecation of ``report_cross_validation_scores`` (raised in its own file on
    Python < 3.12) read "hyperlab: warning: ... deprecated", as if the lab's."""
    import optuna.terminator.erroreval as erroreval

    from hyperlab.cli import _one_line_warning

    said = "The `optuna.terminator` module has been deprecated"
    shown = _one_line_warning(said, FutureWarning, erroreval.__file__, 40)
    assert shown == f"optuna: warning: {said}\n"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["tune", "--task", "branin", "--bogus"], "hyperlab tune: error: unrecognized arguments"),
        (["tune", "--task", "branin", "--trials", "2", "--trials", "3"], "--trials given twice"),
        (["tune", "--task=branin", "--task=wine-mlp"], "--task given twice"),
        (["tune", "--task", "branin", "--stor", "a.db", "--storage", "b.db"], "(also as --stor)"),
        (["compare", "--task", "branin", "--pruner", "median", "--pruners", "asha"], "(also as"),
        (["tune", "--task", "branin", "--runs-dir", ""], "--runs-dir must not be empty"),
        (["report", ""], "RUN_DIR must not be empty"),
        (["diagnose", ""], "INPUT must not be empty"),
        (["diagnose", "curves.csv", "--out", ""], "--out must not be empty"),
        (["experiment", "relax", "--out", ""], "--out must not be empty"),
    ],
)
def test_what_argparse_lets_by_is_refused_by_the_subcommand(
    capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    """An unknown flag was reported with the top-level usage; a repeated one kept its last
    value in silence; an empty string meant the current folder."""
    assert run(*argv) == 2
    err = capsys.readouterr().err
    assert message in err and f"usage: hyperlab {argv[0]}" in err


def test_a_path_too_long_is_an_input_error_naming_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """It was ``[Errno 36] File name too long: ...`` with exit status 1, as a full disk is."""
    runs = tmp_path / ("y" * 300)
    code = run("tune", "--task", "branin", "--trials", "1", "--runs-dir", str(runs))
    err = clean_error(capsys, code, "File name too long", "y" * 300)
    assert "[Errno" not in err


@pytest.mark.parametrize("tuner", ["neural", "diagnosis"])
def test_an_objective_of_several_objectives_is_refused_at_its_first_trial(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], tuner: str
) -> None:
    """A run's study has one objective: the objective's pair of values is refused at trial 0
    (the tuners' own refusal of a study of several objectives is never reached here), saying
    what to do (it said only that the objective returns its score as a number)."""
    f = tmp_path / "f.py"
    f.write_text(
        "def objective(trial):\n    x = trial.suggest_float('x', 0, 1)\n    return x, 1 - x\n"
    )
    code = run(*tune_args(tmp_path, "--trials", "3", "--tuner", tuner, task=f"{f}:objective"))
    clean_error(
        capsys,
        code,
        "of type tuple, not a number (trial 0)",
        "hyperlab optimizes one score, and this objective returned 2 scores: combine them into "
        "one (a weighted sum, say) or, to trade them off against each other, run Optuna's "
        "NSGAIISampler on them directly",
    )
