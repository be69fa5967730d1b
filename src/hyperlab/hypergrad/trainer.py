"""A small loop that trains weights and tunes regularization hyperparameters in one run.

:class:`HyperTrainer` alternates SGD steps on training batches with hyperparameter steps
whose gradient comes from one of three methods (a name -> function table, :data:`METHODS`):

* ``"t1t2"`` - the validation hypergradient through the last SGD step (Luketina et al. 2016);
* ``"ift"`` - the implicit-function-theorem hypergradient with a Neumann-series inverse
  Hessian (Lorraine et al. 2020), taken every ``hyper_every`` training steps;
* ``"train"`` - naive descent on the *training* objective. For a penalty
  ``lambda / 2 * ||w||^2`` its derivative in ``lambda`` is ``||w||^2 / 2 >= 0``, so this drives
  every regularization strength toward zero: it is here to show that collapse.

The hyperparameters are those of the :class:`~hyperlab.hypergrad.regularizers.Regularizer`
modules inside the model (concrete dropout, input noise) plus the ones passed in (weight
decay). They are moved in their unconstrained space (log / logit) by Adam, and their values
in natural units are recorded after every hyperparameter step.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor, nn

from hyperlab.errors import InputError, InputTypeError, check_nonneg, check_positive_int
from hyperlab.hypergrad.batches import Cycle, check_epochs, check_reiterable, checked_batch, passes
from hyperlab.hypergrad.checkpoint import (
    HYPER_TRAINER_KEYS,
    check_dtype,
    check_history,
    check_optimizer_state,
    check_step,
    check_trainer_state,
    load_optimizer,
)
from hyperlab.hypergrad.finite import FiniteStep
from hyperlab.hypergrad.regularizers import Regularizer, find_regularizers
from hyperlab.hypergrad.valgrad import (
    check_neumann,
    ift_hypergradient,
    t1t2_hypergradient,
    weight_grads,
)

__all__ = ["METHODS", "HyperHistory", "HyperTrainer"]

Batch = tuple[Tensor, Tensor]


@dataclass
class HyperHistory:
    """The trajectories recorded by :meth:`HyperTrainer.fit` (one entry per hyper step).

    Attributes:
        step: Training step (1-based, counted over all ``fit`` calls) of each hyper step.
        values: Hyperparameter values in natural units, by name.
        hypergrads: Hypergradients with respect to the unconstrained hyperparameters (sum over
            the elements for non-scalar ones), by name.
        train_loss: Training loss (with the penalty) of the batch at that step.
        val_loss: Validation loss (no penalty) of the validation batch used.
    """

    step: list[int] = field(default_factory=list)
    values: dict[str, list[float]] = field(default_factory=dict)
    hypergrads: dict[str, list[float]] = field(default_factory=dict)
    train_loss: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """Plain, JSON-serializable data."""
        return {
            "step": list(self.step),
            "values": {k: list(v) for k, v in self.values.items()},
            "hypergrads": {k: list(v) for k, v in self.hypergrads.items()},
            "train_loss": list(self.train_loss),
            "val_loss": list(self.val_loss),
        }


class HyperTrainer:
    """Train a model by SGD while its regularization hyperparameters follow a hypergradient.

    Args:
        model: Any module; :class:`Regularizer` submodules inside it that act in its forward
            pass (concrete dropout, input noise) are tuned too. One that adds a penalty (a
            :class:`~hyperlab.hypergrad.regularizers.WeightDecay`) must also be passed in
            ``regularizers``, or it is refused: its penalty would never be added.
        criterion: Data loss ``criterion(output, target) -> scalar`` (no penalty).
        regularizers: Regularizers outside the model (e.g. a
            :class:`~hyperlab.hypergrad.regularizers.WeightDecay`); their penalties are added
            to the training loss only.
        method: ``"t1t2"``, ``"ift"`` or ``"train"`` (see the module docstring).
        lr: SGD learning rate of the weights (>= 0).
        hyper_lr: Adam learning rate of the unconstrained hyperparameters (>= 0).
        hyper_every: Training steps per hyperparameter step (>= 1).
        tune: Names of the hyperparameters to tune (default: all); the others stay fixed.
        neumann_steps: Series terms of the IFT inverse Hessian (``"ift"`` only).
        neumann_alpha: Series step size (``None``: from a power-iteration estimate).

    Raises:
        InputError: A negative rate, an unknown method or hyperparameter name, duplicate
            names, ``hyper_every < 1``, or bad ``neumann_steps`` / ``neumann_alpha``.
        InputTypeError: ``model`` is not a module, ``criterion`` not callable,
            ``regularizers`` not a list of regularizers, a setting of the wrong type.
    """

    def __init__(
        self,
        model: nn.Module,
        criterion: Callable[[Tensor, Tensor], Tensor],
        regularizers: Sequence[Regularizer] = (),
        *,
        method: str = "t1t2",
        lr: float = 0.1,
        hyper_lr: float = 0.05,
        hyper_every: int = 1,
        tune: Sequence[str] | None = None,
        neumann_steps: int = 20,
        neumann_alpha: float | None = None,
    ) -> None:
        _check_settings(model, criterion, method, lr, hyper_lr, hyper_every)
        check_neumann(neumann_steps, neumann_alpha)
        self.model = model
        self.criterion = criterion
        self.regularizers = _regularizer_list(regularizers)
        self.method = method
        self.lr = float(lr)
        self.hyper_lr = float(hyper_lr)
        self.hyper_every = hyper_every
        self.neumann_steps = neumann_steps
        self.neumann_alpha = neumann_alpha
        self._regs = _collect(model, self.regularizers)
        known = {n for _, n, _, _ in self._regs}
        chosen = list(known) if tune is None else tune_names(tune)
        unknown = [n for n in chosen if n not in known]
        if unknown:
            raise InputError(f"unknown hyperparameter name(s) {unknown}; known: {sorted(known)}")
        if not chosen:
            raise InputError(
                "nothing to tune: give regularizers with hyperparameters (e.g. "
                "[WeightDecay(model)]) and name at least one in tune (or leave tune out)"
            )
        self.tune = chosen
        self._tuned = {n: t for _, n, _, t in self._regs if n in chosen}
        hyper_ids = {id(t) for _, _, _, t in self._regs}
        self._weights = {
            n: p for n, p in model.named_parameters() if id(p) not in hyper_ids and p.requires_grad
        }
        if not self._weights:
            raise InputError(f"model {type(model).__name__} has no trainable weight")
        # a penalty reads frozen weights too (as constants): fine-tuning a model's top layers
        self._frozen = {
            n: p.detach()
            for n, p in model.named_parameters()
            if id(p) not in hyper_ids and n not in self._weights
        }
        _check_penalties(model, self.regularizers, {**self._frozen, **self._weights})
        for name, t in self._regs_tensors().items():
            t.requires_grad_(name in self._tuned)
        self._hyper_opt = torch.optim.Adam(list(self._tuned.values()), lr=self.hyper_lr)
        self.history = HyperHistory()
        self._finite_step = FiniteStep(type(self).__name__, self._hyper_opt)
        self._step = 0

    # ------------------------------------------------------------------ public
    def hyperparameters(self) -> dict[str, nn.Parameter]:
        """All unconstrained hyperparameter tensors, by name."""
        return self._regs_tensors()

    def values(self) -> dict[str, float]:
        """All hyperparameters in natural units, by name."""
        return {name: reg.values()[local] for reg, name, local, _ in self._regs}

    def fit(
        self, train_data: Iterable[Batch], val_data: Iterable[Batch], *, epochs: int = 1
    ) -> HyperHistory:
        """Run ``epochs`` passes over ``train_data``, tuning on batches of ``val_data``.

        Args:
            train_data: Re-iterable batches ``(x, y)`` (a ``DataLoader`` or a list).
            val_data: Re-iterable validation batches, cycled through as needed (from the
                first batch at each call).
            epochs: Passes over the training data (>= 1).

        Returns:
            The history (also kept in :attr:`history`, extended by later calls).

        Raises:
            InputError: ``epochs < 1``, or either data source yields nothing.
        """
        check_epochs(epochs)
        val_batches = Cycle(val_data)
        for batch in passes(train_data, epochs):
            self._step += 1
            if self._step % self.hyper_every == 0:
                METHODS[self.method](self, batch, next(val_batches))
            else:
                self._sgd_step(batch)
        return self.history

    def state_dict(self) -> dict[str, Any]:
        """What resuming needs besides the model's weights (save ``model.state_dict()`` with
        it): the step count, every hyperparameter's value (a regularizer outside the model's
        too), the hyperparameter optimizer's moments and the history. Tensors and plain data,
        so ``torch.load(..., weights_only=True)`` reads it back."""
        return {
            "trainer": type(self).__name__,
            "step": self._step,
            "tune": list(self._tuned),
            "hyperparameters": {n: t.detach().clone() for n, t in self._regs_tensors().items()},
            "hyper_opt": copy.deepcopy(self._hyper_opt.state_dict()),  # (a snapshot)
            "history": self.history.as_dict(),
        }

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore a state of :meth:`state_dict`: with the model's weights loaded too, the next
        :meth:`fit` continues the same run. The settings (method, rates, ``hyper_every``) are
        this trainer's; each ``fit`` reads the validation data from its first batch.

        Raises:
            InputTypeError: ``state`` is not such a mapping, or is another kind of trainer's
                (an :class:`~hyperlab.hypergrad.stn.STNTrainer`'s, say).
            InputError: its hyperparameters or tuned names are not this trainer's, or its step,
                optimizer state or history is not of such a state (named in the message: a
                history entry that is not a number, or a step not an integer; NaN loads, as a
                diverged run records it); nothing was loaded.
        """
        kind = type(self).__name__
        values = _checked_state(kind, state, self._regs_tensors(), list(self._tuned))
        step = check_step(kind, "step", state["step"])
        check_optimizer_state(kind, "hyper_opt", state["hyper_opt"], self._hyper_opt)
        history = check_history(kind, HyperHistory, state["history"])
        load_optimizer(self._hyper_opt, state["hyper_opt"])  # (the rate is this trainer's)
        with torch.no_grad():
            for name, t in self._regs_tensors().items():
                t.copy_(values[name])
        self._step = step
        self.history = history

    @torch.no_grad()
    def evaluate(self, data: Iterable[Batch]) -> float:
        """Mean data loss (no penalty) of the model in eval mode, weighted by batch size.

        Raises:
            InputTypeError: ``data`` is one batch ``(x, y)`` or a tensor, not batches.
            InputError: ``data`` yields no sample.
        """
        if not isinstance(data, Iterator):  # (one pass: a generator will do)
            check_reiterable(data, "data")  # refuses one batch (x, y), a tensor
        was = self.model.training
        self.model.eval()
        total, count = 0.0, 0
        for batch in data:
            x, y = checked_batch(batch, "data")
            total += float(self._data_loss(self.model(x), y)) * len(x)
            count += len(x)
        self.model.train(was)
        if count == 0:
            raise InputError(f"data {data!r} yielded no sample")
        return total / count

    # ----------------------------------------------------------------- private
    def _regs_tensors(self) -> dict[str, nn.Parameter]:
        return {name: t for _, name, _, t in self._regs}

    def _data_loss(self, out: Tensor, y: Tensor) -> Tensor:
        return scalar_loss(self.criterion, out, y)

    def _penalty(self, params: Mapping[str, Tensor]) -> Tensor | None:
        every = {**self._frozen, **params}
        terms = [r.penalty(every) for r in self.regularizers]
        if not terms:
            return None
        return torch.stack(terms).sum()

    def _train_loss_fn(self, batch: Batch) -> Callable[[Mapping[str, Tensor]], Tensor]:
        x, y = batch

        def loss(params: Mapping[str, Tensor]) -> Tensor:
            self.model.train()
            if all(params[n] is p for n, p in self._weights.items()):
                out = self.model(x)  # the module's own weights: skip the reparametrization
            else:
                out = torch.func.functional_call(self.model, dict(params), (x,), strict=False)
            value = self._data_loss(out, y)
            pen = self._penalty(params)
            return value if pen is None else value + pen

        return loss

    def _val_loss_fn(self, batch: Batch) -> Callable[[Mapping[str, Tensor]], Tensor]:
        x, y = batch

        def loss(params: Mapping[str, Tensor]) -> Tensor:
            self.model.eval()
            try:
                out = torch.func.functional_call(self.model, dict(params), (x,), strict=False)
            finally:
                self.model.train()
            return self._data_loss(out, y)

        return loss

    def _sgd_step(self, batch: Batch) -> Tensor:
        self.model.train()
        x, y = batch
        loss = self._data_loss(self.model(x), y)
        pen = self._penalty(self._weights)
        if pen is not None:
            loss = loss + pen
        weights = list(self._weights.values())
        grads = weight_grads(loss, weights)
        with torch.no_grad():
            for p, g in zip(weights, grads):
                p.add_(g, alpha=-self.lr)
        return loss.detach()

    def _apply(self, grads: Sequence[Tensor], train_loss: float, val_loss: float) -> None:
        """One hyper step; a hyperparameter whose hypergradient is not finite keeps its value
        and its Adam moments (as the hd optimizers keep their rate), and the run warns once
        (:class:`~hyperlab.hypergrad.finite.FiniteStep`)."""
        entries = [((name,), t, g) for (name, t), g in zip(self._tuned.items(), grads)]
        self._finite_step.step(entries, self._step)
        h = self.history
        h.step.append(self._step)
        for name, value in self.values().items():
            h.values.setdefault(name, []).append(value)
        for name, g in zip(self._tuned, grads):
            h.hypergrads.setdefault(name, []).append(float(g.sum()))
        h.train_loss.append(train_loss)
        h.val_loss.append(val_loss)

    def _t1t2(self, batch: Batch, val_batch: Batch) -> None:
        res = t1t2_hypergradient(
            self._train_loss_fn(batch),
            self._val_loss_fn(val_batch),
            self._weights,
            list(self._tuned.values()),
            self.lr,
        )
        with torch.no_grad():
            for n, p in self._weights.items():
                p.copy_(res.new_params[n])
        self._apply(res.hypergrads, float(res.train_loss), float(res.val_loss))

    def _ift(self, batch: Batch, val_batch: Batch) -> None:
        loss = self._sgd_step(batch)
        # the hypergradient's forward on the batch is no training step: BatchNorm's running
        # statistics (and any other buffer) are put back as the SGD step left them
        kept = [(b, b.clone()) for b in self.model.buffers()]
        grads = ift_hypergradient(
            self._train_loss_fn(batch),
            self._val_loss_fn(val_batch),
            self._weights,
            list(self._tuned.values()),
            neumann_steps=self.neumann_steps,
            alpha=self.neumann_alpha,
        )
        with torch.no_grad():
            for buffer, value in kept:
                buffer.copy_(value)
            vloss = float(self._val_loss_fn(val_batch)(self._weights))
        self._apply(grads, float(loss), vloss)

    def _train_objective(self, batch: Batch, val_batch: Batch) -> None:
        hs = list(self._tuned.values())
        loss = self._train_loss_fn(batch)(self._weights)
        out = torch.autograd.grad(loss, hs, allow_unused=True, retain_graph=True)
        grads = [torch.zeros_like(h) if g is None else g for h, g in zip(hs, out)]
        weights = list(self._weights.values())
        wgrads = weight_grads(loss, weights)
        with torch.no_grad():
            for p, g in zip(weights, wgrads):
                p.add_(g, alpha=-self.lr)
            vloss = float(self._val_loss_fn(val_batch)(self._weights))
        self._apply(grads, float(loss.detach()), vloss)


