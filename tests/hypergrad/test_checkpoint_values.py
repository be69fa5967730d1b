"""What the optimizers' and the trainers' ``load_state_dict`` refuse inside a state of their
own kind: moments of another model's shapes, history entries that are not numbers, negative
rates; each is refused by name and loads nothing, and what a run can record loads."""

from __future__ import annotations

import copy
import math
import re
import warnings
from collections.abc import Callable
from typing import Any

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from hyperlab.errors import InputError, InputTypeError, with_article
from hyperlab.hypergrad import (
    SGDHD,
    SGDNHD,
    AdamHD,
    HyperTrainer,
    WeightDecay,
    stack,
)
from tests.hypergrad.test_checkpoint import _data, _stepped, _trainers

MAKERS: dict[str, Callable[[Any], torch.optim.Optimizer]] = {
    "SGDHD": lambda ps: SGDHD(ps, lr=0.1, momentum=0.9),
    "SGDNHD": lambda ps: SGDNHD(ps, lr=0.1),
    "AdamHD": lambda ps: AdamHD(ps),
    "stack": lambda ps: stack("adam", "sgd")(ps),
}


@pytest.mark.parametrize("name", list(MAKERS))
def test_an_optimizers_state_of_another_models_shapes_is_refused_by_name(name: str) -> None:
    """A state saved for nn.Linear(4, 2) loaded into an optimizer of nn.Linear(5, 3) (the same
    number of parameters), and its next step failed inside torch: 'inconsistent tensor
    size'."""
    small = nn.Linear(4, 2)
    state = _stepped(MAKERS[name](small.parameters()), small).state_dict()
    big = nn.Linear(5, 3)
    opt = MAKERS[name](big.parameters())
    before = copy.deepcopy(opt.state_dict())
    owner = type(opt).__name__
    message = f"{owner}.load_state_dict: the state's '.+' of parameter 0 has shape (2, 4), the"
    message = re.escape(message).replace(re.escape("'.+'"), "'.+'") + r" parameter \(3, 5\)"
    with pytest.raises(InputError, match=message):
        opt.load_state_dict(state)
    assert opt.state_dict() == before
    F.cross_entropy(big(torch.randn(8, 5)), torch.randint(0, 3, (8,))).backward()
    opt.step()  # (still its own)


def test_an_optimizers_state_with_a_step_of_many_elements_is_refused_by_name() -> None:
    model = nn.Linear(4, 2)
    state = copy.deepcopy(_stepped(AdamHD(model.parameters()), model).state_dict())
    state["state"][1]["step"] = torch.ones(2)
    with pytest.raises(InputError, match="the state's 'step' of parameter 1 must be a count"):
        AdamHD(model.parameters()).load_state_dict(state)


# (optimizer, entry of parameter 0's state, a value that is no tensor, how the message shows it)
NON_TENSORS = [
    ("SGDHD", "momentum_buffer", [[0.0] * 4] * 2, "list [[0.0, 0.0, 0.0, 0.0], [0.0, 0.0,"),
    ("SGDHD", "momentum_buffer", None, "NoneType None"),  # (momentum 0.9: a reset, silently)
    ("SGDHD", "hd_dir", None, "NoneType None"),  # (read as no direction: a step's lost)
    ("SGDNHD", "momentum_buffer", 0.5, "float 0.5"),
    ("AdamHD", "exp_avg", [0.0], "list [0.0]"),
    ("AdamHD", "exp_avg_sq", None, "NoneType None"),
    ("AdamHD", "hd_dir", 1.0, "float 1.0"),
    ("stack", "exp_avg", None, "NoneType None"),
    ("stack", "d_lr", [0.0], "list [0.0]"),
    ("sgd stack", "momentum_buffer", 0.0, "float 0.0"),
]
MAKERS_TOO = {**MAKERS, "sgd stack": lambda ps: stack(("sgd", {"momentum": 0.9}), "sgd")(ps)}


