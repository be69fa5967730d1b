"""How often is the diagnostician right? Leave-one-task-out on the labelled curve set.

Claim (issue 6): on a task it was not trained on, the primary finding reaches >= 90% balanced
accuracy and the learning-rate and regularization advice points the right way >= 90% of the
time; the drop from in-distribution to held-out is below the ~0.19 balanced-accuracy drop
reported for trainers' diagnosers on unseen programs (arXiv 2606.26492).

For each task in turn the classifier (default: the ensemble of logistic regression and
gradient-boosted trees, ``--model``) is trained on the other two tasks' runs and the blended
diagnosis (rules + classifier, as ``diagnose`` does) is scored on the held-out task. Side by side
in the same run: the rules alone (no learning), the other classifier kinds held out the same
way, and the chosen classifier in distribution (5-fold stratified CV over all runs, every task
seen in training).
The classifier's weight against the rules is chosen by nested leave-one-task-out: for each held-out
task, among ``WEIGHTS`` by leave-one-task-out on the other two tasks only. The side-by-side
classifier kinds and the in-distribution run use the default weight 0.5.
Labels and expected advice come from the run's cause (see ``make_diagnosis_set.py``).
Also reported, never used to choose anything: the held-out score at each fixed blend weight (how
much the nested choice of weight moves the result), and an effect check for label noise: a
pushed run counts as "checked" when its final validation loss is worse than 90% of its task's
baseline runs (their spread is the seed, split and jitter noise; only the outcome is compared,
never a curve shape; baseline and tiny-val runs are always kept). The held-out scores are given
on all runs and on the checked runs, for the classifier trained on all runs and for one trained
on the checked runs only (nested the same way).

More training data, same honesty (``--train-sets FILE...``): other labelled sets (independent
regenerations) join the training pool. For held-out task t of the scored set, the classifier and
the nested weight choice train on the other two tasks' runs of the scored set *and* of the extra
sets; task t's runs never enter training, from any set. (The inner weight choice trains on one of
the two training tasks and scores on the other's runs, of all sets.) The single-set protocol is
computed in the same run and reported beside it (``single_set_protocol``); without
``--train-sets`` the single-set protocol alone runs, as before. Extra sets also join every fold
of the in-distribution run.

Fresh sets: the rules, features and classifier settings were developed on the seed-0 set
(``diagnosis_set.json.gz``, which trained the shipped model until the fourth round). Two independent regenerations
(``--seed 1``, ``--seed 2``; ``diagnosis_set_seed{1,2}.json.gz``) are scored the same way into
``diagnose_accuracy_seed{1,2}.json``: set-to-set spread of the held-out balanced accuracy
(measured: 0.806, 0.754, 0.809 on seeds 0, 1, 2), so a change smaller than about 0.03 on one set
is not evidence; judge changes on the mean over the three sets.
The rules were then revised on all three sets, a change kept only when the mean held-out
balanced accuracy over them rose by at least 0.015 (2 of 3 sets up, none down by more than 0.02)
and neither advice direction fell by more than 0.01: a run stopped within a few epochs of its
best validation loss is a good fit, a validation loss that stalled long ago while the train loss
kept falling is overfitting, a loss that never leaves its start is underfitting (a plateau must
fall first), a blow-up whose metric never rises is lr-too-high. Measured after: 0.859, 0.834,
0.876 (mean 0.856, was 0.790); learning-rate advice on runs that should move 0.895 (was 0.879),
regularization advice 0.848 (was 0.803). A fourth regeneration (``--seed 3``), made with the
unchanged generator and scored once after the rules were frozen, gives 0.850 (the rules before
the revision: 0.819), learning-rate advice 0.900, regularization advice 0.867
(``diagnose_accuracy_seed3.json``).
A second revision used seeds 0-3 as the dev pool (a change kept only when the mean over the four
rose by at least 0.01, at least 3 of 4 sets did not fall and no advice direction fell by more than
0.01). A loss of exactly 0 no longer moves the whole run to a linear axis (a correctness fix, kept
regardless: 0.859, 0.834, 0.876, 0.850 -> 0.874, 0.842, 0.876, 0.862), and a validation metric
that only takes multiples of 1/m for some m <= 10 is evidence of a noisy validation measurement:
0.878, 0.858, 0.888, 0.875 (mean 0.875, was 0.855); learning-rate advice on runs that should move
0.900 (was 0.896), regularization advice 0.848 (was 0.852). Rejected there: discounting
underfitting by the blew-up-and-died evidence (+0.004) and an lr-too-high term for a jumpy
validation loss close to the train loss (+0.006; learning-rate advice 0.900 -> 0.938). A fifth
regeneration (``--seed 4``), made with the unchanged generator and scored once after the revision
was frozen, gives 0.872 (rules before both revisions: 0.799, after the first: 0.845, with only
the zero-loss fix added: 0.868), learning-rate advice 0.914, regularization advice 0.914
(``diagnose_accuracy_seed4.json``).
A third revision used seeds 0-4 as the dev pool (a change kept only when the mean over the five
rose by at least 0.008, at least 4 of 5 sets did not fall and no mean advice number fell by more
than 0.01; an advice-only change, which cannot move the primary finding, when the mean advice on
runs that should move rose by at least 0.02 and fell on at most one set). Kept: regularization
knobs that no reported finding moves follow the stronger of overfitting and underfitting from
confidence 0.15 on, and overfitting moves nothing when the primary finding is noisy validation.
Regularization advice on runs that should move 0.848, 0.829, 0.848, 0.867, 0.914 -> 0.886,
0.924, 0.895, 0.914, 0.943 (mean 0.861 -> 0.912), on all runs 0.880 -> 0.889; balanced accuracy
and learning-rate advice unchanged (0.878, 0.858, 0.888, 0.875, 0.872; 0.903). Rejected there
(balanced accuracy below the bar): the blew-up-and-died discount with the jumpy-validation term
(+0.005), the jumpy-validation term alone (+0.004; learning-rate advice 0.903 -> 0.936), a
coarse validation metric's noisy-validation score not re-weighed down by the classifier
(+0.005), both together (+0.006), an oscillating train loss counting only with a jumpy
validation loss (-0.001); an outcome check in the generator (dropping pushed runs that end
within the baseline runs' spread) was simulated first and not pursued: only high-reg runs change
much, +0.006 at most. A sixth regeneration (``--seed 5``), made with the unchanged generator and
scored once after the revision was frozen, gives 0.865 (the same before the revision),
learning-rate advice 0.900, regularization advice 0.886 (before: 0.848)
(``diagnose_accuracy_seed5.json``).
A fourth round left the rules alone and gave the classifier more data. Dev pool: seeds 0-5, each
scored with the other five as extra training sets; a protocol change adopted only when the mean
held-out balanced accuracy over the six rose by at least 0.008 against the single-set protocol, at
least 5 of 6 sets did not fall and no mean advice number fell by more than 0.01 (fixed before the
first number). The extra sets with the old weights: mean 0.877 (single set: 0.873), two sets
lower: rejected. The classifier itself did gain (at the fixed weight 0.5: 0.884 against 0.873),
but the nested choice took 0.25 for two of the three held-out tasks: the inner split trains on
one task, the outer one on two, so the inner choice leans towards the rules. The extra sets with
the candidate weights 0.5, 0.75, 1.0 (still chosen nested; ``--weights``): 0.883, 0.863, 0.894,
0.879, 0.899, 0.877 on seeds 0-5 (single set: 0.878, 0.858, 0.888, 0.875, 0.872, 0.865), mean
0.883 (was 0.873), every set up; learning-rate advice on runs that should move 0.902 -> 0.921,
regularization advice 0.908 -> 0.929: adopted as the reported protocol
(``diagnose_accuracy_multiset_seed{0..5}.json``). The new weights alone, on one set, do nothing
(0.873). In distribution (every task seen) the extra sets lift 5-fold CV from about 0.91 to
0.93: what still keeps the held-out score under 0.90 is the shift between tasks (lr-too-high and
underfitting are recalled on about 75% of held-out runs), not the amount of data. The shipped
model is now trained on seeds 0-5 pooled (2796 runs; blend weight 0.5, chosen among the three by
leave-one-task-out over them). A seventh regeneration (``--seed 6``), made with the
unchanged generator and scored once after this round was frozen, gives 0.887 with the extra sets
0-5 (single set: 0.846; per task breast-cancer 0.827, digits 0.981, wine 0.845), learning-rate
advice on runs that should move 0.929 (single set: 0.900), regularization advice 0.962 (0.867)
(``diagnose_accuracy_multiset_seed6.json``, ``diagnose_accuracy_seed6.json``).
A fifth round asked whether more data keeps helping. Dev pool: seeds 0-6; a change adopted only when
the mean held-out balanced accuracy over the seven rose by at least 0.005, at least 5 of 7 sets did
not fall and no mean advice number fell by more than 0.01 (fixed before the first number). Four
training-only regenerations (``diagnosis_train_seed{20..23}.json.gz``, never scored) join the
extra sets. Dev numbers come from ``diagnose_dev_pool.py`` (this protocol, models shared between
scored sets). The classifier's learning curve, mean over seeds 0-6 against the number of sets it
trains on: 1: 0.869, 3: 0.878, 7 (the fourth round's protocol): 0.884, 11: 0.886, about +0.004
per doubling, so data alone would need roughly ten times more for 0.90. The four sets alone: +0.003,
rejected; with the logistic regression's C 0.3 -> 1.0 as well: 0.889 (+0.005, 6 of 7 sets not
lower; learning-rate advice on runs that should move 0.924 -> 0.922, regularization 0.936 ->
0.943): adopted, at the edge of the bar. Larger trees on top (150 stages, depth 3): -0.000,
rejected. What is left is the shift between tasks: breast-cancer Adam runs at x100-x1000 the
learning rate, stopped after 5 epochs, end with a good metric and a loss far above chance and are
read as not converged or a good fit (lr-too-high recall 0.63 there; the misses do change the
outcome, so this is not label noise). The shipped model is trained on seeds 0-6 and 20-23 pooled
(C 1.0). An eighth regeneration (``--seed 7``), scored once after the round was frozen: 0.8996, just
under 0.90 (round-4 protocol: 0.892, single set: 0.893; per task breast-cancer 0.798, digits 0.968, wine
0.911), learning-rate advice on runs that should move 0.886 (round-4 protocol 0.886, single set
0.864), regularization advice 0.943 (0.943, 0.924) (``diagnose_accuracy_multiset_train_seed7.json``,
``diagnose_accuracy_multiset_seed7.json``, ``diagnose_accuracy_seed7.json``).
Sixth round (dev seeds 0-7): ``val_loss_excess``, the final validation loss over a calibrated classifier's
log-loss at the reached accuracy, plus an lr-too-high rule term (from 12x, full at 90x): dev 0.892 -> 0.899,
lr advice on runs that should move 0.920 -> 0.949 (the feature alone +0.003, rejected). Shipped model: seeds
0-7 and 20-23. Fresh ``--seed 8``, scored once: 0.888 (breast-cancer 0.857, digits 0.981, wine 0.804), lr
advice 0.936, regularization 0.924 (``diagnose_accuracy_multiset_train_seed8.json``).
Seventh round (dev seeds 0-8, mean 0.899): ``val_gap_zigzag``, a validation-minus-train gap that zigzags, +0.003:
rejected; its target (breast-cancer tiny-val runs read as not converged) is a generator shift: only that task's tuned
run is 5 epochs. Eighth round: ``val_loss_excess`` reads a perfect score in steps of 1/m as an error rate of 1/(2m),
not 0.001 (regularized wine runs, right at low confidence, read as lr-too-high): +0.004 alone; with the zigzag feature
(stack declared first) 0.899 -> 0.904, 9/9 sets not lower: adopted (model: seeds 0-8, 20-23; weight kept 0.5). Fresh
``--seed 9``, once: 0.904 (breast-cancer 0.833, digits 0.974, wine 0.893), lr advice 0.929, regularization 0.924.
Confirmation, rule fixed before the set existed (the same library, a second fresh set; resolved iff the mean over
seeds 9 and 10 is >= 0.90 and both advice numbers are >= 0.90 on both): ``--seed 10``, once: 0.902 (breast-cancer
0.839, digits 0.981, wine 0.869), lr advice 0.964, regularization 0.952; mean 0.903. The mean of the per-task scores
is lower (0.900 and 0.896): breast-cancer held out stays at 0.83-0.84 (``..._multiset_train_seed10.json``).

Usage:
    .venv/bin/python benchmarks/make_diagnosis_set.py [--seed S --out F]   # ~5-15 minutes
    .venv/bin/python benchmarks/diagnose_accuracy.py [--quick] [--write-model]
    .venv/bin/python benchmarks/diagnose_accuracy.py --data benchmarks/data/diagnosis_set_seed1.json.gz \
        --out benchmarks/results/diagnose_accuracy_seed1.json   # likewise seed2-seed6
    # the reported protocol: the fresh seed-7 set, the dev sets and the training-only sets as extras
    .venv/bin/python benchmarks/diagnose_accuracy.py --data benchmarks/data/diagnosis_set_seed7.json.gz \
        --train-sets benchmarks/data/diagnosis_set.json.gz benchmarks/data/diagnosis_set_seed{1..6}.json.gz \
        benchmarks/data/diagnosis_train_seed{20..23}.json.gz --weights 0.5 0.75 1.0 --c 1.0 \
        --out benchmarks/results/diagnose_accuracy_multiset_train_seed7.json
    # the fourth round's protocol: drop the training-only sets and --c 1.0
    # (``diagnose_accuracy_multiset_seed{0..7}.json``; seeds 0-5 with the other five dev sets)
    # the shipped model (seeds 0-8 and 20-23 pooled)
    .venv/bin/python benchmarks/diagnose_accuracy.py \
        --train-sets benchmarks/data/diagnosis_set_seed{1..8}.json.gz \
        benchmarks/data/diagnosis_train_seed{20..23}.json.gz --weights 0.5 0.75 1.0 --c 1.0 --write-model \
        --out benchmarks/results/diagnose_accuracy_shipped_model.json

``--write-model`` also fits the classifier on every run (of the scored set and the extra sets)
and writes the shipped ``src/hyperlab/diagnose/model.json``, with the blend weight chosen by
leave-one-task-out over those runs.
"""

