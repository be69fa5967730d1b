"""``hyperlab report RUN_DIR``: rebuild a run's report from its storage."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser(
        "report", help="rebuild a run's HTML report from storage", description=__doc__
    )
    p.add_argument("run_dir", help="the run directory (e.g. runs/demo)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from hyperlab.lab.results import collect_records, write_results_csv
    from hyperlab.lab.run_folder import RunDir
    from hyperlab.report import write_report

    spec = RunDir(args.run_dir).load_spec()
    if spec.kind == "compare":
        from pathlib import Path

        write_results_csv(collect_records(args.run_dir), Path(args.run_dir) / "results.csv")
    print(f"report: {write_report(args.run_dir)}")
    return 0
