from __future__ import annotations

import json
from pathlib import Path

import plotly.graph_objects as go
import pytest

from hyperlab.experiments import l2_collapse
from hyperlab.registry import EXPERIMENTS


def _check_common(result, name: str) -> None:
    assert result.name == name
    assert result.table and result.summary
    assert result.figures and all(isinstance(f, go.Figure) for f in result.figures)
    json.dumps(result.data, default=str)  # plain data


@pytest.mark.slow
def test_l2_collapse_quick(tmp_path: Path) -> None:
    result = EXPERIMENTS.create("l2-collapse", out_dir=tmp_path, quick=True, seed=0)
    _check_common(result, "l2-collapse")
    runs = {r["method"]: r for r in result.data["runs"]}
    assert set(runs) == {"train", "t1t2", "ift"}
    # train-objective descent only lowers lambda; validation hypergradients stop in the interior
    traj = runs["train"]["trajectory"]
    assert traj[-1] < traj[0] < runs["train"]["lambda0"]
    assert runs["train"]["lambda"] < 0.05 * runs["train"]["lambda0"]
    best = result.data["grid_best"]["lambda"]
    assert 1e-5 < best < 1e-1  # the grid has an interior optimum
    for m in ("t1t2", "ift"):
        assert runs[m]["lambda"] > 10 * runs["train"]["lambda"]
        assert best / 10 < runs[m]["lambda"] < best * 10
    assert [row["method"] for row in result.table][1:] == ["train objective", "T1-T2", "IFT"]
    assert any("lambda" in (f.layout.title.text or "") for f in result.figures)


def test_l2_problem_has_the_documented_split() -> None:
    p = l2_collapse.load_problem(seed=1)
    assert p.x_train.shape == (100, 64) and p.x_val.shape == (400, 64)
    assert len(p.y_test) == 1797 - 500
    model = l2_collapse.solve(p, 1e-2, max_iter=20)
    scores = l2_collapse.evaluate(p, model)
    assert 0 < scores["val_loss"] < 2.3 and 0.5 < scores["test_acc"] <= 1


@pytest.mark.slow
def test_relax_quick(tmp_path: Path) -> None:
    result = EXPERIMENTS.create("relax", out_dir=tmp_path, quick=True, seed=0)
    _check_common(result, "relax")
    sources = [row["source"] for row in result.table]
    assert sources.count("grid") == 12
    assert sources.count("relaxation") == sources.count("relaxation + warm-up") == 1
    losses = [row["val loss"] for row in result.table]
    assert [row["rank (val loss)"] for row in result.table] == [1 + losses.index(v) for v in losses]
    for search in result.data["searches"].values():
        chosen = search["chosen"].split("-")
        assert 1 <= len(chosen) <= 3 and set(chosen) <= {"relu", "tanh", "gelu", "identity"}
        probs = search["trajectory"]["probabilities"]
        assert set(probs) == {"layer1", "layer2", "layer3", "depth"}
    warm = result.data["searches"]["relaxation + warm-up"]["trajectory"]["probabilities"]
    assert warm["depth"][0] == warm["depth"][1]  # the logits wait for the warm-up


@pytest.mark.slow
def test_stn_quick(tmp_path: Path) -> None:
    result = EXPERIMENTS.create("stn", out_dir=tmp_path, quick=True, seed=0)
    _check_common(result, "stn")
    assert len(result.table) == 3
    schedule = result.data["stn"][0]["schedule"]
    assert len(schedule["step"]) == len(schedule["dropout"]) == len(schedule["weight_decay"]) > 5
    assert max(schedule["dropout"]) - min(schedule["dropout"]) > 1e-3
    assert len(result.data["grid"]) == 4


