"""Built-in experiments (``hyperlab experiment NAME``).

An experiment factory has the signature ``factory(*, out_dir: Path, quick: bool, seed: int)
-> ExperimentResult``; importing ``hyperlab.experiments`` registers the built-in ones in
:data:`hyperlab.registry.EXPERIMENTS`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np


def seed_se(values: Sequence[float]) -> float | None:
    """Standard error of the mean over seeds, to 2 significant digits (``None`` for one seed:
    one value says nothing of its spread)."""
    if len(values) < 2:
        return None
    return float(f"{np.std(values, ddof=1) / np.sqrt(len(values)):.2g}")


def over_seeds(runs: Sequence[dict[str, float]]) -> dict[str, Any]:
    """Scores of one method in every seed: the seed means (``val_loss``, ...), their standard
    errors (``se``; ``None`` for one seed) and the values (``per_seed``, in the order of
    ``runs``), so that a page can pair methods by seed."""
    per_seed = {k: [float(r[k]) for r in runs] for k in runs[0]}
    means = {k: float(np.mean(v)) for k, v in per_seed.items()}
    return means | {"se": {k: seed_se(v) for k, v in per_seed.items()}, "per_seed": per_seed}


def seeds_text(seeds: Sequence[int]) -> str:
    """The seeds as a page states them: ``seed 0`` or ``seeds 0, 1, 2``."""
    return f"seed{'s' if len(seeds) > 1 else ''} {', '.join(str(s) for s in seeds)}"


@dataclass
class ExperimentResult:
    """What an experiment hands to the report.

    Attributes:
        name: Experiment name.
        title: One-line title of its report section.
        summary: Plain-language findings (one paragraph per item).
        table: Rows of plain data (list of dicts) shown as a table.
        figures: Plotly figures (``plotly.graph_objects.Figure``) in display order.
        data: Everything measured, JSON-serializable (written to ``<name>.json``).
    """

    name: str
    title: str
    summary: list[str] = field(default_factory=list)
    table: list[dict[str, Any]] = field(default_factory=list)
    figures: list[Any] = field(default_factory=list)
    data: dict[str, Any] = field(default_factory=dict)