@pytest.mark.parametrize(("name", "entry", "bad", "shown"), NON_TENSORS)
def test_an_optimizers_moment_that_is_not_a_tensor_is_refused_by_name(
    name: str, entry: str, bad: Any, shown: str
) -> None:
    """A moment or buffer given as a list, a number or None loaded, and the next step failed
    inside the optimizer ('list' object has no attribute 'lerp_'), or (None) went on as if
    there were none."""
    model = nn.Linear(4, 2)
    state = copy.deepcopy(_stepped(MAKERS_TOO[name](model.parameters()), model).state_dict())
    assert entry in state["state"][0]
    state["state"][0][entry] = bad
    opt = MAKERS_TOO[name](model.parameters())
    owner = type(opt).__name__
    message = (
        f"{owner}.load_state_dict: the state's {entry!r} of parameter 0 must be a tensor of "
        f"shape (2, 4), got {shown}"
    )
    with pytest.raises(InputError, match=re.escape(message)) as info:
        opt.load_state_dict(state)
    assert str(info.value).endswith("; nothing was loaded")
    assert opt.state_dict()["state"] == {}
    _stepped(opt, model)  # (still its own)


@pytest.mark.parametrize("name", list(MAKERS))
def test_an_optimizers_state_of_a_parameter_that_is_not_a_mapping_is_refused_by_name(
    name: str,
) -> None:
    model = nn.Linear(4, 2)
    state = copy.deepcopy(_stepped(MAKERS[name](model.parameters()), model).state_dict())
    state["state"][1] = list(state["state"][1].values())
    opt = MAKERS[name](model.parameters())
    message = f"{type(opt).__name__}.load_state_dict: the state of parameter 1 must be a mapping"
    with pytest.raises(InputError, match=re.escape(message)):
        opt.load_state_dict(state)
    assert opt.state_dict()["state"] == {}


@pytest.mark.parametrize("make", [torch.optim.SGD, SGDHD])
def test_a_momentum_buffer_of_none_without_momentum_loads_as_older_torch_saved_it(
    make: Callable[..., torch.optim.Optimizer],
) -> None:
    """torch.optim.SGD kept ``momentum_buffer: None`` for every parameter when momentum was 0
    (before it kept none): there is no buffer, and such a state goes on as one without it."""
    torch.manual_seed(0)
    model = nn.Linear(4, 2)
    state = copy.deepcopy(_stepped(make(model.parameters(), lr=0.1), model).state_dict())
    older = copy.deepcopy(state)
    ids = [i for g in older["param_groups"] for i in g["params"]]
    older["state"] = {i: {**older["state"].get(i, {}), "momentum_buffer": None} for i in ids}
    runs = []
    for saved in (state, older):
        twin = copy.deepcopy(model)
        opt = SGDHD(twin.parameters(), lr=0.1)
        opt.load_state_dict(copy.deepcopy(saved))
        _stepped(opt, twin)
        runs.append([p.detach().clone() for p in twin.parameters()])
    assert all(torch.equal(a, b) for a, b in zip(*runs))


# -- the trainers' histories -------------------------------------------------------------------

# (trainer index, path in the history, bad value, how the message names it)
BAD_ENTRIES = [
    (0, ("train_loss", 0), True, "'train_loss'[0] is bool True, not a number"),
    (0, ("values", "weight_decay", 1), "0.1", "'values'['weight_decay'][1] is str '0.1', not a"),
    (0, ("hypergrads", "weight_decay", 0), None, "'hypergrads'['weight_decay'][0] is NoneType"),
    (0, ("step", 1), 2.0, "'step'[1] is float 2.0, not an integer"),
    (1, ("val_loss", 0), "nan", "'val_loss'[0] is str 'nan', not a number"),
    (1, ("values", "dropout", 0), False, "'values'['dropout'][0] is bool False, not a number"),
    (1, ("step", 0), True, "'step'[0] is bool True, not an integer"),
    (2, ("probabilities", "depth", 0, 1), True, "'probabilities'['depth'][0][1] is bool True"),
    (2, ("probabilities", "layer1", 1), 0.5, "'probabilities'['layer1'][1] is float 0.5, not a"),
    (2, ("train_loss", 1), [0.5], "'train_loss'[1] is list [0.5], not a number"),
]


