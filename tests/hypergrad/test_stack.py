from __future__ import annotations

import copy
import math
from typing import Any

import pytest
import torch
import torch.nn.functional as F

from hyperlab.errors import InputError, InputTypeError, UnknownNameError
from hyperlab.hypergrad import HyperAdam, HyperSGD, StackedOptimizer, stack
from hyperlab.hypergrad.stack import _get_base, _set_base

DTYPES = [torch.float32, torch.float64]


def _problem(
    dtype: torch.dtype, seed: int = 0
) -> tuple[torch.nn.Module, torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(64, 5, generator=gen, dtype=dtype)
    y = (x @ torch.randn(5, 3, generator=gen, dtype=dtype)).argmax(1)
    torch.manual_seed(seed)
    model = torch.nn.Sequential(torch.nn.Linear(5, 8), torch.nn.Tanh(), torch.nn.Linear(8, 3))
    return model.to(dtype), x, y


def _batch(x: torch.Tensor, y: torch.Tensor, i: int) -> tuple[torch.Tensor, torch.Tensor]:
    return x[i % 8 :: 8], y[i % 8 :: 8]


def _one_step(
    model: torch.nn.Module, opt: torch.optim.Optimizer, x: torch.Tensor, y: torch.Tensor, i: int
) -> float:
    xb, yb = _batch(x, y, i)
    loss = F.cross_entropy(model(xb), yb)
    opt.zero_grad()
    loss.backward()
    opt.step()
    return float(loss.detach())


def _run(
    model: torch.nn.Module,
    opt: torch.optim.Optimizer,
    x: torch.Tensor,
    y: torch.Tensor,
    steps: int,
    start: int = 0,
) -> list[float]:
    return [_one_step(model, opt, x, y, i) for i in range(start, start + steps)]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(
    ("level", "reference"),
    [
        (
            HyperAdam(lr=3e-3, weight_decay=1e-3),
            lambda p: torch.optim.Adam(p, lr=3e-3, weight_decay=1e-3),
        ),
        (HyperSGD(lr=0.1), lambda p: torch.optim.SGD(p, lr=0.1)),
        (
            HyperSGD(lr=0.05, momentum=0.9, nesterov=True, weight_decay=1e-2),
            lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.9, nesterov=True, weight_decay=1e-2),
        ),
    ],
)
def test_height_one_with_zero_hyper_rate_is_the_base_optimizer(
    dtype: torch.dtype, level: Any, reference: Any
) -> None:
    model_a, x, y = _problem(dtype)
    model_b = copy.deepcopy(model_a)
    opt_a = StackedOptimizer(model_a.parameters(), [level, HyperSGD(lr=0.0)])
    opt_b = reference(model_b.parameters())
    assert opt_a.height == 1
    assert _run(model_a, opt_a, x, y, 100) == _run(model_b, opt_b, x, y, 100)
    for pa, pb in zip(model_a.parameters(), model_b.parameters()):
        assert torch.equal(pa, pb)
    assert any(v != 0 for v in opt_a.hypergrads.values())  # hypergradients were computed


def _functional_adam(p, g, m, v, t, lr, b1, b2, eps):  # type: ignore[no-untyped-def]
    m_new = b1 * m + (1 - b1) * g
    v_new = b2 * v + (1 - b2) * g * g
    denom = (v_new.sqrt() / (1 - b2**t).sqrt()) + eps
    return p - lr / (1 - b1**t) * m_new / denom


def _functional_sgd(p, g, buf, lr, mu, nesterov):  # type: ignore[no-untyped-def]
    buf_new = mu * buf + g
    direction = g + mu * buf_new if nesterov else buf_new
    return p - lr * direction


