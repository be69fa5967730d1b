from __future__ import annotations

import itertools
import re
from typing import Any

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from sklearn.datasets import load_digits
from torch import Tensor, nn

from hyperlab.errors import InputError, InputTypeError
from hyperlab.hypergrad.regularizers import ConcreteDropout, InputNoise, WeightDecay
from hyperlab.hypergrad.trainer import HyperTrainer


def _digits(dtype: torch.dtype, n_train: int = 80, n_val: int = 300) -> tuple[Tensor, ...]:
    x, y = load_digits(return_X_y=True)
    idx = np.random.default_rng(0).permutation(len(x))
    tr, va = idx[:n_train], idx[n_train : n_train + n_val]
    mu, sd = x[tr].mean(0), x[tr].std(0) + 1.0
    xt = torch.tensor((x - mu) / sd, dtype=dtype)
    yt = torch.tensor(y)
    return xt[tr], yt[tr], xt[va], yt[va]


def _run(method: str, dtype: torch.dtype, steps: int = 150) -> tuple[HyperTrainer, float]:
    x, y, xv, yv = _digits(dtype)
    torch.manual_seed(0)
    model = nn.Linear(64, 10).to(dtype)
    wd = WeightDecay(model, 1e-2)
    every = 10 if method == "ift" else 1
    trainer = HyperTrainer(
        model, F.cross_entropy, [wd], method=method, lr=1.0, hyper_lr=0.05, hyper_every=every
    )
    trainer.fit([(x, y)] * steps, [(xv, yv)])
    return trainer, trainer.values()["weight_decay"]


@pytest.mark.slow
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_train_objective_collapses_lambda_but_validation_does_not(dtype: torch.dtype) -> None:
    naive, lam_train = _run("train", dtype)
    _, lam_t1t2 = _run("t1t2", dtype)
    _, lam_ift = _run("ift", dtype)
    assert lam_train < 1e-2 / 30  # fell by more than 30x in 150 steps, and still falling
    traj = naive.history.values["weight_decay"]
    assert all(b <= a for a, b in itertools.pairwise(traj))  # d(train loss)/d lambda >= 0 always
    assert all(h >= 0 for h in naive.history.hypergrads["weight_decay"])
    for lam in (lam_t1t2, lam_ift):
        assert 1e-4 < lam < 1e-1  # settles at an interior value (grid optimum is ~1e-3)
    assert naive.history.step == list(range(1, 151))


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_history_and_dtypes(dtype: torch.dtype) -> None:
    x, y, xv, yv = _digits(dtype, n_train=40, n_val=40)
    torch.manual_seed(0)
    model = nn.Sequential(InputNoise(0.1), nn.Linear(64, 16), nn.ReLU(), nn.Linear(16, 10))
    model = model.to(dtype)
    wd = WeightDecay(model, 1e-3, per_layer=True)
    trainer = HyperTrainer(model, F.cross_entropy, [wd], lr=0.1, hyper_lr=0.1, hyper_every=2)
    hist = trainer.fit([(x[:20], y[:20]), (x[20:], y[20:])], [(xv, yv)], epochs=3)
    assert hist.step == [2, 4, 6]
    assert set(hist.values) == {"input_noise", "weight_decay[1]", "weight_decay[3]"}
    assert all(len(v) == 3 for v in hist.values.values())
    moved = [v[-1] != pytest.approx(v[0], rel=1e-9) for v in hist.values.values()]
    assert all(moved)
    assert all(p.dtype == dtype for p in model.parameters())
    assert np.isfinite(trainer.evaluate([(xv, yv)]))
    assert trainer.history.as_dict()["step"] == [2, 4, 6]


def test_tune_subset_keeps_others_fixed() -> None:
    x, y, xv, yv = _digits(torch.float32, n_train=40, n_val=40)
    model = nn.Sequential(InputNoise(0.2), nn.Linear(64, 10))
    wd = WeightDecay(model, 1e-3)
    trainer = HyperTrainer(model, F.cross_entropy, [wd], method="ift", tune=["weight_decay"])
    trainer.fit([(x, y)] * 3, [(xv, yv)])
    assert trainer.values()["input_noise"] == pytest.approx(0.2)
    assert trainer.values()["weight_decay"] != pytest.approx(1e-3)


