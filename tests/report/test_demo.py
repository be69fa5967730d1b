"""The demo's front page: its records as data (verdicts, ranks, sentences) and the page."""

from __future__ import annotations

import math
import re
from pathlib import Path

import optuna
import pytest

import hyperlab
from hyperlab.direction import MAXIMIZE, MINIMIZE
from hyperlab.errors import InputError
from hyperlab.report.demo import (
    BETTER,
    FEW,
    NOISE,
    WORSE,
    DemoRecords,
    RunSummary,
    Spread,
    demo_records,
    headline,
    overall,
    pair,
    run_summary,
    write_demo_report,
)
from hyperlab.report.demo_runs import _median

#: A number followed by its interval: ``0.123 [0.1, 0.2]`` or ``+0.5 [-0.25, +1]``.
NUMBER = r"[+-]?[\d.e+-]+ \[[+-]?[\d.e+-]+, [+-]?[\d.e+-]+\]"

SEEDS = list(range(8))


def _run(name: str, scores: dict[str, list[float]]) -> RunSummary:
    """A problem run's summary built from final regrets (one per seed)."""
    tuners = list(scores)
    seeds = list(range(len(scores["meta"])))
    return RunSummary(
        name=name,
        task=name,
        link=f"problem-{name}/report.html",
        measure="regret",
        direction=MINIMIZE,
        seeds=seeds,
        trials=20,
        tuners=tuners,
        scores={t: dict(zip(seeds, v)) for t, v in scores.items()},
        spreads={t: Spread(sorted(v)[len(v) // 2], min(v), max(v)) for t, v in scores.items()},
        seconds={t: 1.0 for t in tuners},
        pairs=[pair(scores["meta"], scores[t], t, MINIMIZE) for t in tuners if t != "meta"],
    )


def _wiggle(base: float) -> list[float]:
    return [base + 0.01 * ((i * 7) % 5) for i in SEEDS]


@pytest.fixture
def records() -> DemoRecords:
    """meta beats random on both problems, and tpe on one but not on the other."""
    first = _run("p1", {"random": _wiggle(1.0), "tpe": _wiggle(0.5), "meta": _wiggle(0.2)})
    tied = [0.5 + (0.1 if i % 2 else -0.1) for i in SEEDS]
    second = _run("p2", {"random": _wiggle(2.0), "tpe": _wiggle(0.1), "meta": tied})
    rec = DemoRecords("meta", [first, second], overall([first, second], "meta"))
    rec.headline = headline(rec)
    return rec


def test_pair_calls_a_difference_only_where_the_interval_and_the_test_agree() -> None:
    low, high = _wiggle(0.0), _wiggle(1.0)
    assert pair(low, high, "x", MINIMIZE).verdict == BETTER
    assert pair(high, low, "x", MINIMIZE).verdict == WORSE
    assert pair(high, low, "x", MAXIMIZE).verdict == BETTER
    mixed = [(-1.0) ** i for i in SEEDS]
    assert pair(mixed, [0.0] * 8, "x", MINIMIZE).verdict == NOISE
    few = pair(low[:5], high[:5], "x", MINIMIZE)  # 5 pairs cannot pass the signed-rank test
    assert few.verdict == FEW and few.n == 5
    p = pair(low, high, "x", MINIMIZE)
    assert p.difference.low <= p.difference.value <= p.difference.high < 0
    assert 0 < p.p_value < 0.05 and re.fullmatch(NUMBER, p.text())


def test_overall_ranks_every_problem_and_seed(records: DemoRecords) -> None:
    ov = records.overall
    assert ov is not None and ov.problems == 2 and ov.n == 16
    assert set(ov.ranks) == {"random", "tpe", "meta"}
    assert ov.ranks["random"].value == 3.0  # last on every problem and seed
    assert ov.ranks["meta"].low <= ov.ranks["meta"].value <= ov.ranks["meta"].high
    verdicts = {p.other: p.verdict for p in ov.pairs}
    assert verdicts["random"] == BETTER
    assert ov.tally["random"][BETTER] == 2
    assert ov.tally["tpe"][BETTER] == 1 and ov.tally["tpe"][WORSE] == 1


def test_headline_says_what_the_network_did_with_intervals(records: DemoRecords) -> None:
    lede, *against = records.headline
    assert lede.startswith("Over 2 problems with a known optimum (8 seeds × 20 trials each), ")
    assert "meta ranked better than random" in lede
    assert "mean rank among 3 tuners over 16 problem × seed runs" in lede
    assert [line.split(":")[0] for line in against] == ["Against random", "Against tpe"]
    pattern = (
        rf"Against (\w+): lower regret on (\d) of 2 problems, higher on (\d), within noise on "
        rf"(\d); mean rank ({NUMBER}) against ({NUMBER}), difference ({NUMBER}): "
        rf"(better|worse|within noise)\."
    )
    for line in against:
        assert re.fullmatch(pattern, line), line
    assert "Against random: lower regret on 2 of 2 problems, higher on 0" in against[0]


def test_headline_says_when_seeds_are_too_few() -> None:
    run = _run("p", {"random": [0.5, 0.6, 0.7], "meta": [0.1, 0.2, 0.3]})
    rec = DemoRecords("meta", [run], overall([run], "meta"))
    lede, against = headline(rec)
    assert "meta was not judged (fewer than 6 pairs) against random" in lede
    assert "ranked not judged" not in lede
    assert against.endswith(": too few seeds.") and "too few seeds on 1" in against
    assert "lower regret on 0 of 1 problem, higher on 0" in against


def test_one_seed_has_no_interval() -> None:
    """One seed, one difference: ``[n/a]``, as :meth:`Interval.text` says, not ``[n/a, n/a]``
    or a median's ``[x, x]`` that looks like certainty."""
    run = _run("p", {"random": [0.5], "meta": [0.1]})
    assert run.pairs[0].text() == "-0.4 [n/a]"
    assert _median([0.2]).text() == "0.2 [n/a]"
    run.spreads = {t: _median(list(v.values())) for t, v in run.scores.items()}
    live = headline(DemoRecords("meta", [], None, live=run))[-1]
    assert "meta 0.1 [n/a]; against random 0.5 [n/a]: difference -0.4 [n/a]" in live, live


def _objective(trial: optuna.Trial) -> float:
    x = trial.suggest_float("x", -2.0, 2.0)
    y = trial.suggest_int("y", 0, 4)
    return (x - 0.5) ** 2 + 0.1 * y


@pytest.fixture(scope="module")
def demo_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny problem run and a live run on a user's objective (no known optimum)."""
    folder = tmp_path_factory.mktemp("demo")
    common = {"seeds": 2, "trials": 3, "runs_dir": folder, "progress": False, "report": False}
    tuners = ["random", "meta"]
    hyperlab.compare("synth-levy-4d-1", tuners, name="problem-synth-levy-4d-1", **common)
    hyperlab.compare(_objective, tuners, name="live", **common)
    return folder


def test_records_of_real_runs(demo_dir: Path) -> None:
    problems = [demo_dir / "problem-synth-levy-4d-1"]
    rec = demo_records(problems, demo_dir / "live", experiments=["self-lr"], base=demo_dir)
    first = rec.problems[0]
    assert first.measure == "regret" and first.seeds == [0, 1] and first.trials == 3
    assert first.tuners == ["random", "meta"]
    assert all(len(v) == 2 and all(r >= 0 for r in v.values()) for v in first.scores.values())
    assert first.link == "problem-synth-levy-4d-1/report.html"
    assert [p.other for p in first.pairs] == ["random"]
    assert all(p.verdict == FEW for p in first.pairs)  # two seeds
    assert all(math.isfinite(s) and s >= 0 for s in first.seconds.values())
    assert rec.overall is not None and rec.overall.n == 2
    live = rec.live
    assert live is not None and live.measure == "best value" and live.direction == MINIMIZE
    assert live.link == "live/report.html"
    assert rec.headline[-2].startswith("Live run on ") and "meta " in rec.headline[-2]
    assert re.search(
        rf"against random {NUMBER}: difference {NUMBER}, too few seeds", rec.headline[-2]
    )
    assert rec.headline[-1].startswith("Hypergradient experiments (quick versions")


def test_the_page_shows_the_answer_first_and_links_the_reports(demo_dir: Path) -> None:
    problems = [demo_dir / "problem-synth-levy-4d-1"]
    rec = demo_records(problems, demo_dir / "live", experiments_page=demo_dir / "experiments.html")
    page = write_demo_report(rec, demo_dir).read_text()
    answer = page.index("The answer")
    assert answer < page.index("Regret per problem") < page.index("Mean ranks")
    assert page.index("Over 1 problem with a known optimum") > answer
    for href in ("problem-synth-levy-4d-1/report.html", "live/report.html", "experiments.html"):
        assert f"href='{href}'" in page
    assert page.count("Plotly.newPlot(") == 1


def test_bad_runs_are_refused(demo_dir: Path, tmp_path: Path) -> None:
    with pytest.raises(InputError, match="at least one comparison run"):
        demo_records([])
    hyperlab.tune(_objective, "random", trials=2, name="single", runs_dir=tmp_path, progress=False)
    with pytest.raises(InputError, match="not a comparison"):
        run_summary(tmp_path / "single", "meta")
