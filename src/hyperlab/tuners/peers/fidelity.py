"""Multi-fidelity peers: tuners that propose configurations *and* stop trials by their own rule.

A multi-fidelity peer (Syne Tune's ASHA and BOHB, ...) decides after each epoch whether a trial
goes on. In hyperlab a trial reports its value after each epoch and asks the study's pruner;
:class:`MultiFidelityPeer` answers through the pruner ``tuner``
(:class:`hyperlab.pruners.tuner_rule.TunerRulePruner`), which asks a sampler that declares
``stops_trials`` for :meth:`~MultiFidelityPeer.should_stop`. A trial the peer stops is then an
Optuna trial pruned at that epoch, so its epochs are counted as every pruner's are (its
reported steps), and a complete trial is one the peer let run to the budget.

- **Budget.** The peer's maximum resource is the trials' epochs: the ``max_budget`` of the
  study's pruner ``tuner`` (the run's budget, else the task's epochs, as every pruner gets them),
  else the task's epochs (the factory gets the task). A run that gives neither is refused
  (:meth:`~MultiFidelityPeer.check_run`), as is a run with any other pruner: a second rule
  would stop the peer's trials behind its back, and without ``tuner`` the peer's rule would
  never be asked (a silent random search).
- **What the peer is told.** Each reported epoch below the budget, once, as the trial reports it
  (the peer's answer stops the trial); a complete trial's value at its last epoch; a trial the
  peer stopped is closed as stopped; a failed trial, or one stopped by something else (another
  pruner in a plain Optuna study), is told the epochs it reported and closed as an error, as the
  peer's own loop does with a trial that ends without its say. A maximized study's values are
  negated.
- **Trials the peer did not propose** (enqueued ones, a resumed study's) are adopted: a running
  one when it first reports, a finished one before the next ask, replaying its epochs, so a
  resumed run's rule starts from the study's history.

A subclass implements :meth:`_build` (with :attr:`budget` known), :meth:`_ask`,
:meth:`_register`, :meth:`_report` and :meth:`_end`; a peer that asks for a configuration at a
budget (Hyperband, DEHB) subclasses :class:`BudgetedPeer` instead.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from optuna.study import Study, StudyDirection
from optuna.trial import FrozenTrial, TrialState

from hyperlab.errors import InputError, SetupWarning
from hyperlab.tuners.peers.base import PeerSampler, Space

#: The pruner that asks the tuner (registered in :mod:`hyperlab.pruners.tuner_rule`).
PRUNER = "tuner"
#: The peer's maximum resource in a plain Optuna study that says no budget (the rule is then
#: never asked; the value only sizes the peer's bookkeeping).
UNASKED_BUDGET = 100


class MultiFidelityPeer(PeerSampler):
    """A peer that proposes configurations and stops trials epoch by epoch (see the module doc).

    Args:
        space: The search space (``None``: learnt from the study's first finished trial).
        seed: Seeds the peer and its private global RNG state.
        max_budget: The trials' epochs when no pruner ``tuner`` says them (the task's epochs).
    """

    #: It decides when a trial stops (the pruner ``tuner`` asks :meth:`should_stop`).
    stops_trials = True

    def __init__(
        self, space: Space = None, seed: int | None = None, max_budget: int | None = None
    ) -> None:
        super().__init__(space, seed)
        self.max_budget = max_budget

    def _reset(self) -> None:
        super()._reset()
        self._forget()

    def _forget(self) -> None:
        self.budget: int | None = None
        self._steps: dict[int, int] = {}  # trial number -> last epoch told
        self._stopped: set[int] = set()  # trial numbers the peer stopped
        self._warned_steps = False

    def __setstate__(self, state: dict[str, Any]) -> None:
        super().__setstate__(state)
        self._forget()

    # --- what a multi-fidelity peer implements -----------------------------------------------
    def _register(self, raw: dict[str, Any]) -> Any:
        """Add a trial the peer did not propose (raw values ``raw``); returns its handle."""
        raise NotImplementedError

    def _report(self, handle: Any, epoch: int, loss: float) -> bool:
        """Tell the peer a trial's loss after ``epoch`` epochs; ``True``: it stops the trial."""
        raise NotImplementedError

    def _end(self, handle: Any, how: str) -> None:
        """Close a trial: ``"complete"``, ``"stopped"`` (by the peer) or ``"error"``."""
        raise NotImplementedError

    # --- the run's checks and the stopping rule ----------------------------------------------
    def check_run(
        self, *, trials: int, budget: int | None, pruners: list[str], stop_at_noise: bool
    ) -> None:
        """Refuse, before the run starts, a pruner other than ``tuner`` and an unknown budget.

        Raises:
            InputError: Naming the pruners or the missing budget.
        """
        if any(p != PRUNER for p in pruners):
            raise InputError(
                f"tuner {self.peer_name!r} stops trials by its own rule: run it with pruner "
                f"{PRUNER!r} (which asks the tuner), got {pruners}; in a comparison, pruner "
                f"{PRUNER!r} runs the trials of a tuner without a rule of its own in full"
            )
        if budget is None:
            raise InputError(
                f"tuner {self.peer_name!r} needs the trials' epochs before the first trial: "
                "give a budget"
            )
        self._check_budget(budget)

    def _check_budget(self, budget: int) -> None:
        """Refuse a budget the peer's settings cannot work with (a subclass adds its checks)."""

    def sample_relative(
        self, study: Study, trial: FrozenTrial, search_space: dict[str, Any]
    ) -> dict[str, Any]:
        with self._lock:
            if self.budget is None:
                self.budget = self._study_budget(study)
        return super().sample_relative(study, trial, search_space)

    def _study_budget(self, study: Study) -> int:
        """The trials' epochs: the pruner ``tuner``'s, else the task's (see the module doc)."""
        asked = getattr(study.pruner, "asks_tuner", False)
        budget = getattr(study.pruner, "max_budget", None) if asked else None
        budget = budget if budget is not None else self.max_budget
        if budget is None and asked:
            raise InputError(
                f"tuner {self.peer_name!r} needs the trials' epochs: give the pruner "
                f"{PRUNER!r} a max_budget (or the tuner a task)"
            )
        budget = UNASKED_BUDGET if budget is None else budget
        self._check_budget(budget)
        return int(budget)

    def should_stop(self, study: Study, trial: FrozenTrial) -> bool:
        """Whether the peer stops ``trial`` after the epoch it has just reported (asked by the
        pruner ``tuner``). The budget's last epoch is never a stop: the trial completes."""
        step = trial.last_step
        if step is None:
            return False
        value = trial.intermediate_values[step]
        with self._lock:
            self._check_steps(trial)
            if self._peer is None or self.budget is None or step >= self.budget:
                return False
            if step <= self._steps.get(trial.number, 0):
                return False
            if not math.isfinite(value):
                return True
            with self._rng.active():
                handle = self._pending.get(trial.number)
                if handle is None:
                    handle = self._adopt(trial)
                    if handle is None:
                        return False
                stop = self._report(handle, step, self._sign(study) * value)
            self._steps[trial.number] = step
            if stop:
                self._stopped.add(trial.number)
            return bool(stop)

    def _check_steps(self, trial: FrozenTrial) -> None:
        """Warn once when a trial's steps are not its epochs 1, 2, 3, ... (steps from 0: the
        rule stops trials an epoch late, and a trial never reports the budget's last epoch, so
        a budget-asking peer is never told a complete trial's value)."""
        steps = sorted(trial.intermediate_values)
        if self._warned_steps or steps == list(range(1, len(steps) + 1)):
            return
        self._warned_steps = True
        shown = ", ".join(map(str, steps[:4])) + (", ..." if len(steps) > 4 else "")
        warnings.warn(
            f"tuner {self.peer_name!r} reads a trial's steps as its epochs 1, 2, 3, ...; trial "
            f"{trial.number} reported steps {shown}: report once per epoch with step=epoch "
            "(1-based), or its rule stops trials at the wrong epochs",
            UserWarning,
            stacklevel=2,
        )

    # --- telling the peer how trials ended ----------------------------------------------------
    def _adopt(self, trial: FrozenTrial) -> Any:
        """Register a running trial the peer did not propose (``None``: not in its space)."""
        if not {s.name for s in self._specs} <= set(trial.params):
            return None
        handle = self._register({s.name: s.to_raw(trial.params[s.name]) for s in self._specs})
        self._pending[trial.number] = handle
        return handle

    def _finish(
        self,
        handle: Any,
        study: Study,
        trial: FrozenTrial,
        state: TrialState,
        values: Sequence[float] | None,
    ) -> None:
        told = self._steps.pop(trial.number, 0)
        stopped = trial.number in self._stopped
        self._stopped.discard(trial.number)
        self._close(handle, study, trial, state, values, told=told, stopped=stopped)

    def _tell_finished(self, study: Study, trial: FrozenTrial, raw: dict[str, Any]) -> None:
        handle = self._register(raw)
        stopped = trial.state == TrialState.PRUNED  # by the run's rule, in another process
        self._close(handle, study, trial, trial.state, trial.values, told=0, stopped=stopped)

    def _close(
        self,
        handle: Any,
        study: Study,
        trial: FrozenTrial,
        state: TrialState,
        values: Sequence[float] | None,
        *,
        told: int,
        stopped: bool,
    ) -> None:
        """Tell the peer the epochs ``trial`` reported after ``told`` and how it ended."""
        sign, budget = self._sign(study), self.budget or UNASKED_BUDGET
        for step in sorted(trial.intermediate_values):
            value = trial.intermediate_values[step]
            if told < step < budget and math.isfinite(value):
                self._report(handle, step, sign * value)
        if state == TrialState.COMPLETE and values and math.isfinite(values[0]):
            last = trial.last_step
            self._report(handle, last if last is not None else budget, sign * values[0])
            self._end(handle, "complete")
        else:
            self._end(handle, "stopped" if stopped and state == TrialState.PRUNED else "error")

    @staticmethod
    def _sign(study: Study) -> float:
        return -1.0 if study.direction == StudyDirection.MAXIMIZE else 1.0


