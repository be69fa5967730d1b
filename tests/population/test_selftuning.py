"""Self-tuning members of a task of one's own: the rate they learn is recorded by the lab."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import optuna
import pandas as pd
import pytest
import torch

from hyperlab.population.replay import replay_member
from hyperlab.tasks.base import EpochCallback, Evaluation, OptimizerWrapper, Segment, Task
from tests.population.conftest import run_population

_X = torch.linspace(-1, 1, 32).unsqueeze(1)
_Y = 3 * _X + 0.5


class OwnLinear(Task):
    """A user's task as docs/population.md builds one: it passes its Adam through
    ``wrap_optimizer`` in every segment and reports no ``learned`` rate itself."""

    name = "own-linear"
    max_budget = 6
    direction = "maximize"
    metric = "r2"
    mutable_params = ("lr", "scale")
    learning_rate_param = "lr"

    def search_space(self, trial: optuna.Trial) -> dict[str, Any]:
        return {
            "lr": trial.suggest_float("lr", 1e-3, 1e-1, log=True),
            "scale": trial.suggest_float("scale", 0.5, 2.0),
        }

    def _evaluate(
        self, config: dict[str, Any], budget: int, seed: int, on_epoch: EpochCallback | None
    ) -> Evaluation:
        segment = self._train_segment(config, None, budget, seed, None)
        return Evaluation(value=segment.value, budget=budget)

    def _train_segment(
        self,
        config: dict[str, Any],
        state: Any,
        epochs: int,
        seed: int,
        wrap_optimizer: OptimizerWrapper | None,
    ) -> Segment:
        fresh = state is None
        if fresh:
            torch.manual_seed(seed)
            model = torch.nn.Linear(1, 1)
            opt = torch.optim.Adam(model.parameters(), lr=config["lr"])
            state = {"model": model, "opt": opt, "epoch": 0}
        state = copy.deepcopy(state)
        if wrap_optimizer is not None:
            state["opt"] = wrap_optimizer(state["opt"])
        if fresh or wrap_optimizer is None:
            for group in state["opt"].param_groups:
                group["lr"] = config["lr"]
        model, opt, scores = state["model"], state["opt"], []
        for _ in range(epochs):
            for _ in range(4):
                opt.zero_grad()
                loss = ((model(_X) * config["scale"] - _Y) ** 2).mean()
                loss.backward()
                opt.step()
            with torch.no_grad():
                error = ((model(_X) * config["scale"] - _Y) ** 2).sum()
            scores.append(float(1 - error / ((_Y - _Y.mean()) ** 2).sum()))
        state["epoch"] += epochs
        return Segment(state=state, values=scores, epoch=state["epoch"])


@pytest.mark.parametrize("tuner", ["pbt", "pb2"])
def test_the_rate_a_users_self_tuning_members_learned_is_recorded(
    tuner: str, tmp_path: Path
) -> None:
    study = run_population(tuner, OwnLinear(), tmp_path, hypergradient=True, interval=2)
    for trial in study.trials:
        for entry in trial.user_attrs["schedule"]:
            learned = entry["learned"]["lr"]
            assert learned > 0 and learned != pytest.approx(entry["config"]["lr"], rel=1e-6)
    trial, segments = replay_member(study, OwnLinear())
    recorded = [entry["learned"]["lr"] for entry in trial.user_attrs["schedule"]]
    assert [s.learned["lr"] for s in segments] == pytest.approx(recorded, rel=1e-9)


def test_members_that_do_not_tune_themselves_record_no_learned_rate(tmp_path: Path) -> None:
    study = run_population("pbt", OwnLinear(), tmp_path, interval=2)
    assert all(not e["learned"] for t in study.trials for e in t.user_attrs["schedule"])


def test_one_comparison_holds_plain_and_self_tuning_members(tmp_path: Path) -> None:
    import json

    import hyperlab
    from hyperlab.lab.rundir import load_studies

    task = f"{Path(__file__)}:OwnLinear"
    records = hyperlab.compare(
        task,
        ["pbt", "pbt-hd", "pb2-hd"],
        seeds=1,
        trials=4,
        runs_dir=tmp_path,
        name="both",
        progress=False,
        report=False,
        tuner_options={"interval": 2},
        reference="pbt",
    )  # fmt: skip  (reference: three methods without random or tpe must name theirs)
    learned = {
        study.study_name.split(":")[1]: {
            bool(e["learned"]) for t in study.trials for e in t.user_attrs["schedule"]
        }
        for study, *_ in load_studies(tmp_path / "both")
    }
    assert learned == {"pbt": {False}, "pbt-hd": {True}, "pb2-hd": {True}}
    run = json.loads((tmp_path / "both" / "run.json").read_text())
    options = run["effective_options"]["tuner"]
    assert options["pbt"]["hypergradient"] is False and options["pbt-hd"]["hypergradient"] is True
    # results.csv: the rate each self-tuning member ended with, beside the one it started from
    rows = pd.read_csv(tmp_path / "both" / "results.csv")
    assert len(rows) == len(records) == 12
    hd = rows[rows.tuner != "pbt"]
    assert (hd.learned_lr > 0).all() and (hd.learned_lr != hd.param_lr).all()
    assert rows[rows.tuner == "pbt"].learned_lr.isna().all()


@pytest.mark.parametrize("name", ["pbt-hd", "pb2-hd"])
def test_a_self_tuning_variant_with_hypergradient_off_is_refused(name: str) -> None:
    """It ran as its plain base under the variant's name, so a comparison of pbt and pbt-hd
    given hypergradient=false paired two plain populations without a word."""
    from hyperlab.errors import InputError
    from hyperlab.registry import TUNERS

    base = name.removesuffix("-hd")
    with pytest.raises(InputError, match=f"name '{base}' instead"):
        TUNERS.create(name, hypergradient=False)
