"""Train and score the diagnostician's classifier on labelled runs, holding out whole tasks.

A labelled run is a dict: its ``task``, its ``curves`` (per-epoch ``train_loss`` and
``val_loss``, optionally ``train_metric`` and ``val_metric``), the primary finding it should get
(``label``) and the way its learning-rate and regularization advice should point (``advice``:
``{"lr": "up" | "down" | "keep", "reg": ...}``). ``scripts/make_diagnosis_set.py`` writes such
runs; :func:`load_runs` reads them.

:class:`LabelledRuns` reads every run once (its features, rule scores and classifier inputs).
The classifier is trained on every run twice, with and without its metric curves, so that it
also serves users who log only losses. :func:`held_out` scores it the honest way: on a task
whose runs it never saw, with its weight against the rules chosen by leave-one-task-out on the
training tasks only (:func:`choose_weight`), so no number is tuned on the runs it reports.
:func:`tasks_held_out` scores every task of a pool the same way at a fixed weight (the five-task
development protocol). :func:`train_model` builds the shipped model the same way, on every run. :func:`prediction`
reads any :class:`~hyperlab.diagnose.result.Diagnosis` the way :func:`score` compares it, so the
shipped model can be scored through :func:`hyperlab.diagnose.diagnose` itself.
"""

from __future__ import annotations

import gzip
import json
import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from hyperlab.diagnose import classifier as clf
from hyperlab.diagnose.features import features, view
from hyperlab.diagnose.inputs import check_curves
from hyperlab.diagnose.result import Diagnosis
from hyperlab.diagnose.rules import rule_scores
from hyperlab.errors import InputError

#: A prediction: the primary finding and the direction of the lr and regularization advice.
Prediction = dict[str, str]


@dataclass(frozen=True)
class Settings:
    """The classifier's settings: the logistic regression's inverse L2 strength ``c`` and the
    boosted trees' ``n_stages`` and ``depth`` (the ensemble averages the two)."""

    c: float = 1.0
    n_stages: int = 60
    depth: int = 2


def load_runs(path: str | Path) -> list[dict[str, Any]]:
    """The labelled runs of a set file (JSON, gzipped when the name ends in ``.gz``).

    ``null`` in a curve (an epoch where the value was not finite) is read as NaN.
    """
    p = Path(path)
    opener: Any = gzip.open if p.suffix == ".gz" else open
    with opener(p, "rt", encoding="utf-8") as fh:
        data = json.load(fh)
    runs: list[dict[str, Any]] = data["runs"]
    for r in runs:
        r["curves"] = {k: [math.nan if x is None else x for x in v] for k, v in r["curves"].items()}
    return runs


def _read(curves: dict[str, np.ndarray]) -> tuple[Any, dict[str, float], dict[str, Any]]:
    v = view(curves)
    f = features(curves, v)
    return v, f, rule_scores(f, v)


