"""PyTorch MLPs on scikit-learn's bundled classification data sets.

The data are split once (fixed seed) into a held-out test part that tuners never see and a
training part on which stratified k-fold cross-validation scores a configuration. All k fold
models are trained in lockstep, one epoch at a time, so the mean validation loss can be
reported after every epoch (and the trial pruned). Training can stop and continue
(:meth:`SklearnMLPTask.train_segment`): the state holds every fold's model, optimizer state and
random streams, and the rate, weight decay, dropout and batch size may change between segments.
"""

from __future__ import annotations

import copy
import functools
import math
import time
from functools import cached_property
from typing import Any

import numpy as np
import optuna

from hyperlab.errors import InputError, InputTypeError, TrialFailure
from hyperlab.registry import TASKS
from hyperlab.tasks.base import (
    EpochCallback,
    Evaluation,
    OptimizerWrapper,
    Segment,
    Task,
    standard_error,
)

_LOADERS = {
    "digits": "load_digits",
    "breast-cancer": "load_breast_cancer",
    "wine": "load_wine",
    "iris": "load_iris",
    "blobs": "make_classification",
    "hastie": "make_hastie_10_2",
    "classif6": "make_classification",
    "imb3": "make_classification",
    "clusters2": "make_classification",
}
#: Arguments of the generated data sets (the others are loaded as they ship).
_GENERATED: dict[str, dict[str, Any]] = {
    "blobs": {
        "n_samples": 1500,
        "n_features": 20,
        "n_informative": 8,
        "n_classes": 4,
        "random_state": 0,
    },
    "hastie": {"n_samples": 1500, "random_state": 0},
    "classif6": {
        "n_samples": 2000,
        "n_features": 30,
        "n_informative": 10,
        "n_classes": 6,
        "class_sep": 0.8,
        "random_state": 1,
    },
    "imb3": {
        "n_samples": 1500,
        "n_features": 15,
        "n_informative": 5,
        "n_redundant": 4,
        "n_classes": 3,
        "weights": [0.6, 0.3, 0.1],
        "flip_y": 0.05,
        "random_state": 3,
    },
    "clusters2": {
        "n_samples": 1500,
        "n_features": 12,
        "n_informative": 6,
        "n_redundant": 0,
        "n_classes": 2,
        "n_clusters_per_class": 4,
        "class_sep": 1.0,
        "random_state": 4,
    },
}


def build_mlp(n_in: int, n_out: int, config: dict[str, Any], *, keep_dropout: bool = False) -> Any:
    """The network a configuration describes (``torch.nn.Sequential``); ``keep_dropout`` puts a
    dropout module after every hidden layer even at rate 0 (an identity that draws no random
    numbers), so that a later segment can raise the rate."""
    import torch.nn as nn

    acts = {"relu": nn.ReLU, "tanh": nn.Tanh, "gelu": nn.GELU}
    if config["activation"] not in acts:
        raise InputError(f"unknown activation {config['activation']!r}; known: {sorted(acts)}")
    layers: list[nn.Module] = []
    width_in = n_in
    for _ in range(int(config["n_layers"])):
        layers += [nn.Linear(width_in, int(config["width"])), acts[config["activation"]]()]
        if config["dropout"] > 0 or keep_dropout:
            layers.append(nn.Dropout(float(config["dropout"])))
        width_in = int(config["width"])
    layers.append(nn.Linear(width_in, n_out))
    return nn.Sequential(*layers)


def build_optimizer(params: Any, config: dict[str, Any]) -> Any:
    """SGD with momentum 0.9 or Adam, with the configuration's rate and weight decay."""
    import torch

    lr, wd = float(config["lr"]), float(config["weight_decay"])
    if config["optimizer"] == "sgd":
        return torch.optim.SGD(params, lr=lr, momentum=0.9, weight_decay=wd)
    if config["optimizer"] == "adam":
        return torch.optim.Adam(params, lr=lr, weight_decay=wd)
    raise InputError(f"unknown optimizer {config['optimizer']!r}; known: ['adam', 'sgd']")


def first_optimizer_step() -> None:
    """One step of an Adam on a zero weight: torch imports its compiler's machinery at a
    process's first optimizer step (seconds), which a task's :meth:`~Task.warm_up` does here
    rather than inside the first trial's clock. Draws no random number."""
    import torch

    weight = torch.zeros(1, requires_grad=True)
    weight.grad = torch.zeros(1)
    torch.optim.Adam([weight], lr=0.0).step()


