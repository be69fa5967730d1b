"""Train the diagnostician's shipped classifier, ``src/hyperlab/diagnose/model.json``.

Rebuild the shipped model (seven tasks' labelled sets pooled: digits, breast-cancer and wine
sets 0-9 and the training-only sets 20-23, iris and blobs sets 30-33, hastie and classif6 sets
40-43; not set 10, kept for scoring; blend weight 0.5, see
``docs/decisions/diagnose-accuracy.md``; about a minute on one core)::

    .venv/bin/python scripts/train_diagnosis_model.py --weights 0.5 \\
        --sets benchmarks/data/diagnosis_set.json.gz benchmarks/data/diagnosis_set_seed{1..9}.json.gz \\
        benchmarks/data/diagnosis_train_seed{20..23}.json.gz \\
        benchmarks/data/diagnosis_unseen_iris_seed30.json.gz benchmarks/data/diagnosis_train_iris_seed{31..33}.json.gz \\
        benchmarks/data/diagnosis_unseen_blobs_seed30.json.gz benchmarks/data/diagnosis_train_blobs_seed{31..33}.json.gz \\
        benchmarks/data/diagnosis_fresh_hastie_seed40.json.gz benchmarks/data/diagnosis_train_hastie_seed{41..43}.json.gz \\
        benchmarks/data/diagnosis_fresh_classif6_seed40.json.gz benchmarks/data/diagnosis_train_classif6_seed{41..43}.json.gz

The classifier (logistic regression averaged with boosted trees, every run with and without its
metric curves) trains on every run of the sets; its weight against the rules is the candidate of
``--weights`` with the best leave-one-task-out balanced accuracy over them, or the one weight
given (:func:`hyperlab.diagnose.training.train_model`). The file also records the sets, the
settings and the command. The labelled sets come from ``scripts/make_diagnosis_set.py``; how well the
result does on sets it never saw: ``benchmarks/diagnose_accuracy.py``.
"""

from __future__ import annotations

import argparse
import json
from collections import Counter
from pathlib import Path

from hyperlab.diagnose.classifier import MODEL_PATH
from hyperlab.diagnose.training import LabelledRuns, Settings, load_runs, train_model
from hyperlab.lab.provenance import provenance


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sets", nargs="+", required=True, metavar="FILE")
    parser.add_argument("--weights", type=float, nargs="+", default=[0.5, 0.75, 1.0])
    parser.add_argument("--c", type=float, default=1.0, help="inverse L2 strength")
    parser.add_argument("--tree-stages", type=int, default=60)
    parser.add_argument("--tree-depth", type=int, default=2)
    parser.add_argument("--quick", action="store_true", help="every third run (a smoke test)")
    parser.add_argument("--out", default=str(MODEL_PATH))
    args = parser.parse_args()
    settings = Settings(args.c, args.tree_stages, args.tree_depth)
    data = LabelledRuns([r for f in args.sets for r in load_runs(f)[:: 3 if args.quick else 1]])
    model, weight, acc = train_model(data, args.weights, settings)
    print(f"blend weight {weight} (leave-one-task-out balanced accuracy per weight: {acc})")
    record = {
        "sets": [Path(f).name for f in args.sets],
        "n_runs": len(data.runs),
        "tasks": dict(Counter(data.tasks.tolist())),
        "settings": {"c": args.c, "tree_stages": args.tree_stages, "tree_depth": args.tree_depth},
        "weights": args.weights,
        "quick": args.quick,
        **{k: v for k, v in provenance().items() if k in ("command", "commit", "dirty")},
    }
    out = Path(args.out)
    out.write_text(json.dumps({**model.to_dict(), "blend_weight": weight, "trained_on": record}))
    print(f"wrote {out} (trained on all {len(data.runs)} runs)")


if __name__ == "__main__":
    main()
