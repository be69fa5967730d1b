"""Batches for the training loops here: passes over the training data, endless validation data.

:class:`~hyperlab.hypergrad.trainer.HyperTrainer`,
:class:`~hyperlab.hypergrad.relax.ArchitectureSearch` and
:class:`~hyperlab.hypergrad.stn.STNTrainer` read re-iterable data sources (a ``DataLoader`` or
a list of ``(x, y)`` batches) the same way: ``epochs`` passes over the training data, and the
validation data cycled through as often as the hyperparameter steps need it. A source that
yields nothing is refused by name instead of training silently on nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TypeVar

from hyperlab.errors import InputError

B = TypeVar("B")


def check_epochs(epochs: int) -> None:
    """Refuse ``epochs`` unless it is an integer >= 1."""
    if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 1:
        raise InputError(f"epochs must be an integer >= 1, got {epochs!r}")


def passes(train_data: Iterable[B], epochs: int) -> Iterator[B]:
    """Every batch of ``epochs`` passes over ``train_data``, in order.

    Raises:
        InputError: A pass yields no batch (raised when that pass is reached).
    """
    for _ in range(epochs):
        seen = 0
        for batch in train_data:
            seen += 1
            yield batch
        if seen == 0:
            raise InputError(f"training data {train_data!r} yielded no batch")


class Cycle(Iterator[B]):
    """Endless iteration over a re-iterable data source, starting it again when it ends.

    Args:
        data: The source.
        what: What it is, for the error message (e.g. ``"validation data"``).

    Raises:
        InputError: The source yields nothing (checked on construction and on each restart).
    """

    def __init__(self, data: Iterable[B], what: str = "validation data") -> None:
        self.data = data
        self.what = what
        if next(iter(data), None) is None:
            raise InputError(f"{what} {data!r} yielded no batch")
        self._it: Iterator[B] | None = None

    def __next__(self) -> B:
        if self._it is not None:
            item = next(self._it, None)
            if item is not None:
                return item
        self._it = iter(self.data)
        item = next(self._it, None)
        if item is None:
            raise InputError(f"{self.what} {self.data!r} yielded no batch")
        return item