METHODS: dict[str, Callable[[HyperTrainer, Batch, Batch], None]] = {
    "t1t2": HyperTrainer._t1t2,
    "ift": HyperTrainer._ift,
    "train": HyperTrainer._train_objective,
}
"""Hyperparameter-step methods by name."""


def _checked_state(
    kind: str, state: Any, hypers: Mapping[str, Tensor], tuned: list[str]
) -> Mapping[str, Tensor]:
    """The hyperparameter values of a :meth:`HyperTrainer.state_dict` (``kind``: the name of
    the loading trainer's class), refusing one that is not such a state or is another
    trainer's (other hyperparameters, shapes, dtypes or tuned names)."""
    state = check_trainer_state(state, kind, HYPER_TRAINER_KEYS)
    values = state["hyperparameters"]
    theirs = (
        {n: tuple(v.shape) for n, v in values.items() if isinstance(v, Tensor)}
        if isinstance(values, Mapping)
        else {}
    )
    ours = {n: tuple(t.shape) for n, t in hypers.items()}
    if theirs != ours or list(state["tune"]) != tuned:
        raise InputError(
            f"this state is of another trainer: hyperparameters {theirs}, tuned "
            f"{list(state['tune'])}; this trainer's are {ours}, tuned {tuned}; nothing was loaded"
        )
    for name, t in hypers.items():
        check_dtype(f"{kind} state: its hyperparameter {name!r}", values[name], "this one", t.dtype)
    return values


