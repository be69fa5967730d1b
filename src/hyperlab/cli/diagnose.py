"""``hyperlab diagnose FILE`` or ``hyperlab diagnose RUN_DIR --trial N``: read one run's curves.

Prints the findings (with confidence and evidence) and the advice on each knob, and writes a
small self-contained HTML page with the curves annotated (``--out``; default next to the input).
"""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser(
        "diagnose",
        help="diagnose one training run from its learning curves",
        description=__doc__,
    )
    p.add_argument(
        "input",
        help="a CSV/JSON file with columns epoch, train_loss, val_loss[, train_metric, "
        "val_metric], or a run directory (with --trial)",
    )
    p.add_argument("--trial", type=int, help="trial number, when INPUT is a run directory")
    p.add_argument("--study", help="study name, when the run directory holds several")
    p.add_argument("--out", help="HTML file to write (default: next to the input)")
    p.add_argument("--no-html", action="store_true", help="print only, write no HTML")
    p.add_argument("--json", action="store_true", help="print the diagnosis as JSON")
    p.add_argument("--rules-only", action="store_true", help="do not blend in the learned model")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import json
    from pathlib import Path

    from hyperlab.diagnose import diagnose, read_curves
    from hyperlab.diagnose.figure import write_html
    from hyperlab.errors import DataNotFoundError, InputError

    source = Path(args.input)
    if not source.exists():
        raise DataNotFoundError(f"{str(source)!r} does not exist (expected a curve file or a run)")
    config = None
    if source.is_dir():
        if args.trial is None:
            raise InputError(f"{source} is a run directory: name the trial with --trial N")
        from hyperlab.lab.rundir import find_trial

        trial = find_trial(source, args.trial, args.study)
        curves = trial.user_attrs.get("curves")
        if not curves or len(curves.get("train_loss") or []) == 0:
            raise InputError(
                f"trial {args.trial} of {source} has no per-epoch curves "
                f"(state {trial.state.name}); nothing to diagnose"
            )
        config = dict(trial.params)
        title = f"{source.name} trial {args.trial} ({trial.state.name.lower()})"
        default_out = source / f"diagnosis-trial-{args.trial}.html"
    else:
        if args.trial is not None or args.study is not None:
            raise InputError("--trial and --study apply to a run directory, not to a file")
        curves = read_curves(source)
        title = source.name
        default_out = source.with_name(source.stem + ".diagnosis.html")
    result = diagnose(curves, config, use_model=not args.rules_only)
    if args.json:
        print(json.dumps(result.to_dict(), indent=2))
    else:
        print(f"{title}")
        print(result.summary())
    if not args.no_html:
        out = write_html(curves, result, Path(args.out) if args.out else default_out, title)
        print(f"figure: {out}")
    return 0