class SklearnMLPTask(Task):
    """An MLP classifier on a bundled scikit-learn data set, scored by validation cross-entropy.

    Args:
        dataset: One of ``digits``, ``breast-cancer``, ``wine``, ``iris``, ``blobs``
            (scikit-learn's ``make_classification``: 1500 rows, 20 features, 8 informative, 4
            classes), ``hastie`` (``make_hastie_10_2``: 1500 rows, 10 features, 2 classes) or
            ``classif6`` (``make_classification``: 2000 rows, 30 features, 10 informative, 6
            classes, ``class_sep`` 0.8), ``imb3`` (``make_classification``: 1500 rows, 15
            features, 3 classes of 60%, 30% and 10%, 5% of labels flipped) or ``clusters2``
            (``make_classification``: 1500 rows, 12 features, 2 classes of 4 clusters each).
            Only the first three are registered as tasks: ``blobs`` is a development set
            (defaults are chosen on it and never reported on it); the others give the
            diagnostician labelled runs of other data, and the last two judged its seven-task
            model on data no choice had touched (``scripts/make_diagnosis_set.py --tasks``;
            ``docs/decisions/diagnose-accuracy.md``).
        n_folds: Folds of the stratified cross-validation (>= 2).
        max_epochs: The largest budget.
        test_fraction: Share of the data held out as the test split.
    """

    metric = "cross-entropy"
    mutable_params = ("lr", "weight_decay", "dropout", "batch_size")
    learning_rate_param = "lr"

    def __init__(
        self,
        dataset: str = "digits",
        n_folds: int = 3,
        max_epochs: int = 20,
        test_fraction: float = 0.2,
    ) -> None:
        self.dataset = dataset
        self.n_folds = n_folds
        self.max_epochs = max_epochs
        self.test_fraction = test_fraction
        if dataset not in _LOADERS:
            raise InputError(f"unknown dataset {dataset!r}; known: {sorted(_LOADERS)}")
        if isinstance(n_folds, bool) or not isinstance(n_folds, int) or n_folds < 2:
            raise InputError(f"n_folds must be an int >= 2, got {n_folds!r}")
        if isinstance(max_epochs, bool) or not isinstance(max_epochs, int) or max_epochs < 1:
            raise InputError(f"max_epochs must be a positive int, got {max_epochs!r}")
        if isinstance(test_fraction, bool) or not isinstance(test_fraction, int | float):
            raise InputTypeError(f"test_fraction must be a number, got {test_fraction!r}")
        if not 0.0 < test_fraction < 0.9:
            raise InputError(f"test_fraction must be in (0, 0.9), got {test_fraction!r}")
        self.name = f"{dataset}-mlp"
        self.max_budget = max_epochs

    def search_space(self, trial: optuna.Trial) -> dict[str, Any]:
        return {
            "lr": trial.suggest_float("lr", 1e-4, 1.0, log=True),
            "weight_decay": trial.suggest_float("weight_decay", 1e-6, 1e-1, log=True),
            "batch_size": trial.suggest_int("batch_size", 16, 256, log=True),
            "n_layers": trial.suggest_int("n_layers", 1, 4),
            "width": trial.suggest_int("width", 16, 256, log=True),
            "activation": trial.suggest_categorical("activation", ["relu", "tanh", "gelu"]),
            "dropout": trial.suggest_float("dropout", 0.0, 0.5),
            "optimizer": trial.suggest_categorical("optimizer", ["adam", "sgd"]),
        }

    def default_config(self) -> dict[str, Any]:
        """A well-tried starting point: Adam at 1e-3, two layers of 64, light regularization."""
        return {
            "lr": 1e-3,
            "weight_decay": 1e-4,
            "batch_size": 32,
            "n_layers": 2,
            "width": 64,
            "activation": "relu",
            "dropout": 0.1,
            "optimizer": "adam",
        }

    def warm_up(self) -> None:
        """Load the data set and its folds, and make torch's first optimizer step."""
        _ = self._folds  # (loads the data set too)
        first_optimizer_step()

    def check(self) -> None:
        """Check ``test_fraction`` and ``n_folds`` against the data set (loads it).

        Raises:
            InputError: The stratified test split cannot be made, or ``n_folds`` exceeds the
                training rows of the smallest class (some folds would lack that class).
        """
        super().check()
        try:
            y = self._data["y"]
        except ValueError as exc:  # scikit-learn's reason, e.g. a test split under one per class
            raise InputError(
                f"test_fraction={self.test_fraction} does not fit {self.dataset}: {exc}"
            ) from None
        smallest = int(np.bincount(y).min())
        if self.n_folds > smallest:
            raise InputError(
                f"n_folds must be at most {smallest} for {self.dataset} (the training rows of "
                f"its smallest class), got {self.n_folds}"
            )

    @cached_property
    def _data(self) -> dict[str, np.ndarray]:
        from sklearn import datasets
        from sklearn.model_selection import train_test_split

        loader = getattr(datasets, _LOADERS[self.dataset])
        if self.dataset in _GENERATED:
            x, y = loader(**_GENERATED[self.dataset])
        else:
            x, y = loader(return_X_y=True)
        y = np.unique(y, return_inverse=True)[1]  # classes 0..k-1 (hastie's are -1 and 1)
        x_train, x_test, y_train, y_test = train_test_split(
            x.astype(np.float64),
            y.astype(np.int64),
            test_size=self.test_fraction,
            stratify=y,
            random_state=0,
        )
        return {"x": x_train, "y": y_train, "x_test": x_test, "y_test": y_test}

    @cached_property
    def _folds(self) -> list[tuple[np.ndarray, np.ndarray]]:
        from sklearn.model_selection import StratifiedKFold

        cv = StratifiedKFold(n_splits=self.n_folds, shuffle=True, random_state=0)
        return list(cv.split(self._data["x"], self._data["y"]))

    @property
    def n_classes(self) -> int:
        return int(self._data["y"].max()) + 1

    def training_data(self) -> tuple[np.ndarray, np.ndarray]:
        """The training part that the folds split: features ``(n, d)`` and labels ``(n,)``
        (copies; the held-out test part stays hidden)."""
        return self._data["x"].copy(), self._data["y"].copy()

    def _fold_runs(
        self,
        config: dict[str, Any],
        seed: int,
        *,
        keep_dropout: bool = False,
        wrap_optimizer: OptimizerWrapper | None = None,
    ) -> list[_FoldRun]:
        data = self._data
        return [
            _FoldRun(
                data["x"][tr],
                data["y"][tr],
                data["x"][va],
                data["y"][va],
                config,
                self.n_classes,
                seed + k,
                keep_dropout=keep_dropout,
                wrap_optimizer=wrap_optimizer,
            )
            for k, (tr, va) in enumerate(self._folds)
        ]

    def _evaluate(
        self, config: dict[str, Any], budget: int, seed: int, on_epoch: EpochCallback | None
    ) -> Evaluation:
        start = time.perf_counter()
        runs = self._fold_runs(config, seed)
        curves, fold_losses, fold_accs = _lockstep(runs, budget, 0, on_epoch)
        return Evaluation(
            value=float(np.mean(fold_losses)),
            std_err=standard_error(fold_losses),
            budget=budget,
            curves=curves,
            fold_values=[float(v) for v in fold_losses],
            wall_time=time.perf_counter() - start,
            extra=_accuracy(fold_accs),
        )

    def _train_segment(
        self,
        config: dict[str, Any],
        state: Any,
        epochs: int,
        seed: int,
        wrap_optimizer: OptimizerWrapper | None,
    ) -> Segment:
        """The k fold models trained in lockstep, as :meth:`_evaluate` does (the value is the
        mean over folds); models always carry their dropout modules so the rate can change.

        The state holds each fold's model and optimizer ``state_dict`` and data-order
        generator, the global torch random state (dropout draws from it) and the epoch. The
        rate and weight decay are written into the optimizer's param groups when they differ
        from the values the state was trained with (a learned rate stays as it is), dropout
        into the dropout modules, and the batch size is used from the next epoch on.
        """
        import torch

        start = time.perf_counter()
        runs = self._fold_runs(config, seed, keep_dropout=True, wrap_optimizer=wrap_optimizer)
        epoch0 = 0
        if state is not None:
            if len(state["folds"]) != len(runs):
                raise InputError(
                    f"state has {len(state['folds'])} folds, {self.name} has {len(runs)}"
                )
            for run, fold in zip(runs, state["folds"]):
                run.load(fold, config, state["applied"])
            torch.set_rng_state(state["rng"])
            epoch0 = int(state["epoch"])
        curves, fold_losses, fold_accs = _lockstep(runs, epochs, epoch0, None)
        learned = {}
        if wrap_optimizer is not None:
            learned["lr"] = float(np.mean([run.opt.param_groups[0]["lr"] for run in runs]))
        new_state = {
            "epoch": epoch0 + epochs,
            "rng": torch.get_rng_state(),
            "folds": [run.state() for run in runs],
            "applied": _applied(config),
        }
        return Segment(
            state=new_state,
            values=list(curves["val_loss"]),
            epoch=epoch0 + epochs,
            curves=curves,
            std_err=standard_error(fold_losses),
            fold_values=[float(v) for v in fold_losses],
            learned=learned,
            wall_time=time.perf_counter() - start,
            extra=_accuracy(fold_accs),
        )

    def test_score(self, config: dict[str, Any], budget: int | None = None, seed: int = 0) -> float:
        """Cross-entropy on the held-out test split after training on all training data."""
        budget = self.max_budget if budget is None else budget
        run = self._test_run(config, seed)
        loss = float("nan")
        for _ in range(budget):
            loss = run.epoch()[2]
        return loss

    def _schedule_test_score(
        self,
        schedule: list[tuple[dict[str, Any], int]],
        seed: int,
        wrap_optimizer: OptimizerWrapper | None,
    ) -> float:
        """Cross-entropy on the held-out test split after training one model on all training
        data through ``schedule`` (see :meth:`Task.schedule_test_score`)."""
        first = schedule[0][0]
        run = self._test_run(first, seed, keep_dropout=True, wrap_optimizer=wrap_optimizer)
        applied = _applied(first)
        loss = float("nan")
        for config, epochs in schedule:
            run.retune(config, applied)
            applied = _applied(config)
            for _ in range(epochs):
                loss = run.epoch()[2]
        return loss

    def _test_run(self, config: dict[str, Any], seed: int, **options: Any) -> _FoldRun:
        """A model on all the training data, evaluated on the test split after each epoch."""
        data = self._data
        return _FoldRun(
            data["x"],
            data["y"],
            data["x_test"],
            data["y_test"],
            config,
            self.n_classes,
            seed,
            **options,
        )

    def test_accuracy(
        self, config: dict[str, Any], budget: int | None = None, seed: int = 0
    ) -> float:
        """Accuracy on the held-out test split after training on all training data."""
        budget = self.max_budget if budget is None else budget
        run = self._test_run(config, seed)
        acc = float("nan")
        for _ in range(budget):
            acc = run.epoch()[3]
        return acc

    def describe(self) -> dict[str, Any]:
        out = super().describe()
        out.update(dataset=self.dataset, n_folds=self.n_folds, test_fraction=self.test_fraction)
        return out