def _check_settings(
    model: Any, criterion: Any, method: Any, lr: Any, hyper_lr: Any, hyper_every: Any
) -> None:
    """Refuse a :class:`HyperTrainer` setting out of range or of the wrong type (see its
    Raises)."""
    if not isinstance(model, nn.Module):
        raise InputTypeError(f"model must be a torch.nn.Module, got {type(model)!r}")
    check_criterion(criterion)
    if not isinstance(method, str):
        raise InputTypeError(f"method must be one name of {sorted(METHODS)}, got {method!r}")
    if method not in METHODS:
        raise InputError(f"unknown method {method!r}; known methods: {sorted(METHODS)}")
    check_nonneg("lr", lr)
    check_nonneg("hyper_lr", hyper_lr)
    check_positive_int("hyper_every", hyper_every)


def scalar_loss(criterion: Callable[[Tensor, Tensor], Tensor], out: Tensor, y: Tensor) -> Tensor:
    """``criterion(out, y)``, refused unless it is a scalar (one value to descend).

    Raises:
        InputError: Naming what the criterion returned instead (a loss per example, from
            ``reduction='none'``).
    """
    loss = criterion(out, y)
    if not isinstance(loss, Tensor) or loss.numel() != 1:
        got = f"shape {tuple(loss.shape)}" if isinstance(loss, Tensor) else repr(loss)
        raise InputError(
            f"criterion {criterion!r} returned {got}, not a scalar tensor: give a loss that "
            "averages over the batch (reduction='mean', the default)"
        )
    return loss.reshape(())


