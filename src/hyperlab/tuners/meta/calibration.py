"""How well the network's uncertainty is calibrated on problems it was not trained on.

For each problem, random context sets of a few sizes are drawn, and for configurations outside
the context the network's central 68% and 95% intervals are checked against the true scores.
A calibrated network holds the true score in about 68% and 95% of them.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from hyperlab.errors import InputError
from hyperlab.tuners.meta.model import PFN
from hyperlab.tuners.meta.predict import predict

#: Context sizes at which coverage is measured.
CONTEXTS = (5, 10, 20, 50)


def coverage(
    model: PFN,
    problems: list[tuple[np.ndarray, np.ndarray]],
    rng: np.random.Generator,
    repeats: int = 4,
    queries: int = 50,
) -> dict[str, Any]:
    """Share of held-out scores inside the central 68% and 95% intervals.

    Args:
        model: The trained network.
        problems: ``(x, y)`` per problem (encoded configurations, scores to minimize).
        rng: The random stream of the context draws.
        repeats: Context draws per problem and size.
        queries: Held-out configurations per draw.

    Returns:
        ``{"68": share, "95": share, "by_context": {size: {"68": .., "95": ..}},
        "problems": count}``.
    """
    hits: dict[int, list[np.ndarray]] = {n: [] for n in CONTEXTS}
    for x, y in problems:
        for n in CONTEXTS:
            if len(y) < n + queries:
                continue
            for _ in range(repeats):
                rows = rng.permutation(len(y))[: n + queries]
                ctx, qry = rows[:n], rows[n:]
                pred = predict(model, x[ctx], y[ctx], x[qry])
                z = pred.scale(y[qry])
                inside = []
                for lo_q, hi_q in ((0.16, 0.84), (0.025, 0.975)):
                    lo = model.bars.quantile(pred.probs, lo_q).numpy()
                    hi = model.bars.quantile(pred.probs, hi_q).numpy()
                    inside.append((z >= lo) & (z <= hi))
                hits[n].append(np.stack(inside))
    if not any(hits.values()):
        raise InputError(
            f"no problem has the {min(CONTEXTS) + queries} configurations the smallest "
            f"context ({min(CONTEXTS)}) and {queries} queries need"
        )
    by_context = {
        str(n): {
            "68": float(np.concatenate(h, axis=1)[0].mean()),
            "95": float(np.concatenate(h, axis=1)[1].mean()),
        }
        for n, h in hits.items()
        if h
    }
    every = np.concatenate([np.concatenate(h, axis=1) for h in hits.values() if h], axis=1)
    return {
        "68": float(every[0].mean()),
        "95": float(every[1].mean()),
        "by_context": by_context,
        "problems": len(problems),
    }
