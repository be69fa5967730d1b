"""A tuner panel's cache reuses a run only where it was made as the command would make it now.

A cached run was keyed by task, label, seed and trials alone: after a tuner's options changed
under the same label (``--options``, a default of hyperlab's, another weights file), the old
runs were reused without a word and mixed into the new table.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import optuna
import pytest

from hyperlab.lab.panel import append_run, load_runs, run_study
from hyperlab.lab.panel_cache import MADE_WITH, differences, made_with, reusable
from hyperlab.tuners.classic import tpe
from hyperlab.tuners.meta import weights
from tests.modules import load_script


def _load(relative: str) -> ModuleType:
    return load_script(relative)


def _sha256(path: Path) -> str:
    return "sha256:" + hashlib.sha256(path.read_bytes()).hexdigest()


def _lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def _tpe_default(monkeypatch: pytest.MonkeyPatch, constant_liar: bool) -> None:
    """Make ``constant_liar`` hyperlab's default for ``tpe``, as an older release had it."""
    assert tpe.__kwdefaults__ is not None
    monkeypatch.setitem(tpe.__kwdefaults__, "constant_liar", constant_liar)


def test_a_run_records_its_options_with_defaults_and_its_files_contents(tmp_path: Path) -> None:
    run = run_study("branin", "tpe", seed=0, trials=2, options={"planned_trials": 2})
    assert run[MADE_WITH]["tuner"] == {"tpe": {"constant_liar": True, "pruner_predictions": False}}
    assert run[MADE_WITH]["task"] == {"branin": {}} and run[MADE_WITH]["pruner"] == {}
    shipped = made_with("branin", "meta")  # weights_path left at None: the shipped weights
    assert shipped["tuner"]["meta"]["weights_path"] is None
    assert shipped["tuner file"] == {"meta": {"weights_path": _sha256(weights.PACKAGED / "pfn.pt")}}
    mine = tmp_path / "mine.pt"
    mine.write_bytes(b"one")
    before = made_with("branin", "meta", {"weights_path": str(mine)})
    assert before["tuner"]["meta"]["weights_path"] == str(mine)
    mine.write_bytes(b"two")  # the same path, written anew
    found = differences(before, made_with("branin", "meta", {"weights_path": str(mine)}))
    one, two = (hashlib.sha256(b).hexdigest()[:12] for b in (b"one", b"two"))
    assert found == [
        f"tuner 'meta' option weights_path names a file of other content (sha256:{one}..., "
        f"now sha256:{two}...)"
    ]


def test_what_differs_is_named_pruner_and_task_included() -> None:
    was = made_with("digits-mlp", "tpe", {"constant_liar": False}, "median", {})
    now = made_with("digits-mlp", "tpe", {}, "none", {}, {"max_epochs": 5})
    assert differences(was, was) == []
    assert differences(was, now) == [
        "pruner was 'median', now 'none'",
        "tuner 'tpe' option constant_liar was False, now True",
        "task 'digits-mlp' option max_epochs was 20, now 5",
    ]
    assert differences("garbled", now) == [
        "its record of the options that made it cannot be read ('garbled')"
    ]


def _plain(board: ModuleType, path: Path) -> Any:
    return board.run_panel(["branin"], ["random", "tpe"], 2, 3, path)


def _fidelity(board: ModuleType, path: Path) -> Any:
    return board.run_fidelity_panel(["branin"], ["random+none", "tpe+none"], 2, [3], path)


