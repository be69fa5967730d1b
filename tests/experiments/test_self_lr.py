from __future__ import annotations

import json
import math
from pathlib import Path

import plotly.graph_objects as go
import pytest

from hyperlab.experiments.lr_free import LR_FREE
from hyperlab.experiments.self_lr import METHODS, spread, summarize, train_run
from hyperlab.registry import EXPERIMENTS


@pytest.mark.slow
def test_quick_run_returns_figures_table_and_data(tmp_path: Path) -> None:
    result = EXPERIMENTS.create("self-lr", out_dir=tmp_path, quick=True, seed=0)
    assert result.name == "self-lr"
    assert len(result.table) == 2 * len(METHODS)  # one row per model and method
    assert {row["model"] for row in result.table} == {"mlp", "softmax"}
    assert result.figures and all(isinstance(f, go.Figure) for f in result.figures)
    assert any("learned learning rate" in f.layout.title.text for f in result.figures)
    assert any("spread" in s for s in result.summary)
    runs = result.data["runs"]
    assert len(runs) == 2 * len(METHODS) * 3
    json.dumps(result.data, default=str)  # plain data
    # the learned rate moves for the HD version and stays put for plain SGD
    hd = [r for r in runs if r["method"] == "SGD-HD" and r["model"] == "mlp" and r["lr0"] == 1e-4]
    sgd = [r for r in runs if r["method"] == "SGD" and r["model"] == "mlp" and r["lr0"] == 1e-4]
    assert hd[0]["lr_trace"][-1] > 1e-4
    assert set(sgd[0]["lr_trace"]) == {1e-4}
    # the bar: every learning-rate-free optimizer runs in the quick version too
    bar = result.data["lr_free_bar"]
    assert bar["missing"] == []
    assert set(LR_FREE) <= {row["method"] for row in bar["rows"]}
    assert [v["problem"] for v in bar["verdicts"]] == ["digits-mlp", "diabetes-mlp"]
    assert any(s.startswith("The bar") for s in result.summary)
    assert any("learning-rate-free" in f.layout.title.text for f in result.figures)


def test_train_run_is_reproducible_and_reports_losses() -> None:
    a = train_run("softmax", "Adam-HD", 1e-2, seed=3, epochs=1)
    b = train_run("softmax", "Adam-HD", 1e-2, seed=3, epochs=1)
    assert a["val_loss"] == b["val_loss"] and a["lr_trace"] == b["lr_trace"]
    assert a["steps"] == len(a["lr_trace"]) > 0
    assert 0 < a["val_loss"] < math.log(10)
    assert not a["diverged"]


def test_summary_spread_and_divergence() -> None:
    assert spread([1.0, 2.0, 4.0]) == 4.0
    assert spread([1.0, math.inf]) == math.inf
    records = [
        {
            "model": "mlp",
            "method": "SGD",
            "lr0": lr,
            "seed": 0,
            "val_loss": v,
            "train_loss": v,
            "diverged": not math.isfinite(v),
        }
        for lr, v in ((1e-4, 2.0), (1e-2, 0.5), (1.0, math.inf))
    ]
    (row,) = summarize(records)
    assert row["best lr0"] == 1e-2 and row["val loss @worst"] == "diverged"
    assert row["spread over lr0 in [0.0001, 0.1]"] == 4.0
    assert row["runs with a non-finite loss"] == 1


def test_stacked_sgd_builds_a_stack_of_the_given_height() -> None:
    import torch

    from hyperlab.experiments.self_lr import stacked_sgd

    params = [torch.nn.Parameter(torch.zeros(3))]
    opt = stacked_sgd(2, hyper_lr=0.01)(params, 1e-3)
    assert opt.height == 2
    # the base rate and the learned hyperoptimizer's rate; the top level's stays fixed
    assert opt.hyperparameters() == {"g0.lr": 1e-3, "L1.lr": 0.01}


def test_the_page_states_its_seeds_and_adam_hd_targets_settings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The page said '1 seed(s)' (not which) and gave every hypergradient version beta=0.1,
    though Adam-HD-target runs at beta=0.2 with a cosine threshold."""
    from hyperlab.experiments import lr_free_bar, self_lr

    def grid(kinds, methods, rates, seeds, **_):
        return [
            {"model": k, "method": m, "lr0": lr, "seed": s, "val_loss": 1.0, "train_loss": 1.0}
            | {"diverged": False, "lr_trace": [lr]}
            for k in kinds
            for m in methods
            for lr in rates
            for s in seeds
        ]

    monkeypatch.setattr(self_lr, "run_grid", grid)
    monkeypatch.setattr(lr_free_bar, "bar_section", lambda seeds, quick: ([], [], {}))
    result = EXPERIMENTS.create("self-lr", out_dir=tmp_path, quick=False, seed=5)
    assert ", seeds 5, 6, 7 each:" in result.summary[0]
    assert "Adam-HD-target: beta=0.2, its rate grows only while" in result.summary[0]
