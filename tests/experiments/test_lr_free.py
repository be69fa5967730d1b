from __future__ import annotations

import math

import pytest
import torch

from hyperlab.errors import InputError, UnknownNameError
from hyperlab.experiments import lr_free, lr_free_bar
from hyperlab.experiments.lr_free import LR_FREE, is_installed, lr_free_optimizer
from hyperlab.experiments.problems import (
    DEV_PROBLEMS,
    PROBLEMS,
    Problem,
    load_problem,
    set_mode,
    train,
)


def _tiny_problem() -> Problem:
    """Linear regression, 4 inputs, 96 training examples, 120 steps of batch 16."""
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(128, 4, generator=gen)
    y = x @ torch.tensor([0.5, -1.0, 0.25, 1.0]) + 0.1 * torch.randn(128, generator=gen)
    return Problem(
        "tiny",
        x[:96],
        y[:96],
        x[96:],
        y[96:],
        "mse",
        lambda: torch.nn.Linear(4, 1),
        epochs=20,
        batch_size=16,
    )


def _missing(*modules: str):
    real = lr_free._import

    def fake(module: str):
        if module in modules:
            raise ModuleNotFoundError(f"No module named {module!r}")
        return real(module)

    return fake


@pytest.mark.parametrize("name", list(LR_FREE))
def test_each_lr_free_optimizer_lowers_the_loss_in_a_few_steps(name: str) -> None:
    problem = _tiny_problem()
    with torch.no_grad():
        start = float(problem.loss_of(problem.model(0)(problem.x_val), problem.y_val))
    out = train(problem, lr_free_optimizer(name), 1.0, seed=0)
    assert out["steps"] == 120 and not out["diverged"]
    assert out["val_loss"] < 0.9 * start
    assert math.isnan(out["val_acc"])  # a regression has no accuracy


def test_schedule_free_is_evaluated_at_its_averaged_weights() -> None:
    problem = _tiny_problem()
    model = problem.model(0)
    opt = lr_free_optimizer("Schedule-Free AdamW")(model.parameters(), 1.0)
    set_mode(model, opt, True)
    for _ in range(5):
        opt.zero_grad()
        problem.loss_of(model(problem.x_train), problem.y_train).backward()
        opt.step()
    trained = model.weight.detach().clone()
    set_mode(model, opt, False)
    assert not model.training and not torch.equal(model.weight, trained)
    set_mode(model, opt, True)
    assert model.training and torch.allclose(model.weight, trained)


def test_a_missing_package_is_refused_by_name_with_the_install_command(monkeypatch) -> None:
    monkeypatch.setattr(lr_free, "_import", _missing("prodigyopt"))
    assert not is_installed("Prodigy") and is_installed("DoG")
    with pytest.raises(InputError, match=r"'prodigyopt'.*pip install prodigyopt") as info:
        lr_free_optimizer("Prodigy")
    assert "hyperlab[lrfree]" in str(info.value)
    with pytest.raises(InputError, match="prodigyopt"):  # refused before anything trains
        lr_free_bar.plan(["DoG", "Prodigy"])


def test_a_missing_dog_names_its_distribution_not_its_module(monkeypatch) -> None:
    monkeypatch.setattr(lr_free, "_import", _missing("dog"))
    with pytest.raises(InputError, match="pip install dog-optimizer"):
        lr_free_optimizer("DoG")


def test_an_unknown_optimizer_lists_the_known_ones() -> None:
    with pytest.raises(UnknownNameError, match="Prodigy"):
        lr_free_optimizer("Adagrad-free")


