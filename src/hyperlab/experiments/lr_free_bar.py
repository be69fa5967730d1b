"""hyperlab's self-tuning optimizers held to the bar of the learning-rate-free optimizers.

On every problem of :mod:`hyperlab.experiments.problems` and every seed, each
learning-rate-free optimizer (:mod:`hyperlab.experiments.lr_free`) trains at its defaults, plain
Adam (rate 1e-3) and SGD (1e-2) train as references, and each of hyperlab's self-tuning
optimizers trains from every one of its starting rates (:data:`SELF_TUNING`). A self-tuning
optimizer is judged from its *worst* starting rate: a user who does not know the right rate
gets at least that. The bar on a problem is the best learning-rate-free optimizer's final
validation loss (mean over seeds); the target (:data:`TARGET`) is hyperlab's best self-tuning
optimizer, from its worst start, within 2% of it. The ``self-lr`` page words each verdict as
the seeds can tell it from noise (:func:`against_target`); ``benchmarks/lr_free.py`` counts
met or missed by the seed means and prints the paired intervals beside them. The cost of a step
is the median time per step over a method's runs divided by its base optimizer's
(:data:`BASE`) on the same problem.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from hyperlab.experiments.base import seeds_text
from hyperlab.experiments.lr_free import LR_FREE, lr_free_optimizer
from hyperlab.experiments.problems import Factory, load_problem, train
from hyperlab.experiments.self_lr import METHODS
from hyperlab.lab.stats import MIN_TESTABLE_PAIRS

#: Self-tuning optimizer -> its starting rates: the decades its base optimizer is used with.
SELF_TUNING: dict[str, tuple[float, ...]] = {
    "Adam-HD": (1e-4, 1e-3, 1e-2),
    "Adam-HD-target": (1e-4, 1e-3, 1e-2),
    "SGD-HD": (1e-4, 1e-3, 1e-2, 1e-1),
    "stack-h1": (1e-4, 1e-3, 1e-2, 1e-1),
    "stack-h3": (1e-4, 1e-3, 1e-2, 1e-1),
}
#: Plain optimizers at one usual rate: references, and the unit of the cost column.
REFERENCES: dict[str, float] = {"Adam": 1e-3, "SGD": 1e-2}
#: Method -> the plain optimizer whose time per step is its cost unit.
BASE: dict[str, str] = {
    "Adam": "Adam",
    "SGD": "SGD",
    "Adam-HD": "Adam",
    "Adam-HD-target": "Adam",
    "SGD-HD": "SGD",
    "stack-h1": "SGD",
    "stack-h3": "SGD",
    "D-Adapt Adam": "Adam",
    "Prodigy": "Adam",
    "DoG": "SGD",
    "Schedule-Free AdamW": "Adam",
}
#: Target: best self-tuning loss from its worst start <= TARGET × the best learning-rate-free.
TARGET = 1.02


def plan(
    lr_free: Sequence[str], quick: bool = False
) -> list[tuple[str, str, Factory, float | None]]:
    """The runs of one problem and seed: ``(family, method, factory, starting rate)``.

    ``quick`` keeps each self-tuning optimizer's lowest and highest starting rate. The
    learning-rate-free optimizers' packages are imported here, so a missing one is refused
    (:class:`hyperlab.errors.InputError`) before anything trains.
    """
    runs: list[tuple[str, str, Factory, float | None]] = [
        ("reference", name, METHODS[name], lr) for name, lr in REFERENCES.items()
    ]
    runs += [("lr-free", name, lr_free_optimizer(name), None) for name in lr_free]
    for name, rates in SELF_TUNING.items():
        chosen = (rates[0], rates[-1]) if quick else rates
        runs += [("self-tuning", name, METHODS[name], lr) for lr in chosen]
    return runs


def run_bar(
    problems: Sequence[str],
    seeds: Sequence[int],
    lr_free: Sequence[str] = tuple(LR_FREE),
    *,
    quick: bool = False,
    epochs: int | None = None,
    progress: Callable[[str], None] | None = None,
) -> list[dict[str, Any]]:
    """Every run of :func:`plan` on every problem and seed, as flat records.

    Args:
        problems: Names from :data:`hyperlab.experiments.problems.PROBLEMS`.
        seeds: Seeds of the weights and the batch order (the data split is fixed).
        lr_free: The learning-rate-free optimizers to include (names of :data:`LR_FREE`).
        quick: Two starting rates per self-tuning optimizer (see :func:`plan`).
        epochs: Epochs of every run (default: each problem's own).
        progress: Called with a short line after each problem and seed.

    Returns:
        One record per run: ``problem``, ``family``, ``method``, ``lr0`` (``None`` for a
        learning-rate-free optimizer), ``seed`` and :func:`~hyperlab.experiments.problems.train`'s
        output without the rate trace.
    """
    runs = plan(lr_free, quick)
    loaded = [load_problem(name) for name in problems]
    records = []
    for problem in loaded:
        for seed in seeds:
            for family, method, factory, lr in runs:
                out = train(problem, factory, 1.0 if lr is None else lr, seed, epochs=epochs)
                out.pop("lr_trace")
                head = {"problem": problem.name, "family": family, "method": method}
                records.append(head | {"lr0": lr, "seed": seed} | out)
            if progress is not None:
                progress(f"{problem.name} seed {seed}")
    return records


def step_costs(
    problems: Sequence[str],
    lr_free: Sequence[str] = tuple(LR_FREE),
    *,
    steps: int = 50,
    repeats: int = 5,
) -> dict[str, dict[str, float]]:
    """Median milliseconds per training step of every method of :func:`plan` on every problem.

    One model and optimizer per method (seed 0; a self-tuning optimizer from 1e-3) advances
    ``steps`` steps on random batches per repeat; the methods take turns in a rotated order, so
    a change of load on the machine hits all of them alike.

    Returns:
        ``{problem: {method: milliseconds per step}}``.
    """
    factories = {m: (f, REFERENCES.get(m, 1e-3)) for _, m, f, _ in plan(lr_free, quick=True)}
    costs = {}
    for name in problems:
        problem = load_problem(name)
        steppers = {m: _Stepper(problem, f, lr) for m, (f, lr) in factories.items()}
        times: dict[str, list[float]] = {m: [] for m in steppers}
        names = list(steppers)
        for s in steppers.values():
            s.run(5)  # warm-up
        for rep in range(repeats):
            for m in names[rep % len(names) :] + names[: rep % len(names)]:
                times[m].append(steppers[m].run(steps))
        costs[name] = {m: 1e3 * float(np.median(t)) for m, t in times.items()}
    return costs


class _Stepper:
    """One model and optimizer on one problem, advanced a given number of steps at a time."""

    def __init__(self, problem: Any, factory: Factory, lr: float) -> None:
        import torch

        from hyperlab.experiments.problems import set_mode

        self.problem = problem
        self.model = problem.model(0)
        self.opt = factory(self.model.parameters(), lr)
        self.gen = torch.Generator().manual_seed(0)
        set_mode(self.model, self.opt, True)

    def run(self, steps: int) -> float:
        """Seconds per step over ``steps`` steps on random batches."""
        import time

        import torch

        p = self.problem
        n = len(p.y_train)
        batches = [torch.randint(0, n, (p.batch_size,), generator=self.gen) for _ in range(steps)]
        start = time.perf_counter()
        for idx in batches:
            loss = p.loss_of(self.model(p.x_train[idx]), p.y_train[idx])
            self.opt.zero_grad(set_to_none=True)
            loss.backward()
            self.opt.step()
        return (time.perf_counter() - start) / steps


def _mean(values: Sequence[float]) -> float:
    return float(np.mean(values)) if all(math.isfinite(v) for v in values) else math.inf


def _se(values: Sequence[float]) -> float:
    """Standard error of the mean (``nan`` for one value or a non-finite one)."""
    if len(values) < 2 or not all(math.isfinite(v) for v in values):
        return math.nan
    return float(np.std(values, ddof=1) / math.sqrt(len(values)))


def _ratio(value: float, bar: float) -> float:
    """``value / bar``: ``nan`` without a bar (no learning-rate-free optimizer ran), ``inf`` for
    a diverged ``value``, ``0`` for a finite one against a diverged bar, and a zero bar read as
    unbeatable (``inf`` unless equal)."""
    if math.isnan(bar):
        return math.nan
    if not math.isfinite(value):
        return math.inf
    if not math.isfinite(bar):
        return 0.0
    if bar <= 0:
        return 1.0 if value == bar else math.inf
    return value / bar


def _by_start(records: list[dict[str, Any]]) -> dict[float | None, float]:
    """Seed-mean final validation loss per starting rate."""
    starts: dict[float | None, list[float]] = {}
    for r in records:
        starts.setdefault(r["lr0"], []).append(r["val_loss"])
    return {lr: _mean(v) for lr, v in starts.items()}


def summarize_bar(
    records: list[dict[str, Any]], costs: dict[str, dict[str, float]] | None = None
) -> list[dict[str, Any]]:
    """One row per (problem, method): seed-mean final validation loss at the best and the worst
    start (equal for a method without one), its ratio to the best learning-rate-free optimizer,
    and the cost per step relative to its base optimizer.

    Args:
        records: :func:`run_bar`'s output.
        costs: :func:`step_costs`'s output; without it, the cost is the median time per step
            of the method's training runs (a rougher measure: the runs are not interleaved).
    """
    rows = []
    for problem in dict.fromkeys(r["problem"] for r in records):
        mine = [r for r in records if r["problem"] == problem]
        methods = dict.fromkeys(r["method"] for r in mine)
        ms = (costs or {}).get(problem) or {
            m: float(np.median([r["ms_per_step"] for r in mine if r["method"] == m]))
            for m in methods
        }
        free = [
            _by_start([r for r in mine if r["method"] == m])[None] for m in methods if m in LR_FREE
        ]
        bar = min(free) if free else math.nan
        for method in methods:
            runs = [r for r in mine if r["method"] == method]
            starts = _by_start(runs)
            worst = max(starts, key=lambda lr: starts[lr])  # type: ignore[arg-type]
            best = min(starts, key=lambda lr: starts[lr])  # type: ignore[arg-type]
            base = BASE.get(method)
            rows.append(
                {
                    "problem": problem,
                    "family": runs[0]["family"],
                    "method": method,
                    "best start": best,
                    "val loss @best": starts[best],
                    "worst start": worst,
                    "val loss @worst": starts[worst],
                    "se @worst": _se([r["val_loss"] for r in runs if r["lr0"] == worst]),
                    "worst / best LR-free": _ratio(starts[worst], bar),
                    "cost per step": ms[method] / ms[base] if base in ms else math.nan,
                    "runs with a non-finite loss": sum(r["diverged"] for r in runs),
                }
            )
    return rows


def verdicts(rows: list[dict[str, Any]], target: float = TARGET) -> list[dict[str, Any]]:
    """Per problem: the best learning-rate-free optimizer, hyperlab's best self-tuning optimizer
    from its worst start, their ratio and whether it is within ``target``."""
    out = []
    for problem in dict.fromkeys(r["problem"] for r in rows):
        free = [r for r in rows if r["problem"] == problem and r["family"] == "lr-free"]
        ours = [r for r in rows if r["problem"] == problem and r["family"] == "self-tuning"]
        if not free or not ours:
            continue
        bar = min(free, key=lambda r: r["val loss @best"])
        best = min(ours, key=lambda r: r["val loss @worst"])
        ratio = _ratio(best["val loss @worst"], bar["val loss @best"])
        out.append(
            {
                "problem": problem,
                "best LR-free": bar["method"],
                "its val loss": bar["val loss @best"],
                "best self-tuning (worst start)": best["method"],
                "its val loss @worst": best["val loss @worst"],
                "ratio": ratio,
                "met": bool(ratio <= target),
                "ahead of every LR-free": bool(ratio < 1.0),
            }
        )
    return out


def paired_to_bar(
    records: list[dict[str, Any]], rows: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """Per problem, the two methods of its verdict paired by seed: hyperlab's best self-tuning
    optimizer from its worst start minus the bar, with its 95% bootstrap interval, the
    Wilcoxon p-value and the seeds where ours is lower (how far the ratio is from noise)."""
    from hyperlab.lab.stats import paired_comparison, paired_interval

    worst = {(r["problem"], r["method"]): r["worst start"] for r in rows}
    out = []
    for v in verdicts(rows):
        problem, bar, ours = v["problem"], v["best LR-free"], v["best self-tuning (worst start)"]
        mine = _losses(records, problem, ours, worst[problem, ours])
        theirs = _losses(records, problem, bar, None)
        seeds = sorted(set(mine) & set(theirs))
        a, b = [mine[s] for s in seeds], [theirs[s] for s in seeds]
        diff = paired_interval(a, b)
        p = paired_comparison(a, b).p_value if seeds else math.nan
        out.append({"problem": problem, "ours": ours, "bar": bar, "p": p, **diff.to_dict()})
    return out


def _losses(records: list[dict[str, Any]], problem: str, method: str, lr0: Any) -> dict[int, float]:
    """Each seed's final validation loss of ``method`` from ``lr0`` on ``problem``."""
    return {
        r["seed"]: r["val_loss"]
        for r in records
        if (r["problem"], r["method"], r["lr0"]) == (problem, method, lr0)
    }


def paired_text(row: dict[str, Any]) -> str:
    """``ours − bar +0.0036 [−0.0045, +0.0117] (Wilcoxon p 0.23), lower on 4 of 15 seeds``."""
    from hyperlab.lab.stats import Interval

    fields = {k: row[k] for k in ("mean", "low", "high", "level", "n", "above", "below")}
    p = f" (Wilcoxon p {row['p']:.2g})" if math.isfinite(row["p"]) else ""
    return (
        f"{row['ours']} − {row['bar']} {Interval(**fields).text()}{p}, lower on "
        f"{row['below']} of {row['n']} seed{'s' if row['n'] != 1 else ''}"
    )


def against_target(
    records: list[dict[str, Any]], rows: list[dict[str, Any]], target: float = TARGET
) -> list[dict[str, Any]]:
    """Per problem, its verdict in words that follow the noise over the seeds.

    The verdict's two methods are paired by seed as ours from its worst start minus ``target``
    × the bar (the target met on the seed means is exactly a negative mean) and read by
    :func:`hyperlab.lab.stats.paired_comparison`: ``met`` only where the ratio of the seed
    means meets the target and that comparison calls ours better (beyond twice its standard
    error, Wilcoxon p < 0.05); ``missed`` only where the ratio misses and it calls ours worse;
    otherwise ``met by the mean, within noise`` or ``missed by the mean, within noise`` (one
    seed: no noise to judge by; a diverged run: the means decide).

    Returns:
        One row per problem of :func:`verdicts`: ``problem``, ``words``, ``text`` (the
        difference, its standard error and p) and the comparison's ``diff``, ``se``, ``p``,
        ``n`` and ``verdict``.
    """
    from hyperlab.lab.stats import paired_comparison

    worst = {(r["problem"], r["method"]): r["worst start"] for r in rows}
    out = []
    for v in verdicts(rows, target):
        problem, bar, ours = v["problem"], v["best LR-free"], v["best self-tuning (worst start)"]
        mine = _losses(records, problem, ours, worst[problem, ours])
        theirs = _losses(records, problem, bar, None)
        seeds = sorted(set(mine) & set(theirs))
        a, b = [mine[s] for s in seeds], [target * theirs[s] for s in seeds]
        test = paired_comparison(a, b, ours, f"{target:g} × {bar}")
        diverged = not all(math.isfinite(x) for x in a + b)
        out.append(
            {
                "problem": problem,
                "words": _words(v["met"], test.verdict, test.n, diverged),
                "text": _target_text(f"{ours} − {target:g} × {bar}", test),
                "diff": test.diff,
                "se": test.se,
                "p": test.p_value,
                "n": test.n,
                "verdict": test.verdict,
            }
        )
    return out


def _target_text(name: str, test: Any) -> str:
    """``ours − 1.02 × bar +0.0007 ± 0.002 (Wilcoxon p 0.75)``; the difference alone where there
    is no standard error or p (one seed, all differences equal)."""
    se = "" if math.isnan(test.se) else f" ± {test.se:.2g}"
    p = "" if math.isnan(test.p_value) else f" (Wilcoxon p {test.p_value:.2g})"
    return f"{name} {test.diff:+.4f}{se}{p}"


def _words(met: bool, verdict: str, n: int, diverged: bool) -> str:
    """The verdict on the target: the seed means' side, and whether the seeds tell it from noise."""
    side = "met" if met else "missed"
    if diverged:
        return f"{side} (a run diverged: the seed means decide)"
    if n < 2:
        return f"{side} by the mean, on one seed: no noise to judge it by"
    if verdict == ("better" if met else "worse"):
        return side
    return f"{side} by the mean, within noise"


def method_scores(rows: list[dict[str, Any]], target: float = TARGET) -> dict[str, list[str]]:
    """Each self-tuning optimizer on its own: the problems where, from its worst start, it is
    within ``target`` of the best learning-rate-free optimizer (no pick of the best per problem).
    """
    out: dict[str, list[str]] = {}
    for r in rows:
        if r["family"] == "self-tuning":
            mine = out.setdefault(r["method"], [])
            if r["worst / best LR-free"] <= target:
                mine.append(r["problem"])
    return out


#: The problems of the quick version (a smoke run: one classification, one regression).
QUICK_PROBLEMS = ("digits-mlp", "diabetes-mlp")


def bar_section(seeds: Sequence[int], quick: bool) -> tuple[list[str], list[Any], dict[str, Any]]:
    """The ``self-lr`` experiment's part on the bar: summary lines, a figure and the data.

    The learning-rate-free optimizers whose packages are missing are left out and named, with
    the install command, in the summary (the experiment runs in the demo, where the optional
    packages may be absent). ``quick``: two problems, two epochs, two starting rates.
    """
    from hyperlab.experiments.lr_free import INSTALL_ALL, is_installed
    from hyperlab.experiments.problems import PROBLEMS

    present = [name for name in LR_FREE if is_installed(name)]
    missing = [name for name in LR_FREE if name not in present]
    problems = QUICK_PROBLEMS if quick else PROBLEMS
    records = run_bar(problems, seeds, present, quick=quick, epochs=2 if quick else None)
    costs = step_costs(problems, present, steps=10 if quick else 50, repeats=2 if quick else 5)
    rows = summarize_bar(records, costs)
    judged = verdicts(rows)
    summary = [
        f"The bar: on {len(problems)} problems ({', '.join(problems)}; {seeds_text(seeds)}) the "
        f"learning-rate-free optimizers at their defaults against hyperlab's self-tuning "
        f"optimizers from their worst starting rate; target: within {100 * (TARGET - 1):.0f}% "
        f"of the best learning-rate-free optimizer's final validation loss (a ratio of seed "
        f"means of at most {TARGET:g}). The verdict says met or missed only where the seeds "
        f"tell it from noise: ours minus {TARGET:g} × the bar, paired by seed, beyond twice its "
        f"standard error with Wilcoxon p < 0.05 (the lab's paired test; it cannot reach that "
        f"with fewer than {MIN_TESTABLE_PAIRS} seeds); otherwise it says which side the seed "
        f"means fall on, within noise."
    ]
    paired = {row["problem"]: row for row in paired_to_bar(records, rows)}
    tested = {row["problem"]: row for row in against_target(records, rows)}
    summary += [
        f"{v['problem']}: best learning-rate-free {v['best LR-free']} {v['its val loss']:.4f}; "
        f"best self-tuning from its worst start {v['best self-tuning (worst start)']} "
        f"{v['its val loss @worst']:.4f} (ratio {v['ratio']:.3f}: "
        f"{tested[v['problem']]['words']}; {tested[v['problem']]['text']}); paired by seed, "
        f"{paired_text(paired[v['problem']])}."
        for v in judged
    ]
    if missing:
        summary.append(
            f"Not installed, left out: {', '.join(missing)} (install with `{INSTALL_ALL}`)."
        )
    data = {
        "records": records,
        "ms_per_step": costs,
        "rows": rows,
        "verdicts": judged,
        "paired": list(paired.values()),
        "against_target": list(tested.values()),
        "missing": missing,
    }
    return summary, [_ratio_figure(rows)], data


def _ratio_figure(rows: list[dict[str, Any]]) -> Any:
    """Grouped bars: each method's seed-mean loss from its worst start over the bar."""
    import plotly.express as px
    import plotly.graph_objects as go

    fig = go.Figure()
    for method in dict.fromkeys(r["method"] for r in rows):
        mine = [r for r in rows if r["method"] == method]
        ys = [r["worst / best LR-free"] for r in mine]
        fig.add_trace(
            go.Bar(
                x=[r["problem"] for r in mine],
                y=[y if math.isfinite(y) else None for y in ys],
                name=method,
            )
        )
    fig.add_hline(y=TARGET, line_dash="dash", annotation_text="target")
    fig.update_layout(
        title="final validation loss from the worst start / best learning-rate-free optimizer",
        yaxis={"type": "log", "title": "ratio (1 = the bar)"},
        barmode="group",
        colorway=px.colors.qualitative.Dark24,  # one per method (the default repeats after 10)
    )
    return fig
