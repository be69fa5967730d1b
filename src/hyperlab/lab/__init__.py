"""The lab: planning, running, resuming and comparing tuners, with honest statistics.

:func:`~hyperlab.lab.plan.make_plan` checks a run's setup once and
:func:`~hyperlab.lab.execute.run_plan` runs it; :func:`hyperlab.tune` and
:func:`hyperlab.compare` are the two over them that also write the report.
"""

from __future__ import annotations

from hyperlab.lab.execute import run_plan, start_run
from hyperlab.lab.plan import RunPlan, make_plan
from hyperlab.lab.plugins import StartupOnlyWarning
from hyperlab.lab.results import collect_records, write_results_csv
from hyperlab.lab.summary import TuneSummary, summarize

__all__ = [
    "RunPlan",
    "StartupOnlyWarning",
    "TuneSummary",
    "collect_records",
    "make_plan",
    "run_plan",
    "start_run",
    "summarize",
    "write_results_csv",
]
