"""Replay tasks: learning curves looked up instead of trained (after Syne Tune's simulator).

A replay task answers ``evaluate(config, budget)`` from stored or learned curves, so that a
comparison of pruners over thousands of trials takes seconds. ``wall_time`` is *simulated*:
the seconds the real training would have taken for the epochs used (the sum of epoch times).

Two sources of curves:

- ``lcbench-<OpenML task id>``: the YAHPO Gym surrogate of LCBench (Pfisterer et al. 2022;
  Zimmer et al. 2021), an ONNX network that maps (task, epoch, configuration) to validation
  cross-entropy, accuracy and elapsed time for funnel-shaped MLPs trained for up to 52 epochs.
  The surrogate is deterministic: the seed does not change the curve.
- ``digits-mlp-bank``: a bank of real curves of the ``digits-mlp`` task, made by
  ``scripts/make_curve_bank.py`` and shipped in ``hyperlab/data/digits_mlp_bank.npz``. Any
  configuration of the task's search space is answered by its nearest neighbour in the bank
  (same activation and optimizer; Euclidean distance on the unit-scaled, log where the axis is
  log-scaled, numeric hyperparameters), so every tuner sees the real hyperparameters.
"""

from __future__ import annotations

import json
import math
import os
import threading
from abc import abstractmethod
from dataclasses import dataclass
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

from hyperlab.errors import DataNotFoundError, InputError, TrialFailure, UnknownNameError
from hyperlab.registry import TASKS
from hyperlab.tasks.base import EpochCallback, Evaluation, OptimizerWrapper, Segment, Task

#: Name of the LCBench surrogate's folder under a data root.
LCBENCH_DIR = "yahpo-lcbench"
#: Environment variable naming the data root (or the LCBench folder itself).
DATA_ENV = "HYPERLAB_DATA"
#: The data root shipped inside the package (holds ``yahpo-lcbench/``).
PACKAGED_DATA = Path(__file__).resolve().parent.parent / "data"
#: Order of the surrogate's continuous inputs after the epoch (see the data's SOURCE.md).
LCBENCH_INPUTS = (
    "batch_size",
    "learning_rate",
    "momentum",
    "weight_decay",
    "num_layers",
    "max_units",
    "max_dropout",
)
#: Columns of the surrogate's output.
LCBENCH_OUTPUTS = (
    "time",
    "val_accuracy",
    "val_cross_entropy",
    "val_balanced_accuracy",
    "test_cross_entropy",
    "test_balanced_accuracy",
)
LCBENCH_EPOCHS = 52
#: Random configurations behind the estimated optimum of an LCBench task.
LCBENCH_OPTIMUM_SAMPLES = 20_000


@dataclass(frozen=True)
class ReplayCurve:
    """One configuration's full curves.

    Attributes:
        curves: Per-epoch curves (``val_loss`` always), each of shape ``(max_budget,)``; a
            diverged run holds NaN from the epoch it diverged.
        elapsed: Cumulative simulated seconds after each epoch, shape ``(max_budget,)``.
        extra: Per-epoch extra quantities (e.g. test loss), each of shape ``(max_budget,)``.
        std_err: Standard error over folds after each epoch, shape ``(max_budget,)``, where
            known (0.0 where not).
        fold_values: Each fold's validation score at the last epoch, where known (the scores
            behind ``std_err`` there).
    """

    curves: dict[str, np.ndarray]
    elapsed: np.ndarray
    extra: dict[str, np.ndarray]
    std_err: np.ndarray | None = None
    fold_values: np.ndarray | None = None

    def folds_at(self, epoch: int, value: float) -> list[float]:
        """The fold scores behind the value at ``epoch``: the recorded ones at the last epoch,
        else the value alone."""
        last = len(self.elapsed)
        if epoch == last and self.fold_values is not None:
            return [float(v) for v in self.fold_values]
        return [value]


