from __future__ import annotations

import copy
import io
import re
from typing import Any

import numpy as np
import pytest
import torch
from sklearn.datasets import load_digits

from hyperlab.errors import InputError, InputTypeError
from hyperlab.hypergrad.stn import SelfTuningMLP, STNHistory, StnLinear, STNTrainer


def _batches(dtype: torch.dtype, n: int = 320, batch: int = 32) -> tuple[list, list]:
    x, y = load_digits(return_X_y=True)
    idx = np.random.default_rng(0).permutation(len(x))[: 2 * n]
    xt = torch.tensor((x[idx] - 8.0) / 8.0, dtype=dtype)
    yt = torch.tensor(y[idx])
    tr = [(xt[i : i + batch], yt[i : i + batch]) for i in range(0, n, batch)]
    va = [(xt[i : i + batch], yt[i : i + batch]) for i in range(n, 2 * n, batch)]
    return tr, va


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_stn_produces_a_schedule_and_its_hyperparameters_move(dtype: torch.dtype) -> None:
    torch.manual_seed(0)
    model = SelfTuningMLP(64, 10, width=32, depth=2, dropout=0.2, weight_decay=1e-3).to(dtype)
    trainer = STNTrainer(model, hyper_lr=0.05, train_steps=2)
    tr, va = _batches(dtype)
    hist = trainer.fit(tr, va, epochs=4)
    assert hist.step == list(range(2, 4 * len(tr) + 1, 2))  # one hyper step per 2 weight steps
    for name in ("dropout", "weight_decay"):
        series = hist.values[name]
        assert len(series) == len(hist.step)
        assert abs(series[-1] - series[0]) > 1e-3 * series[0]  # it moved
    assert all(0.0 < p < 0.95 for p in hist.values["dropout"])
    assert all(lam > 0 for lam in hist.values["weight_decay"])
    assert model.values()["dropout"] == pytest.approx(hist.values["dropout"][-1])
    assert model.hyper.dtype == dtype
    # the response weights learned something: the output depends on h
    model.eval()
    x = tr[0][0]
    shifted = model.hyper.detach() + torch.tensor([1.0, 1.0], dtype=dtype)
    assert not torch.allclose(model(x), model(x, shifted))


def test_tune_subset_keeps_the_other_fixed() -> None:
    torch.manual_seed(0)
    model = SelfTuningMLP(64, 10, width=16, depth=1, dropout=0.3, weight_decay=1e-3)
    trainer = STNTrainer(model, tune=["dropout"], hyper_lr=0.1, train_steps=1)
    tr, va = _batches(torch.float32, n=128)
    hist = trainer.fit(tr, va, epochs=2)
    assert hist.values["weight_decay"][-1] == pytest.approx(1e-3, rel=1e-6)
    assert hist.values["dropout"][-1] != pytest.approx(0.3, rel=1e-3)


def test_stn_layer_is_elementary_at_the_origin() -> None:
    layer = StnLinear(3, 2, 2).double()
    with torch.no_grad():
        layer.response.weight.normal_()
    x = torch.randn(4, 3, dtype=torch.float64)
    assert torch.allclose(layer(x, torch.zeros(2, dtype=torch.float64)), layer.elem(x))
    h = torch.randn(4, 2, dtype=torch.float64)
    expected = layer.elem(x) + (h @ layer.response.weight.T) * (x @ layer.hyper.weight.T)
    assert torch.allclose(layer(x, h), expected)


def test_bad_input_errors() -> None:
    with pytest.raises(InputError, match=r"1\.2"):
        SelfTuningMLP(4, 2, dropout=1.2)
    with pytest.raises(InputError, match=r"-1e-05"):
        SelfTuningMLP(4, 2, weight_decay=-1e-5)
    model = SelfTuningMLP(4, 2, width=3)
    with pytest.raises(InputError, match=r"-0\.1"):
        STNTrainer(model, hyper_lr=-0.1)
    with pytest.raises(InputError, match="'momentum'"):
        STNTrainer(model, tune=["momentum"])
    x, y = torch.randn(8, 4), torch.randint(0, 2, (8,))
    with pytest.raises(InputError, match="validation data"):
        STNTrainer(model).fit([(x, y)], [])


