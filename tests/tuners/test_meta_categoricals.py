"""The meta tuner's ``categoricals`` option: a suggestion's categoricals chosen by per-choice
evidence, the numeric parameters by the network."""

from __future__ import annotations

from typing import Any

import numpy as np
import optuna
import pytest
from optuna.distributions import CategoricalDistribution, FloatDistribution

from hyperlab.space import SpaceEncoder
from hyperlab.tuners.meta import MetaSampler, sampler
from hyperlab.tuners.meta.categoricals import carry, chosen_row

optuna.logging.set_verbosity(optuna.logging.ERROR)

SPACE = {
    "opt": CategoricalDistribution(["sgd", "adam", "rmsprop"]),
    "x": FloatDistribution(0.0, 1.0),
}


def _mixed(trial: optuna.Trial) -> float:
    opt = trial.suggest_categorical("opt", ["sgd", "adam", "rmsprop"])
    x = trial.suggest_float("x", 0.0, 1.0)
    return {"sgd": 1.0, "adam": 0.5, "rmsprop": 0.0}[opt] + (x - 0.3) ** 2


def _picks(enc: SpaceEncoder, x: np.ndarray, y: np.ndarray, rule: str, n: int = 20) -> list:
    rng = np.random.default_rng(0)
    rows = [chosen_row(enc, x, y, rule, rng) for _ in range(n)]
    return [enc.decode(np.atleast_2d(r))[0]["opt"] for r in rows if r is not None]


def test_network_and_a_space_without_categoricals_choose_nothing() -> None:
    enc = SpaceEncoder(SPACE)
    x, y = enc.encode([{"opt": "sgd", "x": 0.5}]), np.array([1.0])
    assert chosen_row(enc, x, y, "network", np.random.default_rng(0)) is None
    numeric = SpaceEncoder({"x": FloatDistribution(0.0, 1.0)})
    assert chosen_row(numeric, x[:, 3:], y, "thompson", np.random.default_rng(0)) is None


def test_without_trials_every_choice_is_drawn() -> None:
    enc = SpaceEncoder(SPACE)
    picks = _picks(enc, np.zeros((0, enc.dim)), np.zeros(0), "thompson", n=60)
    assert set(picks) == {"sgd", "adam", "rmsprop"}


def test_the_choice_of_the_best_trials_is_taken() -> None:
    enc = SpaceEncoder(SPACE)
    rng = np.random.default_rng(1)
    params = [{"opt": o, "x": float(v)} for o in ("sgd", "adam", "rmsprop") for v in rng.random(8)]
    y = np.array([_mixed_value(p) for p in params])
    assert _picks(enc, enc.encode(params), y, "thompson").count("rmsprop") >= 18


def test_thompson_judges_a_choice_with_its_trials_numeric_values_accounted_for() -> None:
    """``adam`` is 0.5 better than ``sgd`` but was tried only far from the best ``x``, where
    ``sgd`` was tried too: its trials score worse on average, yet the model, which sees how
    ``sgd`` did at those ``x``, picks ``adam``."""
    enc = SpaceEncoder({"opt": CategoricalDistribution(["sgd", "adam"]), "x": SPACE["x"]})
    xs = np.linspace(0.0, 1.0, 21)
    params = [{"opt": "sgd", "x": float(v)} for v in xs]
    params += [{"opt": "adam", "x": float(v)} for v in xs if abs(v - 0.3) > 0.5]
    y = np.array([{"sgd": 1.0, "adam": 0.5}[p["opt"]] + 3 * (p["x"] - 0.3) ** 2 for p in params])
    is_adam = np.array([p["opt"] == "adam" for p in params])
    assert y[is_adam].mean() > y[~is_adam].mean()  # the plain per-choice evidence misleads
    assert _picks(enc, enc.encode(params), y, "thompson").count("adam") >= 18


def test_carry_sets_every_categorical_block_and_leaves_numeric_columns() -> None:
    enc = SpaceEncoder(SPACE)
    cands = enc.encode([{"opt": "sgd", "x": 0.1}, {"opt": "adam", "x": 0.9}])
    row = enc.encode([{"opt": "rmsprop", "x": 0.5}])[0]
    out = carry(cands, row, enc)
    assert [p["opt"] for p in enc.decode(out)] == ["rmsprop", "rmsprop"]
    assert [p["x"] for p in enc.decode(out)] == pytest.approx([0.1, 0.9])


def test_every_suggestion_carries_the_chosen_values_and_the_network_moves_the_rest(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """With the rule made to choose ``sgd`` always, every trial steered takes it (the network
    alone does not keep one choice), and its numeric values still vary. (The first trial is
    drawn at random: the space is read from the finished trials.)"""
    enc = SpaceEncoder(SPACE)
    sgd = enc.encode([{"opt": "sgd", "x": 0.0}])[0] * np.r_[np.ones(3), 0.0]

    def always_sgd(enc_: SpaceEncoder, x: Any, y: Any, rule_: str, rng: Any) -> np.ndarray:
        assert rule_ == "thompson"
        return sgd

    network = optuna.create_study(sampler=MetaSampler(seed=0, n_candidates=64))
    network.optimize(_mixed, n_trials=12)
    assert len({t.params["opt"] for t in network.trials[1:]}) > 1
    monkeypatch.setattr(sampler, "chosen_row", always_sgd)
    study = optuna.create_study(
        sampler=MetaSampler(seed=0, n_candidates=64, categoricals="thompson")
    )
    study.optimize(_mixed, n_trials=12)
    assert {t.params["opt"] for t in study.trials[1:]} == {"sgd"}
    assert len({round(t.params["x"], 6) for t in study.trials}) == 12


def test_a_point_already_run_is_not_proposed_again_while_another_is_left() -> None:
    """On a space of four points the rule's choice soon holds only points already run; the
    suggestion then leaves it rather than repeat one."""

    def tiny(trial: optuna.Trial) -> float:
        c = trial.suggest_categorical("c", ["a", "b"])
        n = trial.suggest_int("n", 0, 1)
        return (0.0 if c == "a" else 1.0) + n

    study = optuna.create_study(
        sampler=MetaSampler(seed=0, n_candidates=32, categoricals="thompson")
    )
    study.optimize(tiny, n_trials=4)
    assert len({(t.params["c"], t.params["n"]) for t in study.trials}) == 4


def test_thompson_chooses_differently_from_the_network_on_a_mixed_space() -> None:
    paths = {}
    for rule in ("network", "thompson"):
        study = optuna.create_study(sampler=MetaSampler(seed=0, n_candidates=64, categoricals=rule))
        study.optimize(_mixed, n_trials=15)
        paths[rule] = [t.params["opt"] for t in study.trials]
    assert paths["thompson"] != paths["network"]


def _mixed_value(params: dict[str, Any]) -> float:
    return {"sgd": 1.0, "adam": 0.5, "rmsprop": 0.0}[params["opt"]] + (params["x"] - 0.3) ** 2
