"""Claim: fed the curve pruner's predictions, the neural tuner finds better configurations at
equal epochs.

When ``curve`` stops a trial it records the final value it predicted; with the tuner option
``pruner_predictions`` (on by default for ``neural``) the tuner learns from that trial as if it
had finished at the prediction, instead of only from complete trials. Four arms run through
``hyperlab.compare`` on the same tasks and seeds: the ``neural`` tuner without the feedback and
no pruning, the median rule or ``curve``, and with the feedback and ``curve``. Printed: each
arm's epochs and regret per task, then the feedback's regret minus each other arm's, paired by
task and seed (95% bootstrap CI), after all trials and at equal epochs (both studies read at the
smaller of their two epoch totals), and on how many tasks its mean regret is lower.

    .venv/bin/python benchmarks/pruner_feedback.py --quick
    .venv/bin/python benchmarks/pruner_feedback.py --summarize RESULT.json [MORE.json ...] [--out MERGED.json]

Commands behind the result file: ``benchmarks/README.md``; history:
``docs/decisions/early-stopping.md``.
"""

from __future__ import annotations

import argparse
import json
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
    read_outcomes,
    regret_differences,
    study_outcomes,
)
from hyperlab.lab.provenance import write_result
from hyperlab.lab.stats import bootstrap_interval

LCBENCH = "3945,7593,34539,126025,146212,167149,167184,189906"
#: arm -> (tuner option pruner_predictions, pruner)
ARMS = {
    "none": (False, "none"),
    "median": (False, "median"),
    "curve": (False, "curve"),
    "curve+feedback": (True, "curve"),
}


def run(args: argparse.Namespace, runs_dir: str) -> list[StudyOutcome]:
    """The four arms on every task, ``--seeds`` seeds each, through ``hyperlab.compare``."""
    tasks = [f"lcbench-{i}" for i in args.lcbench.split(",") if i] + [args.bank] * bool(args.bank)
    seeds = list(range(args.first_seed, args.first_seed + args.seeds))
    records: list[dict[str, Any]] = []
    for task in tasks:
        for arm, (feedback, pruner) in ARMS.items():
            name = f"{task}-{arm}"
            out = hyperlab.compare(
                task,
                ["neural"],
                pruners=[pruner],
                seeds=seeds,
                trials=args.trials,
                # the arms as measured before pruned_last_value existed (it enters a trial
                # pruned without a prediction at its last value; on by default since)
                tuner_options={"pruner_predictions": feedback, "pruned_last_value": False},
                runs_dir=runs_dir,
                name=name,
                storage=f"journal:{Path(runs_dir).resolve() / name}.journal",
                progress=False,
                report=False,
            )
            records += [{**r, "task": task, "arm": arm} for r in out]
        print(f"  {task} done", flush=True)
    return study_outcomes(records, by=("task", "arm", "seed"))


def summarize(outcomes: list[StudyOutcome]) -> dict[str, Any]:
    """The per-task table and the feedback arm against each other arm."""
    arms = [a for a in ARMS if any(o.labels["arm"] == a for o in outcomes)]
    means = {a: group_means(outcomes, {"arm": a}, group=("task",)) for a in arms}
    epochs = {a: group_means(outcomes, {"arm": a}, "epochs", ("task",)) for a in arms}
    print(f"\n{'task':<18}" + "".join(f"{a + ': epochs / regret':>33}" for a in arms))
    for (task,) in means[arms[0]]:
        cells = [f"{epochs[a][(task,)]:>18.0f} / {means[a][(task,)]:<12.4f}" for a in arms]
        print(f"{task:<18}" + "".join(cells))
    summary: dict[str, Any] = {
        a: {
            "epochs_over_none": epochs_fraction(outcomes, {"arm": a}, {"arm": "none"}, ("task",)),
            "mean_regret": sum(means[a].values()) / len(means[a]),
        }
        for a in arms
    }
    for rival in ("curve", "median", "none"):
        pairs = pair_studies(outcomes, {"arm": "curve+feedback"}, {"arm": rival}, ("task", "seed"))
        print(f"\ncurve+feedback minus {rival}, paired by task and seed ({len(pairs)} pairs):")
        for at in ("final", "equal"):
            d = bootstrap_interval(regret_differences(pairs, at))
            wins, _, tasks = group_wins(pairs, at, ("task",))
            summary[f"minus_{rival}_{at}"] = {**d.to_dict(), "tasks_lower": wins, "tasks": tasks}
            when = "after all trials" if at == "final" else "at equal epochs"
            print(f"  {when:<17}{d.text()}  lower on {wins}/{tasks} tasks")
    return summary


def previous(paths: list[Path]) -> tuple[list[StudyOutcome], dict[str, Any]]:
    """The studies of result files, merged, and what the first says (what made each is kept)."""
    outcomes, sources = read_outcomes(paths)
    first = json.loads(paths[0].read_text())
    kept = {k: first[k] for k in ("question", "settings", "reproduce") if k in first}
    return outcomes, {**kept, "produced_by": sources if len(paths) > 1 else sources[paths[0].name]}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1 task, 1 seed, 30 trials")
    parser.add_argument("--lcbench", default=LCBENCH, help="OpenML task ids")
    parser.add_argument("--bank", default="digits-mlp-bank", help="'' to leave the bank out")
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--first-seed", type=int, default=0)
    parser.add_argument("--trials", type=int, default=100)
    parser.add_argument("--runs-dir", help="keep the compare runs here (a rerun resumes them)")
    parser.add_argument("--summarize", type=Path, nargs="+", help="print these files merged")
    parser.add_argument(
        "--out",
        type=Path,
        help="default: results/pruner_feedback.json; with --summarize: none (no file)",
    )
    args = parser.parse_args(argv)
    if args.quick:
        args.lcbench, args.bank, args.seeds, args.trials = "3945", "", 1, 30
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
    out = args.out or Path(__file__).parent / "results" / "pruner_feedback.json"
    print(f"wrote {write_result(out, {**kept, 'summary': summary, 'studies': studies})}")


if __name__ == "__main__":
    main()
