"""Claim: what the one-epoch baseline finds, and with how many epochs, next to random search
trained in full and random search with early stopping.

Every arm runs through ``hyperlab.compare`` on replayed tasks with the same seeds. The random
sampler's draws do not depend on the pruner, and ``one-epoch`` draws as ``random`` does, so in
each (task, seed) every arm sees the same configurations: it trains, stops or screens them.
Printed per arm: epochs as a fraction of random search without pruning, mean regret (over
tasks, of the mean over seeds) and the regret minus ASHA's, paired by task and seed (95%
bootstrap CI), at each study's end and at equal epochs (each pair read at the smaller total).
An arm is ``TUNER[+key=value...]/PRUNER``.

    .venv/bin/python benchmarks/one_epoch.py --quick

The command behind the result file: ``benchmarks/README.md``; what it decided:
``docs/decisions/one-epoch.md``.
"""

from __future__ import annotations

import argparse
import itertools
import re
import tempfile
from pathlib import Path
from typing import Any

import hyperlab
from hyperlab.lab.outcomes import (
    StudyOutcome,
    epochs_fraction,
    group_means,
    paired_regret,
    study_outcomes,
)
from hyperlab.lab.provenance import write_result
from hyperlab.registry import parse_options

TASKS = "lcbench-3945,lcbench-34539,lcbench-146212,lcbench-189906,digits-mlp-bank"
ARMS = (
    "random/none,random/median,random/asha,random/hyperband,"
    "one-epoch+k=1/none,one-epoch/none,one-epoch+k=10/none"
)
LABELS = ("task", "arm", "seed")
REFERENCE, RIVAL = "random/none", "random/asha"


def run(args: argparse.Namespace, runs_dir: str) -> list[StudyOutcome]:
    """Every task x arm, ``--seeds`` seeds each, through ``hyperlab.compare``."""
    seeds = list(range(args.seeds))
    common = dict(seeds=seeds, trials=args.trials, progress=False, report=False)
    records: list[dict[str, Any]] = []
    for task, label in itertools.product(args.tasks.split(","), args.arms.split(",")):
        tuner_part, pruner = label.split("/")
        tuner, *items = tuner_part.split("+")
        name = re.sub(r"[^\w.=-]", "_", f"{task}-{label}")[:100]
        out = hyperlab.compare(
            task,
            [tuner],
            pruners=[pruner],
            tuner_options=parse_options(items),
            runs_dir=runs_dir,
            name=name,
            storage=f"journal:{Path(runs_dir).resolve() / name}.journal",
            **common,
        )
        records += [{**r, "task": task, "arm": label} for r in out]
        print(f"  {task} {label} done", flush=True)
    return study_outcomes(records, by=LABELS)


def summarize(outcomes: list[StudyOutcome], arms: list[str]) -> dict[str, Any]:
    """One printed line per arm: epochs / random's, mean regret, minus ASHA's at the end and
    at equal epochs."""
    print(
        f"\n{'arm':<24}{'epochs/none':>12}{'mean regret':>13}   "
        f"{'minus asha, end [95% CI]':<30}{'minus asha, equal epochs':<30}   n (end/equal)"
    )
    summary = {}
    for arm in arms:
        end = paired_regret(outcomes, {"arm": arm}, {"arm": RIVAL}, match=("task", "seed"))
        equal = paired_regret(
            outcomes, {"arm": arm}, {"arm": RIVAL}, at="equal", match=("task", "seed")
        )
        regrets = [v for v in group_means(outcomes, {"arm": arm}, group=("task",)).values()]
        row = {
            "epochs_over_none": epochs_fraction(
                outcomes, {"arm": arm}, {"arm": REFERENCE}, group=("task",)
            ),
            "mean_regret": sum(regrets) / len(regrets) if regrets else float("nan"),
            "minus_asha_end": end.to_dict(),
            "minus_asha_equal_epochs": equal.to_dict(),
        }
        summary[arm] = row
        print(
            f"{arm:<24}{row['epochs_over_none']:>12.3f}{row['mean_regret']:>13.4f}   "
            f"{end.text() if end.n else '-':<30}{equal.text() if equal.n else '-':<30}"
            f"{end.n:>4}/{equal.n}"
        )
    return summary


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="the bank, 2 seeds, 30 trials")
    parser.add_argument("--tasks", default=TASKS)
    parser.add_argument("--arms", default=ARMS)
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--trials", type=int, default=50)
    parser.add_argument("--runs-dir", help="keep the compare runs here (a rerun resumes them)")
    parser.add_argument(
        "--out", type=Path, default=Path(__file__).parent / "results" / "one_epoch.json"
    )
    args = parser.parse_args(argv)
    if args.quick:
        args.tasks, args.seeds, args.trials = "digits-mlp-bank", 2, 30
    with tempfile.TemporaryDirectory() as scratch:
        outcomes = run(args, args.runs_dir or scratch)
    arms = args.arms.split(",")
    settings = {k: v for k, v in vars(args).items() if k != "out"}
    payload = {
        "question": __doc__.split("\n\n")[0],
        "settings": settings,
        "summary": summarize(outcomes, arms),
        "studies": [o.to_dict() for o in outcomes],
    }
    print(f"wrote {write_result(args.out, payload)}")


if __name__ == "__main__":
    main()
