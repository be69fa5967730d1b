"""The leaderboard's statistics over plain runs: regret at checkpoints, ranks, tests, cost."""

from __future__ import annotations

import math

import numpy as np
import pytest

from hyperlab.errors import InputError, InputTypeError
from hyperlab.lab.leaderboard import PanelRun, leaderboard, markdown
from hyperlab.lab.leaderboard_rows import holm, holm_tests, seed_ranks
from hyperlab.lab.leaderboard_runs import index_runs
from hyperlab.lab.stats import paired_comparison


def _run(problem: str, tuner: str, seed: int, final: float, n: int = 20, **kw: float) -> PanelRun:
    """A run whose best loss falls linearly from ``final + 1`` to ``final`` over ``n`` trials."""
    best = list(np.linspace(final + 1.0, final, n))
    return PanelRun(problem, tuner, seed, best, wall_time=2.0, suggest_time=0.1 * n, **kw)


def _panel() -> list[PanelRun]:
    runs = []
    for seed in range(4):
        for problem, optimum in (("f", 0.0), ("g", None)):
            runs.append(_run(problem, "good", seed, 0.1 + 0.01 * seed, optimum=optimum))
            runs.append(_run(problem, "peer", seed, 0.5 + 0.01 * seed, optimum=optimum))
            runs.append(_run(problem, "bad", seed, 2.0 + 0.01 * seed, optimum=optimum))
    return runs


def test_regret_is_read_at_each_reached_checkpoint() -> None:
    board = leaderboard(_panel(), checkpoints=(10, 20, 50), reference="peer")
    assert board.checkpoints == [10, 20]  # no run reached 50
    assert leaderboard(_panel(), (5,), "peer").checkpoints == [5, 20]  # and the last trial
    row = next(
        r for r in board.regret if (r["problem"], r["tuner"], r["trials"]) == ("f", "good", 20)
    )
    assert row["mean"] == pytest.approx(0.115)  # known optimum 0
    assert row["low"] <= row["mean"] <= row["high"] and row["n"] == 4
    # without a known optimum the best any run found (good, seed 0: 0.1) is the optimum
    row = next(
        r for r in board.regret if (r["problem"], r["tuner"], r["trials"]) == ("g", "bad", 20)
    )
    assert row["median"] == pytest.approx(2.015 - 0.1)


def test_ranks_and_tests_against_the_named_reference() -> None:
    board = leaderboard(_panel(), reference="peer")
    assert [r["tuner"] for r in board.ranks] == ["good", "peer", "bad"]
    assert board.ranks[0]["mean"] == 1.0 and board.ranks[-1]["mean"] == 3.0
    assert board.reference == "peer"
    tests = {r["tuner"]: r for r in board.tests}
    assert set(tests) == {"good", "bad"}
    assert tests["good"]["verdict"] == "better" and tests["good"]["p_value"] < 0.05
    assert tests["good"]["p_holm"] == pytest.approx(2 * tests["good"]["p_value"])  # 2 tests
    assert tests["bad"]["verdict"] == "worse"
    assert {(r["problem"], r["tuner"]) for r in board.problem_tests} == {
        (p, t) for p in "fg" for t in ("good", "bad")
    }


def test_unnamed_the_reference_is_tpe_or_tpe_median_whatever_the_runs_order() -> None:
    """Not picked from the results, nor from the runs' order (it was the first tuner the runs
    named): ``tpe`` on the trials axis, ``tpe+median`` on a cost axis."""
    runs = [
        PanelRun("f", t, 0, [1.0, 0.5], optimum=0.0, cost=[1.0, 2.0])
        for t in ("bad", "tpe", "tpe+median", "good")
    ]
    for order in (runs, runs[::-1]):
        assert leaderboard(order).reference == "tpe"
        assert leaderboard(order, (1, 2), unit="epochs").reference == "tpe+median"


def test_unnamed_a_reference_the_runs_lack_is_refused_naming_the_tuners() -> None:
    with pytest.raises(InputError, match=r"no 'tpe' .*reference=NAME, one of: good, peer, bad"):
        leaderboard(_panel())
    runs = [PanelRun("f", "tpe", 0, [1.0], cost=[1.0]), PanelRun("f", "x", 0, [2.0], cost=[1.0])]
    with pytest.raises(InputError, match=r"no 'tpe\+median' \(the default reference in epochs\)"):
        leaderboard(runs, (1,), unit="epochs")