def check_criterion(criterion: Any) -> None:
    """Refuse a ``criterion`` that is not callable (a loss's name, such as ``"mse"``), or is a
    loss class rather than one made of it (``nn.CrossEntropyLoss`` for
    ``nn.CrossEntropyLoss()``: called on the outputs, it would build a loss object)."""
    if isinstance(criterion, type):
        raise InputTypeError(
            f"criterion must be a loss function, got the class {criterion.__name__}: make one, "
            f"{criterion.__name__}()"
        )
    if not callable(criterion):
        raise InputTypeError(
            f"criterion must be a loss function such as nn.MSELoss() or F.cross_entropy, "
            f"got {criterion!r}"
        )


def _regularizer_list(regularizers: Any) -> list[Regularizer]:
    """``regularizers`` as a list, refusing one regularizer not in a list."""
    if isinstance(regularizers, Regularizer):
        name = type(regularizers).__name__
        raise InputTypeError(
            f"regularizers must be a list of Regularizers, got one {name}: put it in a list, "
            f"[{name}(...)]"
        )
    if isinstance(regularizers, str) or not isinstance(regularizers, Iterable):
        raise InputTypeError(f"regularizers must be a list of Regularizers, got {regularizers!r}")
    return list(regularizers)


def _collect(
    model: nn.Module, regularizers: Sequence[Regularizer]
) -> list[tuple[Regularizer, str, str, nn.Parameter]]:
    """Every hyperparameter of the regularizers in ``model`` and of ``regularizers``.

    Returns:
        ``(regularizer, name, name inside the regularizer, tensor)`` per hyperparameter; a
        name shared by two regularizers is prefixed with the module path (``path:name``).

    Raises:
        InputTypeError: An entry of ``regularizers`` is not a :class:`Regularizer`.
        InputError: Two hyperparameters still share a name, or a regularizer inside the model
            has a penalty (applied only to those passed in) and is not among ``regularizers``.
    """
    found: list[tuple[str, Regularizer]] = list(find_regularizers(model))
    for reg in regularizers:
        if not isinstance(reg, Regularizer):
            raise InputTypeError(f"not a Regularizer: {reg!r}")
    for path, reg in found:
        if type(reg).penalty is not Regularizer.penalty and not any(reg is r for r in regularizers):
            raise InputError(
                f"{type(reg).__name__} at {path!r} inside the model adds a penalty to the loss, "
                "which only regularizers passed to HyperTrainer do (a module inside the model "
                "acts only in its forward pass): build it from the model you train and pass it "
                f"in, as HyperTrainer(model, loss, [{type(reg).__name__}(model)])"
            )
    found += [("", r) for r in regularizers if not any(r is m for _, m in found)]
    local = [(path, reg, n, t) for path, reg in found for n, t in reg.hyperparameters().items()]
    counts: dict[str, int] = {}
    for _, _, n, _ in local:
        counts[n] = counts.get(n, 0) + 1
    out = [(reg, n if counts[n] == 1 else f"{path}:{n}", n, t) for path, reg, n, t in local]
    names = [name for _, name, _, _ in out]
    if len(set(names)) != len(names):
        raise InputError(f"duplicate hyperparameter names {names}; give them distinct names")
    return out


