"""DEHB (differential evolution in Hyperband's brackets) as a tuner: ``dehb``, through its
ask/tell interface with fidelities.

DEHB asks for a configuration *at a fidelity*: the fidelity is the trials' epochs
(``min_fidelity`` 1, ``max_fidelity`` the trials' epochs, ``eta`` 3), and a trial asked at a
lower one is stopped there (:class:`~hyperlab.tuners.peers.fidelity.BudgetedPeer`). A failed
trial is told the worst value so far, or an infinite one before any (DEHB's own "not yet
evaluated" fitness).

DEHB 0.1.2 pins NumPy below 2; 0.1.1, which the ``peers`` extra pins, runs with NumPy 2. It is
contained:

- importing it replaces the handlers of the process's ``loguru`` logger with one that prints
  its INFO messages to stdout (a process-wide effect of the import that ``loguru`` offers no
  way to undo); the adapter turns off the messages of ``dehb``'s own modules
  (``logger.disable("dehb")``), so DEHB prints nothing;
- each optimizer would add a log-file sink (with its own writer thread, never removed) in its
  output folder: the adapter's optimizer adds none, and it is given a temporary folder of its
  own (removed when the sampler is collected) that it is never asked to save into;
- its random generator is seeded from the seed (``np.random.default_rng``), and its
  configuration space's from the same seed; every call runs inside the peer's private global
  RNG state as well.
"""

from __future__ import annotations

import math
import shutil
import tempfile
import warnings
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from hyperlab.errors import InputError, InputTypeError
from hyperlab.registry import TUNERS
from hyperlab.tasks.base import Task
from hyperlab.tuners.peers.base import ParamSpec, Space, require
from hyperlab.tuners.peers.fidelity import BudgetedPeer
from hyperlab.tuners.peers.smac import hyperparameter_of

PACKAGE = "dehb==0.1.1"


def _load_dehb(peer: str) -> Any:
    """DEHB's optimizer class, its messages turned off (see the module doc)."""
    module = require("dehb", peer, PACKAGE)
    require("loguru", peer, PACKAGE).logger.disable("dehb")
    return module.DEHB


class DehbSampler(BudgetedPeer):
    """DEHB behind the Optuna sampler contract (see the module doc).

    Args:
        space: The search space (``None``: learnt from the study's first finished trial).
        seed: Seeds DEHB, its configuration space and the peer's private global RNG state.
        max_budget: The trials' epochs when the study's pruner does not say them.
        eta: Hyperband's reduction factor.
    """

    peer_name = "dehb"
    package = PACKAGE
    modules = ("dehb", "loguru", "ConfigSpace")

    def __init__(
        self,
        space: Space = None,
        seed: int | None = None,
        max_budget: int | None = None,
        eta: int = 3,
    ) -> None:
        super().__init__(space, seed, max_budget)
        self.eta = eta

    def _check_budget(self, budget: int) -> None:
        if budget < 2:
            raise InputError(
                f"tuner 'dehb' needs trials of at least 2 epochs (its fidelities run from 1 to "
                f"the trials' epochs), got {budget}"
            )

    def _build(self, specs: list[ParamSpec]) -> Any:
        cfg = require("ConfigSpace", self.peer_name, PACKAGE)
        optimizer = _quiet(_load_dehb(self.peer_name))
        space = cfg.ConfigurationSpace(seed=self._seed)
        space.add([hyperparameter_of(cfg, s) for s in specs])
        folder = tempfile.mkdtemp(prefix="hyperlab-dehb-")
        with warnings.catch_warnings(), _removed_on_error(folder):
            warnings.simplefilter("ignore", DeprecationWarning)  # DEHB reads deprecated methods
            dehb = optimizer(
                cs=space,
                min_fidelity=1,
                max_fidelity=self.budget,
                eta=self.eta,
                n_workers=1,
                output_path=folder,
                seed=self._seed,
                save_freq=None,
            )
        weakref.finalize(dehb, shutil.rmtree, folder, ignore_errors=True)
        return dehb

    def _ask_budget(self) -> tuple[Any, float | None, dict[str, Any]]:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            job = self._peer.ask()
        return job, float(job["fidelity"]), dict(job["config"])

    def _tell_budget(self, info: Any, loss: float, epochs: int) -> None:
        self._peer.tell(info, {"fitness": loss, "cost": float(epochs)})

    def _failure_loss(self) -> float | None:
        return math.inf


@contextmanager
def _removed_on_error(folder: str) -> Iterator[None]:
    """Remove ``folder`` when the block raises (the optimizer that would own it is not built)."""
    try:
        yield
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise


def _quiet(optimizer: type) -> type:
    """DEHB's optimizer without the log-file sink each instance adds (see the module doc)."""

    class QuietDEHB(optimizer):  # type: ignore[valid-type, misc]
        def _setup_logger(self, kwargs: dict[str, Any]) -> None:
            self.output_path = Path(kwargs["output_path"])
            self.logger = require("loguru", "dehb", PACKAGE).logger
            self.log_filename = None

    return QuietDEHB


@TUNERS.add(
    "dehb",
    "DEHB: differential evolution in Hyperband's brackets (peer; run with pruner 'tuner'; "
    "pip install 'hyperlab[peers]')",
    packages=("dehb", "ConfigSpace"),
)
def dehb(
    *,
    seed: int | None = None,
    space: Space = None,
    task: Task | None = None,
    eta: int = 3,
    **_: Any,
) -> DehbSampler:
    """DEHB with reduction factor ``eta`` over fidelities of 1 to the trials' epochs (its other
    settings are DEHB's defaults: mutation factor 0.5, crossover probability 0.5,
    ``rand1_bin``).

    Raises:
        InputError: DEHB is not installed (the message gives the install command), or ``eta``
            is not an integer of at least 2.
    """
    _load_dehb("dehb")
    if isinstance(eta, bool) or not isinstance(eta, int):
        raise InputTypeError(f"eta must be an integer of at least 2, got {eta!r}")
    if eta < 2:
        raise InputError(f"eta must be an integer of at least 2, got {eta}")
    budget = getattr(task, "max_budget", None) if task is not None else None
    return DehbSampler(space, seed, max_budget=budget, eta=eta)
