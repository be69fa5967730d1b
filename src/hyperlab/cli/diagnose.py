"""``hyperlab diagnose FILE`` or ``hyperlab diagnose RUN_DIR --trial N``: read one run's curves.

Prints the findings (with confidence and evidence) and the advice on each knob, and writes a
small self-contained HTML page with the curves annotated (``--out``; default next to the input).
A trial of a run and a file holding the same curves get the same diagnosis and advice.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path
from typing import Any, TextIO


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser(
        "diagnose",
        help="diagnose one training run from its learning curves",
        description=__doc__,
    )
    p.add_argument(
        "input",
        help="a CSV/JSON file with columns epoch, train_loss, val_loss[, train_metric, "
        "val_metric] (or other loggers' names: Keras's loss, val_accuracy, Lightning's "
        "train_loss_epoch, val_acc, W&B's epoch/loss, ...), or a run directory (with --trial); the losses are "
        "read as lower is better with 0 the best possible (cross-entropy, squared error), the "
        "metrics as an accuracy (higher is better, in [0, 1]; give 1 - error for an error "
        "rate)",
    )
    p.add_argument(
        "--trial",
        type=_trial_number,
        help="trial number, or best (the study's best trial, higher or lower as the run "
        "optimizes), when INPUT is a run directory",
    )
    p.add_argument("--study", help="study name, when the run directory holds several")
    p.add_argument(
        "--out",
        help="the HTML page to write, a name ending in .html or .htm (the figure is written as "
        "HTML only; another ending is refused; an existing file is replaced; default: next to "
        "the input)",
    )
    p.add_argument("--no-html", action="store_true", help="print only, write no HTML")
    p.add_argument(
        "--json",
        action="store_true",
        help="print the diagnosis as JSON (stdout holds only it; the figure's path goes to stderr)",
    )
    p.add_argument("--rules-only", action="store_true", help="do not blend in the learned model")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from hyperlab.errors import DataNotFoundError, InputError

    source = Path(args.input)
    if args.out and not args.no_html:
        _check_out(Path(args.out), source)  # before anything is read or printed
    if not source.exists():
        raise DataNotFoundError(f"{str(source)!r} does not exist (expected a curve file or a run)")
    if source.is_dir():
        from hyperlab.lab.run_paths import SPEC_FILE

        if not (source / SPEC_FILE).is_file():
            raise InputError(
                f"{str(source)!r} is a folder but not a run (no {SPEC_FILE}): give a curve file, "
                "or a run folder with --trial N"
            )
        if args.trial is None:
            raise InputError(
                f"{source} is a run directory: name the trial with --trial N (or --trial best)"
            )
        curves, title, default_out, params = _trial_curves(source, args.trial, args.study)
        return _diagnose(curves, title, Path(args.out) if args.out else default_out, args, params)
    else:
        if args.trial is not None or args.study is not None:
            raise InputError("--trial and --study apply to a run directory, not to a file")
        from hyperlab.diagnose import read_curves

        curves = read_curves(source)
        title = source.name
        default_out = source.with_name(source.stem + ".diagnosis.html")
    return _diagnose(curves, title, Path(args.out) if args.out else default_out, args)


def _check_out(out: Path, source: Path) -> None:
    """Refuse an ``--out`` that is not an HTML name, is the input itself or a folder, or lies
    where no folder can be made.

    Raises:
        InputError: Naming the path.
    """
    from hyperlab.diagnose.figure import check_html_path
    from hyperlab.errors import InputError

    check_html_path(out)
    if source.exists() and out.exists() and out.resolve() == source.resolve():
        raise InputError(f"--out {str(out)!r} is the input: the figure would replace the curves")
    if out.is_dir():
        raise InputError(f"--out {str(out)!r} is a folder: name the page's file inside it")
    folder = next(p for p in out.absolute().parents if p.exists())
    try:  # a file made and removed at once where the page's folder would go
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as exc:
        raise InputError(
            f"--out {str(out)!r} cannot be written: {folder} takes no file ({exc.strerror or exc})"
        ) from None


def _trial_number(text: str) -> int | str:
    """``--trial``'s value: a trial's number, or ``best``."""
    from hyperlab.lab.rundir import BEST

    if text.strip().lower() == BEST:
        return BEST
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"takes a trial's number or {BEST!r}, got {text!r}"
        ) from None


def _trial_curves(
    source: Path, number: int | str, study: str | None
) -> tuple[Any, str, Path, dict[str, Any]]:
    """A run's trial: its curves, a title, where its figure goes by default, and the names of
    the run's parameters (as keys)."""
    from hyperlab.errors import InputError
    from hyperlab.lab.rundir import find_trial, load_studies

    trial = find_trial(source, number, study)
    number = trial.number  # (``best`` named by its number)
    curves = trial.user_attrs.get("curves")
    if not curves:
        kept = (  # a population member's or a tpe-hd trial's come from its segments
            "a task's segments record those each Segment carries (Segment.curves)"
            if trial.user_attrs.get("schedule")
            else "a task records those its Evaluation carries"
        )
        raise InputError(
            f"trial {number} of {source} has no per-epoch curves (state {trial.state.name}; "
            "its objective or task recorded none: an objective that only calls trial.report "
            f"records none, and {kept}); nothing to diagnose"
        )
    from hyperlab.diagnose.inputs import REQUIRED

    missing = [k for k in REQUIRED if not curves.get(k)]
    if missing:
        raise InputError(
            f"trial {number} of {source} has curves {sorted(curves)} but no {missing}: the "
            "diagnosis reads a training and a validation loss per epoch"
        )
    title = f"{source.name} trial {number} ({trial.state.name.lower()})"
    # the run's search space: every parameter any of its trials holds (a conditional space's
    # other branches too, which this trial lacks)
    space = {
        n for s, *_ in load_studies(source) for t in s.get_trials(deepcopy=False) for n in t.params
    }
    return curves, title, source / f"diagnosis-trial-{number}.html", dict.fromkeys(space)


