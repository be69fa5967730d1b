"""``benchmarks/self_lr_tuner.py`` pairs each self-tuning arm with its outside tuner by task
and seed, and reads the rule's verdict as lower or higher."""

from __future__ import annotations

from types import ModuleType
from typing import Any

from tests.modules import load_script


def _bench() -> ModuleType:
    return load_script("benchmarks/self_lr_tuner.py", "self_lr_tuner_bench")


def _row(task: str, tuner: str, seed: int, best: float, test: float | None = 0.5) -> dict:
    return {"task": task, "tuner": tuner, "seed": seed, "best": best, "test": test, "seconds": 1.0}


def _rows(hd_shift: float, seeds: int = 8) -> list[dict[str, Any]]:
    rows = []
    for task in ("a", "b"):
        for s in range(seeds):
            rows.append(_row(task, "tpe", s, 1.0 + 0.01 * s))
            rows.append(_row(task, "tpe-hd", s, 1.0 + 0.01 * s + hd_shift * (1 + 0.1 * s)))
    return rows


def test_each_task_and_all_tasks_together_are_paired_by_seed() -> None:
    entries = _bench().summary(_rows(-0.1))
    assert [(e["task"], e["hd"], e["outside"], e["pairs"]) for e in entries] == [
        ("a", "tpe-hd", "tpe", 8),
        ("b", "tpe-hd", "tpe", 8),
        ("all tasks", "tpe-hd", "tpe", 16),
    ]
    diff = entries[0]["diff_best"]
    assert diff["verdict"] == "lower" and diff["lower_in"] == 8 and diff["mean"] < 0


def test_higher_losses_read_higher_and_a_seed_without_its_partner_is_left_out() -> None:
    rows = [*_rows(+0.1), _row("a", "tpe-hd", 99, 0.0)]
    entry = _bench().summary(rows)[0]
    assert entry["pairs"] == 8 and entry["diff_best"]["verdict"] == "higher"


def test_a_missing_test_score_is_left_out_of_its_pair_only() -> None:
    rows = _rows(-0.1)
    rows[1]["test"] = None  # task a, tpe-hd, seed 0
    entry = _bench().summary(rows)[0]
    assert entry["pairs"] == 8 and entry["diff_test"]["n"] == 7 and entry["diff_best"]["n"] == 8


def test_an_arm_without_its_partner_makes_no_pair() -> None:
    rows = [*_rows(-0.1), _row("a", "random-hd", 0, 1.0)]
    assert {e["hd"] for e in _bench().summary(rows)} == {"tpe-hd"}
