"""Self-tuning networks: a best-response hypernetwork trained jointly with its hyperparameters.

After MacKay, Vicol, Lorraine, Duvenaud & Grosse (2019, "Self-Tuning Networks"). Each layer's
weights are a structured function of the (unconstrained) hyperparameters ``h``::

    y = W_elem x + b_elem + (V h~) * (W_hyper x)       (* = per output unit)

so that the layer approximates the best response ``W*(h)`` of training around the current
``h`` (``h~`` is ``h`` relative to its starting value). Training alternates

* weight steps on the training loss at *perturbed* hyperparameters ``h + sigma * eps`` (one
  draw per example), so that ``V`` learns how the weights should respond to ``h``;
* hyperparameter steps on the validation loss (no dropout, no penalty), whose gradient in ``h``
  flows through the response ``W(h)``.

The hyperparameters here are the dropout rate after every hidden layer (``logit p``) and the
weight-decay strength (``log lambda``); their values after each hyperparameter step form a
schedule learned in one training run. (The perturbation scale is fixed; MacKay et al. also tune
it with an entropy bonus.)
"""

from __future__ import annotations

import copy
import itertools
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, cast

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from hyperlab.errors import (
    InputError,
    InputTypeError,
    check_nonneg,
    check_positive,
    check_positive_int,
)
from hyperlab.hypergrad.batches import Cycle, check_epochs, passes
from hyperlab.hypergrad.checkpoint import (
    check_step,
    check_trainer_state,
    restore_model_and_optimizers,
)
from hyperlab.hypergrad.finite import FiniteStep
from hyperlab.hypergrad.trainer import check_criterion, scalar_loss, tune_names

__all__ = ["HYPERPARAMETERS", "STNHistory", "STNTrainer", "SelfTuningMLP", "StnLinear"]

HYPERPARAMETERS = ("dropout", "weight_decay")
"""Names of the hyperparameters a :class:`SelfTuningMLP` carries, in the order of ``h``."""

_MAX_RATE = 0.95


class StnLinear(nn.Module):
    """A linear layer whose weights respond linearly to the hyperparameters.

    Args:
        n_in: Input features.
        n_out: Output features.
        n_hyper: Number of hyperparameters.
    """

    def __init__(self, n_in: int, n_out: int, n_hyper: int) -> None:
        super().__init__()
        self.elem = nn.Linear(n_in, n_out)
        self.hyper = nn.Linear(n_in, n_out, bias=False)
        self.response = nn.Linear(n_hyper, n_out, bias=False)
        nn.init.zeros_(self.response.weight)

    def forward(self, x: Tensor, h: Tensor) -> Tensor:
        """Args: x ``(n, n_in)``; h ``(n, n_hyper)`` or ``(n_hyper,)``. Returns ``(n, n_out)``."""
        return self.elem(x) + self.response(h) * self.hyper(x)

    def weight_norm2(self) -> Tensor:
        """``||W_elem||^2 + ||W_hyper||^2`` (what weight decay penalizes), a scalar."""
        return self.elem.weight.pow(2).sum() + self.hyper.weight.pow(2).sum()


