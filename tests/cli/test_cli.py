"""End-to-end CLI tests on tiny budgets."""

from __future__ import annotations

import json
import re
from pathlib import Path

import optuna
import pandas as pd
import pytest

from hyperlab.cli import main
from hyperlab.lab.rundir import load_studies


def run(*args: str) -> int:
    return main(list(args))


def test_list(capsys: pytest.CaptureFixture[str]) -> None:
    assert run("list") == 0
    out = capsys.readouterr().out
    for name in ("digits-mlp", "branin", "tpe", "ga", "hyperband", "median"):
        assert name in out


def test_experiment_help_lists_every_registered_experiment_with_its_line(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """`hyperlab experiment --help` named no experiment: only `hyperlab list` did. The names
    come from the registry, an experiment registered later included."""
    from hyperlab.registry import EXPERIMENTS, Entry

    late = Entry("late-study", lambda **_: None, "an experiment registered after the built-ins")
    monkeypatch.setitem(EXPERIMENTS._entries, late.name, late)
    for flag in ("--help", "-h"):
        with pytest.raises(SystemExit) as done:
            run("experiment", flag)
        assert done.value.code == 0
        out = capsys.readouterr().out
        assert out.index("--overwrite") < out.index("experiments:")  # after the options
        for entry in EXPERIMENTS.entries():
            assert f"\n  {entry.name:<22} {entry.description}\n" in out, entry.name
        assert "late-study" in out and "stn" in out


def test_the_top_level_help_does_not_load_the_experiments() -> None:
    """The experiments' names are read when `hyperlab experiment --help` is asked for, not when
    the parser is built (loading them imports every experiment)."""
    import subprocess
    import sys

    code = (
        "import sys; from hyperlab.cli import build_parser; build_parser().format_help(); "
        "print(sorted(m for m in sys.modules if m.startswith('hyperlab.experiments')))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and done.stdout.strip() == "[]", done.stderr


def test_tune_resume_and_report(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    base = [
        "tune",
        "--task",
        "branin",
        "--tuner",
        "random",
        "--runs-dir",
        str(tmp_path),
        "--name",
        "b",
        "--no-progress",
    ]
    assert run(*base, "--trials", "4") == 0
    out = capsys.readouterr().out
    assert "best value" in out and "best configuration" in out and "x0=" in out
    # resume: same command with more trials continues the same study
    assert run(*base, "--trials", "6") == 0
    study = load_studies(tmp_path / "b")[0][0]
    assert len(study.trials) == 6
    numbers = [t.number for t in study.trials]
    assert numbers == list(range(6))
    # rerunning at the same count adds nothing
    assert run(*base, "--trials", "6") == 0
    assert len(load_studies(tmp_path / "b")[0][0].trials) == 6
    # other settings conflict unless --overwrite
    assert run(*base[:-1], "--trials", "3", "--seed", "5", "--no-progress") == 2
    assert "--overwrite" in capsys.readouterr().err
    assert run(*base, "--trials", "3", "--seed", "5", "--overwrite") == 0
    assert len(load_studies(tmp_path / "b")[0][0].trials) == 3
    assert run("report", str(tmp_path / "b")) == 0
    html = (tmp_path / "b" / "report.html").read_text()
    assert "Optimization history" in html
    spec = json.loads((tmp_path / "b" / "run.json").read_text())
    assert spec["seeds"] == [5] and "optuna" in spec["versions"]


def test_tune_mlp_records_curves_and_test_score(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert (
        run(
            "tune",
            "--task",
            "wine-mlp",
            "--tuner",
            "tpe",
            "--trials",
            "3",
            "--budget",
            "2",
            "--runs-dir",
            str(tmp_path),
            "--name",
            "w",
            "--no-progress",
        )
        == 0
    )
    out = capsys.readouterr().out
    assert re.search(r"best value \(minimized\): [\d.]+ ± [\d.e-]+ \(CV standard error\)", out)
    assert "held-out test score" in out
    study = load_studies(tmp_path / "w")[0][0]
    t = study.best_trial
    assert len(t.user_attrs["curves"]["val_loss"]) == 2
    assert t.user_attrs["std_err"] > 0
    assert sorted(t.intermediate_values) == [1, 2]
    assert study.user_attrs["test_score"]["trial"] == t.number


def test_compare_writes_csv_and_report(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert (
        run(
            "compare",
            "--task",
            "branin",
            "--tuners",
            "random,tpe",
            "--seeds",
            "2",
            "--trials",
            "5",
            "--runs-dir",
            str(tmp_path),
            "--name",
            "c",
            "--no-progress",
        )
        == 0
    )
    out = capsys.readouterr().out
    assert "tpe vs random" in out
    df = pd.read_csv(tmp_path / "c" / "results.csv")
    assert len(df) == 2 * 2 * 5
    assert {"tuner", "seed", "trial", "value", "std_err", "budget", "wall_time", "param_x0"} <= set(
        df.columns
    )
    assert (df.groupby(["tuner", "seed"]).size() == 5).all()
    assert df["regret"].min() >= 0
    html = (tmp_path / "c" / "report.html").read_text()
    for section in ("Best so far", "Final values", "Summary", "tpe vs random"):
        assert section in html
    # self-contained: no script or stylesheet loaded from elsewhere
    assert not re.search(r"<script[^>]+src=", html)
    assert not re.search(r"<link[^>]+href=['\"]?https?:", html)
    assert html.count("plotly.js v") <= 2  # one embedded copy (the banner may repeat once)
    # the report is rebuilt from storage alone
    (tmp_path / "c" / "report.html").unlink()
    assert run("report", str(tmp_path / "c")) == 0
    assert (tmp_path / "c" / "report.html").exists()


@pytest.mark.slow
def test_compare_with_jobs_and_pruners(tmp_path: Path) -> None:
    assert (
        run(
            "compare",
            "--task",
            "wine-mlp",
            "--tuners",
            "random",
            "--pruners",
            "none,median",
            "--seeds",
            "2",
            "--trials",
            "6",  # more than the 5 complete trials the median rule waits for
            "--budget",
            "2",
            "--jobs",
            "2",
            "--runs-dir",
            str(tmp_path),
            "--name",
            "p",
            "--no-progress",
        )
        == 0
    )
    df = pd.read_csv(tmp_path / "p" / "results.csv")
    assert set(df["pruner"]) == {"none", "median"}
    assert len(df[df.state.isin(["COMPLETE", "PRUNED"])]) == 2 * 2 * 6
    html = (tmp_path / "p" / "report.html").read_text()
    assert "random+median" in html


@pytest.mark.slow
def test_tune_two_processes_share_one_study(tmp_path: Path) -> None:
    assert (
        run(
            "tune",
            "--task",
            "branin",
            "--tuner",
            "tpe",
            "--trials",
            "8",
            "--jobs",
            "2",
            "--runs-dir",
            str(tmp_path),
            "--name",
            "j",
            "--no-progress",
        )
        == 0
    )
    spec = json.loads((tmp_path / "j" / "run.json").read_text())
    assert spec["storage"].startswith("journal:")
    study = load_studies(tmp_path / "j")[0][0]
    done = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    assert len(done) == 8  # the workers claim trials, so the count is exact
    assert len({t.number for t in study.trials}) == len(study.trials)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["tune", "--task", "nope", "--tuner", "tpe"], "known tasks"),
        (["tune", "--task", "branin", "--tuner", "nope"], "known tuners"),
        (["tune", "--task", "branin", "--pruner", "nope"], "known pruners"),
        (["tune", "--task", "branin", "--trials", "0"], "trials must be a positive integer"),
        (["tune", "--task", "branin", "--jobs", "-1"], "jobs must be a positive integer"),
        (["compare", "--task", "branin", "--seeds", "0"], "seeds must be a positive integer"),
        (["tune", "--task", "branin", "--storage", "not a url"], "malformed storage URL"),
        (
            ["tune", "--task", "branin", "--storage", "postgresql://u:hunter2@127.0.0.1:1/x"],
            "cannot open storage",
        ),
        (["report", "/nonexistent/run"], "does not exist"),
        (["tune", "--task", "wine-mlp", "--budget", "999"], "budget must be at most"),
    ],
)
def test_bad_input_is_a_clear_error(
    args: list[str], message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(*args, *(["--runs-dir", str(tmp_path)] if args[0] != "report" else [])) == 2
    err = capsys.readouterr().err
    assert message in err
    assert "Traceback" not in err
    assert "hunter2" not in err


def test_version_and_python_dash_m() -> None:
    import subprocess
    import sys

    import hyperlab

    done = subprocess.run(
        [sys.executable, "-m", "hyperlab", "--version"], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0 and done.stdout.strip() == f"hyperlab {hyperlab.__version__}"


def test_a_warning_during_a_progress_bar_is_printed_on_lines_of_its_own(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A warning printed plainly ran into the progress bar's line (the bar ends in no newline)."""
    import sys

    from tqdm import tqdm

    from hyperlab.cli import _one_line_warning

    with tqdm(total=3, file=sys.stderr, desc="study", mininterval=0) as bar:
        bar.update(1)
        sys.stderr.write(_one_line_warning(UserWarning("careful"), UserWarning, "x.py", 1))
        bar.update(1)
    shown = [line.split("\r")[-1] for line in capsys.readouterr().err.split("\n")]
    assert any(line.endswith("careful") and "study" not in line for line in shown)
    assert not _one_line_warning(UserWarning("calm"), UserWarning, "x.py", 1).startswith("\n")


@pytest.mark.parametrize("command", ["experiment", "report", "tune"])
def test_ctrl_c_promises_a_resume_only_where_trials_resume(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    command: str,
) -> None:
    """Every command said 'finished trials are saved, run the same command again to resume',
    also those that run no trial (report) or start over (experiment)."""
    import importlib

    def interrupted(args: object) -> int:
        raise KeyboardInterrupt

    monkeypatch.setattr(importlib.import_module(f"hyperlab.cli.{command}"), "run", interrupted)
    argv = {"experiment": ["self-lr"], "report": [str(tmp_path)], "tune": ["--task", "branin"]}
    assert main([command, *argv[command]]) == 130
    err = capsys.readouterr().err
    assert err.startswith(f"hyperlab {command}: interrupted")
    assert ("run the same command again to resume" in err) == (command == "tune")
