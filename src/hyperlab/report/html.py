"""Render report records as one self-contained HTML page (plotly.js embedded once).

The pages live by kind: :mod:`~hyperlab.report.comparison_html` (a comparison run),
:mod:`~hyperlab.report.study_html` (a single study), with the learning curves'
(:mod:`~hyperlab.report.curves_html`) and failed trials' (:mod:`~hyperlab.report.failures_html`)
sections they share, built from :mod:`~hyperlab.report.page`'s pieces. This module keeps the
names code imports from here.
"""

from __future__ import annotations

from hyperlab.report.comparison_html import shown_pruned
from hyperlab.report.page import figure_html, fmt, page, table
from hyperlab.report.study_html import render_study

__all__ = ["figure_html", "fmt", "page", "render_study", "shown_pruned", "table"]