def _fitted(index: int) -> Any:
    trainer = _trainers()[index]
    trainer.fit(_data(), _data())
    return trainer


@pytest.mark.parametrize(("index", "path", "bad", "shown"), BAD_ENTRIES)
def test_a_history_entry_that_is_not_a_number_is_refused_by_name(
    index: int, path: tuple[Any, ...], bad: Any, shown: str
) -> None:
    """Only the fields were checked (lists): a bool or text loaded as a loss, a value or a
    step, to fail or read wrong in the next plot or summary."""
    state = copy.deepcopy(_fitted(index).state_dict())
    inner = state["history"]
    for key in path[:-1]:
        inner = inner[key]
    inner[path[-1]] = bad
    trainer = _trainers()[index]
    kind = type(trainer).__name__
    with pytest.raises(InputError, match=re.escape(f"{kind} state: its history's {shown}")):
        trainer.load_state_dict(state)
    assert trainer.state_dict()["step"] == 0 and not trainer.history.step


def _diverged(index: int, hyper_lr: float | None = None) -> Any:
    """A trainer fitted on NaN inputs (or with a huge ``hyper_lr``): its history holds NaN
    losses, and NaN or infinite values."""
    torch.manual_seed(0)
    data = _data() if hyper_lr else [(torch.full((8, 4), math.nan), _data()[0][1])] * 2
    if index == 0:
        model = nn.Linear(4, 2)
        kwargs = {"hyper_lr": hyper_lr} if hyper_lr else {}
        trainer: Any = HyperTrainer(model, F.cross_entropy, [WeightDecay(model)], **kwargs)
    else:
        trainer = _trainers()[index]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # (the skipped hypergradients)
        trainer.fit(data, data, epochs=2)
    return trainer


@pytest.mark.parametrize("index", [0, 1, 2])
def test_a_diverged_runs_state_with_nan_losses_and_values_loads_back(index: int) -> None:
    """NaN is a number a trainer records: its losses when a run diverges (the values and
    mixture weights stay finite: the trainers skip a non-finite hyper step), and the values
    of a state saved before they did."""
    trainer = _diverged(index)
    history = trainer.state_dict()["history"]
    assert math.isnan(history["val_loss"][-1])
    other = "values" if index < 2 else "probabilities"
    entries = [x for v in history[other].values() for e in v for x in (e if index == 2 else [e])]
    assert entries and all(math.isfinite(x) for x in entries)
    fresh = _trainers()[index]
    fresh.load_state_dict(trainer.state_dict())
    assert repr(fresh.state_dict()["history"]) == repr(history)
    older = copy.deepcopy(trainer.state_dict())
    first = next(iter(older["history"][other].values()))
    first[-1] = [math.nan] * len(first[-1]) if index == 2 else math.nan
    fresh.load_state_dict(older)
    assert repr(fresh.state_dict()["history"]) == repr(older["history"])


def test_a_hypertrainers_state_with_an_overflowed_value_loads_back() -> None:
    """A value in natural units overflows to inf under a huge hyper_lr (exp of its log)."""
    trainer = _diverged(0, hyper_lr=1000.0)
    assert math.isinf(trainer.history.values["weight_decay"][-1])
    fresh = _trainers()[0]
    fresh.load_state_dict(trainer.state_dict())
    assert fresh.history.values == trainer.history.values


