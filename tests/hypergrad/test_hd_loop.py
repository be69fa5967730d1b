"""The hd optimizers and stacks in an ordinary PyTorch training loop, with the utilities such
loops use: schedulers, clipping, closures, param groups, autocast and GradScaler, switching to
``torch.optim`` and back, checkpoints, pickling (what docs/hypergrad.md says of each)."""

from __future__ import annotations

import copy
import io
import pickle
from collections.abc import Callable
from typing import Any

import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.optim.lr_scheduler import OneCycleLR, ReduceLROnPlateau, StepLR

from hyperlab.hypergrad import SGDHD, AdamHD, HyperSGD, StackedOptimizer, stack

Make = Callable[[Any], torch.optim.Optimizer]
MAKERS: dict[str, Make] = {
    "AdamHD": lambda ps: AdamHD(ps, lr=0.01),
    "SGDHD": lambda ps: SGDHD(ps, lr=0.01, momentum=0.5),
    "stack": lambda ps: stack("adam", HyperSGD(lr=1e-4))(ps),
}
X = torch.randn(64, 5, generator=torch.Generator().manual_seed(0))
Y = X.sum(1, keepdim=True)


def _model(dtype: torch.dtype = torch.float32) -> nn.Module:
    torch.manual_seed(1)
    return nn.Sequential(nn.Linear(5, 8), nn.Tanh(), nn.Linear(8, 1)).to(dtype)


def _batch(i: int, dtype: torch.dtype = torch.float32) -> tuple[torch.Tensor, torch.Tensor]:
    rows = slice(8 * (i % 8), 8 * (i % 8) + 8)
    return X[rows].to(dtype), Y[rows].to(dtype)


def _train(model: nn.Module, opt: torch.optim.Optimizer, steps: int, start: int = 0) -> None:
    for i in range(start, start + steps):
        x, y = _batch(i)
        opt.zero_grad()
        F.mse_loss(model(x), y).backward()
        opt.step()


def _rates(opt: Any) -> list[Any]:
    """What the optimizer recorded of its steps, one entry a step (of group 0 for hd)."""
    return opt.history if isinstance(opt, StackedOptimizer) else opt.lr_history[0]


def _same(a: nn.Module, b: nn.Module) -> bool:
    return all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))


def test_an_adamhd_state_that_went_through_torch_adam_leaves_no_stale_direction() -> None:
    """torch.optim.Adam keeps the hd_dir entries of an AdamHD state it loads, unread, and
    saves them again: loaded back into AdamHD, the first step paired its gradient with the
    direction of the last AdamHD step, three Adam steps earlier (hypergradient -9.7 where
    there is none), and moved the rate by 5 %."""
    model = _model()
    hd = AdamHD(model.parameters(), lr=0.01)
    _train(model, hd, 3)
    plain = torch.optim.Adam(model.parameters())
    plain.load_state_dict(hd.state_dict())
    _train(model, plain, 3, start=3)
    saved = plain.state_dict()
    assert "hd_dir" in saved["state"][0]  # (torch kept it)

    back = AdamHD(model.parameters(), lr=0.01)
    back.load_state_dict(saved)
    rate = back.param_groups[0]["lr"]
    _train(model, back, 1, start=6)
    assert back.hypergrads == [0.0]  # no direction yet, as at a run's first step
    assert back.param_groups[0]["lr"] == rate and back.lr_history == [[rate]]
    _train(model, back, 1, start=7)
    assert back.hypergrads != [0.0]  # and learning goes on from the next step


def test_a_stack_whose_state_went_through_torch_adam_takes_no_stale_hyper_step() -> None:
    """The same for a stack loading back its own state after an excursion to torch.optim.Adam:
    its first step read the d_lr, d_beta1, d_beta2 of its last step before the excursion, and
    the level above then chained through that step's Jacobians."""
    model = _model()
    opt = stack("adam", HyperSGD(lr=1e-4), HyperSGD(lr=1e-6))(model.parameters())
    _train(model, opt, 3)
    plain = torch.optim.Adam(model.parameters())
    plain.load_state_dict(opt.state_dict())
    _train(model, plain, 3, start=3)

    opt.load_state_dict(plain.state_dict())
    before = opt.hyperparameters()
    _train(model, opt, 1, start=6)
    assert opt.hypergrads == {} and opt.hyperparameters() == before
    _train(model, opt, 1, start=7)
    assert opt.hypergrads["g0.lr"] != 0 and opt.hypergrads["L1.lr"] == 0  # as a run's step 2


