"""The trainers' hyperparameter step (:class:`~hyperlab.hypergrad.trainer.HyperTrainer`'s,
:class:`~hyperlab.hypergrad.stn.STNTrainer`'s, :class:`~hyperlab.hypergrad.relax.
ArchitectureSearch`'s): their Adam steps on a hypergradient only where it is finite, so that
one bad batch (a NaN input) cannot turn the hyperparameters NaN for good."""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import torch
from torch import Tensor

from hyperlab.errors import user_stacklevel

__all__ = ["FiniteStep"]


class FiniteStep:
    """An optimizer's step on given gradients that skips a tensor whose gradient is not finite.

    A skipped tensor keeps its value and its Adam moments for that step (as the hd optimizers
    keep their rate on a non-finite hypergradient); the first skip warns, naming what was
    skipped, and later ones are skipped without a warning.

    Args:
        owner: The trainer's class name, for the warning.
        optimizer: The optimizer of the tensors to step (every one of its tensors is given to
            each :meth:`step`).
        what: What the tensors are, for the warning ("hyperparameters", "mixture logits").
    """

    def __init__(
        self, owner: str, optimizer: torch.optim.Optimizer, what: str = "hyperparameters"
    ) -> None:
        self.owner = owner
        self.optimizer = optimizer
        self.what = what
        self.warned = False

    def step(self, entries: Sequence[tuple[Sequence[str], Tensor, Tensor | None]], at: int) -> None:
        """Step the optimizer on the finite gradients.

        Args:
            entries: Per tensor, the names it holds (for the warning), the tensor and its
                gradient (``None``: it has none this step, and is left as it is).
            at: The trainer's step count, for the warning.
        """
        skipped: list[str] = []
        for names, tensor, grad in entries:
            if grad is not None and not bool(torch.isfinite(grad).all()):
                skipped.extend(names)
                grad = None
            tensor.grad = None if grad is None else grad.detach().to(tensor.dtype)
        if skipped:
            self._warn(skipped, at)
        self.optimizer.step()

    def _warn(self, names: list[str], at: int) -> None:
        if self.warned:
            return
        self.warned = True
        warnings.warn(
            f"{self.owner}: the hypergradient of {names} at step {at} is not finite (NaN or inf "
            f"in a batch, or a diverging lr); those {self.what} keep their values for that "
            "step. Later non-finite steps are skipped without a warning",
            RuntimeWarning,
            stacklevel=user_stacklevel(),  # the caller of fit
        )
