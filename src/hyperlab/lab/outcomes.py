"""What each study of a comparison spent and found, and comparisons at equal epochs.

:func:`hyperlab.compare` returns one record per trial (``tuner``, ``pruner``, ``seed``,
``trial``, ``state``, ``regret``, ``epochs_cumulative``, ...). :func:`study_outcomes` reduces
them to one :class:`StudyOutcome` per study: the epochs its trials used in all, the regret of
its best complete trial, and the points where that regret fell. Those points give the regret
the study had reached within any smaller number of epochs (:meth:`StudyOutcome.regret_at`),
which is what a budget-matched comparison needs: two pruners that stop trials at different
rates are compared at the same compute, each read where it had used that many epochs.

Records of several runs (other tasks, other pruner settings, more seeds) merge by
concatenation: label each run's records (``{**r, "task": ..., "pruner": "curve+k=3"}``) and
pass them together; the labels named in ``by`` tell the studies apart. Outcomes kept as plain
data (:meth:`StudyOutcome.to_dict`) merge with :func:`merge_outcomes`.

Regret is read from the records, so it needs a task with a known optimum; lower is better in
either direction (:func:`hyperlab.direction.regret`).
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from hyperlab.errors import InputError
from hyperlab.lab.stats import Interval, bootstrap_interval

#: Labels that tell studies apart in :func:`study_outcomes` unless ``by`` says otherwise.
STUDY_LABELS = ("tuner", "pruner", "seed")
#: Labels that pair two arms' studies in :func:`pair_studies` unless ``match`` says otherwise.
PAIR_LABELS = ("task", "tuner", "seed")
_FIELDS = ("epochs", "regret", "complete", "improvements")


@dataclass
class StudyOutcome:
    """One study: what it spent and what it found.

    Attributes:
        labels: What identifies it (e.g. ``task``, ``tuner``, ``pruner``, ``seed``).
        epochs: Epochs (budget units) its trials used in all.
        regret: Regret of its best complete trial (NaN: none completed, or no known optimum).
        complete: Trials that ran to the end.
        improvements: ``(epochs used so far, regret)`` each time the best complete trial
            improved, in order.
    """

    labels: dict[str, Any]
    epochs: int
    regret: float
    complete: int = 0
    improvements: list[tuple[int, float]] = field(default_factory=list)

    def regret_at(self, epochs: float) -> float:
        """Regret of the best trial that completed within ``epochs`` epochs (NaN: none)."""
        best = math.nan
        for used, regret in self.improvements:
            if used > epochs:
                break
            best = regret
        return best

    def matches(self, arm: Mapping[str, Any]) -> bool:
        """Whether every label in ``arm`` has that value here."""
        return all(self.labels.get(k) == v for k, v in arm.items())

    def to_dict(self) -> dict[str, Any]:
        """Plain data: the labels, then ``epochs``, ``regret``, ``complete``, ``improvements``."""
        return {
            **self.labels,
            "epochs": self.epochs,
            "regret": self.regret,
            "complete": self.complete,
            "improvements": [[e, r] for e, r in self.improvements],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> StudyOutcome:
        """The inverse of :meth:`to_dict` (every key but the four fields is a label)."""
        missing = [k for k in ("epochs", "regret") if k not in data]
        if missing:
            raise InputError(f"a study outcome needs {missing}, got the keys {sorted(data)}")
        return cls(
            labels={k: v for k, v in data.items() if k not in _FIELDS},
            epochs=int(data["epochs"]),
            regret=float(data["regret"]),
            complete=int(data.get("complete", 0)),
            improvements=[(int(e), float(r)) for e, r in data.get("improvements", [])],
        )


def study_outcomes(
    records: Iterable[Mapping[str, Any]], by: Sequence[str] = STUDY_LABELS
) -> list[StudyOutcome]:
    """One :class:`StudyOutcome` per study of ``records``, in the order studies first appear.

    Args:
        records: Per-trial records as :func:`hyperlab.compare` returns them (or rows of its
            ``results.csv``), several runs' records concatenated if need be; each needs the
            labels in ``by`` and ``trial``, ``state``, ``regret`` and ``epochs_cumulative``.
        by: The labels that tell one study from another.

    Returns:
        The outcomes, each labelled with the values of ``by``.

    Raises:
        InputError: A record lacks a field or holds a field that is not a number (an empty
            regret, as ``csv.DictReader`` reads a blank cell, is none), or no completed trial
            has a regret (the task has no known optimum: regret needs one).
    """
    studies: dict[tuple[Any, ...], list[Mapping[str, Any]]] = {}
    for r in records:
        missing = [k for k in (*by, "trial", "state", "regret", "epochs_cumulative") if k not in r]
        if missing:
            raise InputError(f"a record lacks {missing}: {dict(r)!r}")
        studies.setdefault(tuple(r[k] for k in by), []).append(r)
    outcomes = [_outcome(dict(zip(by, key)), rows) for key, rows in studies.items()]
    if any(o.complete for o in outcomes) and not any(o.improvements for o in outcomes):
        raise InputError(
            "no completed trial of the records has a regret: the task has no known optimum "
            "(its results.csv leaves 'regret' blank), so outcomes in regret cannot be read"
        )
    return outcomes


def _number(record: Mapping[str, Any], key: str) -> float:
    """The record's ``key`` as a number (NaN for an empty value, a blank CSV cell)."""
    value = record[key]
    if value is None or (isinstance(value, str) and not value.strip()):
        return math.nan
    try:
        return float(value)
    except (TypeError, ValueError):
        raise InputError(f"a record's {key!r} is not a number: {value!r}") from None


