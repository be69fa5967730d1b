from __future__ import annotations

import copy
import math
import re
from typing import Any

import pytest
import torch
import torch.nn.functional as F

from hyperlab.errors import InputError, InputTypeError
from hyperlab.hypergrad import SGDHD, SGDNHD, AdamHD, StackedOptimizer, stack

DTYPES = [torch.float32, torch.float64]


def _problem(
    dtype: torch.dtype, seed: int = 0
) -> tuple[torch.nn.Module, torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(64, 5, generator=gen, dtype=dtype)
    y = (x @ torch.randn(5, 3, generator=gen, dtype=dtype)).argmax(1)  # learnable labels
    torch.manual_seed(seed)
    model = torch.nn.Sequential(torch.nn.Linear(5, 8), torch.nn.Tanh(), torch.nn.Linear(8, 3))
    return model.to(dtype), x, y


def _saved(
    model: torch.nn.Module, opt: torch.optim.Optimizer
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Copies of the model's and the optimizer's states, to resume from."""
    return copy.deepcopy(model.state_dict()), copy.deepcopy(opt.state_dict())


def _run(
    model: torch.nn.Module, opt: torch.optim.Optimizer, x: torch.Tensor, y: torch.Tensor, steps: int
) -> list[float]:
    losses = []
    for i in range(steps):
        idx = slice((8 * i) % 64, (8 * i) % 64 + 8)
        loss = F.cross_entropy(model(x[idx]), y[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(float(loss.detach()))
    return losses


@pytest.mark.parametrize("dtype", DTYPES)
def test_sgd_hypergradient_is_minus_dot_of_consecutive_gradients(dtype: torch.dtype) -> None:
    """h_1 = -g_1·g_0, and it is dL(θ_0 - α g_0)/dα by autograd and by central differences."""
    gen = torch.Generator().manual_seed(1)
    a = torch.randn(6, 6, generator=gen, dtype=dtype)
    b = torch.randn(6, generator=gen, dtype=dtype)
    theta0 = torch.randn(6, generator=gen, dtype=dtype)

    def loss_fn(theta: torch.Tensor) -> torch.Tensor:
        return torch.log1p(((a @ theta - b) ** 2).sum()) + theta.sin().sum()

    alpha = 0.05
    p = torch.nn.Parameter(theta0.clone())
    opt = SGDHD([p], lr=alpha, hyper_lr=0.0, multiplicative=False, normalize=False)
    grads = []
    for _ in range(2):
        opt.zero_grad()
        loss_fn(p).backward()
        assert p.grad is not None
        grads.append(p.grad.clone())
        opt.step()
    expected = -float(grads[1] @ grads[0])
    assert opt.hypergrads[0] == pytest.approx(
        expected, rel=1e-6 if dtype == torch.float32 else 1e-12
    )

    # autograd through one step of SGD with respect to alpha
    t0 = theta0.clone().requires_grad_(True)
    g0 = torch.autograd.grad(loss_fn(t0), t0)[0]
    al = torch.tensor(alpha, dtype=dtype, requires_grad=True)
    auto = torch.autograd.grad(loss_fn(theta0 - al * g0), al)[0]
    tol = 1e-5 if dtype == torch.float32 else 1e-12
    assert float(auto) == pytest.approx(expected, rel=tol, abs=tol)

    # central finite differences, evaluated in float64
    t64, g64, eps = theta0.double(), g0.double(), 1e-6
    fd = (
        float(_loss64(a, b, t64 - (alpha + eps) * g64))
        - float(_loss64(a, b, t64 - (alpha - eps) * g64))
    ) / (2 * eps)
    assert fd == pytest.approx(expected, rel=1e-4 if dtype == torch.float32 else 1e-7)


def _loss64(a: torch.Tensor, b: torch.Tensor, theta: torch.Tensor) -> torch.Tensor:
    a, b = a.double(), b.double()
    return torch.log1p(((a @ theta - b) ** 2).sum()) + theta.sin().sum()


@pytest.mark.parametrize("dtype", DTYPES)
def test_paper_rule_moves_rate_by_beta_times_dot(dtype: torch.dtype) -> None:
    p = torch.nn.Parameter(torch.tensor([1.0, -2.0], dtype=dtype))
    opt = SGDHD([p], lr=0.1, hyper_lr=0.01, multiplicative=False, normalize=False)
    gs = [torch.tensor([1.0, 2.0], dtype=dtype), torch.tensor([3.0, 1.0], dtype=dtype)]
    for g in gs:
        p.grad = g.clone()
        opt.step()
    # alpha_1 = alpha_0 + beta * g1.g0 = 0.1 + 0.01 * 5
    assert opt.lrs[0] == pytest.approx(0.15)
    assert opt.lr_history[0] == pytest.approx([0.1, 0.15])
    assert opt.param_groups[0]["lr"] == opt.lrs[0]


@pytest.mark.parametrize("dtype", DTYPES)
def test_adamhd_with_zero_hyper_lr_is_torch_adam_bit_for_bit(dtype: torch.dtype) -> None:
    model_a, x, y = _problem(dtype)
    model_b = copy.deepcopy(model_a)
    opt_a = AdamHD(model_a.parameters(), lr=3e-3, weight_decay=1e-3, hyper_lr=0.0)
    opt_b = torch.optim.Adam(model_b.parameters(), lr=3e-3, weight_decay=1e-3)
    la = _run(model_a, opt_a, x, y, 100)
    lb = _run(model_b, opt_b, x, y, 100)
    assert la == lb
    for pa, pb in zip(model_a.parameters(), model_b.parameters()):
        assert torch.equal(pa, pb)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(
    "kwargs", [{}, {"momentum": 0.9}, {"momentum": 0.5, "nesterov": True, "weight_decay": 1e-2}]
)
def test_sgdhd_with_zero_hyper_lr_is_torch_sgd(dtype: torch.dtype, kwargs: dict) -> None:
    model_a, x, y = _problem(dtype)
    model_b = copy.deepcopy(model_a)
    opt_a = SGDHD(model_a.parameters(), lr=0.1, hyper_lr=0.0, **kwargs)
    opt_b = torch.optim.SGD(model_b.parameters(), lr=0.1, **kwargs)
    assert _run(model_a, opt_a, x, y, 60) == _run(model_b, opt_b, x, y, 60)
    for pa, pb in zip(model_a.parameters(), model_b.parameters()):
        assert torch.equal(pa, pb)


@pytest.mark.parametrize("cls", [SGDHD, SGDNHD, AdamHD])
@pytest.mark.parametrize("dtype", DTYPES)
def test_rate_grows_when_too_small_and_loss_drops(cls: type, dtype: torch.dtype) -> None:
    model, x, y = _problem(dtype)
    opt = cls(model.parameters(), lr=1e-4, hyper_lr=0.05)
    losses = _run(model, opt, x, y, 150)
    assert opt.lrs[0] > 1e-3
    assert all(math.isfinite(v) for v in opt.lr_history[0])
    assert losses[-1] < losses[0]
    assert next(iter(model.parameters())).dtype == dtype


@pytest.mark.parametrize("cls", [SGDHD, SGDNHD, AdamHD])
def test_state_dict_round_trip_resumes_same_trajectory(cls: type) -> None:
    model, x, y = _problem(torch.float64)
    opt = cls(model.parameters(), lr=0.01, hyper_lr=0.05)
    _run(model, opt, x, y, 20)
    saved_model, saved_opt = _saved(model, opt)
    first = _run(model, opt, x, y, 20)
    lrs_first = opt.lrs

    model2, _, _ = _problem(torch.float64, seed=5)
    model2.load_state_dict(saved_model)
    opt2 = cls(model2.parameters(), lr=0.5, hyper_lr=0.05)
    opt2.load_state_dict(saved_opt)
    assert len(opt2.lr_history[0]) == 20
    second = _run(model2, opt2, x, y, 20)
    assert first == second
    assert lrs_first == opt2.lrs
    assert opt2.lr_history == opt.lr_history


@pytest.mark.parametrize("per_group", [False, True])
def test_param_groups_global_and_per_group(per_group: bool) -> None:
    model, x, y = _problem(torch.float32)
    first, second = model[0], model[2]
    opt = SGDHD(
        [{"params": first.parameters()}, {"params": second.parameters(), "lr": 0.05}],
        lr=0.01,
        momentum=0.9,
        per_group=per_group,
    )
    _run(model, opt, x, y, 40)
    lr0, lr1 = opt.lrs
    assert len(opt.lr_history) == 2 and len(opt.lr_history[1]) == 40
    if per_group:
        assert lr0 / 0.01 != pytest.approx(lr1 / 0.05, rel=1e-9)
    else:  # one global factor keeps the ratio between the groups
        assert lr1 / lr0 == pytest.approx(5.0, rel=1e-9)
    assert lr0 != 0.01


@pytest.mark.parametrize("saved", [False, True])
def test_a_state_keeps_its_per_group_setting_when_loaded(saved: bool) -> None:
    """per_group was not saved: a run of one rate per group resumed in an optimizer made with
    the default went on with one global rate (and the other way round), without a word."""
    model, x, y = _problem(torch.float64)

    def groups(m: torch.nn.Module) -> list[dict[str, Any]]:
        return [{"params": m[0].parameters()}, {"params": m[2].parameters(), "lr": 0.05}]

    opt = SGDHD(groups(model), lr=0.01, per_group=saved)
    _run(model, opt, x, y, 10)
    saved_model, saved_opt = _saved(model, opt)
    _run(model, opt, x, y, 10)
    model2, _, _ = _problem(torch.float64)
    model2.load_state_dict(saved_model)
    opt2 = SGDHD(groups(model2), lr=0.01, per_group=not saved)
    opt2.load_state_dict(saved_opt)
    assert opt2.per_group is saved
    _run(model2, opt2, x, y, 10)
    assert opt2.lrs == opt.lrs


@pytest.mark.parametrize(
    "make",
    [SGDHD, SGDNHD, AdamHD, lambda ps: StackedOptimizer(ps, ["adam", ("sgd", {"lr": 1e-4})])],
)
def test_a_parameter_a_step_leaves_out_adds_no_stale_direction(make: Any) -> None:
    """b has no gradient at step 2 (a branch the forward skipped), so step 2 does not move it
    and the rate of step 2 reaches the loss at step 3 through a only. b's direction of step 1
    was kept and added its g_3·u_1 to the hypergradient (-25.5 where it is -0.5 for SGD)."""
    a, b, alone = (torch.nn.Parameter(torch.zeros(2)) for _ in range(3))
    both, single = make([a, b]), make([alone])
    ga = [torch.tensor([1.0, 0.5]), torch.tensor([1.0, 0.0]), torch.tensor([0.5, 1.0])]
    gb = [torch.tensor([0.0, 5.0]), None, torch.tensor([3.0, 5.0])]
    for g, h in zip(ga, gb):
        a.grad, b.grad, alone.grad = g, h, g.clone()
        both.step()
        single.step()
    assert both.hypergrads == single.hypergrads
    assert both.param_groups[0]["lr"] == single.param_groups[0]["lr"]
    if isinstance(both, SGDHD) and not isinstance(both, SGDNHD):
        assert both.hypergrads == [-0.5]  # -g_3·u_2 of a alone: -(0.5·1 + 1·0)


def test_global_mode_rejects_groups_with_different_hyper_settings() -> None:
    a, b = torch.nn.Parameter(torch.ones(2)), torch.nn.Parameter(torch.ones(2))
    with pytest.raises(InputError, match="hyper_lr"):
        SGDHD([{"params": [a]}, {"params": [b], "hyper_lr": 0.02}])
    opt = SGDHD([{"params": [a]}, {"params": [b], "hyper_lr": 0.02}], per_group=True)
    assert [g["hyper_lr"] for g in opt.param_groups] == [0.1, 0.02]


def test_gradient_clipping_and_scheduler() -> None:
    model, x, y = _problem(torch.float32)
    opt = AdamHD(model.parameters(), lr=1e-2)
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=10, gamma=0.5)
    for i in range(30):
        loss = F.cross_entropy(model(x[i % 8 :: 8]), y[i % 8 :: 8])
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 0.1)
        before = opt.param_groups[0]["lr"]
        opt.step()
        learned = opt.param_groups[0]["lr"]
        sched.step()
        after = opt.param_groups[0]["lr"]
        # the scheduler multiplies the learned rate
        assert after == pytest.approx(learned * (0.5 if (i + 1) % 10 == 0 else 1.0))
        assert math.isfinite(before) and after > 0
    assert len(opt.lr_history[0]) == 30


def test_additive_rate_never_negative() -> None:
    p = torch.nn.Parameter(torch.tensor([1.0]))
    opt = SGDHD([p], lr=0.1, hyper_lr=10.0, multiplicative=False, normalize=False)
    for g in (1.0, -1.0, 1.0):
        p.grad = torch.tensor([g])
        opt.step()
    assert opt.lrs[0] == 0.0


def test_normalized_multiplicative_step_is_bounded_by_beta() -> None:
    p = torch.nn.Parameter(torch.zeros(3))
    opt = SGDHD([p], lr=0.1, hyper_lr=0.1)
    p.grad = torch.tensor([1e6, 0.0, 0.0])
    opt.step()
    p.grad = torch.tensor([1e6, 1e6, 0.0])  # cos = 1/sqrt(2), whatever the scale
    opt.step()
    assert opt.lrs[0] == pytest.approx(0.1 * math.exp(0.1 / math.sqrt(2)))


@pytest.mark.parametrize("cls", [SGDHD, SGDNHD, AdamHD])
def test_a_target_cosine_shifts_the_rule_and_settles_lower(cls: type) -> None:
    p = torch.nn.Parameter(torch.zeros(3))
    opt = cls([p], lr=0.1, hyper_lr=0.1, target_cosine=0.2)
    p.grad = torch.tensor([1.0, 0.0, 0.0])
    opt.step()
    if cls is SGDHD:  # the direction is the gradient: cos = 1/sqrt(2) at the second step
        p.grad = torch.tensor([1.0, 1.0, 0.0])
        opt.step()
        assert opt.lrs[0] == pytest.approx(0.1 * math.exp(0.1 * (1 / math.sqrt(2) - 0.2)))
    # on a real problem the run with a target ends at a lower rate
    model, x, y = _problem(torch.float64)
    plain = cls(model.parameters(), lr=1e-2)
    _run(model, plain, x, y, 40)
    model, x, y = _problem(torch.float64)
    shifted = cls(model.parameters(), lr=1e-2, target_cosine=0.05)
    _run(model, shifted, x, y, 40)
    assert shifted.lrs[0] < plain.lrs[0]


@pytest.mark.parametrize("cls", [SGDHD, SGDNHD, AdamHD])
def test_a_zero_gradient_leaves_the_rate_alone_even_with_a_target(cls: type) -> None:
    # no gradient means no cosine to read: the target must not shrink the rate
    p = torch.nn.Parameter(torch.zeros(3))
    opt = cls([p], lr=0.1, hyper_lr=0.2, target_cosine=0.05)
    p.grad = torch.tensor([1.0, 0.0, 0.0])
    opt.step()
    for _ in range(50):
        p.grad = torch.zeros(3)
        opt.step()
    assert opt.lrs[0] == pytest.approx(0.1)


def test_a_target_cosine_needs_the_normalized_rule_and_survives_an_old_state() -> None:
    p = torch.nn.Parameter(torch.zeros(2))
    with pytest.raises(InputError, match=re.escape("target_cosine=0.1 needs normalize=True")):
        SGDHD([p], normalize=False, target_cosine=0.1)
    with pytest.raises(InputError, match=re.escape("1.5")):
        AdamHD([p], target_cosine=1.5)
    opt = AdamHD([p], target_cosine=0.05)
    state = opt.state_dict()
    del state["param_groups"][0]["target_cosine"]  # saved before the option existed
    opt.load_state_dict(state)
    assert opt.param_groups[0]["target_cosine"] == 0.0


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"lr": -0.1}, "-0.1"),
        ({"hyper_lr": -1.0}, "-1.0"),
        ({"momentum": 1.5}, "1.5"),
        ({"nesterov": True}, "momentum"),
        ({"weight_decay": -2.0}, "-2.0"),
        ({"lr": float("nan")}, "nan"),
    ],
)
def test_bad_input_raises_value_error(kwargs: dict, match: str) -> None:
    p = torch.nn.Parameter(torch.zeros(2))
    with pytest.raises(ValueError, match=re.escape(match)) as info:
        SGDHD([p], **kwargs)
    assert isinstance(info.value, InputError)


def test_bad_adam_input_and_types() -> None:
    p = torch.nn.Parameter(torch.zeros(2))
    with pytest.raises(InputError, match=re.escape("1.0")):
        AdamHD([p], betas=(0.9, 1.0))
    with pytest.raises(InputError, match=re.escape("-1e-08")):
        AdamHD([p], eps=-1e-8)
    with pytest.raises(InputTypeError, match="fast"):
        AdamHD([p], lr="fast")  # type: ignore[arg-type]
    opt = AdamHD([p])
    with pytest.raises(InputError, match="-3"):
        opt.add_param_group({"params": [torch.nn.Parameter(torch.zeros(1))], "lr": -3})
    opt.param_groups[0]["lr"] = -1.0  # e.g. written by a faulty scheduler
    p.grad = torch.ones(2)
    with pytest.raises(InputError, match=re.escape("-1.0")):
        opt.step()
    opt.param_groups[0]["lr"] = "0.1"  # text: compared with 0, it failed in a TypeError
    with pytest.raises(InputTypeError, match=r"lr must be a number, got '0\.1'"):
        opt.step()
    opt.param_groups[0]["lr"] = torch.tensor(0.1)  # a one-number tensor still steps
    opt.step()


def test_rate_under_constant_gradient_is_capped_instead_of_overflowing() -> None:
    p = torch.nn.Parameter(torch.zeros(3))
    opt = SGDHD([p], lr=0.01, hyper_lr=0.5)
    for _ in range(200):  # cos = 1 every step: the rate grows by e^0.5 per step
        p.grad = torch.ones(3)
        opt.step()
    assert opt.lrs[0] == 1e12
    assert torch.isfinite(p).all()


def test_complex_parameters_zero_rates_and_bad_groups_are_refused_and_leave_no_trace() -> None:
    with pytest.raises(InputError, match="real parameters only"):
        AdamHD([torch.zeros(2, dtype=torch.complex64, requires_grad=True)])
    with pytest.raises(InputError, match="lr=0 with multiplicative=True can never move"):
        SGDHD([torch.zeros(2, requires_grad=True)], lr=0.0)
    a, b = torch.zeros(2, requires_grad=True), torch.zeros(2, requires_grad=True)
    opt = SGDHD([a])
    with pytest.raises(InputError):
        opt.add_param_group({"params": [b], "momentum": 1.5})
    assert len(opt.param_groups) == 1
    (a.sum() + b.sum()).backward()
    opt.step()  # the optimizer still works


def test_a_plain_torch_state_loads_into_its_hypergradient_twin() -> None:
    m = torch.nn.Linear(3, 1)
    plain = torch.optim.Adam(m.parameters(), lr=3e-3)
    m(torch.ones(1, 3)).sum().backward()
    plain.step()
    twin = AdamHD(m.parameters(), hyper_lr=0.05)
    twin.load_state_dict(plain.state_dict())
    assert twin.lrs == [3e-3] and twin.param_groups[0]["hyper_lr"] == 0.05
    twin.step()


@pytest.mark.parametrize("twin", ["hd", "stack"])
def test_a_torch_adam_checkpoint_resumes_bit_for_bit_in_its_twin(twin: str) -> None:
    # torch.optim.Adam saves its step as a float32 tensor; read as one, the bias corrections
    # were float32 products and the resumed run drifted from Adam's in the 7th digit
    from hyperlab.hypergrad import HyperSGD

    model, x, y = _problem(torch.float32)
    plain = torch.optim.Adam(model.parameters(), lr=1e-2)
    _run(model, plain, x, y, 10)
    saved_model, saved_opt = _saved(model, plain)
    _run(model, plain, x, y, 10)
    model2, _, _ = _problem(torch.float32)
    model2.load_state_dict(saved_model)
    params = model2.parameters()
    opt = (
        AdamHD(params, hyper_lr=0.0)
        if twin == "hd"
        else StackedOptimizer(params, ["adam", HyperSGD(lr=0.0)])
    )
    opt.load_state_dict(saved_opt)
    _run(model2, opt, x, y, 10)
    for a, b in zip(model.parameters(), model2.parameters()):
        assert torch.equal(a, b)


def test_an_sgdhd_checkpoint_goes_on_in_torch_sgd() -> None:
    """Its groups lacked SGD's dampening: the state loaded, then SGD's first step raised
    KeyError('dampening') from inside torch."""
    model, x, y = _problem(torch.float64)
    opt = SGDHD(model.parameters(), lr=0.05, momentum=0.9, hyper_lr=0.0)
    _run(model, opt, x, y, 5)
    model2 = copy.deepcopy(model)
    plain = torch.optim.SGD(model2.parameters(), lr=0.5)
    plain.load_state_dict(copy.deepcopy(opt.state_dict()))
    _run(model, opt, x, y, 5)
    _run(model2, plain, x, y, 5)
    assert all(torch.equal(a, b) for a, b in zip(model.parameters(), model2.parameters()))


def test_a_stack_refuses_complex_parameters_and_keeps_no_refused_group() -> None:
    from hyperlab.hypergrad import HyperSGD, StackedOptimizer

    with pytest.raises(InputError, match="real parameters only"):
        StackedOptimizer(
            [torch.zeros(2, dtype=torch.complex64, requires_grad=True)],
            [HyperSGD(lr=0.01), HyperSGD(lr=1e-3)],
        )
    a, b = torch.zeros(2, requires_grad=True), torch.zeros(2, requires_grad=True)
    opt = StackedOptimizer([a], [HyperSGD(lr=0.01), HyperSGD(lr=1e-3)])
    with pytest.raises(InputError):
        opt.add_param_group({"params": [b], "lr": -1.0})
    assert len(opt.param_groups) == 1
    (a.sum() + b.sum()).backward()
    opt.step()


@pytest.mark.parametrize("cls", [SGDHD, AdamHD])
def test_sparse_gradients_are_refused_by_name(cls: type) -> None:
    emb = torch.nn.Embedding(10, 3, sparse=True)
    opt = cls(emb.parameters(), lr=0.1)
    emb(torch.tensor([1, 2])).sum().backward()
    before = emb.weight.detach().clone()
    with pytest.raises(InputError, match=r"dense gradients only.*sparse=False"):
        opt.step()
    assert torch.equal(emb.weight, before)


@pytest.mark.parametrize(
    ("mine", "theirs", "setting"),
    [
        (AdamHD, lambda ps: torch.optim.AdamW(ps, weight_decay=0.1), "decoupled_weight_decay"),
        (AdamHD, lambda ps: torch.optim.Adam(ps, amsgrad=True), "amsgrad"),
        (AdamHD, lambda ps: torch.optim.Adam(ps, maximize=True), "maximize"),
        (SGDHD, lambda ps: torch.optim.SGD(ps, lr=0.1, momentum=0.9, dampening=0.5), "dampening"),
    ],
)
def test_a_torch_state_with_a_setting_not_implemented_is_refused_by_name(
    mine: type, theirs: Any, setting: str
) -> None:
    """An AdamW state loaded into AdamHD and went on with L2 decay in place of the decoupled
    one; AMSGrad, maximize and dampening were dropped the same way."""
    model = torch.nn.Linear(3, 1)
    other = theirs(model.parameters())
    model(torch.randn(4, 3)).sum().backward()
    other.step()
    opt = mine(model.parameters(), lr=1e-3)
    with pytest.raises(InputError, match=f"param group 0 of the state asks for {setting}="):
        opt.load_state_dict(other.state_dict())
    assert opt.param_groups[0]["lr"] == 1e-3 and not opt.param_groups[0].get(setting)
    # a group of the user's asking for it is refused too, at construction or when added
    with pytest.raises(InputError, match=f"a param group asks for {setting}="):
        mine([{"params": [model.weight], setting: other.param_groups[0][setting]}])
    with pytest.raises(InputError, match=setting):
        opt.add_param_group({"params": [torch.zeros(2, requires_grad=True)], setting: 1})
    assert len(opt.param_groups) == 1


@pytest.mark.parametrize(
    ("mine", "theirs", "entry"),
    [
        (AdamHD, torch.optim.Adamax, "exp_inf"),
        (AdamHD, torch.optim.NAdam, "mu_product"),
        (lambda ps: stack("adam", "sgd")(ps), torch.optim.Adamax, "exp_inf"),
        (
            lambda ps: stack(("sgd", {"momentum": 0.9}), "sgd")(ps),
            lambda ps, lr: torch.optim.RMSprop(ps, lr=lr, momentum=0.9),
            "square_avg",
        ),
    ],
)
def test_a_state_whose_groups_look_alike_is_refused_by_its_entries(
    mine: Any, theirs: Any, entry: str
) -> None:
    """An Adamax state loaded into AdamHD and the step raised KeyError('exp_avg_sq') from
    inside; a NAdam (or an RMSprop into an SGD stack) one loaded and ran another rule."""
    model = torch.nn.Linear(3, 1)
    other = theirs(model.parameters(), lr=0.5)
    model(torch.randn(4, 3)).sum().backward()
    other.step()
    opt = mine(model.parameters())
    lr = opt.param_groups[0]["lr"]
    with pytest.raises(InputError, match=f"holds \\[[^]]*'{entry}'.*another kind of optimizer"):
        opt.load_state_dict(other.state_dict())
    assert opt.param_groups[0]["lr"] == lr and not opt.state
    opt.step()  # still works


@pytest.mark.parametrize(
    ("mine", "theirs", "missing"),
    [
        (AdamHD, torch.optim.SGD, "betas"),
        (AdamHD, SGDHD, "betas"),
        (SGDHD, torch.optim.Adam, "momentum"),
    ],
)
def test_a_state_of_another_kind_of_optimizer_is_refused_and_changes_nothing(
    mine: type, theirs: type, missing: str
) -> None:
    """It gave a KeyError and left the optimizer holding the other's groups: every later step
    failed."""
    model = torch.nn.Linear(3, 1)
    other = theirs(model.parameters(), lr=0.5)
    model(torch.randn(4, 3)).sum().backward()
    other.step()
    opt = mine(model.parameters(), lr=1e-3)
    with pytest.raises(InputError, match=f"lacks .*'{missing}'.*another kind of optimizer"):
        opt.load_state_dict(other.state_dict())
    assert opt.param_groups[0]["lr"] == 1e-3 and opt.param_groups[0]["params"][0] is model.weight
    opt.step()  # still works


def test_half_precision_sums_do_not_overflow() -> None:
    """Adam's direction is about 1 per element: over 70,000 float16 elements its squared norm
    passed float16's 65,504, the cosine read inf, and the rate skipped its update."""
    p = torch.nn.Parameter(torch.zeros(70_000, dtype=torch.float16))
    opt = AdamHD([p], lr=1e-3, eps=1e-3)
    for _ in range(2):
        p.grad = torch.ones_like(p)
        opt.step()
    stats = opt._group_stats(opt.param_groups[0])
    assert stats is not None and torch.isfinite(stats).all()
    assert opt.lrs[0] > 1e-3  # the directions agree: the rate rose


def test_a_module_or_no_parameters_are_refused_with_the_fix() -> None:
    model = torch.nn.Linear(3, 1)
    with pytest.raises(InputTypeError, match=r"got the module Linear: pass model\.parameters\(\)"):
        AdamHD(model)  # type: ignore[arg-type]
    with pytest.raises(InputError, match="AdamHD got no parameters to train"):
        AdamHD([])
    with pytest.raises(InputError, match="SGDHD got no parameters to train"):
        SGDHD([{"params": []}])


@pytest.mark.parametrize(
    ("params", "message"),
    [
        (lambda m: [m], r"got Linear Linear\(in_features=3.* as parameter 0: pass model\.param"),
        (lambda m: {"params": list(m.parameters())}, r"got dict \{'params'.*goes in a list"),
        (lambda m: [list(m.parameters())], r"takes tensors to train, got list \[Parameter"),
        (lambda m: ["weight"], r"got str 'weight' as parameter 0"),
        (lambda m: [{"params": None}], r"a param group's params must be tensors, got NoneType"),
        (lambda m: 0.1, r"takes the parameters to train, got float 0\.1"),
    ],
)
@pytest.mark.parametrize("cls", [SGDHD, AdamHD, StackedOptimizer])
def test_parameters_that_are_not_tensors_are_refused_by_value(
    cls: Any, params: Any, message: str
) -> None:
    model = torch.nn.Linear(3, 1)
    args = (["sgd", "sgd"],) if cls is StackedOptimizer else ()
    with pytest.raises(InputTypeError, match=message):
        cls(params(model), *args)


def test_named_parameters_still_train() -> None:
    model = torch.nn.Linear(3, 1)
    for opt in (
        SGDHD(model.named_parameters()),
        StackedOptimizer(model.named_parameters(), ["sgd"]),
    ):
        before = model.weight.detach().clone()
        model(torch.ones(2, 3)).sum().backward()
        opt.step()
        assert not torch.equal(model.weight, before)


@pytest.mark.parametrize(
    "make",
    [
        AdamHD,
        SGDNHD,  # (a constructor through SGDHD's pointed the warning into hd.py)
        lambda ps: StackedOptimizer(ps, ["sgd", "sgd"]),
        lambda ps: stack("sgd", "sgd")(ps),
    ],
)
def test_a_frozen_model_is_warned_about_at_the_users_line(make: Any) -> None:
    model = torch.nn.Linear(3, 1)
    for p in model.parameters():
        p.requires_grad_(False)
    with pytest.warns(RuntimeWarning, match="none of the 2 parameters requires a gradient") as rec:
        make(model.parameters())
    assert rec[0].filename == __file__


def test_a_frozen_model_of_one_parameter_is_told_in_the_singular() -> None:
    model = torch.nn.Linear(3, 1, bias=False).requires_grad_(False)
    with pytest.warns(RuntimeWarning, match="its one parameter requires no gradient \\(a frozen"):
        AdamHD(model.parameters())


def test_a_base_without_its_update_says_what_to_implement() -> None:
    from hyperlab.hypergrad import HDOptimizer

    model = torch.nn.Linear(3, 1)
    settings = {"lr": 0.1, "hyper_lr": 0.1, "multiplicative": True, "normalize": True}
    opt = HDOptimizer(model.parameters(), settings, per_group=False)
    model(torch.ones(1, 3)).sum().backward()
    with pytest.raises(NotImplementedError, match=r"must implement _update_group\(group\)"):
        opt.step()


def test_flags_that_are_not_bools_are_refused() -> None:
    from hyperlab.hypergrad import HyperSGD, RelaxedMLP, StackedOptimizer

    params = torch.nn.Linear(3, 1).parameters()
    with pytest.raises(InputTypeError, match="nesterov must be True or False, got 'y'"):
        StackedOptimizer(params, [HyperSGD(momentum=0.9, nesterov="y")])  # type: ignore[arg-type]
    with pytest.raises(InputTypeError, match="gumbel must be True or False, got 'yes'"):
        RelaxedMLP(4, 2, gumbel="yes")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("cls", "key", "value", "message"),
    [
        (AdamHD, "hyper_lr", -0.1, "group 0 now holds .*hyper_lr must be a finite number >= 0"),
        (SGDHD, "hyper_lr", math.nan, "group 0 now holds .*hyper_lr must be a finite number"),
        (AdamHD, "target_cosine", 2.0, r"group 0 now holds .*target_cosine must be in \[0, 1\)"),
        (AdamHD, "betas", (0.9, 1.0), r"group 0 now holds .*beta2 must be in \[0, 1\)"),
        (SGDNHD, "momentum", 1.0, r"group 0 now holds .*momentum must be in \[0, 1\)"),
        (AdamHD, "maximize", True, "group 0 now holds .*maximize=True, which AdamHD does not"),
    ],
)
def test_a_setting_written_into_a_group_mid_run_is_checked_at_the_step(
    cls: Any, key: str, value: Any, message: str
) -> None:
    """The settings were checked by the constructor only: written since (as load_state_dict's
    docstring tells to change one on resuming), a negative hyper_lr climbed the loss, a NaN one
    stopped learning, a target cosine of 2 drove the rate down, all without a word."""
    model, x, y = _problem(torch.float32)
    opt = cls(model.parameters(), lr=0.01)
    _run(model, opt, x, y, 3)
    opt.param_groups[0][key] = value
    before = [p.detach().clone() for p in model.parameters()]
    with pytest.raises(InputError, match=message):
        _run(model, opt, x, y, 1)
    assert all(torch.equal(p, q) for p, q in zip(model.parameters(), before))


def test_one_global_rate_refuses_a_group_whose_hyper_setting_was_written_alone() -> None:
    """With one global rate, a hyper_lr written into one group only was applied to that group
    alone: its rate stopped following the others' without a word."""
    model, x, y = _problem(torch.float32)
    params = list(model.parameters())
    opt = AdamHD([{"params": params[:2]}, {"params": params[2:]}], lr=0.01)
    _run(model, opt, x, y, 3)
    opt.param_groups[1]["hyper_lr"] = 0.0
    with pytest.raises(InputError, match=r"group 1 now holds .*same hyper_lr.*per_group=True"):
        _run(model, opt, x, y, 1)
    for group in opt.param_groups:  # written into every group: the learning stops
        group["hyper_lr"] = 0.0
    lrs = opt.lrs
    _run(model, opt, x, y, 3)
    assert opt.lrs == lrs


@pytest.mark.parametrize("cls", [SGDHD, AdamHD, StackedOptimizer])
def test_parameters_used_up_by_another_optimizer_are_told_as_such(cls: Any) -> None:
    """model.parameters() is a generator: given to a second optimizer it is empty, and the
    message told the user who had passed model.parameters() to pass model.parameters()."""
    model = torch.nn.Linear(3, 1)
    params = model.parameters()
    args = (["sgd", "sgd"],) if cls is StackedOptimizer else ()
    cls(params, *args)
    with pytest.raises(InputError, match=r"the generator it was given was empty, used up"):
        cls(params, *args)


@pytest.mark.parametrize(
    ("make", "said"),
    [
        (lambda p: AdamHD(p, amsgrad=True), "AdamHD: amsgrad=True (a torch.optim.Adam option)"),
        (lambda p: AdamHD(p, maximize=True), "AdamHD: maximize=True (a torch.optim.Adam option)"),
        (lambda p: AdamHD(p, fused=True), "AdamHD: fused=True (a torch.optim.Adam option)"),
        (lambda p: AdamHD(p, capturable=True), "AdamHD: capturable=True"),
        (lambda p: AdamHD(p, decoupled_weight_decay=True), "decoupled_weight_decay=True"),
        (lambda p: SGDHD(p, maximize=True), "SGDHD: maximize=True (a torch.optim.SGD option)"),
        (lambda p: SGDHD(p, dampening=0.5), "SGDHD: dampening=0.5 (a torch.optim.SGD option)"),
        (lambda p: SGDHD(p, foreach=True), "SGDHD: foreach=True"),
        (lambda p: SGDHD(p, differentiable=True), "SGDHD: differentiable=True"),
        (lambda p: SGDNHD(p, nesterov=False), "SGDNHD: nesterov=False"),
    ],
)
def test_torch_optim_keywords_they_lack_are_refused_by_name(make: Any, said: str) -> None:
    """Python's bare TypeError named no reason (unexpected keyword argument)."""
    with pytest.raises(InputError) as info:
        make([torch.zeros(2, requires_grad=True)])
    assert said in str(info.value)
    assert "is not supported by the hypergradient optimizer" in str(info.value)


def test_torch_optim_keywords_at_their_defaults_change_nothing() -> None:
    """Given as torch.optim's defaults, they ask for what the optimizers do: the same steps as
    without them; a keyword of neither is Python's TypeError still."""
    torch.manual_seed(0)
    w = torch.randn(4)
    runs = []
    for options in ({}, {"amsgrad": False, "maximize": False, "foreach": None, "fused": False}):
        p = w.clone().requires_grad_(True)
        opt = AdamHD([p], lr=0.01, capturable=False, differentiable=False, **options)
        for _ in range(3):
            opt.zero_grad()
            (p**2).sum().backward()
            opt.step()
        runs.append(p.detach().clone())
    assert torch.equal(runs[0], runs[1])
    SGDHD([torch.zeros(2, requires_grad=True)], dampening=0, foreach=False, fused=None)
    SGDNHD([torch.zeros(2, requires_grad=True)], nesterov=True)
    with pytest.raises(TypeError, match="unexpected keyword argument 'amsgrad'"):
        SGDHD([torch.zeros(2, requires_grad=True)], amsgrad=True)
    with pytest.raises(TypeError, match="unexpected keyword argument 'gamma'"):
        AdamHD([torch.zeros(2, requires_grad=True)], gamma=0.5)
