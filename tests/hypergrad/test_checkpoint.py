"""What the trainers' and the optimizers' ``load_state_dict`` refuse across kinds: a state of
another kind (an old unnamed one too), in another precision, or with rates that are not
numbers; each is refused by name and loads nothing."""

from __future__ import annotations

import copy
import re
from typing import Any

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from hyperlab.errors import InputError, InputTypeError
from hyperlab.hypergrad import (
    SGDHD,
    AdamHD,
    ArchitectureSearch,
    HyperTrainer,
    RelaxedMLP,
    SelfTuningMLP,
    STNTrainer,
    WeightDecay,
    stack,
)


def _data() -> list[tuple[torch.Tensor, torch.Tensor]]:
    gen = torch.Generator().manual_seed(0)
    return [(torch.randn(8, 4, generator=gen), torch.randint(0, 2, (8,), generator=gen))] * 2


def _hyper(cls: type[HyperTrainer] = HyperTrainer) -> HyperTrainer:
    torch.manual_seed(0)
    model = nn.Linear(4, 2)
    return cls(model, F.cross_entropy, [WeightDecay(model)])


def _trainers() -> list[Any]:
    torch.manual_seed(0)
    return [
        _hyper(),
        STNTrainer(SelfTuningMLP(4, 2, width=8)),
        ArchitectureSearch(RelaxedMLP(4, 2)),
    ]


def _optimizers(model: nn.Module) -> list[torch.optim.Optimizer]:
    return [
        SGDHD(model.parameters(), lr=0.1),
        AdamHD(model.parameters()),
        stack("adam", "sgd")(model.parameters()),
    ]


def _unnamed(state: dict[str, Any]) -> dict[str, Any]:
    """``state`` as a HyperTrainer saved it before states named their kind."""
    return {k: v for k, v in state.items() if k != "trainer"}


def test_an_old_hypertrainer_state_is_refused_by_its_kind_and_still_loads_into_its_own() -> None:
    """It named no kind, so the other trainers took it for one of theirs missing keys ("this
    one lacks ['model', 'weight_opt']"); a HyperTrainer subclass refused its own state, taken
    for a HyperTrainer's."""

    class Mine(HyperTrainer):
        pass

    saved = _hyper()
    saved.fit(_data(), _data())
    old = _unnamed(saved.state_dict())
    for trainer in _trainers()[1:]:
        kind = type(trainer).__name__
        message = f"saved by HyperTrainer.state_dict(), not by {kind}.state_dict()"
        with pytest.raises(InputTypeError, match=re.escape(message)):
            trainer.load_state_dict(old)
    for cls in (HyperTrainer, Mine):
        trainer = _hyper(cls)
        trainer.load_state_dict(old)
        assert trainer.history.as_dict() == saved.history.as_dict()
    mine = _hyper(Mine)
    mine.fit(_data(), _data())
    again = _hyper(Mine)
    again.load_state_dict(mine.state_dict())
    assert again.history.as_dict() == mine.history.as_dict()


@pytest.mark.parametrize("index", [0, 1, 2])
def test_a_trainers_state_is_refused_by_an_optimizer_by_its_kind(index: int) -> None:
    """It failed inside torch with KeyError('param_groups')."""
    state = _trainers()[index].state_dict()
    kind = type(_trainers()[index]).__name__
    model = nn.Linear(4, 2)
    for opt in _optimizers(model):
        before = copy.deepcopy(opt.state_dict())
        name = type(opt).__name__
        message = f"{name}.load_state_dict: this state was saved by {kind}.state_dict(), not by"
        with pytest.raises(InputTypeError, match=re.escape(message)):
            opt.load_state_dict(state)
        if index == 0:
            with pytest.raises(InputTypeError, match=r"saved by HyperTrainer\.state_dict\(\)"):
                opt.load_state_dict(_unnamed(state))
        assert opt.state_dict() == before


