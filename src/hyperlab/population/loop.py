"""The population's training loop: segments, exploit and explore, checkpoints, resume.

Members train in segments of ``interval`` epochs on one grid (0, interval, 2·interval, ...,
budget). At each boundary but the last, the members in the bottom ``quantile`` (in ``sync``
mode ranked by their score at the boundary; see below for ``async``) copy a member of the top
``quantile`` — a deep copy of its current state:
weights, optimizer state, random streams and epoch — and explore new values of the mutable
hyperparameters. A member whose segment fails (:class:`~hyperlab.errors.TrialFailure`, or a
non-finite score) copies a good member at once and the population goes on (in ``async`` mode
one of those at the segment's start or beyond, ranked by their scores there, fresh copies
left out while others stand there: :func:`recovery_donors`).

``sync`` waits for every member to finish the segment (a generation) before anyone exploits;
``async`` runs one member's segment at a time — the member furthest behind, ties drawn at
random — and lets it exploit as soon as its segment ends, ranked among the members that stand
at its epoch or beyond by their scores at that epoch (like with like, as in a generation), and
copying one of their top quantile (so epoch counters never go back and every member trains
``budget`` epochs). The whole population is checkpointed after a
generation (``sync``) or segment (``async``), in the background while the next one trains
(:class:`~hyperlab.population.checkpoint.Writer`): after the first, and then whenever the
training since the last checkpoint is at least 50 times what a save costs
(:data:`CHECKPOINT_SHARE`), and at the end. A run resumes from the checkpoint, so a killed
process loses only what trained since the last checkpoint on disk, and a resumed run ends
exactly as an uninterrupted one.
"""

from __future__ import annotations

import math
import time
import warnings
import zlib
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from hyperlab.errors import NoCompletedTrialError
from hyperlab.population import checkpoint, resume
from hyperlab.population.explore import Context, Explorer
from hyperlab.population.members import Member
from hyperlab.population.segments import Segments, copied
from hyperlab.population.selftuning import hypergradient_twin
from hyperlab.space.encoding import SpaceEncoder
from hyperlab.tasks.base import Task

#: Version of the checkpoint's layout.
FORMAT = 1
#: How the first members are drawn: a Latin hypercube, or independently at random.
STARTS = ("latin", "random")
#: Checkpoints take at most about this share of the training time: after a generation (or
#: segment) the population is written only once the training since the last checkpoint is at
#: least the mean cost of a save over this share. The first and the last are always written.
CHECKPOINT_SHARE = 0.02
#: Settings a checkpoint may lack, with the value every run had before they existed.
_BEFORE: dict[str, Any] = {"start": "random", "screen": 1}


class PopulationFailure(NoCompletedTrialError):
    """Every member of the population failed (a generation, or ``population`` segments in a
    row); the message gives each member's reason. The study ends with no completed trial (the
    command line exits 1, its report written)."""


@dataclass(frozen=True)
class Settings:
    """What a population run is; a checkpoint resumes only a run with the same settings."""

    tuner: str
    population: int
    budget: int
    interval: int
    quantile: float
    mode: str
    hypergradient: bool
    seed: int
    direction: str
    explored: tuple[str, ...]
    start: str = "latin"
    screen: int = 1

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def member_seed(seed: int, index: int, restarts: int) -> int:
    """The seed of a member's fresh model: depends only on the run's seed, the member and
    how often it restarted."""
    return zlib.crc32(f"{seed}:{index}:{restarts}".encode()) % (2**31)


