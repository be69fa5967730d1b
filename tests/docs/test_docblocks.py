"""The helpers that run the pages' blocks fail when a block fails."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.docblocks import run_bash


@pytest.mark.parametrize("failing", [1, 2])
def test_a_shell_block_fails_when_a_job_it_waits_for_fails(tmp_path: Path, failing: int) -> None:
    """bash's bare ``wait`` returns 0: a loop of workers started in the background, one
    failing (written to its log, as docs/scaling.md's loop does), and its ``wait`` passed."""
    code = (
        "for i in 1 2; do\n"
        f"  (sleep 0.$i; [ $i = {failing} ] && exit 3; exit 0) > out-$i.log 2>&1 &\n"
        "done\n"
        "sleep 0.5\n"  # (both finished before the wait: their statuses still count)
        "wait\n"
    )
    with pytest.raises(AssertionError, match="exit 3"):
        run_bash(code, tmp_path, {})


def test_a_shell_block_whose_jobs_succeed_passes(tmp_path: Path) -> None:
    code = "for i in 1 2; do\n  (sleep 0.$i) &\ndone\nwait\nsleep 0 &\nwait $!\necho done\n"
    assert run_bash(code, tmp_path, {}).strip() == "done"