@pytest.mark.parametrize("method", ["train", "t1t2"])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_concrete_dropout_rate_stays_in_unit_interval(method: str, dtype: torch.dtype) -> None:
    x, y, xv, yv = _digits(dtype, n_train=40, n_val=40)
    torch.manual_seed(0)
    drop = ConcreteDropout(0.5)
    model = nn.Sequential(nn.Linear(64, 32), nn.ReLU(), drop, nn.Linear(32, 10)).to(dtype)
    # A huge hyper rate slams the logit against the edges of its range.
    trainer = HyperTrainer(model, F.cross_entropy, method=method, lr=0.1, hyper_lr=5.0)
    trainer.fit([(x, y)] * 40, [(xv, yv)])
    rates = trainer.history.values["dropout"]
    assert all(0.0 < r < 1.0 for r in rates)
    assert 0.0 < float(drop.rate().detach()) < 1.0
    assert max(abs(r - 0.5) for r in rates) > 0.4  # it did move, to an edge


def test_concrete_dropout_drops_in_training_only() -> None:
    drop = ConcreteDropout(0.5, temperature=0.01)
    x = torch.ones(2000)
    torch.manual_seed(0)
    out = drop(x).detach()
    assert 0.4 < float((out < 0.5).double().mean()) < 0.6  # about half the units dropped
    assert float(out.mean()) == pytest.approx(1.0, abs=0.1)  # rescaled by 1 / (1 - p)
    drop.eval()
    assert torch.equal(drop(x), x)


def test_bad_input_errors() -> None:
    model = nn.Linear(4, 2)
    wd = WeightDecay(model)
    x, y = torch.randn(8, 4), torch.randint(0, 2, (8,))
    with pytest.raises(InputError, match=r"-0\.5"):
        HyperTrainer(model, F.cross_entropy, [wd], lr=-0.5)
    with pytest.raises(InputError, match=r"-1"):
        HyperTrainer(model, F.cross_entropy, [wd], hyper_lr=-1)
    with pytest.raises(InputError, match="'dropout'"):
        HyperTrainer(model, F.cross_entropy, [wd], tune=["dropout"])
    with pytest.raises(InputError, match="'newton'"):
        HyperTrainer(model, F.cross_entropy, [wd], method="newton")
    trainer = HyperTrainer(model, F.cross_entropy, [wd])
    with pytest.raises(InputError, match="validation data"):
        trainer.fit([(x, y)], [])
    with pytest.raises(InputError, match="epochs"):
        trainer.fit([(x, y)], [(x, y)], epochs=0)
    with pytest.raises(InputError, match=r"-0\.001"):
        WeightDecay(model, -0.001)
    with pytest.raises(InputError, match=r"1\.5"):
        ConcreteDropout(1.5)
    # the series settings are checked when the trainer is made, not at its first hyper step
    with pytest.raises(InputError, match=r"neumann_steps.*-1"):
        HyperTrainer(model, F.cross_entropy, [wd], method="ift", neumann_steps=-1)
    with pytest.raises(InputError, match=r"alpha.*-2"):
        HyperTrainer(model, F.cross_entropy, [wd], method="ift", neumann_alpha=-2.0)


def test_tune_takes_one_name_as_text_and_nothing_to_tune_is_named() -> None:
    import torch.nn.functional as F

    from hyperlab.hypergrad import HyperTrainer, WeightDecay

    m = torch.nn.Linear(5, 3)
    trainer = HyperTrainer(m, F.cross_entropy, [WeightDecay(m)], tune="weight_decay")
    assert trainer.tune == ["weight_decay"]
    with pytest.raises(InputError, match="nothing to tune"):
        HyperTrainer(m, F.cross_entropy)
    with pytest.raises(InputError, match="nothing to tune"):
        HyperTrainer(m, F.cross_entropy, [WeightDecay(m)], tune=[])


class _WithDecayInside(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3))
        self.wd = WeightDecay(self.body, init=0.1)

    def forward(self, x: Tensor) -> Tensor:
        return self.body(x)


def test_a_penalty_inside_the_model_is_refused_not_tuned_without_effect() -> None:
    """Its penalty would never reach the loss: a hypergradient of exactly 0, forever."""
    net = _WithDecayInside()
    with pytest.raises(
        InputError, match=r"WeightDecay at 'wd' inside the model .*\[WeightDecay\(model\)\]"
    ):
        HyperTrainer(net, F.cross_entropy)
    with pytest.raises(
        InputError, match=r"cannot be applied to model _WithDecayInside.*body\.0\.weight"
    ):
        HyperTrainer(net, F.cross_entropy, [net.wd])  # names relative to the submodule


