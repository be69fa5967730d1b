"""Batches for the training loops here: passes over the training data, endless validation data.

:class:`~hyperlab.hypergrad.trainer.HyperTrainer`,
:class:`~hyperlab.hypergrad.relax.ArchitectureSearch` and
:class:`~hyperlab.hypergrad.stn.STNTrainer` read re-iterable data sources (a ``DataLoader`` or
a list of ``(x, y)`` batches) the same way: ``epochs`` passes over the training data, and the
validation data cycled through as often as the hyperparameter steps need it. A source that
yields nothing is refused by name instead of training silently on nothing, and so is a one-shot
iterator (a generator) that would have to be read twice: its second pass would be empty.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TypeVar

import torch

from hyperlab.errors import (
    InputError,
    InputTypeError,
    check_positive_int,
    counted,
    with_article,
)

B = TypeVar("B")


def check_epochs(epochs: int) -> None:
    """Refuse ``epochs`` unless it is an integer >= 1 (NumPy's too)."""
    check_positive_int("epochs", epochs)


def check_reiterable(data: object, what: str) -> None:
    """Refuse ``data`` unless it can be iterated over more than once (a list, a ``DataLoader``):
    a generator or other iterator is used up by its first pass.

    Raises:
        InputTypeError: ``data`` is not iterable, is a one-shot iterator, or is one batch
            ``(x, y)`` rather than a list of batches.
    """
    if isinstance(data, Iterator):
        raise InputTypeError(
            f"{what} must be re-iterable (a list of (x, y) batches, a DataLoader, or an object "
            f"whose __iter__ starts again), got the one-shot iterator {data!r}: it is used up by "
            "its first pass; pass list(...) of it instead"
        )
    if isinstance(data, torch.Tensor):
        raise InputTypeError(
            f"{what} must be batches (x, y), got one tensor of shape {tuple(data.shape)}: give "
            "the inputs with their targets in batches, e.g. "
            "DataLoader(TensorDataset(x, y), batch_size=32) or list(zip(x.split(32), y.split(32)))"
        )
    if not isinstance(data, Iterable):
        raise InputTypeError(
            f"{what} must be batches (x, y): a list of them or a DataLoader, got {data!r}"
        )
    if isinstance(data, (tuple, list)) and data and isinstance(data[0], torch.Tensor):
        raise InputTypeError(
            f"{what} must be a list of batches (x, y), got {with_article(type(data).__name__)} of tensors "
            "(one batch?): wrap it in a list, [(x, y)]"
        )


def checked_batch(batch: B, what: str) -> B:
    """``batch`` when it is a pair ``(x, y)`` (a tuple or a list, as a ``DataLoader`` gives).

    Raises:
        InputTypeError: Naming what ``batch`` is instead.
    """
    if isinstance(batch, (tuple, list)) and len(batch) == 2:
        return batch
    if isinstance(batch, (tuple, list)):
        got = f"{with_article(type(batch).__name__)} of {counted(len(batch), 'item')}"
    elif isinstance(batch, torch.Tensor):
        got = f"a tensor of shape {tuple(batch.shape)}"
    else:
        got = f"{type(batch).__name__} {batch!r:.80}"
    raise InputTypeError(
        f"{what} must yield batches (x, y), pairs of inputs and targets; got {got}: give a "
        "DataLoader over a TensorDataset(x, y), or map each batch to its (x, y)"
    )


def passes(train_data: Iterable[B], epochs: int) -> Iterator[B]:
    """Every batch of ``epochs`` passes over ``train_data``, in order.

    Raises:
        InputTypeError: ``train_data`` is not iterable, or is a one-shot iterator and
            ``epochs > 1`` (raised on the call).
        InputError: A pass yields no batch (raised when that pass is reached).
    """
    if epochs > 1 or not isinstance(train_data, Iterator):  # one pass may read an iterator
        what = "training data" if epochs == 1 else f"training data for {epochs} epochs"
        check_reiterable(train_data, what)
    return _passes(train_data, epochs)


def _passes(train_data: Iterable[B], epochs: int) -> Iterator[B]:
    for _ in range(epochs):
        seen = 0
        for batch in train_data:
            seen += 1
            yield checked_batch(batch, "training data")
        if seen == 0:
            raise InputError(f"training data {train_data!r} yielded no batch")


class Cycle(Iterator[B]):
    """Endless iteration over a data source, starting it again when it ends.

    A re-iterable source (a list, a ``DataLoader``) is read again from its start; a one-shot
    iterator (an endless generator, ``itertools.cycle``) is read on, and only its running out
    is refused, since it cannot start again.

    Args:
        data: The source.
        what: What it is, for the error message (e.g. ``"validation data"``).

    Raises:
        InputTypeError: The source is not iterable, is one batch instead of batches, or
            yields something other than pairs ``(x, y)``.
        InputError: The source yields nothing (a re-iterable one is checked on construction
            and on each restart), or a one-shot iterator runs out.
    """

    def __init__(self, data: Iterable[B], what: str = "validation data") -> None:
        self.data = data
        self.what = what
        self._it: Iterator[B] | None = None
        self._read = False  # (whether a one-shot iterator has given a batch)
        if isinstance(data, Iterator):  # read on, never restarted (a peek would lose a batch)
            self._it = data
            return
        check_reiterable(data, what)
        first = next(iter(data), None)
        if first is None:
            raise InputError(f"{what} {data!r} yielded no batch")
        checked_batch(first, what)

    def __next__(self) -> B:
        if self._it is not None:
            item = next(self._it, None)
            if item is not None:
                self._read = True
                return checked_batch(item, self.what)
        if isinstance(self.data, Iterator):
            said = "ran out" if self._read else "yielded no batch"
            raise InputError(
                f"{self.what} {self.data!r} {said}: a one-shot iterator cannot start again "
                "(the model keeps the steps it took); give a list of batches or a DataLoader"
            )
        self._it = iter(self.data)
        item = next(self._it, None)
        if item is None:
            raise InputError(f"{self.what} {self.data!r} yielded no batch")
        return checked_batch(item, self.what)
