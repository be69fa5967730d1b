"""Experiment ``stn``: a self-tuning network learns its dropout and weight-decay schedule.

A self-tuning network (MacKay et al. 2019) - an MLP whose weights respond linearly to its
hyperparameters - trains on scikit-learn's digits while its dropout rate and weight decay follow
the validation gradient through that response. It is compared with a grid over fixed
(dropout, weight decay) pairs for an ordinary MLP of the same shape, every network trained with
Adam for the same number of epochs and seeds, and with the ordinary MLP retrained at the STN's
final values (does the schedule matter, or only where it ends?). The grid's best pair is picked
on validation loss, which the STN steers by too, so the three are compared on the test split,
paired by seed.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np

from hyperlab.experiments.base import ExperimentResult, over_seeds, seeds_text
from hyperlab.experiments.digits import batches, scores, split_digits
from hyperlab.registry import EXPERIMENTS

WIDTH = 64
DEPTH = 2
LR = 3e-3
HYPER_LR = 0.03
DROPOUT0 = 0.1
WEIGHT_DECAY0 = 1e-4


def train_fixed(
    dropout: float, weight_decay: float, split: dict[str, Any], *, epochs: int, seed: int
) -> dict[str, float]:
    """An ordinary MLP (same shape) with fixed dropout and L2 penalty, trained with Adam."""
    import torch
    import torch.nn.functional as F
    from torch import nn

    torch.manual_seed(seed)
    layers: list[nn.Module] = []
    d_in = 64
    for _ in range(DEPTH):
        layers += [nn.Linear(d_in, WIDTH), nn.ReLU(), nn.Dropout(dropout)]
        d_in = WIDTH
    model = nn.Sequential(*layers, nn.Linear(d_in, 10))
    weights = [m.weight for m in model if isinstance(m, nn.Linear)]
    opt = torch.optim.Adam(model.parameters(), lr=LR)
    for epoch in range(epochs):
        model.train()
        for x, y in batches(split["train"], seed * 1000 + epoch):
            opt.zero_grad()
            pen = 0.5 * weight_decay * sum(w.pow(2).sum() for w in weights)
            (F.cross_entropy(model(x), y) + pen).backward()
            opt.step()
    return scores(model, split)


def train_stn(split: dict[str, Any], *, epochs: int, seed: int) -> dict[str, Any]:
    """The self-tuning network; its scores and the learned schedule."""
    import torch

    from hyperlab.hypergrad.stn import SelfTuningMLP, STNTrainer

    torch.manual_seed(seed)
    model = SelfTuningMLP(64, 10, WIDTH, DEPTH, dropout=DROPOUT0, weight_decay=WEIGHT_DECAY0)
    trainer = STNTrainer(model, lr=LR, hyper_lr=HYPER_LR)
    val = batches(split["val"], seed + 777)
    start = time.perf_counter()
    for epoch in range(epochs):
        trainer.fit(batches(split["train"], seed * 1000 + epoch), val)
    seconds = time.perf_counter() - start
    h = trainer.history
    keep = np.linspace(0, len(h.step) - 1, min(200, len(h.step))).round().astype(int)
    return {
        "seed": seed,
        "final": model.values(),
        "scores": scores(model, split),
        "schedule": {
            "step": [h.step[i] for i in keep],
            "dropout": [h.values["dropout"][i] for i in keep],
            "weight_decay": [h.values["weight_decay"][i] for i in keep],
        },
        "seconds": seconds,
    }


#: Seeds of the full run: the fewest with which the lab's paired test can call a difference
#: (:data:`hyperlab.lab.stats.MIN_TESTABLE_PAIRS`; the full run takes about a minute).
FULL_SEEDS = 6


def run(*, quick: bool, seed: int) -> dict[str, Any]:
    """Everything measured, as plain data.

    Every score is kept per seed (``per_seed``, in the order of the seeds) beside its seed mean
    and standard error (:func:`~hyperlab.experiments.base.over_seeds`), so that the page can
    pair methods by seed.
    """
    split = split_digits(seed)
    epochs = 4 if quick else 30
    seeds = [seed] if quick else list(range(seed, seed + FULL_SEEDS))
    dropouts = [0.1, 0.4] if quick else [0.0, 0.1, 0.3, 0.5]
    decays = [1e-4, 1e-2] if quick else [1e-5, 1e-4, 1e-3, 1e-2]
    stn = [train_stn(split, epochs=epochs, seed=s) for s in seeds]
    start = time.perf_counter()
    grid = []
    for p in dropouts:
        for lam in decays:
            runs = [train_fixed(p, lam, split, epochs=epochs, seed=s) for s in seeds]
            grid.append({"dropout": p, "weight_decay": lam} | over_seeds(runs))
    grid_seconds = time.perf_counter() - start
    refit = [
        train_fixed(
            r["final"]["dropout"], r["final"]["weight_decay"], split, epochs=epochs, seed=r["seed"]
        )
        for r in stn
    ]
    return {
        "settings": {
            "width": WIDTH,
            "depth": DEPTH,
            "epochs": epochs,
            "seeds": seeds,
            "lr": LR,
            "hyper_lr": HYPER_LR,
            "dropout0": DROPOUT0,
            "weight_decay0": WEIGHT_DECAY0,
            "grid_dropout": dropouts,
            "grid_weight_decay": decays,
            "quick": quick,
        },
        "stn": stn,
        "stn_scores": over_seeds([r["scores"] for r in stn]),
        "refit_scores": over_seeds(refit),
        "grid": grid,
        "grid_best": min(grid, key=lambda r: r["val_loss"]),  # picked on validation loss
        "grid_seconds": grid_seconds,
    }


def _finals(data: dict[str, Any], key: str, fmt: str) -> str:
    """The STN's final value of ``key`` in each seed, e.g. ``0.041, 0.052 (seeds 0, 1)``."""
    values = ", ".join(format(r["final"][key], fmt) for r in data["stn"])
    seeds = ", ".join(str(r["seed"]) for r in data["stn"])
    return f"{values} (seed{'s' if len(data['stn']) > 1 else ''} {seeds})"