from __future__ import annotations

import argparse
import gzip
import json
import math
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from hyperlab.diagnose import MODEL_WEIGHT, _diagnose, model_inputs
from hyperlab.diagnose import classifier as clf
from hyperlab.diagnose.features import features, view
from hyperlab.diagnose.inputs import check_curves
from hyperlab.diagnose.rules import rule_scores

HERE = Path(__file__).parent
DATA = HERE / "data" / "diagnosis_set.json.gz"
OUT = HERE / "results" / "diagnose_accuracy.json"
ANCHOR_DROP = 0.19
#: Candidate weights of the classifier against the rules, chosen by nested leave-one-task-out.
WEIGHTS = (0.25, 0.5, 0.75, 1.0)
#: Effect check: a pushed run must end worse than this quantile of its task's baseline runs.
EFFECT_QUANTILE = 0.9
#: Causes the effect check leaves alone (the reference, and a push on the measurement).
_NOT_CHECKED = ("baseline", "tiny-val")


def _load(path: Path) -> dict[str, Any]:
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        data = json.load(fh)
    for r in data["runs"]:
        r["curves"] = {k: [math.nan if x is None else x for x in v] for k, v in r["curves"].items()}
    return data


def _final_val(run: dict[str, Any]) -> float:
    """The validation loss a run ends with (``inf`` when it diverged)."""
    last = run["curves"]["val_loss"][-1]
    return float(last) if math.isfinite(last) else math.inf


