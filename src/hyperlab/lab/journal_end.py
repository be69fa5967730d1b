"""What ``hyperlab recover`` can say about the end of a journal file.

A journal has no end mark and its records no sequence numbers: a file cut exactly at a line end
(its last records lost, the rest whole) reads as a journal whose writers stopped there. What
can still point to lost records at the end:

* a trial left running: its worker was stopped (killed, or the machine went down), or the
  records that finished it were lost; the file cannot tell which;
* a heartbeat file (``PATH.heartbeats/<trial id>``) naming a trial the journal does not hold:
  the worker created that trial and beat for it, so its creation was in the file once. That
  one is proof of loss, though it shows only while the file is left behind (a trial that
  finished removed its own).
"""

from __future__ import annotations

from pathlib import Path

import optuna
from optuna.trial import TrialState

from hyperlab.lab.heartbeat import beats_folder


def end_doubts(storage: optuna.storages.BaseStorage, journal: Path) -> list[str]:
    """What points to records lost at the end of the journal file ``journal``, opened as
    ``storage``, one entry each (none: nothing does, which proves nothing either)."""
    out = []
    known = 0  # one past the highest trial id (ids count every trial of every study)
    for study in storage.get_all_studies():
        trials = storage.get_all_trials(study._study_id, deepcopy=False)
        known = max([known, *(t._trial_id + 1 for t in trials)])
        running = [t.number for t in trials if t.state == TrialState.RUNNING]
        if running:
            many = len(running) > 1
            out.append(
                f"study {study.study_name!r}: trial{'s' if many else ''} "
                f"{', '.join(map(str, running))} {'were' if many else 'was'} left running with "
                "no worker beating for it: its worker was stopped, or the records that "
                "finished it were lost at the end of the file"
            )
    folder = beats_folder(journal)
    names = [f.name for f in folder.iterdir()] if folder.is_dir() else []
    held = f"its trial ids end at {known - 1}" if known else "it holds no trial"
    for trial_id in sorted(int(n) for n in names if n.isdigit() and int(n) >= known):
        out.append(
            f"heartbeat file {str(folder / str(trial_id))!r} names trial id {trial_id}, which "
            f"the journal does not hold ({held}): records at the end of the file were lost"
        )
    return out