def _table(data: dict[str, Any]) -> list[dict[str, Any]]:
    best = data["grid_best"]
    dropout, decay = _finals(data, "dropout", ".3f"), _finals(data, "weight_decay", ".2g")

    def row(name: str, p: Any, lam: Any, s: dict[str, Any]) -> dict[str, Any]:
        out = {"method": name, "dropout": p, "weight decay": lam}
        for key, label in (("val_loss", "val loss"), ("test_loss", "test loss")):
            out |= {label: round(s[key], 4), f"{label} s.e.": s["se"][key]}
        return out | {"test acc": round(s["test_acc"], 4), "test acc s.e.": s["se"]["test_acc"]}

    return [
        row("self-tuning network (schedule; final values)", dropout, decay, data["stn_scores"]),
        row("plain MLP at the STN's final values", dropout, decay, data["refit_scores"]),
        row(
            f"best of grid ({len(data['grid'])} fixed pairs; picked on val loss)",
            best["dropout"],
            best["weight_decay"],
            best,
        ),
    ]


def _figures(data: dict[str, Any]) -> list[Any]:
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    fig = make_subplots(rows=1, cols=2, subplot_titles=("dropout rate", "weight decay"))
    best = data["grid_best"]
    for r in data["stn"]:
        sch = r["schedule"]
        fig.add_trace(
            go.Scatter(
                x=sch["step"], y=sch["dropout"], mode="lines", name=f"dropout, seed {r['seed']}"
            ),
            row=1,
            col=1,
        )
        fig.add_trace(
            go.Scatter(
                x=sch["step"],
                y=sch["weight_decay"],
                mode="lines",
                name=f"weight decay, seed {r['seed']}",
            ),
            row=1,
            col=2,
        )
    fig.add_hline(y=best["dropout"], line_dash="dash", line_color="gray", row=1, col=1)
    fig.add_hline(y=best["weight_decay"], line_dash="dash", line_color="gray", row=1, col=2)
    fig.update_yaxes(type="log", row=1, col=2)
    fig.update_xaxes(title_text="training step")
    fig.update_layout(
        title="Hyperparameter schedule learned by the self-tuning network (dashed: best fixed grid value)"
    )
    heat = go.Figure(
        go.Heatmap(
            x=[str(v) for v in data["settings"]["grid_weight_decay"]],
            y=[str(v) for v in data["settings"]["grid_dropout"]],
            z=[
                [
                    next(
                        g["val_loss"]
                        for g in data["grid"]
                        if g["dropout"] == p and g["weight_decay"] == lam
                    )
                    for lam in data["settings"]["grid_weight_decay"]
                ]
                for p in data["settings"]["grid_dropout"]
            ],
            colorbar={"title": "val loss"},
        )
    )
    heat.update_layout(
        title="Grid of fixed values: validation loss",
        xaxis={"title": "weight decay"},
        yaxis={"title": "dropout"},
    )
    return [fig, heat]


def _path(values: list[float]) -> str:
    """``first -> min/max -> max/min -> final``, the extremes in the order they were reached."""
    extremes = sorted([(values.index(min(values)), "min"), (values.index(max(values)), "max")])
    middle = "".join(f" -> {label} {values[i]:.3f}" for i, label in extremes)
    return f"{values[0]:.3f}{middle} -> final {values[-1]:.3f}"


