"""How often is the diagnostician right on a task its classifier never saw?

For each task of a labelled set in turn, the classifier trains on the other tasks' runs (of the
scored sets and of ``--train-sets``; a held-out task's runs never train it, from any set), its
weight against the rules is chosen by leave-one-task-out on the training tasks alone, and the
blended diagnosis is scored on the held-out task: balanced accuracy of the primary finding and
how often the learning-rate and regularization advice points the expected way. Beside it: the
rules alone, and the classifier in distribution (5-fold CV, every task seen in training).
Several ``--data`` sets are each scored this way, with one training pool (every ``--data`` and
``--train-sets`` file) and shared fits; the mean over them is printed last.

``--shipped`` trains nothing: it scores the model users get, each run of each ``--data`` set
diagnosed by :func:`hyperlab.diagnose.diagnose` as a user calls it (and with
``use_model=False``: the rules alone), with the misses per cause. It is how the diagnostician is
scored on data sets no run of which trained it (the ``diagnosis_fresh_*`` sets of imb3 and
clusters2; those of hastie and classif6 were such sets for the five-task model, and the
``diagnosis_unseen_*`` iris and blobs sets for the three-task model before it: the shipped
seven-task model trains on both).

The labelled sets come from ``scripts/make_diagnosis_set.py``; the shipped model from
``scripts/train_diagnosis_model.py``. Claims and commands: ``benchmarks/README.md``; how the
protocol came to be: ``docs/decisions/diagnose-accuracy.md``.

Usage:
    .venv/bin/python benchmarks/diagnose_accuracy.py [--data FILE ...] [--train-sets FILE ...]
        [--weights 0.5 0.75 1.0] [--c 1.0] [--quick] [--no-in-distribution] [--out FILE]
    .venv/bin/python benchmarks/diagnose_accuracy.py --shipped --data FILE ... [--out FILE]
"""

from __future__ import annotations

import argparse
import hashlib
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from hyperlab.diagnose import MODEL_WEIGHT, diagnose
from hyperlab.diagnose.classifier import MODEL_PATH, blend_weight
from hyperlab.diagnose.training import (
    LabelledRuns,
    Settings,
    by_cause,
    held_out,
    load_runs,
    prediction,
    score,
)
from hyperlab.lab.provenance import write_result

HERE = Path(__file__).parent
DATA = HERE / "data" / "diagnosis_set.json.gz"
OUT = HERE / "results" / "diagnose_accuracy.json"
#: The drop from in-distribution to held-out reported for trainers' diagnosers on unseen
#: programs (arXiv 2606.26492), the yardstick of the held-out drop.
ANCHOR_DROP = 0.19
#: score key -> column heading
KEYS = {
    "balanced_accuracy": "bal.acc",
    "accuracy": "acc",
    "lr_direction_all": "lr-all",
    "lr_direction_moves": "lr-move",
    "reg_direction_all": "reg-all",
    "reg_direction_moves": "reg-move",
}


def _per_task(data: LabelledRuns, rows: np.ndarray, preds: list[dict[str, str]]) -> dict:
    tasks = data.tasks[rows]
    return {
        t: score(
            [data.runs[i] for i in rows[tasks == t]], [p for p, k in zip(preds, tasks) if k == t]
        )
        for t in sorted(set(tasks.tolist()))
    }


def _in_distribution(data: LabelledRuns, rows: np.ndarray, settings: Settings) -> dict[str, Any]:
    """5-fold stratified CV over ``rows``; every other run of the pool joins each fold."""
    from sklearn.model_selection import StratifiedKFold

    extra = np.setdiff1d(np.arange(len(data.runs)), rows)
    y = [data.labels[i] for i in rows]
    n_splits = max(2, min(5, min(y.count(label) for label in set(y))))
    preds: list[dict[str, str]] = [{}] * len(rows)
    folds = StratifiedKFold(n_splits, shuffle=True, random_state=0).split(data.x[rows], y)
    for tr, te in folds:
        model = data.fit(np.concatenate([rows[tr], extra]), settings)
        for j, p in zip(te, data.predict(rows[te], model, MODEL_WEIGHT)):
            preds[j] = p
    return score([data.runs[i] for i in rows], preds)


