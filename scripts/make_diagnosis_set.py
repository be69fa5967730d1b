"""Generate a labelled learning-curve set: the data that trains and measures the diagnostician.

Rebuild the sets in ``benchmarks/data/`` (each about 5 minutes on an idle core, 15 on two busy
shared ones; not bit-reproducible across machines: long and diverging runs drift in the last
digits)::

    .venv/bin/python scripts/make_diagnosis_set.py                     # diagnosis_set.json.gz (seed 0)
    .venv/bin/python scripts/make_diagnosis_set.py --seed S \
        --out benchmarks/data/diagnosis_set_seedS.json.gz               # S = 1..10: scored sets
    .venv/bin/python scripts/make_diagnosis_set.py --seed S \
        --out benchmarks/data/diagnosis_train_seedS.json.gz             # S = 20..23: training only

Runs on other data sets (``--tasks``: ``iris-mlp``, ``blobs-mlp``, ``hastie-mlp`` and
``classif6-mlp``, which the shipped model trains on, and ``imb3-mlp``, ``clusters2-mlp``, whose
seed-50 sets judged it once; the default is the three tasks above, whose sets do not change
with it)::

    .venv/bin/python scripts/make_diagnosis_set.py --tasks iris-mlp --seed 30 \
        --out benchmarks/data/diagnosis_unseen_iris_seed30.json.gz

Labels come from the *cause*: each run starts from a well-tuned baseline of its task and pushes
one knob (or the validation measurement) by a known amount. The diagnostician never sees the
cause; ``benchmarks/diagnose_accuracy.py`` compares its finding with the finding the cause should
produce (table below). Why each rule is as it is: ``docs/decisions/diagnose-accuracy.md``.

1. **The baseline is tuned by validation first** (:func:`_pilot`). Per task and optimizer the
   centre configuration (2x64 relu, dropout 0.1, weight decay 1e-4, batch 32) is trained with
   two pilot seeds (own splits) at learning rates x0.3, x1, x3, x10 of a default (Adam 1e-3,
   SGD 3e-2) for up to 60 epochs (wine, iris: 150); the rate with the lowest seed-averaged
   validation loss wins, and the tuned epochs are that rate's first epoch within 0.005 nats of
   its lowest (3-epoch smoothed) validation loss (early stopping's ``min_delta``: on wine the
   loss creeps towards 0 for 150 epochs, so the bare minimum would sit at the end). Every push
   below is relative to this tuned baseline. A *baseline run* (jittered seed, split, learning rate
   x0.74-1.35, width, depth, activation) then stops by its own validation loss: early stopping
   with ``min_delta`` 0.005 and a patience of 3 epochs, at most 3x the tuned epochs, so that
   its label describes the run (with a fixed epoch count the jitter alone moves a run's best
   epoch enough to make it overfit or stop short).
2. **Pushes are far enough that the cause is real**: 4x the tuned epochs without any
   regularization for the overfitting causes; learning rates x100-x1000 and x0.002-x0.01; a
   stop at 1/15-1/10 of the tuned epochs (at least 3), with an optimizer whose tuned baseline
   needs at least 20 epochs (a 5-epoch baseline cut to 3 epochs is not cut short).
   **A stop counts only if it cut training short, judged by the outcome**: the same run (same
   seed, so the same first epochs) is trained on as a baseline run is, with early stopping, and
   the stop is kept only if that continuation reaches a validation loss more than ``min_delta``
   below the best one before the stop; otherwise the draw is redrawn (its own generator, so the
   other runs stay as they were).
3. **Noisy validation is a noisy measurement**: the validation loss is computed each epoch on
   4-8 samples drawn anew from the validation split (as when one validates on a single small
   batch). A fixed tiny split would not show: the model changes smoothly, so its loss curve
   does too.
4. **No cause where it cannot exist**: no MLP is "too small" for breast-cancer, wine or iris.

Cause -> expected primary finding -> expected advice (documented once, used by the benchmark):

=================  ===========================================  ================  ==================
cause              what is changed from the tuned baseline      expected finding  expected advice
=================  ===========================================  ================  ==================
baseline           nothing (jitter); stopped by early stopping   good-fit          keep lr, keep reg
low-reg            wd 0, dropout 0, width 256, 4x the epochs     overfitting       reg up
large-model        3 layers of 256, no reg, 4x the epochs        overfitting       reg up
high-reg           weight decay 0.1-0.5 and dropout 0.5-0.7      underfitting      reg down
small-model        one layer of width 1-3 (digits, blobs)        underfitting      width/n_layers up
lr-low             learning rate x0.002, x0.005, x0.01           lr-too-low        lr up
lr-high            learning rate x100, x300, x1000               lr-too-high       lr down
few-epochs         stopped after 1/15 or 1/10 of the epochs (>=3) not-converged     epochs up
tiny-val           validation on 4-8 samples drawn each epoch    noisy-validation  keep lr, keep reg
=================  ===========================================  ================  ==================

Learning rates x0.1 and x10 are left out: they are mild enough that a run may still be fine, so
they have no single right answer.

Runs train one stratified train/validation split (75/25) of the task's training part with a
small loop over :func:`hyperlab.tasks.mlp.build_mlp` and :func:`build_optimizer`, the same
per-epoch statistics the lab records (train loss = running mean over the epoch's batches).
Defaults: 150 runs per task requested, rounded up per cause (154 on digits, 156 on the others).
"""

