"""A plain objective runs each trial with the global random streams seeded from the run's seed
and the trial's number: the same command gives the same results, another seed other ones."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import optuna
import torch

import hyperlab


def unseeded(trial: optuna.Trial) -> float:
    """Draws from torch's, NumPy's and Python's global streams without seeding them."""
    trial.suggest_float("x", 0.0, 1.0)
    return float(torch.rand(1)) + float(np.random.rand()) + random.random()


def _values(tmp_path: Path, seed: int, folder: str) -> list[float]:
    study, _ = hyperlab.tune(
        unseeded,
        "random",
        trials=3,
        seed=seed,
        runs_dir=tmp_path / folder,
        progress=False,
        report=False,
    )
    return [t.value for t in study.trials]


def test_the_same_seed_gives_the_same_results_and_another_seed_other_ones(
    tmp_path: Path,
) -> None:
    first = _values(tmp_path, 0, "a")
    random.random(), np.random.rand(), torch.rand(1)  # whatever the process drew in between
    assert _values(tmp_path, 0, "b") == first
    assert _values(tmp_path, 1, "c") != first
    assert len(set(first)) == 3  # each trial draws its own numbers


def test_each_trial_records_its_seed_and_the_callers_streams_are_put_back(
    tmp_path: Path,
) -> None:
    random.seed(7)
    expected = random.random()
    random.seed(7)
    study, _ = hyperlab.tune(
        unseeded, "random", trials=2, runs_dir=tmp_path, progress=False, report=False
    )
    assert random.random() == expected
    seeds = [t.user_attrs["seed"] for t in study.trials]
    assert len(set(seeds)) == 2 and all(isinstance(s, int) for s in seeds)