@pytest.mark.parametrize("dtype", DTYPES)
def test_adam_update_derivatives_match_autograd(dtype: torch.dtype) -> None:
    level = HyperAdam(lr=0.01, betas=(0.8, 0.95), eps=1e-6)
    learn = ("lr", "beta1", "beta2")
    gen = torch.Generator().manual_seed(3)
    p = torch.randn(7, dtype=dtype, generator=gen)
    state: dict[str, Any] = {}
    hp = level.values()
    for _ in range(3):  # build up nonzero moments first
        level._step_tensor_(p, torch.randn(7, dtype=dtype, generator=gen), state, hp, learn)
    g = torch.randn(7, dtype=dtype, generator=gen)
    m, v, t = state["exp_avg"].clone(), state["exp_avg_sq"].clone(), state["step"] + 1
    p0 = p.clone()
    level._step_tensor_(p, g, state, hp, learn)
    h = {k: torch.tensor(hp[k], dtype=dtype, requires_grad=True) for k in ("lr", "beta1", "beta2")}
    new = _functional_adam(
        p0, g, m, v, torch.tensor(float(t), dtype=dtype), h["lr"], h["beta1"], h["beta2"], hp["eps"]
    )
    tol = 1e-4 if dtype == torch.float32 else 1e-10
    torch.testing.assert_close(p, new.detach(), rtol=tol, atol=tol)
    for name in learn:
        (jac,) = torch.autograd.grad(
            new, h[name], torch.eye(7, dtype=dtype), is_grads_batched=True, retain_graph=True
        )
        torch.testing.assert_close(state[f"d_{name}"], jac, rtol=tol, atol=tol)


