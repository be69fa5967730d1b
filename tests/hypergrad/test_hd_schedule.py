"""A learning rate a scheduler takes to 0 and back: the step takes it, a state saved there
loads, and the resumed run is the run that was not interrupted."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest
import torch
import torch.nn.functional as F
from torch.optim.lr_scheduler import CosineAnnealingLR, LRScheduler

from hyperlab.errors import InputError
from hyperlab.hypergrad import SGDHD, SGDNHD, AdamHD, HyperSGD, stack

MAKERS: dict[str, Callable[[Any], torch.optim.Optimizer]] = {
    "SGDHD": lambda ps: SGDHD(ps, lr=0.05),
    "SGDNHD": lambda ps: SGDNHD(ps, lr=0.05),
    "AdamHD": lambda ps: AdamHD(ps, lr=0.05),
    "AdamHD per group": lambda ps: AdamHD(ps, lr=0.05, per_group=True),
    "stack": lambda ps: stack(HyperSGD(lr=0.05), HyperSGD(lr=1e-4))(ps),
}


def _train(
    model: torch.nn.Module, opt: torch.optim.Optimizer, schedule: LRScheduler, steps: int
) -> None:
    gen = torch.Generator().manual_seed(steps)
    for _ in range(steps):
        x = torch.randn(16, 3, generator=gen)
        opt.zero_grad()
        F.mse_loss(model(x), x.sum(1, keepdim=True)).backward()
        opt.step()
        schedule.step()


@pytest.mark.parametrize("name", list(MAKERS))
def test_a_rate_a_schedule_took_to_0_saves_loads_and_comes_back_up(name: str) -> None:
    """SGDHD, SGDNHD and AdamHD (multiplicative rule) stepped at a rate CosineAnnealingLR had
    taken to 0 but refused the state they saved there ("lr=0 with multiplicative=True can
    never move"): a long run could not be resumed from a checkpoint at the end of a cycle."""
    make = MAKERS[name]
    torch.manual_seed(0)
    model = torch.nn.Linear(3, 1)
    opt = make(model.parameters())
    schedule = CosineAnnealingLR(opt, T_max=4, eta_min=0)
    _train(model, opt, schedule, 4)
    assert opt.param_groups[0]["lr"] == 0
    at_zero = copy.deepcopy(model)
    saved = copy.deepcopy(opt.state_dict())

    resumed = make(at_zero.parameters())
    resumed_schedule = CosineAnnealingLR(resumed, T_max=4, eta_min=0)
    resumed.load_state_dict(saved)
    resumed_schedule.load_state_dict(schedule.state_dict())
    assert resumed.param_groups[0]["lr"] == 0
    _train(model, opt, schedule, 3)  # one step at 0, then the cosine past T_max rises again
    _train(at_zero, resumed, resumed_schedule, 3)
    assert resumed.param_groups[0]["lr"] > 0
    assert resumed.param_groups[0]["lr"] == opt.param_groups[0]["lr"]
    assert torch.equal(at_zero.weight, model.weight)  # the run went on as without the save
    assert not torch.equal(at_zero.weight, torch.nn.Linear(3, 1).weight)


def test_only_a_group_given_at_0_is_refused() -> None:
    """The constructor and add_param_group refuse lr=0 under the multiplicative rule (it could
    never move); a rate of 0 written into param_groups steps."""
    a, b = torch.zeros(2, requires_grad=True), torch.zeros(2, requires_grad=True)
    with pytest.raises(InputError, match="lr=0 with multiplicative=True can never move"):
        SGDHD([a], lr=0.0)
    opt = SGDHD([a], lr=0.1)
    with pytest.raises(InputError, match="lr=0 with multiplicative=True can never move"):
        opt.add_param_group({"params": [b], "lr": 0.0})
    assert len(opt.param_groups) == 1
    opt.param_groups[0]["lr"] = 0.0  # as a scheduler writes it
    a.grad = torch.ones(2)
    opt.step()
    assert torch.equal(a, torch.zeros(2)) and opt.lr_history == [[0.0]]