class LabelledRuns:
    """Labelled runs, each read once; trains classifiers on and diagnoses rows of them.

    Args:
        runs: Labelled runs (see the module docstring).

    Attributes:
        runs: The runs, in order (rows are indices into it).
        tasks: Each run's task, shape ``(n,)``.
        labels: Each run's expected primary finding.
        x: Classifier inputs from all curves, shape ``(n, n_inputs)``.
        x_losses: Classifier inputs from the loss curves alone, shape ``(n, n_inputs)``.
    """

    def __init__(self, runs: Sequence[dict[str, Any]]) -> None:
        from hyperlab.diagnose import model_inputs

        if not runs:
            raise InputError("no labelled runs")
        self.runs = list(runs)
        self.tasks = np.array([r["task"] for r in self.runs])
        self.labels = [str(r["label"]) for r in self.runs]
        self._read = []
        x, x_losses = [], []
        for r in self.runs:
            curves = check_curves(r["curves"])
            v, f, rules = _read(curves)
            self._read.append((v, f, rules))
            x.append(model_inputs(f, rules))
            _, f2, rules2 = _read({k: a for k, a in curves.items() if k.endswith("_loss")})
            x_losses.append(model_inputs(f2, rules2))
        self.x, self.x_losses = np.array(x), np.array(x_losses)
        self._fits: dict[tuple[bytes, Settings], clf.Ensemble] = {}

    def rows(self, tasks: Sequence[str] | None = None, exclude: str | None = None) -> np.ndarray:
        """Indices of the runs of ``tasks`` (default: all), less those of task ``exclude``."""
        keep = np.ones(len(self.runs), dtype=bool)
        if tasks is not None:
            keep &= np.isin(self.tasks, list(tasks))
        if exclude is not None:
            keep &= self.tasks != exclude
        return np.flatnonzero(keep)

    def fit(self, rows: np.ndarray, settings: Settings = Settings()) -> clf.Ensemble:
        """The ensemble trained on ``rows``, each run with and without its metric curves
        (remembered: the same rows and settings give the same model object)."""
        rows = np.asarray(rows, dtype=np.int64)
        key = (rows.tobytes(), settings)
        if key not in self._fits:
            xs = np.vstack([self.x[rows], self.x_losses[rows]])
            ys = [self.labels[i] for i in rows] * 2
            trees = clf.fit_trees(xs, ys, n_stages=settings.n_stages, depth=settings.depth)
            self._fits[key] = clf.Ensemble([clf.fit(xs, ys, c=settings.c), trees])
        return self._fits[key]

    def predict(
        self, rows: np.ndarray, model: clf.Classifier | None, weight: float
    ) -> list[Prediction]:
        """The diagnosis of each run of ``rows`` as :func:`hyperlab.diagnose.diagnose` makes
        it, with ``model`` blended at ``weight`` (``None``: rules only)."""
        from hyperlab.diagnose import blend

        rows = np.asarray(rows, dtype=np.int64)
        proba = model.predict_proba(self.x[rows]) if model is not None and len(rows) else None
        out = []
        for j, i in enumerate(rows):
            v, f, rules = self._read[i]
            p = None
            if proba is not None and model is not None and not f["diverged"]:
                p = {name: float(q) for name, q in zip(model.classes, proba[j])}
            out.append(prediction(blend(v, f, rules, p, weight, None)))
        return out


def prediction(d: Diagnosis) -> Prediction:
    """What :func:`score` compares with a labelled run: ``d``'s primary finding and the
    direction of its learning-rate and weight-decay advice (``keep`` when there is none)."""
    lr, wd = d.advice_for("lr"), d.advice_for("weight_decay")
    return {
        "primary": d.primary.name,
        "lr": lr.direction if lr else "keep",
        "reg": wd.direction if wd else "keep",
    }


def score(runs: Sequence[dict[str, Any]], preds: Sequence[Prediction]) -> dict[str, Any]:
    """How right ``preds`` are about ``runs``.

    Returns:
        ``n``; ``balanced_accuracy`` (the mean recall over the expected findings) and
        ``accuracy`` of the primary finding; for ``lr`` and ``reg``: ``<knob>_direction_all``
        (the advice points the expected way, ``keep`` included), ``<knob>_direction_moves``
        (the same on the runs whose knob should move; ``None`` when none should) and
        ``<knob>_n_moves``.
    """
    if len(runs) != len(preds):
        raise InputError(f"{len(runs)} runs but {len(preds)} predictions")
    y = [r["label"] for r in runs]
    p = [q["primary"] for q in preds]
    recall = [np.mean([b == a for a, b in zip(y, p) if a == label]) for label in sorted(set(y))]
    out: dict[str, Any] = {"n": len(runs), "balanced_accuracy": float(np.mean(recall))}
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


def by_cause(runs: Sequence[dict[str, Any]], preds: Sequence[Prediction]) -> dict[str, Any]:
    """Per cause of ``runs`` (in order of first appearance): the ``expected`` finding, the share
    of its runs diagnosed so (``recall``) and the count of each ``primary`` finding made."""
    if len(runs) != len(preds):
        raise InputError(f"{len(runs)} runs but {len(preds)} predictions")
    out = {}
    for cause in dict.fromkeys(r["cause"] for r in runs):
        got = [p["primary"] for r, p in zip(runs, preds) if r["cause"] == cause]
        label = next(r["label"] for r in runs if r["cause"] == cause)
        out[cause] = {
            "expected": label,
            "recall": got.count(label) / len(got),
            "primary": dict(Counter(got).most_common()),
        }
    return out