def test_weight_decay_of_a_model_with_frozen_layers_trains() -> None:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3))
    model[0].requires_grad_(False)  # fine-tuning the top layer
    frozen = model[0].weight.detach().clone()
    wd = WeightDecay(model, init=0.1)
    trainer = HyperTrainer(model, F.cross_entropy, [wd], lr=0.1, hyper_lr=0.1)
    x, y = torch.randn(40, 4), torch.randint(0, 3, (40,))
    trainer.fit([(x[:20], y[:20])] * 3, [(x[20:], y[20:])], epochs=2)
    assert torch.equal(model[0].weight, frozen)
    assert wd.values()["weight_decay"] != pytest.approx(0.1)  # tuned, as without the frozen layer


def test_a_non_finite_hypergradient_is_skipped_with_one_warning() -> None:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), ConcreteDropout(0.2), nn.Linear(8, 1))
    trainer = HyperTrainer(model, nn.MSELoss(), [WeightDecay(model)])
    x, y = torch.randn(16, 4), torch.randn(16, 1)
    bad = x.clone()
    bad[0, 0] = float("nan")
    with pytest.warns(RuntimeWarning, match=r"of \['dropout', 'weight_decay'\]") as record:
        trainer.fit([(x, y)] * 2, [(bad, y)])
    assert len(record) == 1 and record[0].filename == __file__  # two skips, one warning
    assert trainer.values() == pytest.approx({"dropout": 0.2, "weight_decay": 1e-3})
    trainer.fit([(x, y)] * 3, [(x, y)])
    values = trainer.values()
    assert all(np.isfinite(v) for v in values.values())
    assert values["dropout"] != pytest.approx(0.2, abs=1e-6)  # later steps still tune


def _small() -> tuple[HyperTrainer, list[tuple[Tensor, Tensor]]]:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 8), ConcreteDropout(0.2), nn.Linear(8, 1))
    x, y = torch.randn(64, 4), torch.randn(64, 1)
    return HyperTrainer(model, nn.MSELoss()), [(x[i : i + 16], y[i : i + 16]) for i in (0, 16)]


def test_data_read_more_than_once_must_be_re_iterable() -> None:
    """A validation generator lost its first batch to a check, then was said to yield none;
    an endless one (``itertools.cycle``) must work, a finite one that runs out is named."""
    import itertools

    trainer, batches = _small()
    with pytest.raises(InputError, match=r"validation data .* ran out: a one-shot iterator"):
        trainer.fit(batches * 2, (b for b in batches))  # 4 steps, 2 validation batches
    trainer, batches = _small()
    trainer.fit(batches * 3, itertools.cycle(batches))
    assert trainer.history.step == [1, 2, 3, 4, 5, 6]
    trainer, batches = _small()
    with pytest.raises(InputTypeError, match="training data for 2 epochs must be re-iterable"):
        trainer.fit((b for b in batches), batches, epochs=2)
    assert trainer.history.step == []  # refused before any step
    trainer.fit((b for b in batches), batches)  # one pass reads a generator once
    assert trainer.history.step == [1, 2]


def _resumable(tune: str | None = None) -> tuple[nn.Module, HyperTrainer]:
    torch.manual_seed(0)
    model = nn.Sequential(InputNoise(0.05), nn.Linear(5, 16), nn.ReLU(), nn.Linear(16, 3))
    trainer = HyperTrainer(
        model, nn.CrossEntropyLoss(), [WeightDecay(model)], hyper_every=3, hyper_lr=0.1, tune=tune
    )
    return model, trainer


