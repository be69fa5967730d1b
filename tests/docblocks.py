"""The code blocks of the project's Markdown pages, read at test time and run as written.

A test takes a page's fenced blocks (``blocks``), shrinks their sizes only through an explicit
table of substitutions (``shrink``: each old text must still be on the page, or the test fails
and says which, so a substitution cannot silently stop applying), and runs each ``hyperlab``
command line through the command line's ``main`` in this process (``run_lines``) or a whole
shell block through ``bash`` with ``hyperlab`` as the package's entry point (``run_bash``,
whose bare ``wait`` fails when a job it waited for failed).
A block a test cannot run (a ``pip install``, a systemd unit) is named, with its reason, in
the test's ``NOT_RUN`` table, whose entries must each match a block of the page.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest

import hyperlab
from hyperlab.cli import main

#: The checkout's root.
ROOT = Path(__file__).resolve().parents[1]

_FENCE = re.compile(r"^(?P<indent> *)```(?P<lang>\w+)\n(?P<code>.*?)^(?P=indent)```", re.S | re.M)


@dataclass(frozen=True)
class Block:
    """One fenced block of a page: its language, its text (indentation removed), its line."""

    lang: str
    code: str
    line: int


def blocks(page: str, *langs: str) -> list[Block]:
    """The fenced blocks of ``page`` (relative to the checkout), of ``langs`` if given."""
    text = (ROOT / page).read_text(encoding="utf-8")
    found = []
    for m in _FENCE.finditer(text):
        indent = len(m["indent"])
        code = "".join(line[indent:] for line in m["code"].splitlines(keepends=True))
        found.append(Block(m["lang"], code, text.count("\n", 0, m.start()) + 1))
    return [b for b in found if not langs or b.lang in langs]


def blocks_under(page: str, heading: str, *langs: str) -> list[Block]:
    """The blocks of ``page`` (of ``langs`` if given) under the Markdown heading ``heading``,
    up to the next heading as high (a ``#`` line inside a block is no heading)."""
    text = (ROOT / page).read_text(encoding="utf-8")
    for m in _FENCE.finditer(text):  # (blank the blocks out, keeping their lines)
        text = text[: m.start()] + re.sub(r"[^\n]", " ", m[0]) + text[m.end() :]
    m = re.search(rf"^(#+) {re.escape(heading)}\n", text, re.M)
    assert m is not None, f"{page} has no heading {heading!r}"
    end = re.search(rf"^#{{1,{len(m[1])}}} ", text[m.end() :], re.M)
    first = text.count("\n", 0, m.end()) + 1
    last = text.count("\n", 0, m.end() + end.start()) if end else text.count("\n") + 1
    return [b for b in blocks(page, *langs) if first <= b.line <= last]


def shrink(code: str, table: Mapping[str, str], where: str) -> str:
    """``code`` with each key of ``table`` replaced by its value; a key no longer in ``code``
    fails the test, naming it (the page changed: update the table)."""
    for old, new in table.items():
        assert old in code, f"{where} no longer contains {old!r}: update the test's substitutions"
        code = code.replace(old, new)
    return code


def shrink_all(codes: list[str], table: Mapping[str, str], where: str) -> list[str]:
    """Each of ``codes`` with the keys of ``table`` it holds replaced by their values; a key
    that none holds fails the test before anything runs, naming it (update the table)."""
    missing = sorted(old for old in table if not any(old in code for code in codes))
    assert not missing, f"{where} no longer contains {missing}: update the test's substitutions"
    return [shrink(code, {k: v for k, v in table.items() if k in code}, where) for code in codes]


def joined(code: str) -> str:
    """``code`` with each shell line continued by a backslash joined to the next."""
    return re.sub(r"\\\n\s*", " ", code)


def lines(code: str) -> list[str]:
    """The shell lines of ``code``: continuations joined, comments and blank lines dropped."""
    out = []
    for line in joined(code).splitlines():
        words = shlex.split(line, comments=True)
        if words:
            out.append(shlex.join(words))
    return out


def _quiet(argv: list[str]) -> list[str]:
    return [*argv, "--no-progress"] if argv[0] in ("tune", "compare") else argv


def run_lines(code: str, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Run each line of a shell block: ``export K=V`` sets the variable, ``hyperlab ...`` runs
    through ``main`` and must exit 0; any other line fails the test. The lines run."""
    ran = []
    for line in lines(code):
        words = shlex.split(line)
        if words[0] == "export" and len(words) == 2 and "=" in words[1]:
            monkeypatch.setenv(*words[1].split("=", 1))
        else:
            assert words[0] == "hyperlab", f"a line the test cannot run: {line}"
            assert main(_quiet(words[1:])) == 0, line
        ran.append(line)
    return ran


#: A bare ``wait`` that waits for each job started in the background and fails with the
#: status of one that failed: bash's own returns 0 whatever its jobs' statuses, so a block
#: that starts workers with ``&`` and then waits would pass with every worker failed. The
#: jobs' process ids are noted before each command (bash forgets a finished job's place in
#: ``jobs`` at once, but still tells the status of a process id it started).
_WAIT_ALL = r"""_bg=" "
trap 'case "$_bg" in *" $! "*) ;; *) [ -z "$!" ] || _bg="$_bg$! " ;; esac' DEBUG
wait() {
  if [ "$#" -gt 0 ]; then builtin wait "$@"; return; fi
  local s=0 p
  for p in $_bg; do builtin wait "$p" || s=$?; done
  _bg=" "
  return "$s"
}
"""


def run_bash(code: str, cwd: Path, env: Mapping[str, str], timeout: float = 120) -> str:
    """Run ``code`` in ``bash -e`` in ``cwd`` with ``env`` added, ``hyperlab`` standing for this
    Python's ``python -m hyperlab`` (the package under test), and a bare ``wait`` failing when
    a job in the background failed (bash's own returns 0); it must exit 0. Its output."""
    src = str(Path(hyperlab.__file__).resolve().parents[1])
    shim = f'hyperlab() {{ {shlex.quote(sys.executable)} -m hyperlab "$@"; }}\n' + _WAIT_ALL
    full_env = {**os.environ, **env}
    full_env["PYTHONPATH"] = os.pathsep.join([src, os.environ.get("PYTHONPATH", "")])
    done = subprocess.run(
        ["bash", "-e", "-c", shim + code],
        cwd=cwd,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert done.returncode == 0, f"{code}\nexit {done.returncode}\n{done.stdout}\n{done.stderr}"
    return done.stdout + done.stderr


def run_python(code: str, where: str) -> dict[str, object]:
    """Run ``code`` in a fresh namespace (in the current folder); the namespace."""
    namespace: dict[str, object] = {"__name__": "docblock"}
    exec(compile(code, where, "exec"), namespace)
    return namespace


def check_not_run(page: str, not_run: Mapping[str, str]) -> None:
    """Each key of ``not_run`` (a block's first text, kept from the test by design) still
    starts a block of ``page`` and comes with a reason."""
    starts = [b.code.lstrip() for b in blocks(page)]
    for start, reason in not_run.items():
        assert reason.strip(), f"{page}: no reason given for not running {start!r}"
        assert any(s.startswith(start) for s in starts), f"{page} has no block {start!r}"