@pytest.mark.parametrize("nesterov", [False, True])
def test_sgd_update_derivatives_match_autograd(nesterov: bool) -> None:
    dtype = torch.float64
    level = HyperSGD(lr=0.05, momentum=0.7, nesterov=nesterov)
    learn = ("lr", "momentum")
    gen = torch.Generator().manual_seed(4)
    p = torch.randn(5, dtype=dtype, generator=gen)
    state: dict[str, Any] = {}
    hp = level.values()
    level._step_tensor_(p, torch.randn(5, dtype=dtype, generator=gen), state, hp, learn)
    buf, g, p0 = (
        state["momentum_buffer"].clone(),
        torch.randn(5, dtype=dtype, generator=gen),
        p.clone(),
    )
    level._step_tensor_(p, g, state, hp, learn)
    h = {k: torch.tensor(hp[k], dtype=dtype, requires_grad=True) for k in learn}
    new = _functional_sgd(p0, g, buf, h["lr"], h["momentum"], nesterov)
    for name in learn:
        (jac,) = torch.autograd.grad(
            new, h[name], torch.eye(5, dtype=dtype), is_grads_batched=True, retain_graph=True
        )
        torch.testing.assert_close(state[f"d_{name}"], jac, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize(
    "level", [HyperAdam(lr=0.02, betas=(0.8, 0.9)), HyperSGD(lr=0.1, momentum=0.5, nesterov=True)]
)
def test_scalar_rule_matches_tensor_rule(level: Any) -> None:
    """Hyperoptimizers run the same rule on floats; check it against the tensor version."""
    learn = tuple(level.HYPERS)
    hp = level.values()
    p = torch.tensor([0.3], dtype=torch.float64)
    t_state: dict[str, Any] = {}
    s_state: dict[str, Any] = {}
    x = 0.3
    for g in (0.5, -0.2, 0.7, 0.1):
        level._step_tensor_(p, torch.tensor([g], dtype=torch.float64), t_state, hp, learn)
        x, derivs = level._step_scalar(x, g, s_state, hp, learn)
        assert x == pytest.approx(float(p), rel=1e-12)
        for name in learn:
            assert derivs[name] == pytest.approx(float(t_state[f"d_{name}"]), rel=1e-9, abs=1e-15)


def test_stack_hypergradients_follow_the_chain_rule() -> None:
    """Height 1: ∂L/∂α = -g_t·g_{t-1} (HD); height 2: ∂L/∂κ = -G_t·G_{t-1} for α_t = α - κ G_t."""
    gen = torch.Generator().manual_seed(2)
    gs = [torch.randn(4, dtype=torch.float64, generator=gen) for _ in range(4)]
    p = torch.nn.Parameter(torch.zeros(4, dtype=torch.float64))
    opt = stack("sgd", HyperSGD(lr=0.01), HyperSGD(lr=0.001))([p])
    level0: list[float] = []
    for t, g in enumerate(gs):
        p.grad = g.clone()
        opt.step()
        if t >= 1:
            level0.append(opt.hypergrads["g0.lr"])
            assert level0[-1] == pytest.approx(-float(g @ gs[t - 1]), rel=1e-12)
        if t >= 3:
            assert opt.hypergrads["L1.lr"] == pytest.approx(-level0[-1] * level0[-2], rel=1e-12)
    assert set(opt.hyperparameters()) == {"g0.lr", "L1.lr"}


def test_stack_hypergradient_matches_finite_differences() -> None:
    """∂L(θ_{t+1})/∂β1_t reported at step t+1 equals a central difference of the loss."""
    model, x, y = _problem(torch.float64)
    opt = StackedOptimizer(model.parameters(), [HyperAdam(lr=0.01), HyperSGD(lr=0.0)])
    _run(model, opt, x, y, 5)

    def loss_after(delta: dict[str, float]) -> tuple[float, dict[str, float]]:
        m, o = copy.deepcopy((model, opt))  # one copy, so o steps the weights of m
        for name, d in delta.items():
            _set_base(o.param_groups[0], name, _get_base(o.param_groups[0], name) + d)
        _one_step(m, o, x, y, 5)
        xb, yb = _batch(x, y, 6)
        loss = F.cross_entropy(m(xb), yb)
        o.zero_grad()
        loss.backward()
        o.step()
        return float(loss.detach()), o.hypergrads

    _, grads = loss_after({})
    eps = 1e-6
    for name in ("lr", "beta1", "beta2"):
        fd = (loss_after({name: eps})[0] - loss_after({name: -eps})[0]) / (2 * eps)
        assert grads[f"g0.{name}"] == pytest.approx(fd, rel=1e-5, abs=1e-9)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(
    "levels", [("sgd", "sgd"), ("adam", "sgd", "sgd"), ("sgd", "adam", "adam", "sgd")]
)
def test_stacks_train_in_both_precisions(dtype: torch.dtype, levels: tuple[str, ...]) -> None:
    model, x, y = _problem(dtype)
    opt = stack(*levels)(model.parameters())
    losses = _run(model, opt, x, y, 80)
    assert losses[-1] < losses[0]
    assert len(opt.history) == 80
    assert all(math.isfinite(v) for v in opt.history[-1].values())
    assert next(iter(model.parameters())).dtype == dtype
    assert opt.hyperparameters()["g0.lr"] != opt.history[0]["g0.lr"] or opt.height == 0


def test_learned_rate_rises_from_a_too_small_start() -> None:
    model, x, y = _problem(torch.float64)
    opt = stack(HyperSGD(lr=1e-3), HyperSGD(lr=0.1))(model.parameters())
    _run(model, opt, x, y, 100)
    assert opt.param_groups[0]["lr"] > 2e-3


@pytest.mark.parametrize("levels", [("sgd", "sgd", "sgd"), ("adam", "adam", "sgd")])
def test_state_dict_round_trip_resumes_same_trajectory(levels: tuple[str, ...]) -> None:
    model, x, y = _problem(torch.float64)
    opt = stack(*levels)(model.parameters())
    _run(model, opt, x, y, 15)
    saved_model, saved_opt = copy.deepcopy(model.state_dict()), copy.deepcopy(opt.state_dict())
    first = _run(model, opt, x, y, 15, start=15)
    model2, _, _ = _problem(torch.float64, seed=9)
    model2.load_state_dict(saved_model)
    opt2 = stack(*levels)(model2.parameters())
    opt2.load_state_dict(saved_opt)
    assert _run(model2, opt2, x, y, 15, start=15) == first
    assert opt2.hyperparameters() == opt.hyperparameters()
    assert opt2.history == opt.history


def test_param_groups_learn_their_own_rates() -> None:
    model, x, y = _problem(torch.float32)
    opt = StackedOptimizer(
        [{"params": model[0].parameters(), "lr": 0.2}, {"params": model[2].parameters()}],
        [HyperSGD(lr=0.05, momentum=0.9), HyperSGD(lr=0.01)],
    )
    _run(model, opt, x, y, 30)
    hp = opt.hyperparameters()
    assert set(hp) == {"g0.lr", "g0.momentum", "g1.lr", "g1.momentum"}
    assert hp["g0.lr"] != 0.2 and hp["g1.lr"] != 0.05
    assert opt.param_groups[1]["lr"] == hp["g1.lr"]


def test_gradient_clipping_and_scheduler() -> None:
    model, x, y = _problem(torch.float32)
    opt = stack("adam", "sgd")(model.parameters())
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=5, gamma=0.1)
    for i in range(20):
        xb, yb = _batch(x, y, i)
        loss = F.cross_entropy(model(xb), yb)
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 0.05)
        opt.step()
        learned = opt.param_groups[0]["lr"]
        sched.step()
        factor = 0.1 if (i + 1) % 5 == 0 else 1.0
        assert opt.param_groups[0]["lr"] == pytest.approx(learned * factor)
    assert all(math.isfinite(p.detach().sum().item()) for p in model.parameters())


