"""Train the meta tuner's network from scratch and write the weights the package ships.

The network (``hyperlab.tuners.meta``) is trained on a mixture of functions drawn from
Gaussian-process priors and real tuning problems: random configurations of every problem of
the training suite (``hyperlab.tasks.suites.TRAINING``: tables, LCBench surrogates, synthetic
families), evaluated once each. No validation or held-out problem is read while training.
Afterwards the script measures, on the validation suite, how often the network's central 68%
and 95% intervals hold the true score of configurations it has not seen, and records that,
the training problems, the seeds and this command in the card beside the weights.

With ``--runs`` or ``--study`` it teaches the network from one's own past studies instead of
the training suite (``hyperlab.tuners.meta.bank``: each study's complete trials, encoded, one
real problem per study, mixed with the GP prior's draws as the suite's are); with
``--start-from`` it fine-tunes trained weights (the shipped ones: ``shipped``) on a short
schedule instead of training from scratch. The card then records the studies learnt from and
the weights started from. Whether such weights tune your problems better is not measured here.

Uses a GPU when one is available (``--device auto``), never needs one.

Usage:
    .venv/bin/python scripts/train_meta_tuner.py [--minutes 180] [--steps 15000]
        [--width 96] [--depth 4] [--out src/hyperlab/data/meta/pfn.pt] [--no-tables] [--additive 0]
        [--categorical 0]
    .venv/bin/python scripts/train_meta_tuner.py --runs runs/A runs/B [--study URL NAME]
        --start-from shipped [--steps 1000] [--lr 1e-4] --out my-meta/pfn.pt
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np
import optuna
import torch

from hyperlab.errors import InputError
from hyperlab.lab.provenance import provenance
from hyperlab.lab.rundir import RunDir, load_studies
from hyperlab.lab.storage import load_study, redact
from hyperlab.lab.urls import without_password
from hyperlab.registry import TASKS
from hyperlab.space import SpaceEncoder
from hyperlab.tuners.meta import PFNConfig, weights
from hyperlab.tuners.meta.bank import ShortStudyError, read_studies
from hyperlab.tuners.meta.calibration import coverage
from hyperlab.tuners.meta.prior import TableProblems
from hyperlab.tuners.meta.training import TrainingPlan, train
from hyperlab.tuners.meta.weights import PACKAGED, WEIGHTS, Trained, save

POINTS = 1024  # random configurations evaluated per training problem
REAL_WEIGHT = 6


def sample_problem(name: str, n: int, seed: int) -> tuple[np.ndarray, np.ndarray] | None:
    """``n`` random configurations of task ``name``, encoded, and their scores (minimized)."""
    task = TASKS.create(name)
    enc = SpaceEncoder(task.distributions())
    rng = np.random.default_rng(seed)
    x = enc.random(n, rng)
    sign = -1.0 if getattr(task, "direction", "minimize") == "maximize" else 1.0
    y = np.array([sign * task.evaluate(c, seed=seed).value for c in enc.decode(x)])
    ok = np.isfinite(y)
    return (x[ok], y[ok]) if ok.sum() > 8 else None


def problems(names: list[str], seed: int) -> list[tuple[np.ndarray, np.ndarray] | None]:
    """Sampled problems of every task in ``names``, None where one fails (reported)."""
    out: list[tuple[np.ndarray, np.ndarray] | None] = []
    for i, name in enumerate(names):
        try:
            out.append(sample_problem(name, POINTS, seed + i))
        except Exception as exc:  # a task that cannot load is left out, loudly
            print(f"  skipped {name}: {exc}", file=sys.stderr)
            out.append(None)
    return out


def is_real(name: str) -> bool:
    """Whether ``name`` is a real tuning problem (a table or an LCBench surrogate)."""
    return name.split("-")[0] in ("hpobench", "hpolib", "nb201", "lcbench")


def main(argv: list[str] | None = None) -> None:
    args = parse(argv)
    device = (
        ("cuda" if torch.cuda.is_available() else "cpu") if args.device == "auto" else args.device
    )
    if device == "cpu":
        torch.set_num_threads(max(1, torch.get_num_threads()))
    start = load(args.start_from) if args.start_from else None
    config = start.model.config if start else fresh_shape(args.width or 96, args.depth or 4)
    plan = args.plan
    names: list[str] = []
    past: list[dict] = []
    if args.runs or args.study:
        bank, past = past_problems(args.runs, args.study, config.max_dim)
        tables: TableProblems | None = TableProblems(bank, config.max_dim)
        print(f"{len(bank)} past studies read: {', '.join(p['study'] for p in past)}")
    elif not args.no_tables:
        names, tables = suite_problems(args, config)
    else:
        tables = None
    started = time.perf_counter()
    model = train(
        config,
        plan,
        tables,
        device,
        log=print,
        seconds=args.minutes * 60,
        start=start.model if start else None,
    )
    minutes = (time.perf_counter() - started) / 60
    card = {
        "training_problems": names,
        **({"past_studies": past} if past else {"points_per_problem": POINTS}),
        **({"started_from": origin(args.start_from, start.card)} if start else {}),
        "plan": asdict(plan),
        "device": device,
        "minutes": round(minutes, 1),
        "steps_done": getattr(model, "steps_done", None),
        "parameters": model.parameter_count(),
        **provenance(["python", *(sys.argv if argv is None else [__file__, *argv])]),
    }
    print(f"trained in {minutes:.1f} min")
    if not args.no_validation:
        print("measuring calibration on the validation suite")
        card["validation"] = validation(model, args.seed)
        print(card["validation"])
    save(model, card, args.out)
    print(f"wrote {args.out} and {args.out.with_suffix('.json').name}")


def parse(argv: list[str] | None) -> argparse.Namespace:
    """The command line, with the defaults that depend on it filled in (from scratch: 15,000
    steps at a peak rate of 1e-3; from weights: 1,000 steps at 1e-4) and its training plan
    (``plan``)."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    # the shipped weights: all 15,000 steps (52 minutes on one thread of a 2-core machine); the
    # time limit only guards a much slower machine, whose network would then be cut short
    ap.add_argument("--minutes", type=float, default=180.0)
    ap.add_argument("--steps", type=int, help="gradient steps (default 15000; 1000 from weights)")
    ap.add_argument("--lr", type=float, help="peak learning rate (default 1e-3; 1e-4 from weights)")
    ap.add_argument("--batch", type=int, default=48)
    ap.add_argument("--width", type=int, help="token width of a fresh network (default 96)")
    ap.add_argument("--depth", type=int, help="layers of a fresh network (default 4)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument(
        "--additive", type=float, default=0.0, help="share of rugged, nearly separable GP draws"
    )
    ap.add_argument(
        "--categorical",
        type=float,
        default=0.0,
        help="share of the GP draws with a categorical, rugged ones aside, whose categoricals' "
        "choices share the score's shape",
    )
    ap.add_argument("--synthetic", type=int, default=240, help="synthetic training instances")
    ap.add_argument("--no-tables", action="store_true", help="train on the GP prior alone")
    ap.add_argument("--device", default="auto")
    ap.add_argument("--out", type=Path, help="where to write (default: the shipped weights)")
    ap.add_argument(
        "--runs",
        nargs="+",
        action="extend",
        default=[],
        metavar="DIR",
        help="learn from every study of these hyperlab run folders",
    )
    ap.add_argument(
        "--study",
        nargs=2,
        action="append",
        default=[],
        metavar=("URL", "NAME"),
        help="learn from study NAME of storage URL (repeatable)",
    )
    ap.add_argument(
        "--start-from", metavar="WEIGHTS", help="fine-tune these weights ('shipped': the package's)"
    )
    ap.add_argument("--no-validation", action="store_true", help="skip the calibration check")
    args = ap.parse_args(argv)
    tuning = bool(args.runs or args.study or args.start_from)
    if tuning and args.out is None:
        ap.error("--out is needed with --runs, --study or --start-from (the shipped weights stay)")
    if (args.runs or args.study) and args.no_tables:
        ap.error("--no-tables trains on the GP prior alone: it cannot go with --runs or --study")
    if args.start_from and (args.width is not None or args.depth is not None):
        ap.error("--width and --depth shape a fresh network: --start-from keeps its own shape")
    args.out = args.out or PACKAGED / WEIGHTS
    args.steps = args.steps if args.steps is not None else 1000 if args.start_from else 15000
    args.lr = args.lr if args.lr is not None else 1e-4 if args.start_from else 1e-3
    args.plan = training_plan(args, ap)
    return args