@pytest.mark.parametrize(("panel", "label"), [(_plain, "tpe"), (_fidelity, "tpe+none")])
def test_a_panel_runs_again_what_an_older_default_made_and_says_so(
    panel: Callable[[ModuleType, Path], Any],
    label: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """TPE's default changed since the cache was written: its runs ran again, random's did not."""
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    board = _load("benchmarks/leaderboard.py")
    cache = tmp_path / "board.partial.jsonl"
    _tpe_default(monkeypatch, False)
    panel(board, cache)
    monkeypatch.undo()
    capsys.readouterr()
    runs = panel(board, cache)
    out = capsys.readouterr().out
    assert (
        f"{label}: 2 cached runs set aside, not reused (the command runs again those it needs), made with other options: tuner 'tpe' "
        "option constant_liar was False, now True"
    ) in out
    assert out.count(" seed ") == 2 and "random" not in out  # random's reused
    lines = _lines(cache)
    assert [r["tuner"] for r in lines].count(label) == 4 and len(lines) == 6
    assert lines[-1][MADE_WITH]["tuner"]["tpe"]["constant_liar"] is True
    assert len(runs) == 4
    panel(board, cache)  # all made alike now: nothing runs, nothing is said
    assert capsys.readouterr().out == "" and len(_lines(cache)) == 6


def test_runs_cached_without_a_record_are_reused_with_one_notice(tmp_path: Path) -> None:
    cache = tmp_path / "old.partial.jsonl"
    with cache.open("a") as log:
        for tuner, seed in (("random", 0), ("tpe", 0), ("tpe", 1)):
            run = run_study("branin", tuner, seed, 3)
            del run[MADE_WITH]  # as the cache was written before the record was kept
            append_run(log, run)
        append_run(log, run_study("branin", "gp", 0, 3))  # not asked for: kept, not counted
    asked = {"random", "tpe"}
    kept, notes = reusable(
        load_runs(cache, 3), lambda t, u: made_with(t, u) if u in asked else None, cache
    )
    assert len(kept) == 4
    assert notes == [
        "cached runs with no record of the options that made them, reused as they are: "
        f"3 in {cache} (delete it to run them again)"
    ]


def test_the_meta_benchmark_runs_a_label_again_under_other_options(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``--tuners tpe --label tpe-x --options constant_liar=false``, then ``=true``: the
    second command reused the first one's runs."""
    bench = _load("benchmarks/meta_tuner.py")
    cache = tmp_path / "meta.partial.jsonl"
    with cache.open("a") as log:
        for seed in (100, 101):
            append_run(log, run_study("branin", "tpe", seed, 3, {"constant_liar": False}, "tpe-x"))
        append_run(log, run_study("branin", "random", 100, 3))
    same = bench._cached(cache, 3, {"tpe-x": "tpe"}, {"constant_liar": False})
    assert sorted(same) == [
        ("branin", "random", 100),
        ("branin", "tpe-x", 100),
        ("branin", "tpe-x", 101),
    ]
    assert capsys.readouterr().out == ""
    other = bench._cached(cache, 3, {"tpe-x": "tpe"}, {"constant_liar": True})
    assert list(other) == [("branin", "random", 100)]
    assert capsys.readouterr().out == (
        "tpe-x: 2 cached runs set aside, not reused (the command runs again those it needs), made with other options: tuner 'tpe' "
        "option constant_liar was False, now True\n"
    )


def test_the_meta_benchmark_writes_the_result_file_named_by_out_from_another_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A run from its own ``--cache`` with ``--out`` wrote nothing at all, without a word."""
    bench = _load("benchmarks/meta_tuner.py")
    out, cache = tmp_path / "fresh.json", tmp_path / "fresh.partial.jsonl"
    with cache.open("a") as log:  # (run here: the script's pool cannot pickle a test import)
        for seed in (100, 101):
            append_run(log, bench.run_tuner(("random", "random", {}, "branin", seed, 3)))
    argv = ["meta_tuner.py", "--tasks", "branin", "--tuners", "random", "--seeds", "2"]
    argv += ["--trials", "3", "--jobs", "1", "--cache", str(cache)]
    monkeypatch.setattr("sys.argv", [*argv, "--out", str(out)])
    bench.main()
    assert [r["seed"] for r in json.loads(out.read_text())["runs"]] == [100, 101]
    monkeypatch.setattr("sys.argv", argv)
    bench.main()
    assert f"no result file written: --cache {cache} names no --out" in capsys.readouterr().out
