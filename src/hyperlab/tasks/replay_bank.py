"""The curve bank replayed: real ``digits-mlp`` curves, answered by nearest neighbour.

The bank is made by ``scripts/make_curve_bank.py`` (see :mod:`hyperlab.tasks.replay`).
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

import numpy as np
import optuna
from optuna.distributions import (
    BaseDistribution,
    CategoricalDistribution,
    FloatDistribution,
    IntDistribution,
)

from hyperlab.errors import DataNotFoundError, InputError
from hyperlab.tasks.replay_base import ReplayCurve, ReplayTask

#: The bundled bank of ``digits-mlp`` curves.
DIGITS_BANK = Path(__file__).resolve().parents[1] / "data" / "digits_mlp_bank.npz"
_BANK_NUMERIC = ("lr", "weight_decay", "batch_size", "n_layers", "width", "dropout")
_BANK_CATEGORICAL = ("activation", "optimizer")


class CurveBankTask(ReplayTask):
    """Replays a bank of real ``digits-mlp`` curves made by ``scripts/make_curve_bank.py``.

    The search space is the ``digits-mlp`` one. A configuration is answered by the bank entry
    with the same activation and optimizer (when the bank has one) that is nearest in the
    numeric hyperparameters, each scaled to [0, 1] (on the log axis where the space is
    log-scaled). Regret is measured against the best final validation loss in the bank. The
    bank was trained with one seed, so the seed does not change a curve.

    Args:
        path: The ``.npz`` bank (default: the bundled ``digits_mlp_bank.npz``).
    """

    metric = "cross-entropy"
    noise = "none (one training seed per bank entry; the seed does not change a curve)"
    #: What a population may change between segments, as for ``digits-mlp``.
    mutable_params = ("lr", "weight_decay", "dropout", "batch_size")

    def __init__(self, path: str | os.PathLike[str] | None = None) -> None:
        self.path = path
        self.name = "digits-mlp-bank"
        file = Path(DIGITS_BANK if path is None else path)
        if not file.is_file():
            raise DataNotFoundError(
                f"curve bank not found: {file}. Build it from a checkout of hyperlab's source "
                f"with: python scripts/make_curve_bank.py --out {file}"
            )
        self.file = file
        with np.load(file, allow_pickle=False) as data:
            self.meta: dict[str, Any] = json.loads(str(data["meta"]))
            self.configs: list[dict[str, Any]] = json.loads(str(data["configs"]))
            self._arrays = {
                key: np.asarray(data[key], dtype=np.float64)
                for key in data.files
                if key not in ("meta", "configs")
            }
        self.max_budget = int(self._arrays["val_loss"].shape[1])
        self.description = (
            f"replayed bank of {len(self.configs)} digits-mlp curves x {self.max_budget} epochs "
            "(nearest-neighbour lookup)"
        )
        from hyperlab.tasks.mlp import SklearnMLPTask

        self._space_task = SklearnMLPTask("digits", n_folds=3, max_epochs=self.max_budget)
        self._dists = self._space_task.distributions()
        self._points = self._scale(self.configs)

    def search_space(self, trial: optuna.Trial) -> dict[str, Any]:
        return self._space_task.search_space(trial)

    def distributions(self) -> dict[str, BaseDistribution]:
        return dict(self._dists)

    def default_config(self) -> dict[str, Any]:
        return self._space_task.default_config()

    def _scale(self, configs: list[dict[str, Any]]) -> np.ndarray:
        """Numeric hyperparameters scaled to [0, 1]: array of shape ``(n, 6)``."""
        out = np.zeros((len(configs), len(_BANK_NUMERIC)))
        for j, name in enumerate(_BANK_NUMERIC):
            d = self._dists[name]
            assert isinstance(d, IntDistribution | FloatDistribution)
            for i, config in enumerate(configs):
                value = config[name]
                if isinstance(value, bool) or not isinstance(value, int | float | np.number):
                    raise InputError(f"{name} must be a number, got {value!r}")
                if d.log:
                    out[i, j] = (math.log(value) - math.log(d.low)) / (
                        math.log(d.high) - math.log(d.low)
                    )
                else:
                    out[i, j] = (float(value) - d.low) / (d.high - d.low)
        return out

    def nearest(self, config: dict[str, Any]) -> int:
        """Index of the bank entry that answers ``config``."""
        for name in _BANK_CATEGORICAL:
            d = self._dists[name]
            assert isinstance(d, CategoricalDistribution)
            if config[name] not in d.choices:
                raise InputError(f"{name} must be one of {list(d.choices)}, got {config[name]!r}")
        point = self._scale([config])[0]
        dist = np.sum((self._points - point) ** 2, axis=1)
        mismatch = np.array(
            [sum(c[name] != config[name] for name in _BANK_CATEGORICAL) for c in self.configs]
        )
        return int(np.argmin(dist + 100.0 * mismatch))

    def _lookup(self, config: dict[str, Any], seed: int) -> ReplayCurve:
        i = self.nearest(config)
        a = self._arrays
        std_err = np.zeros(self.max_budget)
        folds = a["fold_val_loss_last"][i]
        known = bool(np.all(np.isfinite(folds)))
        if known:
            std_err[-1] = float(np.std(folds, ddof=1) / math.sqrt(len(folds)))
        return ReplayCurve(
            curves={
                key: a[key][i] for key in ("train_loss", "val_loss", "train_metric", "val_metric")
            },
            elapsed=np.cumsum(np.nan_to_num(a["epoch_time"][i])),
            extra={"bank_index": np.full(self.max_budget, float(i))},
            std_err=std_err,
            fold_values=folds if known else None,
        )

    def final_values(self) -> np.ndarray:
        """Final validation loss of every bank entry: array of shape ``(n,)`` (NaN: diverged)."""
        return self._arrays["val_loss"][:, -1].copy()

    @property  # type: ignore[override]
    def optimum(self) -> float | None:
        """The best final validation loss in the bank."""
        return float(np.nanmin(self.final_values()))

    @optimum.setter
    def optimum(self, value: float | None) -> None:
        raise InputError("the optimum of a curve bank is its best final value; it cannot be set")

    def describe(self) -> dict[str, Any]:
        out = super().describe()
        out.update(bank=str(self.file), bank_meta=self.meta, lookup="nearest neighbour")
        return out
