"""Replay tasks: LCBench surrogate and the curve bank."""

from __future__ import annotations

import json
import math
import pickle
from pathlib import Path

import numpy as np
import optuna
import pytest

import hyperlab
from hyperlab.errors import DataNotFoundError, InputError, TrialFailure, UnknownNameError
from hyperlab.registry import TASKS
from hyperlab.tasks import replay, replay_lcbench
from hyperlab.tasks.replay import CurveBankTask, LCBenchTask, resolve_lcbench_dir

LCBENCH_DATA = resolve_lcbench_dir()


@pytest.fixture(scope="module")
def lcbench() -> LCBenchTask:
    return LCBenchTask("3945")


def test_identical_output_for_identical_input(lcbench: LCBenchTask) -> None:
    config = lcbench.default_config()
    first = lcbench.evaluate(config, budget=52, seed=3)
    again = LCBenchTask("3945", data_dir=LCBENCH_DATA).evaluate(dict(config), budget=52, seed=3)
    assert first.to_dict() == again.to_dict()
    short = lcbench.evaluate(config, budget=10, seed=3)
    assert short.curves["val_loss"] == first.curves["val_loss"][:10]
    assert len(first.curves["val_loss"]) == 52 and len(first.curves["val_metric"]) == 52
    assert short.wall_time <= first.wall_time
    assert 0.0 <= first.extra["val_accuracy"] <= 1.0


def test_registry_family_and_search_space(lcbench: LCBenchTask) -> None:
    task = TASKS.create("lcbench-7593")
    assert isinstance(task, LCBenchTask) and task.max_budget == 52
    dists = task.distributions()
    assert isinstance(dists["batch_size"], optuna.distributions.IntDistribution)
    assert dists["batch_size"].log and dists["max_units"].log
    assert dists["learning_rate"].log and dists["learning_rate"].low == pytest.approx(1e-4)
    assert not dists["momentum"].log and not dists["num_layers"].log
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    for _ in range(5):
        trial = study.ask()
        config = task.search_space(trial)
        assert isinstance(config["num_layers"], int)
        ev = task.evaluate(config, budget=2)
        assert len(ev.curves["val_loss"]) == 2 and math.isfinite(ev.value)


def test_different_tasks_give_different_curves(lcbench: LCBenchTask) -> None:
    config = lcbench.default_config()
    other = LCBenchTask("7593").evaluate(config, budget=5)
    assert other.curves["val_loss"] != lcbench.evaluate(config, budget=5).curves["val_loss"]


def test_on_epoch_sees_every_epoch_and_can_prune(lcbench: LCBenchTask) -> None:
    seen: list[int] = []

    def on_epoch(epoch: int, value: float, curves: dict[str, list[float]]) -> None:
        seen.append(epoch)
        assert len(curves["val_loss"]) == epoch and curves["val_loss"][-1] == value
        if epoch == 4:
            raise optuna.TrialPruned()

    with pytest.raises(optuna.TrialPruned):
        lcbench.evaluate(lcbench.default_config(), on_epoch=on_epoch)
    assert seen == [1, 2, 3, 4]


def test_missing_data_dir_names_the_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    missing = tmp_path / "nowhere"
    with pytest.raises(DataNotFoundError, match="nowhere"):
        LCBenchTask("3945", data_dir=missing)
    with pytest.raises(FileNotFoundError, match="nowhere"):
        TASKS.create("lcbench-3945", data_dir=missing)
    monkeypatch.setenv("HYPERLAB_DATA", str(missing))
    with pytest.raises(DataNotFoundError, match="HYPERLAB_DATA"):
        LCBenchTask("3945")


def test_data_root_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HYPERLAB_DATA", str(LCBENCH_DATA.parent))
    assert LCBenchTask("3945").folder == LCBENCH_DATA


