"""``benchmarks/pbt.py`` reuses a cached run only where it was made as the command makes it now.

Its cache was keyed by task, arm, seed and budget alone: after ``--interval`` or a tuner's
default changed, the old runs were reused without a word and mixed into the new table.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from types import ModuleType
from typing import Any

import optuna
import pytest

from hyperlab.lab.panel_cache import MADE_WITH
from hyperlab.tuners.classic import tpe
from tests.modules import load_script


def _pbt() -> ModuleType:
    return load_script("benchmarks/pbt.py", "pbt_bench")


def _lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_a_changed_tuner_default_runs_the_arm_again_and_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    bench = _pbt()
    cache = tmp_path / "pbt.partial.jsonl"
    args = argparse.Namespace(
        tasks=["wine-mlp"], seeds=1, first_seed=0, arms=["asha", "tpe-median"], budget=2,
        interval=None, cache=cache,
    )  # fmt: skip
    assert tpe.__kwdefaults__ is not None
    monkeypatch.setitem(tpe.__kwdefaults__, "constant_liar", False)  # an older default
    bench.run_all(args)
    monkeypatch.undo()
    capsys.readouterr()
    rows = bench.run_all(args)
    out = capsys.readouterr().out
    assert out.splitlines()[0] == (
        "tpe-median: 1 cached run set aside, not reused (the command runs again those it needs), made with other options: tuner "
        "'tpe' option constant_liar was False, now True"
    )
    assert "wine-mlp tpe-median seed 0" in out and "asha" not in out.replace("tpe-median", "")
    lines = _lines(cache)
    assert [r["arm"] for r in lines] == ["asha", "tpe-median", "tpe-median"]
    assert lines[-1][MADE_WITH]["tuner"]["tpe"]["constant_liar"] is True
    assert lines[0][MADE_WITH]["pruner"] == {"asha": {}}
    assert [r["arm"] for r in rows] == ["asha", "tpe-median"]
    assert all(MADE_WITH not in r for r in rows)  # (the result file's rows stay as they were)
    bench.run_all(args)  # all made alike now: nothing runs, nothing is said
    assert capsys.readouterr().out == "" and len(_lines(cache)) == 3


def test_another_interval_sets_a_population_run_aside_and_old_lines_are_reused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bench = _pbt()
    cache = tmp_path / "pbt.partial.jsonl"
    made = bench.fingerprint("wine-mlp", "pbt-4", None)
    assert made["tuner"]["pbt"]["population"] == 4 and made["tuner"]["pbt"]["interval"] is None
    old = {"task": "wine-mlp", "arm": "pbt-4", "budget": 4, "best": 0.5}
    cache.write_text(
        "\n".join(
            [
                json.dumps({**old, "seed": 0, MADE_WITH: made}),
                json.dumps({**old, "seed": 1}),  # cached before the record was kept
                json.dumps({**old, "seed": 2, "budget": 8}),  # another budget: not this command's
                '{"task": "wine-mlp", "arm": "pbt',  # cut short by a kill
            ]
        )
    )

    def expected(task: str, arm: str) -> Any:
        return bench.fingerprint(task, arm, 1)

    kept = bench.cached_runs(cache, 4, expected)
    assert list(kept) == [("wine-mlp", "pbt-4", 1)]
    assert capsys.readouterr().out.splitlines() == [
        "pbt-4: 1 cached run set aside, not reused (the command runs again those it needs), "
        "made with other options: tuner 'pbt' option interval was None, now 1",
        "cached runs with no record of the options that made them, reused as they are: "
        f"1 in {cache} (delete it to run them again)",
    ]


def test_another_population_sets_a_cut_run_aside(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """ASHA's and TPE-median's runs are cut at the epochs of ``POPULATION`` members, which
    their record left out: a run cut at another population's epochs was reused as this
    command's. A population arm's own size is its tuner's option, which the constant leaves
    as it is; a cut run recorded before the constant was (cut at 8) is read as cut at 8."""
    bench = _pbt()
    cache = tmp_path / "pbt.partial.jsonl"
    cut = bench.fingerprint("wine-mlp", "asha", None)
    population = bench.fingerprint("wine-mlp", "pbt-4", None)
    before = {k: v for k, v in cut.items() if k != "benchmark"}
    old = {"task": "wine-mlp", "budget": 4, "best": 0.5}
    cache.write_text(
        "\n".join(
            [
                json.dumps({**old, "arm": "asha", "seed": 0, MADE_WITH: cut}),
                json.dumps({**old, "arm": "pbt-4", "seed": 0, MADE_WITH: population}),
                json.dumps({**old, "arm": "asha", "seed": 1, MADE_WITH: before}),
            ]
        )
    )

    def expected(task: str, arm: str) -> Any:
        return bench.fingerprint(task, arm, None)

    assert len(bench.cached_runs(cache, 4, expected)) == 3  # made as the command makes them
    assert capsys.readouterr().out == ""
    monkeypatch.setattr(bench, "POPULATION", 6)
    assert list(bench.cached_runs(cache, 4, expected)) == [("wine-mlp", "pbt-4", 0)]
    assert capsys.readouterr().out.splitlines() == [
        "asha: 2 cached runs set aside, not reused (the command runs again those it needs), "
        "made with other options: benchmark 'pbt.py' option population was 8, now 6"
    ]
    assert cut["benchmark"] == {"pbt.py": {"population": 8}} and "benchmark" not in population


def test_first_seed_runs_fresh_seeds_and_the_cache_and_rows_carry_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """``--first-seed N`` runs the seeds N.. N + seeds - 1 (a replication on seeds no earlier
    run used); each run is made with its own seed, cached and reported under it, and a
    smaller ``--seeds`` reads the cached seeds back without running them."""
    bench = _pbt()
    made: list[int] = []

    def fake(args: Any, task: str, arm: str, seed: int, tmp: Path) -> dict[str, Any]:
        made.append(seed)
        row = {"task": task, "arm": arm, "seed": seed, "budget": args.budget}
        return {**row, "best": seed / 1e4, "epochs": 16, "wall_seconds": 1.0}

    monkeypatch.setattr(bench, "_run_arm", fake)
    cache = tmp_path / "fresh.partial.jsonl"
    args = argparse.Namespace(
        tasks=["wine-mlp"], seeds=2, first_seed=1000, arms=["asha"], budget=2, interval=None,
        cache=cache,
    )  # fmt: skip
    rows = bench.run_all(args)
    assert made == [1000, 1001]
    assert [r["seed"] for r in rows] == [1000, 1001] == [r["seed"] for r in _lines(cache)]
    args.seeds = 1
    assert [r["seed"] for r in bench.run_all(args)] == [1000] and made == [1000, 1001]
    capsys.readouterr()
    monkeypatch.setattr("sys.argv", ["pbt.py", "--first-seed", "-1"])
    with pytest.raises(SystemExit):
        bench.main()
    assert "--first-seed: must be at least 0, got -1" in capsys.readouterr().err
