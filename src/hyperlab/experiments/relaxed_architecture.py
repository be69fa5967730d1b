"""Experiment ``relax``: choose activations and depth by a relaxation, not a grid.

An MLP on scikit-learn's digits chooses, per hidden layer, among ReLU, tanh, GELU and the
identity, and chooses its depth (1-3) through a softmax gate (DARTS-style, Liu et al. 2019):
the mixture logits are learned on validation batches while the weights learn on training
batches, then the argmax architecture is retrained from scratch. It is compared with a grid over
the hand-picked discrete choices (one activation for all layers x depth 1-3), every network
trained with the same budget and seeds. The grid's best is picked on validation loss, which the
relaxations learn by too, so the picks are compared on the test split, paired by seed.
"""

from __future__ import annotations

import itertools
import time
from pathlib import Path
from typing import Any

import numpy as np

from hyperlab.experiments.base import ExperimentResult, over_seeds, seeds_text
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
    """One table row: ``arch`` retrained from scratch in every seed, every score kept per seed
    (in the order of ``seeds``, to pair rows by seed) beside its seed mean and standard error
    (:func:`~hyperlab.experiments.base.over_seeds`)."""
    runs = [train_discrete(arch, split, epochs=epochs, seed=s) for s in seeds]
    return {"architecture": label, "depth": arch.depth, "source": source} | over_seeds(runs)


#: The relaxation variants: name -> share of the search epochs spent on weights only.
VARIANTS = {"relaxation": 0.0, "relaxation + warm-up": 0.5}

#: Retraining seeds of the full run: the fewest with which the lab's paired test can call a
#: difference (:data:`hyperlab.lab.stats.MIN_TESTABLE_PAIRS`; the full run takes about a minute).
FULL_SEEDS = 6


def run(*, quick: bool, seed: int) -> dict[str, Any]:
    """Everything measured, as plain data: the searches (one each, with ``seed``, on the split
    of ``seed``) and a row per architecture retrained in every seed (:func:`_retrain`)."""
    from hyperlab.hypergrad.relax import Architecture

    split = split_digits(seed)
    epochs = 2 if quick else 20
    seeds = [seed] if quick else list(range(seed, seed + FULL_SEEDS))
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
    figures.append(_loss_bars(data))
    return figures


def _loss_bars(data: dict[str, Any]) -> Any:
    """Validation and test loss of every row after retraining, with their seed standard errors,
    in the order of validation loss (the order the grid picks in)."""
    import plotly.graph_objects as go

    rows = sorted(data["rows"], key=lambda r: r["val_loss"])
    names = [f"{r['architecture']} ({r['source']})" for r in rows]
    colors = ["steelblue" if r["source"] == "grid" else "crimson" for r in rows]
    several = len(data["settings"]["seeds"]) > 1
    bars = go.Figure()
    for key, label, opacity in (
        ("val_loss", "validation loss (the grid picks on it)", 0.45),
        ("test_loss", "test loss (no choice made on it)", 1.0),
    ):
        errors = [r["se"][key] or 0.0 for r in rows]
        bars.add_trace(
            go.Bar(
                x=names,
                y=[r[key] for r in rows],
                name=label,
                marker={"color": colors, "opacity": opacity},
                error_y={"type": "data", "array": errors, "visible": several},
            )
        )
    bars.update_layout(
        title="Loss after retraining (pale: validation, dark: test; relaxations' choices in red)"
        + (", ± the seed standard error" if several else ""),
        barmode="group",
        yaxis={"title": "cross-entropy"},
    )
    return bars


#: The scores of a row: key -> (table column, words on the page).
SCORES = {
    "val_loss": ("val loss", "validation loss"),
    "val_acc": ("val acc", "validation accuracy"),
    "test_loss": ("test loss", "test loss"),
    "test_acc": ("test acc", "test accuracy"),
}

#: The table's rank column: the order the grid picks in.
RANK = "rank (val loss)"


def _table(data: dict[str, Any]) -> list[dict[str, Any]]:
    """A row per architecture and source, by validation loss, every score with its seed
    standard error (``None`` for one seed)."""
    rows = sorted(data["rows"], key=lambda r: r["val_loss"])
    table = []
    for r in rows:
        row = {
            RANK: 1 + sum(other["val_loss"] < r["val_loss"] for other in rows),
            "architecture": r["architecture"],
            "source": r["source"],
        }
        for key, (column, _) in SCORES.items():
            row |= {column: round(r[key], 4), f"{column} s.e.": r["se"][key]}
        table.append(row)
    return table


def _grid_best(data: dict[str, Any]) -> dict[str, Any]:
    """The grid's pick: its row of lowest seed-mean validation loss."""
    return min((r for r in data["rows"] if r["source"] == "grid"), key=lambda r: r["val_loss"])


def _pick(data: dict[str, Any], source: str) -> dict[str, Any]:
    """The row of the architecture that the search ``source`` chose."""
    return next(r for r in data["rows"] if r["source"] == source)


