"""What the optimizers' and the trainers' ``load_state_dict`` refuse inside a state of their
own kind: moments of another model's shapes, history entries that are not numbers, negative
rates; each is refused by name and loads nothing, and what a run can record loads."""

from __future__ import annotations

import pytest

from hyperlab.errors import InputTypeError, with_article
from tests.hypergrad.test_checkpoint import _trainers

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