def test_every_problem_loads_with_its_documented_shape() -> None:
    shapes = {
        "digits-mlp": (64, 10),
        "breast-cancer-mlp": (30, 2),
        "wine-mlp": (13, 3),
        "digits-cnn": (64, 10),
        "diabetes-mlp": (10, 1),
    }
    assert set(PROBLEMS) == set(shapes)
    for name, (n_in, n_out) in shapes.items():
        p = load_problem(name)
        assert p.x_train.shape[1] == n_in and p.x_train.dtype == torch.float32
        assert len(p.x_train) + len(p.x_val) in {1797, 569, 178, 442}
        assert abs(len(p.x_val) / (len(p.x_train) + len(p.x_val)) - 0.3) < 0.01
        assert p.model(0)(p.x_val[:3]).shape == (3, n_out)
        assert p.loss == ("mse" if name == "diabetes-mlp" else "cross-entropy")
    y = load_problem("diabetes-mlp").y_train
    assert abs(float(y.mean())) < 1e-5 and abs(float(y.std()) - 1) < 0.01  # standardized
    with pytest.raises(InputError, match=r"digits-mlp.*iris-mlp"):
        load_problem("mnist-mlp")


def test_the_development_problems_are_apart_from_the_reported_ones() -> None:
    dev = {"iris-mlp": (4, 3, 150), "moons-mlp": (2, 2, 1000), "blobs-mlp": (20, 4, 1500)}
    dev["friedman-mlp"] = (10, 1, 600)
    assert set(DEV_PROBLEMS) == set(dev) and not set(DEV_PROBLEMS) & set(PROBLEMS)
    for name, (n_in, n_out, rows) in dev.items():
        p = load_problem(name)
        assert p.x_train.shape[1] == n_in and len(p.x_train) + len(p.x_val) == rows
        assert p.model(0)(p.x_val[:3]).shape == (3, n_out)
    again = load_problem.__wrapped__("blobs-mlp")  # generated data: the same on every load
    assert torch.equal(again.x_train, load_problem("blobs-mlp").x_train)


def test_train_is_reproducible_and_seeds_share_nothing() -> None:
    problem = load_problem("wine-mlp")
    sgd = lambda params, lr: torch.optim.SGD(params, lr=lr)  # noqa: E731
    a = train(problem, sgd, 0.05, seed=1, epochs=2)
    b = train(problem, sgd, 0.05, seed=1, epochs=2)
    c = train(problem, sgd, 0.05, seed=2, epochs=2)
    assert a["val_loss"] == b["val_loss"] != c["val_loss"]
    assert a["steps"] == 2 * math.ceil(len(problem.y_train) / 32) and 0 <= a["val_acc"] <= 1


def _records() -> list[dict]:
    rows = []
    for seed, noise in ((0, 0.0), (1, 0.02)):
        common = {"problem": "p", "seed": seed, "ms_per_step": 1.0}
        rows += [
            common | {"family": "reference", "method": "Adam", "lr0": 1e-3, "val_loss": 0.5},
            common | {"family": "lr-free", "method": "Prodigy", "lr0": None, "val_loss": 0.2},
            common | {"family": "lr-free", "method": "DoG", "lr0": None, "val_loss": 0.4},
            common | {"family": "self-tuning", "method": "Adam-HD", "lr0": 1e-4, "val_loss": 0.3},
            common
            | {"family": "self-tuning", "method": "Adam-HD", "lr0": 1e-2, "val_loss": 0.2 + noise},
            common
            | {"family": "self-tuning", "method": "SGD-HD", "lr0": 1e-1, "val_loss": math.inf},
            common
            | {"family": "self-tuning", "method": "SGD-HD", "lr0": 1e-4, "val_loss": 0.1 + noise},
        ]
    return [r | {"diverged": not math.isfinite(r["val_loss"])} for r in rows]


