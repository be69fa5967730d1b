"""PBT and PB2 on the MLP tasks at equal epochs, and what their checkpoints cost.

Question (issue 22, part 1): at equal total epochs (population x epochs), how do PBT and PB2
with a population of 4 compare with random search over 4 full trainings, and PB2 with 4 with
PBT with 8 (twice the epochs)? And do checkpoints cost at most 5% of the members' training
time (save after every generation; restore once when a run resumes)?

Method: ``hyperlab.tune`` per task x arm x seed (3-fold CV validation cross-entropy, the
default spaces); the best member's final value per run; ``checkpoint_share`` is the study's
``population`` summary (seconds writing checkpoints over seconds training), and the restore is
timed by loading the run's last checkpoint, against one member's training time (training
seconds over members; a resume restores once).

Claims and commands: ``benchmarks/README.md``.

Usage:
    nice .venv/bin/python benchmarks/pbt.py [--quick] [--seeds 3] [--budget 12] [--interval 3]
"""

from __future__ import annotations

import argparse
import math
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import hyperlab
from hyperlab.lab.provenance import write_result
from hyperlab.population import checkpoint

HERE = Path(__file__).parent
OUT = HERE / "results" / "pbt.json"
#: (tuner, trials): equal epochs for the three arms of 4; PBT with 8 has twice the epochs.
ARMS = (("pbt", 4), ("pb2", 4), ("random", 4), ("pbt", 8))
TASKS = ("wine-mlp", "digits-mlp")


def run_arm(
    task: str, tuner: str, trials: int, seed: int, budget: int, interval: int, runs: Path
) -> dict[str, Any]:
    """One run: the best final value, and for a population its checkpoint costs."""
    population = tuner in ("pbt", "pb2")
    began = time.perf_counter()
    study, summary = hyperlab.tune(
        task,
        tuner,
        trials=trials,
        seed=seed,
        budget=budget,
        tuner_options={"interval": interval} if population else None,
        runs_dir=runs,
        name=f"{task}-{tuner}{trials}-seed{seed}",
        progress=False,
        report=False,
    )
    row: dict[str, Any] = {
        "task": task,
        "arm": f"{tuner}-{trials}",
        "seed": seed,
        "best": study.best_value,
        "epochs": trials * budget,
        "wall_seconds": time.perf_counter() - began,
    }
    if population:
        info = study.user_attrs["population"]
        folder = next(summary.run_dir.glob(f"population/*/{checkpoint.FILE}")).parent
        began = time.perf_counter()
        checkpoint.load(folder)
        restore = time.perf_counter() - began
        member = info["train_seconds"] / trials
        row.update(
            checkpoint_share=info["checkpoint_share"],
            checkpoint_seconds=info["checkpoint_seconds"],
            saves=info["steps"],
            restore_seconds=restore,
            member_seconds=member,
            segment_seconds=member / math.ceil(budget / interval),
            restore_share=restore / member,
        )
    return row


def table(rows: list[dict[str, Any]]) -> str:
    """Mean (sd) of the best value per task and arm, with the checkpoint shares."""
    lines = [
        "task        arm        epochs  best mean (sd)     per seed                ckpt  restore"
    ]
    for task in TASKS:
        for tuner, trials in ARMS:
            arm = f"{tuner}-{trials}"
            mine = [r for r in rows if r["task"] == task and r["arm"] == arm]
            if not mine:
                continue
            best = [r["best"] for r in mine]
            sd = statistics.stdev(best) if len(best) > 1 else 0.0
            seeds = " ".join(f"{b:.4f}" for b in best)
            ckpt = restore = ""
            if "checkpoint_share" in mine[0]:
                ckpt = f"{100 * statistics.mean(r['checkpoint_share'] for r in mine):.1f}%"
                restore = f"{100 * statistics.mean(r['restore_share'] for r in mine):.1f}%"
            lines.append(
                f"{task:<11} {arm:<10} {mine[0]['epochs']:>6}  {statistics.mean(best):.4f} "
                f"({sd:.4f})    {seeds:<23} {ckpt:>5}  {restore:>6}"
            )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--budget", type=int, default=12)
    parser.add_argument("--interval", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="one seed, budget 4, interval 2")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    if args.quick:
        args.seeds, args.budget, args.interval = 1, 4, 2
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for task in TASKS:
            for seed in range(args.seeds):
                for tuner, trials in ARMS:
                    rows.append(
                        run_arm(task, tuner, trials, seed, args.budget, args.interval, Path(tmp))
                    )
                    print(rows[-1], flush=True)
    print(table(rows))
    settings = {"seeds": args.seeds, "budget": args.budget, "interval": args.interval}
    if not args.quick:
        write_result(args.out, {"settings": settings, "rows": rows})


if __name__ == "__main__":
    main()
