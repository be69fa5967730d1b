"""Claim: how many epochs each pruner uses in studies of a fixed number of trials, and at what
regret against the median rule.

Every (tuner, pruner) arm runs through ``hyperlab.compare`` on replayed LCBench tasks and the
``digits-mlp-bank`` curve bank. Printed for each tuner and pruner: epochs as a fraction of no
pruning's, mean regret (over tasks, of the mean over seeds), regret minus the median rule's
paired by task and seed (95% bootstrap CI), and, for each curve pruner, on how many tasks it has
the lower regret than ASHA and Hyperband at equal epochs (each pair cut at the smaller total).
An arm ``NAME+key=value`` passes options; ``curve-pretrained`` is ``curve`` pretrained on the
``--pretrain`` LCBench tasks (``+pool=wide``: on ``WIDE``), never on the task tuned.

    .venv/bin/python benchmarks/pruning.py --quick
    .venv/bin/python benchmarks/pruning.py --summarize RESULT.json [MORE.json ...] [--out MERGED.json]

The commands behind each result file: ``benchmarks/README.md``; what was tried and why:
``docs/decisions/early-stopping.md``.
"""

from __future__ import annotations

import argparse
import itertools
import json
import re
import tempfile
from pathlib import Path
from typing import Any

import hyperlab
from hyperlab.lab.outcomes import (
    StudyOutcome,
    epochs_fraction,
    group_means,
    group_wins,
    pair_studies,
    paired_regret,
    read_outcomes,
    study_outcomes,
)
from hyperlab.lab.provenance import write_result
from hyperlab.registry import parse_options

LCBENCH = "3945,7593,34539,126025,146212,167149,167184,189906"
#: LCBench tasks that pretrain ``curve-pretrained`` (none of them is benchmarked).
PRETRAIN = "126026,126029,167104,167152,167161,167168"
#: ``+pool=wide``: every LCBench task of the space that is neither benchmarked nor a development
#: task of the pruner's settings.
WIDE = PRETRAIN + ",167190,167200,167201,168329,168331,168335,168868,168908,189354,189865"
WIDE += ",189866,189873,189905,189908"
#: Pruners that record no predictions: a tuner's ``pruner_predictions`` has nothing to read there.
NO_PREDICTIONS = ("none", "median", "asha", "hyperband")
LABELS = ("task", "tuner", "pruner", "seed")


def arm(label: str, task: str, pool: str) -> tuple[str, dict[str, Any]] | None:
    """``NAME+key=value+...`` -> ``(NAME, options)``; ``NAME-pretrained`` is ``NAME`` pretrained
    on ``pool`` minus ``task`` (None on a task no other task shares a search space with)."""
    name, *items = label.split("+")
    options = parse_options(items)
    if name.endswith("-pretrained"):
        if not task.startswith("lcbench-"):
            return None
        ids = WIDE if options.pop("pool", None) == "wide" else pool
        options["pretrain"] = ",".join(f"lcbench-{i}" for i in ids.split(",") if i != task[8:])
        name = name.removesuffix("-pretrained")
    return name, options


def run(args: argparse.Namespace, runs_dir: str) -> list[StudyOutcome]:
    """Every task x tuner x pruner arm, ``--seeds`` seeds each, through ``hyperlab.compare``."""
    tasks = [f"lcbench-{i}" for i in args.lcbench.split(",") if i] + [args.bank] * bool(args.bank)
    seeds = list(range(args.first_seed, args.first_seed + args.seeds))
    common = dict(seeds=seeds, trials=args.trials, jobs=args.jobs, progress=False, report=False)
    records: list[dict[str, Any]] = []
    for task, tuner, pruner in itertools.product(
        tasks, args.tuners.split(","), args.pruners.split(",")
    ):
        built, (t_name, t_options) = arm(pruner, task, args.pretrain), arm(tuner, "", "")
        if built is None:
            continue
        if built[0] in NO_PREDICTIONS:
            t_options.pop("pruner_predictions", None)
        name = re.sub(r"[^\w.=-]", "_", f"{task}-{tuner}-{pruner}")[:100]
        storage = f"journal:{Path(runs_dir).resolve() / name}.journal"
        out = hyperlab.compare(
            task,
            [t_name],
            pruners=[built[0]],
            tuner_options=t_options,
            pruner_options=built[1],
            runs_dir=runs_dir,
            name=name,
            storage=storage,
            **common,
        )
        records += [{**r, "task": task, "tuner": tuner, "pruner": pruner} for r in out]
        print(f"  {task} {tuner} {pruner} done", flush=True)
    return study_outcomes(records, by=LABELS)


