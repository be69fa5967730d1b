"""STNTrainer and ArchitectureSearch skip a hyper step on a non-finite hypergradient, as
HyperTrainer does: one bad batch no longer turns their hyperparameters NaN for good."""

from __future__ import annotations

import math
import re
from typing import Any

import pytest
import torch

from hyperlab.hypergrad import ArchitectureSearch, RelaxedMLP, SelfTuningMLP, STNTrainer


def _stn(tune: list[str] | None = None) -> tuple[Any, Any]:
    trainer = STNTrainer(SelfTuningMLP(4, 3, width=8, depth=1), train_steps=1, tune=tune)
    return trainer, lambda: trainer.model.hyper.detach().clone()


def _search() -> tuple[Any, Any]:
    search = ArchitectureSearch(RelaxedMLP(4, 3, width=8, max_depth=2))
    return search, lambda: torch.cat([p.detach() for p in search.model.arch_parameters()])


@pytest.mark.parametrize(
    ("make", "names", "what"),
    [
        (_stn, "['dropout', 'weight_decay']", "hyperparameters"),
        # (the fixed weight decay turned NaN too: its gradient, NaN, was masked by * 0)
        (lambda: _stn(["dropout"]), "['dropout']", "hyperparameters"),
        (_search, "['layer1', 'layer2', 'depth']", "mixture logits"),
    ],
    ids=["STNTrainer", "STNTrainer-dropout", "ArchitectureSearch"],
)
def test_a_non_finite_hypergradient_is_skipped_with_one_warning(
    make: Any, names: str, what: str
) -> None:
    """Their Adam stepped on the NaN gradient of a validation batch holding a NaN input: the
    dropout rate and weight decay, or every mixture logit, turned NaN and stayed NaN."""
    torch.manual_seed(0)
    trainer, hypers = make()
    x, y = torch.randn(32, 4), torch.randint(0, 3, (32,))
    bad = x[16:].clone()
    bad[0, 0] = math.nan
    train, val = [(x[:16], y[:16])], [(x[16:], y[16:])]
    before = hypers()
    kind = type(trainer).__name__
    message = f"{kind}: the hypergradient of {re.escape(names)} at step 1 .* those {what} keep"
    with pytest.warns(RuntimeWarning, match=message) as record:
        trainer.fit(train * 2, [(bad, y[16:])])
    assert len(record) == 1 and record[0].filename == __file__  # two skips, one warning
    assert torch.equal(hypers(), before)
    assert math.isnan(trainer.history.val_loss[-1])  # recorded as it was
    trainer.fit(train * 3, val)  # the next good batches tune again
    assert torch.isfinite(hypers()).all() and not torch.equal(hypers(), before)