from __future__ import annotations

import argparse
import gzip
import json
import math
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from hyperlab.tasks.mlp import SklearnMLPTask, build_mlp, build_optimizer

DEFAULT_OUT = Path(__file__).resolve().parents[1] / "benchmarks" / "data" / "diagnosis_set.json.gz"
#: task -> (data set, largest number of epochs the pilot tries)
TASKS = {
    "digits-mlp": ("digits", 60),
    "breast-cancer-mlp": ("breast-cancer", 60),
    "wine-mlp": ("wine", 150),
}
#: Tasks on other data (only with ``--tasks``), chosen before any run on them: iris has a few
#: batches per epoch (as wine), blobs about 28 (as digits). Their sets 30-33 train the shipped
#: model beside the three tasks'.
UNSEEN_TASKS = {"iris-mlp": ("iris", 150), "blobs-mlp": ("blobs", 60)}
#: Tasks kept for a final check on data no choice of the diagnostician touched (only with
#: ``--tasks``), each chosen before any run on it: 28-38 batches per epoch (as digits). hastie
#: and classif6 judged the five-task model (their sets 40-43 then trained the seven-task one);
#: imb3 and clusters2 judged the seven-task model.
FRESH_TASKS = {
    "hastie-mlp": ("hastie", 60),
    "classif6-mlp": ("classif6", 60),
    "imb3-mlp": ("imb3", 60),
    "clusters2-mlp": ("clusters2", 60),
}
#: Every task; a task's random streams are indexed by its place here, so adding one at the end
#: leaves the others' runs as they were.
ALL_TASKS = {**TASKS, **UNSEEN_TASKS, **FRESH_TASKS}

#: cause -> expected primary finding (the single source of truth for the benchmark).
EXPECTED_FINDING = {
    "baseline": "good-fit",
    "low-reg": "overfitting",
    "large-model": "overfitting",
    "high-reg": "underfitting",
    "small-model": "underfitting",
    "lr-low": "lr-too-low",
    "lr-high": "lr-too-high",
    "few-epochs": "not-converged",
    "tiny-val": "noisy-validation",
}
#: cause -> expected direction of (learning rate, regularization) advice.
EXPECTED_ADVICE = {
    "baseline": {"lr": "keep", "reg": "keep"},
    "low-reg": {"lr": "keep", "reg": "up"},
    "large-model": {"lr": "keep", "reg": "up"},
    "high-reg": {"lr": "keep", "reg": "down"},
    "small-model": {"lr": "keep", "reg": "keep"},
    "lr-low": {"lr": "up", "reg": "keep"},
    "lr-high": {"lr": "down", "reg": "keep"},
    "few-epochs": {"lr": "keep", "reg": "keep"},
    "tiny-val": {"lr": "keep", "reg": "keep"},
}
#: share of each task's runs per cause
WEIGHTS = {
    "baseline": 2,
    "low-reg": 1,
    "large-model": 1,
    "high-reg": 1,
    "small-model": 1,
    "lr-low": 2,
    "lr-high": 2,
    "few-epochs": 2,
    "tiny-val": 2,
}

