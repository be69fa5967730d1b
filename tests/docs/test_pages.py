"""docs/population.md, docs/one-epoch.md and docs/peers.md run as written, at the sizes below."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from tests.docblocks import ROOT, blocks, check_not_run, joined, run_lines, run_python, shrink_all

if sys.version_info >= (3, 11):
    import tomllib
else:  # (the test extra installs tomli there)
    import tomli as tomllib

POPULATION = "docs/population.md"
ONE_EPOCH = "docs/one-epoch.md"
PEERS = "docs/peers.md"

#: Each page's sizes, shrunk (old text: new text, in the blocks that hold it; each old text
#: must be in one at least).
SMALLER = {
    POPULATION: {
        "--population 8": "--population 2 --budget 5",
        "trials=4, tuner_options": "trials=2, budget=3, tuner_options",
    },
    ONE_EPOCH: {
        "--trials 30 --seeds 2": "--trials 10 --seeds 1",
        "--tuner one-epoch --trials 40": "--tuner one-epoch --trials 4 --budget 2",
        "trials=50, seeds=5": "trials=10, seeds=1",
    },
    PEERS: {
        "--seeds 10 --trials 40": "--seeds 1 --trials 4",
        # (4 trials: Hyperband's and DEHB's first full training at 3 epochs, eta 3)
        "--trials 80 --seeds 3": "--trials 4 --seeds 1 --budget 3",
    },
}

#: Blocks (by their first text) no test runs, and why.
NOT_RUN = {
    (POPULATION, "def _train_segment("): "a method of a user's task, with its helpers left "
    "out (`...`): compiled here, not run; docs/your-model.md §6, which the tutorial test runs, "
    "builds a whole task that trains in segments",
}

#: Lines of a block that runs, left out of it, and why.
LINES_NOT_RUN = {
    (PEERS, "pip install 'hyperlab[peers]'\n"): "installs from a package index; the test "
    "checks that the package declares the extra `peers`, and the test extras hold its packages",
}


def test_the_blocks_not_run_are_named() -> None:
    for (page, start), reason in NOT_RUN.items():
        check_not_run(page, {start: reason})
    assert all(reason.strip() for reason in LINES_NOT_RUN.values())
    (fragment,) = [b for b in blocks(POPULATION, "python") if b.code.startswith("def ")]
    compile(fragment.code, POPULATION, "exec")
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert "peers" in extras["optional-dependencies"]


def _run_page(page: str, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Run every block of ``page`` but those in NOT_RUN, in order; the command lines run."""
    ran: list[str] = []
    table = {**{line: "" for p, line in LINES_NOT_RUN if p == page}, **SMALLER[page]}
    run = [
        b for b in blocks(page) if not any(p == page and b.code.startswith(s) for p, s in NOT_RUN)
    ]
    for block, code in zip(run, shrink_all([joined(b.code) for b in run], table, page)):
        if block.lang == "python":
            run_python(code, page)
        else:
            ran += run_lines(code, monkeypatch)
    return ran


@pytest.mark.slow
def test_the_population_page_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert _run_page(POPULATION, monkeypatch) == [
        "hyperlab tune --task digits-mlp --tuner pbt --population 2 --budget 5 "
        "--tuner-option interval=4"
    ]
    assert (tmp_path / "runs" / "digits-mlp-pb2" / "report.html").exists()


@pytest.mark.slow
def test_the_one_epoch_page_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert len(_run_page(ONE_EPOCH, monkeypatch)) == 2
    assert (tmp_path / "runs" / "lcbench-3945-compare" / "results.csv").exists()


@pytest.mark.slow
def test_the_peers_page_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert len(_run_page(PEERS, monkeypatch)) == 4
    for name in ("branin-compare", "mf-peers", "mf-peers-random", "mf-random-pruners"):
        assert (tmp_path / "runs" / name / "results.csv").exists(), name