class ReplayTask(Task):
    """A task whose curves are looked up; subclasses implement :meth:`_lookup`.

    The evaluation walks the stored curve epoch by epoch, calling ``on_epoch`` after each, so a
    pruner sees exactly what it would see during real training.

    A replay task also continues training (:meth:`train_segment`), as Syne Tune's simulator
    does for population-based training on tabular benchmarks: a segment from epoch ``e`` reads
    epochs ``e+1..e+k`` of its configuration's curve, and the state is only the epoch. A segment
    whose mutable hyperparameters changed therefore follows the *new* configuration's curve from
    epoch ``e``, as if that configuration had trained from the start: an approximation that
    knows nothing of the path the model took, and is kind to methods that change
    hyperparameters while training. Results of populations on replay tasks say so.
    """

    noise: str = "none"

    @abstractmethod
    def _lookup(self, config: dict[str, Any], seed: int) -> ReplayCurve:
        """The full curves of ``config`` (inputs already checked)."""

    def curve(self, config: dict[str, Any], seed: int = 0) -> ReplayCurve:
        """The full stored curves of ``config`` (all ``max_budget`` epochs)."""
        if not isinstance(config, dict):
            raise InputError(f"config must be a dict, got {config!r}")
        return self._lookup(config, int(seed))

    def _evaluate(
        self, config: dict[str, Any], budget: int, seed: int, on_epoch: EpochCallback | None
    ) -> Evaluation:
        rc = self._lookup(config, seed)
        curves: dict[str, list[float]] = {key: [] for key in rc.curves}
        for epoch in range(1, budget + 1):
            for key, values in rc.curves.items():
                curves[key].append(float(values[epoch - 1]))
            value = curves["val_loss"][-1]
            if not math.isfinite(value):
                raise TrialFailure(
                    f"training diverged at epoch {epoch}: validation loss {value}", curves=curves
                )
            if on_epoch is not None:
                on_epoch(epoch, value, curves)
        value = curves["val_loss"][-1]
        extra = {key: float(values[budget - 1]) for key, values in rc.extra.items()}
        if "val_metric" in curves:
            extra["val_accuracy"] = curves["val_metric"][-1]
        extra["simulated"] = True
        std_err = 0.0 if rc.std_err is None else float(rc.std_err[budget - 1])
        return Evaluation(
            value=value,
            std_err=std_err if math.isfinite(std_err) else 0.0,
            budget=budget,
            curves=curves,
            fold_values=rc.folds_at(budget, value),
            wall_time=float(rc.elapsed[budget - 1]),
            extra=extra,
        )

    def _train_segment(
        self,
        config: dict[str, Any],
        state: Any,
        epochs: int,
        seed: int,
        wrap_optimizer: OptimizerWrapper | None,
    ) -> Segment:
        start = 0 if state is None else int(state["epoch"])
        if start + epochs > self.max_budget:
            raise InputError(
                f"{self.name} has curves of {self.max_budget} epochs; a segment of {epochs} "
                f"epochs from epoch {start} goes past them"
            )
        rc = self._lookup(config, seed)
        window = slice(start, start + epochs)
        curves = {key: [float(v) for v in values[window]] for key, values in rc.curves.items()}
        values = curves["val_loss"]
        for i, value in enumerate(values):
            if not math.isfinite(value):
                raise TrialFailure(
                    f"training diverged at epoch {start + i + 1}: validation loss {value}",
                    curves=curves,
                )
        end = start + epochs
        std_err = 0.0 if rc.std_err is None else float(rc.std_err[end - 1])
        before = float(rc.elapsed[start - 1]) if start else 0.0
        return Segment(
            state={"epoch": end},
            values=values,
            epoch=end,
            curves=curves,
            std_err=std_err if math.isfinite(std_err) else 0.0,
            fold_values=rc.folds_at(end, values[-1]),
            wall_time=float(rc.elapsed[end - 1]) - before,
        )

    def describe(self) -> dict[str, Any]:
        out = super().describe()
        out.update(replay=True, noise=self.noise)
        return out