#: causes that do not exist on a task, decided before looking at any curve: logistic regression
#: already reaches ~97% accuracy on breast-cancer and on wine, so no MLP is "too small" for them
#: (on wine a 2-unit layer already has the rank of logistic regression's linear map); the same
#: holds on iris (0.95, 3 classes). Digits (0.97, but 10 classes), blobs (0.63), hastie (0.52),
#: classif6 (0.44), imb3 (0.65) and clusters2 (0.62) keep the cause.
_NOT_APPLICABLE = {
    ("breast-cancer-mlp", "small-model"),
    ("wine-mlp", "small-model"),
    ("iris-mlp", "small-model"),
}

#: The pilot's centre configuration (learning rate and epochs are tuned per task and optimizer).
_CENTRE = {
    k: v for k, v in SklearnMLPTask().default_config().items() if k not in ("lr", "optimizer")
}
_BASE_LR = {"adam": 1e-3, "sgd": 3e-2}
_PILOT_FACTORS = (0.3, 1.0, 3.0, 10.0)
_PILOT_SEEDS = 2
#: The baseline stops at the first epoch within this many nats of the best validation loss
#: (early stopping's usual "min_delta": later gains are too small to be worth the epochs).
_MIN_DELTA = 0.005
#: A baseline run stops after this many epochs without such a gain.
_PATIENCE = 3


def _pilot(x: np.ndarray, y: np.ndarray, max_epochs: int, seed: int) -> dict[str, dict[str, float]]:
    """Tune the baseline's learning rate and epochs per optimizer by validation (before any run).

    For each optimizer, the centre configuration is trained at each learning-rate factor with
    :data:`_PILOT_SEEDS` seeds (their own splits, not the set's) for ``max_epochs``; the rate
    with the lowest mean validation loss wins, and the baseline's epochs are that rate's first
    epoch within :data:`_MIN_DELTA` nats of its lowest (3-epoch smoothed, seed-averaged)
    validation loss: the run stops where validation says to.
    """
    out: dict[str, dict[str, float]] = {}
    for optimizer, base in _BASE_LR.items():
        best: tuple[float, float, int] | None = None
        for factor in _PILOT_FACTORS:
            config = {**_CENTRE, "optimizer": optimizer, "lr": base * factor}
            vals = [
                _train(x, y, config, max_epochs, 0.25, 0, seed + 1000 * k)["val_loss"]
                for k in range(_PILOT_SEEDS)
            ]
            if any(len(v) < max_epochs for v in vals):
                continue  # diverged
            mean = np.convolve(np.mean(vals, axis=0), np.ones(3) / 3, mode="valid")
            stop = int(np.argmax(mean <= mean.min() + _MIN_DELTA)) + 2  # 1-based, window centre
            cand = (float(mean.min()), base * factor, stop)
            if best is None or cand[0] < best[0]:
                best = cand
        if best is None:
            raise RuntimeError(f"every pilot learning rate diverged for {optimizer}")
        out[optimizer] = {"lr": best[1], "epochs": max(best[2], 3), "val_loss": best[0]}
    return out


#: A too-short run needs a baseline of at least this many epochs, so that stopping after a tenth
#: of them (3 epochs at least) really cuts training short; few-epochs runs use such an optimizer.
_FEW_EPOCHS_MIN_BASE = 20


def _baseline(
    rng: np.random.Generator, tuned: dict[str, dict[str, float]], optimizer: str | None = None
) -> dict[str, Any]:
    drawn = str(rng.choice(["adam", "adam", "sgd"]))
    optimizer = optimizer or drawn
    return {
        "lr": tuned[optimizer]["lr"] * float(np.exp(rng.uniform(-0.3, 0.3))),
        "weight_decay": 1e-4,
        "batch_size": 32,
        "n_layers": int(rng.choice([1, 2])),
        "width": int(rng.choice([32, 64, 128])),
        "activation": str(rng.choice(["relu", "tanh", "gelu"])),
        "dropout": 0.1,
        "optimizer": optimizer,
    }


