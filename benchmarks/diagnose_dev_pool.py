"""The diagnostician's held-out protocol over the whole dev pool in one process (fast dev numbers).

``diagnose_accuracy.py`` scores one set per call and recomputes everything for it. Here the
features and rule scores of every set are computed once, and a classifier whose training runs are
the same for several scored sets is fitted once: with ``--pool all:...`` every scored seed trains,
for held-out task t, on task != t runs of the same sets, so the models (and the nested weight
choice) are shared. The protocol is the script's (leave-one-task-out, the blend weight chosen
nested on the two training tasks, the same blending as ``diagnose``); only the row order of a
pooled fit differs, which moves single sets by float-level noise (seen: up to 0.006 on one set).
With ``--pool single`` it reproduces the script's single-set numbers exactly.

Used for the fifth round's dev decisions (see ``diagnose_accuracy.py``). Set ids: ``d0``..``d7``
are the scored sets (``d0`` = ``diagnosis_set.json.gz``), ``t20``.. the training-only sets.

Usage:
    .venv/bin/python benchmarks/diagnose_dev_pool.py \
        --pool all:d0,d1,d2,d3,d4,d5,d6,t20,t21,t22,t23 --c 1.0 --out /tmp/p1s1.json
    .venv/bin/python benchmarks/diagnose_dev_pool.py --pool single   # or: three (s, s+1, s+2 mod 7)
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import numpy as np

from diagnose_accuracy import _load, _scores
from hyperlab.diagnose import blend, model_inputs
from hyperlab.diagnose import classifier as clf
from hyperlab.diagnose.features import features, view
from hyperlab.diagnose.inputs import check_curves
from hyperlab.diagnose.rules import rule_scores

DATA = Path(__file__).parent / "data"
KEYS = ("balanced_accuracy", "lr_direction_moves", "reg_direction_moves")
KEYS += ("lr_direction_all", "reg_direction_all")


def _path(sid: str) -> Path:
    if sid == "d0":
        return DATA / "diagnosis_set.json.gz"
    if sid.startswith("d"):
        return DATA / f"diagnosis_set_seed{sid[1:]}.json.gz"
    return DATA / f"diagnosis_train_seed{sid[1:]}.json.gz"


_SETS: dict[str, dict[str, Any]] = {}


def _set(sid: str) -> dict[str, Any]:
    """A set's runs with their view, features and rule scores, and the classifier inputs."""
    if sid not in _SETS:
        runs = _load(_path(sid))["runs"]
        pre, xs, xn = [], [], []
        for r in runs:
            c = check_curves(r["curves"])
            v = view(c)
            f = features(c, v)
            rs = rule_scores(f, v)
            pre.append((v, f, rs))
            xs.append(model_inputs(f, rs))
            c2 = {k: a for k, a in c.items() if k.endswith("_loss")}
            v2 = view(c2)
            f2 = features(c2, v2)
            xn.append(model_inputs(f2, rule_scores(f2, v2)))
        _SETS[sid] = {
            "runs": runs,
            "pre": pre,
            "x": np.array(xs),
            "xn": np.array(xn),
            "y": [r["label"] for r in runs],
            "task": np.array([r["task"] for r in runs]),
        }
    return _SETS[sid]


_FITS: dict[tuple[Any, ...], clf.Classifier] = {}


def _fit(pool: list[str], tasks: list[str], a: argparse.Namespace) -> clf.Classifier:
    """The ensemble trained on ``tasks``' runs of the ``pool`` sets (with and without metrics)."""
    key = (tuple(sorted(pool)), tuple(sorted(tasks)), a.c, a.stages, a.depth)
    if key not in _FITS:
        xs, xn, ys = [], [], []
        for sid in key[0]:
            s = _set(sid)
            m = np.isin(s["task"], list(tasks))
            xs.append(s["x"][m])
            xn.append(s["xn"][m])
            ys += [y for y, k in zip(s["y"], m) if k]
        x, y = np.vstack(xs + xn), ys * 2
        trees = clf.fit_trees(x, y, n_stages=a.stages, depth=a.depth)
        _FITS[key] = clf.Ensemble([clf.fit(x, y, c=a.c), trees])
    return _FITS[key]


