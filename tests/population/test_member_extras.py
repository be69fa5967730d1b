"""A member's trial keeps the task's own extras of its model's last segment (``Segment.extra``),
as a ``tpe-hd`` trial does, under the lab's own attributes; they follow the model through
exploits and checkpoints."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import optuna
import pytest

import hyperlab
from hyperlab.population import checkpoint
from hyperlab.population.members import Member
from hyperlab.tasks.base import Segment
from tests.population.conftest import run_population
from tests.population.quadratic import Quadratic, SimulatedCrash


class WithExtras(Quadratic):
    """Segments that keep the model's last score and epoch, and a name the lab uses."""

    name = "quadratic-extras"

    def _train_segment(self, *args: Any, **kwargs: Any) -> Segment:
        segment = super()._train_segment(*args, **kwargs)
        extra = {"last_score": segment.values[-1], "epoch_seen": segment.epoch}
        return replace(segment, extra={**extra, "schedule": "mine"})  # (the lab's one wins)


def _extras(study: optuna.Study) -> list[tuple[int, float, int]]:
    return sorted(
        (t.user_attrs["member"], t.user_attrs["last_score"], t.user_attrs["epoch_seen"])
        for t in study.trials
    )


@pytest.mark.parametrize("tuner", ["pbt", "pb2"])
@pytest.mark.parametrize("mode", ["sync", "async"])
def test_a_members_trial_keeps_its_last_segments_extras(
    tuner: str, mode: str, tmp_path: Path
) -> None:
    study = run_population(tuner, WithExtras(), tmp_path, interval=1, mode=mode)
    assert any(t.user_attrs["lineage"] for t in study.trials)  # (exploits happened)
    for t in study.trials:
        assert t.user_attrs["last_score"] == t.value and t.user_attrs["epoch_seen"] == 6
        assert isinstance(t.user_attrs["member"], int) and t.user_attrs["budget"] >= 6
        assert isinstance(t.user_attrs["schedule"], list)  # (the lab's, not the segment's)


def test_an_exploit_copies_the_donors_extras_and_a_restart_drops_them() -> None:
    segment = Segment(state={"epoch": 2}, values=[0.5, 0.4], epoch=2, extra={"acc": [0.9]})
    donor, member = Member(0, {}, {}, seed=0), Member(1, {}, {}, seed=1)
    donor.record(segment, 0)
    member.copy_from(donor, "worse")
    assert member.extra == {"acc": [0.9]}
    member.extra["acc"].append(0.1)  # (a copy: the donor keeps its own)
    assert donor.extra == {"acc": [0.9]} and segment.extra == {"acc": [0.9]}
    member.restart({}, seed=2)
    assert member.extra == {}


def test_the_extras_survive_a_checkpoint(tmp_path: Path) -> None:
    whole = run_population("pbt", WithExtras(), tmp_path / "whole", interval=1)
    with pytest.raises(SimulatedCrash):
        run_population("pbt", WithExtras(crash_after=9), tmp_path / "run", interval=1)
    data = checkpoint.load(tmp_path / "run")
    assert data is not None and all("extra" in m for m in data["members"])
    resumed = run_population("pbt", WithExtras(), tmp_path / "run", interval=1)
    assert _extras(resumed) == _extras(whole)


def test_a_checkpoint_written_without_extras_resumes(tmp_path: Path) -> None:
    """A checkpoint written before members kept extras (no ``extra`` per member)."""
    whole = run_population("pbt", WithExtras(), tmp_path / "whole", interval=1)
    with pytest.raises(SimulatedCrash):
        run_population("pbt", WithExtras(crash_after=9), tmp_path / "run", interval=1)
    data = checkpoint.load(tmp_path / "run")
    assert data is not None
    for m in data["members"]:
        del m["extra"]
    checkpoint.save(tmp_path / "run", data)
    resumed = run_population("pbt", WithExtras(), tmp_path / "run", interval=1)
    assert _extras(resumed) == _extras(whole)  # (every member trained again since)


def test_a_population_run_stores_the_mlp_tasks_accuracy(tmp_path: Path) -> None:
    """Through the lab (a journal file, which stores attributes as JSON), as a tpe trial of
    the same task keeps it."""
    study, _ = hyperlab.tune(
        "wine-mlp", "pbt", trials=2, budget=2, runs_dir=tmp_path, name="pop",
        tuner_options={"interval": 1}, progress=False, report=False,
    )  # fmt: skip
    assert len(study.trials) == 2
    for t in study.trials:
        assert 0.0 <= t.user_attrs["val_accuracy"] <= 1.0 and "val_accuracy_se" in t.user_attrs
