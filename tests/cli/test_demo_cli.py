"""``hyperlab demo`` end to end on tiny budgets, and the input it refuses."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from hyperlab.cli import demo, main

#: A number followed by its 95% interval.
NUMBER = r"[+-]?[\d.e+-]+ \[[+-]?[\d.e+-]+, [+-]?[\d.e+-]+\]"


@pytest.mark.slow  # two small comparisons and a live run of a few one-epoch trials
def test_demo_writes_one_page_with_the_answer_first(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(demo, "LIVE_BUDGET", 1)
    monkeypatch.setattr(demo, "LIVE_OPTIONS", {"n_folds": 2})
    args = ["demo", "--runs-dir", str(tmp_path), "--problems", "synth-levy-4d-1"]
    args += ["--seeds", "2", "--trials", "3", "--live-seeds", "1", "--live-trials", "2"]
    assert main([*args, "--jobs", "1", "--no-experiments"]) == 0
    out = capsys.readouterr().out
    folder = tmp_path / "demo"
    assert (folder / "problem-synth-levy-4d-1" / "report.html").is_file()
    assert (folder / "live-digits-mlp" / "report.html").is_file()
    # two seeds are too few pairs to judge: 'meta was not judged', not 'meta ranked not judged'
    assert "Over 1 problem with a known optimum (2 seeds × 3 trials each), meta was not " in out
    # one of a kind is singular: not '1 problems', '1 processes', '1 epochs', '1 seeds'
    assert "on 1 problem x 2 seeds x 3 trials, on 1 process\n" in out
    assert "digits-mlp (1 epoch per trial) x 1 seed x 2 trials\n" in out
    for other in ("random", "tpe", "gp"):
        line = next(s for s in out.splitlines() if s.startswith(f"Against {other}:"))
        assert re.search(rf"mean rank {NUMBER} against {NUMBER}, difference {NUMBER}", line)
    live = next(s for s in out.splitlines() if s.startswith("Live run on digits-mlp"))
    # one live seed: one difference has no interval, and no verdict is given
    na = r"[+-]?[\d.e+-]+ \[n/a\]"
    one = rf"{na}, too few seeds"
    assert re.search(rf"meta {na}; against random {na}: difference {one}", live)
    page = (folder / "report.html").read_text()
    assert page.index("The answer") < page.index("Regret per problem")
    assert "href='live-digits-mlp/report.html'" in page
    assert f"report: {folder / 'report.html'}" in out


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [
        ("--problems", "lcbench-7593", "'lcbench-7593' is not in the validation suite"),
        ("--live-seeds", "-1", "--live-seeds must be 0 or more, got -1"),
        ("--live-trials", "0", "--live-trials must be 1 or more, got 0"),
        ("--seeds", "0", "--seeds must be 1 or more, got 0"),
        ("--seeds", "99999999999", "--seeds must be at most 10000"),  # (a MemoryError before)
        ("--problems", ",,", "--problems names no problem, got ',,'"),  # (ran for minutes)
        ("--problems", "synth-levy-4d-1,synth-levy-4d-1", "must not repeat a problem"),
    ],
)
def test_demo_refuses_bad_input(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], option: str, value: str, message: str
) -> None:
    assert main(["demo", "--runs-dir", str(tmp_path), option, value]) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "demo").exists()


def test_demo_leaves_a_run_named_demo_alone(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = ["tune", "--task", "branin", "--tuner", "random", "--trials", "2", "--no-progress"]
    assert main([*run, "--runs-dir", str(tmp_path), "--name", "demo"]) == 0
    before = sorted((p.name, p.read_bytes()) for p in (tmp_path / "demo").iterdir())
    capsys.readouterr()
    tiny = ["--problems", "synth-levy-4d-1", "--seeds", "1", "--trials", "2", "--jobs", "1"]
    tiny += ["--live-seeds", "0", "--no-experiments"]
    assert main(["demo", "--runs-dir", str(tmp_path), *tiny]) == 2
    assert "holds a run of its own (run.json)" in capsys.readouterr().err
    assert sorted((p.name, p.read_bytes()) for p in (tmp_path / "demo").iterdir()) == before
