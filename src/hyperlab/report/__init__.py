"""Reports: run -> plain-data records -> one self-contained HTML page."""

from __future__ import annotations

from pathlib import Path

from hyperlab.errors import InputError
from hyperlab.lab.run_folder import RunDir
from hyperlab.lab.rundir import load_studies
from hyperlab.report.comparison import CompareRecords, compare_records
from hyperlab.report.comparison_html import render_compare
from hyperlab.report.study import StudyRecords, study_report_records
from hyperlab.report.study_html import render_study

__all__ = [
    "CompareRecords",
    "StudyRecords",
    "compare_records",
    "study_report_records",
    "write_report",
]


def write_report(run_dir: str | Path | RunDir) -> Path:
    """(Re)build ``report.html`` of a run from its storage and return its path.

    The one call a caller needs after a run (``hyperlab.tune``/``hyperlab.compare``, the CLI):
    the run's recorded setup says whether it is a comparison or a single study, and the page is
    built from what the storage holds now.

    Args:
        run_dir: The run folder (holds ``run.json``), or its :class:`RunDir`, whose open
            storage is then read (see :meth:`RunDir.open_storage`).

    Returns:
        The path of the written ``report.html`` inside ``run_dir``.

    Raises:
        DataNotFoundError: ``run_dir`` does not exist.
        InputError: ``run_dir`` holds no run (or a damaged ``run.json``), or a single-study
            run's storage holds no study yet.
    """
    folder = run_dir if isinstance(run_dir, RunDir) else RunDir(run_dir)
    run_dir = folder.path
    spec = folder.load_spec()
    if spec.kind == "compare":
        content = render_compare(compare_records(folder))
    else:
        studies = load_studies(folder)
        if not studies:
            raise InputError(f"run {str(run_dir)!r} has no study in its storage yet")
        records = study_report_records(studies[0][0], spec=spec)
        content = render_study(records, f"hyperlab tune: {spec.name}")
    out = run_dir / "report.html"
    out.write_text(content, encoding="utf-8")
    return out