def first_full_trial(budget: int, eta: int) -> int:
    """The trial in which Hyperband's first bracket (fidelities 1 to ``budget``, reduction
    ``eta``) first asks for the full budget: that bracket starts ``eta**s`` configurations
    (``eta**s <= budget``, ``s`` largest) and promotes a ``1 / eta`` of each stage, each
    promotion a new trial (9 + 3 + 1 = 13 for 20 epochs and ``eta`` 3)."""
    stages = [1]
    while stages[-1] * eta <= budget:
        stages.append(stages[-1] * eta)
    return sum(stages)


@dataclass
class Job:
    """A trial a budget-asking peer proposed: its handle there (``None``: not the peer's), the
    epochs it trains, and whether the peer has been told its value."""

    info: Any
    epochs: int
    told: bool = False


class BudgetedPeer(MultiFidelityPeer):
    """A peer that asks for a configuration *at a budget* (Hyperband's and DEHB's brackets).

    The trial trains ``round(budget)`` epochs (at least one, at most the trials' epochs) and is
    stopped there, and the peer is told its value at that epoch; one asked at the full budget
    completes. A configuration the peer promotes to a higher budget is asked again: a new trial
    with the same parameters, trained from the first epoch (what these methods cost without
    checkpoints; the epochs count it). A failed trial is told the worst value told so far
    (:meth:`_failure_loss` before any). Trials the peer did not ask run to the full budget and
    it is not told them (it cannot take a result it did not ask for).

    A subclass implements :meth:`_build`, :meth:`_ask_budget` and :meth:`_tell_budget`.
    """

    def _ask_budget(self) -> tuple[Any, float | None, dict[str, Any]]:
        """Ask the peer: ``(its handle, the budget in epochs or None for the full one, raw)``."""
        raise NotImplementedError

    def _tell_budget(self, info: Any, loss: float, epochs: int) -> None:
        """Tell the peer the loss of the proposal ``info`` after ``epochs`` epochs."""
        raise NotImplementedError

    def _failure_loss(self) -> float | None:
        """The loss a failure is told before any value is known (``None``: not told)."""
        return None

    def check_run(
        self, *, trials: int, budget: int | None, pruners: list[str], stop_at_noise: bool
    ) -> None:
        """As :meth:`MultiFidelityPeer.check_run`; also warns when ``trials`` end before the
        first bracket reaches the full budget (every trial is then stopped early, and the run
        completes none)."""
        super().check_run(
            trials=trials, budget=budget, pruners=pruners, stop_at_noise=stop_at_noise
        )
        eta = getattr(self, "eta", None)
        needed = first_full_trial(budget, eta) if budget is not None and eta else None
        if needed is not None and trials < needed:
            warnings.warn(
                f"tuner {self.peer_name!r} (eta {eta}, epochs 1 to {budget}) first trains a "
                f"configuration for all {budget} epochs in its trial {needed}; with "
                f"trials={trials} every trial is stopped early and the run completes none "
                f"(ask for at least {needed} trials)",
                SetupWarning,
                stacklevel=4,
            )

    def _ask(self) -> tuple[Any, dict[str, Any]]:
        info, budget, raw = self._ask_budget()
        full = self.budget or 1
        epochs = full if budget is None else min(full, max(1, round(budget)))
        return Job(info, epochs), raw

    def _register(self, raw: dict[str, Any]) -> Any:
        return Job(None, self.budget or 1, told=True)

    def _report(self, handle: Any, epoch: int, loss: float) -> bool:
        if epoch < handle.epochs:
            return False
        if not handle.told:
            self._tell_budget(handle.info, loss, handle.epochs)
            handle.told = True
            self._worst = loss if self._worst is None else max(self._worst, loss)
        return True

    def _end(self, handle: Any, how: str) -> None:
        if how == "error" and not handle.told:
            loss = self._worst if self._worst is not None else self._failure_loss()
            if loss is not None:
                self._tell_budget(handle.info, loss, handle.epochs)
                handle.told = True


__all__ = [
    "PRUNER",
    "UNASKED_BUDGET",
    "BudgetedPeer",
    "Job",
    "MultiFidelityPeer",
    "first_full_trial",
]