@pytest.mark.parametrize(
    ("state", "message"),
    [
        ([1, 2], "got list [1, 2]"),
        ({"weights": 1}, "got the keys ['weights']"),
        ({"state": {}, "param_groups": 3}, "got the keys ['param_groups', 'state']"),
    ],
)
def test_what_is_not_an_optimizers_state_is_refused_by_what_it_holds(
    state: Any, message: str
) -> None:
    """torch failed inside: a TypeError from dict(), a KeyError, len() of an int."""
    for opt in _optimizers(nn.Linear(4, 2)):
        with pytest.raises(InputTypeError, match=re.escape(message)):
            opt.load_state_dict(state)


def test_an_optimizers_state_is_refused_by_a_trainer_as_an_optimizers() -> None:
    """It was refused by the trainer's keys it lacks, with no word of what it was."""
    opt = AdamHD(nn.Linear(4, 2).parameters())
    for trainer in _trainers():
        with pytest.raises(InputTypeError, match=r"saved by an optimizer's state_dict\(\)"):
            trainer.load_state_dict(opt.state_dict())


def _stepped(opt: torch.optim.Optimizer, model: nn.Module) -> torch.optim.Optimizer:
    dtype = next(model.parameters()).dtype
    for x, y in _data():
        opt.zero_grad()
        F.cross_entropy(model(x.to(dtype)), y).backward()
        opt.step()
    return opt


@pytest.mark.parametrize(
    ("bad", "shown"),
    [
        (True, "bool True"),
        (float("nan"), "float nan"),
        (float("-inf"), "float -inf"),
        ("0.1", "str"),
    ],
)
def test_a_saved_rate_that_is_not_a_finite_number_is_refused_by_name(bad: Any, shown: str) -> None:
    """lr_history took True and NaN as rates (float(True) read 1.0), a stack's history
    anything at all."""
    model = nn.Linear(4, 2)
    for index, field in ((0, "lr_history"), (1, "lr_history"), (2, "history")):
        opt = _stepped(_optimizers(model)[index], model)
        state = copy.deepcopy(opt.state_dict())
        if field == "history":
            state["history"][1]["g0.lr"] = bad
            where = "history[1]['g0.lr']"
        else:
            state["lr_history"][0][1] = bad
            where = "lr_history[0][1]"
        fresh = _optimizers(model)[index]
        before = copy.deepcopy(fresh.state_dict())
        name = type(fresh).__name__
        message = f"{name}.load_state_dict: the state's {where} is {shown}"
        with pytest.raises(InputError, match=re.escape(message)):
            fresh.load_state_dict(state)
        assert fresh.state_dict() == before


def _in(dtype: torch.dtype, state: Any) -> Any:
    """``state`` with its floating-point tensors converted to ``dtype``."""
    if isinstance(state, torch.Tensor):
        return state.to(dtype) if state.is_floating_point() else state
    if isinstance(state, dict):
        return {k: _in(dtype, v) for k, v in state.items()}
    return [_in(dtype, v) for v in state] if isinstance(state, list) else state


def _trainer(index: int, dtype: torch.dtype) -> Any:
    torch.manual_seed(0)
    if index == 0:
        model = nn.Linear(4, 2).to(dtype)
        return HyperTrainer(model, F.cross_entropy, [WeightDecay(model)])
    if index == 1:
        return STNTrainer(SelfTuningMLP(4, 2, width=8).to(dtype))
    return ArchitectureSearch(RelaxedMLP(4, 2).to(dtype))


def _fitted(index: int, dtype: torch.dtype) -> Any:
    trainer = _trainer(index, dtype)
    data = [(x.to(dtype), y) for x, y in _data()]
    trainer.fit(data, data)
    return trainer