def _whole(record: Mapping[str, Any], key: str) -> int:
    number = _number(record, key)
    if not math.isfinite(number):
        raise InputError(f"a record's {key!r} is not a whole number: {record[key]!r}")
    return int(number)


def _outcome(labels: dict[str, Any], rows: list[Mapping[str, Any]]) -> StudyOutcome:
    rows = sorted(rows, key=lambda r: _whole(r, "trial"))
    best = math.inf
    improvements = []
    for r in rows:
        regret = _number(r, "regret")
        if math.isfinite(regret) and regret < best:
            best = regret
            improvements.append((_whole(r, "epochs_cumulative"), regret))
    return StudyOutcome(
        labels=labels,
        epochs=_whole(rows[-1], "epochs_cumulative"),
        regret=best if math.isfinite(best) else math.nan,
        complete=sum(r["state"] == "COMPLETE" for r in rows),
        improvements=improvements,
    )


def merge_outcomes(*runs: Iterable[StudyOutcome]) -> list[StudyOutcome]:
    """Several runs' outcomes (more seeds, more tasks, a study run again) as one list.

    A study whose labels equal an earlier one's replaces it, in the later one's place: a run
    repeated with fixed code supersedes the first.
    """
    merged: dict[tuple[tuple[str, Any], ...], StudyOutcome] = {}
    for run in runs:
        for o in run:
            key = tuple(sorted(o.labels.items(), key=lambda kv: kv[0]))
            merged.pop(key, None)
            merged[key] = o
    return list(merged.values())


def read_outcomes(paths: Sequence[str | Path]) -> tuple[list[StudyOutcome], dict[str, Any]]:
    """The outcomes saved in JSON result files, merged (:func:`merge_outcomes`).

    Args:
        paths: Files whose ``studies`` list holds :meth:`StudyOutcome.to_dict` records (as
            ``benchmarks/`` writes them with :func:`hyperlab.lab.provenance.write_result`).

    Returns:
        ``(outcomes, sources)``: ``sources`` maps each file's name to what it says made it
        (its ``produced_by``, else its ``provenance``).
    """
    runs, sources = [], {}
    for path in map(Path, paths):
        data = json.loads(path.read_text())
        if not isinstance(data, dict) or not isinstance(data.get("studies"), list):
            raise InputError(f"{path} holds no 'studies' list of study outcomes")
        runs.append([StudyOutcome.from_dict(s) for s in data["studies"]])
        sources[path.name] = data.get("produced_by") or data.get("provenance")
    return merge_outcomes(*runs), sources


def select(outcomes: Iterable[StudyOutcome], arm: Mapping[str, Any]) -> list[StudyOutcome]:
    """The outcomes whose labels include every item of ``arm`` (e.g. ``{"pruner": "asha"}``)."""
    return [o for o in outcomes if o.matches(arm)]


def pair_studies(
    outcomes: Sequence[StudyOutcome],
    a: Mapping[str, Any],
    b: Mapping[str, Any],
    match: Sequence[str] = PAIR_LABELS,
) -> list[tuple[StudyOutcome, StudyOutcome]]:
    """Pairs ``(study of arm a, study of arm b)`` that agree on the labels in ``match``.

    Args:
        outcomes: The studies.
        a: Labels every study of the first arm has (e.g. ``{"pruner": "curve"}``).
        b: Labels every study of the second arm has (e.g. ``{"pruner": "median"}``).
        match: Labels a pair shares (a missing label counts as ``None``).

    Returns:
        The pairs, in the order of arm ``a``'s studies; a study without a partner is left out.

    Raises:
        InputError: Two studies of arm ``b`` agree on every label in ``match``.
    """
    rivals: dict[tuple[Any, ...], StudyOutcome] = {}
    for o in select(outcomes, b):
        key = tuple(o.labels.get(k) for k in match)
        if key in rivals:
            raise InputError(f"two studies of {dict(b)} share the labels {dict(zip(match, key))}")
        rivals[key] = o
    pairs = []
    for o in select(outcomes, a):
        rival = rivals.get(tuple(o.labels.get(k) for k in match))
        if rival is not None:
            pairs.append((o, rival))
    return pairs


