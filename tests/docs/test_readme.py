"""README.md runs as written: its Python blocks and its command lines, at the sizes below."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.docblocks import (
    blocks,
    blocks_under,
    check_not_run,
    joined,
    run_lines,
    run_python,
    shrink,
)

PAGE = "README.md"

#: The Python blocks' sizes, shrunk (old text: new text).
PYTHON = {
    "trials=20, budget=10": "trials=3, budget=2",
    "seeds=5, trials=30": "seeds=2, trials=4",
    '"tpe", trials=30, name=': '"tpe", trials=5, name=',
}

#: The command lines' (continuations joined) sizes shrunk and placeholders filled; then every
#: optional ``[...]`` group
#: left is given (its brackets dropped), so each option the block shows runs.
CLI = {
    "--trials 30 [--pruner median]": "--trials 6 [--pruner median]",  # median prunes from 5 on
    "[--budget 10]": "[--budget 2]",
    "[--storage URL] [--name NAME] ": "",  # placeholders: the run's own journal, its own name
    "--seeds 5 --trials 40": "--seeds 2 --trials 5",
    "threshold=0.02 [--task-option KEY=VALUE ...]": "threshold=0.02 --seeds 1 --trials 6",
    "[--tuner-option KEY=VALUE ...]": "",  # (a placeholder)
    # (a task of one's own stands in a built-in one here; tests/test_tutorial.py runs both
    # comparisons on a task of its own, as docs/your-model.md writes them)
    "my_task.py:MyTask --tuners pbt,pbt-hd,tpe,meta --population 8 --seeds 5": (
        "breast-cancer-mlp --tuners pbt,pbt-hd,tpe,meta --population 2 --budget 4 --seeds 2"
    ),
    "my_task.py:MyTask --tuners tpe,tpe-hd --seeds 5 --trials 20": (
        "breast-cancer-mlp --tuners tpe,tpe-hd --seeds 2 --trials 3 --budget 3"
    ),
    "--population 8": "--population 2 --budget 5",
    "runs/NAME [--member K] [--study S]": "runs/digits-mlp-pbt --member 1",
    "hyperlab report runs/NAME": "hyperlab report runs/digits-mlp-pbt",
    "[--seeds 6] [--trials 20] [--live-seeds 2] [--live-trials 12] [--problems A,B]": (
        "--seeds 1 --trials 2 --live-seeds 1 --live-trials 2 --problems synth-ackley-4d-1"
        " --jobs 1 --no-experiments"  # (the experiment line above runs one)
    ),
}

#: Files a command line reads that the user brings: written before the block runs.
INPUTS = {
    "curves.csv": "epoch,train_loss,val_loss,train_metric,val_metric\n"
    + "".join(f"{e},{2 / e:.3f},{2.1 / e + 0.02 * e:.3f},{0.5 + e / 40},{0.45 + e / 50}\n"
              for e in range(1, 13)),
}  # fmt: skip

#: Blocks of the page no test runs, and why.
NOT_RUN = {
    "make demo": "`make demo` and `make test` build a virtual environment and install PyTorch "
    "(minutes, a package index); `make test` is what runs this test. The demo's command "
    "line runs below (`hyperlab demo`), and tests/cli/test_demo_cli.py runs the demo",
}


#: The sections whose blocks the tests below run, with the blocks' language.
RUN = {"Command line": "bash", "Python": "python"}


def test_the_blocks_not_run_are_named() -> None:
    check_not_run(PAGE, NOT_RUN)


def test_every_block_is_run_or_named() -> None:
    """A block added outside the sections the tests run, and not named in NOT_RUN, would
    never run."""
    run = {b.line for heading, lang in RUN.items() for b in blocks_under(PAGE, heading, lang)}
    left = [
        f"line {b.line}: {b.code.splitlines()[0]!r}"
        for b in blocks(PAGE)
        if b.line not in run and not b.code.lstrip().startswith(tuple(NOT_RUN))
    ]
    assert not left, f"{PAGE}: blocks no test runs nor names in NOT_RUN: {left}"


@pytest.mark.slow
def test_the_python_blocks_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    code = [b.code for b in blocks_under(PAGE, "Python", RUN["Python"])]
    assert len(code) == 2
    namespace = run_python(shrink(code[0], PYTHON, PAGE), PAGE)
    assert len(namespace["df"]) == 3 * 2 * 4  # type: ignore[arg-type]  # tuners x seeds x trials
    namespace = run_python(code[1], PAGE)
    assert namespace["study"].pruner is namespace["pruner"]  # type: ignore[attr-defined]


@pytest.mark.slow
def test_the_command_lines_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    for name, text in INPUTS.items():
        (tmp_path / name).write_text(text)
    (block,) = blocks_under(PAGE, "Command line", RUN["Command line"])
    given = re.sub(r"\[(--[^\[\]]*)\]", r"\1", shrink(joined(block.code), CLI, PAGE))
    assert "[" not in given, given
    ran = run_lines(given, monkeypatch)
    assert [line.split()[1] for line in ran] == [
        "tune", "compare", "compare", "tune", "compare", "compare", "replay", "report", "experiment", "diagnose", "demo"
    ]  # fmt: skip
    assert (tmp_path / "runs" / "demo" / "report.html").exists()