def training_plan(args: argparse.Namespace, ap: argparse.ArgumentParser) -> TrainingPlan:
    """The training plan of the options, each checked by :class:`TrainingPlan` (a bad one
    ends the script with its message, naming the option: each field given here is the option
    of the same name)."""
    try:
        return TrainingPlan(
            steps=args.steps,
            batch=args.batch,
            lr=args.lr,
            additive=args.additive,
            categorical=args.categorical,
            seed=args.seed,
        )
    except InputError as exc:
        ap.error(f"--{exc}")


def fresh_shape(width: int, depth: int) -> PFNConfig:
    """The shape of a network trained from scratch (one attention head when four do not
    divide the width)."""
    return PFNConfig(width=width, depth=depth, heads=4 if width % 4 == 0 else 1)


def load(where: str) -> Trained:
    """The weights to start from: ``shipped`` (the package's) or a path."""
    return weights.load(None if where == "shipped" else where)


def origin(where: str, card: dict) -> dict:
    """What the card of fine-tuned weights records of the weights they started from."""
    path = str(PACKAGED / WEIGHTS) if where == "shipped" else where
    return {"path": path, **{k: card.get(k) for k in ("command", "commit", "date", "steps_done")}}


def past_problems(
    runs: list[str], studies: list[list[str]], max_dim: int
) -> tuple[list[tuple[np.ndarray, np.ndarray]], list[dict]]:
    """The problems of every study of the run folders ``runs`` and of every ``(URL, NAME)`` in
    ``studies``, and what the card records of each. A study given twice (a folder named twice,
    or a study of a named folder given again with --study) is read once, and a run with no
    study yet or a study too short to train on is left out, each with a note; a study training
    cannot read is refused by name (see ``bank``), and so is a set that leaves nothing."""
    found = unique_studies(runs, studies)
    source = {id(study): where for study, where in found}
    try:
        kept = read_studies([study for study, _ in found], max_dim=max_dim, note=note)
    except ShortStudyError as exc:
        given = [*(f"--runs {r}" for r in runs), *(f"--study {redact(u)} {n}" for u, n in studies)]
        raise ShortStudyError(f"{exc} (from {', '.join(given)})") from None
    cards = [
        {
            "study": p.study.study_name,
            "source": source[id(p.study)],
            "direction": p.study.direction.name.lower(),
            "trials": len(p.y),
            "parameters": list(p.study.best_trial.params),
        }
        for p in kept
    ]
    return [(p.x, p.y) for p in kept], cards


