"""``hyperlab recover``: copy every intact trial of a damaged storage file into a fresh one.

The damaged original is kept next to the new file as ``FILE.damaged-<UTC time>`` and the
recovered file takes its place, so the run resumes with the same command as before.

* Journal files (``journal:PATH``): every line that holds a whole record is kept, in order. A
  line on which whole records follow one cut off mid-write (what a writer killed mid-append left
  before hyperlab moved such lines aside) keeps those records. A trial created on a damaged
  line (the line starts as a "create trial" record does, or later lines name a trial no line
  before them created) becomes a placeholder trial, so the trials after it keep their
  identities; unless later lines finish it, it is marked failed. Records Optuna cannot replay
  are dropped; the result is checked by replaying it. The trials that were running at a
  damaged line, or were created on it, are named as possibly incomplete. A study created on a
  damaged line is put back when its name and directions can still be read there; else the
  report says that its records are lost.
* SQLite files (``sqlite:///PATH``): the rows of every table that can be read are copied into a
  scratch database, scanning each table without its indexes and stepping over damaged pages;
  then every study and every trial that is whole is copied from there into a fresh file through
  Optuna's storage API. A file whose table list is unreadable cannot be recovered this way.

Stop every process that uses the storage first (``hyperlab worker`` processes included): the run
folder's lock and the journal's lock are held while the file is replaced, but a process that has
the old file open would not notice the new one.

The parts: :mod:`hyperlab.lab.repair_lines` reads a damaged journal's lines,
:mod:`hyperlab.lab.repair_journal` rebuilds a journal from them,
:mod:`hyperlab.lab.repair_sqlite` copies what can be read of a SQLite file, and
:mod:`hyperlab.lab.repair_files` puts the recovered file in place of the damaged one.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from hyperlab.errors import InputError
from hyperlab.lab.damage import storage_file
from hyperlab.lab.repair_files import dispose_engine
from hyperlab.lab.repair_journal import recover_journal
from hyperlab.lab.repair_lines import PLACEHOLDER as PLACEHOLDER
from hyperlab.lab.repair_sqlite import Gap as Gap
from hyperlab.lab.repair_sqlite import recover_sqlite

_FILE_URLS = ("journal:", "sqlite:///")
_SCHEME = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:")


@dataclass
class Recovery:
    """What :func:`recover` did.

    Attributes:
        url: The storage.
        kept: Where the damaged original lies now (``None``: no damage found, nothing changed).
        studies: Studies in the storage now.
        trials: Its trials by state name, e.g. ``{"COMPLETE": 5, "FAIL": 1}``; a trial failed
            at once because other workers had claimed the study's last trials counts as
            ``"SURPLUS"``, not as a failure.
        lost: What could not be recovered or may be incomplete, one entry each.
        doubts: For a journal, what points to records lost at its very end, which a file cut
            at a line end would show and recover cannot restore
            (:func:`~hyperlab.lab.journal_end.end_doubts`), one entry each.
    """

    url: str
    kept: Path | None
    studies: int = 0
    trials: dict[str, int] = field(default_factory=dict)
    lost: list[str] = field(default_factory=list)
    doubts: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        """The report, as lines of text."""
        n = sum(self.trials.values())
        states = ", ".join(f"{v} {k.lower()}" for k, v in sorted(self.trials.items()))
        what = f"{self.studies} {'study' if self.studies == 1 else 'studies'}, {n} "
        what += f"trial{'' if n == 1 else 's'}" + (f" ({states})" if states else "")
        if self.kept is None:
            out = [f"{self.url}: no damage found, nothing changed ({what})"]
        else:
            out = [f"recovered {self.url}: {what}"]
            if self.lost:
                out.append("lost, or possibly incomplete:")
                out += [f"  {item}" for item in self.lost]
            else:
                out.append("nothing was lost")
            out.append(f"the damaged original is kept as {self.kept}")
        if self.doubts:
            out.append(
                "a journal has no end mark, so records lost at its end leave no damaged "
                "line; what points to such a loss (not restored):"
            )
            out += [f"  {item}" for item in self.doubts]
        return out


def recover(target: str | Path) -> Recovery:
    """Copy every intact trial of a damaged journal or SQLite file into a fresh one in its place.

    Args:
        target: A run folder (its ``run.json`` names the storage) or a ``journal:PATH`` or
            ``sqlite:///PATH`` URL.

    Raises:
        InputError: ``target`` is neither, names a database server, or its file is missing.
        RunInUseError: A command is running the run, or workers are running trials in the
            file (a heartbeat within the trial's grace period: its worker's, recorded in the
            file, else the default 30 s).
        StorageError: Nothing can be read from the file (it is left as it was).
    """
    url, folder = _storage_of(target)
    path = storage_file(url)
    if path.is_dir():
        raise InputError(f"storage {str(path)!r} is a folder, not a journal or SQLite file")
    if not path.is_file():
        raise InputError(f"storage file {str(path)!r} does not exist")
    with _run_locked(folder):
        _check_no_workers(url)
        if url.startswith("journal:"):
            kept, lost = recover_journal(path)
        else:
            kept, lost = recover_sqlite(path)
    return _summary(url, kept, lost, path if url.startswith("journal:") else None)


def _storage_of(target: str | Path) -> tuple[str, Path | None]:
    """``(storage URL, run folder or None)`` of what ``hyperlab recover`` was given."""
    text = str(target)
    if text.startswith(_FILE_URLS):
        return text, _run_holding(text)
    if _SCHEME.match(text) is None:
        from hyperlab.lab.run_folder import RunDir

        url = RunDir(text).load_spec().storage
        if url.startswith(_FILE_URLS):
            return url, Path(text)
        text = url
    from hyperlab.lab.storage_errors import redact

    raise InputError(
        f"cannot recover {redact(text)!r}: hyperlab recover handles journal files (journal:PATH) "
        "and SQLite files (sqlite:///PATH); repair a database server with its own tools"
    )


def _run_holding(url: str) -> Path | None:
    """The run folder whose storage the file of ``url`` is, when it lies in one (its default
    storage): recovering it takes that run's lock, as ``hyperlab recover runs/NAME`` does."""
    from hyperlab.errors import HyperlabError
    from hyperlab.lab.run_folder import RunDir
    from hyperlab.lab.run_paths import SPEC_FILE

    folder = storage_file(url).absolute().parent
    if not (folder / SPEC_FILE).is_file():
        return None
    try:
        own = storage_file(RunDir(folder).load_spec().storage)
    except (HyperlabError, OSError):
        return None
    same = own is not None and own.absolute().resolve() == storage_file(url).absolute().resolve()
    return folder if same else None


