"""The demo's front page as plain data: one tuner (the focus) against each of the others, over
several comparison runs on cheap problems with a known optimum and one live run.

Each run is a :func:`hyperlab.compare` run folder. In a run, each tuner's study of each seed
ends at a final **score**: the regret of its best trial (how far it is from the problem's best
known value; lower is better) where the task knows its optimum, else the best value itself, read
in the run's direction. Then:

- per run and tuner: the median score over seeds and a 95% bootstrap interval of that median
  (:func:`hyperlab.lab.stats.bootstrap_band`), and the median seconds a study took;
- per run, the focus against each other tuner: the mean of the paired differences (focus minus
  other, same seeds) and its 95% bootstrap interval (:func:`hyperlab.lab.stats.paired_interval`).
  The verdict is ``better`` or ``worse`` only where that interval leaves out zero and
  :func:`hyperlab.lab.stats.paired_comparison` agrees (twice the standard error, Wilcoxon
  p < 0.05), else ``within noise``; with fewer than :data:`MIN_PAIRS` seeds, ``too few seeds``
  (a percentile bootstrap over 2 to 5 values is too narrow to trust);
- over the problem runs: in every (problem, seed) the tuners are ranked by score (1 = best,
  :func:`hyperlab.lab.stats.mean_ranks`); each tuner's mean rank gets a bootstrap interval and
  the focus's rank difference to each other tuner a paired one, with the same verdict rule.
  Ranks put problems of different scales on one footing.

:func:`headline` turns the records into the plain sentences of the page's first screen;
:mod:`hyperlab.report.demo_html` renders the page.

This module gathers the page's records (:func:`demo_records`) and writes the page; the parts
live by concept: the records as data (:mod:`~hyperlab.report.demo_types`), the statistics of
the runs (:mod:`~hyperlab.report.demo_runs`) and the sentences
(:mod:`~hyperlab.report.demo_headline`). This module keeps the names imported from it before
the split (the package imports them from their homes).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from hyperlab.errors import InputError
from hyperlab.registry import TUNERS
from hyperlab.report.demo_headline import headline as headline
from hyperlab.report.demo_runs import overall as overall
from hyperlab.report.demo_runs import pair as pair
from hyperlab.report.demo_runs import run_summary as run_summary
from hyperlab.report.demo_runs import verdict as verdict
from hyperlab.report.demo_types import BETTER as BETTER
from hyperlab.report.demo_types import FEW as FEW
from hyperlab.report.demo_types import MIN_PAIRS as MIN_PAIRS
from hyperlab.report.demo_types import NOISE as NOISE
from hyperlab.report.demo_types import WORSE as WORSE
from hyperlab.report.demo_types import DemoRecords as DemoRecords
from hyperlab.report.demo_types import Overall as Overall
from hyperlab.report.demo_types import Pair as Pair
from hyperlab.report.demo_types import RunSummary as RunSummary
from hyperlab.report.demo_types import Spread as Spread


def demo_records(
    problems: Sequence[str | Path],
    live: str | Path | None = None,
    *,
    focus: str = "meta",
    experiments: Sequence[str] = (),
    experiments_page: str | Path | None = None,
    base: str | Path | None = None,
) -> DemoRecords:
    """The records of the demo's front page.

    Args:
        problems: Comparison run folders on problems with a known optimum.
        live: The live comparison run's folder (``None``: not run).
        focus: The tuner the page compares with every other one.
        experiments: Names of the experiments run.
        experiments_page: Their page.
        base: The front page's folder (links are relative to it; default: the first run's
            parent).

    Raises:
        InputError: Neither problem runs nor a live run, or a run that is not a comparison.
    """
    folders = [Path(p) for p in problems] + ([Path(live)] if live is not None else [])
    if not folders:
        raise InputError("the demo page needs at least one comparison run")
    base = Path(base) if base is not None else folders[0].parent
    runs = [run_summary(p, focus, base) for p in problems]
    rec = DemoRecords(
        focus=focus,
        problems=runs,
        overall=overall(runs, focus),
        live=run_summary(live, focus, base) if live is not None else None,
        experiments=list(experiments),
        experiments_link=(
            os.path.relpath(experiments_page, base) if experiments_page is not None else None
        ),
    )
    rec.headline = headline(rec)
    known = {e.name: e.description for e in TUNERS.entries()}
    names = dict.fromkeys(t for r in [*runs, rec.live] if r is not None for t in r.tuners)
    rec.tuners = {t: known[t] for t in names if t in known}
    return rec


def write_demo_report(rec: DemoRecords, folder: str | Path) -> Path:
    """Write the front page of ``rec`` (see :func:`demo_records`; its links are relative to
    ``folder``) to ``folder/report.html`` and return its path."""
    from hyperlab.report.demo_html import render_demo

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    out = folder / "report.html"
    out.write_text(render_demo(rec), encoding="utf-8")
    return out
