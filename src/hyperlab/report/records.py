"""Report records: plain data built from a run's studies (tested as data, rendered elsewhere).

The records live by kind: :mod:`~hyperlab.report.comparison` (a comparison run),
:mod:`~hyperlab.report.study` (a single study), :mod:`~hyperlab.report.methods` (one method
across seeds), :mod:`~hyperlab.report.trials` (one trial's curves, a pruned trial),
:mod:`~hyperlab.report.failures` (failed trials by kind), :mod:`~hyperlab.report.parallel`
(parallel coordinates) and :mod:`~hyperlab.report.run_notes` (what is said about the run).
This module keeps the names code imports from here.
"""

from __future__ import annotations

from hyperlab.report.comparison import CompareRecords, compare_records
from hyperlab.report.failures import FailureGroup as FailureGroup
from hyperlab.report.failures import failure_groups
from hyperlab.report.methods import MIN_BOOTSTRAP_SEEDS as MIN_BOOTSTRAP_SEEDS
from hyperlab.report.methods import MethodSummary, band_text
from hyperlab.report.parallel import MAX_DECADE_TICKS as MAX_DECADE_TICKS
from hyperlab.report.parallel import ParallelAxis as ParallelAxis
from hyperlab.report.parallel import parallel_axes
from hyperlab.report.run_notes import direction_of as direction_of
from hyperlab.report.run_notes import objective_label as objective_label
from hyperlab.report.run_notes import unfinished_note
from hyperlab.report.run_notes import versions_text as versions_text
from hyperlab.report.study import MIN_IMPORTANCE_TRIALS as MIN_IMPORTANCE_TRIALS
from hyperlab.report.study import POPULATION_PARAMS_NOTE, StudyRecords, study_report_records
from hyperlab.report.trials import PrunedTrial, TrialCurves

__all__ = [
    "POPULATION_PARAMS_NOTE",
    "CompareRecords",
    "MethodSummary",
    "PrunedTrial",
    "StudyRecords",
    "TrialCurves",
    "band_text",
    "compare_records",
    "failure_groups",
    "parallel_axes",
    "study_report_records",
    "unfinished_note",
]
