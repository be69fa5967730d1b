"""Syne Tune's PopulationBasedTraining on hyperlab's MLP tasks at the epochs of hyperlab's pbt-8.

Question (issue 22, part 1, the peer anchor): on ``digits-mlp`` and ``wine-mlp``, with the
population (8), per-member budget, total epochs E = 8 x budget, seeds, interval and search space
of ``benchmarks/pbt.py``'s ``pbt-8`` arm, what best final validation cross-entropy and what wall
time does Syne Tune's own PBT scheduler reach?

Method: Syne Tune's ``PopulationBasedTraining`` makes every decision (the initial random
configurations, when a trial is ranked, which trial stops, whose checkpoint its successor
continues from, the perturbed values, the quantile 0.25 and resample probability 0.25 of
hyperlab's ``pbt``); this script is its backend, in this process, with no Syne Tune tuner,
backend or worker processes. Eight simulated workers each train their trial one epoch at a time
with ``Task.train_segment``; the worker that has trained the fewest epochs goes next (ties in
worker order), as eight equally fast parallel workers would report. After every epoch the
trial's state becomes its checkpoint and its validation score is reported (``on_trial_result``,
time attribute ``epoch``, ``max_t`` the budget). On ``STOP`` the worker asks ``suggest`` for its
next trial: from scratch, or, when the suggestion names ``checkpoint_trial_id``, from that
trial's latest checkpoint (weights, optimizer state, random streams and epoch counter). A trial
whose epoch fails is reported with ``on_trial_error``, as Syne Tune's tuner does. The run stops
when the workers have trained E epochs (the stop criterion a Syne Tune user would set). Its
``best`` is the best final score among the trials that reached the full budget (NaN when none
did: a model that copies a donor still behind it loses epochs); ``best_any_epoch`` adds the
latest scores of the models the cut leaves running. hyperlab's ``pbt`` with 8 members runs
beside each run (same task, seed, budget and interval), so the two wall times see the same
machine load; the table gives the paired difference of ``best`` and the ratio of wall times.

Contained: Syne Tune 0.16's PBT perturbs every domain of its space, so its explore step sees
only the task's ``mutable_params`` (the others, such as the architecture, are drawn for a trial
from scratch and copied on exploit); its random searcher draws from NumPy's global generator,
so each run runs in a private global RNG state seeded by the run's seed
(``hyperlab.tuners.peers.base.RngState``), and the caller's state is restored.

Rows have the keys of ``benchmarks/pbt.py``'s (``task``, ``arm``, ``seed``, ``best``,
``epochs``, ``wall_seconds``), so ``benchmarks/pbt.py --from benchmarks/results/pbt.json
benchmarks/results/pbt_syne.json`` prints both with paired differences. Claims and commands:
``benchmarks/README.md``; what was measured: ``docs/decisions/population.md``.

Usage:
    nice -n 10 .venv/bin/python benchmarks/pbt_syne.py [--seeds 5] [--budget 20] [--interval 4]
    nice -n 10 .venv/bin/python benchmarks/pbt_syne.py --quick
"""

from __future__ import annotations

import argparse
import datetime
import logging
import math
import os
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from optuna.distributions import (
    BaseDistribution,
    CategoricalDistribution,
    FloatDistribution,
    IntDistribution,
)

import hyperlab
from hyperlab.errors import InputError, TrialFailure
from hyperlab.lab.provenance import write_result
from hyperlab.lab.stats import bootstrap_interval, paired_interval
from hyperlab.registry import TASKS
from hyperlab.tasks.base import Task
from hyperlab.tuners.peers.base import RngState

try:
    import syne_tune.config_space as cs
    from syne_tune.backend.trial_status import Trial
    from syne_tune.optimizer.scheduler import SchedulerDecision
    from syne_tune.optimizer.schedulers.pbt import PopulationBasedTraining
except ImportError as error:  # pragma: no cover - the peers extra is missing
    raise SystemExit(f"{error}: this benchmark needs pip install 'hyperlab[peers]'") from error

HERE = Path(__file__).parent
OUT = HERE / "results" / "pbt_syne.json"
TASKS_RUN = ("digits-mlp", "wine-mlp")
POPULATION = 8
ARM = f"syne-pbt-{POPULATION}"
REFERENCE = f"pbt-{POPULATION}"
METRIC = "loss"
TIME_ATTR = "epoch"


