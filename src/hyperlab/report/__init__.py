"""Reports: run -> plain-data records -> one self-contained HTML page."""

from __future__ import annotations

from pathlib import Path

from hyperlab.lab.rundir import RunDir, load_studies
from hyperlab.report.html import render_compare, render_study
from hyperlab.report.records import (
    CompareRecords,
    StudyRecords,
    compare_records,
    study_report_records,
)

__all__ = [
    "CompareRecords",
    "StudyRecords",
    "compare_records",
    "study_report_records",
    "write_report",
]


def write_report(run_dir: str | Path) -> Path:
    """(Re)build ``report.html`` of a run from its storage and return its path."""
    run_dir = Path(run_dir)
    spec = RunDir(run_dir).load_spec()
    if spec.kind == "compare":
        content = render_compare(compare_records(run_dir))
    else:
        studies = load_studies(run_dir)
        if not studies:
            from hyperlab.errors import InputError

            raise InputError(f"run {str(run_dir)!r} has no study in its storage yet")
        records = study_report_records(studies[0][0], spec=spec)
        content = render_study(records, f"hyperlab tune: {spec.name}")
    out = run_dir / "report.html"
    out.write_text(content, encoding="utf-8")
    return out