def test_a_reference_that_did_not_run_is_refused_by_name() -> None:
    with pytest.raises(InputError, match="'tpe' is not one of the runs' tuners: good, peer, bad"):
        leaderboard(_panel(), reference="tpe")


def test_a_reference_group_is_refused_with_the_reason() -> None:
    """``reference_group`` (a group whose best-ranked tuner was the reference) is not taken:
    by keyword it is refused by name, and a list in the reference's place is no name."""
    with pytest.raises(InputError, match=r"takes no reference_group .*reference=NAME"):
        leaderboard(_panel(), reference_group=["peer", "bad"])  # type: ignore[arg-type]
    with pytest.raises(InputTypeError, match=r"one tuner's name, got \['peer', 'bad'\] \(list\)"):
        leaderboard(_panel(), (10, 20), ["peer", "bad"])  # type: ignore[arg-type]


def test_the_pages_tests_are_corrected_together_by_holm() -> None:
    """``x`` beats the reference on 10 of 12 problems (p 0.039 alone): beside two tuners level
    with the reference, Holm's adjusted p is 3 times that, and the verdict within noise."""
    runs = []
    for i in range(12):
        runs += [PanelRun(f"p{i}", "ref", 0, [0.5]), PanelRun(f"p{i}", "x", 0, [float(i >= 10)])]
        runs += [PanelRun(f"p{i}", f"f{k}", 0, [0.4 if (i + k) % 2 else 0.6]) for k in (0, 1)]
    board = leaderboard(runs, reference="ref")
    ranks = seed_ranks(index_runs(runs), board.problems, board.tuners, 1, "trials")
    alone = paired_comparison([r["x"] for r in ranks.values()], [r["ref"] for r in ranks.values()])
    assert alone.verdict == "better" and alone.p_value < 0.05
    x = next(r for r in board.tests if r["tuner"] == "x")
    assert x["p_value"] == pytest.approx(alone.p_value)
    assert x["p_holm"] == pytest.approx(3 * alone.p_value) and x["verdict"] == "within noise"


def test_holms_adjusted_p_values_and_verdicts() -> None:
    nan = math.nan
    adjusted = holm([0.01, 0.04, 0.03, nan])  # m = 3: 3 x 0.01, max(0.03, 2 x 0.03), max(.., 0.04)
    assert adjusted[:3] == pytest.approx([0.03, 0.06, 0.06]) and math.isnan(adjusted[3])
    rows = [
        {"tuner": "a", "p_value": 0.01, "verdict": "better"},
        {"tuner": "b", "p_value": 0.04, "verdict": "worse"},
        {"tuner": "c", "p_value": 0.03, "verdict": "within noise"},
        {"tuner": "d", "p_value": nan, "verdict": "no data"},
    ]
    said = [r["verdict"] for r in holm_tests(rows)]
    assert said == ["better", "within noise", "within noise", "no data"]


def test_holm_gives_tied_p_values_one_adjusted_p_whatever_their_order() -> None:
    """Tied p-values get the same adjusted p (the larger multiplier's, by the running
    maximum), the adjusted p's keep the raw ones' order, and none exceeds 1."""
    p = [0.5, 0.02, 0.02, 0.3, 0.02]
    adjusted = holm(p)
    assert adjusted == pytest.approx([0.6, 0.1, 0.1, 0.6, 0.1])
    assert holm(p[::-1]) == pytest.approx(adjusted[::-1])
    by_raw = [q for _, q in sorted(zip(p, adjusted, strict=True))]
    assert by_raw == sorted(by_raw) and max(holm([0.4, 0.6, 0.9])) == 1.0


def test_a_missing_run_ranks_last_and_cost_is_per_trial() -> None:
    runs = [r for r in _panel() if not (r.tuner == "good" and r.seed == 0 and r.problem == "f")]
    board = leaderboard(runs, reference="peer")
    ranks = {r["tuner"]: r["mean"] for r in board.ranks}
    assert ranks["good"] == pytest.approx((7 * 1 + 3) / 8)
    cost = {r["tuner"]: r for r in board.cost}
    assert cost["peer"]["suggest_per_trial"] == pytest.approx(0.1)
    assert cost["peer"]["wall_time"] == 2.0 and cost["good"]["runs"] == 7
    assert board.to_dict()["reference"] == board.reference


