"""LCBench replayed: the YAHPO Gym surrogate of LCBench answers a configuration's curves.

An ONNX network maps (task, epoch, configuration) to validation cross-entropy, accuracy and
elapsed time for funnel-shaped MLPs trained for up to 52 epochs (see
:mod:`hyperlab.tasks.replay`).
"""

from __future__ import annotations

import json
import math
import os
import threading
from pathlib import Path
from typing import Any

import numpy as np
import optuna
from optuna.distributions import BaseDistribution, FloatDistribution, IntDistribution

from hyperlab.errors import DataNotFoundError, InputError, UnknownNameError
from hyperlab.tasks.base import OptimizerWrapper
from hyperlab.tasks.replay_base import ReplayCurve, ReplayTask

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
