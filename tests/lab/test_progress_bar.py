"""The progress bar of studies run one after another in one process."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from hyperlab.lab import processes
from hyperlab.lab.runner import StudyJob


def _jobs(tmp_path: Path, seeds: int, trials: int) -> list[StudyJob]:
    storage = f"sqlite:///{tmp_path / 's.db'}"
    return [
        StudyJob(
            task="branin",
            tuner="random",
            pruner="none",
            seed=seed,
            trials=trials,
            storage=storage,
            study_name=f"s{seed}",
        )
        for seed in range(seeds)
    ]


def test_each_trial_reads_only_its_own_study(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """After each trial the bar read every study of the run: seeds x tuners studies read per
    trial, a cost that grew with the square of the run's size (minutes for 40 studies)."""
    seeds, trials = 4, 5
    counted: list[int] = []
    real = processes.count

    def count(study: Any, states: Any) -> int:
        counted.append(1)
        return real(study, states)

    monkeypatch.setattr(processes, "count", count)
    shown: list[int] = []
    monkeypatch.setattr(processes, "_progress_bar", lambda *a: _Bar(shown))
    processes.run_jobs(_jobs(tmp_path, seeds, trials), progress=True)
    assert shown[-1] == seeds * trials
    assert shown == sorted(shown)  # never goes back
    assert len(counted) <= seeds * trials + seeds * seeds


class _Bar:
    """A progress bar that keeps what it showed."""

    def __init__(self, shown: list[int]) -> None:
        self.n, self.shown = 0, shown

    def refresh(self) -> None:
        self.shown.append(self.n)

    def set_postfix_str(self, *args: Any, **kwargs: Any) -> None:
        pass

    def close(self) -> None:
        pass