def _confusion(y: list[str], p: list[str]) -> dict[str, Any]:
    labels = sorted(set(y))
    cols = labels + sorted(set(p) - set(labels))
    matrix = [[sum(a == t and b == c for a, b in zip(y, p)) for c in cols] for t in labels]
    return {"rows": labels, "cols": cols, "matrix": matrix}


def score_set(
    data: LabelledRuns, rows: np.ndarray, args: argparse.Namespace, settings: Settings
) -> dict[str, Any]:
    """Held-out, rules-only and in-distribution scores of the scored runs ``rows``."""
    runs = [data.runs[i] for i in rows]
    held, chosen = held_out(data, rows, args.weights, settings)
    rules = data.predict(rows, None, 0.0)
    per_task = {
        t: {"held_out": h, "rules_only": r}
        for (t, h), r in zip(
            _per_task(data, rows, held).items(), _per_task(data, rows, rules).values()
        )
    }
    out: dict[str, Any] = {
        "n_runs": len(runs),
        "tasks": sorted(per_task),
        "held_out_pooled": score(runs, held),
        "held_out_mean_over_tasks": float(
            np.mean([v["held_out"]["balanced_accuracy"] for v in per_task.values()])
        ),
        "rules_only": score(runs, rules),
        "per_task": per_task,
        "blend_weight_nested": chosen,
        "confusion_held_out": _confusion([r["label"] for r in runs], [p["primary"] for p in held]),
    }
    if not args.no_in_distribution:
        out["in_distribution_cv5"] = _in_distribution(data, rows, settings)
        indist = out["in_distribution_cv5"]["balanced_accuracy"]
        out["drop_in_dist_to_held_out"] = indist - out["held_out_mean_over_tasks"]
    return out


