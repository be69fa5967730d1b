"""Claim: at a fixed budget of epochs, which pruner finds the best configuration?

Every pruner gets the same budget of epochs and samples as many trials as fit in it, as a user
with a fixed compute budget would. Each study runs through ``hyperlab.compare`` with enough
trials to use the largest budget (too few, and it runs again from the start with as many as the
first run's rate says fit, plus a fifth), and the regret (best final value of the trials
completed within a budget, minus the task's best) is read at fractions ``--at`` of the epochs
that ``--trials`` unpruned trials use. Printed per tuner: each pruner's mean regret at each
budget; on how many tasks each curve pruner beats ASHA, Hyperband and the median rule, and the
paired difference (95% bootstrap CI) at the largest budget; with ``--reference`` (a
``pruning.py`` result file), each pruner minus the median rule's regret in its full study.
Pruner names as in ``pruning.py``.

    .venv/bin/python benchmarks/pruning_anytime.py --quick
    .venv/bin/python benchmarks/pruning_anytime.py --summarize RESULT.json [MORE.json ...] [--out MERGED.json]

Commands behind the result files: ``benchmarks/README.md``; history:
``docs/decisions/early-stopping.md``.
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import tempfile
from pathlib import Path
from typing import Any

import hyperlab
from hyperlab.lab.outcomes import (
    StudyOutcome,
    group_means,
    group_wins,
    pair_studies,
    read_outcomes,
    regret_differences,
    study_outcomes,
)
from hyperlab.lab.provenance import write_result
from hyperlab.lab.stats import bootstrap_interval
from hyperlab.registry import TASKS, parse_options

LCBENCH = "3945,7593,34539,126025,146212,167149,167184,189906"
PRETRAIN = "126026,126029,167104,167152,167161,167168"
RIVALS = ("asha", "hyperband", "median")
#: The label of the median rule's studies of ``--trials`` trials, read from ``--reference``.
REFERENCE = "median (full study)"


def study(task: str, tuner: str, pruner: str, seed: int, epochs: int, pool: str) -> list:
    """One study on ``task`` that has used ``epochs`` epochs (``[]``: a pretrained pruner on a
    task no other task shares a search space with)."""
    name, *items = pruner.split("+")
    options = parse_options(items)
    if name.endswith("-pretrained"):
        if not task.startswith("lcbench-"):
            return []
        options["pretrain"] = ",".join(f"lcbench-{i}" for i in pool.split(",") if i != task[8:])
    trials = max(12, math.ceil(epochs / TASKS.create(task).max_budget))
    while True:
        with tempfile.TemporaryDirectory() as runs:
            storage = f"journal:{Path(runs).resolve() / 'study.journal'}"
            records = hyperlab.compare(
                task,
                [tuner],
                pruners=[name.removesuffix("-pretrained")],
                seeds=[seed],
                trials=trials,
                pruner_options=options,
                runs_dir=runs,
                name="study",
                storage=storage,
                progress=False,
                report=False,
            )
        labelled = [{**r, "task": task, "tuner": tuner, "pruner": pruner} for r in records]
        (outcome,) = study_outcomes(labelled, by=("task", "tuner", "pruner", "seed"))
        if outcome.epochs >= epochs:
            return [outcome]
        trials = math.ceil(1.2 * trials * epochs / max(1, outcome.epochs))


def run(args: argparse.Namespace, largest: float) -> list[dict[str, Any]]:
    """Every study, with the median rule's full studies from ``--reference``."""
    tasks = [f"lcbench-{i}" for i in args.lcbench.split(",") if i] + [args.bank] * bool(args.bank)
    full = {t: args.trials * TASKS.create(t).max_budget for t in tasks}
    seeds = range(args.first_seed, args.first_seed + args.seeds)
    studies = []
    for task, tuner, pruner, seed in itertools.product(
        tasks, args.tuners.split(","), args.pruners.split(","), seeds
    ):
        epochs = math.ceil(largest * full[task])
        for o in study(task, tuner, pruner, seed, epochs, args.pretrain):
            studies.append({**o.to_dict(), "full_epochs": full[task]})
            print(f"  {task} {tuner} {pruner} seed {seed} done", flush=True)
    for s in json.loads(args.reference.read_text())["studies"] if args.reference else []:
        if s["pruner"] == "median" and s["task"] in full and s["seed"] in seeds:
            studies.append({**s, "pruner": REFERENCE, "full_epochs": full[s["task"]]})
    return studies


def scaled(o: StudyOutcome) -> StudyOutcome:
    """``o`` with its epochs counted in fractions of its task's ``full_epochs``."""
    full = o.labels["full_epochs"]
    steps = [(e / full, r) for e, r in o.improvements]
    return StudyOutcome(o.labels, o.epochs / full, o.regret, o.complete, steps)