def _score(row: dict[str, Any], key: str) -> str:
    """``test loss 0.0906 ± 0.0031`` (no ``±`` for one seed)."""
    se = row["se"][key]
    return f"{SCORES[key][1]} {row[key]:.4f}" + (f" ± {se:.2g}" if se is not None else "")


def _on_test(row: dict[str, Any]) -> str:
    """``on the test split: test loss 0.0906 ± 0.0031, test accuracy 0.9741 ± 0.0042``."""
    return f"on the test split: {_score(row, 'test_loss')}, {_score(row, 'test_acc')}"


def _paired_on_test(data: dict[str, Any]) -> str:
    """Each relaxation's pick against the grid's best and against each other, paired by seed on
    test loss (a split no choice was made on), in the words of
    :func:`hyperlab.lab.stats.paired_comparison`."""
    if len(data["settings"]["seeds"]) < 2:
        return "one seed cannot tell a difference from noise (the full version runs more)"
    best = _grid_best(data)
    picks = [_pick(data, name) for name in data["searches"]]
    named = [(f"{r['source']} ({r['architecture']})", r) for r in picks]
    pairs = [(pick, (f"the grid's best ({best['architecture']})", best)) for pick in named]
    pairs += list(itertools.combinations(named, 2))
    return "; ".join(_compared(a, b) for a, b in pairs)


def _compared(a: tuple[str, dict[str, Any]], b: tuple[str, dict[str, Any]]) -> str:
    """The test losses of the named rows ``a`` and ``b``, paired by seed (or that they are the
    same architecture)."""
    from hyperlab.lab.stats import paired_comparison

    (name_a, row_a), (name_b, row_b) = a, b
    if row_a["architecture"] == row_b["architecture"]:
        return f"{name_a} and {name_b} are the same architecture, retrained in the same seeds"
    losses = row_a["per_seed"]["test_loss"], row_b["per_seed"]["test_loss"]
    return paired_comparison(*losses, name_a, name_b).sentence


def _tied(others: int) -> str:
    """`` (tied with 2 others)``, or nothing for none."""
    return f" (tied with {others} other{'s' if others > 1 else ''})" if others else ""


def _summary(data: dict[str, Any]) -> list[str]:
    s = data["settings"]
    table = _table(data)
    best = _grid_best(data)
    n_grid = sum(r["source"] == "grid" for r in data["rows"])
    out = [
        f"Measured: an MLP (width {s['width']}) on scikit-learn digits (60/20/20 split) chose "
        f"per layer among {', '.join(s['candidates'])} and its depth 1-{s['max_depth']} by a "
        f"softmax relaxation learned on validation batches (first-order DARTS, {s['epochs']} "
        f"epochs), once from the start and once after a weights-only warm-up of half the "
        f"epochs; each argmax architecture and each of the {n_grid} hand-picked ones (one "
        f"activation for all layers x depth) was retrained with Adam for {s['epochs']} epochs, "
        f"mean over {seeds_text(s['seeds'])} (the data split and the searches: "
        f"{seeds_text(s['seeds'][:1])})."
        + (
            " ± is the standard error over the retraining seeds (the weights and the batch "
            "order), on one split and one search per relaxation: it leaves out the noise of the "
            "split and of the search."
            if len(s["seeds"]) > 1
            else ""
        ),
        f"Validation loss is no fair ground for the comparison: the grid's best architecture "
        f"({best['architecture']}) is the one of {n_grid} with the lowest seed-mean validation "
        f"loss, picked and shown on the same loss, and the relaxations learn their choice on "
        f"validation batches. The table ranks every architecture by it (the order the grid "
        f"picks in) for reference; the picks are compared on the test split, used for no choice.",
    ]
    for name, search_data in data["searches"].items():
        row = next(r for r in table if r["source"] == name)
        tied = sum(r[RANK] == row[RANK] for r in table) - 1
        out.append(
            f"{name} ({search_data['seconds']:.0f} s) chose {row['architecture']}: "
            f"{_score(_pick(data, name), 'val_loss')}, rank {row[RANK]} of {len(table)} on it"
            f"{_tied(tied)}; {_on_test(_pick(data, name))}."
        )
    out += [
        f"The grid's best, picked on validation loss: {best['architecture']} "
        f"({_score(best, 'val_loss')}); {_on_test(best)}. The grid took "
        f"{data['grid_seconds']:.0f} s to retrain its {n_grid} architectures x "
        f"{len(s['seeds'])} seed(s).",
        f"Paired by seed on test loss: {_paired_on_test(data)}.",
    ]
    if s["quick"]:
        out.append("Quick version: few epochs and one seed; the numbers are not conclusive.")
    return out


@EXPERIMENTS.add("relax", "activation and depth chosen by a softmax relaxation vs a grid")
def relax(*, out_dir: Path, quick: bool, seed: int) -> ExperimentResult:
    """Run the experiment (``quick``: 2 epochs, 1 seed; full: 20 epochs, :data:`FULL_SEEDS`)."""
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
