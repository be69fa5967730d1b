"""``hyperlab replay RUN_DIR``: train one fresh model with a schedule a population discovered.

The run must hold a finished population (a ``tune`` or ``compare`` run of ``pbt`` or ``pb2``;
``--study`` picks one where it holds several). The fresh model follows the best member's
schedule (or ``--member K``'s) segment by segment, with the member's seed, and prints each
segment's hyperparameters and validation score next to the member's own (and, for self-tuning
members, the rate the training learned by the segment's end). A replay whose
training diverges (a score that is NaN or infinite) has no result: it names the segment and the
epoch, and the command exits with status 1.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from hyperlab.cli._common import DATA_DIR_HELP


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser(
        "replay",
        help="train a fresh model with a population's discovered schedule",
        description=__doc__,
    )
    p.add_argument(
        "run_dir", help="the run directory of a pbt or pb2 run (tune, or compare with --study)"
    )
    p.add_argument("--member", type=int, help="the member to replay (default: the best)")
    p.add_argument(
        "--study", help="the study to replay, where the run holds several populations (compare)"
    )
    p.add_argument("--data-dir", help=DATA_DIR_HELP)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from hyperlab.cli._common import apply_data_dir
    from hyperlab.errors import InputError, TrialFailure
    from hyperlab.lab.run_folder import RunDir
    from hyperlab.lab.rundir import load_studies
    from hyperlab.population import replay_member
    from hyperlab.registry import TASKS

    spec = RunDir(args.run_dir).load_spec()
    recorded = spec.task_options.get("data_dir")
    if args.data_dir and recorded is not None:
        raise InputError(
            f"--data-dir {args.data_dir!r} would be ignored: the run's task option "
            f"data_dir={recorded} gives the task its folder; leave --data-dir out"
        )
    apply_data_dir(args, [spec.task])
    if spec.task is None:
        raise InputError("replay needs a run of a registered task, not of an objective function")
    task = TASKS.create(spec.task, **spec.task_options)
    study = _population(args.run_dir, load_studies(args.run_dir), args.study)
    try:
        trial, segments = replay_member(study, task, args.member)
    except TrialFailure as exc:  # as tune fails a trial whose score is not finite
        print(f"hyperlab replay: the replay failed, it has no result: {exc}", file=sys.stderr)
        return 1
    recorded = list(trial.intermediate_values.values())
    member = trial.user_attrs.get("member")
    whose = "member" if member is not None else "trial"  # a tpe-hd trial is no member
    print(
        f"replaying member {member} (trial {trial.number}) of study {study.study_name}"
        if member is not None
        else f"replaying trial {trial.number} of study {study.study_name}"
    )
    for entry, segment in zip(trial.user_attrs["schedule"], segments, strict=True):
        end = entry["end"]
        config = ", ".join(f"{k}={_fmt(v)}" for k, v in entry["config"].items())
        was = recorded[end - 1] if end - 1 < len(recorded) else float("nan")
        print(f"  {_epochs(entry['start'] + 1, end)}: {config}")
        print(f"    score {segment.value:.6g} (the {whose}'s: {was:.6g})")
        if segment.learned:
            print(f"    learned by the segment's end: {_learned(segment.learned, entry, whose)}")
    print(f"final score {segments[-1].value:.6g}; the {whose} finished at {trial.value:.6g}")
    replayed = [v for segment in segments for v in segment.values]
    off = [i for i, (a, b) in enumerate(zip(replayed, recorded)) if not _same(a, b)]
    if off:
        print(
            f"note: the replay left the {whose}'s path at epoch {off[0] + 1}: the task's "
            "training is not fully set by its seed and state (a random stream it does not "
            "keep in its state, or an operation that is not deterministic)"
        )
    return 0


def _epochs(first: int, last: int) -> str:
    """``epochs 3-4`` of a segment, ``epoch 3`` of a segment of one epoch."""
    return f"epoch {last}" if first == last else f"epochs {first}-{last}"


def _learned(learned: dict[str, float], entry: dict[str, Any], whose: str) -> str:
    """The hyperparameters a replayed segment's training set itself (a hypergradient-learned
    rate), each beside the ``whose`` (member's or trial's) own where its schedule recorded
    it."""
    recorded = entry.get("learned") or {}
    return ", ".join(
        f"{k}={_fmt(float(v))}"
        + (f" (the {whose}'s: {_fmt(float(recorded[k]))})" if k in recorded else "")
        for k, v in learned.items()
    )


def _same(a: float, b: float) -> bool:
    """Equal scores, up to the last bits of a float sum."""
    return abs(a - b) <= 1e-9 * max(1.0, abs(a), abs(b))


def _population(run_dir: str, studies: list[tuple[Any, ...]], name: str | None) -> Any:
    """The study to replay: ``name``, else the run's one finished population.

    Raises:
        InputError: No such study; several populations and no ``name``; or the population
            asked for (or, without ``name``, any of the run's) is still training.
    """
    from hyperlab.errors import InputError
    from hyperlab.population.replay import members

    names = [s.study_name for s, *_ in studies]
    if name is not None:
        if name not in names:
            raise InputError(f"no study {name!r} in {run_dir!r}; studies: {', '.join(names)}")
        _check_finished(run_dir, studies[names.index(name)][0])
        return studies[names.index(name)][0]
    finished = [s for s, *_ in studies if members(s)]
    if len(finished) > 1:
        listed = ", ".join(s.study_name for s in finished)
        raise InputError(
            f"run {run_dir!r} holds several populations; pick one with --study: {listed}"
        )
    if finished:
        return finished[0]
    for study, *_ in studies:
        _check_finished(run_dir, study)
    if not studies:
        raise InputError(f"run {run_dir!r} has no studies in its storage yet")
    return studies[0][0]  # replay_member says that it holds no population


def _check_finished(run_dir: str, study: Any) -> None:
    """Raise :class:`InputError` when ``study`` is a population still training (its folder
    holds a population's files, or nothing yet, but the study no members)."""
    from hyperlab.errors import InputError
    from hyperlab.lab.run_folder import RunDir
    from hyperlab.population.checkpoint_file import FILE
    from hyperlab.population.replay import members

    folder = RunDir(run_dir).population_folder(study.study_name)
    if folder.is_dir() and _holds_population(folder) and not members(study):
        where = (
            f"its checkpoint is in {folder}"
            if (folder / FILE).exists()
            else "it stopped before its first checkpoint"
        )
        raise InputError(
            f"the population of study {study.study_name!r} has not finished ({where}); run "
            "its command again to finish it, then replay"
        )


def _holds_population(folder: Path) -> bool:
    """Whether ``folder`` is a population's: empty (nothing written yet), or holding its
    checkpoint or its lock. Another tuner that trains its trials itself (``one-epoch``) keeps
    only a lock of its own there, and its study is no population."""
    from hyperlab.population.checkpoint import LOCK
    from hyperlab.population.checkpoint_file import FILE

    names = {path.name for path in folder.iterdir()}
    return not names or bool(names & {FILE, LOCK})


def _fmt(value: object) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)
