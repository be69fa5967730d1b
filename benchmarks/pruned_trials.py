"""Should ``meta`` and ``neural`` learn from the trials a pruner stopped without a prediction?

``median`` and ``asha`` stop most trials and record no prediction of their final value. Left
out (``pruned_last_value=false``), those trials teach the tuner nothing, and it keeps
proposing the regions it was just stopped in. Entered at their last reported value
(``pruned_last_value=true``, a pessimistic reading of a curve that improves with training),
they mark those regions as poor. This script runs both settings of each tuner under each
pruner through the multi-fidelity panel of ``leaderboard.py`` (each study spends 20 full
trainings and is read at 5, 10 and 20) and prints the paired difference, setting on minus
off, over tasks and seeds (95% bootstrap interval, Wilcoxon signed-rank p).

The default tasks are five LCBench tasks of the training suite (development problems); pass
``--set lcbench-validation`` to check on the validation suite. The history:
``docs/decisions/neural-tuner.md`` ("Trials pruned without a prediction").

Usage:
    .venv/bin/python benchmarks/pruned_trials.py [--tasks ...] [--set ...] [--seeds 5]
        [--tuners meta,neural] [--pruners asha,median] [--out FILE] [--cache FILE] [--quick]
    .venv/bin/python benchmarks/pruned_trials.py --from RESULT_FILE
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))  # the panel runner of leaderboard.py

from hyperlab.lab.provenance import write_result
from hyperlab.lab.stats import paired_comparison, paired_interval
from leaderboard import problem_set, run_fidelity_panel

DEV_TASKS = "lcbench-3945,lcbench-34539,lcbench-126025,lcbench-126029,lcbench-167104"
MULTIPLES = [5, 10, 20]
OUT = Path(__file__).parent / "results" / "pruned_trials.json"


def regret_at(run: Any, multiple: int) -> float:
    """The run's best loss within ``multiple`` full trainings, less the optimum when known
    (a paired difference is the same either way)."""
    within = [i for i, c in enumerate(run.cost or []) if c <= multiple]
    if not within:
        return math.nan
    return float(run.best[within[-1]]) - float(run.optimum or 0.0)


def arm(tuner: str, pruner: str, on: bool) -> str:
    return f"{tuner}+pruned_last_value={'true' if on else 'false'}+{pruner}"


def differences(rows: list[dict[str, Any]], tuners: list[str], pruners: list[str]) -> list[dict]:
    """Per tuner, pruner and checkpoint: the paired difference, on minus off."""
    value = {(r["task"], r["arm"], r["seed"]): r["regret"] for r in rows}
    out = []
    for tuner in tuners:
        for pruner in pruners:
            for i, m in enumerate(MULTIPLES):
                on, off = arm(tuner, pruner, True), arm(tuner, pruner, False)
                keys = sorted((t, s) for t, a, s in value if a == on and (t, off, s) in value)
                pairs = [(value[(t, on, s)][i], value[(t, off, s)][i]) for t, s in keys]
                pairs = [p for p in pairs if all(math.isfinite(v) for v in p)]
                if len(pairs) < 2:
                    continue
                a, b = [p[0] for p in pairs], [p[1] for p in pairs]
                d = paired_interval(a, b)
                out.append(
                    {
                        "tuner": tuner,
                        "pruner": pruner,
                        "full_trainings": m,
                        **d.to_dict(),
                        "p_value": paired_comparison(a, b, on, off).p_value,
                        "lower": sum(x < y for x, y in pairs),
                        "higher": sum(x > y for x, y in pairs),
                    }
                )
    return out


def print_table(diffs: list[dict]) -> None:
    print(f"{'tuner':<8}{'pruner':<8}{'at':>4}  {'on - off (regret)':<28}{'p':>7}  lower/higher")
    for d in diffs:
        interval = f"{d['mean']:+.4f} [{d['low']:+.4f}, {d['high']:+.4f}]"
        print(
            f"{d['tuner']:<8}{d['pruner']:<8}{d['full_trainings']:>4}  {interval:<28}"
            f"{d['p_value']:>7.3f}  {d['lower']}/{d['higher']} of {d['n']}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", default=None, help=f"default {DEV_TASKS}")
    parser.add_argument("--set", default=None, help="a problem set of leaderboard.py instead")
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--tuners", default="meta,neural")
    parser.add_argument("--pruners", default="asha,median")
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--cache", type=Path, default=None, help="runs cache (default: --out's)")
    parser.add_argument("--from", dest="source", type=Path, help="reprint a result file")
    parser.add_argument("--quick", action="store_true", help="a smoke run: 1 task, 2 seeds")
    args = parser.parse_args()
    if args.quick:
        args.tasks, args.seeds = DEV_TASKS.split(",")[0], 2
        args.out = Path(tempfile.mkdtemp()) / "pruned_trials_quick.json"
    if args.source:
        print_table(json.loads(args.source.read_text())["differences"])
        return
    tuners, pruners = args.tuners.split(","), args.pruners.split(",")
    tasks = problem_set(args.set) if args.set else (args.tasks or DEV_TASKS).split(",")
    arms = [arm(t, p, on) for t in tuners for p in pruners for on in (False, True)]
    cache = args.cache or args.out.with_suffix(".partial.jsonl")
    runs = run_fidelity_panel(tasks, arms, args.seeds, MULTIPLES, cache)
    rows = [
        {
            "task": r.problem,
            "arm": r.tuner,
            "seed": r.seed,
            "regret": [regret_at(r, m) for m in MULTIPLES],
        }
        for r in runs
    ]
    diffs = differences(rows, tuners, pruners)
    print_table(diffs)
    payload = {
        "question": "should meta and neural learn from trials pruned without a prediction?",
        "settings": {"tasks": tasks, "seeds": args.seeds, "tuners": tuners, "pruners": pruners},
        "differences": diffs,
        "rows": rows,
    }
    print(f"\nwritten to {write_result(args.out, payload)}")


if __name__ == "__main__":
    main()
