"""Continuous relaxations of discrete architecture choices (DARTS-style).

After Liu, Simonyan & Yang (2019, "DARTS"): a discrete choice among ``k`` options becomes a
softmax-weighted mixture of all of them, with the mixture logits learned on *validation* data
while the weights are learned on training data (the first-order alternation of DARTS). At the
end the mixture is discretized to its argmax and the chosen network is retrained from scratch.

* :class:`MixedActivation` - a mixture over activation functions for one layer (optionally
  Gumbel-softmax samples, Jang et al. 2017, instead of the plain softmax).
* :class:`RelaxedMLP` - an MLP with one mixed activation per hidden layer and a gate over depth:
  the head reads ``sum_d g_d h_d``, the gated mixture of the hidden states after 1..D layers.
* :class:`ArchitectureSearch` - alternates weight steps on training batches and architecture
  steps on validation batches, recording the mixture weights.
* :class:`Architecture` - the discretized choice, buildable as a plain ``nn.Sequential``.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, cast

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from hyperlab.errors import (
    InputError,
    InputTypeError,
    check_bool,
    check_nonneg,
    check_positive,
    check_positive_int,
    check_seed,
)
from hyperlab.hypergrad.batches import Cycle, check_epochs, passes
from hyperlab.hypergrad.checkpoint import (
    check_step,
    check_trainer_state,
    restore_model_and_optimizers,
)
from hyperlab.hypergrad.finite import FiniteStep
from hyperlab.hypergrad.trainer import check_criterion, scalar_loss

__all__ = [
    "ACTIVATIONS",
    "Architecture",
    "ArchitectureSearch",
    "MixedActivation",
    "RelaxedMLP",
    "SearchHistory",
]

ACTIVATIONS: dict[str, Callable[[], nn.Module]] = {
    "relu": nn.ReLU,
    "tanh": nn.Tanh,
    "gelu": nn.GELU,
    "sigmoid": nn.Sigmoid,
    "identity": nn.Identity,
}
"""Candidate activation functions by name."""


def _check_candidates(candidates: Sequence[str], *, unique: bool = True) -> tuple[str, ...]:
    if isinstance(candidates, str) or not candidates:
        raise InputError(f"candidates must be a non-empty list of names, got {candidates!r}")
    unknown = [c for c in candidates if c not in ACTIVATIONS]
    if unknown:
        raise InputError(f"unknown activation(s) {unknown}; known: {sorted(ACTIVATIONS)}")
    if unique and len(set(candidates)) != len(candidates):
        raise InputError(f"duplicate candidates in {list(candidates)}")
    return tuple(candidates)


class _Choice(nn.Module):
    """Logits over ``k`` options and their (Gumbel-)softmax weights."""

    def __init__(self, k: int, *, gumbel: bool, temperature: float) -> None:
        super().__init__()
        self.gumbel = check_bool("gumbel", gumbel)
        self.temperature = check_positive("temperature", temperature)
        self.logits = nn.Parameter(torch.zeros(k))

    def weights(self) -> Tensor:
        """Mixture weights ``(k,)``: Gumbel-softmax samples in training mode if ``gumbel``."""
        if self.gumbel and self.training:
            return F.gumbel_softmax(self.logits, tau=self.temperature)
        return torch.softmax(self.logits / self.temperature, dim=0)

    def probabilities(self) -> list[float]:
        """The softmax of the logits (deterministic), as floats."""
        return [float(p) for p in torch.softmax(self.logits.detach(), dim=0)]


class MixedActivation(_Choice):
    """``sum_k w_k f_k(x)`` over candidate activations with learnable mixture logits.

    Args:
        candidates: Names from :data:`ACTIVATIONS`.
        gumbel: Sample the weights by Gumbel-softmax in training mode.
        temperature: Softmax temperature (> 0).
    """

    def __init__(
        self,
        candidates: Sequence[str] = ("relu", "tanh", "gelu", "identity"),
        *,
        gumbel: bool = False,
        temperature: float = 1.0,
    ) -> None:
        names = _check_candidates(candidates)
        super().__init__(len(names), gumbel=gumbel, temperature=temperature)
        self.candidates = names
        self.fns = nn.ModuleList([ACTIVATIONS[c]() for c in names])

    def forward(self, x: Tensor) -> Tensor:
        """Args: x ``(n, width)``. Returns: ``(n, width)``."""
        w = self.weights().to(x.dtype)
        return sum((w[i] * f(x) for i, f in enumerate(self.fns)), start=torch.zeros_like(x))

    def choice(self) -> str:
        """The argmax candidate."""
        return self.candidates[int(torch.argmax(self.logits.detach()))]


@dataclass(frozen=True)
class Architecture:
    """A discrete MLP architecture: one activation per hidden layer (depth = their number)."""

    activations: tuple[str, ...]

    @property
    def depth(self) -> int:
        """Number of hidden layers."""
        return len(self.activations)

    def build(self, n_in: int, n_out: int, width: int) -> nn.Sequential:
        """The plain network ``Linear -> act -> ... -> Linear``.

        Raises:
            InputError: An unknown activation or an empty architecture.
        """
        _check_candidates(self.activations, unique=False)
        layers: list[nn.Module] = []
        d_in = n_in
        for act in self.activations:
            layers += [nn.Linear(d_in, width), ACTIVATIONS[act]()]
            d_in = width
        layers.append(nn.Linear(d_in, n_out))
        return nn.Sequential(*layers)

    def __str__(self) -> str:
        return "-".join(self.activations)


class RelaxedMLP(nn.Module):
    """An MLP whose per-layer activation and whose depth are soft choices.

    Hidden states ``h_1 = a_1(W_1 x)``, ``h_d = a_d(W_d h_{d-1})`` for ``d <= max_depth``; the
    output is ``head(sum_d g_d h_d)`` with depth-gate weights ``g`` (softmax over depths).

    Args:
        n_in: Input features.
        n_out: Outputs.
        width: Hidden width (the same for every layer, so the gate can mix depths).
        max_depth: Largest number of hidden layers (>= 1).
        candidates: Activation names each layer chooses from.
        gumbel: Gumbel-softmax samples instead of the softmax in training mode.
        temperature: Softmax temperature of every choice.
    """

    def __init__(
        self,
        n_in: int,
        n_out: int,
        width: int = 32,
        max_depth: int = 3,
        candidates: Sequence[str] = ("relu", "tanh", "gelu", "identity"),
        *,
        gumbel: bool = False,
        temperature: float = 1.0,
    ) -> None:
        super().__init__()
        for name, value in (
            ("n_in", n_in),
            ("n_out", n_out),
            ("width", width),
            ("max_depth", max_depth),
        ):
            check_positive_int(name, value)  # (NumPy's integers too: n_out = y.max() + 1)
        n_in, n_out, width, max_depth = int(n_in), int(n_out), int(width), int(max_depth)
        self.linears = nn.ModuleList(
            [nn.Linear(n_in if d == 0 else width, width) for d in range(max_depth)]
        )
        self.acts = nn.ModuleList(
            [
                MixedActivation(candidates, gumbel=gumbel, temperature=temperature)
                for _ in range(max_depth)
            ]
        )
        self.depth_gate = _Choice(max_depth, gumbel=gumbel, temperature=temperature)
        self.head = nn.Linear(width, n_out)

    def forward(self, x: Tensor) -> Tensor:
        """Args: x ``(n, n_in)``. Returns: ``(n, n_out)``."""
        gate = self.depth_gate.weights().to(x.dtype)
        h = x
        mixed = None
        for d, (lin, act) in enumerate(zip(self.linears, self.acts)):
            h = act(lin(h))
            mixed = gate[d] * h if mixed is None else mixed + gate[d] * h
        assert mixed is not None  # max_depth >= 1
        return self.head(mixed)

    def _mixed(self) -> list[MixedActivation]:
        return [cast(MixedActivation, a) for a in self.acts]

    def arch_parameters(self) -> list[nn.Parameter]:
        """The mixture logits (learned on validation data)."""
        return [a.logits for a in self._mixed()] + [self.depth_gate.logits]

    def weight_parameters(self) -> list[nn.Parameter]:
        """Everything else (learned on training data)."""
        arch = {id(p) for p in self.arch_parameters()}
        return [p for p in self.parameters() if id(p) not in arch]

    def discretize(self) -> Architecture:
        """The argmax depth and, for the layers it keeps, the argmax activations."""
        depth = int(torch.argmax(self.depth_gate.logits.detach())) + 1
        return Architecture(tuple(a.choice() for a in self._mixed()[:depth]))

    def probabilities(self) -> dict[str, list[float]]:
        """Current softmax weights: ``layer<d>`` over the candidates, ``depth`` over 1..D."""
        out = {f"layer{d + 1}": a.probabilities() for d, a in enumerate(self._mixed())}
        out["depth"] = self.depth_gate.probabilities()
        return out


@dataclass
class SearchHistory:
    """Mixture weights after each architecture step, and the losses seen."""

    step: list[int] = field(default_factory=list)
    probabilities: dict[str, list[list[float]]] = field(default_factory=dict)
    train_loss: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)


class ArchitectureSearch:
    """First-order DARTS: Adam on the weights (training batches), Adam on the logits (validation).

    A long search is checkpointed with ``torch.save(search.state_dict(), path)`` and resumed
    by :meth:`load_state_dict` into a search made as the first one was (see there).

    Args:
        model: The relaxed network.
        criterion: Loss ``criterion(output, target) -> scalar``.
        lr: Weight learning rate (> 0).
        arch_lr: Architecture-logit learning rate (> 0).
        weight_decay: L2 on the weights (a finite number >= 0; else ``InputError``, or
            ``InputTypeError`` for a non-number); none on the logits.
        warmup_steps: Weight steps before the first architecture step (>= 0). Without a
            warm-up the logits are fitted while the weights are still poor, which favours
            options that learn fast (shallow, linear) - the bias toward parameter-free
            operations that Zela et al. (2020) and Chu et al. (2020) report for DARTS.

    Raises:
        InputError: A rate or count out of range.
    """

    def __init__(
        self,
        model: RelaxedMLP,
        criterion: Callable[[Tensor, Tensor], Tensor] = F.cross_entropy,
        *,
        lr: float = 3e-3,
        arch_lr: float = 3e-2,
        weight_decay: float = 0.0,
        warmup_steps: int = 0,
    ) -> None:
        if not isinstance(model, RelaxedMLP):
            raise InputTypeError(f"model must be a RelaxedMLP, got {type(model)!r}")
        check_positive("lr", lr)
        check_positive("arch_lr", arch_lr)
        check_nonneg("weight_decay", weight_decay)
        if check_seed(warmup_steps, "warmup_steps") is None:  # (an integer >= 0, NumPy's too)
            raise InputError("warmup_steps must be a non-negative integer, got None")
        self.warmup_steps = warmup_steps
        self.model = model
        check_criterion(criterion)
        self.criterion = criterion
        self._w_opt = torch.optim.Adam(model.weight_parameters(), lr=lr, weight_decay=weight_decay)
        self._a_opt = torch.optim.Adam(model.arch_parameters(), lr=arch_lr)
        self._finite_step = FiniteStep(type(self).__name__, self._a_opt, "mixture logits")
        self.history = SearchHistory()
        self._step = 0

    def fit(
        self,
        train_data: Iterable[tuple[Tensor, Tensor]],
        val_data: Iterable[tuple[Tensor, Tensor]],
        *,
        epochs: int = 1,
    ) -> Architecture:
        """Alternate one weight step and one architecture step per training batch.

        Args:
            train_data: Re-iterable batches ``(x, y)``.
            val_data: Re-iterable validation batches, cycled through.
            epochs: Passes over the training data (>= 1).

        Returns:
            The discretized architecture after the search.

        Raises:
            InputError: ``epochs < 1`` or a data source that yields nothing.
        """
        check_epochs(epochs)
        val_batches = Cycle(val_data)
        for x, y in passes(train_data, epochs):
            self._step += 1
            self.model.train()
            self._w_opt.zero_grad(set_to_none=True)
            loss = scalar_loss(self.criterion, self.model(x), y)
            loss.backward()
            self._w_opt.step()
            vx, vy = next(val_batches)
            self._a_opt.zero_grad(set_to_none=True)  # (the training loss's, on the logits)
            search_arch = self._step > self.warmup_steps
            with torch.set_grad_enabled(search_arch):
                vloss = scalar_loss(self.criterion, self.model(vx), vy)
            if search_arch:
                self._arch_step(vloss)
            self._record(float(loss.detach()), float(vloss.detach()))
        return self.model.discretize()

    def state_dict(self) -> dict[str, Any]:
        """Everything resuming needs, as a snapshot of tensors and plain data (``torch.load(...,
        weights_only=True)`` reads it back): the model's state (weights and mixture logits),
        each layer's candidate activations (what the logits weigh), both Adam states, the step
        count (how much of the warm-up is done) and the history.

        Gumbel-softmax samples are drawn from torch's global generator, which the search does
        not own: to resume bit for bit with ``gumbel=True``, save ``torch.get_rng_state()``
        with this state (and ``torch.cuda.get_rng_state()`` on a GPU) and restore it.
        """
        return {
            "trainer": type(self).__name__,
            "step": self._step,
            "candidates": self._candidates(),
            "model": {k: v.detach().clone() for k, v in self.model.state_dict().items()},
            "weight_opt": copy.deepcopy(self._w_opt.state_dict()),
            "arch_opt": copy.deepcopy(self._a_opt.state_dict()),
            "history": asdict(self.history),
        }

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore a state of :meth:`state_dict`: the next :meth:`fit` continues the same
        search. The settings (rates, weight decay, ``warmup_steps``) stay this search's; each
        ``fit`` reads the validation data from its first batch.

        Raises:
            InputTypeError: ``state`` is not such a mapping, or is another kind of trainer's.
            InputError: its candidate activations, its model's keys or shapes (another depth
                or width), its optimizers' states or its history are not this search's (named
                in the message: a history entry that is not a number, or a step not an
                integer; NaN loads, as a diverged search records it); nothing was loaded.
        """
        kind = type(self).__name__
        keys = ("step", "candidates", "model", "weight_opt", "arch_opt", "history")
        state = check_trainer_state(state, kind, keys)
        step = check_step(kind, "step", state["step"])
        optimizers = {"weight_opt": self._w_opt, "arch_opt": self._a_opt}
        self.history = restore_model_and_optimizers(
            kind,
            state,
            self.model,
            optimizers,
            SearchHistory,
            check_more=lambda: self._check_candidates(kind, state["candidates"]),
        )
        self._step = step

    def _arch_step(self, vloss: Tensor) -> None:
        """Adam's step on the mixture logits down the validation loss, skipping a choice whose
        gradient is not finite (a NaN batch): it keeps its logits, and the search warns once."""
        logits = self.model.arch_parameters()
        grads = torch.autograd.grad(vloss, logits, allow_unused=True)
        names = list(self.model.probabilities())  # layer1..layerD, depth: the logits' order
        self._finite_step.step(list(zip(((n,) for n in names), logits, grads)), self._step)

    def _check_candidates(self, kind: str, theirs: Any) -> None:
        """Refuse a state whose layers choose among other activations (same shapes)."""
        layers = theirs if isinstance(theirs, list | tuple) else [theirs]
        if [list(c) if isinstance(c, list | tuple) else c for c in layers] != self._candidates():
            raise InputError(
                f"{kind} state: its layers choose among {theirs!r}, this search's among "
                f"{self._candidates()}; nothing was loaded"
            )

    def _candidates(self) -> list[list[str]]:
        return [list(a.candidates) for a in self.model._mixed()]

    def _record(self, loss: float, vloss: float) -> None:
        h = self.history
        h.step.append(self._step)
        for k, v in self.model.probabilities().items():
            h.probabilities.setdefault(k, []).append(v)
        h.train_loss.append(loss)
        h.val_loss.append(vloss)