def choose_weight(
    data: LabelledRuns,
    tasks: Sequence[str],
    weights: Sequence[float],
    settings: Settings = Settings(),
) -> tuple[float, dict[float, float]]:
    """The blend weight with the best leave-one-task-out balanced accuracy among ``tasks``.

    For each task of ``tasks`` in turn, the classifier trains on the other tasks' runs and
    diagnoses that task's runs at every weight; the pooled balanced accuracy decides, ties
    going to the weight nearest the even blend 0.5.

    Returns:
        The weight, and the balanced accuracy at each weight.
    """
    if len(tasks) < 2:
        raise InputError(f"choosing a weight needs two tasks or more, got {list(tasks)}")
    preds: dict[float, list[Prediction]] = {w: [] for w in weights}
    scored: list[dict[str, Any]] = []
    for inner in tasks:
        model = data.fit(data.rows(tasks, exclude=inner), settings)
        test = data.rows([inner])
        scored += [data.runs[i] for i in test]
        for w in weights:
            preds[w] += data.predict(test, model, w)
    acc = {w: score(scored, p)["balanced_accuracy"] for w, p in preds.items()}
    return max(weights, key=lambda w: (round(acc[w], 6), -abs(w - 0.5))), acc


def held_out(
    data: LabelledRuns,
    scored: np.ndarray,
    weights: Sequence[float],
    settings: Settings = Settings(),
) -> tuple[list[Prediction], dict[str, dict[str, Any]]]:
    """Leave-one-task-out predictions for the runs ``scored`` (rows of ``data``).

    For each task of the scored runs, the classifier trains on every run of ``data`` from the
    other tasks, and its weight is chosen by :func:`choose_weight` on those tasks alone
    (nested: never on the task it is scored on).

    Returns:
        The prediction of each scored run (in ``scored`` order), and per task the chosen
        ``weight`` and the ``inner_balanced_accuracy`` of each candidate.
    """
    scored = np.asarray(scored, dtype=np.int64)
    tasks = sorted(set(data.tasks[scored].tolist()))
    every = sorted(set(data.tasks.tolist()))
    preds: dict[int, Prediction] = {}
    chosen: dict[str, dict[str, Any]] = {}
    for task in tasks:
        weight, inner = choose_weight(data, [t for t in every if t != task], weights, settings)
        chosen[task] = {"weight": weight, "inner_balanced_accuracy": inner}
        model = data.fit(data.rows(exclude=task), settings)
        test = scored[data.tasks[scored] == task]
        preds.update(zip(test.tolist(), data.predict(test, model, weight)))
    return [preds[i] for i in scored.tolist()], chosen


def tasks_held_out(
    data: LabelledRuns,
    weight: float,
    settings: Settings = Settings(),
    train_tasks: Sequence[str] | None = None,
) -> dict[str, dict[str, Any]]:
    """Leave-one-task-out over every task of ``data`` at a fixed blend ``weight``.

    For each task in turn, the classifier trains on every run of the other tasks (only those of
    ``train_tasks`` when given: the rest are scored but never train) and diagnoses every run of
    the held-out task.

    Returns:
        Per task (sorted): its :func:`score` and its misses :func:`by_cause` (``by_cause``
        needs each run's ``cause``; runs without one are counted under ``None``).

    Raises:
        InputError: a name of ``train_tasks`` is no task of ``data``, or a held-out task would
            leave no run to train on.
    """
    every = sorted(set(data.tasks.tolist()))
    allowed = every if train_tasks is None else list(train_tasks)
    unknown = sorted(set(allowed) - set(every))
    if unknown:
        raise InputError(f"train_tasks {unknown} are no task of the runs; their tasks: {every}")
    out: dict[str, dict[str, Any]] = {}
    for task in every:
        rows = data.rows([t for t in allowed if t != task])
        if not len(rows):
            raise InputError(f"holding out {task!r} leaves no run to train on")
        test = data.rows([task])
        preds = data.predict(test, data.fit(rows, settings), weight)
        runs = [{"cause": None, **data.runs[i]} for i in test]
        out[task] = {"score": score(runs, preds), "by_cause": by_cause(runs, preds)}
    return out


def train_model(
    data: LabelledRuns, weights: Sequence[float], settings: Settings = Settings()
) -> tuple[clf.Ensemble, float, dict[float, float]]:
    """The model to ship: trained on every run, its weight chosen by leave-one-task-out among
    ``weights`` (a single candidate is taken as given, and nothing is chosen).

    Returns:
        The model, its blend weight and the balanced accuracy of each candidate weight (empty
        for a single candidate).
    """
    if not weights:
        raise InputError("no candidate blend weight")
    model = data.fit(np.arange(len(data.runs)), settings)
    if len(weights) == 1:
        return model, float(weights[0]), {}
    weight, acc = choose_weight(data, sorted(set(data.tasks.tolist())), weights, settings)
    return model, weight, acc