def test_a_trainer_saved_with_torch_save_resumes_the_same_run() -> None:
    """There was no state to save: a trainer made afresh lost its step count (the phase of
    hyper_every), its Adam moments, a regularizer's value outside the model and its history."""
    import io

    from torch.utils.data import DataLoader, TensorDataset

    gen = torch.Generator().manual_seed(0)
    x, y = torch.randn(90, 5, generator=gen), torch.randint(0, 3, (90,), generator=gen)
    # (a loader without its own generator draws its seed from the global one, as noise does)
    train = DataLoader(TensorDataset(x[:60], y[:60]), batch_size=12, generator=torch.Generator())
    val = DataLoader(TensorDataset(x[60:], y[60:]), batch_size=30, generator=torch.Generator())
    model, trainer = _resumable()
    trainer.fit(train, val, epochs=2)

    model2, trainer2 = _resumable()
    trainer2.fit(train, val)
    saved = io.BytesIO()
    torch.save([model2.state_dict(), trainer2.state_dict(), torch.get_rng_state()], saved)
    saved.seek(0)
    weights, state, rng = torch.load(saved, weights_only=True)
    model3, trainer3 = _resumable()
    model3.load_state_dict(weights)
    trainer3.load_state_dict(state)
    torch.set_rng_state(rng)
    trainer3.fit(train, val)
    assert trainer3.values() == trainer.values()
    assert trainer3.history.as_dict() == trainer.history.as_dict()
    assert all(torch.equal(a, b) for a, b in zip(model.parameters(), model3.parameters()))


def test_a_state_of_another_trainer_is_refused_and_changes_nothing() -> None:
    _, trainer = _resumable()
    _, other = _resumable(tune="weight_decay")
    before = trainer.values()
    with pytest.raises(InputError, match=r"another trainer.*tuned \['weight_decay'\]"):
        trainer.load_state_dict(other.state_dict())
    with pytest.raises(InputTypeError, match=r"HyperTrainer\.state_dict"):
        trainer.load_state_dict({"step": 3})
    assert trainer.values() == before


def test_the_ift_hypergradient_leaves_batchnorm_statistics_to_the_sgd_step() -> None:
    """The IFT's forward on the training batch updated BatchNorm's running statistics a
    second time per hyper step (num_batches_tracked counted 2 for 1 batch)."""
    torch.manual_seed(0)
    x, y = torch.randn(32, 5), torch.randint(0, 3, (32,))
    model = nn.Sequential(nn.Linear(5, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Linear(8, 3))
    plain = nn.BatchNorm1d(8)
    plain(model[0](x).detach())  # the one update of one training step
    trainer = HyperTrainer(model, nn.CrossEntropyLoss(), [WeightDecay(model)], method="ift")
    trainer.fit([(x, y)], [(x, y)])
    assert int(model[1].num_batches_tracked) == 1
    assert torch.allclose(model[1].running_mean, plain.running_mean)
    assert torch.allclose(model[1].running_var, plain.running_var)


def test_one_batch_in_place_of_a_list_of_batches_is_refused_with_the_fix() -> None:
    trainer, batches = _small()
    with pytest.raises(InputTypeError, match=r"got a tuple of tensors.*\[\(x, y\)\]"):
        trainer.fit(batches, batches[0])
    with pytest.raises(InputTypeError, match="training data must be batches"):
        trainer.fit(3, batches)  # type: ignore[arg-type]


def _linear() -> nn.Module:
    return nn.Linear(4, 2)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda m: HyperTrainer(m, F.cross_entropy, WeightDecay(m)), r"got one WeightDecay.*\["),
        (lambda m: HyperTrainer(m, F.cross_entropy, 3), "regularizers must be a list"),
        (lambda m: HyperTrainer(m, "mse", [WeightDecay(m)]), "criterion must be a loss.*'mse'"),
        (lambda m: HyperTrainer(m, F.cross_entropy, [WeightDecay(m)], tune=5), "got 5"),
        (lambda m: HyperTrainer(m, F.cross_entropy, [WeightDecay(m)], tune=[5]), "got 5 in it"),
        (lambda m: HyperTrainer(m, F.cross_entropy, [WeightDecay(m)], method=["t1t2"]), "method"),
        (lambda m: HyperTrainer(m, F.cross_entropy, [WeightDecay(m)], lr=True), "lr .*True"),
        (lambda m: HyperTrainer(m, F.cross_entropy, [WeightDecay(m)], hyper_every=2.0), "2.0"),
        (lambda m: WeightDecay(None), "WeightDecay needs the model.*None"),
        (lambda m: WeightDecay(m, name=3), "name must be a non-empty string, got 3"),
        (lambda m: WeightDecay(m, init=True), r"init \(weight decay\) must be a number, got True"),
        (lambda m: WeightDecay(m, per_layer="yes"), "per_layer must be True or False"),
        (lambda m: InputNoise(True), r"init \(input noise\) must be a number, got True"),
        (lambda m: ConcreteDropout(True), "dropout rate init must be a number, got True"),
    ],
)
def test_arguments_of_the_wrong_type_are_refused_by_name(call: Any, message: str) -> None:
    with pytest.raises(InputTypeError, match=message):
        call(_linear())