@pytest.mark.parametrize(
    ("build", "error", "match"),
    [
        (lambda p: stack("adam", "rmsprop"), UnknownNameError, "rmsprop"),
        (
            lambda p: StackedOptimizer(p, [HyperSGD(learn=("lr", "temperature")), "sgd"]),
            UnknownNameError,
            "temperature",
        ),
        (lambda p: StackedOptimizer(p, [HyperSGD(lr=-0.5), "sgd"]), InputError, "-0.5"),
        (lambda p: StackedOptimizer(p, ["sgd", HyperSGD(lr=-2.0)]), InputError, "-2.0"),
        (
            lambda p: StackedOptimizer(p, [HyperSGD(learn=("momentum",)), "sgd"]),
            InputError,
            "momentum",
        ),
        (lambda p: StackedOptimizer(p, [HyperAdam(betas=(0.9, 1.5)), "sgd"]), InputError, "1.5"),
        (lambda p: StackedOptimizer(p, []), InputError, "[]"),
        (
            lambda p: StackedOptimizer([{"params": p, "lr": -3.0}], ["sgd", "sgd"]),
            InputError,
            "-3.0",
        ),
    ],
)
def test_bad_input_raises_value_error(build: Any, error: type, match: str) -> None:
    params = [torch.nn.Parameter(torch.zeros(2))]
    with pytest.raises(error) as info:
        build(params)
    assert isinstance(info.value, ValueError)
    assert match in str(info.value)


@pytest.mark.parametrize(
    ("lr_space", "top"), [("linear", HyperSGD(lr=1e11)), ("log", HyperAdam(lr=5.0))]
)
def test_runaway_rate_is_capped_not_overflowing(lr_space: str, top: Any) -> None:
    p = torch.nn.Parameter(torch.zeros(2))
    opt = StackedOptimizer([p], [HyperSGD(lr=0.01, lr_space=lr_space), top])
    with pytest.warns(RuntimeWarning, match=r"g0\.lr was clipped to 1e\+12") as caught:
        for _ in range(300):  # a constant gradient: every hypergradient says "larger"
            p.grad = torch.ones(2)
            opt.step()
    clipped = [w for w in caught if "clipped" in str(w.message)]
    assert len(clipped) == 1  # once, not per step
    assert clipped[0].filename == __file__  # the line that called step(), not torch's wrapper
    assert opt.param_groups[0]["lr"] == 1e12
    assert torch.isfinite(p).all()


def test_a_stack_refuses_sparse_gradients() -> None:
    emb = torch.nn.Embedding(10, 3, sparse=True)
    opt = stack("sgd", "sgd")(emb.parameters())
    emb(torch.tensor([1, 2])).sum().backward()
    with pytest.raises(InputError, match="dense gradients only"):
        opt.step()