def _tensors(trainer: Any) -> list[torch.Tensor]:
    """Everything a load would change: the model's state (a HyperTrainer's hyperparameters)
    and the optimizers' moments."""
    state = trainer.state_dict()
    model = state["model"] if "model" in state else state["hyperparameters"]
    opts = [v for v in state.values() if isinstance(v, dict) and "param_groups" in v]
    moments = [t for o in opts for e in o["state"].values() for t in e.values()]
    return [t.clone() for t in [*model.values(), *moments] if isinstance(t, torch.Tensor)]


@pytest.mark.parametrize("index", [0, 1, 2])
@pytest.mark.parametrize(
    ("saved", "loading"), [(torch.float32, torch.float64), (torch.float64, torch.float32)]
)
def test_a_trainers_state_in_another_precision_is_refused_by_name(
    index: int, saved: torch.dtype, loading: torch.dtype
) -> None:
    """torch converted the model's state and the moments without a word: a resumed run went
    on in another precision."""
    state = _fitted(index, saved).state_dict()
    trainer = _trainer(index, loading)
    before = _tensors(trainer)
    with pytest.raises(InputError, match=f"is {saved}, this .* {loading}: the state was saved in"):
        trainer.load_state_dict(state)
    assert all(torch.equal(a, b) for a, b in zip(before, _tensors(trainer), strict=True))
    assert trainer.state_dict()["step"] == 0
    trainer.load_state_dict(_in(loading, state))  # converted on purpose, it loads
    assert trainer.history == _fitted(index, saved).history


@pytest.mark.parametrize("key", ["hyper_opt", "weight_opt"])
def test_a_trainers_optimizer_moment_in_another_precision_is_refused_by_name(key: str) -> None:
    state = copy.deepcopy(_fitted(1, torch.float32).state_dict())
    state[key]["state"][0]["exp_avg_sq"] = state[key]["state"][0]["exp_avg_sq"].double()
    trainer = _trainer(1, torch.float32)
    before = _tensors(trainer)
    message = f"{key}'s 'exp_avg_sq' of parameter 0 is torch.float64, the parameter torch.float32"
    with pytest.raises(InputError, match=re.escape(message)):
        trainer.load_state_dict(state)
    assert all(torch.equal(a, b) for a, b in zip(before, _tensors(trainer), strict=True))


@pytest.mark.parametrize("index", [0, 1, 2])
@pytest.mark.parametrize(
    ("saved", "loading"), [(torch.float32, torch.float64), (torch.float64, torch.float32)]
)
def test_an_optimizers_state_in_another_precision_is_refused_by_name(
    index: int, saved: torch.dtype, loading: torch.dtype
) -> None:
    """torch.optim converted the moments without a word."""
    model = nn.Linear(4, 2).to(saved)
    state = _stepped(_optimizers(model)[index], model).state_dict()
    other = nn.Linear(4, 2).to(loading)
    opt = _optimizers(other)[index]
    before = copy.deepcopy(opt.state_dict())
    name = type(opt).__name__
    message = f"{name}.load_state_dict: the state's '.*' of parameter 0 is {saved}, the parameter {loading}"
    with pytest.raises(InputError, match=message):
        opt.load_state_dict(state)
    assert opt.state_dict() == before
    opt.load_state_dict(_in(loading, state))  # converted on purpose, it loads and steps
    x, y = _data()[0]
    F.cross_entropy(other(x.to(loading)), y).backward()
    opt.step()


def test_a_torch_adam_state_loads_with_its_float32_step_into_a_float64_model() -> None:
    """torch.optim.Adam keeps 'step' in float32 whatever the parameters' dtype."""
    model = nn.Linear(4, 2).double()
    adam = torch.optim.Adam(model.parameters())
    x, y = _data()[0]
    F.cross_entropy(model(x.double()), y).backward()
    adam.step()
    assert adam.state_dict()["state"][0]["step"].dtype == torch.float32
    AdamHD(model.parameters()).load_state_dict(adam.state_dict())
    stack("adam", "sgd")(model.parameters()).load_state_dict(adam.state_dict())