class PopulationRun:
    """Trains one population to the end, resuming from the checkpoint in ``workdir``.

    Args:
        task: A task that continues training (``Task.continues_training``).
        settings: The run's settings.
        explorer: Chooses explored values for exploiting members.
        workdir: The folder of the checkpoint.
        defaulted: Settings the user left at their default: a checkpoint keeps its own value
            of these (the default may have changed since it was written), where any other
            difference is refused.
    """

    def __init__(
        self,
        task: Task,
        settings: Settings,
        explorer: Explorer,
        workdir: Path,
        defaulted: frozenset[str] = frozenset(),
    ) -> None:
        self.task, self.settings, self.explorer, self.workdir = task, settings, explorer, workdir
        self.defaulted = defaulted
        self.space = task.distributions()
        self.sign = 1.0 if settings.direction == "minimize" else -1.0
        self.rng = np.random.default_rng(settings.seed)
        self.members: list[Member] = []
        self.log: list[dict[str, Any]] = []
        self.steps = 0
        self.failures_in_a_row = 0
        self.seconds = {"train": 0.0, "save": 0.0, "restore": 0.0}
        self.screened: list[dict[str, Any]] = []  # candidates the screen let go
        self.resumed_at: int | None = None  # the epoch of the checkpoint this process resumed
        wrap = hypergradient_twin if settings.hypergradient else None
        self.segments = Segments(task, wrap, self.sign)
        self._writer: checkpoint.Writer | None = None
        #: Told where the run stands after each segment (a progress bar's note).
        self.on_progress: Callable[[str], None] | None = None

    def run(self) -> list[Member]:
        """Train until every member has trained ``budget`` epochs; return the members."""
        fresh = not self._restore()
        if fresh:
            self._start()
        writer = self._writer = checkpoint.Writer(self.workdir)
        before = self.seconds["save"]
        saved_at: float | None = None  # training seconds at the last checkpoint of this process
        unsaved = False
        try:
            if fresh and self.settings.screen > 1:  # a kill after the screen keeps it
                writer.save(self._payload(), progress(self.members, self.settings.budget))
                saved_at = self.seconds["train"]
            while any(m.epoch < self.settings.budget for m in self.members):
                if self.settings.mode == "sync":
                    self._generation()
                else:
                    self._async_step()
                self.steps += 1
                unsaved = True
                if resume.checkpoint_due(writer, saved_at, self.seconds["train"], CHECKPOINT_SHARE):
                    self.seconds["save"] = before + writer.seconds
                    writer.save(self._payload(), progress(self.members, self.settings.budget))
                    saved_at, unsaved = self.seconds["train"], False
            if unsaved:  # the last steps: always written
                self.seconds["save"] = before + writer.seconds
                writer.save(self._payload(), progress(self.members, self.settings.budget))
            writer.wait()
        except BaseException:
            try:  # the write in flight lands; this error wins
                writer.wait()
            except Exception as lost:
                warnings.warn(
                    f"the last population checkpoint was not written: {lost}", stacklevel=2
                )
            raise
        finally:
            writer.close()
        self.seconds["save"] = before + writer.seconds
        return self.members

    def summary(self) -> dict[str, Any]:
        """The run's settings, steps and where its time went (plain data)."""
        s = self.settings
        return {
            **{k: v for k, v in s.to_dict().items() if k != "explored"},
            "explored": list(s.explored),
            "steps": self.steps,
            **resume.time_spent(self.seconds, self._writer),
            "screened": self.screened,
            "screen_epochs": sum(int(c["epochs"]) for c in self.screened),
            "resumed_at": self.resumed_at,
            "replayed_curves": _replays_curves(self.task),
        }

    # -- start, checkpoint, resume --------------------------------------------------------

    def _start(self) -> None:
        encoder = SpaceEncoder(self.space)
        draw = encoder.latin_hypercube if self.settings.start == "latin" else encoder.random
        n = self.settings.population * self.settings.screen
        configs = encoder.decode(draw(n, self.rng))
        self.members = [
            Member(i, c, self.segments.config(c)[1], member_seed(self.settings.seed, i, 0))
            for i, c in enumerate(configs)
        ]
        if self.settings.screen > 1:
            self._screen()

    def _screen(self) -> None:
        """Train every candidate one segment and keep the best ``population`` as the members,
        numbered 0.. in their order of rank (a failed candidate ranks last)."""
        failed = {
            m.index: r
            for m in self.members
            if (r := self._train(m, f"screen candidate {m.index}")) is not None
        }
        if len(failed) == len(self.members):
            raise PopulationFailure(_all_failed(failed, "the screen"))
        ranked = self._ranked([m for m in self.members if m.index not in failed])
        kept = (ranked + [m for m in self.members if m.index in failed])[: self.settings.population]
        renumber = {m.index: i for i, m in enumerate(kept)}
        reasons = {renumber[i]: r for i, r in failed.items() if i in renumber}  # new numbers
        self.screened = [
            {
                "config": self.segments.config(m.params)[1],
                "value": m.value,
                "epochs": m.epochs_trained,
            }
            | ({"failed": failed[m.index]} if m.index in failed else {})
            for m in self.members
            if m.index not in renumber
        ]
        for m in kept:
            m.index = renumber[m.index]
            for entry in m.schedule:
                entry["member"] = m.index
        self.log = [
            dict(e, member=renumber[e["member"]]) for e in self.log if e["member"] in renumber
        ]
        self.members = sorted(kept, key=lambda m: m.index)
        # fewer candidates trained than the population: the failed ones kept copy a good one,
        # so that every member stands at the same epoch
        top = self.members[: max(self._quantile(), 1)]
        exploiters = [m for m in self.members if m.value is None]
        for m in exploiters:
            self._exploit(
                m, [t for t in top if t.value is not None], f"failed: {reasons.get(m.index, '')}"
            )
        self._explore(exploiters)

    def _payload(self) -> dict[str, Any]:
        """Everything a resumed run needs (the members' states are not copied)."""
        return {
            "format": FORMAT,
            "settings": self.settings.to_dict(),
            "members": [m.to_dict() for m in self.members],
            "log": self.log,
            "rng": self.rng.bit_generator.state,
            "steps": self.steps,
            "failures_in_a_row": self.failures_in_a_row,
            "seconds": dict(self.seconds),
            "screened": self.screened,
        }

    def _restore(self) -> bool:
        began = time.perf_counter()
        data = checkpoint.load(self.workdir)
        if data is None:
            return False
        resume.check_layout(self.workdir, data, FORMAT)
        kept = resume.kept_settings(
            self.workdir, data["settings"], self.settings.to_dict(), self.defaulted, _BEFORE
        )
        self.settings = replace(self.settings, **kept)
        self.members = [Member.from_dict(d) for d in data["members"]]
        self.log = data["log"]
        self.rng.bit_generator.state = data["rng"]
        self.steps, self.failures_in_a_row = data["steps"], data["failures_in_a_row"]
        self.seconds = dict(data["seconds"])
        self.screened = list(data.get("screened", []))
        self.resumed_at = min(m.epoch for m in self.members)
        self.seconds["restore"] += time.perf_counter() - began
        return True

    # -- one segment ------------------------------------------------------------------------

    def _train(self, m: Member, who: str | None = None) -> str | None:
        """Train ``m`` to the next boundary; return the reason when the segment failed. ``who``
        names ``m`` in an error that stops the run (``None``: ``"member N"``).

        Raises:
            OSError: The last checkpoint's write has failed (a full disk): the run stops
                before this segment rather than at the next save.
        """
        if self._writer is not None:
            self._writer.check()
        epochs = min(m.epoch + self.settings.interval, self.settings.budget) - m.epoch
        reason, spent = self.segments.train(m, epochs, self.log, who)
        self.seconds["train"] += spent
        if reason is None:
            self._tell_progress()
        return reason

    def _tell_progress(self) -> None:
        if self.on_progress is not None:
            self.on_progress(progress_note(self.members, self.settings.budget))

    # -- exploit and explore ----------------------------------------------------------------

    def _ranked(self, members: list[Member]) -> list[Member]:
        """``members`` with a score, best first (ties by index)."""
        scored = [m for m in members if m.value is not None]
        return sorted(scored, key=lambda m: (self.sign * float(m.value or 0.0), m.index))

    def _quantile(self) -> int:
        """How many members the top (and the bottom) quantile holds."""
        return quantile_size(self.settings.quantile, self.settings.population)

    def _exploit(self, m: Member, donors: list[Member], reason: str) -> None:
        """``m`` copies a donor drawn at random from ``donors``."""
        donor = donors[int(self.rng.integers(len(donors)))]
        what = f"member {donor.index}'s state (task {self.task.name!r}), which member {m.index} copies,"
        state = copied(donor.state, what)
        m.copy_from(donor, reason, state=state)

    def _explore(self, exploiters: list[Member]) -> None:
        exploiters = [m for m in exploiters if m.epoch < self.settings.budget]
        if not exploiters:
            return
        context = Context(
            self.space, self.settings.explored, self.log, exploiters[0].epoch, self.settings.budget
        )
        chosen = self.explorer.explore([dict(m.params) for m in exploiters], context, self.rng)
        for m, params in zip(exploiters, chosen):
            m.origin["perturbation"] = {
                n: [m.params[n], params[n]] for n in context.names if params[n] != m.params[n]
            }
            m.params = params

    def _generation(self) -> None:
        """Sync: every member trains one segment, then the bottom copies the top."""
        start = self.members[0].epoch
        end = min(start + self.settings.interval, self.settings.budget)
        failed = {m.index: r for m in self.members if (r := self._train(m)) is not None}
        if len(failed) == len(self.members):
            raise PopulationFailure(_all_failed(failed, f"epochs {start}..{end}"))
        ranked = self._ranked([m for m in self.members if m.index not in failed])
        k = self._quantile()
        top = ranked[: max(k, 1)]
        worst = max(0, k - len(failed))
        bottom = [m for m in ranked[len(ranked) - worst :] if worst and m not in top]
        if ranked[0].epoch >= self.settings.budget:
            bottom = []  # the end: only failed members copy a finished model
        exploiters = [m for m in self.members if m.index in failed or m in bottom]
        for m in exploiters:
            why = f"failed: {failed[m.index]}" if m.index in failed else "bottom quantile"
            self._exploit(m, top, why)
        self._explore(exploiters)

    def _async_step(self) -> None:
        """Async: the member furthest behind trains a segment, then exploits at once if it
        ranks in the bottom quantile of the members as far as itself (:func:`async_donors`)."""
        budget = self.settings.budget
        active = [m for m in self.members if m.epoch < budget]
        low = min(m.epoch for m in active)
        tied = [m for m in active if m.epoch == low]
        m = tied[int(self.rng.integers(len(tied)))]
        reason = self._train(m)
        if reason is not None:
            self._recover(m, low, reason)
            return
        self.failures_in_a_row = 0
        if m.epoch >= budget:
            return
        donors = async_donors(self.members, m, self.settings.quantile, self.sign)
        if donors:
            self._exploit(m, donors, "bottom quantile")
            self._explore([m])

    def _recover(self, m: Member, start: int, reason: str) -> None:
        """Async: a failed member copies a good member at least as far as the segment's start
        (:func:`recovery_donors`), or restarts from a fresh model when there is none."""
        self.failures_in_a_row += 1
        if self.failures_in_a_row >= self.settings.population:
            raise PopulationFailure(_stopped(self.members, self.failures_in_a_row))
        donors = recovery_donors(self.members, m, start, self._quantile(), self.sign)
        if donors:
            self._exploit(m, donors, f"failed: {reason}")
            self._explore([m])
            return
        encoder = SpaceEncoder(self.space)
        params = encoder.decode(encoder.random(1, self.rng))[0]
        m.restart(params, member_seed(self.settings.seed, m.index, m.restarts + 1))