def test_a_state_of_another_stack_is_refused_and_leaves_the_optimizer_as_it_was() -> None:
    model, x, y = _problem(torch.float64)
    opt = stack("adam", "sgd", "sgd")(model.parameters())
    _run(model, opt, x, y, 3)
    other = stack("sgd", "sgd")(model.parameters())
    with pytest.raises(InputError, match="another stack"):
        other.load_state_dict(opt.state_dict())
    assert other.hyper_state["steps"] == 0 and other.history == []
    with pytest.raises(InputError, match="another stack"):
        stack("adam", "adam", "sgd")(model.parameters()).load_state_dict(opt.state_dict())


def test_a_plain_state_of_another_optimizer_kind_is_refused_before_anything_changes() -> None:
    model, x, y = _problem(torch.float64)
    sgd = torch.optim.SGD(model.parameters(), lr=0.1)
    opt = stack("adam", "sgd")(model.parameters())
    with pytest.raises(InputError, match=r"lacks \['betas', 'eps'\].*nothing was loaded"):
        opt.load_state_dict(sgd.state_dict())
    assert opt.param_groups[0]["betas"] == (0.9, 0.999)
    _run(model, opt, x, y, 2)  # still steps
    adam = torch.optim.Adam(model.parameters(), lr=0.01)
    opt.load_state_dict(adam.state_dict())  # a plain state of the same kind loads
    assert opt.param_groups[0]["lr"] == 0.01


def test_a_plain_state_with_a_setting_not_implemented_is_refused_by_name() -> None:
    """An AdamW state loaded and the stack went on with L2 decay in place of the decoupled one."""
    model, x, y = _problem(torch.float64)
    adamw = torch.optim.AdamW(model.parameters(), lr=0.01, weight_decay=0.1)
    opt = stack("adam", "sgd")(model.parameters())
    with pytest.raises(InputError, match=r"param group 0 of the state asks for decoupled_weight"):
        opt.load_state_dict(adamw.state_dict())
    assert opt.param_groups[0]["weight_decay"] == 0.0
    with pytest.raises(InputError, match=r"a param group asks for amsgrad=True"):
        opt.add_param_group({"params": [torch.zeros(2, requires_grad=True)], "amsgrad": True})
    assert len(opt.param_groups) == 1
    _run(model, opt, x, y, 2)  # still steps


def test_an_sgd_stack_checkpoint_goes_on_in_torch_sgd_and_an_older_one_still_loads() -> None:
    """Its groups lacked SGD's dampening and nesterov: torch.optim.SGD's first step raised
    KeyError('dampening') from inside torch."""
    model, x, y = _problem(torch.float64)
    base = HyperSGD(lr=0.05, momentum=0.9, nesterov=True)
    opt = StackedOptimizer(model.parameters(), [base, HyperSGD(lr=0.0)])
    _run(model, opt, x, y, 5)
    saved = copy.deepcopy(opt.state_dict())
    model2 = copy.deepcopy(model)
    plain = torch.optim.SGD(model2.parameters(), lr=0.5)
    plain.load_state_dict(copy.deepcopy(saved))
    _run(model, opt, x, y, 5, start=5)
    _run(model2, plain, x, y, 5, start=5)
    assert all(torch.equal(a, b) for a, b in zip(model.parameters(), model2.parameters()))
    for group in saved["param_groups"]:  # as saved before they were kept
        del group["nesterov"], group["dampening"]
    StackedOptimizer(model.parameters(), [base, HyperSGD(lr=0.0)]).load_state_dict(saved)


@pytest.mark.parametrize("base", ["sgd", "adam"])
def test_a_one_number_tensor_rate_written_after_construction_steps_as_in_the_hd_optimizers(
    base: str,
) -> None:
    """AdamHD and SGDHD take it (a scheduler built on a tensor rate writes tensors); the stack
    refused it as 'lr must be a number'."""
    model, x, y = _problem(torch.float64)
    opt = stack(base, ("sgd", {"lr": 1e-6}))(model.parameters())
    _run(model, opt, x, y, 2)
    opt.param_groups[0]["lr"] = torch.tensor(0.01)
    _run(model, opt, x, y, 2, start=2)
    assert math.isfinite(float(opt.param_groups[0]["lr"]))
    opt.param_groups[0]["lr"] = "0.01"
    with pytest.raises(InputTypeError, match=r"lr must be a number, got '0\.01'"):
        _run(model, opt, x, y, 1)


