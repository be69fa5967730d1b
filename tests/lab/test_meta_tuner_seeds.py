"""``benchmarks/meta_tuner.py --run-from-seed K`` with runs of seeds below K missing (never
made, or cached with other options and set aside) stopped its summary with a bare KeyError."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path
from types import ModuleType

import optuna
import pytest

from hyperlab.lab.panel import append_run, run_study
from tests.modules import ROOT, load_script


def _bench() -> ModuleType:
    return load_script("benchmarks/meta_tuner.py", "meta_tuner_bench")


def test_missing_seeds_below_run_from_seed_are_named_with_the_command_that_runs_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    bench = _bench()
    cache = tmp_path / "meta.partial.jsonl"
    with cache.open("a") as log:
        append_run(log, run_study("branin", "tpe", 100, 3, {"constant_liar": False}))  # stale
        append_run(log, run_study("branin", "tpe", 102, 3))  # seed 101: never run
    given = ["--tasks", "branin", "--tuners", "tpe", "--trials", "3", "--seeds", "3"]
    given += ["--cache", str(cache), "--compare", "tpe,gp"]
    script = str(ROOT / "benchmarks" / "meta_tuner.py")
    monkeypatch.setattr(sys, "argv", [script, *given, "--run-from-seed", "102"])
    with pytest.raises(SystemExit) as stop:
        bench.main()
    assert "set aside, not reused" in capsys.readouterr().out  # (what made seed 100 stale)
    assert str(stop.value) == (
        "cannot summarize: no reusable run of\n"
        "  branin tpe: seeds 100, 101\n"
        "  branin gp: seeds 100, 101, 102\n"
        "(seeds below --run-from-seed are not run by this command; a cached run set aside "
        "above counts as missing); fill them in with:\n"
        f"  {shlex.join([sys.executable, script, *given])}\n"
        "labels gp are not run by this command (--tuners/--label): run each with its own "
        "--tuners, --label and --options, and these --trials and --seeds"
    )


def test_the_command_that_fills_in_starts_at_the_lowest_missing_seed() -> None:
    bench = _bench()
    given = ["--seeds", "4", "--run-from-seed=103", "--jobs", "1"]
    assert bench._from_seed(given, 101) == ["--seeds", "4", "--jobs", "1", "--run-from-seed", "101"]
    assert bench._from_seed(["--run-from-seed", "103"], 100) == []  # the first seed: the default
