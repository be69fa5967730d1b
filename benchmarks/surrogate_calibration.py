"""Are the surrogates' uncertainties honest? Coverage of predicted intervals on held-out points.

Claim (issue 4): after 50 training points, the fraction of held-out true values inside the
predicted 68% and 95% intervals (mean ± 1 and ± 1.96 predicted standard deviations) is within
±10 points of nominal, for each synthetic task.

Method: per task and seed, two training designs of 50 configurations: ``random`` (uniform on
the encoded space) and ``bo`` (the first 50 trials of a ``neural`` run with that seed:
clustered around good regions, as the sampler's own model sees them). Both surrogates
(Bayesian last layer and deep ensemble, default settings) are fit to each design and
predict ``--holdout`` uniformly random held-out configurations; the table shows the mean
coverage over seeds (and its spread over seeds).

Claims and commands: ``benchmarks/README.md``.

Usage:
    .venv/bin/python benchmarks/surrogate_calibration.py [--quick] [--seeds 5]
        [--target-transform power|standardize|rank]
"""

from __future__ import annotations

import argparse
import time
import warnings
from pathlib import Path

import numpy as np
import optuna
import torch

from hyperlab.lab.provenance import write_result
from hyperlab.registry import TASKS, TUNERS
from hyperlab.space import SpaceEncoder
from hyperlab.surrogates import make_surrogate
from hyperlab.tuners.neural import DEFAULT_TRANSFORMS

HERE = Path(__file__).parent
OUT = HERE / "results" / "surrogate_calibration.json"
LEVELS = {"68%": (1.0, 0.6827), "95%": (1.96, 0.95)}


def _bo_design(task: object, seed: int, n: int) -> list[dict]:
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    space = task.distributions()  # type: ignore[attr-defined]
    study = optuna.create_study(sampler=TUNERS.create("neural", seed=seed, space=space))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        study.optimize(lambda t: task.evaluate(task.search_space(t)).value, n_trials=n)  # type: ignore[attr-defined]
    return [t.params for t in study.trials]


def coverages(args: argparse.Namespace) -> dict:
    """``{task: {design: {surrogate: {level: [coverage per seed]}}}}``."""
    raw: dict = {}
    start = time.time()
    for task_name in args.tasks:
        task = TASKS.create(task_name)
        enc = SpaceEncoder(task.distributions())
        for design in args.designs:
            cells = {s: {k: [] for k in LEVELS} for s in ("bll", "ensemble")}
            raw.setdefault(task_name, {})[design] = cells
            for seed in range(args.seeds):
                rng = np.random.default_rng(1000 + seed)
                if design == "random":
                    train = enc.decode(rng.random((args.train, enc.dim)))
                else:
                    train = _bo_design(task, seed, args.train)
                test = enc.decode(rng.random((args.holdout, enc.dim)))
                X, Xt = enc.encode(train), enc.encode(test)
                y = np.array([task.evaluate(c).value for c in train])
                yt = np.array([task.evaluate(c).value for c in test])
                for surrogate, levels in cells.items():
                    transform = args.target_transform or DEFAULT_TRANSFORMS[surrogate]
                    model = make_surrogate(surrogate, seed=seed, target_transform=transform)
                    mean, std = model.fit(X, y).predict(Xt)
                    for level, (z, _) in LEVELS.items():
                        levels[level].append(float(np.mean(np.abs(yt - mean) <= z * std)))
                print(
                    f"  {task_name} {design} seed {seed} ({time.time() - start:.0f} s)", flush=True
                )
    return raw


def summarize(raw: dict, seeds: int) -> tuple[dict, list[str]]:
    """Mean, min and max coverage per cell and level, and a line for each cell off by more
    than 10 points."""
    print(f"\ncoverage of held-out values, mean over {seeds} seeds (min-max over seeds)")
    print(
        f"{'task':14s} {'design':7s} {'surrogate':9s}"
        + "".join(f"{k + ' (nominal)':>24s}" for k in LEVELS)
    )
    verdicts, summary = [], {}
    for task_name, designs in raw.items():
        for design, models in designs.items():
            for surrogate, levels in models.items():
                key, cells = f"{task_name}/{design}/{surrogate}", []
                for level, (_, nominal) in LEVELS.items():
                    vals = np.array(levels[level])
                    m = float(vals.mean())
                    ok = abs(m - nominal) <= 0.10
                    summary.setdefault(key, {})[level] = {
                        "mean": m,
                        "min": float(vals.min()),
                        "max": float(vals.max()),
                        "within_10_points": ok,
                    }
                    cells.append(
                        f"{100 * m:5.1f} ({100 * vals.min():.0f}-{100 * vals.max():.0f}) "
                        f"{'ok' if ok else 'MISS'}"
                    )
                    if not ok:
                        verdicts.append(
                            f"MISSED: {key} {level} interval covers {100 * m:.1f}% "
                            f"(nominal {100 * nominal:.1f}%)"
                        )
                print(
                    f"{task_name:14s} {design:7s} {surrogate:9s}"
                    + "".join(f"{c:>24s}" for c in cells)
                )
    return summary, verdicts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2 seeds, branin only, 300 held out")
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--train", type=int, default=50)
    parser.add_argument("--holdout", type=int, default=1000)
    parser.add_argument("--tasks", nargs="+", default=["branin", "hartmann6", "rosenbrock-4d"])
    parser.add_argument("--designs", nargs="+", default=["random", "bo"])
    parser.add_argument(
        "--target-transform",
        default=None,
        choices=["power", "standardize", "rank"],
        help="target transform of both surrogates (default: the neural sampler's choice for "
        "each, DEFAULT_TRANSFORMS)",
    )
    parser.add_argument("--out", default=str(OUT))
    args = parser.parse_args()
    if args.quick:
        args.seeds, args.tasks, args.holdout = 2, ["branin"], 300
    torch.set_num_threads(1)
    start = time.time()
    raw = coverages(args)
    summary, verdicts = summarize(raw, args.seeds)
    print("\n".join(verdicts) if verdicts else "all coverages within ±10 points of nominal")
    within = sum(c["within_10_points"] for cell in summary.values() for c in cell.values())
    print(f"{within} of {sum(len(cell) for cell in summary.values())} cells within ±10 points")
    payload = {"settings": vars(args), "summary": summary, "raw": raw, "verdicts": verdicts}
    print(f"wrote {write_result(args.out, payload)} ({time.time() - start:.0f} s)")


if __name__ == "__main__":
    main()