class SelfTuningMLP(nn.Module):
    """An MLP of :class:`StnLinear` layers with ReLU and dropout, carrying its hyperparameters.

    Args:
        n_in: Input features.
        n_out: Outputs.
        width: Hidden width.
        depth: Hidden layers (>= 1).
        dropout: Initial dropout rate in (0, 0.95).
        weight_decay: Initial weight-decay strength (> 0).

    Raises:
        InputError: A size or an initial value out of range.
    """

    def __init__(
        self,
        n_in: int,
        n_out: int,
        width: int = 64,
        depth: int = 2,
        *,
        dropout: float = 0.1,
        weight_decay: float = 1e-4,
    ) -> None:
        super().__init__()
        for name, value in (("n_in", n_in), ("n_out", n_out), ("width", width), ("depth", depth)):
            check_positive_int(name, value)
        if check_nonneg("dropout", dropout) == 0 or dropout >= _MAX_RATE:
            raise InputError(f"dropout must be in (0, {_MAX_RATE}), got {dropout!r}")
        check_positive("weight_decay", weight_decay)
        k = len(HYPERPARAMETERS)
        sizes = [n_in] + [width] * depth
        self.layers = nn.ModuleList([StnLinear(a, b, k) for a, b in itertools.pairwise(sizes)])
        self.head = StnLinear(width, n_out, k)
        start = torch.tensor([_logit(dropout / _MAX_RATE), math.log(weight_decay)])
        self.hyper = nn.Parameter(start.clone())
        self.register_buffer("hyper_origin", start.clone())

    def rates(self, h: Tensor) -> Tensor:
        """Dropout rates from unconstrained ``h`` (``(..., 2)`` -> ``(...)``), in (0, 0.95)."""
        return _MAX_RATE * torch.sigmoid(h[..., 0])

    def strengths(self, h: Tensor) -> Tensor:
        """Weight-decay strengths from unconstrained ``h`` (``(..., 2)`` -> ``(...)``)."""
        return h[..., 1].exp()

    def values(self) -> dict[str, float]:
        """The current hyperparameters in natural units."""
        h = self.hyper.detach()
        return {"dropout": float(self.rates(h)), "weight_decay": float(self.strengths(h))}

    def forward(self, x: Tensor, h: Tensor | None = None) -> Tensor:
        """Logits at hyperparameters ``h`` (default: the current ones).

        Args:
            x: Inputs ``(n, n_in)``.
            h: Unconstrained hyperparameters ``(n, 2)`` (one per example) or ``(2,)``.

        Returns:
            ``(n, n_out)``. Dropout is applied in training mode only.
        """
        if h is None:
            h = self.hyper
        h = h.to(x.dtype)
        if h.ndim == 1:
            h = h.expand(len(x), -1)
        code = h - cast(Tensor, self.hyper_origin).to(x.dtype)
        rate = self.rates(h).unsqueeze(1)
        z = x
        for layer in self.layers:
            z = torch.relu(layer(z, code))
            if self.training:
                keep = (torch.rand_like(z) >= rate).to(z.dtype)
                z = z * keep / (1.0 - rate)
        return cast(Tensor, self.head(z, code))

    def penalty(self, h: Tensor) -> Tensor:
        """``mean(lambda) / 2 * sum ||W||^2`` over the layers, at hyperparameters ``h``."""
        lam = self.strengths(h).mean()
        layers = [*self.layers, self.head]
        return 0.5 * lam * sum((cast(StnLinear, m).weight_norm2() for m in layers), start=lam * 0)

    def weight_parameters(self) -> list[nn.Parameter]:
        """Everything but the hyperparameters."""
        return [p for n, p in self.named_parameters() if n != "hyper"]


@dataclass
class STNHistory:
    """The learned schedule: hyperparameter values after each hyperparameter step."""

    step: list[int] = field(default_factory=list)
    values: dict[str, list[float]] = field(default_factory=dict)
    train_loss: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)


