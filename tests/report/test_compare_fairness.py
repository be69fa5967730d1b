"""What a comparison against peers tells about its own fairness: the options each tuner ran
with and the peers' library versions."""

from __future__ import annotations

import json
from pathlib import Path

import optuna
import pytest

import hyperlab
from hyperlab.report import compare_records
from hyperlab.report.comparison_html import render_compare


def _objective(trial: optuna.Trial) -> float:
    return trial.suggest_float("x", -1.0, 1.0) ** 2 + trial.suggest_int("n", 1, 64, log=True)


@pytest.fixture(scope="module")
def with_peer(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """random and hyperopt-tpe (its start-up shortened), 2 seeds of 3 trials."""
    root = tmp_path_factory.mktemp("compare-peer")
    hyperlab.compare(
        _objective, ["random", "hyperopt-tpe"], seeds=2, trials=3, runs_dir=root, name="c",
        tuner_options={"n_startup_jobs": 2}, progress=False,
    )  # fmt: skip
    return root / "c"


def test_the_run_records_the_version_of_the_peer_library_it_ran(with_peer: Path) -> None:
    """run.json recorded hyperlab's own dependencies only: a comparison against Hyperopt's
    TPE did not say which Hyperopt it ran."""
    from importlib.metadata import version

    recorded = json.loads((with_peer / "run.json").read_text())["versions"]
    assert recorded["hyperopt"] == version("hyperopt")
    assert f"hyperopt {version('hyperopt')}" in compare_records(with_peer).versions


def test_the_report_names_the_options_each_tuner_took(with_peer: Path) -> None:
    """The report's setup named the tuners, never the options they ran with: a peer run with
    a shortened start-up read as one at its defaults."""
    rec = compare_records(with_peer)
    assert rec.options == "hyperopt-tpe: n_startup_jobs=2"  # random takes none of them
    assert "Options: hyperopt-tpe: n_startup_jobs=2." in render_compare(rec)