def score_shipped(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The shipped model and the rules alone on ``runs``, each diagnosed as a user would."""
    shipped = [prediction(diagnose(r["curves"])) for r in runs]
    rules = [prediction(diagnose(r["curves"], use_model=False)) for r in runs]
    tasks = sorted({r["task"] for r in runs})
    per_task = {}
    for t in tasks:
        k = [i for i, r in enumerate(runs) if r["task"] == t]
        sub = [runs[i] for i in k]
        per_task[t] = {
            "shipped": score(sub, [shipped[i] for i in k]),
            "rules_only": score(sub, [rules[i] for i in k]),
        }
    return {
        "n_runs": len(runs),
        "tasks": tasks,
        "shipped": score(runs, shipped),
        "rules_only": score(runs, rules),
        "per_task": per_task,
        "by_cause_shipped": by_cause(runs, shipped),
        "by_cause_rules_only": by_cause(runs, rules),
        "confusion_shipped": _confusion(
            [r["label"] for r in runs], [p["primary"] for p in shipped]
        ),
    }


def _print_shipped(name: str, res: dict[str, Any]) -> None:
    print(f"\n{name}: {res['n_runs']} runs, tasks {res['tasks']}")
    print(f"{'':<40}" + "".join(f"{head:>9}" for head in KEYS.values()))
    print(_row("rules only", res["rules_only"]))
    print(_row("shipped model", res["shipped"]))
    if len(res["tasks"]) > 1:
        for t, v in res["per_task"].items():
            print(_row(f"  {t} shipped", v["shipped"]))
            print(_row(f"  {t} rules only", v["rules_only"]))
    print("shipped model per cause (expected finding: recall; primary findings):")
    for cause, v in res["by_cause_shipped"].items():
        got = ", ".join(f"{k} {n}" for k, n in v["primary"].items())
        print(f"  {cause:<12} {v['expected']:<17} {v['recall']:.2f}  {got}")


def _shipped_main(args: argparse.Namespace) -> None:
    """``--shipped``: score the model users get on each ``--data`` set; nothing is trained."""
    start = time.perf_counter()
    results = {}
    for f in args.data:
        res = score_shipped(load_runs(f)[:: 3 if args.quick else 1])
        results[Path(f).name] = res
        _print_shipped(Path(f).name, res)
    payload = {
        "settings": {**vars(args), "data": [Path(f).name for f in args.data]},
        "model": {
            "sha256": hashlib.sha256(MODEL_PATH.read_bytes()).hexdigest(),
            "blend_weight": blend_weight(MODEL_WEIGHT),
        },
        "sets": results,
        "seconds": time.perf_counter() - start,
    }
    print(f"wrote {write_result(args.out, payload)} in {payload['seconds']:.0f} s")


def _row(name: str, s: dict[str, Any]) -> str:
    cells = "".join(f"{'-' if s[k] is None else f'{s[k]:.3f}':>9}" for k in KEYS)
    return f"{name:<40}{cells}"


def _print(name: str, res: dict[str, Any]) -> None:
    print(f"\n{name}: {res['n_runs']} runs, tasks {res['tasks']}")
    print(f"{'':<40}" + "".join(f"{head:>9}" for head in KEYS.values()))
    print(_row("rules only", res["rules_only"]))
    print(_row("rules + classifier, held out", res["held_out_pooled"]))
    if "in_distribution_cv5" in res:
        print(_row("rules + classifier, in dist.", res["in_distribution_cv5"]))
    for t, v in res["per_task"].items():
        weight = res["blend_weight_nested"][t]["weight"]
        print(_row(f"  {t} held out (w {weight})", v["held_out"]))
        print(_row(f"  {t} rules only", v["rules_only"]))
    tail = f"held out, mean over tasks {res['held_out_mean_over_tasks']:.3f}"
    if "drop_in_dist_to_held_out" in res:
        tail += f"; drop from in distribution {res['drop_in_dist_to_held_out']:+.3f}"
    print(f"{tail} (anchor {ANCHOR_DROP})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", nargs="+", default=[str(DATA)], metavar="FILE")
    parser.add_argument("--train-sets", nargs="*", default=[], metavar="FILE")
    parser.add_argument("--weights", type=float, nargs="+", default=[0.5, 0.75, 1.0])
    parser.add_argument("--c", type=float, default=1.0, help="inverse L2 strength")
    parser.add_argument("--tree-stages", type=int, default=60)
    parser.add_argument("--tree-depth", type=int, default=2)
    parser.add_argument("--quick", action="store_true", help="every third run of each set")
    parser.add_argument("--no-in-distribution", action="store_true", help="skip the 5-fold CV")
    parser.add_argument(
        "--shipped",
        action="store_true",
        help="score the shipped model (and the rules alone) on each --data set; trains nothing",
    )
    parser.add_argument("--out", default=str(OUT))
    args = parser.parse_args()
    if args.shipped:
        if args.train_sets:
            parser.error("--shipped trains nothing: --train-sets cannot go with it")
        if args.out == str(OUT):
            parser.error("--shipped needs --out (the default file holds the held-out scores)")
        _shipped_main(args)
        return
    warnings.filterwarnings("ignore", message="y_pred contains classes not in y_true")
    start = time.perf_counter()
    settings = Settings(args.c, args.tree_stages, args.tree_depth)
    files = [*args.data, *args.train_sets]
    sets = [load_runs(f)[:: 3 if args.quick else 1] for f in files]
    data = LabelledRuns([r for s in sets for r in s])
    bounds = np.cumsum([0, *map(len, sets)])
    results = {}
    for k, name in enumerate(args.data):
        res = score_set(data, np.arange(bounds[k], bounds[k + 1]), args, settings)
        results[Path(name).name] = res
        _print(Path(name).name, res)
    mean = {
        key: float(np.mean([r["held_out_pooled"][key] for r in results.values()])) for key in KEYS
    }
    if len(results) > 1:
        print("\n" + _row(f"mean over {len(results)} sets, held out", mean))
    payload = {
        "settings": {**vars(args), "data": [Path(f).name for f in args.data]},
        "train_sets": [Path(f).name for f in args.train_sets],
        "anchor_drop": ANCHOR_DROP,
        "targets": {"balanced_accuracy": 0.9, "advice_direction": 0.9},
        "sets": results,
        "mean_held_out": mean,
        "seconds": time.perf_counter() - start,
    }
    print(f"wrote {write_result(args.out, payload)} in {payload['seconds']:.0f} s")


if __name__ == "__main__":
    main()