def _effect_thresholds(runs: list[dict[str, Any]]) -> dict[str, float]:
    """Per task, the :data:`EFFECT_QUANTILE` quantile of the baseline runs' final validation loss."""
    out = {}
    for task in sorted({r["task"] for r in runs}):
        base = [_final_val(r) for r in runs if r["task"] == task and r["cause"] == "baseline"]
        out[task] = float(np.quantile(base, EFFECT_QUANTILE))
    return out


def _effect_checked(runs: list[dict[str, Any]]) -> list[bool]:
    """Whether each run's push measurably changed its outcome (the label-noise check).

    Only the outcome is compared, never a curve shape: a pushed run counts when its final
    validation loss is worse than :data:`EFFECT_QUANTILE` of its task's baseline runs (whose
    spread is the seed, split and jitter noise). Baseline runs are the reference and tiny-val
    runs push the measurement, not the model, so both are always kept.
    """
    limit = _effect_thresholds(runs)
    return [r["cause"] in _NOT_CHECKED or _final_val(r) > limit[r["task"]] for r in runs]


def _inputs(runs: list[dict[str, Any]], metrics: bool = True) -> np.ndarray:
    rows = []
    for r in runs:
        c = check_curves(r["curves"])
        if not metrics:
            c = {k: a for k, a in c.items() if k.endswith("_loss")}
        v = view(c)
        f = features(c, v)
        rows.append(model_inputs(f, rule_scores(f, v)))
    return np.array(rows)


