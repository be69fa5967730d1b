"""Optuna's logging, quieted where hyperlab makes throwaway studies."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import optuna


@contextmanager
def quiet_optuna() -> Iterator[None]:
    """Optuna logs at most warnings inside the block (for throwaway studies, whose "a new study
    created" lines would only clutter the user's output); a quieter setting is kept. Optuna's
    verbosity is process-wide: call this where no other thread changes it at the same time
    (both callers here run once per search space or pretraining, the latter under a lock)."""
    verbosity = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(max(verbosity, optuna.logging.WARNING))
    try:
        yield
    finally:
        optuna.logging.set_verbosity(verbosity)
