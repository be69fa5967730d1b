"""Generate the labelled learning-curve set that measures :mod:`hyperlab.diagnose`.

Labels come from the *cause*: each run starts from a well-tuned baseline of its task and pushes
one knob (or the split) by a known amount. The diagnostician never sees the cause; the benchmark
compares its finding with the finding the cause should produce (table below).

Cause -> expected primary finding -> expected advice (documented once, used by the benchmark):

=================  ============================================  ================  ==========================
cause              what is changed from the baseline             expected finding  expected advice
=================  ============================================  ================  ==========================
baseline           nothing (seed, lr, width, depth, act jittered) good-fit          keep lr, keep reg
low-reg            wd 0, dropout 0, width 256, 3x the epochs     overfitting       reg up (wd/dropout up)
large-model        3 layers of 256, no reg, 3x the epochs        overfitting       reg up / width down
high-reg           weight decay 0.1-0.5 and dropout 0.5-0.7      underfitting      reg down
small-model        one layer of width 1-3 (not on breast-cancer)  underfitting      width/n_layers up
lr-low             learning rate x0.002, x0.005, x0.01           lr-too-low        lr up
lr-high            learning rate x30, x100, x300                 lr-too-high       lr down
few-epochs         stopped after 1/15 or 1/10 of the epochs (>=3) not-converged     epochs up
tiny-val           validation split of 4-8 samples              noisy-validation  keep lr, keep reg
=================  ============================================  ================  ==========================

Learning rates x0.1 and x10 are deliberately left out: they are mild enough that a run may still
be fine, so they have no single right answer.

Runs train one stratified train/validation split (75/25) of the task's training part with a
small loop over :func:`hyperlab.tasks.mlp.build_mlp` and :func:`build_optimizer`, the same
per-epoch statistics the lab records (train loss = running mean over the epoch's batches).
Baseline epochs: digits 30, breast-cancer 15, wine 60. Defaults: 150 runs per task (138 on
breast-cancer, which has no small-model runs), 436 in all; measured 12.3 CPU-minutes here on a
heavily shared 2-core machine (38 minutes wall), most of it the digits large-model/low-reg runs.
Output: ``benchmarks/data/diagnosis_set.json.gz`` (0.16 MB).

Usage:
    .venv/bin/python benchmarks/make_diagnosis_set.py [--runs-per-task 150] [--quick]
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

TASKS = {
    "digits-mlp": ("digits", 30),
    "breast-cancer-mlp": ("breast-cancer", 15),
    "wine-mlp": ("wine", 60),
}

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
#: already reaches ~97% accuracy on breast-cancer, so no MLP is "too small" for it.
_NOT_APPLICABLE = {("breast-cancer-mlp", "small-model")}


def _baseline(rng: np.random.Generator) -> dict[str, Any]:
    optimizer = str(rng.choice(["adam", "adam", "sgd"]))
    return {
        "lr": (1e-3 if optimizer == "adam" else 3e-2) * float(np.exp(rng.uniform(-0.3, 0.3))),
        "weight_decay": 1e-4,
        "batch_size": 32,
        "n_layers": int(rng.choice([1, 2])),
        "width": int(rng.choice([32, 64, 128])),
        "activation": str(rng.choice(["relu", "tanh", "gelu"])),
        "dropout": 0.1,
        "optimizer": optimizer,
    }


def _push(
    cause: str, rng: np.random.Generator, epochs: int
) -> tuple[dict[str, Any], int, float, str]:
    """A configuration, epochs, validation fraction and a level description for ``cause``."""
    config, val_fraction, level = _baseline(rng), 0.25, ""
    if cause == "low-reg":
        config.update(weight_decay=0.0, dropout=0.0, width=256)
        epochs *= 3
        level = "wd=0, dropout=0, width 256"
    elif cause == "large-model":
        config.update(width=256, n_layers=3, weight_decay=0.0, dropout=0.0)
        epochs *= 3
        level = f"{config['n_layers']}x{config['width']}"
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
        factor = float(rng.choice([30.0, 100.0, 300.0]))
        config["lr"] *= factor
        level = f"lr x{factor:g}"
    elif cause == "few-epochs":
        frac = float(rng.choice([1 / 15, 1 / 10]))
        epochs = max(3, round(epochs * frac))
        level = f"{epochs} epochs"
    elif cause == "tiny-val":
        val_fraction = -float(rng.choice([4, 6, 8]))  # negative: an absolute number of samples
        level = f"{int(-val_fraction)} validation samples"
    return config, epochs, val_fraction, level


def _train(
    x: np.ndarray,
    y: np.ndarray,
    config: dict[str, Any],
    epochs: int,
    val_fraction: float,
    seed: int,
) -> dict[str, list[float]]:
    import torch.nn.functional as F
    from sklearn.model_selection import train_test_split

    test_size: float | int = int(-val_fraction) if val_fraction < 0 else val_fraction
    n_classes = int(y.max()) + 1
    stratify = y if (not isinstance(test_size, int) or test_size >= n_classes) else None
    x_tr, x_va, y_tr, y_va = train_test_split(
        x, y, test_size=test_size, stratify=stratify, random_state=seed
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
            out = model(xv)
            curves["val_loss"].append(float(F.cross_entropy(out, yv)))
            curves["val_metric"].append(float((out.argmax(1) == yv).float().mean()))
        curves["train_loss"].append(total / len(yt))
        curves["train_metric"].append(correct / len(yt))
        if not (math.isfinite(curves["train_loss"][-1]) and math.isfinite(curves["val_loss"][-1])):
            break  # the lab stops a diverged run here too (TrialFailure keeps the partial curves)
    return curves


def _round(values: list[float]) -> list[float | None]:
    return [
        float(f"{v:.5g}") if math.isfinite(v) else (None if math.isnan(v) else v) for v in values
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs-per-task", type=int, default=150)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quick", action="store_true", help="18 runs per task (a smoke test)")
    parser.add_argument(
        "--out", default=str(Path(__file__).parent / "data" / "diagnosis_set.json.gz")
    )
    args = parser.parse_args()
    torch.set_num_threads(1)
    n_runs = 18 if args.quick else args.runs_per_task
    total_w = sum(WEIGHTS.values())
    runs: list[dict[str, Any]] = []
    start = time.perf_counter()
    for t_index, (task_name, (dataset, epochs)) in enumerate(TASKS.items()):
        causes = [c for c in WEIGHTS if (task_name, c) not in _NOT_APPLICABLE]
        data = SklearnMLPTask(dataset)._data
        x, y = data["x"], data["y"]
        rng = np.random.default_rng([args.seed, t_index])
        plan = []
        for cause in causes:
            plan += [cause] * max(1, round(n_runs * WEIGHTS[cause] / total_w))
        t0 = time.perf_counter()
        for i, cause in enumerate(plan):
            config, n_epochs, val_fraction, level = _push(cause, rng, epochs)
            seed = int(rng.integers(2**31))
            curves = _train(x, y, config, n_epochs, val_fraction, seed)
            runs.append(
                {
                    "task": task_name,
                    "cause": cause,
                    "level": level,
                    "label": EXPECTED_FINDING[cause],
                    "advice": EXPECTED_ADVICE[cause],
                    "config": config,
                    "epochs": n_epochs,
                    "val_fraction": val_fraction,
                    "seed": seed,
                    "curves": {k: _round(v) for k, v in curves.items()},
                }
            )
            if i % 20 == 0:
                print(
                    f"{task_name}: {i}/{len(plan)} runs, {time.perf_counter() - t0:.0f}s",
                    flush=True,
                )
        print(f"{task_name}: {len(plan)} runs in {time.perf_counter() - t0:.0f}s", flush=True)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    payload = {
        "expected_finding": EXPECTED_FINDING,
        "expected_advice": EXPECTED_ADVICE,
        "generator": {"runs_per_task": n_runs, "seed": args.seed, "epochs": TASKS},
        "runs": runs,
    }
    with gzip.open(out, "wt", encoding="utf-8") as fh:
        json.dump(payload, fh, allow_nan=True)
    print(
        f"{len(runs)} runs in {time.perf_counter() - start:.0f}s -> {out} ({out.stat().st_size / 1e6:.2f} MB)"
    )


if __name__ == "__main__":
    main()