def _predict(
    runs: list[dict[str, Any]], model: clf.Classifier | None, weight: float = MODEL_WEIGHT
) -> list[dict[str, str]]:
    out = []
    for r in runs:
        d = _diagnose(check_curves(r["curves"]), None, model, weight)
        lr, wd = d.advice_for("lr"), d.advice_for("weight_decay")
        out.append(
            {
                "primary": d.primary.name,
                "lr": lr.direction if lr else "keep",
                "reg": wd.direction if wd else "keep",
            }
        )
    return out


def _pooled_and_per_task(
    runs: list[dict[str, Any]], preds: list[dict[str, str]], tasks: list[str]
) -> dict[str, Any]:
    """``_scores`` of the predictions on all runs (``held_out_pooled``) and per task."""
    return {
        "held_out_pooled": _scores(runs, preds),
        "per_task": {
            t: _scores(
                [r for r in runs if r["task"] == t],
                [q for q, r in zip(preds, runs) if r["task"] == t],
            )
            for t in tasks
        },
    }


def _scores(runs: list[dict[str, Any]], preds: list[dict[str, str]]) -> dict[str, Any]:
    from sklearn.metrics import balanced_accuracy_score

    y = [r["label"] for r in runs]
    p = [q["primary"] for q in preds]
    out: dict[str, Any] = {
        "n": len(runs),
        "balanced_accuracy": float(balanced_accuracy_score(y, p)),
    }
    out["accuracy"] = float(np.mean([a == b for a, b in zip(y, p)]))
    for knob in ("lr", "reg"):
        pairs = [(r["advice"][knob], q[knob]) for r, q in zip(runs, preds)]
        out[f"{knob}_direction_all"] = float(np.mean([a == b for a, b in pairs]))
        moving = [(a, b) for a, b in pairs if a != "keep"]
        out[f"{knob}_direction_moves"] = (
            float(np.mean([a == b for a, b in moving])) if moving else None
        )
        out[f"{knob}_n_moves"] = len(moving)
    return out