def quantile_size(quantile: float, n: int) -> int:
    """How many of ``n`` members the top (and the bottom) ``quantile`` holds: rounded up, at
    most half of them (0 for fewer than 2)."""
    return min(math.ceil(quantile * n), n // 2)


def async_donors(members: list[Member], m: Member, quantile: float, sign: float) -> list[Member]:
    """Whom ``m``, which has just trained to epoch ``e``, may copy in ``async`` mode: the top
    ``quantile`` of the ``members`` that stand at ``e`` or beyond, ranked by their models'
    scores at epoch ``e`` (``sign`` 1: lower is better, -1: higher), when ``m`` is in their
    bottom quantile; nobody otherwise. Like is compared with like, as in a ``sync``
    generation: a member further ahead counts with its score at ``e``, not its latest. A fresh
    copy (:attr:`Member.untested`) is left out: its record is its donor's, its
    hyperparameters untried."""
    e = m.epoch
    peers = [x for x in members if x.epoch >= e and not x.untested]
    ranked = sorted(peers, key=lambda x: (sign * x.values[e - 1], x.index))
    k = quantile_size(quantile, len(ranked))
    return ranked[:k] if k and m in ranked[len(ranked) - k :] else []


def recovery_donors(
    members: list[Member], m: Member, start: int, k: int, sign: float
) -> list[Member]:
    """Whom ``m``, whose ``async`` segment from epoch ``start`` failed, may copy: the best
    ``max(k, 1)`` of the other members that stand at ``start`` or beyond, fresh copies
    (:attr:`Member.untested`) left out while any other stands there. They are ranked by their
    scores at ``start`` where they all have one (``start`` > 0: like with like, as
    :func:`async_donors`), else by their latest scores (``sign`` 1: lower is better)."""
    others = [x for x in members if x is not m and x.epoch >= start]
    tested = [x for x in others if not x.untested] or others
    if start > 0 and all(len(x.values) >= start for x in tested):
        ranked = sorted(tested, key=lambda x: (sign * x.values[start - 1], x.index))
    else:
        scored = [x for x in tested if x.value is not None]
        ranked = sorted(scored, key=lambda x: (sign * float(x.value or 0.0), x.index))
    return ranked[: max(k, 1)]


def progress(members: list[Member], budget: int) -> dict[str, Any]:
    """How far a population has got, written beside its checkpoint: ``{"member_epochs": N}``,
    the epochs its members stand at (``budget`` at most), summed."""
    return {"member_epochs": sum(min(m.epoch, budget) for m in members)}


def progress_note(members: list[Member], budget: int) -> str:
    """``population: 40/96 member-epochs``: what a progress bar shows."""
    done = progress(members, budget)["member_epochs"]
    return f"population: {done}/{len(members) * budget} member-epochs"


def _replays_curves(task: Task) -> bool:
    """Whether ``task`` looks its curves up (a replay task), so that a segment after a copy
    follows the new configuration's recorded curve."""
    from hyperlab.tasks.replay_base import ReplayTask

    return isinstance(task, ReplayTask)


def _failure_lines(reasons: dict[int, str]) -> str:
    return "; ".join(f"member {i}: {r[:200]}" for i, r in sorted(reasons.items()))


def _all_failed(reasons: dict[int, str], when: str) -> str:
    return f"every member of the population failed ({when}): {_failure_lines(reasons)}"


def _stopped(members: list[Member], failures: int) -> str:
    """Why a run stops after ``failures`` failed segments in a row: each member's latest
    failure (copies and restarts may have followed it)."""
    last = {
        x.index: fails[-1]
        for x in members
        if (fails := [e["failed"] for e in x.lineage if "failed" in e])
    }
    return (
        f"the population's last {failures} segments all failed (as many "
        f"as it has members), so it stops; each member's latest failure: " + _failure_lines(last)
    )