def test_nothing_to_tune_and_non_finite_or_bool_settings_are_refused() -> None:
    model = SelfTuningMLP(4, 2, width=3)
    with pytest.raises(InputError, match="nothing to tune"):
        STNTrainer(model, tune=[])
    with pytest.raises(InputError, match="perturbation must be a finite number >= 0, got inf"):
        STNTrainer(model, perturbation=float("inf"))
    with pytest.raises(InputError, match="weight_decay must be a positive finite number, got inf"):
        SelfTuningMLP(4, 2, weight_decay=float("inf"))
    with pytest.raises(InputTypeError, match="lr must be a number, got True"):
        STNTrainer(model, lr=True)
    with pytest.raises(InputTypeError, match="criterion must be a loss function"):
        STNTrainer(model, "cross_entropy")  # type: ignore[arg-type]


def test_the_weight_step_builds_its_noise_on_the_models_device() -> None:
    """No GPU here: the 'meta' device stands in for one. The step gets as far as reading the
    loss (which a meta tensor cannot give), so every tensor it built was on the model's device."""
    model = SelfTuningMLP(4, 2, width=8).to("meta")
    x = torch.empty(8, 4, device="meta")
    y = torch.zeros(8, dtype=torch.long, device="meta")
    with pytest.raises(RuntimeError, match="meta tensors"):
        STNTrainer(model).fit([(x, y)], [(x, y)])


def _stn(width: int = 16, seed: int = 0, **kwargs: Any) -> STNTrainer:
    torch.manual_seed(seed)
    model = SelfTuningMLP(64, 10, width=width, depth=2, dropout=0.2, weight_decay=1e-3)
    return STNTrainer(model.double(), hyper_lr=0.05, train_steps=3, **kwargs)


def _saved(obj: Any) -> Any:
    """``obj`` through torch.save and torch.load(weights_only=True), as a checkpoint file."""
    buffer = io.BytesIO()
    torch.save(obj, buffer)
    buffer.seek(0)
    return torch.load(buffer, weights_only=True)


def test_a_trainer_saved_with_torch_save_resumes_the_same_run_bit_for_bit() -> None:
    """There was no state to save: a run could not be checkpointed and resumed. The step
    count (4 steps of 10 per pass: the phase of train_steps=3) is restored with the model,
    both Adam states and the history."""
    tr, va = _batches(torch.float64, n=160, batch=16)
    whole = _stn()
    whole.fit(tr[:4], va)
    whole.fit(tr, va, epochs=2)

    first = _stn()
    first.fit(tr[:4], va)
    state, rng = _saved([first.state_dict(), torch.get_rng_state()])
    resumed = _stn(seed=7)  # other starting weights: the state replaces them
    resumed.load_state_dict(state)
    torch.set_rng_state(rng)
    resumed.fit(tr, va, epochs=2)

    assert resumed.history == whole.history
    assert len(resumed.history.step) == (4 + 20) // 3
    ours, theirs = resumed.model.state_dict(), whole.model.state_dict()
    assert all(torch.equal(ours[k], theirs[k]) for k in theirs)
    assert _saved(resumed.state_dict())["weight_opt"]["state"][0]["exp_avg"].equal(
        whole.state_dict()["weight_opt"]["state"][0]["exp_avg"]
    )


def test_a_state_is_a_snapshot_that_training_on_does_not_change() -> None:
    tr, va = _batches(torch.float64, n=64, batch=16)
    trainer = _stn()
    trainer.fit(tr, va)
    state = trainer.state_dict()
    hyper = state["model"]["hyper"].clone()
    moment = state["hyper_opt"]["state"][0]["exp_avg"].clone()
    trainer.fit(tr, va)
    assert state["model"]["hyper"].equal(hyper)
    assert state["hyper_opt"]["state"][0]["exp_avg"].equal(moment)