def test_the_bar_judges_the_worst_start_against_the_best_lr_free_optimizer() -> None:
    costs = {
        "p": {"Adam": 2.0, "SGD": 1.0, "Prodigy": 3.0, "DoG": 1.5, "Adam-HD": 2.4, "SGD-HD": 1.2}
    }
    rows = {r["method"]: r for r in lr_free_bar.summarize_bar(_records(), costs)}
    assert rows["Adam-HD"]["worst start"] == 1e-4 and rows["Adam-HD"]["val loss @worst"] == 0.3
    assert rows["Adam-HD"]["best start"] == 1e-2
    assert rows["Adam-HD"]["worst / best LR-free"] == pytest.approx(1.5)
    assert rows["SGD-HD"]["worst / best LR-free"] == math.inf  # a diverged start is the worst
    assert rows["SGD-HD"]["runs with a non-finite loss"] == 2
    assert rows["Adam-HD"]["runs with a non-finite loss"] == 0
    assert rows["Prodigy"]["worst / best LR-free"] == 1.0 and rows["Prodigy"]["worst start"] is None
    assert rows["Prodigy"]["cost per step"] == 1.5 and rows["SGD-HD"]["cost per step"] == 1.2
    assert rows["Adam-HD"]["se @worst"] == 0.0 and math.isnan(rows["SGD-HD"]["se @worst"])
    (verdict,) = lr_free_bar.verdicts(list(rows.values()))
    assert (
        verdict["best LR-free"] == "Prodigy"
        and verdict["best self-tuning (worst start)"] == "Adam-HD"
    )
    assert verdict["ratio"] == pytest.approx(1.5) and not verdict["met"]
    (lenient,) = lr_free_bar.verdicts(list(rows.values()), target=1.6)
    assert lenient["met"] and not lenient["ahead of every LR-free"]
    assert lr_free_bar.method_scores(list(rows.values())) == {"Adam-HD": [], "SGD-HD": []}
    assert lr_free_bar.method_scores(list(rows.values()), 1.6) == {"Adam-HD": ["p"], "SGD-HD": []}


def test_the_plan_runs_every_lr_free_optimizer_and_every_starting_rate() -> None:
    runs = lr_free_bar.plan(list(LR_FREE))
    methods = [m for _, m, _, _ in runs]
    assert set(LR_FREE) <= set(methods) and {"Adam", "SGD"} <= set(methods)
    for name, rates in lr_free_bar.SELF_TUNING.items():
        assert [lr for _, m, _, lr in runs if m == name] == list(rates)
    quick = lr_free_bar.plan(list(LR_FREE), quick=True)
    assert [lr for _, m, _, lr in quick if m == "SGD-HD"] == [1e-4, 1e-1]


def test_the_experiment_leaves_out_and_names_missing_packages(monkeypatch) -> None:
    monkeypatch.setattr(lr_free, "_import", _missing(*(s.module for s in LR_FREE.values())))
    monkeypatch.setattr(lr_free_bar, "QUICK_PROBLEMS", ("wine-mlp",))
    monkeypatch.setattr(lr_free_bar, "SELF_TUNING", {"Adam-HD": (1e-3,)})
    summary, figures, data = lr_free_bar.bar_section([0], quick=True)
    assert data["missing"] == list(LR_FREE)
    assert {r["method"] for r in data["rows"]} == {"Adam", "SGD", "Adam-HD"}
    assert data["verdicts"] == []  # nothing to judge against
    assert "pip install 'hyperlab[lrfree]'" in summary[-1] and "Prodigy" in summary[-1]
    assert len(figures) == 1


def test_a_self_tuning_optimizer_that_trains_where_every_lr_free_one_diverged_meets_the_bar() -> (
    None
):
    """A diverged bar (``inf``) read as unbeatable: a finite loss got ratio ``inf`` and 'missed'."""
    rows = [r for r in _records() if r["family"] != "lr-free" or r["method"] == "DoG"]
    for r in rows:
        if r["method"] == "DoG":
            r["val_loss"], r["diverged"] = math.inf, True
    judged = {r["method"]: r for r in lr_free_bar.summarize_bar(rows)}
    assert judged["Adam-HD"]["worst / best LR-free"] == 0.0
    assert judged["SGD-HD"]["worst / best LR-free"] == math.inf  # diverged too: no better
    (verdict,) = lr_free_bar.verdicts(list(judged.values()))
    assert verdict["met"] and verdict["ahead of every LR-free"]


def test_without_any_lr_free_optimizer_there_is_no_ratio_to_the_bar() -> None:
    """With no learning-rate-free optimizer installed every ratio read ``inf`` (infinitely
    worse than a bar that was never measured)."""
    rows = lr_free_bar.summarize_bar([r for r in _records() if r["family"] != "lr-free"])
    assert all(math.isnan(r["worst / best LR-free"]) for r in rows)
    assert lr_free_bar.method_scores(rows) == {"Adam-HD": [], "SGD-HD": []}