def test_bad_input_is_refused() -> None:
    with pytest.raises(InputError, match="none"):
        leaderboard([])
    with pytest.raises(InputError, match="seed 0"):
        leaderboard([_run("f", "a", 0, 1.0), _run("f", "a", 0, 2.0)])
    with pytest.raises(InputError, match="checkpoints"):
        leaderboard([_run("f", "a", 0, 1.0)], checkpoints=(0,), reference="a")
    with pytest.raises(InputError, match="empty"):
        leaderboard([PanelRun("f", "a", 0, [])])


def test_a_run_with_no_finite_value_has_nan_regret() -> None:
    board = leaderboard(
        [PanelRun("f", "a", 0, [math.inf] * 3), _run("f", "b", 0, 1.0, n=3)], reference="b"
    )
    row = next(r for r in board.regret if r["tuner"] == "a")
    assert math.isnan(row["mean"]) and row["n"] == 0


def test_problem_tests_read_regret_where_the_ranks_are_read() -> None:
    """A run that stopped early has no value at the last checkpoint: it ranks last there, and
    its earlier final regret is not compared with the others' later ones."""
    runs = [r for r in _panel() if r.problem == "f" and r.tuner != "good"]
    runs += [_run("f", "early", seed, 0.0, n=10) for seed in range(4)]
    board = leaderboard(runs, reference="peer")
    assert {r["tuner"]: r["mean"] for r in board.ranks}["early"] == 3.0
    row = next(r for r in board.problem_tests if r["tuner"] == "early")
    assert row["n"] == 0 and row["verdict"] == "no data"
    assert next(r for r in board.problem_tests if r["tuner"] == "bad")["n"] == 4


def test_suggest_time_per_trial_counts_only_the_runs_that_recorded_it() -> None:
    timed = _run("f", "a", 0, 1.0, n=10)  # 1 s over 10 trials
    untimed = PanelRun("f", "a", 1, [1.0] * 30, wall_time=2.0)  # no suggest_time
    cost = leaderboard([timed, untimed], reference="a").cost[0]
    assert cost["suggest_per_trial"] == pytest.approx(0.1)


def _epoch_run(tuner: str, seed: int, best: list[float], cost: list[float]) -> PanelRun:
    return PanelRun("f", tuner, seed, best, wall_time=1.0, optimum=0.0, cost=cost)


def test_in_epochs_each_run_is_cut_at_the_checkpoint() -> None:
    """Runs of one budget that spend it in different trials are read at equal epochs."""
    runs = []
    for seed in range(3):
        # many cheap trials: 0.5 by 10 epochs, 0.2 by 30
        runs.append(_epoch_run("cheap", seed, [0.9, 0.5, 0.5, 0.2], [5, 10, 20, 30]))
        # two full trials of 15 epochs: 0.4 by 15 epochs, 0.1 by 30, then more (overshoot)
        runs.append(_epoch_run("full", seed, [0.4, 0.1, 0.1], [15.0, 30.0, 45.0]))
    board = leaderboard(runs, (10, 30, 100), "full", unit="epochs")
    assert board.checkpoints == [10, 30] and board.unit == "epochs"  # none added
    cells = {(r["tuner"], r["epochs"]): r["mean"] for r in board.regret}
    assert cells[("cheap", 10)] == pytest.approx(0.5)
    assert math.isnan(cells[("full", 10)])  # no trial finished within 10 epochs
    assert cells[("full", 30)] == pytest.approx(0.1)  # cut at 30: its third trial not read
    assert [r["tuner"] for r in board.ranks] == ["full", "cheap"]
    cost = {r["tuner"]: r for r in board.cost}
    assert cost["full"]["spent"] == 45.0 and cost["full"]["entries"] == 2.0
    assert cost["cheap"]["entries"] == 4.0
    per_problem = {r["tuner"]: r for r in board.problem_cost}
    assert per_problem["cheap"]["runs"] == 3 and per_problem["cheap"]["spent"] == 30.0