def unique_studies(runs: list[str], studies: list[list[str]]) -> list[tuple[optuna.Study, str]]:
    """Each study of the run folders ``runs`` and each ``(URL, NAME)`` of ``studies``, with
    where it was found, once (the same storage and name given again is left out, with a note).

    Raises:
        InputError: Nothing is left: the runs given have no studies yet.
    """
    found: list[tuple[optuna.Study, str]] = []
    seen: dict[tuple[str, str], str] = {}

    def add(study: optuna.Study, url: str, where: str) -> None:
        key = (same_storage(url), study.study_name)
        if key in seen:
            note(
                f"left out: study {study.study_name!r} of {where} is given twice (also as {seen[key]})"
            )
            return
        seen[key] = where
        found.append((study, where))

    for run in runs:
        url = RunDir(run).load_spec().storage
        in_run = [study for study, *_ in load_studies(run)]
        if not in_run:
            note(f"left out: run {run!r} has no studies in its storage yet")
        for study in in_run:
            add(study, url, run)
    for url, name in studies:
        add(load_study(url, name), url, redact(url))
    if not found:
        raise InputError(
            f"no study to learn from: the runs given have none yet ({', '.join(runs)})"
        )
    return found


def same_storage(url: str) -> str:
    """``url`` spelled one way for each storage: a SQLite or journal file by its resolved path
    (``sqlite:///a.db`` from the folder of ``a.db`` and ``sqlite:////abs/a.db`` are one), a
    server's without its password."""
    for prefix in ("sqlite:///", "journal:"):
        if url.startswith(prefix) and len(url) > len(prefix):
            return prefix + Path(url[len(prefix) :]).resolve().as_posix()
    return without_password(url)


def note(message: str) -> None:
    """One line on standard error about something left out."""
    print(f"note: {message}", file=sys.stderr)


def suite_problems(args: argparse.Namespace, config: PFNConfig) -> tuple[list[str], TableProblems]:
    """The built-in training suite's names and problems (the shipped weights' real problems)."""
    from hyperlab.tasks.suites import TRAINING, training_synthetic

    names = list(dict.fromkeys([*TRAINING, *training_synthetic(args.synthetic, args.seed)]))
    t0 = time.perf_counter()
    sampled = problems(names, args.seed)
    # the real problems (tables and LCBench) are few beside the synthetic instances: each
    # is drawn as often as REAL_WEIGHT synthetic ones
    real = [p for name, p in zip(names, sampled) if p is not None and is_real(name)]
    tables = TableProblems(
        [p for p in sampled if p is not None] + real * (REAL_WEIGHT - 1), config.max_dim
    )
    print(f"{len(tables)} training problems sampled in {time.perf_counter() - t0:.0f} s")
    return names, tables


def validation(model, seed: int) -> dict:  # type: ignore[no-untyped-def]
    """Interval coverage on the validation suite (problems never trained on)."""
    from hyperlab.tasks.suites import VALIDATION

    sampled = [p for p in problems(list(VALIDATION), seed + 10_000) if p is not None]
    return coverage(model, sampled, np.random.default_rng(seed))


if __name__ == "__main__":
    main()