# ----------------------------------------------------------------------------- LCBench


def resolve_lcbench_dir(data_dir: str | os.PathLike[str] | None = None) -> Path:
    """Find the LCBench surrogate folder.

    Looks in order at ``data_dir`` (the ``--data-dir`` option), the ``HYPERLAB_DATA`` variable
    and the copy shipped in the package (``hyperlab/data/yahpo-lcbench``). ``data_dir`` and
    ``HYPERLAB_DATA`` may each name the data root or the ``yahpo-lcbench`` folder itself; the
    first of the three that is given is the only one tried.

    Raises:
        DataNotFoundError: The folder tried lacks ``model.onnx`` or ``config_space.json``; the
            message names the paths tried.
    """
    if data_dir is not None:
        root = Path(data_dir)
        source = "data_dir"
    elif os.environ.get(DATA_ENV):
        root = Path(os.environ[DATA_ENV])
        source = f"${DATA_ENV} (--data-dir sets it)"
    else:
        root = PACKAGED_DATA
        source = "the packaged data"
    tried: list[str] = []
    for folder in (root, root / LCBENCH_DIR):
        if (folder / "model.onnx").is_file() and (folder / "config_space.json").is_file():
            return folder
        tried.append(str(folder))
    raise DataNotFoundError(
        f"LCBench surrogate data not found in {source}: looked for model.onnx and "
        f"config_space.json in {', '.join(tried)}. Pass --data-dir / data_dir=PATH or set "
        f"{DATA_ENV}=PATH to the folder holding {LCBENCH_DIR}/."
    )


_SESSIONS: dict[str, Any] = {}
_SESSIONS_LOCK = threading.Lock()


def _onnx_session(model_path: Path) -> Any:
    """One shared single-threaded ONNX Runtime session per model file (per process)."""
    key = str(model_path)
    with _SESSIONS_LOCK:
        if key not in _SESSIONS:
            import onnxruntime as ort

            options = ort.SessionOptions()
            options.intra_op_num_threads = 1
            options.inter_op_num_threads = 1
            _SESSIONS[key] = ort.InferenceSession(
                key, sess_options=options, providers=["CPUExecutionProvider"]
            )
        return _SESSIONS[key]


def lcbench_distributions(config_space: dict[str, Any]) -> dict[str, BaseDistribution]:
    """Optuna distributions of the LCBench search space (task id and epoch left out)."""
    out: dict[str, BaseDistribution] = {}
    for hp in config_space["hyperparameters"]:
        if hp["name"] not in LCBENCH_INPUTS:
            continue
        if hp["type"] == "uniform_int":
            out[hp["name"]] = IntDistribution(int(hp["lower"]), int(hp["upper"]), log=hp["log"])
        elif hp["type"] == "uniform_float":
            # the file stores e.g. 0.00010000000000000009 for 1e-4; 12 digits undo that
            low, high = (float(f"{float(hp[k]):.12g}") for k in ("lower", "upper"))
            out[hp["name"]] = FloatDistribution(low, high, log=hp["log"])
        else:
            raise InputError(f"unsupported LCBench hyperparameter {hp!r}")
    missing = set(LCBENCH_INPUTS) - set(out)
    if missing:
        raise InputError(f"LCBench config_space.json lacks {sorted(missing)}")
    return {name: out[name] for name in LCBENCH_INPUTS}