def test_in_epochs_a_run_that_spent_less_does_not_count() -> None:
    runs = [
        _epoch_run("short", 0, [0.0, 0.0], [5, 10]),
        _epoch_run("long", 0, [0.3, 0.3], [10, 20]),
    ]
    board = leaderboard(runs, (10, 20), "long", unit="epochs")
    cells = {(r["tuner"], r["epochs"]): r["mean"] for r in board.regret}
    assert cells[("short", 10)] == 0.0 and math.isnan(cells[("short", 20)])
    assert board.ranks[0]["tuner"] == "long"  # ranks are read at 20 epochs


def test_a_cost_axis_needs_a_cost_per_trial_and_a_reached_checkpoint() -> None:
    with pytest.raises(InputError, match="cumulative epochs"):
        leaderboard([_run("f", "a", 0, 1.0)], reference="a", unit="epochs")
    with pytest.raises(InputError, match="cumulative epochs"):
        leaderboard([_epoch_run("a", 0, [1.0, 0.5], [10, 5])], reference="a", unit="epochs")
    with pytest.raises(InputError, match="no run reached"):
        leaderboard([_epoch_run("a", 0, [1.0], [10])], (20,), "a", unit="epochs")


def test_markdown_lists_every_tuner_in_rank_order_with_its_wins_and_verdict() -> None:
    table = markdown(leaderboard(_panel(), reference="peer").to_dict()).splitlines()
    assert table[0].startswith("| tuner | mean rank at 20 trials [95%] | at 10 |")
    assert "| vs `peer` (Holm-adjusted Wilcoxon p) |" in table[0]
    rows = [line.split(" | ") for line in table[2:]]
    assert [r[0] for r in rows] == ["| `good`", "| `peer`", "| `bad`"]
    assert rows[0][1].startswith("1.00 [") and rows[0][2] == "1.00"
    tests = leaderboard(_panel(), reference="peer").tests
    good = next(t for t in tests if t["tuner"] == "good")
    assert rows[0][3] == f"better ({good['p_holm']:.2g})" and rows[1][3] == "reference"
    assert rows[0][4] == "`f`, `g`" and rows[2][4] == "-"


def test_the_rank_curve_follows_each_checkpoint() -> None:
    fast = [1.0] * 5 + [0.5] * 15  # good early, then stuck
    slow = [2.0] * 15 + [0.1] * 5  # bad early, best at the end
    runs = [
        PanelRun("f", t, seed, list(best), optimum=0.0)
        for seed in range(3)
        for t, best in (("fast", fast), ("slow", slow))
    ]
    board = leaderboard(runs, checkpoints=(10, 20), reference="fast")
    curve = {(r["tuner"], r["trials"]): r["mean"] for r in board.rank_curve}
    assert curve == {("fast", 10): 1.0, ("slow", 10): 2.0, ("fast", 20): 2.0, ("slow", 20): 1.0}
    assert [r["tuner"] for r in board.ranks] == ["slow", "fast"]


def test_markdown_of_one_pairing_says_it_has_no_interval() -> None:
    runs = [_run("f", "a", 0, 1.0), _run("f", "b", 0, 2.0)]
    table = markdown(leaderboard(runs, reference="a").to_dict())
    assert "| `a` | 1.00 [n/a] |" in table and "nan" not in table


def test_each_problems_regret_tests_are_corrected_together_by_holm() -> None:
    """On one problem ``x`` has lower regret than the reference on 10 of 12 seeds (p 0.039
    alone): beside two tuners level with the reference there, Holm's adjusted p is 3 times
    that, and the stored verdict within noise (it read better)."""
    values = {"ref": lambda s: 0.5, "x": lambda s: float(s >= 10)}
    values |= {f"f{k}": (lambda s, k=k: 0.4 if (s + k) % 2 else 0.6) for k in (0, 1)}
    runs = [
        PanelRun(p, t, s, [v(s)], optimum=0.0)
        for p in "pq"
        for t, v in values.items()
        for s in range(12)
    ]
    board = leaderboard(runs, reference="ref")
    ref = [0.5] * 12
    alone = paired_comparison([float(s >= 10) for s in range(12)], ref)
    assert alone.verdict == "better" and alone.p_value < 0.05
    rows = {(r["problem"], r["tuner"]): r for r in board.problem_tests}
    for problem in "pq":  # one family per problem: 3 tests each, not 6
        x = rows[problem, "x"]
        assert x["p_value"] == pytest.approx(alone.p_value)
        assert x["p_holm"] == pytest.approx(3 * alone.p_value) and x["verdict"] == "within noise"
