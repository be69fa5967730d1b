"""The ask/tell bridge shared by the peers: the space mapping, outcomes, RNG containment."""

from __future__ import annotations

import random
import sys
from typing import Any

import numpy as np
import optuna
import pytest
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

from hyperlab.errors import InputError, InputTypeError
from hyperlab.registry import TUNERS
from hyperlab.testing.tuners import MIXED_SPACE, mixed_objective
from hyperlab.tuners.peers.base import (
    CHOICE,
    FLOAT,
    INT,
    PeerSampler,
    RngState,
    constants,
    param_specs,
)


def test_every_distribution_maps_both_ways() -> None:
    specs = {s.name: s for s in param_specs(MIXED_SPACE)}
    assert (specs["float"].kind, specs["float"].log) == (FLOAT, False)
    assert (specs["log_float"].kind, specs["log_float"].log) == (FLOAT, True)
    assert (specs["step_float"].kind, specs["step_float"].high) == (INT, 4)  # grid 0..4
    assert (specs["int"].kind, specs["int"].low, specs["int"].high) == (INT, -2, 5)
    assert (specs["step_int"].kind, specs["step_int"].high) == (INT, 4)
    assert (specs["log_int"].kind, specs["log_int"].log) == (INT, True)
    assert (specs["categorical"].kind, specs["categorical"].high) == (CHOICE, 3)
    values = {
        "float": 0.3,
        "log_float": 1e-3,
        "step_float": 0.75,
        "int": -1,
        "step_int": 15,
        "log_int": 7,
        "categorical": None,
    }
    for name, value in values.items():
        assert specs[name].to_optuna(specs[name].to_raw(value)) == value


def test_raw_values_are_rounded_clipped_and_put_on_the_grid() -> None:
    specs = {s.name: s for s in param_specs(MIXED_SPACE)}
    assert specs["float"].to_optuna(9.0) == 2.0
    assert specs["int"].to_optuna(np.float64(2.6)) == 3
    assert type(specs["int"].to_optuna(np.float64(2.6))) is int
    assert specs["step_float"].to_optuna(2.4) == 0.5
    assert specs["step_int"].to_optuna(7) == 20
    assert specs["log_int"].to_optuna(0) == 1
    assert specs["categorical"].to_optuna(np.int64(1)) == 1


def test_a_distribution_peers_cannot_map_is_refused_by_name() -> None:
    class Odd(FloatDistribution):
        pass

    with pytest.raises(InputTypeError, match="'x'"):
        param_specs({"x": object()})  # type: ignore[dict-item]
    assert param_specs({"x": Odd(0, 1)})[0].kind == FLOAT


def test_a_parameter_of_one_value_is_a_constant_the_peer_never_sees() -> None:
    space = {
        "x": FloatDistribution(0.0, 1.0),
        "f": FloatDistribution(1.0, 1.0),
        "g": FloatDistribution(0.5, 0.5, step=0.25),  # a grid of one point
        "i": IntDistribution(3, 3),
        "c": CategoricalDistribution([None]),
    }
    assert [s.name for s in param_specs(space)] == ["x"]
    assert constants(space) == {"f": 1.0, "g": 0.5, "i": 3, "c": None}
    sampler = TUNERS.create("hyperopt-tpe", seed=0, space={k: space[k] for k in "fic"})
    study = optuna.create_study(sampler=sampler)
    study.ask()
    fixed = {k: space[k] for k in "fic"}
    assert sampler.sample_relative(study, study.trials[0], fixed) == {"f": 1.0, "i": 3, "c": None}
    assert sampler._peer is None  # nothing to ask a peer about


def test_rng_state_is_private_and_restored() -> None:
    rng = RngState(0)
    np.random.seed(123)
    random.seed(123)
    before = (np.random.get_state()[1].copy(), random.getstate())  # type: ignore[index]
    with rng.active():
        first = np.random.rand(), random.random()
    assert np.array_equal(np.random.get_state()[1], before[0])  # type: ignore[index]
    assert random.getstate() == before[1]
    with rng.active():
        second = np.random.rand(), random.random()
    fresh = RngState(0)
    with fresh.active():
        assert (np.random.rand(), random.random()) == first
        assert (np.random.rand(), random.random()) == second