def _push(
    cause: str, rng: np.random.Generator, tuned: dict[str, dict[str, float]]
) -> tuple[dict[str, Any], int, float, int, int, str]:
    """Configuration, epochs, validation fraction, validation draw, patience, level for ``cause``.

    ``patience`` > 0: early stopping (the baseline), see :func:`_train`.
    """
    optimizer = None
    if cause == "few-epochs":
        long = [o for o in ("adam", "sgd") if tuned[o]["epochs"] >= _FEW_EPOCHS_MIN_BASE]
        optimizer = str(rng.choice(long)) if long else None
    config, val_fraction, val_draw, level = _baseline(rng, tuned, optimizer), 0.25, 0, ""
    epochs, patience = int(tuned[config["optimizer"]]["epochs"]), 0
    if cause == "baseline":
        # every baseline run stops by its own validation loss (the seeds, splits and jitter
        # move its best epoch around the pilot's): up to 3x the tuned epochs
        patience = _PATIENCE
        epochs *= 3
        level = f"early stopping, patience {patience}"
    elif cause == "low-reg":
        config.update(weight_decay=0.0, dropout=0.0, width=256)
        epochs *= 4
        level = "wd=0, dropout=0, width 256, 4x the epochs"
    elif cause == "large-model":
        config.update(width=256, n_layers=3, weight_decay=0.0, dropout=0.0)
        epochs *= 4
        level = f"{config['n_layers']}x{config['width']}, no reg, 4x the epochs"
    elif cause == "high-reg":
        config.update(
            weight_decay=float(rng.choice([0.1, 0.2, 0.5])), dropout=float(rng.choice([0.5, 0.7]))
        )
        level = f"wd={config['weight_decay']}, dropout={config['dropout']}"
    elif cause == "small-model":
        config.update(width=int(rng.choice([1, 2, 3])), n_layers=1, dropout=0.0)
        level = f"1x{config['width']}"
    elif cause == "lr-low":
        factor = float(rng.choice([0.002, 0.005, 0.01]))
        config["lr"] *= factor
        level = f"lr x{factor}"
    elif cause == "lr-high":
        factor = float(rng.choice([100.0, 300.0, 1000.0]))
        config["lr"] *= factor
        level = f"lr x{factor:g}"
    elif cause == "few-epochs":
        frac = float(rng.choice([1 / 15, 1 / 10]))
        epochs = max(3, round(epochs * frac))
        level = f"{epochs} epochs"
    elif cause == "tiny-val":
        val_draw = int(rng.choice([4, 6, 8]))
        level = f"validation on {val_draw} samples drawn anew each epoch"
    return config, epochs, val_fraction, val_draw, patience, level