def regret_differences(
    pairs: Sequence[tuple[StudyOutcome, StudyOutcome]], at: str | float = "final"
) -> list[float]:
    """Regret of the first study of each pair minus the second's.

    Args:
        pairs: As :func:`pair_studies` returns them.
        at: ``"final"``: each study at its end; ``"equal"``: both at the smaller of their two
            epoch totals (a budget-matched comparison); a number: both at that many epochs.

    Returns:
        One difference per pair (NaN where a study had completed no trial by then).
    """
    out = []
    for a, b in pairs:
        if at == "final":
            out.append(a.regret - b.regret)
        else:
            epochs = min(a.epochs, b.epochs) if at == "equal" else _epochs(at)
            out.append(a.regret_at(epochs) - b.regret_at(epochs))
    return out


def _epochs(at: Any) -> float:
    if isinstance(at, bool) or not isinstance(at, int | float) or not at >= 0:
        raise InputError(f"at must be 'final', 'equal' or a number of epochs >= 0, got {at!r}")
    return float(at)


def paired_regret(
    outcomes: Sequence[StudyOutcome],
    a: Mapping[str, Any],
    b: Mapping[str, Any],
    *,
    at: str | float = "final",
    match: Sequence[str] = PAIR_LABELS,
    level: float = 0.95,
) -> Interval:
    """Arm ``a``'s regret minus arm ``b``'s, paired (:func:`pair_studies`), read ``at`` the end,
    at equal epochs or at a budget (:func:`regret_differences`): mean and bootstrap interval."""
    diffs = regret_differences(pair_studies(outcomes, a, b, match), at)
    return bootstrap_interval(diffs, level=level)


def group_wins(
    pairs: Sequence[tuple[StudyOutcome, StudyOutcome]],
    at: str | float = "equal",
    group: Sequence[str] = ("task", "tuner"),
) -> tuple[int, int, int]:
    """In how many groups (e.g. tasks) the first arm's mean regret is lower than the second's.

    Within a group each pair is read ``at`` the end, at equal epochs or at a budget (see
    :func:`regret_differences`); a pair side with no complete trial by then is left out of its
    arm's mean, and an arm with none left counts as infinitely bad.

    Returns:
        ``(wins, ties, groups)``.
    """
    sides: dict[tuple[Any, ...], tuple[list[float], list[float]]] = {}
    for a, b in pairs:
        if at == "final":
            ra, rb = a.regret, b.regret
        else:
            epochs = min(a.epochs, b.epochs) if at == "equal" else _epochs(at)
            ra, rb = a.regret_at(epochs), b.regret_at(epochs)
        key = tuple(a.labels.get(k) for k in group)
        sides.setdefault(key, ([], []))
        sides[key][0].append(ra)
        sides[key][1].append(rb)
    wins = ties = 0
    for ra_list, rb_list in sides.values():
        ma, mb = _mean_or_inf(ra_list), _mean_or_inf(rb_list)
        wins += ma < mb
        ties += ma == mb
    return wins, ties, len(sides)


def _mean_or_inf(values: list[float]) -> float:
    finite = [v for v in values if math.isfinite(v)]
    return float(np.mean(finite)) if finite else math.inf


def group_means(
    outcomes: Sequence[StudyOutcome],
    arm: Mapping[str, Any],
    value: str = "regret",
    group: Sequence[str] = ("task", "tuner"),
    at: float | None = None,
) -> dict[tuple[Any, ...], float]:
    """Mean ``value`` (``"regret"`` or ``"epochs"``) of arm ``arm``'s studies in each group, NaN
    regrets left out; with ``at``, the regret each study had reached within ``at`` epochs.
    Groups come in the order they first appear."""
    if value not in ("regret", "epochs"):
        raise InputError(f"value must be 'regret' or 'epochs', got {value!r}")
    cells: dict[tuple[Any, ...], list[float]] = {}
    for o in select(outcomes, arm):
        x = o.regret_at(_epochs(at)) if at is not None and value == "regret" else getattr(o, value)
        cells.setdefault(tuple(o.labels.get(k) for k in group), []).append(float(x))
    return {k: _nanmean(v) for k, v in cells.items()}


def _nanmean(values: list[float]) -> float:
    finite = [v for v in values if not math.isnan(v)]
    return float(np.mean(finite)) if finite else math.nan


def epochs_fraction(
    outcomes: Sequence[StudyOutcome],
    arm: Mapping[str, Any],
    reference: Mapping[str, Any],
    group: Sequence[str] = ("task", "tuner"),
) -> float:
    """The epochs arm ``arm`` used as a fraction of ``reference``'s (e.g. no pruning): the
    ratio of their mean epochs in each group where ``arm`` ran, averaged over the groups (NaN
    where the reference did not run)."""
    mine = group_means(outcomes, arm, "epochs", group)
    ref = group_means(outcomes, reference, "epochs", group)
    ratios = [mine[g] / ref[g] if ref.get(g) else math.nan for g in mine]
    return float(np.mean(ratios)) if ratios else math.nan
