"""Experiment ``relax``: choose activations and depth by a relaxation, not a grid.

An MLP on scikit-learn's digits chooses, per hidden layer, among ReLU, tanh, GELU and the
identity, and chooses its depth (1-3) through a softmax gate (DARTS-style, Liu et al. 2019):
the mixture logits are learned on validation batches while the weights learn on training
batches, then the argmax architecture is retrained from scratch. It is compared with a grid over
the hand-picked discrete choices (one activation for all layers x depth 1-3), every network
trained with the same budget and seeds.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np

from hyperlab.experiments.base import ExperimentResult, seed_se, seeds_text
from hyperlab.experiments.digits import batches, scores, split_digits
from hyperlab.registry import EXPERIMENTS

CANDIDATES = ("relu", "tanh", "gelu", "identity")
WIDTH = 32
MAX_DEPTH = 3
LR = 3e-3
ARCH_LR = 3e-2


def train_discrete(arch: Any, split: dict[str, Any], *, epochs: int, seed: int) -> dict[str, float]:
    """Train ``arch`` from scratch with Adam; validation/test loss and accuracy at the end."""
    import torch
    import torch.nn.functional as F

    torch.manual_seed(seed)
    model = arch.build(64, 10, WIDTH)
    opt = torch.optim.Adam(model.parameters(), lr=LR)
    for epoch in range(epochs):
        model.train()
        for x, y in batches(split["train"], seed * 1000 + epoch):
            opt.zero_grad()
            F.cross_entropy(model(x), y).backward()
            opt.step()
    return scores(model, split)


def search(
    split: dict[str, Any], *, epochs: int, seed: int, warmup_epochs: int = 0
) -> tuple[Any, Any]:
    """Run the relaxed search; returns (architecture, history)."""
    import torch

    from hyperlab.hypergrad.relax import ArchitectureSearch, RelaxedMLP

    torch.manual_seed(seed)
    model = RelaxedMLP(64, 10, width=WIDTH, max_depth=MAX_DEPTH, candidates=CANDIDATES)
    train = split["train"]
    per_epoch = len(batches(train, 0))
    s = ArchitectureSearch(model, lr=LR, arch_lr=ARCH_LR, warmup_steps=warmup_epochs * per_epoch)
    val = batches(split["val"], seed + 777)
    for epoch in range(epochs):
        s.fit(batches(train, seed * 1000 + epoch), val)
    return model.discretize(), s.history


def _retrain(
    label: str, source: str, arch: Any, split: dict[str, Any], epochs: int, seeds: list[int]
) -> dict[str, Any]:
    """One table row: ``arch`` retrained from scratch in every seed, scores averaged; each
    seed's validation loss is kept under ``val_losses`` (in the order of ``seeds``), to pair
    rows by seed."""
    runs = [train_discrete(arch, split, epochs=epochs, seed=s) for s in seeds]
    row: dict[str, Any] = {"architecture": label, "depth": arch.depth, "source": source}
    row |= {key: float(np.mean([r[key] for r in runs])) for key in runs[0]}
    return row | {"val_losses": [float(r["val_loss"]) for r in runs]}


#: The relaxation variants: name -> share of the search epochs spent on weights only.
VARIANTS = {"relaxation": 0.0, "relaxation + warm-up": 0.5}


def run(*, quick: bool, seed: int) -> dict[str, Any]:
    """Everything measured, as plain data."""
    from hyperlab.hypergrad.relax import Architecture

    split = split_digits(seed)
    epochs = 2 if quick else 20
    seeds = [seed] if quick else [seed, seed + 1, seed + 2]
    searches: dict[str, Any] = {}
    for name, share in VARIANTS.items():
        start = time.perf_counter()
        arch, hist = search(split, epochs=epochs, seed=seed, warmup_epochs=int(share * epochs))
        keep = np.linspace(0, len(hist.step) - 1, min(200, len(hist.step))).round().astype(int)
        searches[name] = {
            "arch": arch,
            "chosen": str(arch),
            "warmup_epochs": int(share * epochs),
            "seconds": time.perf_counter() - start,
            "trajectory": {
                "step": [hist.step[i] for i in keep],
                "probabilities": {k: [v[i] for i in keep] for k, v in hist.probabilities.items()},
            },
        }
    grid = [Architecture((a,) * d) for a in CANDIDATES for d in range(1, MAX_DEPTH + 1)]
    start = time.perf_counter()
    rows = [_retrain(str(c), "grid", c, split, epochs, seeds) for c in grid]
    grid_seconds = time.perf_counter() - start
    rows += [
        _retrain(v["chosen"], name, v["arch"], split, epochs, seeds) for name, v in searches.items()
    ]
    for v in searches.values():
        del v["arch"]
    return {
        "settings": {
            "candidates": list(CANDIDATES),
            "max_depth": MAX_DEPTH,
            "width": WIDTH,
            "epochs": epochs,
            "seeds": seeds,
            "lr": LR,
            "arch_lr": ARCH_LR,
            "variants": VARIANTS,
            "quick": quick,
        },
        "searches": searches,
        "rows": rows,
        "grid_seconds": grid_seconds,
    }


def _figures(data: dict[str, Any]) -> list[Any]:
    import plotly.graph_objects as go

    cands = data["settings"]["candidates"]
    dashes = ["solid", "dash", "dot"]
    figures = []
    for name, search_data in data["searches"].items():
        traj = search_data["trajectory"]
        act = go.Figure()
        for d in range(data["settings"]["max_depth"]):
            series = traj["probabilities"][f"layer{d + 1}"]
            for k, cand in enumerate(cands):
                act.add_trace(
                    go.Scatter(
                        x=traj["step"],
                        y=[p[k] for p in series],
                        mode="lines",
                        name=f"layer {d + 1}: {cand}",
                        line={"dash": dashes[d % 3]},
                    )
                )
        for d in range(data["settings"]["max_depth"]):
            act.add_trace(
                go.Scatter(
                    x=traj["step"],
                    y=[p[d] for p in traj["probabilities"]["depth"]],
                    mode="lines",
                    name=f"depth gate: {d + 1}",
                    line={"width": 4},
                )
            )
        act.update_layout(
            title=f"{name}: activation mixture and depth gate weights during the search",
            xaxis={"title": "step"},
            yaxis={"title": "softmax weight"},
        )
        figures.append(act)
    rows = sorted(data["rows"], key=lambda r: r["val_loss"])
    bars = go.Figure(
        go.Bar(
            x=[f"{r['architecture']} ({r['source']})" for r in rows],
            y=[r["val_loss"] for r in rows],
            marker_color=["steelblue" if r["source"] == "grid" else "crimson" for r in rows],
        )
    )
    bars.update_layout(
        title="Validation loss after retraining (relaxations' choices in red)",
        yaxis={"title": "validation cross-entropy"},
    )
    figures.append(bars)
    return figures


def _table(data: dict[str, Any]) -> list[dict[str, Any]]:
    rows = sorted(data["rows"], key=lambda r: r["val_loss"])
    return [
        {
            "rank": 1 + sum(other["val_loss"] < r["val_loss"] for other in rows),
            "architecture": r["architecture"],
            "source": r["source"],
            "val loss": round(r["val_loss"], 4),
            "val loss s.e.": seed_se(r["val_losses"]),
            "val acc": round(r["val_acc"], 4),
            "test acc": round(r["test_acc"], 4),
        }
        for i, r in enumerate(rows)
    ]


def _against_best(data: dict[str, Any], source: str) -> str:
    """The pick of the search ``source`` against the grid's best architecture, paired by seed:
    the difference of validation loss, its standard error and whether it is within noise."""
    from hyperlab.lab.stats import paired_comparison

    rows = sorted(data["rows"], key=lambda r: r["val_loss"])
    best = next(r for r in rows if r["source"] == "grid")
    mine = next(r for r in rows if r["source"] == source)
    if mine["architecture"] == best["architecture"]:
        return "it is the grid's best architecture"
    compared = paired_comparison(
        mine["val_losses"], best["val_losses"], mine["architecture"], best["architecture"]
    )
    return f"paired by seed with the grid's best, {compared.sentence}"


def _tied(others: int) -> str:
    """`` (tied with 2 others)``, or nothing for none."""
    return f" (tied with {others} other{'s' if others > 1 else ''})" if others else ""


def _summary(data: dict[str, Any]) -> list[str]:
    s = data["settings"]
    table = _table(data)
    best_grid = next(r for r in table if r["source"] == "grid")
    n_grid = sum(r["source"] == "grid" for r in table)
    out = [
        f"Measured: an MLP (width {s['width']}) on scikit-learn digits (60/20/20 split) chose "
        f"per layer among {', '.join(s['candidates'])} and its depth 1-{s['max_depth']} by a "
        f"softmax relaxation learned on validation batches (first-order DARTS, {s['epochs']} "
        f"epochs), once from the start and once after a weights-only warm-up of half the "
        f"epochs; each argmax architecture and each of the {n_grid} hand-picked ones (one "
        f"activation for all layers x depth) was retrained with Adam for {s['epochs']} epochs, "
        f"mean over {seeds_text(s['seeds'])} (the data split and the searches: "
        f"{seeds_text(s['seeds'][:1])}).",
    ]
    for name, search_data in data["searches"].items():
        row = next(r for r in table if r["source"] == name)
        tied = sum(r["rank"] == row["rank"] for r in table) - 1
        out.append(
            f"{name} ({search_data['seconds']:.0f} s) chose {row['architecture']}: validation "
            f"loss {row['val loss']}, test accuracy {row['test acc']}, rank {row['rank']} of "
            f"{len(table)}{_tied(tied)}; {_against_best(data, name)}."
        )
    out.append(
        f"Best hand-picked architecture: {best_grid['architecture']} (validation loss "
        f"{best_grid['val loss']}, test accuracy {best_grid['test acc']}); the grid took "
        f"{data['grid_seconds']:.0f} s to retrain its {n_grid} architectures x "
        f"{len(s['seeds'])} seed(s)."
    )
    if s["quick"]:
        out.append("Quick version: few epochs and one seed; the numbers are not conclusive.")
    return out


@EXPERIMENTS.add("relax", "activation and depth chosen by a softmax relaxation vs a grid")
def relax(*, out_dir: Path, quick: bool, seed: int) -> ExperimentResult:
    """Run the experiment (``quick``: 2 epochs, 1 seed; full: 20 epochs, 3 seeds)."""
    import torch

    torch.set_num_threads(1)
    data = run(quick=quick, seed=seed)
    return ExperimentResult(
        name="relax",
        title="Discrete choices made continuous: activation and depth by relaxation",
        summary=_summary(data),
        table=_table(data),
        figures=_figures(data),
        data=data,
    )
