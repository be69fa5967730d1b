"""Nevergrad as a tuner: ``nevergrad`` (NGOpt by default, any optimizer of its registry).

NGOpt is a wizard: it picks an algorithm from the budget, the number of workers, the kinds of
parameters and, in places, from which versions of its own dependencies (SciPy among them) are
installed. The sampler records the algorithm it picked in :attr:`NevergradSampler.algorithm`
so a result says what actually ran; ``docs/peers.md`` lists the picks measured with the pinned
versions.

Some of NGOpt's picks (SciPy's COBYLA and other "recast" optimizers) run the wrapped routine in
a background thread that waits for each tell; they take one trial at a time, and cannot learn
from points they did not propose. The sampler therefore

- starts every Nevergrad ask from a short-lived daemon thread, so such a background thread is
  a daemon too and a process that ends before the budget is spent does not wait for it;
- draws a trial at random while such an optimizer's proposal is still running (parallel
  trials), and leaves points it did not propose (enqueued ones, a resumed study's) untold;
- tells a failed trial with no value known yet as ``inf`` (Nevergrad's "worst"), since such an
  optimizer blocks until its proposal is told;
- asks such an optimizer for its next point right after each tell and keeps it for the next
  trial: the routine runs on from the tell until it proposes that point, and asking inside the
  tell keeps what it says in that stretch (warnings) inside the tell's ``catch_warnings``
  block instead of changing the process's warning filters.
"""

from __future__ import annotations

import threading
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np

from hyperlab.registry import TUNERS
from hyperlab.tuners.peers.base import (
    CHOICE,
    FLOAT,
    ParamSpec,
    PeerSampler,
    Space,
    check_choice,
    check_positive_int,
    require,
)

PACKAGE = "nevergrad>=1.0.12"


class NevergradSampler(PeerSampler):
    """A Nevergrad optimizer behind the Optuna sampler contract.

    The space maps exactly: a float range is a ``Scalar`` (a ``Log`` on a log scale), an
    integer range the same with integer casting, a choice a ``Choice`` among indices.

    Args:
        space: The search space (``None``: learnt from the study's first finished trial).
        seed: Seeds the parametrization's random state and the peer's global RNG state.
        optimizer: A name in Nevergrad's optimizer registry.
        planned_trials: The number of trials Nevergrad plans for (its ``budget``; NGOpt picks
            its algorithm from it).
    """

    peer_name = "nevergrad"
    loggers = ("nevergrad",)
    package = PACKAGE
    modules = (
        "nevergrad",
        "nevergrad.optimization.optimizerlib",  # ng.optimizers
        "nevergrad.parametrization.parameter",  # ng.p
        "nevergrad.common.errors",  # ng.errors
    )

    def __init__(
        self,
        space: Space = None,
        seed: int | None = None,
        optimizer: str = "NGOpt",
        planned_trials: int = 100,
    ) -> None:
        super().__init__(space, seed)
        self.optimizer = optimizer
        self.planned_trials = planned_trials
        #: The algorithm that ran (NGOpt's pick; the optimizer's own name otherwise).
        self.algorithm: str | None = None
        self._sequential = False
        self._next: Any = None  # a one-at-a-time optimizer's next proposal, asked at the tell

    def _build(self, specs: list[ParamSpec]) -> Any:
        ng = require("nevergrad", self.peer_name, PACKAGE)
        params = {s.name: _parameter(ng, s) for s in specs}
        parametrization = ng.p.Dict(**params)
        parametrization.random_state = np.random.RandomState(self._seed)
        opt = ng.optimizers.registry[self.optimizer](
            parametrization=parametrization, budget=self.planned_trials, num_workers=1
        )
        picked = getattr(opt, "optim", None) or opt  # a wizard's pick, else the optimizer
        self.algorithm = str(getattr(picked, "name", self.optimizer))
        self._sequential = bool(getattr(picked, "no_parallelization", False))
        return opt

    def _can_ask(self) -> bool:
        return not (self._sequential and self._pending)

    def __getstate__(self) -> dict[str, Any]:
        state = super().__getstate__()
        state.pop("_next", None)  # a proposal of the peer the copy leaves behind
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        super().__setstate__(state)
        self._next = None

    def _ask(self) -> tuple[Any, dict[str, Any]]:
        candidate, self._next = self._next, None
        if candidate is None:
            with _quiet():
                candidate = _in_daemon_thread(self._peer.ask)
        return candidate, dict(candidate.value)

    def _tell(self, handle: Any, loss: float | None) -> None:
        with _quiet(everything=True):
            self._peer.tell(handle, float("inf") if loss is None else loss)
            if self._sequential:
                # the routine resumes in its thread on the tell and runs on until it proposes
                # its next point; asking for that point here keeps the stretch inside this block
                self._next = _in_daemon_thread(self._peer.ask)

    def _tell_new(self, raw: dict[str, Any], loss: float) -> None:
        ng = require("nevergrad", self.peer_name, PACKAGE)
        try:
            self._peer.tell(self._peer.parametrization.spawn_child(new_value=raw), loss)
        except ng.errors.TellNotAskedNotSupportedError:
            pass  # a recast optimizer learns only from its own proposals (see the module doc)


@contextmanager
def _quiet(everything: bool = False) -> Iterator[None]:
    """A block that does not show SciPy (1.17) correcting the stopping radius Nevergrad's COBYLA
    passes it (the correction is SciPy's own default, so the warning is noise; SciPy says it
    when the routine starts, which is in an ask or a tell), nor any warning if ``everything``
    (a tell: Nevergrad warns on an infinite loss, which is how a failure is told)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="COBYLA: Invalid RHOEND", category=UserWarning)
        if everything:
            warnings.simplefilter("ignore")
        yield


def _in_daemon_thread(call: Callable[[], Any]) -> Any:
    """``call()`` run in a daemon thread (threads it starts are daemons too), its result or its
    exception passed back."""
    out: dict[str, Any] = {}

    def run() -> None:
        try:
            out["value"] = call()
        except BaseException as e:  # handed to the caller below
            out["error"] = e

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join()
    if "error" in out:
        raise out["error"]
    return out["value"]


def _parameter(ng: Any, spec: ParamSpec) -> Any:
    if spec.kind == CHOICE:
        return ng.p.Choice(list(range(int(spec.high) + 1)))
    cls = ng.p.Log if spec.log else ng.p.Scalar
    param = cls(lower=spec.low, upper=spec.high)
    return param if spec.kind == FLOAT else param.set_integer_casting()


@TUNERS.add(
    "nevergrad",
    "Nevergrad's NGOpt wizard (peer; pip install 'hyperlab[peers]')",
    packages=("nevergrad",),
)
def nevergrad(
    *,
    seed: int | None = None,
    space: Space = None,
    optimizer: str = "NGOpt",
    planned_trials: int = 100,
    **_: Any,
) -> NevergradSampler:
    """Nevergrad's ``optimizer`` planning for ``planned_trials`` trials.

    Raises:
        InputError: Nevergrad is not installed (the message gives the install command).
        UnknownNameError: ``optimizer`` is not in Nevergrad's registry.
    """
    ng = require("nevergrad", "nevergrad", PACKAGE)
    check_choice("optimizer", optimizer, list(ng.optimizers.registry), "Nevergrad optimizer")
    check_positive_int("planned_trials", planned_trials, allow_none=False)
    return NevergradSampler(space, seed, optimizer=optimizer, planned_trials=planned_trials)