def syne_space(task: Task) -> dict[str, Any]:
    """The task's Optuna space as Syne Tune domains (same bounds, log scales and choices)."""
    return {name: _domain(name, d) for name, d in task.distributions().items()}


def _domain(name: str, d: BaseDistribution) -> Any:
    if isinstance(d, CategoricalDistribution):
        return cs.choice(list(d.choices))
    if isinstance(d, IntDistribution) and d.step == 1:
        return (cs.lograndint if d.log else cs.randint)(d.low, d.high)
    if isinstance(d, IntDistribution | FloatDistribution) and d.step is not None:
        size = round((d.high - d.low) / d.step) + 1
        return cs.finrange(d.low, d.high, size, cast_int=isinstance(d, IntDistribution))
    if isinstance(d, FloatDistribution):
        return (cs.loguniform if d.log else cs.uniform)(d.low, d.high)
    raise InputError(f"no Syne Tune domain for {name!r}: {d!r}")


class MutableOnlyPBT(PopulationBasedTraining):  # type: ignore[misc]
    """Syne Tune's PBT whose explore step perturbs only ``mutable`` (the rest is copied).

    Syne Tune 0.16 perturbs every domain of ``config_space``; a task cannot continue a model
    whose architecture or kind of optimizer changed. The explore step itself is Syne Tune's,
    run with the space narrowed to the mutable hyperparameters for the call.
    """

    def __init__(self, *args: Any, mutable: tuple[str, ...], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.mutable = mutable

    def _explore(self, config: dict[str, Any]) -> dict[str, Any]:
        full = self.config_space
        self.config_space = {k: v for k, v in full.items() if k in self.mutable}
        try:
            return dict(super()._explore(config))
        finally:
            self.config_space = full


@dataclass
class Worker:
    """One simulated worker: its current trial, the epoch its model started from, its clock."""

    trial: Any = None
    start_epoch: int = 0
    epochs: int = 0


@dataclass
class Bridge:
    """Runs one Syne Tune PBT scheduler over a task, in this process (see the module doc)."""

    task: Task
    scheduler: Any
    seed: int
    budget: int
    states: dict[int, Any] = field(default_factory=dict)
    epochs: dict[int, int] = field(default_factory=dict)
    values: dict[int, float] = field(default_factory=dict)
    finished: list[float] = field(default_factory=list)
    at_cut: list[tuple[int, float]] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    train_seconds: float = 0.0

    def start(self, worker: Worker) -> None:
        """Give ``worker`` the scheduler's next suggestion as a new trial."""
        suggestion = self.scheduler.suggest()
        trial_id = len(self.epochs)
        trial = Trial(trial_id, dict(suggestion.config), datetime.datetime.now())
        donor = suggestion.checkpoint_trial_id
        self.states[trial_id] = None if donor is None else self.states[donor]
        self.epochs[trial_id] = 0 if donor is None else self.epochs[donor]
        kind = "fresh" if donor is None else "exploits"
        self.counts[kind] = self.counts.get(kind, 0) + 1
        worker.trial, worker.start_epoch = trial, self.epochs[trial_id]
        self.scheduler.on_trial_add(trial)

    def step(self, worker: Worker) -> None:
        """Train ``worker``'s trial one epoch from its checkpoint and report the score."""
        trial = worker.trial
        trial_id = trial.trial_id
        worker.epochs += 1
        try:
            segment = self.task.train_segment(
                trial.config, self.states[trial_id], 1, seed=self.seed * 10_000 + trial_id
            )
        except TrialFailure:
            self.counts["failures"] = self.counts.get("failures", 0) + 1
            self.scheduler.on_trial_error(trial)
            self.start(worker)
            return
        self.train_seconds += segment.wall_time
        self.states[trial_id], self.epochs[trial_id] = segment.state, segment.epoch
        self.values[trial_id] = segment.value
        result = {TIME_ATTR: segment.epoch, METRIC: segment.value}
        if self.scheduler.on_trial_result(trial, result) != SchedulerDecision.STOP:
            return
        self.scheduler.on_trial_remove(trial)
        self.states.pop(trial_id)  # a stopped trial is never a donor: its checkpoint goes
        if segment.epoch >= self.budget:
            self.finished.append(segment.value)
        elif segment.epoch - worker.start_epoch < self.scheduler.perturbation_interval:
            self.counts["early_stops"] = self.counts.get("early_stops", 0) + 1
        self.start(worker)

    def run(self, epochs: int) -> None:
        """Train ``epochs`` epochs in all over the workers, the one furthest behind first;
        then keep in ``at_cut`` the (epoch, latest score) of each model the cut leaves running."""
        workers = [Worker() for _ in range(POPULATION)]
        for worker in workers:
            self.start(worker)
        for _ in range(epochs):
            self.step(min(workers, key=lambda w: w.epochs))
        running = [w.trial.trial_id for w in workers]
        self.at_cut = [(self.epochs[t], self.values[t]) for t in running if t in self.values]


def run_one(task_name: str, seed: int, budget: int, interval: int) -> dict[str, Any]:
    """One Syne Tune PBT run at E = 8 x ``budget`` epochs.

    Returns:
        The row: ``benchmarks/pbt.py``'s keys, and ``train_seconds`` (inside
        ``train_segment``), ``reached_budget`` (trials that reached the budget),
        ``best_any_epoch``, ``cut_epochs`` (the epochs of the models the cut leaves running),
        ``trials``, ``exploits`` (trials started from a checkpoint), ``fresh`` (from scratch),
        ``early_stops`` (trials stopped for a copy less than an interval after they started)
        and ``failures`` (diverged epochs).
    """
    began = time.perf_counter()
    task = TASKS.create(task_name)
    minimize = (task.direction or "minimize") == "minimize"
    with RngState(seed).active():
        scheduler = MutableOnlyPBT(
            syne_space(task),
            metric=METRIC,
            time_attr=TIME_ATTR,
            max_t=budget,
            do_minimize=minimize,
            random_seed=seed,
            population_size=POPULATION,
            perturbation_interval=interval,
            quantile_fraction=0.25,
            resample_probability=0.25,
            mutable=tuple(task.mutable_params),
        )
        bridge = Bridge(task, scheduler, seed, budget)
        bridge.run(POPULATION * budget)
    finished = bridge.finished
    pick = min if minimize else max
    best = pick(finished) if finished else math.nan
    anyway = finished + [value for _, value in bridge.at_cut]
    return {
        "task": task_name,
        "arm": ARM,
        "seed": seed,
        "best": best,
        "epochs": POPULATION * budget,
        "wall_seconds": time.perf_counter() - began,
        "train_seconds": bridge.train_seconds,
        "reached_budget": len(finished),
        "best_any_epoch": pick(anyway) if anyway else math.nan,
        "cut_epochs": sorted(epoch for epoch, _ in bridge.at_cut),
        "trials": len(bridge.epochs),
        "exploits": bridge.counts.get("exploits", 0),
        "fresh": bridge.counts.get("fresh", 0),
        "early_stops": bridge.counts.get("early_stops", 0),
        "failures": bridge.counts.get("failures", 0),
    }


def run_reference(task: str, seed: int, budget: int, interval: int, runs: Path) -> dict[str, Any]:
    """hyperlab's ``pbt`` with 8 members on the same task, seed, budget and interval, run
    beside the peer so that both wall times see the same machine load (``benchmarks/pbt.py``'s
    ``pbt-8`` arm; the same seed gives the same value)."""
    began = time.perf_counter()
    study, _ = hyperlab.tune(
        task,
        "pbt",
        trials=POPULATION,
        seed=seed,
        budget=budget,
        tuner_options={"interval": interval},
        runs_dir=runs,
        name=f"{task}-pbt{POPULATION}-seed{seed}",
        progress=False,
        report=False,
    )
    return {
        "task": task,
        "arm": REFERENCE,
        "seed": seed,
        "best": study.best_value,
        "epochs": POPULATION * budget,
        "wall_seconds": time.perf_counter() - began,
    }


def summary(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per task and arm: ``best`` (over the runs that have one) and ``best_any_epoch`` with 95%
    bootstrap intervals over seeds, the mean wall seconds; for the peer, the paired difference
    of ``best`` to :data:`REFERENCE` and the ratio of mean wall times."""
    out = []
    for task in dict.fromkeys(r["task"] for r in rows):
        by = {(r["arm"], r["seed"]): r for r in rows if r["task"] == task}
        for arm in (ARM, REFERENCE):
            mine = [r for (a, _), r in by.items() if a == arm]
            if not mine:
                continue
            entry: dict[str, Any] = {
                "task": task,
                "arm": arm,
                "runs": len(mine),
                "best": bootstrap_interval([r["best"] for r in mine]).to_dict(),
                "best_any_epoch": bootstrap_interval(
                    [r.get("best_any_epoch", r["best"]) for r in mine]
                ).to_dict(),
                "wall_seconds": sum(r["wall_seconds"] for r in mine) / len(mine),
            }
            seeds = [s for a, s in by if a == ARM and (REFERENCE, s) in by]
            if arm == ARM and seeds:
                a, b = ([by[(name, s)]["best"] for s in seeds] for name in (ARM, REFERENCE))
                entry["minus_reference"] = paired_interval(a, b).to_dict()
                walls = [
                    sum(by[(name, s)]["wall_seconds"] for s in seeds) for name in (ARM, REFERENCE)
                ]
                entry["wall_ratio"] = walls[0] / walls[1]
            out.append(entry)
    return out


def print_table(entries: list[dict[str, Any]]) -> None:
    """The summary as a table: ``runs`` is runs with a value of ``best`` over runs."""
    print(
        f"\n{'task':<11} {'arm':<11} {'runs':<6} {'best [95% CI]':<25} "
        f"{'best at any epoch':<25} {'wall s':>6}  {'minus pbt-8 [95% CI]':<27} wall x"
    )
    for e in entries:
        best, anyway = e["best"], e["best_any_epoch"]
        diff = e.get("minus_reference")
        vs = f"{diff['mean']:+.4f} [{diff['low']:+.4f}, {diff['high']:+.4f}]" if diff else ""
        ratio = f"{e['wall_ratio']:.2f}" if "wall_ratio" in e else ""
        runs = f"{best['n']}/{e['runs']}"
        print(
            f"{e['task']:<11} {e['arm']:<11} {runs:<6} {_ci(best):<25} "
            f"{_ci(anyway):<25} {e['wall_seconds']:>6.1f}  {vs:<27} {ratio}"
        )


def _ci(interval: dict[str, Any]) -> str:
    return f"{interval['mean']:.4f} [{interval['low']:.4f}, {interval['high']:.4f}]"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5, help="seeds 0..N-1")
    parser.add_argument("--budget", type=int, help="epochs per member (default: the task's)")
    parser.add_argument(
        "--interval", type=int, help="default: a tenth of the budget, rounded (as pbt)"
    )
    parser.add_argument("--tasks", default=",".join(TASKS_RUN))
    parser.add_argument("--no-reference", action="store_true", help=f"skip {REFERENCE}")
    parser.add_argument("--quick", action="store_true", help="one seed, budget 4, no result file")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    if args.quick:
        args.seeds, args.budget = 1, 4
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    torch.set_num_threads(1)  # one thread, as benchmarks/pbt.py's runs (torch is loaded by now)
    logging.getLogger("syne_tune").setLevel(logging.WARNING)
    tasks = args.tasks.split(",")
    budget = args.budget or TASKS.create(tasks[0]).max_budget
    interval = args.interval or max(1, round(budget / 10))
    rows, reference = [], []
    with tempfile.TemporaryDirectory() as runs:
        for task in tasks:
            for seed in range(args.seeds):
                rows.append(run_one(task, seed, budget, interval))
                if not args.no_reference:
                    reference.append(run_reference(task, seed, budget, interval, Path(runs)))
                print(_brief(rows[-1], reference[-1] if reference else None), flush=True)
    entries = summary(rows + reference)
    print_table(entries)
    if not args.quick:
        settings = {"seeds": args.seeds, "budget": budget, "interval": interval, "tasks": tasks}
        settings.update(population=POPULATION, epochs=POPULATION * budget)
        question = __doc__.split("\n\n")[1]
        payload = {"question": question, "settings": settings, "summary": entries}
        payload.update(rows=rows, reference=reference)
        print(f"wrote {write_result(args.out, payload)}")


def _brief(row: dict[str, Any], reference: dict[str, Any] | None) -> str:
    text = (
        f"  {row['task']} seed {row['seed']}: best {row['best']:.4f} "
        f"(any epoch {row['best_any_epoch']:.4f}), {row['reached_budget']} reached the budget, "
        f"{row['exploits']} exploits, {row['wall_seconds']:.0f} s"
    )
    if reference is not None:
        text += f"; {REFERENCE} {reference['best']:.4f}, {reference['wall_seconds']:.0f} s"
    return text


if __name__ == "__main__":
    main()