def _scores_text(s: dict[str, Any]) -> str:
    """``test loss 0.0771 ± 0.0021, test accuracy 0.9806 ± 0.0011`` (no ``±`` for one seed)."""

    def one(key: str, label: str) -> str:
        se = s["se"][key]
        return f"{label} {s[key]:.4f}" + (f" ± {se:.2g}" if se is not None else "")

    return f"{one('test_loss', 'test loss')}, {one('test_acc', 'test accuracy')}"


def _paired_on_test(data: dict[str, Any]) -> str:
    """The three methods paired by seed on test loss (a split no choice was made on), in the
    words of :func:`hyperlab.lab.stats.paired_comparison`."""
    from hyperlab.lab.stats import paired_comparison

    if len(data["settings"]["seeds"]) < 2:
        return "one seed cannot tell a difference from noise (the full version runs more)"
    losses = {
        "self-tuning network": data["stn_scores"]["per_seed"]["test_loss"],
        "plain MLP at its final values": data["refit_scores"]["per_seed"]["test_loss"],
        "best fixed pair": data["grid_best"]["per_seed"]["test_loss"],
    }
    pairs = [
        ("self-tuning network", "best fixed pair"),
        ("plain MLP at its final values", "best fixed pair"),
        ("self-tuning network", "plain MLP at its final values"),
    ]
    return "; ".join(paired_comparison(losses[a], losses[b], a, b).sentence for a, b in pairs)


def _summary(data: dict[str, Any]) -> list[str]:
    s = data["settings"]
    best = data["grid_best"]
    stn, refit = data["stn_scores"], data["refit_scores"]
    sch = data["stn"][0]["schedule"]
    n_grid = len(data["grid"])
    out = [
        f"Measured: a self-tuning MLP ({s['depth']} x {s['width']}, ReLU, dropout) on scikit-learn "
        f"digits (60/20/20 split), Adam for {s['epochs']} epochs, dropout and weight decay "
        f"starting at {s['dropout0']} and {s['weight_decay0']:g} and following the validation "
        f"gradient through the best-response layers (2 perturbed weight steps per "
        f"hyperparameter step), mean over {seeds_text(s['seeds'])} (the data split: "
        f"{seeds_text(s['seeds'][:1])}); against an ordinary MLP "
        f"of the same shape on a {len(s['grid_dropout'])} x {len(s['grid_weight_decay'])} grid of "
        f"fixed values trained the same way."
        + (
            " ± is the standard error over the seeds of the weights and the batch order, on "
            "one split: it leaves out the noise of the split."
            if len(s["seeds"]) > 1
            else ""
        ),
        f"Schedule (seed {data['stn'][0]['seed']}): dropout went {_path(sch['dropout'])}; "
        f"weight decay {sch['weight_decay'][0]:.2g} -> final {sch['weight_decay'][-1]:.2g}.",
        f"Validation loss is no fair ground for this comparison: the grid's best pair (dropout "
        f"{best['dropout']}, weight decay {best['weight_decay']:g}) is the one of {n_grid} with "
        f"the lowest seed-mean validation loss, picked and shown on the same loss "
        f"({best['val_loss']:.4f}), and the self-tuning network steers its hyperparameters by "
        f"validation batches ({stn['val_loss']:.4f}). The table shows it for reference; the "
        f"comparison is on the test split, used for no choice.",
        f"On the test split: self-tuning network {_scores_text(stn)}; best fixed pair "
        f"{_scores_text(best)}; plain MLP at the STN's final values {_scores_text(refit)}.",
        f"Paired by seed on test loss: {_paired_on_test(data)}.",
        f"Cost: one STN run {np.mean([r['seconds'] for r in data['stn']]):.1f} s; the grid "
        f"{data['grid_seconds']:.0f} s for {n_grid} pairs x {len(s['seeds'])} seed(s).",
    ]
    if s["quick"]:
        out.append("Quick version: few epochs, a 2 x 2 grid and one seed; not conclusive.")
    return out


@EXPERIMENTS.add("stn", "self-tuning network's dropout/weight-decay schedule vs a grid")
def stn(*, out_dir: Path, quick: bool, seed: int) -> ExperimentResult:
    """Run the experiment (``quick``: 4 epochs, 2 x 2 grid, 1 seed; full: 30, 4 x 4,
    :data:`FULL_SEEDS`)."""
    import torch

    torch.set_num_threads(1)
    data = run(quick=quick, seed=seed)
    return ExperimentResult(
        name="stn",
        title="A self-tuning network schedules its own dropout and weight decay",
        summary=_summary(data),
        table=_table(data),
        figures=_figures(data),
        data=data,
    )
