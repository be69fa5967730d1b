from __future__ import annotations

import io
from typing import Any

import numpy as np
import pytest
import torch
from sklearn.datasets import load_digits
from torch import Tensor

from hyperlab.errors import InputError, InputTypeError
from hyperlab.hypergrad.relax import (
    ACTIVATIONS,
    Architecture,
    ArchitectureSearch,
    MixedActivation,
    RelaxedMLP,
)


def _batches(dtype: torch.dtype, n: int = 400, batch: int = 50) -> tuple[list, list]:
    x, y = load_digits(return_X_y=True)
    idx = np.random.default_rng(0).permutation(len(x))[: 2 * n]
    xt = torch.tensor((x[idx] - 8.0) / 8.0, dtype=dtype)
    yt = torch.tensor(y[idx])
    tr = [(xt[i : i + batch], yt[i : i + batch]) for i in range(0, n, batch)]
    va = [(xt[i : i + batch], yt[i : i + batch]) for i in range(n, 2 * n, batch)]
    return tr, va


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_search_discretizes_to_a_valid_architecture(dtype: torch.dtype) -> None:
    torch.manual_seed(0)
    model = RelaxedMLP(64, 10, width=16, max_depth=3).to(dtype)
    search = ArchitectureSearch(model, lr=1e-2, arch_lr=5e-2)
    tr, va = _batches(dtype)
    arch = search.fit(tr, va, epochs=3)
    assert isinstance(arch, Architecture)
    assert 1 <= arch.depth <= 3
    assert all(a in model.acts[0].candidates for a in arch.activations)
    net = arch.build(64, 10, 16).to(dtype)
    out = net(tr[0][0])
    assert out.shape == (50, 10) and out.dtype == dtype
    n_linear = sum(isinstance(m, torch.nn.Linear) for m in net)
    assert n_linear == arch.depth + 1
    # the logits moved away from uniform, and the recorded weights are distributions
    probs = search.history.probabilities
    assert set(probs) == {"layer1", "layer2", "layer3", "depth"}
    assert len(probs["depth"]) == 3 * len(tr)
    for series in probs.values():
        assert all(abs(sum(p) - 1) < 1e-5 for p in series)
    assert max(abs(p - 0.25) for p in probs["layer1"][-1]) > 1e-3
    assert model.discretize() == arch


def test_warmup_holds_the_logits_then_lets_them_move() -> None:
    torch.manual_seed(0)
    model = RelaxedMLP(64, 10, width=8, max_depth=2)
    tr, va = _batches(torch.float32, n=200)
    search = ArchitectureSearch(model, arch_lr=0.1, warmup_steps=len(tr))
    search.fit(tr, va)
    assert all(torch.equal(p, torch.zeros_like(p)) for p in model.arch_parameters())
    search.fit(tr, va)
    assert any(float(p.detach().abs().max()) > 0 for p in model.arch_parameters())


def test_discretize_follows_the_argmax() -> None:
    model = RelaxedMLP(4, 2, width=3, max_depth=3, candidates=["relu", "tanh"])
    with torch.no_grad():
        model.depth_gate.logits.copy_(torch.tensor([0.0, 2.0, 1.0]))
        model.acts[0].logits.copy_(torch.tensor([0.0, 1.0]))
        model.acts[1].logits.copy_(torch.tensor([1.0, 0.0]))
        model.acts[2].logits.copy_(torch.tensor([0.0, 5.0]))
    assert model.discretize() == Architecture(("tanh", "relu"))
    assert str(model.discretize()) == "tanh-relu"


def test_mixture_with_one_hot_logits_is_that_activation() -> None:
    mix = MixedActivation(["relu", "tanh"], temperature=1e-3)
    with torch.no_grad():
        mix.logits.copy_(torch.tensor([0.0, 1.0]))
    x = torch.randn(5, 3, dtype=torch.float64)
    assert torch.allclose(mix.double()(x), torch.tanh(x))
    gumbel = MixedActivation(list(ACTIVATIONS), gumbel=True)
    torch.manual_seed(0)
    w1 = gumbel.weights()
    w2 = gumbel.weights()
    assert not torch.allclose(w1, w2)  # sampled in training mode
    gumbel.eval()
    assert torch.allclose(gumbel.weights(), torch.full((5,), 0.2))