def _predict(
    sid: str, idx: list[int], model: clf.Classifier, weights: list[float]
) -> dict[float, list[dict[str, str]]]:
    """Predictions for runs ``idx`` of a set at each weight, blended as ``_diagnose`` does."""
    s = _set(sid)
    proba = model.predict_proba(s["x"][idx]) if idx else np.zeros((0, 0))
    out: dict[float, list[dict[str, str]]] = {w: [] for w in weights}
    for j, i in enumerate(idx):
        v, f, rules = s["pre"][i]
        row = dict(zip(model.classes, map(float, proba[j])))
        for w in weights:
            d = blend(v, f, rules, row, w, None)
            lr, wd = d.advice_for("lr"), d.advice_for("weight_decay")
            out[w].append(
                {
                    "primary": d.primary.name,
                    "lr": lr.direction if lr else "keep",
                    "reg": wd.direction if wd else "keep",
                }
            )
    return out


def _choose(pool: list[str], tasks: list[str], held: str, a: argparse.Namespace) -> float:
    """The nested blend weight for held-out task ``held`` (leave-one-task-out on the others)."""
    inner_pool = [u for u in tasks if u != held]
    preds: dict[float, list[dict[str, str]]] = {w: [] for w in a.weights}
    inner_runs: list[dict[str, Any]] = []
    for u in inner_pool:
        model = _fit(pool, [t for t in inner_pool if t != u], a)
        for sid in pool:
            s = _set(sid)
            idx = [int(i) for i in np.where(s["task"] == u)[0]]
            inner_runs += [s["runs"][i] for i in idx]
            for w, p in _predict(sid, idx, model, a.weights).items():
                preds[w] += p
    acc = {w: _scores(inner_runs, p)["balanced_accuracy"] for w, p in preds.items()}
    return max(a.weights, key=lambda w: (round(acc[w], 6), -abs(w - 0.5)))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--pool", default="single", help="all:ID,ID,... | single | three")
    p.add_argument("--c", type=float, default=0.3)
    p.add_argument("--stages", type=int, default=60)
    p.add_argument("--depth", type=int, default=2)
    p.add_argument("--weights", type=float, nargs="+", default=[0.5, 0.75, 1.0])
    p.add_argument("--seeds", type=int, nargs="+", default=list(range(7)))
    p.add_argument("--out", default=None, help="results JSON (optional)")
    a = p.parse_args()
    start = time.perf_counter()
    res: dict[int, Any] = {}
    for seed in a.seeds:
        sid = f"d{seed}"
        if a.pool == "single":
            pool = [sid]
        elif a.pool == "three":
            pool = [sid, f"d{(seed + 1) % 7}", f"d{(seed + 2) % 7}"]
        else:
            pool = a.pool.split(":", 1)[1].split(",")
            if sid not in pool:
                raise SystemExit(f"--pool must hold the scored set {sid}")
        s = _set(sid)
        tasks = sorted(set(s["task"].tolist()))
        preds: list[dict[str, str]] = [{}] * len(s["runs"])
        chosen = {}
        for t in tasks:
            w = chosen[t] = _choose(pool, tasks, t, a)
            idx = [int(i) for i in np.where(s["task"] == t)[0]]
            model = _fit(pool, [u for u in tasks if u != t], a)
            for i, q in zip(idx, _predict(sid, idx, model, [w])[w]):
                preds[i] = q
        sc = _scores(s["runs"], preds)
        res[seed] = {"scores": sc, "weights": chosen}
        print(seed, " ".join(f"{sc[k]:.4f}" for k in KEYS), chosen, flush=True)
    mean = [float(np.mean([res[s]["scores"][k] for s in a.seeds])) for k in KEYS]
    print("mean", " ".join(f"{v:.4f}" for v in mean), "(BA LRm REGm LRa REGa)")
    print(f"{time.perf_counter() - start:.0f}s")
    if a.out:
        Path(a.out).write_text(json.dumps({"args": vars(a), "res": res, "mean": mean}, indent=1))


if __name__ == "__main__":
    main()