@pytest.mark.parametrize("name", list(MAKERS))
def test_a_step_gradscaler_skips_changes_nothing(name: str) -> None:
    """GradScaler skips optimizer.step when a gradient is not finite: the rate, its history
    and the weights stay as they were, and the next step trains on."""
    model = _model()
    opt = MAKERS[name](model.parameters())
    start = opt.param_groups[0]["lr"]
    scaler = torch.amp.GradScaler("cpu", init_scale=2.0**10)
    for i in range(6):
        x, y = _batch(i)
        opt.zero_grad()
        with torch.autocast("cpu", dtype=torch.bfloat16):
            loss = F.mse_loss(model(x), y)
        scaler.scale(loss).backward()
        if i == 3:
            model[0].weight.grad[0, 0] = float("inf")
            before = copy.deepcopy((model.state_dict(), opt.state_dict()))
        scaler.step(opt)
        scaler.update()
        if i == 3:
            assert scaler.get_scale() == 2.0**9  # skipped
            assert _same_state(before, (model.state_dict(), opt.state_dict()))
    assert len(_rates(opt)) == 5  # the skipped step is not recorded
    assert all(torch.isfinite(p).all() for p in model.parameters())
    assert opt.param_groups[0]["lr"] != start


def _same_state(a: Any, b: Any) -> bool:
    if isinstance(a, torch.Tensor):
        return torch.equal(a, b)
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_same_state(a[k], b[k]) for k in a)
    if isinstance(a, list | tuple):
        return len(a) == len(b) and all(_same_state(x, y) for x, y in zip(a, b))
    return bool(a == b)


@pytest.mark.parametrize("name", list(MAKERS))
def test_onecycle_writes_its_rate_and_plateau_multiplies_the_learned_one(name: str) -> None:
    """A schedule that writes absolute values replaces the learned rate at each of its steps
    (the rate read after it is torch.optim's); ReduceLROnPlateau multiplies the learned one.
    get_last_lr() is the scheduler's write, not the rate learned by the step after it."""
    torch_rates, rates = [], []
    for make in (lambda ps: torch.optim.Adam(ps, lr=0.01), MAKERS[name]):
        model = _model()
        opt = make(model.parameters())
        schedule = OneCycleLR(opt, max_lr=0.1, total_steps=10, cycle_momentum=False)
        for i in range(5):
            _train(model, opt, 1, start=i)
            schedule.step()
            (torch_rates if isinstance(opt, torch.optim.Adam) else rates).append(
                opt.param_groups[0]["lr"]
            )
    assert rates == torch_rates

    model = _model()
    opt = MAKERS[name](model.parameters())
    plateau = ReduceLROnPlateau(opt, factor=0.5, patience=0)
    _train(model, opt, 3)
    learned = opt.param_groups[0]["lr"]
    plateau.step(1.0)  # the best loss so far
    plateau.step(2.0)  # worse: the rate is halved
    assert opt.param_groups[0]["lr"] == learned * 0.5 == plateau.get_last_lr()[0]
    _train(model, opt, 1, start=3)
    assert opt.param_groups[0]["lr"] != plateau.get_last_lr()[0]


class _Branchy(nn.Module):
    """A trained branch used on every step, one on some steps only, and a frozen layer."""

    def __init__(self) -> None:
        super().__init__()
        self.a, self.b = nn.Linear(5, 8), nn.Linear(5, 8)
        self.frozen = nn.Linear(5, 8).requires_grad_(False)
        self.out = nn.Linear(8, 1)

    def forward(self, x: torch.Tensor, i: int) -> torch.Tensor:
        return self.out(torch.tanh((self.a if i % 3 else self.b)(x) + self.frozen(x)))


TWINS: dict[str, tuple[Make, Make]] = {
    "AdamHD": (lambda g: torch.optim.Adam(g, lr=0.01), lambda g: AdamHD(g, lr=0.01, hyper_lr=0)),
    "SGDHD": (
        lambda g: torch.optim.SGD(g, lr=0.01, momentum=0.9),
        lambda g: SGDHD(g, lr=0.01, momentum=0.9, hyper_lr=0),
    ),
    "stack": (
        lambda g: torch.optim.Adam(g, lr=0.01),
        lambda g: stack(("adam", {"lr": 0.01}), HyperSGD(lr=0))(g),
    ),
}