def test_a_rate_learned_in_log_coordinates_never_falls_to_zero() -> None:
    model, x, y = _problem(torch.float64)
    # a huge SGD step in log coordinates: exp(z) of the new coordinate underflows
    opt = stack(HyperSGD(lr=0.1, lr_space="log"), HyperSGD(lr=1e3))(model.parameters())
    _run(model, opt, x, y, 20)
    rates = [h["g0.lr"] for h in opt.history]
    assert min(rates) >= 1e-12
    assert all(math.isfinite(r) for r in rates)


def test_a_state_of_a_stack_with_other_coordinates_is_refused() -> None:
    model, x, y = _problem(torch.float64)
    logs = stack(HyperSGD(lr=0.1, lr_space="log"), HyperSGD(lr=1e-3))(model.parameters())
    _run(model, logs, x, y, 3)
    linear = stack(HyperSGD(lr=0.1), HyperSGD(lr=1e-3))(model.parameters())
    with pytest.raises(InputError, match="another stack"):
        linear.load_state_dict(logs.state_dict())
    same = stack(HyperSGD(lr=0.1, lr_space="log"), HyperSGD(lr=1e-3))(model.parameters())
    same.load_state_dict(logs.state_dict())  # the same shape loads


def test_a_state_saved_before_levels_were_recorded_still_loads() -> None:
    model, x, y = _problem(torch.float64)
    opt = stack("adam", "sgd")(model.parameters())
    _run(model, opt, x, y, 3)
    old = opt.state_dict()
    del old["hyper_state"]["levels"]
    again = stack("adam", "sgd")(model.parameters())
    again.load_state_dict(old)
    assert again.hyper_state["levels"] == opt.hyper_state["levels"]


def test_betas_pushed_past_their_range_are_clipped_with_a_warning_not_a_crash() -> None:
    """A hyperoptimizer far too fast for Adam's betas: ψ + (σ(z_new) − σ(z)) rounded onto 1
    (a math domain error in the logit, a division by zero in the bias correction)."""
    model, x, y = _problem(torch.float32)
    opt = StackedOptimizer(model.parameters(), ["adam", HyperSGD(lr=1e4)])
    with pytest.warns(RuntimeWarning, match=r"g0\.beta\d was clipped to"):
        _run(model, opt, x, y, 60)
    for name in ("beta1", "beta2"):
        assert 0.0 < opt.hyperparameters()[f"g0.{name}"] < 1.0


def test_the_factory_of_stack_pickles_and_makes_the_same_optimizer() -> None:
    import pickle

    factory = pickle.loads(pickle.dumps(stack("adam", HyperSGD(lr=1e-5))))
    opt = factory(torch.nn.Linear(3, 1).parameters())
    assert isinstance(opt, StackedOptimizer) and [lv.name for lv in opt.levels] == ["adam", "sgd"]
    assert opt.levels[1].lr == 1e-5


@pytest.mark.parametrize(
    ("levels", "key", "value", "message"),
    [
        (["adam", HyperSGD(lr=1e-5)], "betas", (0.9, 1.0), r"beta2 must be in \[0, 1\)"),
        (["adam", HyperSGD(lr=1e-5)], "betas", (1.2, 0.999), r"beta1 must be in \[0, 1\)"),
        ([HyperSGD(momentum=0.9), HyperSGD(lr=1e-4)], "momentum", 0.0, r"momentum must be in \(0"),
        (["adam", HyperSGD(lr=1e-5)], "eps", -1.0, "eps must be a finite number >= 0"),
        (["adam", HyperSGD(lr=1e-5)], "amsgrad", True, "amsgrad=True, which StackedOpt"),
    ],
)
def test_a_setting_written_into_a_group_mid_run_is_checked_at_the_step(
    levels: list[Any], key: str, value: Any, message: str
) -> None:
    """A learned beta or momentum written at an end of (0, 1) (or past it) failed deep inside
    the step with "math domain error" (its logit); a negative eps or an AMSGrad flag went on
    without a word."""
    model, x, y = _problem(torch.float32)
    opt = StackedOptimizer(model.parameters(), levels)
    _run(model, opt, x, y, 3)
    opt.param_groups[0][key] = value
    before = [p.detach().clone() for p in model.parameters()]
    with pytest.raises(InputError, match=f"StackedOptimizer.step: param group 0 now .*{message}"):
        _one_step(model, opt, x, y, 3)
    assert all(torch.equal(p, q) for p, q in zip(model.parameters(), before))


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_half_precision_hypergradients_do_not_overflow(dtype: torch.dtype) -> None:
    """The hypergradient g·D summed 200,000 products in float16 and overflowed to -inf, so the
    rate was never moved, without a word (the hd optimizers sum in float32 already)."""
    p = torch.nn.Parameter(torch.zeros(200_000, dtype=dtype))
    opt = StackedOptimizer([p], [HyperSGD(lr=1e-3), HyperSGD(lr=1e-9)])
    for _ in range(2):
        p.grad = torch.ones_like(p)
        opt.step()
    assert opt.hypergrads["g0.lr"] == pytest.approx(-200_000.0)  # -g·u, u = g
    assert opt.param_groups[0]["lr"] > 1e-3


