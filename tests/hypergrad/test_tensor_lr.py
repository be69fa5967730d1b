"""A rate given as a one-element tensor is taken, as ``torch.optim.Adam`` takes it.

``AdamHD(params, lr=torch.tensor(0.01))`` was refused with "lr must be a number, got
tensor(0.0100)"; so were the stack's levels and param groups given a tensor rate.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
import torch

from hyperlab.errors import InputTypeError
from hyperlab.hypergrad import SGDHD, SGDNHD, AdamHD, HyperAdam, HyperSGD, StackedOptimizer, stack

RATE = 0.01  # as a float64 tensor it reads back exactly


def _rate(shape: tuple[int, ...] = ()) -> torch.Tensor:
    return torch.full(shape, RATE, dtype=torch.float64)


def _weights() -> torch.nn.Parameter:
    return torch.nn.Parameter(torch.linspace(-1.0, 2.0, 5))


def _train(opt: torch.optim.Optimizer, w: torch.Tensor, steps: int = 4) -> None:
    for _ in range(steps):
        opt.zero_grad()
        ((w - 0.5) ** 4).sum().backward()
        opt.step()


MAKERS: dict[str, Callable[[Any, Any], torch.optim.Optimizer]] = {
    "SGDHD": lambda params, lr: SGDHD(params, lr=lr, momentum=0.5),
    "SGDNHD": lambda params, lr: SGDNHD(params, lr=lr),
    "AdamHD": lambda params, lr: AdamHD(params, lr=lr),
    "stack adam/sgd": lambda params, lr: stack(("adam", {"lr": lr}), ("sgd", {"lr": lr * 1e-3}))(
        params
    ),
    "stack HyperSGD/HyperAdam": lambda params, lr: StackedOptimizer(
        params, [HyperSGD(lr=lr, momentum=0.5), HyperAdam(lr=lr * 1e-3)]
    ),
}


@pytest.mark.parametrize("name", MAKERS)
def test_a_tensor_rate_trains_as_its_float_does_and_the_rate_stays_a_float(name: str) -> None:
    make = MAKERS[name]
    w, v = _weights(), _weights()
    given, plain = make([w], _rate()), make([v], RATE)
    assert type(given.param_groups[0]["lr"]) is float and given.param_groups[0]["lr"] == RATE
    _train(given, w)
    _train(plain, v)
    assert torch.equal(w, v)
    assert given.param_groups[0]["lr"] == plain.param_groups[0]["lr"] != RATE  # learned
    assert type(given.param_groups[0]["lr"]) is float
    if isinstance(given, StackedOptimizer):
        assert given.hyper_state["values"] == plain.hyper_state["values"]
        assert all(type(lv.lr) is float for lv in given.levels)


@pytest.mark.parametrize("name", MAKERS)
def test_param_groups_and_a_written_rate_may_be_one_element_tensors(name: str) -> None:
    make = MAKERS[name]
    w, extra = _weights(), _weights()
    opt = make([{"params": [w], "lr": _rate((1,))}], RATE)
    opt.add_param_group({"params": [extra], "lr": _rate((1, 1))})
    assert [type(g["lr"]) for g in opt.param_groups] == [float, float]
    opt.param_groups[0]["lr"] = torch.tensor(0.5 * RATE, dtype=torch.float64)  # a scheduler
    _train(opt, w, steps=1)
    assert type(opt.param_groups[0]["lr"]) is float


SHAPE = "lr must be a number or a one-element tensor, got a tensor of shape (2,)"


@pytest.mark.parametrize("name", MAKERS)
def test_a_rate_of_several_elements_is_refused_by_name(name: str) -> None:
    make = MAKERS[name]
    with pytest.raises(InputTypeError, match=f"^{re.escape(SHAPE)}$"):
        make([_weights()], _rate((2,)))
    opt = make([_weights()], RATE)
    with pytest.raises(InputTypeError, match="one-element tensor"):
        opt.add_param_group({"params": [_weights()], "lr": _rate((2,))})
    assert len(opt.param_groups) == 1  # the refused group was not added
    opt.param_groups[0]["lr"] = _rate((2,))
    with pytest.raises(InputTypeError, match="one-element tensor"):
        opt.step()


def test_a_bool_tensor_is_no_rate() -> None:
    with pytest.raises(InputTypeError, match=r"lr must be a real number, got tensor\(True\)"):
        AdamHD([_weights()], lr=torch.tensor(True))
    with pytest.raises(InputTypeError, match="lr must be a real number"):
        HyperSGD(lr=torch.tensor(True))


@pytest.mark.parametrize(
    ("plain", "make"),
    [
        (lambda params: torch.optim.Adam(params, lr=_rate()), lambda params: AdamHD(params)),
        (lambda params: torch.optim.SGD(params, lr=_rate()), lambda params: SGDHD(params)),
    ],
)
def test_a_torch_optim_state_with_a_tensor_rate_loads_and_its_rate_is_a_float(
    plain: Callable[[Any], torch.optim.Optimizer], make: Callable[[Any], torch.optim.Optimizer]
) -> None:
    """``torch.optim.Adam(params, lr=torch.tensor(0.01))``'s state, loaded into AdamHD, was
    refused with "lr must be a number, got tensor(0.0100)" (a stack loaded it)."""
    w = _weights()
    given = plain([w])
    _train(given, w, steps=2)
    opt = make([w])
    opt.load_state_dict(given.state_dict())
    assert type(opt.param_groups[0]["lr"]) is float and opt.param_groups[0]["lr"] == RATE
    _train(opt, w, steps=2)
    assert type(opt.param_groups[0]["lr"]) is float
