"""docs/your-model.md runs: every code block, in order, in a fresh folder.

A ``<!-- file: NAME -->`` line before a block writes the block to NAME; other ``python`` blocks
run in one shared namespace; each ``hyperlab ...`` line of a ``bash`` block runs through the
command line's ``main`` and must exit 0.
"""

from __future__ import annotations

import re
import shlex
import sys
from pathlib import Path

import pytest

from hyperlab.cli import main

DOC = Path(__file__).resolve().parents[1] / "docs" / "your-model.md"
_BLOCK = re.compile(r"(?:<!-- file: (?P<file>\S+) -->\n)?```(?P<lang>\w+)\n(?P<code>.*?)```", re.S)


def blocks() -> list[tuple[str, str | None, str]]:
    """``(language, file name or None, code)`` of each fenced block of the tutorial."""
    return [(m["lang"], m["file"], m["code"]) for m in _BLOCK.finditer(DOC.read_text())]


def test_the_tutorial_has_each_kind_of_block() -> None:
    kinds = [(lang, file is not None) for lang, file, _ in blocks()]
    assert ("python", True) in kinds and ("python", False) in kinds and ("bash", False) in kinds


def _quiet(argv: list[str]) -> list[str]:
    return [*argv, "--no-progress"] if argv[0] in ("tune", "compare") else argv


@pytest.mark.slow
def test_the_tutorial_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    namespace: dict[str, object] = {"__name__": "tutorial"}
    try:
        for lang, file, code in blocks():
            if file is not None:
                (tmp_path / file).write_text(code)
            elif lang == "python":
                exec(compile(code, str(DOC), "exec"), namespace)
            elif lang == "bash":
                for line in code.splitlines():
                    if line.startswith("hyperlab "):
                        assert main(_quiet(shlex.split(line)[1:])) == 0, line
    finally:
        sys.modules.pop("my_model", None)