def _check_penalties(
    model: nn.Module, regularizers: Sequence[Regularizer], params: Mapping[str, Tensor]
) -> None:
    """Refuse a regularizer whose penalty names parameters ``model`` lacks (one built from
    another module, or from a submodule: names are relative to the module it was given)."""
    for reg in regularizers:
        try:
            with torch.no_grad():
                reg.penalty(params)
        except InputError as exc:
            raise InputError(
                f"{type(reg).__name__} cannot be applied to model {type(model).__name__}: {exc}. "
                f"Build it from the model HyperTrainer trains ({type(reg).__name__}(model)): "
                f"the model's parameters are {sorted(params)[:6]}"
                + ("..." if len(params) > 6 else "")
            ) from None


def tune_names(tune: Any) -> list[str]:
    """The hyperparameter names of a ``tune`` argument: one name, or a list of them.

    Raises:
        InputTypeError: ``tune`` is neither, or holds something other than a string.
    """
    names = [tune] if isinstance(tune, str) else tune
    if not isinstance(names, Iterable) or isinstance(names, Mapping):
        raise InputTypeError(f"tune must be a hyperparameter name or a list of names, got {tune!r}")
    names = list(names)
    odd = [n for n in names if not isinstance(n, str)]
    if odd:
        raise InputTypeError(f"tune must hold hyperparameter names (strings), got {odd[0]!r} in it")
    return names