def _check_no_workers(url: str) -> None:
    """Refuse to replace a storage file while workers run trials in it (they would go on
    writing into the file that was moved aside)."""
    from hyperlab.lab.workers import live_trials, workers_running_error

    live = live_trials(url, read=False)  # (a journal by its heartbeat files alone)
    if live:
        raise workers_running_error(url, live, f"recover {str(storage_file(url))!r}")


@contextmanager
def _run_locked(folder: Path | None) -> Iterator[None]:
    if folder is None:
        yield
        return
    from hyperlab.lab.runlock import run_lock

    folder = folder.resolve()
    with run_lock(folder.parent, folder.name):
        yield


def _summary(url: str, kept: Path | None, lost: list[str], journal: Path | None) -> Recovery:
    """Open the storage as every command does and count what it holds (and for a journal,
    what points to records lost at its end)."""
    from hyperlab.lab.journal_end import end_doubts
    from hyperlab.lab.storage import open_storage
    from hyperlab.lab.trial_kinds import is_surplus

    storage = open_storage(url)
    studies = storage.get_all_studies()
    counts: Counter[str] = Counter()
    for study in studies:
        for trial in storage.get_all_trials(study._study_id, deepcopy=False):
            counts["SURPLUS" if is_surplus(trial) else trial.state.name] += 1
    doubts = end_doubts(storage, journal) if journal is not None else []
    dispose_engine(storage)
    return Recovery(url, kept, len(studies), dict(counts), lost, doubts)