def summarize(outcomes: list[StudyOutcome], fractions: list[float]) -> dict[str, Any]:
    """Per tuner: mean regret at each budget, each curve pruner against the rivals, and each
    pruner minus the median rule's full study."""
    summary: dict[str, Any] = {}
    for tuner in dict.fromkeys(o.labels["tuner"] for o in outcomes):
        mine = [scaled(o) for o in outcomes if o.labels["tuner"] == tuner]
        pruners = [p for p in dict.fromkeys(o.labels["pruner"] for o in mine) if p != REFERENCE]
        print(f"\n{tuner}: mean regret at a budget (fraction of the epochs of no pruning)")
        print(f"{'pruner':<44}" + "".join(f"{f:>9}" for f in fractions))
        out = summary[tuner] = {}
        for p in pruners:
            means = [group_means(mine, {"pruner": p}, group=("task",), at=f) for f in fractions]
            out[p] = {"mean_regret": {f: _mean(m.values()) for f, m in zip(fractions, means)}}
            print(f"{p:<44}" + "".join(f"{m:>9.4f}" for m in out[p]["mean_regret"].values()))
        for p in (p for p in pruners if p.startswith("curve")):
            for rival in (r for r in RIVALS if r in pruners):
                pairs = pair_studies(mine, {"pruner": p}, {"pruner": rival})
                wins = {f: group_wins(pairs, f, ("task",))[0] for f in fractions}
                d = bootstrap_interval(regret_differences(pairs, fractions[-1]))
                out[p][f"vs_{rival}"] = {"wins": wins, "paired": d.to_dict()}
                n = len({a.labels["task"] for a, _ in pairs})
                won = ", ".join(f"{w}/{n} at {f}" for f, w in wins.items())
                print(f"{p} vs {rival}: lower regret on {won}; at {fractions[-1]}: {d.text()}")
        for p in pruners:
            pairs = pair_studies(mine, {"pruner": p}, {"pruner": REFERENCE})
            if pairs:
                d = bootstrap_interval([a.regret_at(fractions[-1]) - b.regret for a, b in pairs])
                out[p]["minus_full_median"] = d.to_dict()
                print(f"  {p:<42} minus the median rule's full study: {d.text()}")
    return summary


def _mean(values: Any) -> float:
    values = list(values)
    return sum(values) / len(values) if values else float("nan")


def previous(paths: list[Path]) -> tuple[list[StudyOutcome], dict[str, Any]]:
    """The studies of result files, merged, and what the first says (what made each is kept)."""
    outcomes, sources = read_outcomes(paths)
    first = json.loads(paths[0].read_text())
    kept = {k: first[k] for k in ("question", "settings", "reproduce") if k in first}
    return outcomes, {**kept, "produced_by": sources if len(paths) > 1 else sources[paths[0].name]}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1 task, 1 seed, 20 trials' epochs")
    parser.add_argument("--lcbench", default=LCBENCH, help="OpenML task ids")
    parser.add_argument("--bank", default="digits-mlp-bank", help="'' to leave the bank out")
    parser.add_argument("--tuners", default="random")
    parser.add_argument("--pruners", default="none,median,asha,hyperband,curve,curve-pretrained")
    parser.add_argument("--pretrain", default=PRETRAIN, help="LCBench ids for NAME-pretrained")
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--first-seed", type=int, default=0)
    parser.add_argument("--trials", type=int, default=100, help="budgets: fractions of these")
    parser.add_argument("--at", default="0.05,0.1,0.2,0.333", help="budgets, as fractions")
    parser.add_argument("--reference", type=Path, help="pruning.py file: the full median rule")
    parser.add_argument("--summarize", type=Path, nargs="+", help="print these files merged")
    parser.add_argument(
        "--out",
        type=Path,
        help="default: results/pruning_anytime.json; with --summarize: none (no file)",
    )
    args = parser.parse_args(argv)
    if args.quick:
        args.lcbench, args.bank, args.seeds, args.trials = "3945", "", 1, 20
        args.pruners, args.pretrain = "median,asha,curve", "126026,167104"
    fractions = sorted(float(f) for f in args.at.split(","))
    if args.summarize:
        outcomes, kept = previous(args.summarize)
        studies = [o.to_dict() for o in outcomes]
    else:
        studies = run(args, fractions[-1])
        kept = {"question": __doc__.split("\n\n")[0], "settings": vars(args) | {"out": None}}
    summary = summarize([StudyOutcome.from_dict(s) for s in studies], fractions)
    if args.summarize and args.out is None:
        print("(a reprint writes nothing; --out FILE writes the merged file)")
        return
    out = args.out or Path(__file__).parent / "results" / "pruning_anytime.json"
    print(f"wrote {write_result(out, {**kept, 'summary': summary, 'studies': studies})}")


if __name__ == "__main__":
    main()