def test_a_state_that_is_not_this_trainers_is_refused_by_what_differs() -> None:
    from hyperlab.hypergrad.relax import ArchitectureSearch, RelaxedMLP

    tr, va = _batches(torch.float64, n=64, batch=16)
    saved = _stn()
    saved.fit(tr, va)
    state = saved.state_dict()
    trainer = _stn(seed=3)
    before = {k: v.clone() for k, v in trainer.model.state_dict().items()}
    search = ArchitectureSearch(RelaxedMLP(4, 2))
    with pytest.raises(
        InputTypeError, match=r"saved by ArchitectureSearch\.state_dict\(\), not by STNTrainer"
    ):
        trainer.load_state_dict(search.state_dict())
    with pytest.raises(
        InputTypeError, match=r"saved by STNTrainer\.state_dict\(\), not by ArchitectureSearch"
    ):
        search.load_state_dict(state)
    with pytest.raises(InputTypeError, match=r"lacks \['history'\]"):
        trainer.load_state_dict({k: v for k, v in state.items() if k != "history"})
    with pytest.raises(InputTypeError, match="got list"):
        trainer.load_state_dict([state])  # type: ignore[arg-type]
    with pytest.raises(InputError, match=r"layers\.0\.elem\.weight \(32, 64\) vs \(16, 64\)"):
        trainer.load_state_dict(_stn(width=32).state_dict())
    with pytest.raises(InputError, match=r"it tunes \['dropout'\], this trainer tunes"):
        trainer.load_state_dict(_stn(tune=["dropout"]).state_dict())
    with pytest.raises(InputError, match="step must be an integer >= 0, got -1"):
        trainer.load_state_dict({**state, "step": -1})
    odd = copy.deepcopy(state)
    odd["weight_opt"]["state"][0]["exp_avg"] = torch.zeros(3)
    with pytest.raises(InputError, match=r"weight_opt's 'exp_avg' of parameter 0 has shape \(3,\)"):
        trainer.load_state_dict(odd)
    with pytest.raises(InputError, match="history must have the fields"):
        trainer.load_state_dict({**state, "history": {"step": []}})
    after = trainer.model.state_dict()
    assert all(torch.equal(after[k], v) for k, v in before.items())
    assert trainer.history == STNHistory() and trainer.state_dict()["step"] == 0


@pytest.mark.parametrize(
    ("where", "odd", "message"),
    [
        (("history", "step"), 3, "history's 'step' must be a list (one entry per step), got int"),
        (("history", "values"), [0.1], "history's 'values' must be a mapping of lists by name"),
        (("weight_opt", "state", 0), 5, "weight_opt's state of parameter 0 must be a mapping"),
        (("weight_opt", "state", 0, "exp_avg"), 0.0, "'exp_avg' of parameter 0 must be a tensor"),
        (("weight_opt", "state", 0, "exp_avg"), torch.tensor(0.0), "'exp_avg' of parameter 0 has"),
        (("weight_opt", "state", 0, "step"), "2", "'step' of parameter 0 must be a count"),
        (("hyper_opt", "param_groups", 0, "params"), 0, "param groups of [-1] parameters (-1: not"),
    ],
)
def test_a_state_whose_history_or_optimizer_entries_are_odd_is_refused_by_name(
    where: tuple[Any, ...], odd: Any, message: str
) -> None:
    """These loaded without a word, and the next fit failed deep inside (an int has no append,
    a float no lerp_), or the check itself failed (len of an int) or named a known parameter
    'unknown'."""
    tr, va = _batches(torch.float64, n=64, batch=16)
    saved = _stn()
    saved.fit(tr, va)
    state = copy.deepcopy(saved.state_dict())
    inner = state
    for key in where[:-1]:
        inner = inner[key]
    inner[where[-1]] = odd
    trainer = _stn(seed=3)
    before = {k: v.clone() for k, v in trainer.model.state_dict().items()}
    with pytest.raises(InputError, match=re.escape(message)):
        trainer.load_state_dict(state)
    after = trainer.model.state_dict()
    assert all(torch.equal(after[k], v) for k, v in before.items())
