"""Training the network on the prior: many small problems, one gradient step per batch, from
fresh weights or (``start``) from a trained network's."""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from hyperlab.errors import (
    InputError,
    InputTypeError,
    check_nonneg,
    check_nonneg_int,
    check_positive,
    check_positive_int,
)
from hyperlab.tuners.meta.model import PFN, PFNConfig
from hyperlab.tuners.meta.prior import TOO_FEW, Batch, TableProblems, gp_batch, split_sizes


@dataclass(frozen=True)
class TrainingPlan:
    """How the network is trained.

    Each field is checked when the plan is made (see :meth:`__post_init__`).

    Attributes:
        steps: Gradient steps (0: none, the start's or fresh weights as they are).
        batch: Problems per step.
        max_context: The largest context (a study's trials the network reads at once).
        queries: Query points per problem.
        table_share: Share of batches drawn from real problems (when there are any).
        lr: Peak learning rate of AdamW (linear warm-up, cosine decay).
        additive: Share of the GP-prior problems that are rugged and nearly separable
            (:func:`~hyperlab.tuners.meta.prior.gp_batch`).
        categorical: Of the GP-prior problems that have a categorical and are not drawn
            rugged (``additive``), the share whose categoricals' choices share the shape of
            the score over the other parameters (same function).
        seed: Seed of the prior's draws and of the initial weights.
    """

    steps: int = 20000
    batch: int = 48
    max_context: int = 100
    queries: int = 32
    table_share: float = 0.3
    lr: float = 1e-3
    additive: float = 0.0
    categorical: float = 0.0
    seed: int = 0

    def __post_init__(self) -> None:
        """Refuse a field of the wrong type or out of its range, by name and value.

        Raises:
            InputTypeError: A count or the seed is not an integer (a bool, ``10.0``), or a
                share or the learning rate is not a number.
            InputError: ``steps`` or ``seed`` is negative, ``batch``, ``max_context`` or
                ``queries`` below 1, a share (``table_share``, ``additive``,
                ``categorical``) outside [0, 1], or ``lr`` not a finite number > 0.
        """
        check_nonneg_int("steps", self.steps)
        for name in ("batch", "max_context", "queries"):
            check_positive_int(name, getattr(self, name))
        for name in ("table_share", "additive", "categorical"):
            _check_share(name, getattr(self, name))
        check_positive("lr", self.lr)
        check_nonneg_int("seed", self.seed)


def _check_share(name: str, value: object) -> None:
    """Refuse a share that is not a number from 0 to 1 (NaN neither)."""
    try:
        inside = check_nonneg(name, value) <= 1
    except InputError:  # (negative or not finite; not a number at all: InputTypeError)
        inside = False
    if not inside:
        raise InputError(f"{name} must be a share from 0 to 1, got {value!r}")


def draw(
    plan: TrainingPlan, config: PFNConfig, tables: TableProblems | None, rng: np.random.Generator
) -> Batch:
    """One batch of problems of one size, from the GP prior or the real problems."""
    n_ctx, n_query = split_sizes(rng, plan.max_context, plan.queries)
    if tables is not None and len(tables) and rng.random() < plan.table_share:
        return tables.batch(rng, plan.batch, n_ctx, n_query)
    return gp_batch(
        rng, plan.batch, n_ctx, n_query, config.max_dim, plan.additive, plan.categorical
    )


def train(
    config: PFNConfig,
    plan: TrainingPlan,
    tables: TableProblems | None = None,
    device: str = "cpu",
    log: Callable[[str], None] | None = None,
    seconds: float | None = None,
    start: PFN | None = None,
) -> PFN:
    """Train a network on the prior and return it (on the CPU, in eval mode): a fresh one, or
    a copy of ``start`` (fine-tuning; ``start`` itself is left as it was).

    Args:
        config: The network's shape.
        plan: Steps, batch size, context sizes, mixture and seed.
        tables: Real training problems mixed into the prior.
        device: Torch device to train on (``"cuda"`` where one exists).
        log: Called with a progress line every 200 steps.
        seconds: Stop early after this many seconds (the schedule still anneals as planned
            for ``plan.steps``).
        start: A trained network of shape ``config`` to go on training (the shipped one,
            :func:`hyperlab.tuners.meta.weights.load`): the schedule starts afresh, warm-up
            and cosine decay from ``plan.lr`` over ``plan.steps``, and the batches mix the
            GP prior with ``tables`` as from scratch, so that the network keeps the prior it
            learnt while it reads the new problems.

    Raises:
        InputError: ``tables`` is given but holds no problem the network can read, or
            ``start`` is not of shape ``config``.
        InputTypeError: ``start`` is not a :class:`PFN`.
    """
    if tables is not None and not len(tables):
        raise InputError(
            f"none of the real problems can be trained on: each needs more than {TOO_FEW} "
            f"configurations and at most {config.max_dim} encoded columns (pass tables=None "
            "to train on the GP prior alone)"
        )
    torch.manual_seed(plan.seed)
    rng = np.random.default_rng(plan.seed)
    model = PFN(config).to(device) if start is None else _copy(start, config).to(device)
    model.train()
    opt = torch.optim.AdamW(model.parameters(), lr=plan.lr, weight_decay=0.01)
    warm = max(1, plan.steps // 50)

    def rate(step: int) -> float:
        if step < warm:
            return (step + 1) / warm
        return 0.5 * (1 + math.cos(math.pi * (step - warm) / max(1, plan.steps - warm)))

    sched = torch.optim.lr_scheduler.LambdaLR(opt, rate)
    began, running, step = time.perf_counter(), 0.0, 0
    for step in range(plan.steps):
        b = draw(plan, config, tables, rng)
        logits = model(*(t.to(device) for t in (b.x_ctx, b.y_ctx, b.x_query, b.flags)))
        loss = model.bars.loss(logits, b.y_query.to(device))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
        running = 0.98 * running + 0.02 * loss.item() if step else loss.item()
        elapsed = time.perf_counter() - began
        if log is not None and (step + 1) % 200 == 0:
            log(f"step {step + 1}/{plan.steps} loss {running:.4f} ({elapsed:.0f} s)")
        if seconds is not None and elapsed > seconds:
            break
    model.steps_done = step + 1 if plan.steps else 0  # type: ignore[assignment]
    return model.cpu().eval()


def _copy(start: PFN, config: PFNConfig) -> PFN:
    """A copy of ``start`` to train (a loaded network is shared by every sampler of the
    process, so it is never trained in place).

    Raises:
        InputTypeError: ``start`` is not a :class:`PFN`.
        InputError: Its shape is not ``config``; the message gives both.
    """
    if not isinstance(start, PFN):
        raise InputTypeError(
            f"start must be a trained PFN (weights.load(path).model), got {type(start).__name__}"
        )
    if start.config != config:
        raise InputError(
            f"start is a network of shape {start.config.to_dict()}, not the shape to train "
            f"{config.to_dict()}: pass its own config (start.config)"
        )
    return copy.deepcopy(start)