def test_an_experiment_run_later_into_the_same_folder_keeps_the_earlier_page(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``experiments.html`` was rewritten by each call: the earlier experiment's page was gone
    though its JSON was still there."""
    from hyperlab.experiments.base import ExperimentResult
    from hyperlab.experiments.launch import run_experiments

    def made(name: str, **_: object) -> ExperimentResult:
        return ExperimentResult(name, f"title of {name}", summary=[f"finding of {name}"])

    monkeypatch.setattr(EXPERIMENTS, "create", made)
    run_experiments(["stn"], tmp_path, quick=True)
    page = run_experiments(["relax"], tmp_path, quick=True).read_text()
    assert "finding of relax" in page and "finding of stn" not in page
    assert "<a href='stn.html'>stn</a>" in page
    assert "finding of stn" in (tmp_path / "stn.html").read_text()
    assert "finding of relax" in (tmp_path / "relax.html").read_text()


def test_a_run_with_other_settings_never_replaces_an_experiments_results(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A --quick run (or another seed) into the folder of a full run replaced its results."""
    from hyperlab.cli import main
    from hyperlab.experiments.base import ExperimentResult

    def made(name: str, quick: bool, seed: int, **_: object) -> ExperimentResult:
        return ExperimentResult(name, "t", summary=[f"quick={quick} seed={seed}"], data={"x": 1})

    monkeypatch.setattr(EXPERIMENTS, "create", made)
    out = ["--out", str(tmp_path)]
    assert main(["experiment", "stn", *out]) == 0
    full = (tmp_path / "stn.json").read_text()
    assert json.loads(full) == {"hyperlab_run": {"quick": False, "seed": 0}, "x": 1}
    for other in (["--quick"], ["--seed", "1"]):
        assert main(["experiment", "relax", "stn", *out, *other]) == 2
        err = capsys.readouterr().err
        assert "stn.json' holds a full run with seed 0; this call runs a" in err
        assert (tmp_path / "stn.json").read_text() == full and not (
            tmp_path / "relax.json"
        ).exists()
    assert main(["experiment", "stn", *out]) == 0  # the same settings: run again
    assert main(["experiment", "stn", *out, "--quick", "--overwrite"]) == 0
    assert "quick=True" in (tmp_path / "stn.html").read_text()


def _l2_data(ift_trajectory: list[float]) -> dict:
    """What ``l2_collapse.run`` returns, made up: IFT steps every 20 of 200 steps."""
    scores = {"val_loss": 0.4, "val_acc": 0.9, "test_loss": 0.4, "test_acc": 0.9}
    steps = {"train": list(range(1, 201)), "t1t2": list(range(1, 201))}
    steps["ift"] = list(range(20, 201, 20))
    trajectory = {"train": [1e-2 * 0.98**s for s in steps["train"]]}
    trajectory |= {"t1t2": [1e-3] * 200, "ift": ift_trajectory}
    return {
        "settings": {
            "n_train": 100,
            "n_val": 400,
            "n_test": 1297,
            "steps": 200,
            "lambda0": 1e-2,
            "lr": 1.0,
            "hyper_lr": 0.05,
            "hyper_every": {"train": 1, "t1t2": 1, "ift": 20},
            "grid": [1e-3],
            "seed": 0,
            "quick": True,
        },
        "grid": [{"lambda": 1e-3} | scores],
        "grid_best": {"lambda": 1e-3} | scores,
        "grid_seconds": 1.0,
        "runs": [
            {
                "method": m,
                "lambda0": 1e-2,
                "lambda": trajectory[m][-1],
                "steps": steps[m],
                "trajectory": trajectory[m],
                "online": scores,
                "refit": scores,
                "seconds": 0.1,
            }
            for m in ("train", "t1t2", "ift")
        ],
    }


def test_l2_collapse_says_settled_only_for_a_lambda_that_stopped_moving() -> None:
    """The page said IFT 'settled at lambda 0.00609' while it still fell 5% per hyper step."""
    falling = l2_collapse._summary(_l2_data([1e-2 * 0.95**k for k in range(1, 11)]))
    (ift,) = [line for line in falling if line.startswith("IFT")]
    assert (
        "settled" not in ift
        and "ended at lambda 0.00599 (5.99x the grid optimum), still falling (-5.0%" in ift
    )
    (t1t2,) = [line for line in falling if line.startswith("T1-T2")]
    assert t1t2.startswith("T1-T2 settled at lambda 0.001 (1.00x the grid optimum);")
    flat = l2_collapse._summary(_l2_data([2e-3] * 10))
    assert any(line.startswith("IFT settled at lambda 0.002 (2.00x") for line in flat)


def _stn_scores(test_losses: list[float]) -> dict:
    """A method's scores over seeds, as ``experiments.base.over_seeds`` gives them."""
    from hyperlab.experiments.base import over_seeds

    runs = [{"val_loss": 0.2, "val_acc": 0.9, "test_loss": t, "test_acc": 0.9} for t in test_losses]
    return over_seeds(runs)


def _stn_data() -> dict:
    """What ``self_tuning_net.run`` returns, made up: two seeds, dropout falling steadily."""
    scores = _stn_scores([0.2, 0.2])
    stn = [
        {
            "seed": seed,
            "final": {"dropout": final, "weight_decay": 1e-5 * (seed - 2)},
            "scores": {"val_loss": 0.2, "val_acc": 0.9, "test_loss": 0.2, "test_acc": 0.9},
            "schedule": {
                "step": [2, 4, 6],
                "dropout": [0.097, 0.07, final],
                "weight_decay": [1e-4, 5e-5, 1e-5],
            },
            "seconds": 0.1,
        }
        for seed, final in ((3, 0.041), (4, 0.052))
    ]
    grid = [{"dropout": 0.1, "weight_decay": 1e-4} | scores]
    settings = {"width": 64, "depth": 2, "epochs": 4, "seeds": [3, 4], "lr": 3e-3}
    settings |= {"hyper_lr": 0.03, "dropout0": 0.1, "weight_decay0": 1e-4, "quick": False}
    settings |= {"grid_dropout": [0.1], "grid_weight_decay": [1e-4]}
    return {
        "settings": settings,
        "stn": stn,
        "stn_scores": scores,
        "refit_scores": scores,
        "grid": grid,
        "grid_best": grid[0],
        "grid_seconds": 1.0,
    }


def test_stn_runs_enough_seeds_to_pair_and_keeps_every_seeds_scores(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The full run had 2 seeds and kept only seed means: no standard error, nothing to pair."""
    from hyperlab.experiments import self_tuning_net as stn
    from hyperlab.lab.stats import MIN_TESTABLE_PAIRS

    def fixed(dropout, weight_decay, split, *, epochs, seed):
        loss = 0.1 + dropout / 10 + weight_decay
        return {"val_loss": loss, "val_acc": 0.9, "test_loss": loss + seed / 100, "test_acc": 0.9}

    def tuned(split, *, epochs, seed):
        schedule = {"step": [1, 2], "dropout": [0.1, 0.05], "weight_decay": [1e-4, 1e-4]}
        scores = fixed(0.05, 1e-4, split, epochs=epochs, seed=seed)
        final = {"dropout": 0.05, "weight_decay": 1e-4}
        return {"seed": seed, "final": final, "scores": scores, "schedule": schedule, "seconds": 0}

    monkeypatch.setattr(stn, "split_digits", lambda seed: {})
    monkeypatch.setattr(stn, "train_fixed", fixed)
    monkeypatch.setattr(stn, "train_stn", tuned)
    data = stn.run(quick=False, seed=3)
    assert data["settings"]["seeds"] == list(range(3, 3 + MIN_TESTABLE_PAIRS))
    for scores in (data["stn_scores"], data["refit_scores"], *data["grid"]):
        expected = [scores["val_loss"] + s / 100 for s in range(3, 9)]
        assert scores["per_seed"]["test_loss"] == pytest.approx(expected)
        assert scores["se"]["test_loss"] == 0.0076  # 0.01 * sd(0, ..., 5) / sqrt(6), 2 digits
    assert data["grid_best"] == data["grid"][0]  # dropout 0, weight decay 1e-5
    assert stn.run(quick=True, seed=3)["settings"]["seeds"] == [3]


def test_stn_shows_the_grids_best_on_the_test_split_paired_by_seed_with_errors() -> None:
    """The grid's best was picked on validation loss and shown on it, beside the STN's, which
    steers by validation batches too, with no standard errors and no pairing."""
    from hyperlab.experiments import self_tuning_net

    data = _stn_data()
    data["stn_scores"] = _stn_scores([0.10, 0.12])
    data["grid_best"] = data["grid"][0] = {"dropout": 0.1, "weight_decay": 1e-4} | _stn_scores(
        [0.11, 0.12]
    )
    stn_row, _, best_row = self_tuning_net._table(data)
    assert best_row["method"] == "best of grid (1 fixed pairs; picked on val loss)"
    assert stn_row["test loss"] == 0.11 and stn_row["test loss s.e."] == 0.01
    assert best_row["test loss s.e."] == 0.005 and best_row["val loss s.e."] == 0.0
    summary = self_tuning_net._summary(data)
    assert "picked and shown on the same loss (0.2000)" in summary[2]
    assert "comparison is on the test split, used for no choice" in summary[2]
    assert "self-tuning network test loss 0.1100 ± 0.01, test accuracy 0.9000 ± 0" in summary[3]
    assert summary[4].startswith(
        "Paired by seed on test loss: self-tuning network vs best fixed pair: difference "
        "-0.005 ± 0.005 (n=2"
    )
    assert "within noise" in summary[4] and "± is the standard error over the seeds" in summary[0]
    data["settings"]["seeds"] = [3]
    assert "one seed cannot tell a difference from noise" in self_tuning_net._summary(data)[4]


def test_stn_table_shows_every_seeds_final_values_next_to_the_seed_means() -> None:
    """The table showed the first seed's final dropout and weight decay beside scores averaged
    over all seeds (and the refit's mean, each seed refit at its own values)."""
    from hyperlab.experiments import self_tuning_net

    stn_row, refit_row, _ = self_tuning_net._table(_stn_data())
    for row in (stn_row, refit_row):
        assert row["dropout"] == "0.041, 0.052 (seeds 3, 4)"
        assert row["weight decay"] == "1e-05, 2e-05 (seeds 3, 4)"


def test_stn_schedule_names_its_extremes_in_the_order_they_came() -> None:
    """A dropout that only fell read '0.097 -> min 0.041 -> max 0.097 -> final 0.041'."""
    from hyperlab.experiments import self_tuning_net

    summary = self_tuning_net._summary(_stn_data())
    assert "seed 3): dropout went 0.097 -> max 0.097 -> min 0.041 -> final 0.041;" in summary[1]


def _fake_relax(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every retraining takes one tick of a fake clock and scores by depth; both relaxations
    choose 'identity', an architecture of the grid."""
    from types import SimpleNamespace

    from hyperlab.experiments import relaxed_architecture as relax
    from hyperlab.hypergrad.relax import Architecture

    clock = SimpleNamespace(now=0.0)
    monkeypatch.setattr(relax, "time", SimpleNamespace(perf_counter=lambda: clock.now))

    def trained(arch, split, *, epochs, seed):
        clock.now += 1.0
        loss = 0.5 + arch.depth / 10 + 0.01 * relax.CANDIDATES.index(arch.activations[0])
        return {"val_loss": loss, "val_acc": 0.9, "test_loss": loss, "test_acc": 0.9}

    def searched(split, *, epochs, seed, warmup_epochs=0):
        history = SimpleNamespace(step=[1], probabilities={"depth": [[1.0, 0.0, 0.0]]})
        return Architecture(("identity",)), history

    monkeypatch.setattr(relax, "train_discrete", trained)
    monkeypatch.setattr(relax, "search", searched)


def test_relax_ranks_equal_results_equally_and_times_the_grid_alone(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The relaxations' pick, the same network as a grid entry, was ranked 4 and 5 behind its
    own identical grid row (3); 'the grid took' counted the relaxations' retrainings too."""
    from hyperlab.experiments import relaxed_architecture as relax

    _fake_relax(monkeypatch)
    data = relax.run(quick=True, seed=0)
    assert data["grid_seconds"] == 12.0  # 12 architectures x 1 seed, one tick each
    ranks = {(r["architecture"], r["source"]): r["rank (val loss)"] for r in relax._table(data)}
    assert ranks[("identity", "grid")] == 4  # relu, tanh, gelu (depth 1) are lower
    assert ranks[("identity", "relaxation")] == ranks[("identity", "relaxation + warm-up")] == 4
    assert ranks[("relu-relu", "grid")] == 7
    summary = relax._summary(data)
    assert "validation loss 0.6300, rank 4 of 14 on it (tied with 2 others);" in summary[2]
    assert "The grid took 12 s to retrain its 12 architectures x 1 seed(s)." in summary[4]


def test_relax_says_whether_its_pick_is_within_noise_of_the_grids_best(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The page ranked the relaxations' picks by seed means alone ('rank 2 of 14' for a loss
    0.0005 above the grid's best over 3 seeds), with nothing to judge the noise by."""
    from hyperlab.experiments import relaxed_architecture as relax

    _fake_relax(monkeypatch)
    faked = relax.train_discrete

    def noisy(arch, split, *, epochs, seed):  # the seeds disagree: seed 1 favours 'identity'
        out = faked(arch, split, epochs=epochs, seed=seed)
        shift = -0.05 if seed == 1 and arch.activations[0] == "identity" else 0.0
        return out | {"test_loss": out["test_loss"] + shift}

    monkeypatch.setattr(relax, "train_discrete", noisy)
    data = relax.run(quick=False, seed=0)
    summary = relax._summary(data)
    assert (
        "relaxation (identity) vs the grid's best (relu): difference +0.02167 ± 0.0083 (n=6, Wilcoxon p=0.0625) — within noise;"
        in summary[5]
    )
    rows = {(r["architecture"], r["source"]): r for r in relax._table(data)}
    assert rows[("identity", "relaxation")]["test loss s.e."] == 0.0083
    assert rows[("relu", "grid")]["test loss s.e."] == 0.0
    quick = relax._summary(relax.run(quick=True, seed=0))
    assert "one seed cannot tell a difference from noise" in quick[5]
    assert relax._table(relax.run(quick=True, seed=0))[0]["test loss s.e."] is None


def test_relax_runs_enough_seeds_to_pair_and_keeps_every_seeds_scores(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The full run retrained in 3 seeds, too few for the lab's paired test to call any
    difference, and kept each seed's validation loss alone beside the seed means."""
    from hyperlab.experiments import relaxed_architecture as relax
    from hyperlab.lab.stats import MIN_TESTABLE_PAIRS

    _fake_relax(monkeypatch)
    faked = relax.train_discrete

    def by_seed(arch, split, *, epochs, seed):
        out = faked(arch, split, epochs=epochs, seed=seed)
        return out | {"test_loss": out["val_loss"] + seed / 100}

    monkeypatch.setattr(relax, "train_discrete", by_seed)
    data = relax.run(quick=False, seed=3)
    seeds = list(range(3, 3 + MIN_TESTABLE_PAIRS))
    assert data["settings"]["seeds"] == seeds
    scores = {"val_loss", "val_acc", "test_loss", "test_acc"}
    for row in data["rows"]:
        assert set(row["per_seed"]) == set(row["se"]) == scores
        expected = [row["val_loss"] + s / 100 for s in seeds]
        assert row["per_seed"]["test_loss"] == pytest.approx(expected)
        assert row["se"]["test_loss"] == 0.0076  # 0.01 * sd(0, ..., 5) / sqrt(6), 2 digits
    assert relax.run(quick=True, seed=3)["settings"]["seeds"] == [3]


def test_relax_compares_its_picks_on_the_test_split_paired_by_seed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The grid's best was picked on validation loss and each relaxation's pick was compared
    with it on that same loss, which the relaxations learn by too; the test split, on which
    nothing is chosen, showed as a test accuracy without its standard error."""
    from types import SimpleNamespace

    from hyperlab.experiments import relaxed_architecture as relax
    from hyperlab.hypergrad.relax import Architecture

    _fake_relax(monkeypatch)
    faked = relax.train_discrete

    def generalizes(arch, split, *, epochs, seed):  # 'identity' does better off validation
        out = faked(arch, split, epochs=epochs, seed=seed)
        gain = 0.05 + seed / 1000 if arch.activations[0] == "identity" else 0.0
        return out | {"test_loss": out["test_loss"] - gain, "test_acc": 0.9 + gain}

    def searched(split, *, epochs, seed, warmup_epochs=0):
        history = SimpleNamespace(step=[1], probabilities={"depth": [[1.0, 0.0, 0.0]]})
        return Architecture(("tanh", "tanh") if warmup_epochs else ("identity",)), history

    monkeypatch.setattr(relax, "train_discrete", generalizes)
    monkeypatch.setattr(relax, "search", searched)
    data = relax.run(quick=False, seed=0)
    rows = {(r["architecture"], r["source"]): r for r in relax._table(data)}
    mine = rows[("identity", "relaxation")]
    assert mine["test loss"] == 0.5775 and mine["test loss s.e."] == 0.00076
    assert mine["test acc"] == 0.9525 and mine["test acc s.e."] == 0.00076
    assert mine["val loss s.e."] == mine["val acc s.e."] == 0.0
    summary = relax._summary(data)
    assert "the grid's best architecture (relu) is the one of 12 with the lowest" in summary[1]
    assert "picks are compared on the test split, used for no choice" in summary[1]
    assert "on the test split: test loss 0.5775 ± 0.00076, test accuracy 0.9525 ±" in summary[2]
    assert summary[4].startswith("The grid's best, picked on validation loss: relu")
    paired = summary[5].split("; ")
    assert paired[0] == (
        "Paired by seed on test loss: relaxation (identity) vs the grid's best (relu): "
        "difference -0.0225 ± 0.00076 (n=6, Wilcoxon p=0.0312) — relaxation (identity) is better"
    )
    assert paired[1].endswith("— relaxation + warm-up (tanh-tanh) is worse")
    assert paired[2].startswith("relaxation (identity) vs relaxation + warm-up (tanh-tanh)")
    bars = relax._loss_bars(data)
    assert [t.name for t in bars.data] == [
        "validation loss (the grid picks on it)",
        "test loss (no choice made on it)",
    ]
    assert bars.data[1].error_y.visible


def test_each_page_states_its_seeds() -> None:
    """The pages gave a count of seeds ('1 seed(s)') or none at all, never which."""
    from hyperlab.experiments import self_tuning_net

    data = _l2_data([2e-3] * 10)
    data["settings"]["seed"] = 7
    assert "One run, seed 7 (the data split" in l2_collapse._summary(data)[0]
    assert (
        "mean over seeds 3, 4 (the data split: seed 3)" in self_tuning_net._summary(_stn_data())[0]
    )