def summarize(outcomes: list[StudyOutcome]) -> dict[str, Any]:
    """Per tuner and pruner: epochs / none, mean regret, minus median, wins at equal epochs."""
    summary: dict[str, Any] = {}
    for tuner in dict.fromkeys(o.labels["tuner"] for o in outcomes):
        mine = [o for o in outcomes if o.labels["tuner"] == tuner]
        pruners = list(dict.fromkeys(o.labels["pruner"] for o in mine))
        header = f"{'epochs/none':>11}{'mean regret':>13}   {'minus median [95% CI]':<27}   n"
        print(f"\n{tuner + ':':<36}{header}")
        summary[tuner] = {p: row(mine, p, pruners) for p in pruners}
    return summary


def row(mine: list[StudyOutcome], p: str, pruners: list[str]) -> dict[str, Any]:
    """One pruner's line of the table, printed."""
    d = paired_regret(mine, {"pruner": p}, {"pruner": "median"})
    out: dict[str, Any] = {
        "epochs_over_none": epochs_fraction(mine, {"pruner": p}, {"pruner": "none"}),
        "mean_regret": _mean(group_means(mine, {"pruner": p}).values()),
        "minus_median": d.to_dict(),
    }
    wins = []
    for rival in (r for r in ("asha", "hyperband") if r in pruners and p.startswith("curve")):
        pairs = pair_studies(mine, {"pruner": p}, {"pruner": rival})
        won, _, tasks = out[f"equal_epochs_vs_{rival}"] = group_wins(pairs, "equal", ("task",))
        wins.append(f"{rival} {won}/{tasks}")
    print(
        f"  {p:<34}{out['epochs_over_none']:>11.3f}{out['mean_regret']:>13.4f}   "
        f"{d.text() if d.n else '-':<27}{d.n:>4}"
        + ("   beats at equal epochs: " + ", ".join(wins) if wins else "")
    )
    return out


def _mean(values: Any) -> float:
    finite = [v for v in values if v == v]
    return sum(finite) / len(finite) if finite else float("nan")


def previous(paths: list[Path]) -> tuple[list[StudyOutcome], dict[str, Any]]:
    """The studies of result files, merged, and what the first says (what made each is kept)."""
    outcomes, sources = read_outcomes(paths)
    first = json.loads(paths[0].read_text())
    kept = {k: first[k] for k in ("question", "settings", "reproduce") if k in first}
    return outcomes, {**kept, "produced_by": sources if len(paths) > 1 else sources[paths[0].name]}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2 tasks, random, 1 seed, 30 trials")
    parser.add_argument("--lcbench", default=LCBENCH, help="OpenML task ids")
    parser.add_argument("--bank", default="digits-mlp-bank", help="'' to leave the bank out")
    parser.add_argument("--tuners", default="random,tpe")
    parser.add_argument("--pruners", default="none,median,asha,hyperband,curve,curve-pretrained")
    parser.add_argument("--pretrain", default=PRETRAIN, help="LCBench ids for curve-pretrained")
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--first-seed", type=int, default=0)
    parser.add_argument("--trials", type=int, default=100)
    parser.add_argument("--jobs", type=int, default=1, help="worker processes per compare run")
    parser.add_argument("--runs-dir", help="keep the compare runs here (a rerun resumes them)")
    parser.add_argument("--summarize", type=Path, nargs="+", help="print these files merged")
    parser.add_argument(
        "--out", type=Path, help="default: results/pruning.json; with --summarize: none (no file)"
    )
    args = parser.parse_args(argv)
    if args.quick:
        args.lcbench, args.bank, args.tuners = "3945,7593", "", "random"
        args.seeds, args.trials = 1, 30
        args.pruners, args.pretrain = "none,median,asha,curve,curve-pretrained", "126026,167104"
    if args.summarize:
        outcomes, kept = previous(args.summarize)
    else:
        with tempfile.TemporaryDirectory() as scratch:
            outcomes = run(args, args.runs_dir or scratch)
        settings = {k: v for k, v in vars(args).items() if k not in ("summarize", "out")}
        kept = {"question": __doc__.split("\n\n")[0], "settings": settings}
    summary = summarize(outcomes)
    studies = [o.to_dict() for o in outcomes]
    if args.summarize and args.out is None:
        print("(a reprint writes nothing; --out FILE writes the merged file)")
        return
    out = args.out or Path(__file__).parent / "results" / "pruning.json"
    print(f"wrote {write_result(out, {**kept, 'summary': summary, 'studies': studies})}")


if __name__ == "__main__":
    main()