class LCBenchTask(ReplayTask):
    """One LCBench data set replayed through the YAHPO Gym surrogate.

    Objective: validation cross-entropy after each epoch (``val_loss``); validation accuracy
    (fraction, not percent) is recorded as ``val_metric``. ``wall_time`` is the surrogate's
    predicted training time, made non-decreasing over epochs.

    Args:
        task_id: OpenML task id, e.g. ``"3945"``.
        data_dir: Folder of the surrogate (or its parent); see :func:`resolve_lcbench_dir`.
    """

    metric = "cross-entropy"
    max_budget = LCBENCH_EPOCHS
    noise = "none (deterministic surrogate; the seed does not change a curve)"
    #: What a population may change between segments (the network's shape stays).
    mutable_params = ("batch_size", "learning_rate", "momentum", "weight_decay", "max_dropout")

    def __init__(self, task_id: str, data_dir: str | os.PathLike[str] | None = None) -> None:
        self.task_id = str(task_id)
        self.data_dir = data_dir
        self.name = f"lcbench-{self.task_id}"
        self.description = f"LCBench OpenML task {self.task_id} (YAHPO surrogate, 52 epochs)"
        self.folder = resolve_lcbench_dir(data_dir)
        with open(self.folder / "config_space.json") as f:
            self._config_space = json.load(f)
        with open(self.folder / "encoding.json") as f:
            encoding = json.load(f)["OpenML_task_id"]
        known = next(
            hp["choices"]
            for hp in self._config_space["hyperparameters"]
            if hp["name"] == "OpenML_task_id"
        )
        if self.task_id not in known or self.task_id not in encoding:
            raise UnknownNameError(
                f"unknown LCBench task id {self.task_id!r}; known ids: {', '.join(known)}"
            )
        self._code = int(encoding[self.task_id])
        self._dists = lcbench_distributions(self._config_space)
        self._cache: dict[tuple[float, ...], ReplayCurve] = {}
        self._optimum: float | None = None

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_cache"] = {}
        return state

    def search_space(self, trial: optuna.Trial) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name, d in self._dists.items():
            if isinstance(d, IntDistribution):
                out[name] = trial.suggest_int(name, d.low, d.high, log=d.log)
            elif isinstance(d, FloatDistribution):
                out[name] = trial.suggest_float(name, d.low, d.high, log=d.log)
        return out

    def distributions(self) -> dict[str, BaseDistribution]:
        return dict(self._dists)

    def default_config(self) -> dict[str, Any]:
        """The defaults of ``config_space.json``."""
        out: dict[str, Any] = {}
        for hp in self._config_space["hyperparameters"]:
            if hp["name"] in self._dists:
                d = self._dists[hp["name"]]
                out[hp["name"]] = (
                    int(hp["default"]) if isinstance(d, IntDistribution) else float(hp["default"])
                )
        return out

    def _row(self, config: dict[str, Any]) -> tuple[float, ...]:
        row = []
        for name, d in self._dists.items():
            value = config[name]
            if isinstance(value, bool) or not isinstance(value, int | float | np.number):
                raise InputError(f"{name} must be a number, got {value!r}")
            value = float(value)
            assert isinstance(d, IntDistribution | FloatDistribution)
            if not d.low <= value <= d.high:
                raise InputError(f"{name} must be in [{d.low}, {d.high}], got {value!r}")
            row.append(value)
        return tuple(row)

    def _predict(self, rows: np.ndarray, epochs: np.ndarray) -> np.ndarray:
        """Surrogate outputs for ``rows`` of shape ``(n, 7)`` at ``epochs`` of shape ``(n,)``.

        Returns:
            Array of shape ``(n, 6)`` in the order of :data:`LCBENCH_OUTPUTS`.
        """
        session = _onnx_session(self.folder / "model.onnx")
        x_cont = np.concatenate([epochs[:, None], rows], axis=1).astype(np.float32)
        x_cat = np.full((len(rows), 1), self._code, dtype=np.int32)
        names = [i.name for i in session.get_inputs()]
        chunks = [
            session.run(None, {names[0]: x_cat[i : i + 512], names[1]: x_cont[i : i + 512]})[0]
            for i in range(0, len(rows), 512)
        ]
        return np.concatenate(chunks, axis=0) if chunks else np.zeros((0, len(LCBENCH_OUTPUTS)))

    def _lookup(self, config: dict[str, Any], seed: int) -> ReplayCurve:
        row = self._row(config)
        if row in self._cache:
            return self._cache[row]
        epochs = np.arange(1, LCBENCH_EPOCHS + 1, dtype=np.float32)
        out = self._predict(np.tile(np.array(row, dtype=np.float32), (len(epochs), 1)), epochs)
        col = {name: out[:, i].astype(np.float64) for i, name in enumerate(LCBENCH_OUTPUTS)}
        elapsed = np.maximum.accumulate(np.maximum(col["time"], 0.0))
        rc = ReplayCurve(
            curves={"val_loss": col["val_cross_entropy"], "val_metric": col["val_accuracy"] / 100},
            elapsed=elapsed,
            extra={
                "val_balanced_accuracy": col["val_balanced_accuracy"],
                "test_cross_entropy": col["test_cross_entropy"],
                "test_balanced_accuracy": col["test_balanced_accuracy"],
            },
        )
        if len(self._cache) < 4096:
            self._cache[row] = rc
        return rc

    def test_score(
        self, config: dict[str, Any], budget: int | None = None, seed: int = 0
    ) -> float | None:
        """The surrogate's test cross-entropy after ``budget`` epochs."""
        budget = self.max_budget if budget is None else budget
        return float(self.curve(config, seed).extra["test_cross_entropy"][budget - 1])

    def _schedule_test_score(
        self,
        schedule: list[tuple[dict[str, Any], int]],
        seed: int,
        wrap_optimizer: OptimizerWrapper | None,
    ) -> float | None:
        """The test cross-entropy of the last segment's configuration after the schedule's
        epochs (the same approximation as :meth:`train_segment`)."""
        return self.test_score(schedule[-1][0], sum(epochs for _, epochs in schedule), seed)

    def final_values(self, n: int, seed: int = 0) -> np.ndarray:
        """Final (epoch-52) validation losses of ``n`` uniformly random configurations.

        Returns:
            Array of shape ``(n,)``.
        """
        rng = np.random.default_rng(seed)
        cols = []
        for d in self._dists.values():
            assert isinstance(d, IntDistribution | FloatDistribution)
            if d.log:
                v = np.exp(rng.uniform(math.log(d.low), math.log(d.high), n))
            else:
                v = rng.uniform(d.low, d.high, n)
            if isinstance(d, IntDistribution):
                v = np.clip(np.round(v), d.low, d.high)
            cols.append(v)
        rows = np.stack(cols, axis=1)
        out = self._predict(rows, np.full(n, float(LCBENCH_EPOCHS), dtype=np.float32))
        return out[:, LCBENCH_OUTPUTS.index("val_cross_entropy")].astype(np.float64)

    @property  # type: ignore[override]
    def optimum(self) -> float | None:
        """Best final validation loss over 20 000 random configurations (seed 0), an estimate.

        A tuner may find a slightly better configuration, so the regret can be below zero.
        """
        if self._optimum is None:
            values = self.final_values(LCBENCH_OPTIMUM_SAMPLES, seed=0)
            self._optimum = float(np.nanmin(values))
        return self._optimum

    @optimum.setter
    def optimum(self, value: float | None) -> None:
        self._optimum = value

    def describe(self) -> dict[str, Any]:
        out = super().describe()
        out.update(openml_task_id=self.task_id, data_dir=str(self.folder))
        return out


# ----------------------------------------------------------------------------- curve bank

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


def _lcbench(task_id: str, *, data_dir: str | os.PathLike[str] | None = None) -> LCBenchTask:
    return LCBenchTask(task_id, data_dir=data_dir)


TASKS.register(
    "lcbench-",
    _lcbench,
    "LCBench data set <OpenML task id> replayed through the YAHPO surrogate (52 epochs)",
    family=True,
)
TASKS.register(
    "digits-mlp-bank",
    CurveBankTask,
    "replayed bank of real digits-mlp curves (nearest-neighbour lookup; seconds per study)",
)
