"""Render report records as one self-contained HTML page (plotly.js embedded once).

The pages live by kind: :mod:`~hyperlab.report.comparison_html` (a comparison run),
:mod:`~hyperlab.report.study_html` (a single study), with the learning curves'
(:mod:`~hyperlab.report.curves_html`) and failed trials' (:mod:`~hyperlab.report.failures_html`)
sections they share, built from :mod:`~hyperlab.report.page`'s pieces. This module keeps the
names code imports from here.
"""

from __future__ import annotations

from hyperlab.report.comparison_html import render_compare as render_compare
from hyperlab.report.comparison_html import shown_pruned
from hyperlab.report.curves_html import NO_CURVES as NO_CURVES
from hyperlab.report.failures_html import failures_html as failures_html
from hyperlab.report.page import COLORS as COLORS
from hyperlab.report.page import LOG_DECADES as LOG_DECADES
from hyperlab.report.page import LONG_TEXT as LONG_TEXT
from hyperlab.report.page import NARROW_PX as NARROW_PX
from hyperlab.report.page import better as better
from hyperlab.report.page import figure_html, fmt, page, table
from hyperlab.report.page import int_axis as int_axis
from hyperlab.report.page import value_axis as value_axis
from hyperlab.report.study_html import render_study

__all__ = ["figure_html", "fmt", "page", "render_study", "shown_pruned", "table"]