def _loop_with_everything(make: Make, dtype: torch.dtype, set_to_none: bool) -> list[torch.Tensor]:
    torch.manual_seed(1)
    model = _Branchy().to(dtype)
    opt = make(
        [
            {"params": [*model.a.parameters(), *model.frozen.parameters()], "weight_decay": 0.1},
            {"params": model.b.parameters(), "lr": 0.005},
        ]
    )
    for i in range(9):
        if i == 4:
            opt.add_param_group({"params": model.out.parameters(), "lr": 0.02})
        x, y = _batch(i, dtype)

        def closure(i: int = i, x: torch.Tensor = x, y: torch.Tensor = y) -> torch.Tensor:
            opt.zero_grad(set_to_none=set_to_none)
            loss = F.mse_loss(model(x, i), y)
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), 0.5)
            return loss

        opt.step(closure)
    return [p.detach().clone() for p in model.parameters()]


@pytest.mark.parametrize("set_to_none", [True, False])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("name", list(TWINS))
def test_with_hyper_lr_0_a_loop_with_every_utility_is_torch_bit_for_bit(
    name: str, dtype: torch.dtype, set_to_none: bool
) -> None:
    """Param groups of their own lr and weight decay, a frozen layer, a branch unused on some
    steps, add_param_group mid-run, a closure, clip_grad_norm_, both zero_grad modes."""
    ref, twin = TWINS[name]
    got = _loop_with_everything(twin, dtype, set_to_none)
    want = _loop_with_everything(ref, dtype, set_to_none)
    assert all(torch.equal(a, b) for a, b in zip(got, want))


def _amp_loop(
    model: nn.Module, opt: Any, schedule: StepLR, scaler: Any, start: int, steps: int
) -> None:
    for i in range(start, start + steps):
        x, y = _batch(i)
        opt.zero_grad()
        with torch.autocast("cpu", dtype=torch.bfloat16):
            loss = F.mse_loss(model(x), y)
        scaler.scale(loss).backward()
        scaler.unscale_(opt)
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        scaler.step(opt)
        scaler.update()
        schedule.step()


def _resumed(how: str, saved: dict[str, Any], make: Make) -> tuple[nn.Module, Any, Any, Any]:
    if how == "pickle":
        return pickle.loads(pickle.dumps(tuple(saved["objects"])))  # type: ignore[no-any-return]
    if how == "deepcopy":
        return copy.deepcopy(tuple(saved["objects"]))  # type: ignore[no-any-return]
    blob = io.BytesIO()
    torch.save(saved["states"], blob)
    blob.seek(0)
    states = torch.load(blob, weights_only=True)
    model = _model()
    opt = make(model.parameters())
    schedule, scaler = StepLR(opt, 2, 0.5), torch.amp.GradScaler("cpu")
    for obj, state in zip((model, opt, schedule, scaler), states):
        obj.load_state_dict(state)
    return model, opt, schedule, scaler


@pytest.mark.parametrize("how", ["state_dict", "pickle", "deepcopy"])
@pytest.mark.parametrize("name", list(MAKERS))
def test_an_amp_run_with_a_schedule_resumes_bit_for_bit(name: str, how: str) -> None:
    """autocast(bfloat16) on CPU, GradScaler, unscale_ and clipping, StepLR: saved mid-run as
    state dicts (through torch.save and torch.load(weights_only=True)), pickled or deep-copied
    with the model, the run goes on as the one that was not interrupted."""
    make = MAKERS[name]
    model = _model()
    opt = make(model.parameters())
    schedule, scaler = StepLR(opt, 2, 0.5), torch.amp.GradScaler("cpu")
    _amp_loop(model, opt, schedule, scaler, 0, 3)
    objects = (model, opt, schedule, scaler)
    saved = {"objects": objects, "states": [o.state_dict() for o in objects]}
    model2, opt2, schedule2, scaler2 = _resumed(how, saved, make)
    assert opt2.param_groups[0]["params"][0] is model2[0].weight
    _amp_loop(model, opt, schedule, scaler, 3, 4)
    _amp_loop(model2, opt2, schedule2, scaler2, 3, 4)
    assert _same(model, model2)
    assert _rates(opt) == _rates(opt2) and opt.param_groups[0]["lr"] != 0.01


@pytest.mark.parametrize("name", ["AdamHD", "stack"])
def test_a_compiled_model_trains_as_the_model(name: str) -> None:
    """torch.compile wraps the model, not the optimizer: given the model's parameters, the
    optimizer takes the steps it takes for the uncompiled model (dynamo's eager backend, so
    that no C++ compiler is needed)."""
    plain, compiled = _model(), _model()
    opt, opt2 = MAKERS[name](plain.parameters()), MAKERS[name](compiled.parameters())
    _train(plain, opt, 4)
    _train(torch.compile(compiled, backend="eager"), opt2, 4)
    assert _same(plain, compiled) and _rates(opt) == _rates(opt2)