def test_a_criterion_that_does_not_average_is_refused_before_a_step() -> None:
    model = _linear()
    trainer = HyperTrainer(model, nn.CrossEntropyLoss(reduction="none"), [WeightDecay(model)])
    x, y = torch.randn(8, 4), torch.randint(0, 2, (8,))
    before = model.weight.detach().clone()
    with pytest.raises(InputError, match=r"returned shape \(8,\), not a scalar.*reduction='mean'"):
        trainer.fit([(x, y)], [(x, y)])
    assert torch.equal(model.weight, before)


def _self_tuning_trainers(criterion: Any = F.cross_entropy) -> list[Any]:
    """Each of the self-tuning training loops, on a small model for inputs of 4 features."""
    from hyperlab.hypergrad import ArchitectureSearch, RelaxedMLP, SelfTuningMLP, STNTrainer

    linear = _linear()
    return [
        HyperTrainer(linear, criterion, [WeightDecay(linear)]),
        STNTrainer(SelfTuningMLP(4, 2), criterion),
        ArchitectureSearch(RelaxedMLP(4, 2), criterion),
    ]


@pytest.mark.parametrize("index", [1, 2])
def test_every_trainer_refuses_a_criterion_that_does_not_average(index: int) -> None:
    trainer = _self_tuning_trainers(nn.CrossEntropyLoss(reduction="none"))[index]
    x, y = torch.randn(8, 4), torch.randint(0, 2, (8,))
    with pytest.raises(InputError, match=r"returned shape \(8,\), not a scalar"):
        trainer.fit([(x, y)], [(x, y)])


@pytest.mark.parametrize("index", [0, 1, 2])
@pytest.mark.parametrize(
    ("data", "message"),
    [
        (
            lambda x, y: x,
            r"training data must be batches \(x, y\), got one tensor of shape \(8, 4\)",
        ),
        (lambda x, y: [(x, y, y)], r"training data must yield batches .*got a tuple of 3 items"),
        (lambda x, y: [[x]], r"training data must yield batches .*got a list of 1 item: give"),
        (lambda x, y: [{"x": x, "y": y}], r"training data must yield batches .*got dict"),
    ],
)
def test_every_trainer_refuses_data_that_is_not_batches_of_pairs(
    index: int, data: Any, message: str
) -> None:
    trainer = _self_tuning_trainers()[index]
    x, y = torch.randn(8, 4), torch.randint(0, 2, (8,))
    with pytest.raises(InputTypeError, match=message):
        trainer.fit(data(x, y), [(x, y)])
    with pytest.raises(InputTypeError, match=message.replace("training", "validation")):
        trainer.fit([(x, y)], data(x, y))


def test_evaluate_refuses_one_batch_by_name_and_reads_a_generator() -> None:
    torch.manual_seed(0)
    model = nn.Linear(3, 1)
    trainer = HyperTrainer(model, nn.MSELoss(), [WeightDecay(model)])
    x, y = torch.randn(6, 3), torch.randn(6, 1)
    with pytest.raises(InputTypeError, match=r"wrap it in a list, \[\(x, y\)\]"):
        trainer.evaluate((x, y))  # one batch, not a list of batches
    with pytest.raises(InputTypeError, match=r"one tensor of shape \(6, 3\)"):
        trainer.evaluate(x)  # type: ignore[arg-type]
    with pytest.raises(InputTypeError, match=r"must yield batches .*a tuple of 3 items"):
        trainer.evaluate([(x, y, y)])  # type: ignore[list-item]
    whole = trainer.evaluate([(x, y)])
    assert trainer.evaluate(b for b in [(x[:3], y[:3]), (x[3:], y[3:])]) == pytest.approx(whole)


class _WithUnusedHead(nn.Module):
    """A model whose forward skips one of its layers (an auxiliary head)."""

    def __init__(self) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.Linear(3, 4), ConcreteDropout(), nn.Linear(4, 1))
        self.aux = nn.Linear(4, 2)

    def forward(self, x: Tensor) -> Tensor:
        return self.body(x)