# -- negative rates ----------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["SGDHD", "AdamHD", "stack"])
@pytest.mark.parametrize("rate", [-0.5, -1e-300])
def test_a_saved_negative_rate_is_refused_by_name(name: str, rate: float) -> None:
    """lr_history took -0.5 as a rate, a rate the optimizer refuses at the step and never
    learns (SGDHD's additive rule stops at 0)."""
    model = nn.Linear(4, 2)
    state = copy.deepcopy(_stepped(MAKERS[name](model.parameters()), model).state_dict())
    if name == "stack":
        state["history"][1]["g0.lr"] = rate
        where = "history[1]['g0.lr']"
    else:
        state["lr_history"][0][1] = rate
        where = "lr_history[0][1]"
    opt = MAKERS[name](model.parameters())
    before = copy.deepcopy(opt.state_dict())
    owner = type(opt).__name__
    message = f"{owner}.load_state_dict: the state's {where} is float {rate!r}, a negative"
    with pytest.raises(InputError, match=re.escape(message)):
        opt.load_state_dict(state)
    assert opt.state_dict() == before


def _steps(opt: torch.optim.Optimizer, model: nn.Module, lr: float) -> dict[str, Any]:
    """The state after two steps, each at the rate ``lr`` written into the groups."""
    for x, y in _data():
        for group in opt.param_groups:
            group["lr"] = lr
        opt.zero_grad()
        F.cross_entropy(model(x), y).backward()
        opt.step()
    return opt.state_dict()


@pytest.mark.parametrize("lr", [0.0, -0.0, 1e13])
def test_a_rate_an_optimizer_records_loads_back_even_at_0_or_above_its_ceiling(lr: float) -> None:
    """Only a rate below 0 is refused: 0 (the additive rule's floor, or written), -0.0
    (written; not below 0) and a rate above the learned rate's ceiling of 1e12 (written, and
    stepped with before a hypergradient moves it) are records of a run."""
    model = nn.Linear(4, 2)
    makers = [
        lambda ps: SGDHD(ps, lr=0.1, multiplicative=False, hyper_lr=0.0),
        lambda ps: AdamHD(ps, lr=0.1, multiplicative=False, hyper_lr=0.0),
        lambda ps: stack(("sgd", {"lr": 0.1}), ("sgd", {"lr": 0.0}))(ps),
    ]
    for make in makers:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # (the stack clips 1e13 at step 2)
            state = _steps(make(model.parameters()), model, lr)
        first = state["lr_history"][0][0] if "lr_history" in state else state["history"][0]["g0.lr"]
        assert repr(first) == repr(lr)
        fresh = make(model.parameters())
        fresh.load_state_dict(state)
        assert repr(fresh.state_dict()) == repr(state)


# -- the article -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("index", "start"),
    [(0, "a HyperTrainer state"), (1, "an STNTrainer state"), (2, "an ArchitectureSearch state")],
)
def test_a_trainers_messages_read_with_the_right_article(index: int, start: str) -> None:
    """They read 'a STNTrainer state', 'a ArchitectureSearch state'."""
    trainer = _trainers()[index]
    kind = type(trainer).__name__
    with pytest.raises(InputTypeError, match=f"^{start} is the mapping .*got list$"):
        trainer.load_state_dict([1])  # type: ignore[arg-type]
    with pytest.raises(InputTypeError, match=f"^{start} is the mapping .* this one lacks"):
        trainer.load_state_dict({"trainer": kind})


@pytest.mark.parametrize(
    ("name", "read"),
    [
        ("HyperTrainer", "a HyperTrainer"),
        ("STNTrainer", "an STNTrainer"),
        ("ArchitectureSearch", "an ArchitectureSearch"),
        ("SGDHD", "an SGDHD"),
        ("BCELoss", "a BCELoss"),
        ("MyTrainer", "a MyTrainer"),
        ("X", "an X"),
        ("", "a "),
    ],
)
def test_with_article_reads_a_word_by_its_letter_and_an_initialism_by_its_letters_name(
    name: str, read: str
) -> None:
    assert with_article(name) == read
