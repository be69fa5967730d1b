"""What the optimizers' and the trainers' ``load_state_dict`` refuse inside a state of their
own kind: moments of another model's shapes, history entries that are not numbers, negative
rates; each is refused by name and loads nothing, and what a run can record loads."""

from __future__ import annotations

import copy
import re
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
    stack,
)
from tests.hypergrad.test_checkpoint import _stepped, _trainers

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