@pytest.mark.parametrize("method", ["t1t2", "ift", "train"])
def test_a_weight_the_forward_skips_has_a_zero_gradient(method: str) -> None:
    """torch refused the whole gradient ("appears to not have been used in the graph") from
    deep inside autograd; an unused weight now stays as it is, as torch.optim leaves it."""
    torch.manual_seed(0)
    model = _WithUnusedHead()
    aux = model.aux.weight.detach().clone()
    x, y = torch.randn(16, 3), torch.randn(16, 1)
    data = list(zip(x.split(4), y.split(4)))
    trainer = HyperTrainer(model, nn.MSELoss(), method=method)
    history = trainer.fit(data, data)
    assert len(history.step) == 4 and np.isfinite(history.values["dropout"]).all()
    assert torch.equal(model.aux.weight, aux)


def test_a_loss_linear_in_the_output_gives_a_hypergradient() -> None:
    """The bias's gradient is then a constant (it has no graph): autograd refused the mixed
    derivative ("element 3 of tensors does not require grad")."""
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 4), ConcreteDropout(), nn.Linear(4, 1))
    data = [(torch.randn(4, 3), torch.randn(4, 1))]
    for method in ("t1t2", "ift"):
        trainer = HyperTrainer(
            model, lambda out, y: (out - y).mean(), [WeightDecay(model)], method=method
        )
        assert np.isfinite(trainer.fit(data, data).values["weight_decay"]).all()


def test_the_state_of_another_kind_of_trainer_is_refused_by_its_kind() -> None:
    from hyperlab.hypergrad.stn import SelfTuningMLP, STNTrainer

    _, trainer = _resumable()
    with pytest.raises(InputTypeError, match=r"saved by STNTrainer\.state_dict\(\), not by Hyper"):
        trainer.load_state_dict(STNTrainer(SelfTuningMLP(4, 2)).state_dict())
    assert trainer.state_dict()["trainer"] == "HyperTrainer"


def _fitted() -> HyperTrainer:
    _, trainer = _resumable()
    gen = torch.Generator().manual_seed(1)
    x, y = torch.randn(24, 5, generator=gen), torch.randint(0, 3, (24,), generator=gen)
    trainer.fit([(x[:12], y[:12]), (x[12:], y[12:])], [(x, y)], epochs=2)
    return trainer


def test_a_state_with_a_bad_step_history_or_optimizer_is_refused_and_loads_nothing() -> None:
    """HyperTrainer loaded its optimizer and hyperparameters first, then failed on the
    history (a TypeError from deep inside, with the optimizer already replaced); a step of -1
    was taken as it came, and text failed in int()."""
    import copy

    state = _fitted().state_dict()
    odd_opt = copy.deepcopy(state["hyper_opt"])
    odd_opt["state"][0]["exp_avg"] = 0.0
    cases = [
        ({"step": -1}, "step must be an integer >= 0, got -1"),
        ({"step": "3"}, "step must be an integer >= 0, got '3'"),
        ({"history": {**state["history"], "extra": []}}, "history must have the fields"),
        ({"history": {**state["history"], "step": 4}}, "history's 'step' must be a list"),
        ({"history": {**state["history"], "values": [1.0]}}, "'values' must be a mapping"),
        ({"hyper_opt": odd_opt}, "hyper_opt's 'exp_avg' of parameter 0 must be a tensor"),
    ]
    for change, message in cases:
        _, trainer = _resumable()
        before = copy.deepcopy(trainer._hyper_opt.state_dict())
        values = trainer.values()
        with pytest.raises(InputError, match=re.escape(message)):
            trainer.load_state_dict({**state, **change})
        assert trainer._hyper_opt.state_dict() == before and trainer.values() == values
        assert trainer.state_dict()["step"] == 0


def test_a_state_is_a_snapshot_that_training_on_does_not_change() -> None:
    """The optimizer's moments in a state were the live tensors: a state kept in memory (the
    best so far, say) changed as training went on."""
    trainer = _fitted()
    state = trainer.state_dict()
    moment = state["hyper_opt"]["state"][0]["exp_avg"].clone()
    gen = torch.Generator().manual_seed(2)
    x, y = torch.randn(24, 5, generator=gen), torch.randint(0, 3, (24,), generator=gen)
    trainer.fit([(x, y)] * 3, [(x, y)])
    assert not trainer.state_dict()["hyper_opt"]["state"][0]["exp_avg"].equal(moment)
    assert state["hyper_opt"]["state"][0]["exp_avg"].equal(moment)
