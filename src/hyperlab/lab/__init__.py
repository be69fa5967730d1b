"""The lab: running, resuming and comparing tuners, with honest statistics."""

from __future__ import annotations

from hyperlab.lab.api import TuneSummary, collect_records, compare, summarize, tune

__all__ = ["TuneSummary", "collect_records", "compare", "summarize", "tune"]
