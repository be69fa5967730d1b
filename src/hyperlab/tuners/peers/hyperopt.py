"""Hyperopt's TPE as a tuner: ``hyperopt-tpe``.

Hyperopt drives its own loop (``fmin``), so the sampler uses the pieces ``fmin`` is made of:
a ``Domain`` over the space, a ``Trials`` store, and ``tpe.suggest``, Hyperopt's own TPE, which
reads the store and returns one new trial document. Asking is one ``tpe.suggest`` call; telling
writes the result into that document and inserts it into the store, exactly as ``fmin`` does
after evaluating it. A point hyperlab evaluated without asking (an enqueued one) is inserted as
a finished document of its own. The objective ``Domain`` holds is never called.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from hyperlab.registry import TUNERS
from hyperlab.tuners.classic import with_startup
from hyperlab.tuners.peers.base import (
    CHOICE,
    FLOAT,
    ParamSpec,
    PeerSampler,
    Space,
    check_positive_int,
    require,
)

PACKAGE = "hyperopt>=0.3.0"


class HyperoptSampler(PeerSampler):
    """Hyperopt's TPE behind the Optuna sampler contract.

    The space maps to Hyperopt's own expressions: ``uniform``/``loguniform`` for float ranges,
    ``uniformint``/``qloguniform(q=1)`` for integer ranges (Hyperopt's convention: the ends get
    half the mass of the inner integers), ``choice`` among indices for a choice.

    Args:
        space: The search space (``None``: learnt from the study's first finished trial).
        seed: Seeds each ``tpe.suggest`` call (through the peer's private RNG stream).
        n_startup_jobs: Trials drawn at random before TPE models (Hyperopt's default, 20).
    """

    peer_name = "hyperopt-tpe"
    package = PACKAGE
    modules = ("hyperopt", "hyperopt.base", "hyperopt.tpe")
    loggers = ("hyperopt",)

    def __init__(self, space: Space = None, seed: int | None = None, n_startup_jobs: int = 20):
        super().__init__(space, seed)
        self.n_startup_jobs = n_startup_jobs

    def _build(self, specs: list[ParamSpec]) -> Any:
        hyperopt = require("hyperopt", self.peer_name, PACKAGE)
        space = {s.name: _expression(hyperopt.hp, s) for s in specs}
        domain = hyperopt.base.Domain(lambda _: 0.0, space)
        return domain, hyperopt.Trials()

    def _ask(self) -> tuple[Any, dict[str, Any]]:
        hyperopt = require("hyperopt", self.peer_name, PACKAGE)
        domain, trials = self._peer
        seed = int(np.random.randint(2**31 - 1))  # the peer's private stream
        doc = hyperopt.tpe.suggest(
            trials.new_trial_ids(1),
            domain,
            trials,
            seed,
            n_startup_jobs=self.n_startup_jobs,
        )[0]
        return doc, {name: values[0] for name, values in doc["misc"]["vals"].items()}

    def _tell(self, handle: Any, loss: float | None) -> None:
        hyperopt = require("hyperopt", self.peer_name, PACKAGE)
        _, trials = self._peer
        handle["state"] = hyperopt.JOB_STATE_DONE
        handle["result"] = (
            {"status": hyperopt.STATUS_FAIL}
            if loss is None
            else {"status": hyperopt.STATUS_OK, "loss": loss}
        )
        trials.insert_trial_docs([handle])
        trials.refresh()

    def _tell_new(self, raw: dict[str, Any], loss: float) -> None:
        domain, trials = self._peer
        (tid,) = trials.new_trial_ids(1)
        misc = {
            "tid": tid,
            "cmd": domain.cmd,
            "workdir": None,
            "idxs": {name: [tid] for name in raw},
            "vals": {name: [value] for name, value in raw.items()},
        }
        (doc,) = trials.new_trial_docs([tid], [None], [{}], [misc])
        self._tell(doc, loss)


def _expression(hp: Any, spec: ParamSpec) -> Any:
    name = spec.name
    if spec.kind == CHOICE:
        return hp.choice(name, list(range(int(spec.high) + 1)))
    if spec.kind == FLOAT:
        if spec.log:
            return hp.loguniform(name, math.log(spec.low), math.log(spec.high))
        return hp.uniform(name, spec.low, spec.high)
    if spec.log:
        return hp.qloguniform(name, math.log(spec.low), math.log(spec.high), 1)
    return hp.uniformint(name, spec.low, spec.high)


@TUNERS.add(
    "hyperopt-tpe", "Hyperopt's TPE (peer; pip install 'hyperlab[peers]')", packages=("hyperopt",)
)
def hyperopt_tpe(
    *, seed: int | None = None, space: Space = None, n_startup_jobs: int = 20, **_: Any
) -> HyperoptSampler:
    """Hyperopt's TPE, drawing ``n_startup_jobs`` trials at random first.

    Raises:
        InputError: Hyperopt is not installed (the message gives the install command), or
            ``n_startup_jobs`` is not a positive integer.
    """
    require("hyperopt", "hyperopt-tpe", PACKAGE)
    check_positive_int("n_startup_jobs", n_startup_jobs, allow_none=False)
    sampler = HyperoptSampler(space, seed, n_startup_jobs=n_startup_jobs)
    return with_startup(sampler, n_startup_jobs)  # type: ignore[no-any-return]
