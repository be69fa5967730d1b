"""Test tasks, kept out of the user's task registry.

:class:`SleepBranin` is Branin plus a fixed sleep per trial, for scaling and fault tests: a
sleeping trial takes the same wall time on a loaded or an idle machine and uses no CPU, so
throughput with N workers measures the coordination (storage, sampler, claiming), not the cores.
Commands and worker processes reach it by reference, ``--task`` :data:`SLEEP_BRANIN`.
"""

from __future__ import annotations

import time
from typing import Any

from hyperlab.errors import InputError, InputTypeError
from hyperlab.tasks.base import EpochCallback, Evaluation
from hyperlab.tasks.synthetic import Branin


class SleepBranin(Branin):
    """Branin whose every evaluation first sleeps ``seconds``.

    Args:
        seconds: Sleep per trial (non-negative).
    """

    name = "sleep-branin"
    description = "Branin with a fixed sleep per trial (option seconds=0.5), for scaling tests"

    def __init__(self, seconds: float = 0.5) -> None:
        if isinstance(seconds, bool) or not isinstance(seconds, (int, float)):
            raise InputTypeError(f"seconds must be a number, got {seconds!r}")
        if not seconds >= 0:
            raise InputError(f"seconds must be non-negative, got {seconds}")
        self.seconds = float(seconds)

    def _evaluate(
        self, config: dict[str, Any], budget: int, seed: int, on_epoch: EpochCallback | None
    ) -> Evaluation:
        start = time.perf_counter()
        time.sleep(self.seconds)
        ev = super()._evaluate(config, budget, seed, on_epoch)
        ev.wall_time = time.perf_counter() - start
        return ev


#: The reference that names :class:`SleepBranin` as a task (``--task``, ``TASKS.create``).
SLEEP_BRANIN = f"{__name__}:SleepBranin"
