"""``benchmarks/leaderboard.py``: the reference named in advance, and ``--markdown`` computing a
result file's table again from its runs."""

from __future__ import annotations

import json
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from hyperlab.lab.leaderboard import PanelRun, leaderboard
from tests.modules import load_script


def _bench() -> ModuleType:
    return load_script("benchmarks/leaderboard.py", "leaderboard_bench")


def _runs(tuners: dict[str, float], cost: bool = False) -> list[PanelRun]:
    """Each tuner's 6 runs on 2 problems, 3 seeds: best loss ``final`` + seed / 100 after a
    start of ``final + 1`` (with a cost of 1 per trial where ``cost``)."""
    return [
        PanelRun(
            p, t, seed, [final + 1.0, final + seed / 100], wall_time=1.0, suggest_time=0.1,
            optimum=0.0, cost=[1.0, 2.0] if cost else None,
        )
        for p in ("f", "g")
        for t, final in tuners.items()
        for seed in range(3)
    ]  # fmt: skip


def _write(path: Path, settings: dict[str, Any], board: dict[str, Any], runs: list) -> Path:
    path.write_text(json.dumps({"settings": settings, "leaderboard": board, "runs": runs}))
    return path


def test_markdown_of_a_result_computes_its_tests_again_against_the_default_reference(
    tmp_path: Path,
) -> None:
    """A file made when the best-ranked peer was the reference and no correction was made."""
    runs = _runs({"good": 0.1, "peer": 0.5, "tpe": 0.7, "bad": 2.0})
    old = leaderboard(runs, reference="peer").to_dict()
    old["tests"] = [{k: v for k, v in t.items() if k != "p_holm"} for t in old["tests"]]
    path = _write(
        tmp_path / "board.json",
        {"tuners": ["good", "peer", "tpe", "bad"]},
        old,
        [{**r.__dict__, "best": list(r.best)} for r in runs],
    )
    table = _bench().markdown_of(path)
    assert "| vs `tpe` (Holm-adjusted Wilcoxon p) |" in table.splitlines()[0]
    assert "| `tpe` | 3.00 [" in table and "| reference |" in table
    assert "vs `peer`" in _bench().markdown_of(path, "peer")


def test_markdown_of_a_multi_fidelity_result_keeps_its_trials_column(tmp_path: Path) -> None:
    bench = _bench()
    runs = _runs({"tpe+median": 0.5, "meta+asha": 0.1}, cost=True)
    old = leaderboard(runs, [1, 2], reference="meta+asha", unit=bench.UNIT).to_dict()
    for row in old["cost"]:
        row["entries"] = 358.0  # the study's trials, which its stored improvements do not hold
    path = _write(
        tmp_path / "fidelity.json",
        {"arms": ["meta+asha", "tpe+median"]},
        old,
        [bench._improvements(r) for r in runs],
    )
    table = bench.markdown_of(path)
    assert "vs `tpe+median`" in table.splitlines()[0]
    assert "| `meta+asha` | 1.00 [" in table and table.count("| 358 |") == 2


def test_the_reference_is_the_one_named_else_optunas_default_else_refused() -> None:
    """A panel without the default is refused naming its tuners (it was tested against its
    first tuner, whichever the command happened to list first)."""
    bench = _bench()
    assert bench.reference_of(None, ["random", "tpe"], bench.REFERENCE) == "tpe"
    assert bench.reference_of("cmaes", ["random", "cmaes"], bench.REFERENCE) == "cmaes"
    with pytest.raises(SystemExit, match=r"no 'tpe'.*--reference NAME, one of: random, cmaes"):
        bench.reference_of(None, ["random", "cmaes"], bench.REFERENCE)
    assert (bench.REFERENCE, bench.FIDELITY_REFERENCE) == ("tpe", "tpe+median")
    with pytest.raises(SystemExit, match="--reference 'gp' is not in the panel: random, cmaes"):
        bench.reference_of("gp", ["random", "cmaes"], bench.REFERENCE)


def test_markdown_of_a_result_without_the_default_reference_is_refused(tmp_path: Path) -> None:
    runs = _runs({"good": 0.1, "peer": 0.5})
    board = leaderboard(runs, reference="peer").to_dict()
    rows = [{**r.__dict__, "best": list(r.best)} for r in runs]
    path = _write(tmp_path / "board.json", {"tuners": ["peer", "good"]}, board, rows)
    with pytest.raises(SystemExit, match="--reference NAME, one of: peer, good"):
        _bench().markdown_of(path)
    assert "vs `good`" in _bench().markdown_of(path, "good")


@pytest.mark.parametrize("fidelity", [False, True])
def test_a_reference_not_in_the_panel_is_refused_before_any_run(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, fidelity: bool
) -> None:
    bench = _bench()

    def no_run(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("the panel ran before its --reference was checked")

    monkeypatch.setattr(bench, "run_panel", no_run)
    monkeypatch.setattr(bench, "run_fidelity_panel", no_run)
    panel = ["--arms", "tpe+median,random+asha"] if fidelity else ["--tuners", "tpe,random"]
    argv = ["leaderboard.py", *(["--fidelity"] if fidelity else []), *panel]
    argv += ["--tasks", "branin", "--reference", "gp", "--out", str(tmp_path / "board.json")]
    monkeypatch.setattr("sys.argv", argv)
    with pytest.raises(SystemExit, match="--reference 'gp' is not in the panel"):
        bench.main()


def test_peers_without_fidelity_is_refused_not_ignored(monkeypatch: pytest.MonkeyPatch) -> None:
    """``--peers`` named the full-training panel's reference group; that panel now tests
    against ``--reference``, so a ``--peers`` there would change nothing: it is refused."""
    bench = _bench()

    def no_run(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("the panel ran with a --peers it does not read")

    monkeypatch.setattr(bench, "run_panel", no_run)
    argv = ["leaderboard.py", "--tasks", "branin", "--tuners", "tpe,nevergrad"]
    monkeypatch.setattr("sys.argv", [*argv, "--peers", "nevergrad"])
    with pytest.raises(SystemExit, match="--peers labels the peer arms of --fidelity"):
        bench.main()


@pytest.mark.parametrize("fidelity", [False, True])
def test_a_panel_without_the_default_reference_is_refused_before_any_run(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, fidelity: bool
) -> None:
    bench = _bench()

    def no_run(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("the panel ran with no reference")

    monkeypatch.setattr(bench, "run_panel", no_run)
    monkeypatch.setattr(bench, "run_fidelity_panel", no_run)
    panel = ["--arms", "tpe+asha,random+asha"] if fidelity else ["--tuners", "cmaes,random"]
    argv = ["leaderboard.py", *(["--fidelity"] if fidelity else []), *panel]
    monkeypatch.setattr("sys.argv", [*argv, "--tasks", "branin", "--out", str(tmp_path / "b.json")])
    with pytest.raises(SystemExit, match=r"holds no 'tpe(\+median)?', the default reference"):
        bench.main()