def _accuracy(fold_accs: list[float]) -> dict[str, float]:
    """The validation accuracy over the folds, with its standard error (an evaluation's and a
    segment's ``extra``)."""
    return {
        "val_accuracy": float(np.mean(fold_accs)),
        "val_accuracy_se": standard_error(fold_accs),
    }


def _lockstep(
    runs: list[_FoldRun], epochs: int, epoch0: int, on_epoch: EpochCallback | None
) -> tuple[dict[str, list[float]], list[float], list[float]]:
    """Train every fold's model ``epochs`` epochs, one epoch of each in turn.

    Returns:
        The per-epoch means over folds (``train_loss``, ``val_loss``, ``train_metric``,
        ``val_metric``), and the last epoch's per-fold validation losses and accuracies.

    Raises:
        TrialFailure: A mean loss is not finite (training diverged).
    """
    curves: dict[str, list[float]] = {
        k: [] for k in ("train_loss", "val_loss", "train_metric", "val_metric")
    }
    fold_losses: list[float] = []
    fold_accs: list[float] = []
    for epoch in range(epoch0 + 1, epoch0 + epochs + 1):
        stats = [run.epoch() for run in runs]
        fold_losses = [s[2] for s in stats]
        fold_accs = [s[3] for s in stats]
        # _FoldRun.epoch() returns (train loss, train accuracy, val loss, val accuracy)
        for i, key in enumerate(("train_loss", "train_metric", "val_loss", "val_metric")):
            curves[key].append(float(np.mean([s[i] for s in stats])))
        value = curves["val_loss"][-1]
        if not math.isfinite(value) or not math.isfinite(curves["train_loss"][-1]):
            raise TrialFailure(
                f"training diverged at epoch {epoch}: validation loss {value}", curves=curves
            )
        if on_epoch is not None:
            on_epoch(epoch - epoch0, value, curves)
    return curves, fold_losses, fold_accs