def test_a_float16_adam_base_is_refused_where_beta2_cannot_be_learned() -> None:
    """β2's derivative takes a factor of about 1e6 at the first step, which float16 cannot
    hold: the step failed inside torch ("value cannot be converted to type c10::Half without
    overflow")."""
    p = torch.nn.Parameter(torch.zeros(4, dtype=torch.float16))
    with pytest.raises(InputError, match="beta2 cannot be learned for float16 parameters"):
        StackedOptimizer([p], ["adam", HyperSGD(lr=1e-9)])
    opt = StackedOptimizer([p], [HyperAdam(learn=["lr", "beta1"]), HyperSGD(lr=1e-9)])
    for _ in range(3):
        p.grad = torch.ones_like(p)
        opt.step()
    assert torch.isfinite(p).all() and math.isfinite(opt.hypergrads["g0.beta1"])
    grown = StackedOptimizer([torch.nn.Parameter(torch.zeros(2))], ["adam", "sgd"])
    with pytest.raises(InputError, match="float16"):
        grown.add_param_group({"params": [p]})
    assert len(grown.param_groups) == 1


def test_a_model_cast_to_float16_after_its_stack_was_made_is_refused_at_the_step() -> None:
    """``model.half()`` after the optimizer was built changes the dtype of the very parameters
    it holds, past the constructor's check: the step failed inside torch ("value cannot be
    converted to type c10::Half without overflow")."""
    model = torch.nn.Linear(3, 1)
    opt = StackedOptimizer(model.parameters(), ["adam", HyperSGD(lr=1e-9)])
    model.half()
    for p in model.parameters():
        p.grad = torch.ones_like(p)
    before = [p.detach().clone() for p in model.parameters()]
    with pytest.raises(InputError, match="param group 0 holds float16 parameters now"):
        opt.step()
    assert all(torch.equal(p, q) for p, q in zip(model.parameters(), before))


def test_the_optimizers_refuse_complex_parameters_with_the_one_guard() -> None:
    """AdamHD, SGDHD and a stack say what guards.refuse_complex says, each naming itself."""
    from hyperlab.hypergrad import SGDHD, AdamHD, HyperSGD, StackedOptimizer
    from hyperlab.hypergrad.guards import refuse_complex

    z = torch.zeros(2, dtype=torch.complex64, requires_grad=True)
    made = {
        "AdamHD": lambda: AdamHD([z]),
        "SGDHD": lambda: SGDHD([z]),
        "StackedOptimizer": lambda: StackedOptimizer([z], [HyperSGD(), HyperSGD(lr=1e-3)]),
    }
    for owner, make in made.items():
        with pytest.raises(InputError) as said:
            make()
        with pytest.raises(InputError) as guard:
            refuse_complex(owner, [z])
        assert str(said.value) == str(guard.value)
        assert str(guard.value).startswith(f"{owner} takes real parameters only")
    refuse_complex("AdamHD", [torch.zeros(2)])  # a real one passes
