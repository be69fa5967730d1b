"""Build the ``digits-mlp-bank`` curve bank: real learning curves of the ``digits-mlp`` task.

Trains :class:`hyperlab.tasks.mlp.SklearnMLPTask` (digits, 3-fold CV) for ``--epochs`` epochs
on ``--configs`` configurations drawn uniformly at random (Optuna ``RandomSampler``, fixed
seed) from the task's own search space, and stores every per-epoch curve, the per-fold
validation losses and the measured seconds per epoch in one compressed ``.npz`` (no pickles).
Diverged runs are kept: their curves end in NaN from the epoch they diverged.

Usage (the bundled bank: 100 configurations x 30 epochs, about 70 minutes of one niced core
on a busy 2-core machine; the issue's 300 x 40 did not fit)::

    nice -n 19 .venv/bin/python scripts/make_curve_bank.py --configs 100 --epochs 30

The configurations are drawn one after another from a seeded sampler, so ``--configs N`` gives
the first ``N`` configurations of any larger run; the file is rewritten every 25 curves.

The replay task :class:`hyperlab.tasks.replay_bank.CurveBankTask` reads the file.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path
from typing import Any

import numpy as np

DEFAULT_OUT = (
    Path(__file__).resolve().parents[1] / "src" / "hyperlab" / "data" / "digits_mlp_bank.npz"
)
NUMERIC = ("lr", "weight_decay", "batch_size", "n_layers", "width", "dropout")
CATEGORICAL = ("activation", "optimizer")


def sample_configs(task: Any, n: int, seed: int) -> list[dict[str, Any]]:
    """``n`` configurations drawn uniformly at random from ``task``'s search space."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=seed))
    configs = []
    for _ in range(n):
        trial = study.ask()
        configs.append(task.search_space(trial))
        study.tell(trial, 0.0)
    return configs


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--configs", type=int, default=100)
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--seed", type=int, default=0, help="seed of the configuration sample")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args(argv)

    import torch

    torch.set_num_threads(1)
    from hyperlab.errors import TrialFailure
    from hyperlab.tasks.mlp import SklearnMLPTask

    task = SklearnMLPTask("digits", n_folds=3, max_epochs=args.epochs)
    configs = sample_configs(task, args.configs, args.seed)
    n, e, k = args.configs, args.epochs, task.n_folds
    arrays = {
        key: np.full((n, e), np.nan, dtype=np.float32)
        for key in ("train_loss", "val_loss", "train_metric", "val_metric", "epoch_time")
    }
    fold_last = np.full((n, k), np.nan, dtype=np.float32)
    start_all = time.perf_counter()
    for i, config in enumerate(configs):
        stamps = [time.perf_counter()]

        def on_epoch(
            epoch: int, value: float, curves: dict[str, list[float]], stamps: list[float] = stamps
        ) -> None:
            stamps.append(time.perf_counter())

        try:
            ev = task.evaluate(config, seed=0, on_epoch=on_epoch)
            curves = ev.curves
            fold_last[i] = ev.fold_values  # per-fold validation losses at the last epoch
        except TrialFailure as failure:
            curves = failure.curves
        for key in ("train_loss", "val_loss", "train_metric", "val_metric"):
            vals = curves.get(key, [])
            arrays[key][i, : len(vals)] = vals
        times = np.diff(stamps)
        arrays["epoch_time"][i, : len(times)] = times
        print(
            f"{i + 1}/{n} val_loss[-1]={arrays['val_loss'][i, -1]:.4f} "
            f"{sum(times):.1f}s elapsed {time.perf_counter() - start_all:.0f}s",
            flush=True,
        )
        if (i + 1) % 25 == 0 or i + 1 == n:
            save(args.out, i + 1, configs, arrays, fold_last, args, start_all)


def save(
    out: Path,
    completed: int,
    configs: list[dict[str, Any]],
    arrays: dict[str, np.ndarray],
    fold_last: np.ndarray,
    args: argparse.Namespace,
    start_all: float,
) -> None:
    """Write the first ``completed`` curves (called periodically, so a stopped run keeps them)."""
    import torch

    e = arrays["val_loss"].shape[1]
    meta = {
        "task": "digits-mlp",
        "dataset": "digits",
        "n_folds": fold_last.shape[1],
        "configs": completed,
        "epochs": e,
        "config_seed": args.seed,
        "train_seed": 0,
        "sampler": "optuna RandomSampler over SklearnMLPTask.search_space",
        "torch_threads": 1,
        "torch": torch.__version__,
        "python": platform.python_version(),
        "machine": platform.machine(),
        "seconds": round(time.perf_counter() - start_all, 1),
        "epoch_time": "measured wall seconds per epoch (3 folds) on a shared 2-core machine",
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(
        out,
        meta=np.array(json.dumps(meta)),
        configs=np.array(json.dumps(configs[:completed])),
        fold_val_loss_last=fold_last[:completed],
        **{key: a[:completed] for key, a in arrays.items()},
    )
    print(f"wrote {completed} curves to {out} ({out.stat().st_size / 1024:.0f} KiB)", flush=True)


if __name__ == "__main__":
    main()
