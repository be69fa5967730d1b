from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from hyperlab.errors import InputError
from hyperlab.hypergrad.regularizers import InputNoise, WeightDecay
from hyperlab.hypergrad.valgrad import (
    ift_hypergradient,
    module_loss,
    neumann_inverse_hvp,
    t1t2_hypergradient,
)


def _data(dtype: torch.dtype, n: int = 30, d: int = 5, seed: int = 0) -> tuple[Tensor, ...]:
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, d, generator=g, dtype=dtype)
    w = torch.randn(d, generator=g, dtype=dtype)
    y = x @ w + 0.5 * torch.randn(n, generator=g, dtype=dtype)
    xv = torch.randn(n, d, generator=g, dtype=dtype)
    yv = xv @ w + 0.5 * torch.randn(n, generator=g, dtype=dtype)
    return x, y, xv, yv


def _ridge_losses(x: Tensor, y: Tensor, xv: Tensor, yv: Tensor, log_lam: Tensor):
    def train(p):
        w = p["w"]
        return 0.5 * ((x @ w - y) ** 2).mean() + 0.5 * log_lam.exp() * (w**2).sum()

    def val(p):
        return 0.5 * ((xv @ p["w"] - yv) ** 2).mean()

    return train, val


def _ridge_solution(x: Tensor, y: Tensor, lam: float) -> Tensor:
    n, d = x.shape
    a = x.T @ x / n + lam * torch.eye(d, dtype=x.dtype)
    return torch.linalg.solve(a, x.T @ y / n)


@pytest.mark.slow
@pytest.mark.parametrize("log_lam0", [math.log(0.05), math.log(0.5)])
def test_ift_matches_finite_differences_on_ridge(log_lam0: float) -> None:
    x, y, xv, yv = _data(torch.float64)
    h = torch.tensor(log_lam0, dtype=torch.float64, requires_grad=True)
    train, val = _ridge_losses(x, y, xv, yv, h)
    w = _ridge_solution(x, y, math.exp(log_lam0))
    (hg,) = ift_hypergradient(train, val, {"w": w}, [h], neumann_steps=1000)

    def f(log_lam: float) -> float:
        ws = _ridge_solution(x, y, math.exp(log_lam))
        return float(val({"w": ws}))

    eps = 1e-5
    fd = (f(log_lam0 + eps) - f(log_lam0 - eps)) / (2 * eps)
    assert abs(float(hg) - fd) <= 1e-4 * abs(fd)


def _logistic_solve(x: Tensor, y: Tensor, lam: float) -> Tensor:
    w = torch.zeros(x.shape[1], dtype=x.dtype)
    for _ in range(50):  # Newton's method: converges to machine precision
        p = torch.sigmoid(x @ w)
        grad = x.T @ (p - y) / len(y) + lam * w
        hess = (x.T * (p * (1 - p))) @ x / len(y) + lam * torch.eye(len(w), dtype=x.dtype)
        w = w - torch.linalg.solve(hess, grad)
    return w


def test_ift_matches_finite_differences_on_logistic() -> None:
    x, y, xv, yv = _data(torch.float64, n=60, d=4, seed=1)
    yb, yvb = (y > 0).to(x.dtype), (yv > 0).to(x.dtype)
    log_lam0 = math.log(0.1)
    h = torch.tensor(log_lam0, dtype=torch.float64, requires_grad=True)

    def train(p):
        w = p["w"]
        return F.binary_cross_entropy_with_logits(x @ w, yb) + 0.5 * h.exp() * (w**2).sum()

    def val(p):
        return F.binary_cross_entropy_with_logits(xv @ p["w"], yvb)

    w = _logistic_solve(x, yb, math.exp(log_lam0))
    (hg,) = ift_hypergradient(train, val, {"w": w}, [h], neumann_steps=2000)

    def f(log_lam: float) -> float:
        return float(val({"w": _logistic_solve(x, yb, math.exp(log_lam))}))

    eps = 1e-5
    fd = (f(log_lam0 + eps) - f(log_lam0 - eps)) / (2 * eps)
    assert abs(float(hg) - fd) <= 1e-4 * abs(fd)


def test_neumann_series_inverts_a_known_hessian() -> None:
    a = torch.tensor([[2.0, 0.5], [0.5, 1.0]], dtype=torch.float64)
    w = torch.zeros(2, dtype=torch.float64, requires_grad=True)
    loss = 0.5 * w @ a @ w
    (g,) = torch.autograd.grad(loss, [w], create_graph=True)
    v = torch.tensor([1.0, -1.0], dtype=torch.float64)
    (approx,) = neumann_inverse_hvp([g], [w], [v], steps=500)
    assert torch.allclose(approx, torch.linalg.solve(a, v), atol=1e-10)


def _mlp(dtype: torch.dtype) -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(InputNoise(0.3), nn.Linear(6, 8), nn.Tanh(), nn.Linear(8, 3)).to(dtype)