def _applied(config: dict[str, Any]) -> dict[str, float]:
    """The rate and weight decay an optimizer built or retuned with ``config`` was set to."""
    return {k: float(config[k]) for k in ("lr", "weight_decay")}


class _FoldRun:
    """One model trained on one fold, advanced an epoch at a time."""

    def __init__(
        self,
        x_tr: np.ndarray,
        y_tr: np.ndarray,
        x_va: np.ndarray,
        y_va: np.ndarray,
        config: dict[str, Any],
        n_classes: int,
        seed: int,
        *,
        keep_dropout: bool = False,
        wrap_optimizer: OptimizerWrapper | None = None,
    ) -> None:
        import torch

        mean, std = x_tr.mean(0), x_tr.std(0)
        std = np.where(std < 1e-8, 1.0, std)  # constant features (e.g. blank pixels)
        self.x_tr = torch.as_tensor((x_tr - mean) / std, dtype=torch.float32)
        self.y_tr = torch.as_tensor(y_tr)
        self.x_va = torch.as_tensor((x_va - mean) / std, dtype=torch.float32)
        self.y_va = torch.as_tensor(y_va)
        self.gen = torch.Generator().manual_seed(seed)
        torch.manual_seed(seed)
        self.model = build_mlp(x_tr.shape[1], n_classes, config, keep_dropout=keep_dropout)
        self.opt = build_optimizer(self.model.parameters(), config)
        if wrap_optimizer is not None:
            self.opt = wrap_optimizer(self.opt)
        self.batch_size = int(config["batch_size"])

    def state(self) -> dict[str, Any]:
        """The model's and optimizer's ``state_dict`` and the data-order generator's state."""
        return {
            "model": self.model.state_dict(),
            "optimizer": self.opt.state_dict(),
            "generator": self.gen.get_state(),
        }

    def load(
        self, state: dict[str, Any], config: dict[str, Any], applied: dict[str, float]
    ) -> None:
        """Continue from ``state`` (left unchanged) with ``config``'s mutable hyperparameters;
        ``applied`` holds the rate and weight decay ``state`` was trained with."""
        self.model.load_state_dict(state["model"])
        self.opt.load_state_dict(copy.deepcopy(state["optimizer"]))  # it keeps the tensors
        self.gen.set_state(state["generator"])
        self.retune(config, applied)

    def retune(self, config: dict[str, Any], applied: dict[str, float]) -> None:
        """Train on with ``config``'s mutable hyperparameters: the rate and weight decay where
        they differ from ``applied`` (what the optimizer was set to; a learned rate stays as
        it is otherwise), the dropout rate, and the batch size from the next epoch on."""
        import torch.nn as nn

        for key in ("lr", "weight_decay"):
            if float(config[key]) != applied[key]:
                for group in self.opt.param_groups:
                    group[key] = float(config[key])
        for module in self.model.modules():
            if isinstance(module, nn.Dropout):
                module.p = float(config["dropout"])
        self.batch_size = int(config["batch_size"])

    def epoch(self) -> tuple[float, float, float, float]:
        """Train one epoch; return (train loss, train accuracy, val loss, val accuracy)."""
        import torch
        import torch.nn.functional as F

        self.model.train()
        n = len(self.y_tr)
        perm = torch.randperm(n, generator=self.gen)
        total, correct = 0.0, 0
        for i in range(0, n, self.batch_size):
            idx = perm[i : i + self.batch_size]
            out = self.model(self.x_tr[idx])
            loss = F.cross_entropy(out, self.y_tr[idx])
            self.opt.zero_grad(set_to_none=True)
            loss.backward()
            self.opt.step()
            total += float(loss.detach()) * len(idx)
            correct += int((out.argmax(1) == self.y_tr[idx]).sum())
        self.model.eval()
        with torch.no_grad():
            out = self.model(self.x_va)
            val_loss = float(F.cross_entropy(out, self.y_va))
            val_acc = float((out.argmax(1) == self.y_va).float().mean())
        return total / n, correct / n, val_loss, val_acc


for _ds, _desc in (
    ("digits", "MLP on scikit-learn digits (10 classes, 64 features), 3-fold CV"),
    ("breast-cancer", "MLP on scikit-learn breast cancer (2 classes, 30 features), 3-fold CV"),
    ("wine", "MLP on scikit-learn wine (3 classes, 13 features), 3-fold CV"),
):
    # a partial keeps the class's own keywords visible to TASKS.options
    TASKS.register(f"{_ds}-mlp", functools.partial(SklearnMLPTask, _ds), _desc)