def _confusion(y: list[str], p: list[str], labels: list[str]) -> list[list[int]]:
    cols = labels + sorted(set(p) - set(labels))
    return [[sum(1 for a, b in zip(y, p) if a == t and b == c) for c in cols] for t in labels]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", default=str(DATA))
    parser.add_argument("--out", default=str(OUT), help="where the results JSON goes")
    parser.add_argument("--quick", action="store_true", help="a third of the runs")
    parser.add_argument("--c", type=float, default=0.3, help="inverse L2 strength")
    parser.add_argument(
        "--model", choices=["linear", "trees", "ensemble"], default="ensemble", help="classifier"
    )
    parser.add_argument("--tree-stages", type=int, default=60, help="boosting stages")
    parser.add_argument("--tree-depth", type=int, default=2, help="depth of each boosted tree")
    parser.add_argument(
        "--weights",
        type=float,
        nargs="+",
        default=list(WEIGHTS),
        help="candidate blend weights, chosen among by nested leave-one-task-out",
    )
    parser.add_argument("--write-model", action="store_true")
    parser.add_argument(
        "--train-sets",
        nargs="*",
        default=[],
        metavar="FILE",
        help="more labelled sets whose runs of the training tasks also train the classifier "
        "(a held-out task's runs never do, from any set)",
    )
    args = parser.parse_args()
    warnings.filterwarnings("ignore", message="y_pred contains classes not in y_true")
    start = time.perf_counter()
    data = _load(Path(args.data))
    runs = data["runs"][:: 3 if args.quick else 1]
    n_scored = len(runs)
    extra_sets = [_load(Path(f))["runs"][:: 3 if args.quick else 1] for f in args.train_sets]
    # the training pool: the scored set's runs first (indices 0..n_scored-1), then the extra sets'
    pool_runs = runs + [r for e in extra_sets for r in e]
    scored_rows = [i < n_scored for i in range(len(pool_runs))]
    every_row = [True] * len(pool_runs)
    tasks = sorted({r["task"] for r in runs})
    labels = sorted({r["label"] for r in runs})
    x = _inputs(pool_runs)
    x_nometric = _inputs(pool_runs, metrics=False)
    y = [r["label"] for r in pool_runs]

    def fit(idx: Any, kind: str = args.model) -> clf.Classifier:
        # every run twice, with and without its metric curves, so that the classifier also
        # serves users who log only losses
        xs, ys = np.vstack([x[idx], x_nometric[idx]]), [y[i] for i in idx] * 2
        if kind == "linear":
            return clf.fit(xs, ys, c=args.c)
        trees = {"n_stages": args.tree_stages, "depth": args.tree_depth}
        if kind == "trees":
            return clf.fit_trees(xs, ys, **trees)
        return clf.Ensemble([clf.fit(xs, ys, c=args.c), clf.fit_trees(xs, ys, **trees)])

    # the other classifier kinds, held out the same way, side by side
    others: dict[str, Any] = {}
    for kind in sorted({"linear", "trees", "ensemble"} - {args.model}):
        preds_k: list[dict[str, str]] = [{}] * len(runs)
        for task in tasks:
            test = [i for i, r in enumerate(runs) if r["task"] == task]
            model_k = fit(np.array([i for i, r in enumerate(pool_runs) if r["task"] != task]), kind)
            for i, q in zip(test, _predict([runs[i] for i in test], model_k)):
                preds_k[i] = q
        others[kind] = _pooled_and_per_task(runs, preds_k, tasks)

    weights = tuple(args.weights)

    def choose_weight(
        pool: list[str], use: list[bool], rows: list[bool]
    ) -> tuple[float, dict[str, float]]:
        """The blend weight with the best leave-one-task-out balanced accuracy within ``pool``
        (training on the runs flagged in ``use`` and ``rows``, scoring on all runs of the inner
        task among ``rows``: the scored set alone, or with the extra sets)."""
        preds_w: dict[float, list[dict[str, str]]] = {w: [] for w in weights}
        inner_runs: list[dict[str, Any]] = []
        for inner in pool:
            tr = np.array(
                [
                    i
                    for i, r in enumerate(pool_runs)
                    if r["task"] in pool and r["task"] != inner and use[i] and rows[i]
                ]
            )
            te = [r for i, r in enumerate(pool_runs) if r["task"] == inner and rows[i]]
            model_i = fit(tr)
            inner_runs += te
            for w in weights:
                preds_w[w] += _predict(te, model_i, w)
        acc = {w: _scores(inner_runs, p)["balanced_accuracy"] for w, p in preds_w.items()}
        # ties go to the weight nearest the even blend
        return max(weights, key=lambda w: (round(acc[w], 6), -abs(w - 0.5))), acc

    def held_out(
        use: list[bool], rows: list[bool]
    ) -> tuple[list[dict[str, str]], dict[str, Any], dict[float, list[dict[str, str]]]]:
        """Leave-one-task-out predictions for every scored run, training on the runs flagged in
        ``use`` among ``rows`` (the scored set, or it and the extra sets); the blend weight is
        chosen on the two training tasks only (nested). Also the predictions at every candidate
        weight (a sensitivity report, not a choice)."""
        preds_h: list[dict[str, str]] = [{}] * len(runs)
        fixed: dict[float, list[dict[str, str]]] = {w: [{}] * len(runs) for w in weights}
        chosen_h: dict[str, Any] = {}
        for task in tasks:
            train = [i for i, r in enumerate(pool_runs) if r["task"] != task and use[i] and rows[i]]
            test = [i for i, r in enumerate(runs) if r["task"] == task]
            # nested: the weight is chosen on the two training tasks only, never on ``task``
            weight, inner_acc = choose_weight([t for t in tasks if t != task], use, rows)
            chosen_h[task] = {"weight": weight, "inner_balanced_accuracy": inner_acc}
            model = fit(np.array(train))
            for w in weights:
                for i, q in zip(test, _predict([runs[i] for i in test], model, w)):
                    fixed[w][i] = q
            for i in test:
                preds_h[i] = fixed[weight][i]
        return preds_h, chosen_h, fixed

    rules_preds = _predict(runs, None)
    held_preds, chosen, fixed_preds = held_out(every_row, every_row)
    single: dict[str, Any] | None = None
    if extra_sets:  # the single-set protocol side by side (the default when no extra sets)
        single_preds, single_chosen, _ = held_out(every_row, scored_rows)
        single = {
            **_pooled_and_per_task(runs, single_preds, tasks),
            "blend_weight_nested": single_chosen,
        }
    fixed_weight = {
        str(w): {
            "pooled": _scores(runs, p)["balanced_accuracy"],
            **{
                t: _scores(
                    [r for r in runs if r["task"] == t],
                    [q for q, r in zip(p, runs) if r["task"] == t],
                )["balanced_accuracy"]
                for t in tasks
            },
        }
        for w, p in fixed_preds.items()
    }
    per_task: dict[str, Any] = {}
    for task in tasks:
        test = [i for i, r in enumerate(runs) if r["task"] == task]
        per_task[task] = {
            "held_out": _scores([runs[i] for i in test], [held_preds[i] for i in test]),
            "rules_only": _scores([runs[i] for i in test], [rules_preds[i] for i in test]),
        }
    # the effect check (label noise): scores on the runs whose push measurably changed the
    # outcome, for the classifier trained on all runs and for one trained on checked runs only
    checked = _effect_checked(runs) + [c for e in extra_sets for c in _effect_checked(e)]
    kept = [i for i in range(len(runs)) if checked[i]]
    checked_preds, checked_chosen, _ = held_out(checked, every_row)

    def on(idx: list[int], preds: list[dict[str, str]]) -> dict[str, Any]:
        return _scores([runs[i] for i in idx], [preds[i] for i in idx])

    effect_check = {
        "rule": (
            f"a pushed run is kept when its final validation loss exceeds the "
            f"{EFFECT_QUANTILE:.0%} quantile of its task's baseline runs' final validation "
            f"losses (baseline and tiny-val runs are always kept)"
        ),
        "n_checked": len(kept),
        "removed_by_cause": {
            c: sum(1 for r, k in zip(runs, checked) if r["cause"] == c and not k)
            for c in sorted({r["cause"] for r in runs})
        },
        "threshold_by_task": _effect_thresholds(runs),
        "trained_on_all": {
            "scored_on_all": _scores(runs, held_preds),
            "scored_on_checked": on(kept, held_preds),
        },
        "trained_on_checked": {
            "scored_on_all": _scores(runs, checked_preds),
            "scored_on_checked": on(kept, checked_preds),
            "per_task_checked": {
                t: on([i for i in kept if runs[i]["task"] == t], checked_preds) for t in tasks
            },
            "blend_weight_nested": checked_chosen,
            "confusion_checked": {
                "rows": labels,
                "cols": labels + sorted({checked_preds[i]["primary"] for i in kept} - set(labels)),
                "matrix": _confusion(
                    [y[i] for i in kept], [checked_preds[i]["primary"] for i in kept], labels
                ),
            },
        },
    }

    from sklearn.model_selection import StratifiedKFold

    # every task seen in training; the extra sets' runs (if any) join every fold's training
    in_preds: list[dict[str, str]] = [{}] * len(runs)
    y_scored = y[:n_scored]
    extra_rows = np.arange(n_scored, len(pool_runs))
    n_splits = max(2, min(5, min(y_scored.count(label) for label in labels)))
    folds = StratifiedKFold(n_splits, shuffle=True, random_state=0).split(x[:n_scored], y_scored)
    for tr, te in folds:
        model = fit(np.concatenate([tr, extra_rows]))
        for i, q in zip(te, _predict([runs[i] for i in te], model)):
            in_preds[i] = q

    held = _scores(runs, held_preds)
    rules = _scores(runs, rules_preds)
    indist = _scores(runs, in_preds)
    held_task_mean = float(np.mean([per_task[t]["held_out"]["balanced_accuracy"] for t in tasks]))
    drop = indist["balanced_accuracy"] - held_task_mean
    result = {
        "n_runs": len(runs),
        "tasks": tasks,
        "labels": labels,
        "held_out_pooled": held,
        "held_out_mean_over_tasks": held_task_mean,
        "rules_only": rules,
        "in_distribution_cv5": indist,
        "drop_in_dist_to_held_out": drop,
        "anchor_drop": ANCHOR_DROP,
        "per_task": per_task,
        "other_classifiers_held_out": others,
        "confusion_held_out": {
            "rows": labels,
            "cols": labels + sorted({q["primary"] for q in held_preds} - set(labels)),
            "matrix": _confusion(y[:n_scored], [q["primary"] for q in held_preds], labels),
        },
        "confusion_rules_only": {
            "rows": labels,
            "cols": labels + sorted({q["primary"] for q in rules_preds} - set(labels)),
            "matrix": _confusion(y[:n_scored], [q["primary"] for q in rules_preds], labels),
        },
        "targets": {"balanced_accuracy": 0.9, "advice_direction": 0.9},
        "c": args.c,
        "tree_stages": args.tree_stages,
        "tree_depth": args.tree_depth,
        "model": args.model,
        "weights": list(weights),
        "blend_weight_nested": chosen,
        "held_out_fixed_weight": fixed_weight,
        "effect_check": effect_check,
        "data": Path(args.data).name,
        "train_sets": [Path(f).name for f in args.train_sets],
        "single_set_protocol": single,
        "seconds": time.perf_counter() - start,
    }

    def row(name: str, s: dict[str, Any]) -> str:
        return (
            f"{name:<28} {s['balanced_accuracy']:>8.3f} {s['accuracy']:>6.3f} "
            f"{s['lr_direction_all']:>7.3f} {s['lr_direction_moves']:>8.3f} "
            f"{s['reg_direction_all']:>7.3f} {s['reg_direction_moves']:>8.3f}"
        )

    print(f"{len(runs)} runs, tasks {tasks}")
    print(
        f"{'method':<28} {'bal.acc':>8} {'acc':>6} {'lr-all':>7} {'lr-move':>8} {'reg-all':>7} {'reg-move':>8}"
    )
    print(row("rules only (pooled)", rules))
    print(row(f"rules+{args.model} held-out", held))
    if single is not None:
        print(row("  (single-set held-out)", single["held_out_pooled"]))
    for kind, o in others.items():
        print(row(f"  (rules+{kind} held-out)", o["held_out_pooled"]))
    print(row(f"rules+{args.model} in-dist 5-fold", indist))
    for t in tasks:
        print(f"  held-out {t}: blend weight {chosen[t]['weight']} (chosen on the other tasks)")
    for t in tasks:
        print(row(f"  held-out {t}", per_task[t]["held_out"]))
        print(row(f"  rules only {t}", per_task[t]["rules_only"]))
    print(
        f"in-distribution {indist['balanced_accuracy']:.3f} -> held-out (mean over tasks) "
        f"{held_task_mean:.3f}: drop {drop:+.3f} (anchor: 0.19)"
    )
    cm = result["confusion_held_out"]
    print("confusion (held-out, rows = expected, cols = predicted):")
    print(" " * 17 + " ".join(f"{c[:7]:>7}" for c in cm["cols"]))
    for name, counts in zip(cm["rows"], cm["matrix"]):
        print(f"{name:<17}" + " ".join(f"{n:>7d}" for n in counts))
    print(
        "held-out balanced accuracy at each fixed blend weight (sensitivity, not a choice): "
        + ", ".join(f"{w}: {v['pooled']:.3f}" for w, v in fixed_weight.items())
    )
    ec = effect_check
    print(
        f"effect check: {ec['n_checked']} of {len(runs)} runs kept; removed {ec['removed_by_cause']}"
    )
    print(row("  trained on all, scored on checked", ec["trained_on_all"]["scored_on_checked"]))
    print(row("  trained on checked, scored on all", ec["trained_on_checked"]["scored_on_all"]))
    print(row("  trained on checked, on checked", ec["trained_on_checked"]["scored_on_checked"]))
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2))
    print(f"wrote {out} in {result['seconds']:.0f}s")
    if args.write_model:
        weight, acc = choose_weight(tasks, every_row, every_row)
        print(f"shipped blend weight {weight} (leave-one-task-out over all tasks: {acc})")
        model = fit(np.arange(len(pool_runs)))
        clf.MODEL_PATH.write_text(json.dumps({**model.to_dict(), "blend_weight": weight}))
        print(f"wrote {clf.MODEL_PATH} (trained on all {len(pool_runs)} runs)")


if __name__ == "__main__":
    main()
