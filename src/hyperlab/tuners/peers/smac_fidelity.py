"""SMAC3's Hyperband as a tuner: ``smac-hyperband`` (random configurations, Hyperband's
brackets of successive halving), through SMAC's ask/tell interface with budgets.

SMAC asks for a configuration *at a budget*: its brackets run ``eta**k`` times more
configurations at a fraction ``eta**-k`` of the maximum budget, and promote the best third of a
stage to the next budget, where the configuration is asked again. The budget is the trials'
epochs (``min_budget`` 1, ``max_budget`` the trials' epochs); SMAC's budgets are fractions
(52 epochs, ``eta`` 3: 1.93, 5.78, 17.3, 52), and a trial trains ``round(budget)`` epochs (at
least one). A trial SMAC asked at a lower budget is stopped (pruned) once it has reported that
many epochs, and SMAC is told its value there; one asked at the maximum budget completes. A
promoted configuration is a new trial with the same parameters, trained again from the first
epoch: that is what Hyperband without checkpoints costs, and the epochs count it.

SMAC is contained as for ``smac-rf`` (:mod:`hyperlab.tuners.peers.smac`): a temporary output
folder per sampler, its logging left unconfigured, ``PYTHONHASHSEED`` for runs that repeat
across processes. A failed trial is told the worst value told so far (nothing before any
value is known). Trials SMAC did not ask (enqueued ones, an earlier process's on a resumed
study) run to the full budget and SMAC is not told them: its brackets start afresh, which for
random configurations loses only the stages in flight.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from hyperlab.errors import InputError
from hyperlab.registry import TUNERS
from hyperlab.tasks.base import Task
from hyperlab.tuners.peers.base import ParamSpec, Space, check_positive_int, require
from hyperlab.tuners.peers.fidelity import BudgetedPeer
from hyperlab.tuners.peers.smac import PACKAGE, smac_facade


class SmacHyperbandSampler(BudgetedPeer):
    """SMAC3's ``HyperbandFacade`` behind the Optuna sampler contract (see the module doc).

    Args:
        space: The search space (``None``: learnt from the study's first finished trial).
        seed: Seeds SMAC's scenario and the peer's private global RNG state.
        max_budget: The trials' epochs when the study's pruner does not say them.
        eta: Hyperband's reduction factor (the best ``1 / eta`` of a stage are promoted).
    """

    peer_name = "smac-hyperband"
    loggers = ("smac",)
    package = PACKAGE
    modules = ("smac", "ConfigSpace", "smac.runhistory.dataclasses", "smac.intensifier.hyperband")

    def __init__(
        self,
        space: Space = None,
        seed: int | None = None,
        max_budget: int | None = None,
        eta: int = 3,
    ) -> None:
        super().__init__(space, seed, max_budget)
        self.eta = eta

    def _build(self, specs: list[ParamSpec]) -> Any:
        def facade(smac: Any, scenario: Callable[..., Any]) -> Any:
            settings = scenario(min_budget=1, max_budget=max(1, self.budget or 1))
            return smac.HyperbandFacade(
                settings,
                target_function=_never_called,
                intensifier=smac.HyperbandFacade.get_intensifier(settings, eta=self.eta),
                overwrite=True,
                logging_level=False,
            )

        return smac_facade(self.peer_name, self._seed, specs, facade)

    def _ask_budget(self) -> tuple[Any, float | None, dict[str, Any]]:
        info = self._peer.ask()
        return info, info.budget, dict(info.config)

    def _tell_budget(self, info: Any, loss: float, epochs: int) -> None:
        values = require("smac.runhistory.dataclasses", self.peer_name, PACKAGE)
        self._peer.tell(info, values.TrialValue(cost=loss), save=False)


def _never_called(config: Any, seed: int = 0, budget: float = 0.0) -> float:
    """The target function SMAC's facade requires (with a budget); hyperlab evaluates."""
    raise RuntimeError("hyperlab evaluates SMAC's configurations itself")


@TUNERS.add(
    "smac-hyperband",
    "SMAC3's Hyperband: random search in successive-halving brackets (peer; run with pruner "
    "'tuner'; pip install 'hyperlab[peers]')",
    packages=("smac", "ConfigSpace"),
)
def smac_hyperband(
    *,
    seed: int | None = None,
    space: Space = None,
    task: Task | None = None,
    eta: int = 3,
    **_: Any,
) -> SmacHyperbandSampler:
    """SMAC3's ``HyperbandFacade`` with reduction factor ``eta`` over budgets of 1 to the
    trials' epochs.

    Raises:
        InputError: SMAC is not installed (the message gives the install command), or ``eta``
            is not an integer of at least 2.
    """
    require("smac", "smac-hyperband", PACKAGE)
    check_positive_int("eta", eta, allow_none=False)
    if eta < 2:
        raise InputError(f"eta must be an integer of at least 2, got {eta}")
    budget = getattr(task, "max_budget", None) if task is not None else None
    return SmacHyperbandSampler(space, seed, max_budget=budget, eta=eta)