def test_bad_input_errors() -> None:
    with pytest.raises(InputError, match="'swish'"):
        MixedActivation(["relu", "swish"])
    with pytest.raises(InputError, match="max_depth"):
        RelaxedMLP(4, 2, max_depth=0)
    with pytest.raises(InputError, match="'elu'"):
        Architecture(("elu",)).build(4, 2, 3)
    model = RelaxedMLP(4, 2, width=3)
    with pytest.raises(InputError, match="arch_lr"):
        ArchitectureSearch(model, arch_lr=-1.0)
    with pytest.raises(InputError, match="warmup_steps"):
        ArchitectureSearch(model, warmup_steps=-1)
    with pytest.raises(InputError, match=r"weight_decay.*inf"):
        ArchitectureSearch(model, weight_decay=float("inf"))
    x: Tensor = torch.randn(8, 4)
    y = torch.randint(0, 2, (8,))
    with pytest.raises(InputError, match="validation data"):
        ArchitectureSearch(model).fit([(x, y)], [])


def _search(seed: int = 0, **kwargs: Any) -> ArchitectureSearch:
    torch.manual_seed(seed)
    options = {"width": 8, "max_depth": 3, "gumbel": True, **kwargs}
    model = RelaxedMLP(64, 10, **options).double()
    return ArchitectureSearch(model, lr=1e-2, arch_lr=5e-2, warmup_steps=3)


def _saved(obj: Any) -> Any:
    """``obj`` through torch.save and torch.load(weights_only=True), as a checkpoint file."""
    buffer = io.BytesIO()
    torch.save(obj, buffer)
    buffer.seek(0)
    return torch.load(buffer, weights_only=True)


def test_a_search_saved_with_torch_save_resumes_the_same_search_bit_for_bit() -> None:
    """There was no state to save: a search could not be checkpointed and resumed. Saved
    after 4 steps, one past its warm-up of 3, it resumes with the step count (a fresh count
    would warm up again), the weights, the logits, both Adam states and the history."""
    tr, va = _batches(torch.float64, n=160, batch=20)
    whole = _search()
    whole.fit(tr[:4], va)
    arch = whole.fit(tr, va, epochs=2)

    first = _search()
    first.fit(tr[:4], va)
    state, rng = _saved([first.state_dict(), torch.get_rng_state()])
    resumed = _search(seed=9)
    resumed.load_state_dict(state)
    torch.set_rng_state(rng)
    assert resumed.fit(tr, va, epochs=2) == arch

    assert resumed.history == whole.history
    ours, theirs = resumed.model.state_dict(), whole.model.state_dict()
    assert all(torch.equal(ours[k], theirs[k]) for k in theirs)
    moments = [s.state_dict()["arch_opt"]["state"][0]["exp_avg"] for s in (resumed, whole)]
    assert moments[0].equal(moments[1])


def test_a_state_of_another_search_is_refused_by_what_differs() -> None:
    search = _search()
    logits = [p.detach().clone() for p in search.model.arch_parameters()]
    with pytest.raises(InputError, match=r"missing: linears\.2\.weight"):
        search.load_state_dict(_search(max_depth=2).state_dict())
    other = _search(candidates=("relu", "tanh", "sigmoid", "identity")).state_dict()
    with pytest.raises(InputError, match=r"choose among \[\['relu', 'tanh', 'sigmoid'"):
        search.load_state_dict(other)  # the same shapes: the logits would weigh other options
    with pytest.raises(InputTypeError, match=r"ArchitectureSearch\.state_dict\(\)"):
        search.load_state_dict({"step": 3})
    assert all(torch.equal(a, b) for a, b in zip(logits, search.model.arch_parameters()))