def _train(
    x: np.ndarray,
    y: np.ndarray,
    config: dict[str, Any],
    epochs: int,
    val_fraction: float,
    val_draw: int,
    seed: int,
    patience: int = 0,
) -> dict[str, list[float]]:
    """Train one run; with ``patience`` > 0 it stops once the validation loss has not improved
    by :data:`_MIN_DELTA` for ``patience`` epochs (the curves keep those epochs)."""
    import torch.nn.functional as F
    from sklearn.model_selection import train_test_split

    n_classes = int(y.max()) + 1
    x_tr, x_va, y_tr, y_va = train_test_split(
        x, y, test_size=val_fraction, stratify=y, random_state=seed % (2**31)
    )
    mean, std = x_tr.mean(0), x_tr.std(0)
    std = np.where(std < 1e-8, 1.0, std)
    xt = torch.as_tensor((x_tr - mean) / std, dtype=torch.float32)
    xv = torch.as_tensor((x_va - mean) / std, dtype=torch.float32)
    yt, yv = torch.as_tensor(y_tr), torch.as_tensor(y_va)
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    model = build_mlp(x.shape[1], n_classes, config)
    opt = build_optimizer(model.parameters(), config)
    bs = int(config["batch_size"])
    curves: dict[str, list[float]] = {
        k: [] for k in ("train_loss", "val_loss", "train_metric", "val_metric")
    }
    best, since = math.inf, 0
    for _ in range(epochs):
        model.train()
        perm = torch.randperm(len(yt), generator=gen)
        total, correct = 0.0, 0
        for i in range(0, len(yt), bs):
            idx = perm[i : i + bs]
            out = model(xt[idx])
            loss = F.cross_entropy(out, yt[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            total += float(loss.detach()) * len(idx)
            correct += int((out.argmax(1) == yt[idx]).sum())
        model.eval()
        with torch.no_grad():
            if val_draw:  # a fresh small sample of the validation split every epoch
                pick = torch.randperm(len(yv), generator=gen)[:val_draw]
                xe, ye = xv[pick], yv[pick]
            else:
                xe, ye = xv, yv
            out = model(xe)
            curves["val_loss"].append(float(F.cross_entropy(out, ye)))
            curves["val_metric"].append(float((out.argmax(1) == ye).float().mean()))
        curves["train_loss"].append(total / len(yt))
        curves["train_metric"].append(correct / len(yt))
        if not (math.isfinite(curves["train_loss"][-1]) and math.isfinite(curves["val_loss"][-1])):
            break  # the lab stops a diverged run here too (TrialFailure keeps the partial curves)
        if patience:
            if curves["val_loss"][-1] < best - _MIN_DELTA:
                best, since = curves["val_loss"][-1], 0
            else:
                since += 1
                if since >= patience:
                    break
    return curves


#: A few-epochs draw whose continuation does not gain more than ``_MIN_DELTA`` is redrawn
#: (at most this many times; then the run is left out).
_MAX_REDRAWS = 20


def _cut_short(
    x: np.ndarray,
    y: np.ndarray,
    config: dict[str, Any],
    cut: int,
    seed: int,
    tuned: dict[str, dict[str, float]],
) -> tuple[dict[str, list[float]], dict[str, Any]]:
    """A run stopped after ``cut`` epochs, and what continuing it would have gained.

    The same run (same seed, so its first ``cut`` epochs are the stopped run's, epoch for
    epoch) is trained on as a baseline run is: early stopping with :data:`_PATIENCE` and
    :data:`_MIN_DELTA`, at most 3x the tuned epochs. The gain is how far the continuation's
    best validation loss falls below the best one of the first ``cut`` epochs (0 when it
    stops by then): the outcome of the push against its own baseline, never a curve shape.
    """
    epochs = 3 * int(tuned[config["optimizer"]]["epochs"])
    full = _train(x, y, config, epochs, 0.25, 0, seed, _PATIENCE)
    val = np.asarray(full["val_loss"], dtype=float)
    gain = 0.0
    if len(val) > cut and np.isfinite(val[:cut]).all():
        later = val[cut:][np.isfinite(val[cut:])]
        if len(later):
            gain = max(0.0, float(val[:cut].min() - later.min()))
    curves = {k: v[:cut] for k, v in full.items()}
    return curves, {"continued_epochs": len(val), "gain": round(gain, 5)}


def _round(values: list[float]) -> list[float | None]:
    return [
        float(f"{v:.5g}") if math.isfinite(v) else (None if math.isnan(v) else v) for v in values
    ]


def _one_run(
    x: np.ndarray,
    y: np.ndarray,
    cause: str,
    rng: np.random.Generator,
    tuned: dict[str, dict[str, float]],
    redraw_seed: list[int],
) -> dict[str, Any] | None:
    """One labelled run of ``cause`` (``None``: no few-epochs draw was cut short).

    A few-epochs draw whose continuation gains too little is redrawn from its own generator
    (seeded by ``redraw_seed`` and the attempt), so every other run stays as it was.
    """
    config, n_epochs, val_fraction, val_draw, patience, level = _push(cause, rng, tuned)
    seed = int(rng.integers(2**31))
    effect: dict[str, Any] = {}
    if cause == "few-epochs":
        for attempt in range(1, _MAX_REDRAWS + 1):
            curves, effect = _cut_short(x, y, config, n_epochs, seed, tuned)
            if effect["gain"] > _MIN_DELTA:
                break
            sub = np.random.default_rng([*redraw_seed, attempt])
            config, n_epochs, val_fraction, val_draw, patience, level = _push(cause, sub, tuned)
            seed = int(sub.integers(2**31))
        else:
            return None
        effect["redraws"] = attempt - 1
    else:
        curves = _train(x, y, config, n_epochs, val_fraction, val_draw, seed, patience)
    return {
        "cause": cause,
        "level": level,
        "label": EXPECTED_FINDING[cause],
        "advice": EXPECTED_ADVICE[cause],
        "config": config,
        "epochs": len(curves["train_loss"]),
        "val_fraction": val_fraction,
        "val_draw": val_draw,
        "seed": seed,
        "curves": {k: _round(v) for k, v in curves.items()},
        **({"effect": effect} if effect else {}),
    }


def _causes(task_name: str) -> list[str]:
    """The causes that exist on ``task_name``, in :data:`WEIGHTS` order."""
    return [c for c in WEIGHTS if (task_name, c) not in _NOT_APPLICABLE]


def _task_runs(
    t_index: int, task_name: str, n_runs: int, set_seed: int, quick: bool
) -> tuple[list[dict[str, Any]], dict[str, dict[str, float]]]:
    """The labelled runs of one task, and its tuned baseline."""
    dataset, max_epochs = ALL_TASKS[task_name]
    causes = _causes(task_name)
    total_w = sum(WEIGHTS[c] for c in causes)
    x, y = SklearnMLPTask(dataset).training_data()
    t0 = time.perf_counter()
    tuned = _pilot(x, y, 18 if quick else max_epochs, seed=2**31 + 7919 * t_index)
    print(f"{task_name}: pilot {tuned} in {time.perf_counter() - t0:.0f}s", flush=True)
    rng = np.random.default_rng([set_seed, t_index])
    plan = []
    for cause in causes:
        plan += [cause] * max(1, math.ceil(n_runs * WEIGHTS[cause] / total_w))
    t0 = time.perf_counter()
    runs = []
    for i, cause in enumerate(plan):
        run = _one_run(x, y, cause, rng, tuned, [set_seed, t_index, i])
        if run is None:
            print(f"{task_name}: no few-epochs run is cut short, run {i} left out")
            continue
        runs.append({"task": task_name, **run})
        if i % 20 == 0:
            print(f"{task_name}: {i}/{len(plan)} runs, {time.perf_counter() - t0:.0f}s", flush=True)
    print(f"{task_name}: {len(plan)} runs in {time.perf_counter() - t0:.0f}s", flush=True)
    return runs, tuned


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs-per-task", type=int, default=150)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--tasks",
        nargs="+",
        choices=list(ALL_TASKS),
        default=list(TASKS),
        help="the tasks to generate runs of (default: digits, breast-cancer and wine)",
    )
    parser.add_argument("--quick", action="store_true", help="18 runs per task (a smoke test)")
    parser.add_argument("--out", default=str(DEFAULT_OUT))
    args = parser.parse_args()
    torch.set_num_threads(1)
    n_runs = 18 if args.quick else args.runs_per_task
    runs: list[dict[str, Any]] = []
    start = time.perf_counter()
    tuned_all: dict[str, Any] = {}
    for task_name in dict.fromkeys(args.tasks):
        t_index = list(ALL_TASKS).index(task_name)
        task_runs, tuned_all[task_name] = _task_runs(
            t_index, task_name, n_runs, args.seed, args.quick
        )
        runs += task_runs
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    payload = {
        "expected_finding": EXPECTED_FINDING,
        "expected_advice": EXPECTED_ADVICE,
        "generator": {
            "runs_per_task": n_runs,
            "seed": args.seed,
            "pilot_max_epochs": {t: ALL_TASKS[t] for t in tuned_all},
            "tuned_baseline": tuned_all,
        },
        "runs": runs,
    }
    with gzip.open(out, "wt", encoding="utf-8") as fh:
        json.dump(payload, fh, allow_nan=True)
    size = out.stat().st_size / 1e6
    print(f"{len(runs)} runs in {time.perf_counter() - start:.0f}s -> {out} ({size:.2f} MB)")


if __name__ == "__main__":
    main()