def _diagnose(
    curves: Any,
    title: str,
    out: Path,
    args: argparse.Namespace,
    params: dict[str, Any] | None = None,
) -> int:
    """Diagnose ``curves``, print the result and write the figure: the same for both inputs.

    The advice covers every knob whichever the input: it follows from the findings alone. For
    a run's trial (``params``, its parameters), a line names the knobs advised to move that its
    run does not tune.
    """
    import json

    from hyperlab.diagnose import diagnose
    from hyperlab.diagnose.figure import write_html

    result = diagnose(curves, None, use_model=not args.rules_only)
    untuned = _untuned(result.advice, params)
    if args.json:
        extra = {} if params is None else {"untuned_knobs": untuned}
        print(json.dumps({**result.to_dict(), **extra}, indent=2))
    else:
        print(f"{title}")
        print(result.summary())
        if untuned:
            print(
                f"not in this run's search space: {', '.join(untuned)} (to follow that advice, "
                "add them to the search space)"
            )
    if not args.no_html:  # (after JSON, on stderr: stdout stays one JSON document)
        print(f"figure: {write_html(curves, result, out, title)}", file=_figure_stream(args))
    return 0


def _untuned(advice: Any, params: dict[str, Any] | None) -> list[str]:
    """The knobs ``advice`` moves that a trial's ``params`` do not hold (none without params;
    the epochs are the budget, not a parameter)."""
    from hyperlab.diagnose.advice import knob_key

    if params is None:
        return []
    return [
        a.knob
        for a in advice
        if a.direction != "keep" and a.knob != "epochs" and knob_key(a.knob, params) is None
    ]


def _figure_stream(args: argparse.Namespace) -> TextIO:
    """Where the figure's path is told: stderr with ``--json`` (stdout is read as JSON)."""
    return sys.stderr if args.json else sys.stdout
