"""End to end: ``hyperlab compare`` of pruners on a replayed LCBench task."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from hyperlab.cli import main
from hyperlab.lab.rundir import load_studies


@pytest.mark.slow
def test_compare_none_and_curve_on_lcbench(tmp_path: Path) -> None:
    args = ["compare", "--task", "lcbench-3945", "--tuners", "random", "--pruners", "none,curve"]
    args += ["--seeds", "1", "--trials", "10", "--budget", "20"]
    args += ["--runs-dir", str(tmp_path), "--name", "lc"]
    assert main([*args, "--no-progress"]) == 0
    df = pd.read_csv(tmp_path / "lc" / "results.csv")
    assert set(df["pruner"]) == {"none", "curve"}
    epochs = df.groupby("pruner")["budget"].sum()
    assert epochs["none"] == 10 * 20
    assert epochs["curve"] < epochs["none"]  # the curve pruner stopped something
    pruned = [
        t
        for study, _, pruner, _ in load_studies(tmp_path / "lc")
        for t in study.trials
        if t.state.name == "PRUNED" and pruner == "curve"
    ]
    assert pruned
    reasons = [t.user_attrs["prune_reason"] for t in pruned]
    assert all(r.startswith(("median rule", "predicted final")) for r in reasons), reasons
    assert all(t.last_step is not None and t.last_step >= 2 for t in pruned)
    assert "random+curve" in (tmp_path / "lc" / "report.html").read_text()