class _Scripted(PeerSampler):
    """A peer that proposes the space's lower ends and records what it is told."""

    peer_name = "scripted"

    def _build(self, specs: Any) -> Any:
        self.told: list[tuple[str, Any, float | None]] = []
        return object()

    def _ask(self) -> tuple[Any, dict[str, Any]]:
        return len(self.told), {s.name: s.low for s in self._specs}

    def _tell(self, handle: Any, loss: float | None) -> None:
        self.told.append(("asked", handle, loss))

    def _tell_new(self, raw: dict[str, Any], loss: float) -> None:
        self.told.append(("new", raw, loss))


SPACE = {"x": FloatDistribution(0.0, 1.0), "k": IntDistribution(1, 3)}


def _objective(trial: optuna.Trial) -> float:
    x = trial.suggest_float("x", 0.0, 1.0)
    trial.suggest_int("k", 1, 3)
    if trial.number == 1:
        raise RuntimeError("diverged")
    if trial.number == 2:
        trial.report(7.0, 1)
        raise optuna.TrialPruned()
    return x + 5.0


def test_outcomes_reach_the_peer_as_losses_of_a_maximized_study() -> None:
    sampler = _Scripted(SPACE, seed=0)
    study = optuna.create_study(direction="maximize", sampler=sampler)
    study.enqueue_trial({"x": 0.5, "k": 2})
    study.optimize(_objective, n_trials=4, catch=(RuntimeError,))
    # trial 0 (enqueued) is told as a new point before trial 1 is asked; trial 1 failed and
    # is told the worst loss so far; trial 2 was pruned and is told its last report, negated
    assert sampler.told[0] == ("new", {"x": 0.5, "k": 2}, -5.5)
    assert sampler.told[1] == ("asked", 1, -5.5)
    assert sampler.told[2] == ("asked", 2, -7.0)
    assert sampler.told[3] == ("asked", 3, -5.0)


def test_a_copy_replays_the_study_to_a_fresh_peer() -> None:
    import pickle

    sampler = _Scripted(SPACE, seed=0)
    study = optuna.create_study(sampler=sampler)
    study.optimize(lambda t: t.suggest_float("x", 0, 1) + t.suggest_int("k", 1, 3), n_trials=3)
    study.sampler = pickle.loads(pickle.dumps(sampler))
    study.optimize(lambda t: t.suggest_float("x", 0, 1) + t.suggest_int("k", 1, 3), n_trials=1)
    assert [kind for kind, *_ in study.sampler.told] == ["new", "new", "new", "asked"]


def test_a_space_is_learnt_from_the_first_finished_trial() -> None:
    sampler = _Scripted(None, seed=0)
    study = optuna.create_study(sampler=sampler)
    study.optimize(lambda t: t.suggest_float("x", 0, 1) + t.suggest_int("k", 1, 3), n_trials=3)
    assert [t.params for t in study.trials[1:]] == [{"x": 0.0, "k": 1}] * 2


def test_several_objectives_are_refused() -> None:
    study = optuna.create_study(directions=["minimize", "minimize"], sampler=_Scripted(SPACE))
    with pytest.raises(InputError, match="one objective"):
        study.optimize(lambda t: (t.suggest_float("x", 0, 1), t.suggest_int("k", 1, 3)), 1)


@pytest.mark.parametrize(
    ("name", "module"), [("nevergrad", "nevergrad"), ("hyperopt-tpe", "hyperopt")]
)
def test_a_peer_not_installed_is_refused_with_the_install_command(
    name: str, module: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, module, None)  # makes `import module` fail
    with pytest.raises(InputError, match=rf"{name}.*pip install.*hyperlab\[peers\]"):
        TUNERS.create(name, seed=0, space=dict(MIXED_SPACE))


@pytest.mark.parametrize("name", ["nevergrad", "hyperopt-tpe", "syne-rea", "smac-rf"])
def test_a_peer_leaves_the_global_rngs_as_it_found_them(name: str) -> None:
    np.random.seed(5)
    random.seed(5)
    expected = (np.random.rand(), random.random())
    np.random.seed(5)
    random.seed(5)
    study = optuna.create_study(sampler=TUNERS.create(name, seed=0, space=dict(MIXED_SPACE)))
    study.optimize(mixed_objective, n_trials=4)
    assert (np.random.rand(), random.random()) == expected


def test_categorical_choices_of_mixed_types_round_trip() -> None:
    d = CategoricalDistribution(["a", 1, None, 2.5])
    (spec,) = param_specs({"c": d})
    assert [spec.to_optuna(spec.to_raw(c)) for c in d.choices] == list(d.choices)