def test_the_verdict_is_paired_by_seed_so_a_page_can_say_how_far_it_is_from_noise() -> None:
    """The page said met or missed from seed means alone (3 seeds in the full run)."""
    records = _records()
    rows = lr_free_bar.summarize_bar(records)
    (row,) = lr_free_bar.paired_to_bar(records, rows)
    # Adam-HD from its worst start (1e-4: 0.3 on both seeds) minus Prodigy (0.2 on both)
    assert (row["ours"], row["bar"], row["n"], row["below"]) == ("Adam-HD", "Prodigy", 2, 0)
    assert row["mean"] == pytest.approx(0.1)
    assert lr_free_bar.paired_text(row).startswith("Adam-HD − Prodigy +0.1000 [")
    assert lr_free_bar.paired_text(row).endswith("lower on 0 of 2 seeds")


def _pair_records(ours: list[float], bar: list[float]) -> list[dict]:
    """One seed per value: Adam-HD from its only start against Prodigy, the only bar."""
    rows = []
    for seed, (mine, theirs) in enumerate(zip(ours, bar)):
        common = {"problem": "p", "seed": seed, "ms_per_step": 1.0, "diverged": False}
        rows += [
            common | {"family": "lr-free", "method": "Prodigy", "lr0": None, "val_loss": theirs},
            common | {"family": "self-tuning", "method": "Adam-HD", "lr0": 1e-3, "val_loss": mine},
        ]
    return rows


def _words(ours: list[float], bar: list[float]) -> str:
    records = _pair_records(ours, bar)
    (row,) = lr_free_bar.against_target(records, lr_free_bar.summarize_bar(records))
    return row["words"]


def test_the_verdict_says_met_or_missed_only_where_the_seeds_tell_it_from_noise() -> None:
    """With 3 seeds the page said 'missed' from the seed means alone, beside a paired interval
    that could not tell the miss from noise."""
    noise = [0.001 * k for k in range(6)]
    bar = [0.2 + e for e in noise]
    assert _words([0.3 + e for e in noise], bar) == "missed"  # 6 seeds: the test can tell
    assert _words([0.1 + e for e in noise], bar) == "met"
    assert _words([0.3 + e for e in noise[:3]], bar[:3]) == "missed by the mean, within noise"
    assert _words([0.1 + e for e in noise[:3]], bar[:3]) == "met by the mean, within noise"
    # the target is 2% of the bar: 1% above it meets it (by the mean), 2.5% misses it
    assert _words([1.01 * b + e for b, e in zip(bar, [0.0, 0.01, -0.01])], bar[:3]) == (
        "met by the mean, within noise"
    )
    assert _words([0.25], [0.2]) == "missed by the mean, on one seed: no noise to judge it by"
    assert (
        _words([math.inf, 0.21, 0.21], [0.2] * 3)
        == "missed (a run diverged: the seed means decide)"
    )


def test_the_pages_verdict_follows_the_paired_test_against_the_target(monkeypatch) -> None:
    """The page's words came from the ratio of seed means only ('ratio 1.050: missed')."""
    records = _pair_records([0.21, 0.22, 0.20], [0.2, 0.21, 0.2])
    monkeypatch.setattr(lr_free_bar, "run_bar", lambda *a, **k: records)
    monkeypatch.setattr(lr_free_bar, "step_costs", lambda *a, **k: {})
    summary, _, data = lr_free_bar.bar_section([0, 1, 2], quick=False)
    (line,) = [s for s in summary if s.startswith("p: ")]
    assert "(ratio 1.033: missed by the mean, within noise; Adam-HD − 1.02 × Prodigy +0.0" in line
    assert "paired by seed, Adam-HD − Prodigy +0.0067 [" in line
    assert "only where the seeds tell it from noise" in summary[0]
    assert data["against_target"][0]["verdict"] == "within noise"
