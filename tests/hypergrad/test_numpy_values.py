"""NumPy's scalars are numbers: the checks take what torch.optim takes."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from hyperlab.errors import InputError, InputTypeError, check_bool, check_positive_int
from hyperlab.hypergrad import SGDHD, AdamHD, HyperTrainer, RelaxedMLP, WeightDecay, stack


def test_numpy_scalars_and_a_parameter_list_are_taken_as_torch_takes_them() -> None:
    """``np.float32`` rates, ``np.int64`` sizes (``n_out = y.max() + 1``), ``np.bool_`` flags,
    ``betas`` as an array and an ``nn.ParameterList`` were refused by the checks."""
    model = nn.Linear(4, 2)
    AdamHD(model.parameters(), lr=np.float32(1e-3), betas=np.array([0.9, 0.99]))
    SGDHD(model.parameters(), lr=np.float64(0.1), momentum=np.float32(0.5), nesterov=np.True_)
    stack("adam", "sgd")(model.parameters())
    AdamHD(nn.ParameterList([nn.Parameter(torch.randn(3))]))
    RelaxedMLP(4, np.int64(3), width=np.int64(8))
    trainer = HyperTrainer(
        model, nn.CrossEntropyLoss(), [WeightDecay(model)], hyper_every=np.int64(1)
    )
    x, y = torch.randn(8, 4), torch.randint(0, 2, (8,))
    trainer.fit([(x, y)], [(x, y)], epochs=np.int64(1))
    assert check_positive_int("n", np.int64(3)) == 3 and type(check_bool("b", np.True_)) is bool


@pytest.mark.parametrize(
    ("value", "error"),
    [(np.float64(2.0), InputTypeError), (np.int64(0), InputError), (True, InputTypeError)],
)
def test_what_is_not_a_positive_integer_is_still_refused(value: object, error: type) -> None:
    with pytest.raises(error, match="n must be a positive integer"):
        check_positive_int("n", value)


def test_a_loss_class_or_a_name_for_regularizers_is_refused_with_the_fix() -> None:
    from hyperlab.hypergrad import ArchitectureSearch

    model = nn.Linear(4, 2)
    with pytest.raises(
        InputTypeError, match=r"got the class CrossEntropyLoss: .*CrossEntropyLoss\(\)"
    ):
        HyperTrainer(model, nn.CrossEntropyLoss, [WeightDecay(model)])
    with pytest.raises(
        InputTypeError, match="regularizers must be a list of Regularizers, got 'wd'"
    ):
        HyperTrainer(model, nn.CrossEntropyLoss(), "wd")  # type: ignore[arg-type]
    with pytest.raises(InputTypeError, match="criterion must be a loss function"):
        ArchitectureSearch(RelaxedMLP(4, 2), criterion="cross_entropy")  # type: ignore[arg-type]
