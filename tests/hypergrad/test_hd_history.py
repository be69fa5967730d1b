"""The learning-rate history of the hd optimizers is bounded: a long run's memory and each of
its checkpoints stay the same size, however many steps it takes."""

from __future__ import annotations

import copy
import io
import pickle
from typing import Any

import pytest
import torch
import torch.nn.functional as F

from hyperlab.errors import InputError, InputTypeError
from hyperlab.hypergrad import LR_HISTORY_SIZE, SGDHD, SGDNHD, AdamHD, StackedOptimizer, stack


def _problem(seed: int = 0) -> tuple[torch.nn.Module, torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(64, 5, generator=gen, dtype=torch.float64)
    y = (x @ torch.randn(5, 3, generator=gen, dtype=torch.float64)).argmax(1)
    torch.manual_seed(seed)
    model = torch.nn.Sequential(torch.nn.Linear(5, 8), torch.nn.Tanh(), torch.nn.Linear(8, 3))
    return model.double(), x, y


def _run(model: torch.nn.Module, opt: Any, x: torch.Tensor, y: torch.Tensor, steps: int) -> None:
    for i in range(steps):
        idx = slice((8 * i) % 64, (8 * i) % 64 + 8)
        opt.zero_grad()
        F.cross_entropy(model(x[idx]), y[idx]).backward()
        opt.step()


@pytest.mark.parametrize("cls", [SGDHD, SGDNHD, AdamHD])
def test_the_history_keeps_the_latest_rates_and_counts_the_dropped_ones(cls: type) -> None:
    """lr_history grew by one rate per step without end, and every checkpoint carried all of
    them (a million steps: a million floats in each)."""
    model, x, y = _problem()
    full = cls(model.parameters(), lr=0.01, lr_history_size=None)
    _run(model, full, x, y, 12)
    model, x, y = _problem()
    kept = cls(model.parameters(), lr=0.01, lr_history_size=5)
    _run(model, kept, x, y, 12)
    assert kept.lrs == full.lrs  # (the bound changes what is remembered, not the run)
    assert kept.lr_history == [full.lr_history[0][-5:]]
    assert kept.lr_history_offset == [7] and full.lr_history_offset == [0]
    assert len(kept.state_dict()["lr_history"][0]) == 5
    assert cls(model.parameters()).lr_history_size == LR_HISTORY_SIZE == 10_000


def test_a_bounded_history_resumes_the_same_run_and_offsets() -> None:
    model, x, y = _problem()
    opt = AdamHD(model.parameters(), lr=0.01, lr_history_size=4)
    _run(model, opt, x, y, 6)
    buffer = io.BytesIO()
    torch.save([model.state_dict(), opt.state_dict()], buffer)
    buffer.seek(0)
    weights, state = torch.load(buffer, weights_only=True)
    _run(model, opt, x, y, 5)

    model2, _, _ = _problem(seed=3)
    model2.load_state_dict(weights)
    opt2 = AdamHD(model2.parameters(), lr=0.5, lr_history_size=4)
    opt2.load_state_dict(state)
    assert opt2.lr_history_offset == [2]
    _run(model2, opt2, x, y, 5)
    assert opt2.lr_history == opt.lr_history and opt2.lr_history_offset == [7]
    assert opt2.lrs == opt.lrs


def test_a_state_saved_before_the_bound_loads_its_latest_rates() -> None:
    model, x, y = _problem()
    opt = SGDHD(model.parameters(), lr=0.01, momentum=0.9, lr_history_size=None)
    _run(model, opt, x, y, 9)
    old = copy.deepcopy(opt.state_dict())
    del old["lr_history_offset"]  # (what a state of an earlier version holds)
    bounded = SGDHD(model.parameters(), lr=0.01, momentum=0.9, lr_history_size=3)
    bounded.load_state_dict(old)
    assert bounded.lr_history == [opt.lr_history[0][-3:]]
    assert bounded.lr_history_offset == [6]
    plain = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    bounded.load_state_dict(plain.state_dict())  # no history at all
    assert bounded.lr_history == [[]] and bounded.lr_history_offset == [0]


def test_an_optimizer_pickled_before_the_bound_takes_the_default() -> None:
    model, x, y = _problem()
    opt = SGDHD(model.parameters(), lr=0.01, lr_history_size=2)
    _run(model, opt, x, y, 3)
    again = pickle.loads(pickle.dumps(opt))
    assert again.lr_history_size == 2 and again.lr_history_offset == [1]
    state = opt.__getstate__()
    del state["lr_history_size"], state["lr_history_offset"]
    old = SGDHD.__new__(SGDHD)
    old.__setstate__(state)
    assert old.lr_history_size == LR_HISTORY_SIZE and old.lr_history_offset == [0]


def test_a_param_group_added_later_has_its_own_history_and_offset() -> None:
    model, x, y = _problem()
    opt = SGDHD(model[0].parameters(), lr=0.01, lr_history_size=3, per_group=True)
    _run(model, opt, x, y, 4)
    opt.add_param_group({"params": model[2].parameters()})
    _run(model, opt, x, y, 2)
    assert [len(h) for h in opt.lr_history] == [3, 2]
    assert opt.lr_history_offset == [3, 0]


def test_bad_history_settings_and_states_are_refused_by_name() -> None:
    model, x, y = _problem()
    with pytest.raises(InputError, match=r"lr_history_size .*got 0"):
        SGDHD(model.parameters(), lr_history_size=0)
    with pytest.raises(InputTypeError, match="lr_history_size"):
        AdamHD(model.parameters(), lr_history_size="10")  # type: ignore[arg-type]
    opt = SGDHD(model.parameters(), lr=0.01)
    _run(model, opt, x, y, 2)
    state = opt.state_dict()
    for odd in ({"lr_history": [[0.1], [0.2]]}, {"lr_history_offset": [-1]}):
        with pytest.raises(InputError, match="one list of rates per param group"):
            opt.load_state_dict({**state, **odd})
    assert len(opt.lr_history[0]) == 2


def test_a_stacks_history_keeps_its_latest_steps_and_they_resume() -> None:
    """StackedOptimizer.history grew by one dict per step without end, in every checkpoint."""
    model, x, y = _problem()
    opt = StackedOptimizer(model.parameters(), ["sgd", "adam"], history_size=5)
    _run(model, opt, x, y, 12)
    assert len(opt.history) == 5 and opt.hyper_state["steps"] == 12
    assert opt.history[-1] == opt.hyperparameters()
    whole = StackedOptimizer(model.parameters(), ["sgd", "adam"], history_size=None)
    whole.load_state_dict(opt.state_dict())
    _run(model, whole, x, y, 3)
    assert len(whole.history) == 8  # no bound: the 5 loaded and 3 more
    small = StackedOptimizer(model.parameters(), ["sgd", "adam"], history_size=2)
    small.load_state_dict(whole.state_dict())
    assert small.history == whole.history[-2:]  # a longer saved history keeps its latest
    pickled = pickle.loads(pickle.dumps(small))
    assert pickled.history_size == 2


def test_a_stack_factory_passes_on_its_history_size() -> None:
    model, _, _ = _problem()
    assert stack("sgd", "adam", history_size=3)(model.parameters()).history_size == 3
    assert stack("sgd", "adam")(model.parameters()).history_size == LR_HISTORY_SIZE
    with pytest.raises(InputError, match="history_size"):
        stack("sgd", "adam", history_size=0)


@pytest.mark.parametrize("history", [{"g0.lr": 0.1}, [0.1, 0.2], "steps"])
def test_a_stack_state_whose_history_is_not_dicts_is_refused(history: Any) -> None:
    model, _, _ = _problem()
    opt = StackedOptimizer(model.parameters(), ["sgd", "adam"])
    state = opt.state_dict()
    state["history"] = history
    with pytest.raises(InputError, match="history must be a list of dicts"):
        opt.load_state_dict(state)