def test_packaged_data_is_the_default(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HYPERLAB_DATA", raising=False)
    empty = tmp_path / "empty"
    empty.mkdir()
    monkeypatch.chdir(empty)
    package = Path(hyperlab.__file__).resolve().parent
    folder = resolve_lcbench_dir()
    assert folder == package / "data" / "yahpo-lcbench"
    for name in ("model.onnx", "config_space.json", "encoding.json", "LICENSE-2.0.txt"):
        assert (folder / name).is_file(), name
    task = LCBenchTask("3945")
    assert task.folder == folder
    assert math.isfinite(task.evaluate(task.default_config(), budget=2).value)
    # a bad override is an error naming it, not a silent fall-back to the packaged copy
    bogus = tmp_path / "bogus-data"
    monkeypatch.setenv("HYPERLAB_DATA", str(bogus))
    with pytest.raises(DataNotFoundError, match=r"HYPERLAB_DATA.*bogus-data"):
        resolve_lcbench_dir()
    with pytest.raises(DataNotFoundError, match="elsewhere"):
        resolve_lcbench_dir(tmp_path / "elsewhere")


def test_unknown_task_id_lists_known_ids() -> None:
    with pytest.raises(UnknownNameError, match="3945") as info:
        TASKS.create("lcbench-12345")
    assert "12345" in str(info.value) and "189909" in str(info.value)


def test_bad_config_is_rejected(lcbench: LCBenchTask) -> None:
    config = dict(lcbench.default_config(), learning_rate=5.0)
    with pytest.raises(InputError, match=r"learning_rate.*5\.0"):
        lcbench.evaluate(config)
    with pytest.raises(InputError, match="lacks"):
        lcbench.evaluate({"batch_size": 32})


def test_pickles_and_optimum(lcbench: LCBenchTask, monkeypatch: pytest.MonkeyPatch) -> None:
    config = lcbench.default_config()
    clone = pickle.loads(pickle.dumps(lcbench))
    assert clone.evaluate(config).value == lcbench.evaluate(config).value
    monkeypatch.setattr(replay_lcbench, "LCBENCH_OPTIMUM_SAMPLES", 500)
    fresh = LCBenchTask("3945")
    values = fresh.final_values(500, seed=0)
    assert values.shape == (500,)
    assert fresh.optimum == pytest.approx(values.min())
    assert fresh.regret(fresh.optimum) == 0.0


# ------------------------------------------------------------------------------- bank


def write_bank(path: Path, n: int = 6, epochs: int = 5) -> list[dict[str, object]]:
    rng = np.random.default_rng(0)
    configs = [
        {
            "lr": float(10 ** rng.uniform(-4, 0)),
            "weight_decay": 1e-4,
            "batch_size": int(rng.integers(16, 256)),
            "n_layers": 2,
            "width": 64,
            "activation": ["relu", "tanh"][i % 2],
            "dropout": 0.1,
            "optimizer": "adam",
        }
        for i in range(n)
    ]
    val = np.linspace(1.0, 0.2, epochs)[None, :] + np.arange(n)[:, None] * 0.1
    val[-1, 2:] = np.nan  # the last run diverged at epoch 3
    arrays = {
        "train_loss": val * 0.9,
        "val_loss": val,
        "train_metric": 1 - val / 2,
        "val_metric": 1 - val / 2,
        "epoch_time": np.full((n, epochs), 0.5),
    }
    np.savez_compressed(
        path,
        meta=np.array(json.dumps({"configs": n, "epochs": epochs})),
        configs=np.array(json.dumps(configs)),
        fold_val_loss_last=np.stack([val[:, -1] - 0.01, val[:, -1], val[:, -1] + 0.01], 1),
        **{k: v.astype(np.float32) for k, v in arrays.items()},
    )
    return configs


def test_bank_nearest_neighbour_replay(tmp_path: Path) -> None:
    configs = write_bank(tmp_path / "bank.npz")
    task = CurveBankTask(tmp_path / "bank.npz")
    assert task.max_budget == 5
    ev = task.evaluate(configs[1])
    assert ev.curves["val_loss"] == pytest.approx(np.linspace(1.0, 0.2, 5) + 0.1)
    assert ev.wall_time == pytest.approx(2.5) and ev.std_err > 0
    near = dict(configs[2], lr=configs[2]["lr"] * 1.01)  # type: ignore[operator]
    assert task.nearest(near) == 2
    assert task.evaluate(near, budget=3).to_dict() == task.evaluate(near, budget=3).to_dict()
    assert task.optimum == pytest.approx(0.2)
    with pytest.raises(TrialFailure, match="epoch 3") as info:
        task.evaluate(configs[-1])
    assert len(info.value.curves["val_loss"]) == 3
    with pytest.raises(InputError, match="sigmoid"):
        task.evaluate(dict(configs[0], activation="sigmoid"))
    assert pickle.loads(pickle.dumps(task)).evaluate(configs[1]).value == ev.value


def test_bank_gives_the_fold_scores_behind_its_standard_error(tmp_path: Path) -> None:
    """A full-budget replay of a bank run carries the fold scores its standard error comes
    from, so ``--stop-at-noise`` can read its noise (with one score it never acted, and said
    the task had no folds, beside a summary that showed a CV standard error)."""
    configs = write_bank(tmp_path / "bank.npz")
    ev = CurveBankTask(tmp_path / "bank.npz").evaluate(configs[1])
    assert ev.fold_values == pytest.approx([ev.value - 0.01, ev.value, ev.value + 0.01])
    assert ev.std_err == pytest.approx(np.std(ev.fold_values, ddof=1) / np.sqrt(3))
    early = CurveBankTask(tmp_path / "bank.npz").evaluate(configs[1], budget=3)
    assert early.fold_values == [early.value] and early.std_err == 0.0  # known at the end only


def test_missing_bank_names_the_path(tmp_path: Path) -> None:
    with pytest.raises(DataNotFoundError, match=r"absent\.npz"):
        CurveBankTask(tmp_path / "absent.npz")


def test_bundled_bank_replays_its_own_curves() -> None:
    task = TASKS.create("digits-mlp-bank")
    assert isinstance(task, CurveBankTask)
    assert replay.DIGITS_BANK.stat().st_size < 2_000_000
    assert task.max_budget == task.meta["epochs"] and len(task.configs) == task.meta["configs"]
    finals = task.final_values()
    assert task.optimum == pytest.approx(float(np.nanmin(finals)))
    best = int(np.nanargmin(finals))
    ev = task.evaluate(task.configs[best])
    assert ev.value == pytest.approx(task.optimum) and task.regret(ev.value) == pytest.approx(0.0)
    assert len(ev.curves["train_loss"]) == task.max_budget and ev.wall_time > 0
