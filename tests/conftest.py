from __future__ import annotations

import optuna
import pytest
import torch

# Small networks run several times faster on one thread, and tests run two processes at once.
torch.set_num_threads(1)
optuna.logging.set_verbosity(optuna.logging.WARNING)


@pytest.fixture(autouse=True)
def _quiet_optuna() -> None:
    optuna.logging.set_verbosity(optuna.logging.WARNING)