class STNTrainer:
    """Alternate perturbed weight steps and validation hyperparameter steps.

    A long run is checkpointed with ``torch.save(trainer.state_dict(), path)`` and resumed by
    :meth:`load_state_dict` into a trainer made as the first one was (see there).

    Args:
        model: The self-tuning network.
        criterion: Data loss ``criterion(output, target) -> scalar``.
        lr: Adam learning rate of the weights (> 0).
        hyper_lr: Adam learning rate of the unconstrained hyperparameters (>= 0).
        perturbation: Standard deviation of the per-example perturbation of ``h`` (>= 0).
        train_steps: Weight steps per cycle (>= 1).
        val_steps: Hyperparameter steps per cycle (>= 1).
        tune: Names of the hyperparameters to tune (default: both); others stay fixed.

    Raises:
        InputError: A rate or count out of range (or not finite), an unknown hyperparameter
            name, or none to tune.
        InputTypeError: A setting of the wrong type (a bool as a rate, a loss's name).
    """

    def __init__(
        self,
        model: SelfTuningMLP,
        criterion: Callable[[Tensor, Tensor], Tensor] = F.cross_entropy,
        *,
        lr: float = 3e-3,
        hyper_lr: float = 0.03,
        perturbation: float = 0.5,
        train_steps: int = 2,
        val_steps: int = 1,
        tune: Sequence[str] | None = None,
    ) -> None:
        if not isinstance(model, SelfTuningMLP):
            raise InputTypeError(f"model must be a SelfTuningMLP, got {type(model)!r}")
        check_criterion(criterion)
        check_positive("lr", lr)
        check_nonneg("hyper_lr", hyper_lr)
        check_nonneg("perturbation", perturbation)
        check_positive_int("train_steps", train_steps)
        check_positive_int("val_steps", val_steps)
        chosen = _tuned_names(tune)
        self.model = model
        self.criterion = criterion
        self.perturbation = float(perturbation)
        self.train_steps = train_steps
        self.val_steps = val_steps
        self.tune = chosen
        self._mask = torch.tensor([float(n in chosen) for n in HYPERPARAMETERS])
        self._w_opt = torch.optim.Adam(model.weight_parameters(), lr=lr)
        self._h_opt = torch.optim.Adam([model.hyper], lr=hyper_lr)
        self._finite_step = FiniteStep(type(self).__name__, self._h_opt)
        self.history = STNHistory()
        self._step = 0

    def fit(
        self,
        train_data: Iterable[tuple[Tensor, Tensor]],
        val_data: Iterable[tuple[Tensor, Tensor]],
        *,
        epochs: int = 1,
    ) -> STNHistory:
        """Run ``epochs`` passes over the training batches, cycling through validation batches.

        Returns:
            The history (the learned schedule), also kept in :attr:`history`.

        Raises:
            InputError: ``epochs < 1`` or a data source that yields nothing.
        """
        check_epochs(epochs)
        val_batches = Cycle(val_data)
        for batch in passes(train_data, epochs):
            self._step += 1
            loss = self._weight_step(batch)
            if self._step % self.train_steps == 0:
                for _ in range(self.val_steps):
                    vloss = self._hyper_step(next(val_batches))
                self._record(loss, vloss)
        return self.history

    def state_dict(self) -> dict[str, Any]:
        """Everything resuming needs, as a snapshot of tensors and plain data (``torch.load(...,
        weights_only=True)`` reads it back): the model's state (weights, response layers,
        hyperparameters), both Adam states, the step count (the phase of ``train_steps``), the
        tuned names and the history.

        The perturbations and dropout masks are drawn from torch's global generator, which
        the trainer does not own: to resume bit for bit, save ``torch.get_rng_state()`` with
        this state (and ``torch.cuda.get_rng_state()`` on a GPU) and restore it on resuming.
        """
        return {
            "trainer": type(self).__name__,
            "step": self._step,
            "tune": list(self.tune),
            "model": {k: v.detach().clone() for k, v in self.model.state_dict().items()},
            "weight_opt": copy.deepcopy(self._w_opt.state_dict()),
            "hyper_opt": copy.deepcopy(self._h_opt.state_dict()),
            "history": asdict(self.history),
        }

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore a state of :meth:`state_dict`: the next :meth:`fit` continues the same run.
        The settings (rates, perturbation, ``train_steps``, ``val_steps``) stay this
        trainer's; each ``fit`` reads the validation data from its first batch.

        Raises:
            InputTypeError: ``state`` is not such a mapping, or is another kind of trainer's.
            InputError: its tuned names, its model's keys or shapes, its optimizers' states or
                its history are not this trainer's (named in the message: a history entry
                that is not a number, or a step not an integer; NaN loads, as a diverged run
                records it); nothing was loaded.
        """
        kind = type(self).__name__
        keys = ("step", "tune", "model", "weight_opt", "hyper_opt", "history")
        state = check_trainer_state(state, kind, keys)
        step = check_step(kind, "step", state["step"])
        theirs = list(state["tune"]) if isinstance(state["tune"], list | tuple) else state["tune"]
        if not isinstance(theirs, list) or sorted(map(str, theirs)) != sorted(self.tune):
            raise InputError(
                f"{kind} state: it tunes {theirs!r}, this trainer tunes {self.tune}; nothing "
                "was loaded"
            )
        optimizers = {"weight_opt": self._w_opt, "hyper_opt": self._h_opt}
        self.history = restore_model_and_optimizers(kind, state, self.model, optimizers, STNHistory)
        self._step = step

    def _weight_step(self, batch: tuple[Tensor, Tensor]) -> float:
        x, y = batch
        m = self.model
        m.train()
        h = m.hyper.detach()
        noise = torch.randn(len(x), len(h), dtype=h.dtype, device=h.device) * self.perturbation
        h_tilde = h + noise * self._mask.to(device=h.device, dtype=h.dtype)
        self._w_opt.zero_grad(set_to_none=True)
        loss = scalar_loss(self.criterion, m(x, h_tilde), y) + m.penalty(h_tilde)
        loss.backward()
        self._w_opt.step()
        return float(loss.detach())

    def _hyper_step(self, batch: tuple[Tensor, Tensor]) -> float:
        x, y = batch
        m = self.model
        m.eval()
        vloss = scalar_loss(
            self.criterion, m(x), y
        )  # no dropout, no penalty: h acts through W(h) only
        (grad,) = torch.autograd.grad(vloss, [m.hyper])
        tuned = torch.where(self._mask.to(grad.device).bool(), grad, 0)  # (NaN * 0 is NaN)
        self._finite_step.step([(self.tune, m.hyper, tuned)], self._step)
        m.train()
        return float(vloss.detach())

    def _record(self, loss: float, vloss: float) -> None:
        h = self.history
        h.step.append(self._step)
        for k, v in self.model.values().items():
            h.values.setdefault(k, []).append(v)
        h.train_loss.append(loss)
        h.val_loss.append(vloss)


def _logit(p: float) -> float:
    return math.log(p / (1.0 - p))


def _tuned_names(tune: Any) -> list[str]:
    """The names ``tune`` chooses (all when ``None``); an unknown name or none is refused."""
    chosen = list(HYPERPARAMETERS) if tune is None else tune_names(tune)
    unknown = [n for n in chosen if n not in HYPERPARAMETERS]
    if unknown:
        raise InputError(
            f"unknown hyperparameter name(s) {unknown}; known: {list(HYPERPARAMETERS)}"
        )
    if not chosen:
        raise InputError(
            f"nothing to tune: name at least one of {list(HYPERPARAMETERS)} in tune (or leave "
            "tune out to tune both)"
        )
    return chosen