def _eval_loss(model: nn.Module, p, xv: Tensor, yv: Tensor) -> Tensor:
    # The validation loss runs the model in eval mode: the noise layer is the identity.
    model.eval()
    out = torch.func.functional_call(model, dict(p), (xv,), strict=False)
    model.train()
    return F.cross_entropy(out, yv)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_t1t2_matches_autograd_through_one_unrolled_step(dtype: torch.dtype) -> None:
    model = _mlp(dtype)
    wd = WeightDecay(model, 1e-2, per_layer=True)
    noise = model[0]
    g = torch.Generator().manual_seed(1)
    x, xv = (
        torch.randn(16, 6, generator=g, dtype=dtype),
        torch.randn(16, 6, generator=g, dtype=dtype),
    )
    y, yv = torch.randint(0, 3, (16,), generator=g), torch.randint(0, 3, (16,), generator=g)
    weights = {n: p for n, p in model.named_parameters() if not n.startswith("0.")}
    hparams = [*wd.hyperparameters().values(), noise.log_sigma]
    lr = 0.3

    model.train()
    torch.manual_seed(5)
    res = t1t2_hypergradient(
        module_loss(model, F.cross_entropy, x, y, wd.penalty),
        lambda p: _eval_loss(model, p, xv, yv),
        weights,
        hparams,
        lr,
    )

    # Reference: build theta' = theta - lr * grad with create_graph and backprop L_V(theta').
    torch.manual_seed(5)
    loss = module_loss(model, F.cross_entropy, x, y, wd.penalty)(weights)
    grads = torch.autograd.grad(loss, list(weights.values()), create_graph=True)
    new = {n: p - lr * gr for (n, p), gr in zip(weights.items(), grads)}
    vloss = _eval_loss(model, new, xv, yv)
    ref = torch.autograd.grad(vloss, hparams)
    tol = 1e-10 if dtype == torch.float64 else 1e-5
    for a, b in zip(res.hypergrads, ref):
        assert a.dtype == dtype
        assert torch.allclose(a, b, atol=tol, rtol=tol)
    assert all(float(r.abs()) > 0 for r in ref)
    assert float(res.val_loss) == pytest.approx(float(vloss.detach()), rel=tol)
    for n, p in new.items():
        assert torch.allclose(res.new_params[n], p.detach(), atol=tol)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_ift_runs_in_both_precisions(dtype: torch.dtype) -> None:
    x, y, xv, yv = _data(dtype)
    h = torch.tensor(math.log(0.3), dtype=dtype, requires_grad=True)
    train, val = _ridge_losses(x, y, xv, yv, h)
    w = _ridge_solution(x, y, 0.3)
    (hg,) = ift_hypergradient(train, val, {"w": w}, [h], neumann_steps=300)
    assert hg.dtype == dtype
    x64 = [t.double() for t in (x, y, xv, yv)]
    h64 = torch.tensor(math.log(0.3), dtype=torch.float64, requires_grad=True)
    train64, val64 = _ridge_losses(*x64, h64)
    (ref,) = ift_hypergradient(
        train64, val64, {"w": _ridge_solution(x64[0], x64[1], 0.3)}, [h64], neumann_steps=300
    )
    assert float(hg) == pytest.approx(float(ref), rel=1e-3)


def test_bad_input_errors() -> None:
    x, y, xv, yv = _data(torch.float64)
    h = torch.tensor(0.0, dtype=torch.float64, requires_grad=True)
    train, val = _ridge_losses(x, y, xv, yv, h)
    w = {"w": torch.zeros(5, dtype=torch.float64)}
    with pytest.raises(InputError, match=r"-0\.1"):
        t1t2_hypergradient(train, val, w, [h], -0.1)
    with pytest.raises(ValueError, match="empty"):
        t1t2_hypergradient(train, val, w, [], 0.1)
    with pytest.raises(InputError, match=r"-3"):
        ift_hypergradient(train, val, w, [h], neumann_steps=-3)
    with pytest.raises(InputError, match="does not require grad"):
        ift_hypergradient(train, val, w, [h.detach()])
    with pytest.raises(InputError, match=r"0\.0"):
        ift_hypergradient(train, val, w, [h], alpha=0.0)


def test_ift_on_a_loss_linear_in_the_weights_is_named_not_an_autograd_error() -> None:
    h = torch.tensor(0.5, dtype=torch.float64, requires_grad=True)
    w = {"w": torch.zeros(3, dtype=torch.float64)}
    train = lambda p: (p["w"] * h).sum()  # noqa: E731
    val = lambda p: p["w"].sum()  # noqa: E731
    for alpha in (None, 0.1):
        with pytest.raises(InputError, match="linear in the weights"):
            ift_hypergradient(train, val, w, [h], alpha=alpha)
    constant = lambda p: (2 * p["w"]).sum() + h**2  # noqa: E731  (a gradient free of w and h)
    with pytest.raises(InputError, match="linear in the weights"):
        ift_hypergradient(constant, val, w, [h])
