"""The meta tuner: its output distribution, score scale, prior, training and sampler."""

from __future__ import annotations

import math
import re
import warnings
from pathlib import Path

import numpy as np
import optuna
import pytest
import torch
from optuna.distributions import CategoricalDistribution, FloatDistribution

from hyperlab.errors import DataNotFoundError, InputError, InputTypeError
from hyperlab.registry import TUNERS
from hyperlab.space import SpaceEncoder
from hyperlab.tuners.meta import MetaSampler, PFNConfig
from hyperlab.tuners.meta import weights as meta_weights
from hyperlab.tuners.meta.bars import BarDistribution
from hyperlab.tuners.meta.calibration import coverage
from hyperlab.tuners.meta.escape import RADIUS, START
from hyperlab.tuners.meta.prior import TableProblems, _gp_kernel, gp_batch
from hyperlab.tuners.meta.scores import ScoreScale
from hyperlab.tuners.meta.training import TrainingPlan, train
from hyperlab.tuners.meta.zoom import FLOOR, TOP, inside, stretch, zoom_box

optuna.logging.set_verbosity(optuna.logging.ERROR)


# ----------------------------------------------------------------------------- the output
def test_bars_cover_the_range_and_send_outliers_to_the_ends() -> None:
    bars = BarDistribution(16, limit=5.0)
    assert bars.borders[0] == pytest.approx(-5.0) and bars.borders[-1] == pytest.approx(5.0)
    idx = bars.bucket_of(torch.tensor([-100.0, 0.0, 100.0]))
    assert idx.tolist()[0] == 0 and idx.tolist()[2] == 15


def test_quantile_inverts_cdf_and_mean_of_a_bucket_is_its_middle() -> None:
    bars = BarDistribution(32)
    probs = torch.softmax(torch.randn(3, 32, dtype=torch.float64), -1)
    for q in (0.1, 0.5, 0.9):
        y = bars.quantile(probs, q)
        assert bars.cdf(probs, y).numpy() == pytest.approx([q] * 3, abs=1e-6)
    one = torch.zeros(1, 32, dtype=torch.float64)
    one[0, 20] = 1.0
    mid = float((bars.borders[20] + bars.borders[21]) / 2)
    assert float(bars.mean(one)[0]) == pytest.approx(mid)


def test_expected_improvement_of_one_bucket() -> None:
    bars = BarDistribution(8, limit=4.0)
    lo, hi = float(bars.borders[3]), float(bars.borders[4])
    one = torch.zeros(1, 8, dtype=torch.float64)
    one[0, 3] = 1.0
    assert float(bars.expected_improvement(one, hi + 1.0)[0]) == pytest.approx(
        hi + 1 - (lo + hi) / 2
    )
    assert float(bars.expected_improvement(one, lo)[0]) == 0.0
    mid = (lo + hi) / 2  # half the bucket below: E[(mid - y)+] = (mid - lo)^2 / (2 (hi - lo))
    assert float(bars.expected_improvement(one, mid)[0]) == pytest.approx(
        (mid - lo) ** 2 / (2 * (hi - lo))
    )


# ------------------------------------------------------------------------------ the scale
def test_score_scale_standardizes_the_context_and_keeps_order() -> None:
    y = np.array([1.0, 2.0, 4.0, 100.0, 3.0])
    scale = ScoreScale(y)
    z = scale(y)
    assert abs(z.mean()) < 1e-9 and z.std() == pytest.approx(1.0)
    assert list(np.argsort(z)) == list(np.argsort(y))
    assert ScoreScale(np.array([7.0]))(np.array([7.0]))[0] == 0.0
    assert ScoreScale(np.array([]))(np.array([3.0]))[0] == 3.0


# ------------------------------------------------------------------------------ the prior
def test_gp_batch_shapes_flags_and_finite_scores() -> None:
    b = gp_batch(np.random.default_rng(0), 4, 10, 6, max_dim=12)
    assert b.x_ctx.shape == (4, 10, 12) and b.x_query.shape == (4, 6, 12)
    assert b.y_ctx.shape == (4, 10) and torch.isfinite(b.y_query).all()
    used = b.flags.sum(1)
    assert (used >= 1).all() and (used <= 12).all()
    # columns beyond the used ones are zero
    for i in range(4):
        assert float(b.x_ctx[i, :, int(used[i]) :].abs().sum()) == 0.0


def _neighbour_correlation(additive: float, draws: int = 200) -> float:
    """Mean prior correlation of one parameter's scores 0.1 apart (lower: more rugged)."""
    rng = np.random.default_rng(3)
    grid = np.array([[0.45], [0.55]])
    return float(
        np.mean([_gp_kernel(rng, grid, [(0, 1)], additive)[0][0, 1] for _ in range(draws)])
    )


def test_the_additive_share_draws_rugged_functions() -> None:
    smooth, rugged = _neighbour_correlation(0.0), _neighbour_correlation(1.0)
    assert rugged < smooth - 0.25


def _choice_correlation(categorical: float, draws: int = 300) -> float:
    """Median prior correlation of the scores of two configurations that differ only in the
    choice of one categorical (one-hot columns 1-3 beside a numeric column 0)."""
    rng = np.random.default_rng(5)
    x = np.array([[0.3, 1.0, 0.0, 0.0], [0.3, 0.0, 1.0, 0.0]])
    blocks = [(0, 1), (1, 3)]
    corr = []
    for _ in range(draws):
        k = _gp_kernel(rng, x, blocks, 0.0, categorical)[0]
        corr.append(k[0, 1] / np.sqrt(k[0, 0] * k[1, 1]))
    return float(np.median(corr))


def test_the_categorical_share_makes_choices_share_the_score() -> None:
    """Under the Matérn over one-hot columns two choices' scores are nearly unrelated (the
    meta tuner then predicts an unseen choice at the trials' average); the share draws them
    correlated."""
    assert _choice_correlation(0.0) < 0.1
    assert _choice_correlation(1.0) > 0.3
    c = gp_batch(np.random.default_rng(0), 3, 8, 4, max_dim=12, categorical=1.0)
    assert torch.isfinite(c.y_query).all() and torch.isfinite(c.y_ctx).all()
    assert not torch.allclose(c.y_query, torch.tensor(PRE_OPTION_Y_QUERY), atol=1e-4)


#: ``gp_batch(default_rng(0), 3, 8, 4, max_dim=12).y_query`` as the prior drew it before its
#: ``additive`` and ``categorical`` options (two of its three problems have categoricals).
PRE_OPTION_Y_QUERY = [
    [0.58642, 2.21701, -1.54369, -0.31519],
    [-1.76607, -1.02086, -1.60878, -0.95687],
    [-0.68022, -2.87671, -0.73422, -0.03491],
]


@pytest.mark.parametrize(
    "options", [{}, {"additive": 0.0, "categorical": 0.0}], ids=["defaults", "zero shares"]
)
def test_the_prior_options_at_zero_draw_the_problems_drawn_before_them(
    options: dict[str, float],
) -> None:
    """A share of 0 draws no random number of its own: a fixed seed still gives the problems
    (and so the trained weights) it gave before the options existed."""
    b = gp_batch(np.random.default_rng(0), 3, 8, 4, max_dim=12, **options)
    assert b.flags.sum(1).tolist() == [12.0, 12.0, 1.0]
    assert torch.allclose(b.y_query, torch.tensor(PRE_OPTION_Y_QUERY), atol=1e-4)


def test_table_problems_sample_within_each_problem() -> None:
    rng = np.random.default_rng(1)
    x = rng.random((40, 3))
    problems = TableProblems([(x, x.sum(1))], max_dim=5)
    b = problems.batch(rng, 2, 8, 4)
    assert b.flags[:, :3].sum() == 6 and b.flags[:, 3:].sum() == 0
    wide = TableProblems([(rng.random((40, 9)), rng.random(40))], max_dim=5)
    assert len(wide) == 0  # too wide for the network: left out


@pytest.mark.parametrize(
    ("x", "y", "match"),
    [
        (np.full((20, 2), 0.5), np.ones(19), "real problem 0: .* shapes \\(20, 2\\) and \\(19,\\)"),
        (np.full((20, 2), 3.0), np.ones(20), "real problem 0: x must hold configurations encoded"),
        (np.full((20, 2), 0.5), np.r_[np.nan, np.ones(19)], "rows \\[0\\] are not"),
    ],
)
def test_real_problems_that_cannot_be_read_are_refused_by_name(
    x: np.ndarray, y: np.ndarray, match: str
) -> None:
    """A user's own bank of problems: raw (unencoded) configurations or a NaN score would
    train the network on garbage (a NaN loss) without a word."""
    with pytest.raises(InputError, match=match):
        TableProblems([(x, y)], max_dim=5)


def test_training_on_real_problems_none_usable_is_refused() -> None:
    """Past runs of a few trials each are all left out; the network would then learn from the
    GP prior alone while the user believes it learnt from them."""
    few = TableProblems([(np.full((6, 2), 0.5), np.arange(6.0))], max_dim=5)
    with pytest.raises(InputError, match="more than 8 configurations and at most 5"):
        train(PFNConfig(max_dim=5, width=8, depth=1, heads=1), TrainingPlan(steps=1), few)


@pytest.mark.parametrize(
    ("field", "value", "error", "match"),
    [
        ("steps", -1, InputError, "steps must be an integer >= 0, got -1"),
        ("steps", 10.0, InputTypeError, "steps must be an integer >= 0, got 10.0"),
        ("steps", True, InputTypeError, "steps must be an integer >= 0, got True"),
        ("batch", 0, InputError, "batch must be a positive integer, got 0"),
        ("batch", "48", InputTypeError, "batch must be a positive integer, got '48'"),
        ("max_context", -5, InputError, "max_context must be a positive integer, got -5"),
        ("queries", False, InputTypeError, "queries must be a positive integer, got False"),
        ("table_share", 1.5, InputError, "table_share must be a share from 0 to 1, got 1.5"),
        ("additive", -0.1, InputError, "additive must be a share from 0 to 1, got -0.1"),
        ("categorical", math.nan, InputError, "categorical must be a share from 0 to 1, got nan"),
        ("categorical", None, InputTypeError, "categorical must be a number, got None"),
        ("lr", 0.0, InputError, "lr must be a positive finite number, got 0.0"),
        ("lr", math.inf, InputError, "lr must be a positive finite number, got inf"),
        ("lr", True, InputTypeError, "lr must be a number, got True"),
        ("seed", -1, InputError, "seed must be an integer >= 0, got -1"),
        ("seed", None, InputTypeError, "seed must be an integer >= 0, got None"),
    ],
)
def test_a_training_plan_refuses_a_bad_field_by_name(
    field: str, value: object, error: type[Exception], match: str
) -> None:
    """Only the training script checked the plan's fields: a plan made in Python with a
    negative batch, a share above 1 or a NaN rate trained (or failed deep in torch) without
    a word about the field."""
    with pytest.raises(error, match=f"^{re.escape(match)}"):
        TrainingPlan(**{field: value})  # type: ignore[arg-type]


def test_a_training_plan_takes_its_bounds() -> None:
    """No step at all (the weights as they are), shares of 0 and 1, NumPy integers."""
    plan = TrainingPlan(steps=0, table_share=1.0, additive=0.0, categorical=1, seed=np.int64(3))
    assert plan.steps == 0 and plan.categorical == 1


def test_training_lowers_the_loss() -> None:
    config = PFNConfig(max_dim=4, width=16, depth=1, heads=2, buckets=16)
    rng = np.random.default_rng(5)
    batch = gp_batch(rng, 32, 12, 8, max_dim=4)

    def loss(model: torch.nn.Module) -> float:
        with torch.no_grad():
            logits = model(batch.x_ctx, batch.y_ctx, batch.x_query, batch.flags)
            return float(model.bars.loss(logits, batch.y_query))

    untrained = train(config, TrainingPlan(steps=0, batch=8, max_context=12, queries=8))
    trained = train(config, TrainingPlan(steps=120, batch=16, max_context=12, queries=8, lr=3e-3))
    assert loss(trained) < loss(untrained) - 0.2


# ---------------------------------------------------------------------------- the weights
def test_missing_weights_name_the_training_script(tmp_path: Path) -> None:
    with pytest.raises(DataNotFoundError, match="train_meta_tuner"):
        meta_weights.load(tmp_path / "pfn.pt")


def test_shipped_weights_carry_their_card() -> None:
    trained = meta_weights.load()
    card = trained.card
    assert card["config"]["max_dim"] == trained.model.config.max_dim
    assert card["training_problems"] and "validation" in card
    assert not any(name in card["training_problems"] for name in _held_out_and_validation())
    assert meta_weights.PACKAGED.joinpath(meta_weights.WEIGHTS).stat().st_size < 20 * 2**20


def _held_out_and_validation() -> list[str]:
    from hyperlab.tasks.suites import HELD_OUT, VALIDATION

    return [*HELD_OUT, *VALIDATION]


def test_calibration_reports_shares() -> None:
    rng = np.random.default_rng(2)
    x = rng.random((80, 2))
    out = coverage(meta_weights.load().model, [(x, (x**2).sum(1))], rng, repeats=1, queries=20)
    assert 0.0 <= out["68"] <= out["95"] <= 1.0 and out["problems"] == 1


# ---------------------------------------------------------------------------- the sampler
def _quadratic(trial: optuna.Trial) -> float:
    x = trial.suggest_float("x", -3, 3)
    lr = trial.suggest_float("lr", 1e-4, 1e-1, log=True)
    n = trial.suggest_int("n", 1, 8)
    act = trial.suggest_categorical("act", ["relu", "tanh", "gelu"])
    return (x - 1) ** 2 + (math.log10(lr) + 2) ** 2 + 0.1 * (n - 5) ** 2 + (act != "gelu")


def _smooth(trial: optuna.Trial) -> float:
    x = trial.suggest_float("x", -3, 3)
    lr = trial.suggest_float("lr", 1e-4, 1e-1, log=True)
    n = trial.suggest_int("n", 1, 8)
    return (x - 1) ** 2 + (math.log10(lr) + 2) ** 2 + 0.1 * (n - 5) ** 2


def test_first_suggestion_is_model_based_and_seeded() -> None:
    assert MetaSampler(seed=0).startup_trials == 0
    firsts = []
    for _ in range(2):
        study = optuna.create_study(sampler=TUNERS.create("meta", seed=3))
        study.optimize(_quadratic, n_trials=3)
        firsts.append([t.params for t in study.trials])
    assert firsts[0] == firsts[1]
    plain = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=3))
    plain.optimize(_quadratic, n_trials=3)
    assert firsts[0] != [t.params for t in plain.trials]


def test_no_point_repeats_after_the_context_is_full() -> None:
    def tiny(trial: optuna.Trial) -> float:
        return float(trial.suggest_int("a", 0, 2) + 2 * trial.suggest_int("b", 0, 1))

    study = optuna.create_study(sampler=MetaSampler(seed=0, max_context=2))
    study.optimize(tiny, n_trials=6)
    assert len({tuple(sorted(t.params.items())) for t in study.trials}) == 6


def test_weights_that_do_not_match_their_card_are_refused(tmp_path: Path) -> None:
    shipped = meta_weights.PACKAGED / meta_weights.WEIGHTS
    (tmp_path / "pfn.pt").write_bytes(shipped.read_bytes())
    (tmp_path / "pfn.json").write_text('{"config": {"width": 8}}')
    with pytest.raises(DataNotFoundError, match="do not load"):
        meta_weights.load(tmp_path / "pfn.pt")


@pytest.mark.parametrize(
    ("weights", "card", "match"),
    [
        (b"", None, "damaged, empty"),
        (b"not a torch file", None, "damaged, empty"),
        (None, '{"config": {"width": 96, "heads": 5}}', "width 96 is not a multiple of heads 5"),
        (None, '{"config": {"depth": "4"}}', "depth must be a positive integer, got '4'"),
        (None, '{"config": [96]}', "'config' must be a table"),
    ],
)
def test_damaged_weights_or_cards_are_refused_by_name(
    tmp_path: Path, weights: bytes | None, card: str | None, match: str
) -> None:
    shipped = meta_weights.PACKAGED / meta_weights.WEIGHTS
    (tmp_path / "pfn.pt").write_bytes(shipped.read_bytes() if weights is None else weights)
    (tmp_path / "pfn.json").write_text(card or shipped.with_suffix(".json").read_text())
    with pytest.raises(DataNotFoundError, match=match) as caught:
        meta_weights.load(tmp_path / "pfn.pt")
    assert str(tmp_path / "pfn.pt") in str(caught.value)


def test_weights_of_another_shape_are_refused_in_one_line(tmp_path: Path) -> None:
    shipped = meta_weights.PACKAGED / meta_weights.WEIGHTS
    (tmp_path / "pfn.pt").write_bytes(shipped.read_bytes())
    (tmp_path / "pfn.json").write_text('{"config": {"width": 64}}')
    with pytest.raises(DataNotFoundError, match="not of the shape its card gives") as caught:
        meta_weights.load(tmp_path / "pfn.pt")
    assert "\n" not in str(caught.value) and "more lines" in str(caught.value)


def test_weights_written_anew_at_the_same_path_load_anew(tmp_path: Path) -> None:
    """A user who retrains into the same file in one session gets the new network, not the
    one loaded before."""
    from hyperlab.tuners.meta.model import PFN

    path = tmp_path / "mine.pt"
    for width in (8, 16):
        meta_weights.save(PFN(PFNConfig(width=width, depth=1, heads=1)), {}, path)
        assert meta_weights.load(path).model.config.width == width
    assert meta_weights.load(str(path)) is meta_weights.load(path)  # loaded once
    # only the latest network of a path is kept (retraining in a loop does not pile them up)
    assert sum(key[0] == path.resolve() for key in meta_weights._cache) == 1


def test_it_improves_on_random_search_on_a_smooth_problem() -> None:
    wins = 0
    for seed in range(3):
        best = {}
        for name in ("meta", "random"):
            study = optuna.create_study(sampler=TUNERS.create(name, seed=seed))
            study.optimize(_smooth, n_trials=25)
            best[name] = study.best_value
        wins += best["meta"] < best["random"]
    assert wins >= 2


def test_expected_improvement_steers_too() -> None:
    study = optuna.create_study(sampler=TUNERS.create("meta", seed=0, acquisition="ei"))
    study.optimize(_quadratic, n_trials=25)
    assert study.best_value < 2.5


def test_maximize_is_steered_the_right_way() -> None:
    """Maximizing -f walks exactly the path of minimizing f (which beats random search, above):
    a sign lost anywhere would send it elsewhere."""
    up = optuna.create_study(direction="maximize", sampler=TUNERS.create("meta", seed=1))
    up.optimize(lambda t: -_smooth(t), n_trials=25)
    down = optuna.create_study(sampler=TUNERS.create("meta", seed=1))
    down.optimize(_smooth, n_trials=25)
    assert [t.params for t in up.trials] == [t.params for t in down.trials]
    assert up.best_value == pytest.approx(-down.best_value)
    assert up.best_value - float(up.trials[0].value) > 1.0  # it climbed


def test_a_conditional_space_given_in_advance_steers_on_every_branch() -> None:
    """The lab hands a task's space of every branch to the tuner. A trial of branch ``a``
    lacks ``z``; it must still join the context (``z`` is then drawn at random), or the network
    reads no trial of that branch and keeps proposing its prior's favourite there."""
    space = {
        "x": FloatDistribution(0, 1),
        "kind": CategoricalDistribution(["a", "b"]),
        "z": FloatDistribution(0, 1),
    }

    def objective(trial: optuna.Trial) -> float:
        x = trial.suggest_float("x", 0, 1)
        if trial.suggest_categorical("kind", ["a", "b"]) == "b":
            return (x - 0.3) ** 2 + trial.suggest_float("z", 0, 1)
        return (x - 0.7) ** 2

    study = optuna.create_study(sampler=MetaSampler(search_space=space, seed=0))
    study.optimize(objective, n_trials=12)
    assert study.best_value < 0.01, [t.params for t in study.trials]


def test_never_repeats_a_point_while_another_is_left() -> None:
    def tiny(trial: optuna.Trial) -> float:
        return float(trial.suggest_int("a", 0, 2) + 2 * trial.suggest_int("b", 0, 1))

    study = optuna.create_study(sampler=TUNERS.create("meta", seed=0))
    study.optimize(tiny, n_trials=6)
    assert len({tuple(sorted(t.params.items())) for t in study.trials}) == 6


def test_transfer_studies_join_the_context() -> None:
    storage = optuna.storages.InMemoryStorage()
    old = optuna.create_study(
        storage=storage, study_name="old", sampler=TUNERS.create("random", seed=0)
    )
    old.optimize(_quadratic, n_trials=20)
    sampler = TUNERS.create("meta", seed=0, transfer_studies=["old"])
    new = optuna.create_study(storage=storage, study_name="new", sampler=sampler)
    new.optimize(_quadratic, n_trials=2)
    bad = TUNERS.create("meta", seed=0, transfer_studies=["nope"])
    nope = optuna.create_study(storage=storage, study_name="other", sampler=bad)
    nope.optimize(_quadratic, n_trials=1)  # no trial yet: no transfer study is read
    with pytest.raises(InputError, match="nope"):
        nope.optimize(_quadratic, n_trials=1, catch=())


def test_transfer_studies_may_come_as_one_comma_separated_string() -> None:
    from hyperlab.tuners import NeuralSampler

    assert TUNERS.create("meta", transfer_studies="a, b").transfer_studies == ["a", "b"]
    assert NeuralSampler(transfer_studies="a,b").transfer_studies == ["a", "b"]


@pytest.mark.parametrize(
    ("options", "error", "match"),
    [
        ({"n_candidates": 0}, InputError, "n_candidates"),
        ({"max_context": True}, InputError, "max_context"),
        ({"running": "mean"}, InputError, "running"),
        ({"transfer_studies": ["old", 3]}, InputTypeError, "transfer_studies"),
        ({"transfer_studies": "a,,b"}, InputTypeError, "transfer_studies"),
        ({"pruner_predictions": 1}, InputTypeError, "pruner_predictions"),
        ({"pruned_last_value": "yes"}, InputTypeError, "pruned_last_value"),
        ({"acquisition": "ucb"}, InputError, "acquisition"),
        ({"quantile": 0.7}, InputError, "quantile"),
        ({"zoom": -1}, InputError, "zoom"),
        ({"zoom": True}, InputError, "zoom"),
        ({"escape": 1}, InputError, "escape must be 0 .* got 1"),
        ({"escape": -2}, InputError, "escape"),
        ({"escape": True}, InputError, "escape"),
        ({"escape": 2.5}, InputError, "escape"),
        ({"categoricals": "ratio"}, InputError, "categoricals must be one of .* got 'ratio'"),
        ({"categoricals": None}, InputError, "categoricals must be one of .* got None"),
        ({"weights_path": 123}, InputTypeError, "weights_path must be a path .* got 123"),
        # numpy refused these inside, naming no option
        ({"seed": "a"}, InputTypeError, "seed must be an integer >= 0 or None, got 'a'"),
        ({"seed": -1}, InputError, "seed must be an integer >= 0 or None, got -1"),
        ({"seed": 1.5}, InputTypeError, "seed must be an integer >= 0 or None, got 1.5"),
        ({"space": [1]}, InputTypeError, r"search_space must be a dict or None, got \[1\]"),
        ({"space": {"x": (0, 1)}}, InputTypeError, r"search_space must map .* got 'x': \(0, 1\)"),
    ],
)
def test_bad_options_are_refused_by_name(options: dict, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        TUNERS.create("meta", **options)


def test_a_space_too_wide_is_refused_by_name() -> None:
    limit = meta_weights.load().model.config.max_dim
    space = {
        f"c{i}": optuna.distributions.CategoricalDistribution(list(range(10)))
        for i in range(limit // 10 + 1)
    }
    with pytest.raises(InputError, match="encoded columns"):
        TUNERS.create("meta", space=space)


def test_a_study_longer_than_the_context_runs_on() -> None:
    sampler = MetaSampler(seed=0, max_context=20, n_candidates=64)
    study = optuna.create_study(sampler=sampler)
    for i in range(60):
        study.enqueue_trial({"x": (i % 7) / 7, "y": (i % 11) / 11})
    study.optimize(lambda t: t.suggest_float("x", 0, 1) + t.suggest_float("y", 0, 1), n_trials=61)
    assert len(study.trials) == 61 and study.trials[-1].state == optuna.trial.TrialState.COMPLETE


# ------------------------------------------------------------------------------- zooming
def test_the_zoom_box_holds_the_best_trials_and_whole_categorical_blocks() -> None:
    space = {
        "a": optuna.distributions.FloatDistribution(0, 1),
        "b": optuna.distributions.FloatDistribution(0, 1),
        "c": optuna.distributions.CategoricalDistribution(["p", "q"]),
    }
    enc = SpaceEncoder(space)
    rng = np.random.default_rng(0)
    x = enc.random(30, rng)
    y = (x[:, 0] - 0.3) ** 2 + (x[:, 1] - 0.6) ** 2
    lo, hi = zoom_box(enc, x, y)
    best = np.argsort(y)[:TOP]
    assert inside(x[best], lo, hi).all()
    assert (hi - lo)[:2].max() < 1.0  # it is a closer look, not the cube
    assert np.all(hi - lo >= FLOOR - 1e-12)  # never narrower than the floor (here off the faces)
    start, width = enc.categorical_blocks[0]
    assert np.all(lo[start : start + width] == 0) and np.all(hi[start : start + width] == 1)
    stretched = stretch(x[best], lo, hi)
    assert stretched.min() >= 0 and stretched.max() <= 1


def test_a_zoomed_suggestion_lies_in_the_box_of_the_trials_before_it() -> None:
    sampler = MetaSampler(seed=0, zoom=6, n_candidates=128)
    study = optuna.create_study(sampler=sampler)
    study.optimize(_smooth, n_trials=12)
    enc = SpaceEncoder(dict(study.trials[0].distributions))
    for k in (7, 9, 11):  # an odd number of finished trials from zoom on: a zoomed suggestion
        before = study.trials[:k]
        x = enc.encode([t.params for t in before])
        lo, hi = zoom_box(enc, x, np.array([t.value for t in before]))
        assert inside(enc.encode([study.trials[k].params]), lo, hi).all()
    # and zooming changes the path (the same seed without it goes elsewhere)
    plain = optuna.create_study(sampler=MetaSampler(seed=0, n_candidates=128, zoom=0))
    plain.optimize(_smooth, n_trials=12)
    assert [t.params for t in plain.trials[:7]] == [t.params for t in study.trials[:7]]
    assert [t.params for t in plain.trials[7:]] != [t.params for t in study.trials[7:]]


def test_zooming_goes_on_past_the_context_limit() -> None:
    """With more finished trials than the network reads, every second suggestion still zooms
    (the count is of the study's trials, not of the context's rows)."""
    sampler = MetaSampler(seed=0, zoom=6, max_context=10, n_candidates=64)
    study = optuna.create_study(sampler=sampler)
    study.optimize(_smooth, n_trials=16)
    enc = SpaceEncoder(dict(study.trials[0].distributions))
    for k in (11, 13, 15):
        before = study.trials[:k]
        x = enc.encode([t.params for t in before])
        lo, hi = zoom_box(enc, x, np.array([t.value for t in before]))
        assert inside(enc.encode([study.trials[k].params]), lo, hi).all()


# ------------------------------------------------------------------------------- escaping
#: ``_smooth``'s first 22 trials under ``MetaSampler(seed=0, n_candidates=64)`` as the sampler
#: suggested them before ``escape`` existed (commit d092876): x, log10(lr), n.
BEFORE_ESCAPE = [
    (0.2929, -1.8544, 5), (-0.4214, -3.8216, 4), (1.9838, -1.0015, 7), (3.0, -2.2597, 3),
    (-3.0, -1.1608, 8), (0.0656, -2.6406, 4), (1.5363, -2.1654, 7), (0.9232, -2.3478, 7),
    (0.4977, -1.5381, 6), (0.2789, -1.4219, 3), (0.4781, -2.214, 6), (0.3378, -2.2122, 7),
    (0.5461, -2.0696, 5), (0.6539, -2.0695, 5), (0.8935, -2.1289, 5), (1.7944, -2.3401, 4),
    (0.8814, -2.1441, 5), (1.5165, -2.1588, 4), (1.0395, -2.1628, 5), (1.4146, -2.2739, 5),
    (1.1304, -2.0634, 5), (1.8407, -2.0829, 5),
]  # fmt: skip


def _smooth_path(**options: object) -> list[optuna.trial.FrozenTrial]:
    study = optuna.create_study(sampler=MetaSampler(seed=0, n_candidates=64, **options))
    study.optimize(_smooth, n_trials=len(BEFORE_ESCAPE))
    return study.trials


def _rounded(trials: list[optuna.trial.FrozenTrial]) -> list[tuple[float, float, int]]:
    return [
        (round(t.params["x"], 4), round(math.log10(t.params["lr"]), 4), t.params["n"])
        for t in trials
    ]


def test_escape_off_suggests_what_the_sampler_suggested_before_it_existed() -> None:
    assert _rounded(_smooth_path()) == BEFORE_ESCAPE
    assert _rounded(_smooth_path(escape=0)) == BEFORE_ESCAPE


def test_a_space_without_categoricals_is_steered_the_same_under_every_categoricals_rule() -> None:
    assert _rounded(_smooth_path(categoricals="thompson")) == BEFORE_ESCAPE


def test_an_escaping_suggestion_lies_away_from_the_best_trial_before_it() -> None:
    trials = _smooth_path(escape=2)
    enc = SpaceEncoder(dict(trials[0].distributions))
    assert _rounded(trials[: START + 1]) == BEFORE_ESCAPE[: START + 1]  # none before START
    for k in range(START + 1, len(trials), 2):  # even counts from START on: escapes
        before = trials[:k]
        best = enc.encode([min(before, key=lambda t: t.value).params])[0]
        here = enc.encode([trials[k].params])[0]
        assert np.abs(here - best).max() > RADIUS, k
    assert _rounded(trials[START + 1 :]) != BEFORE_ESCAPE[START + 1 :]


def test_a_trial_pruned_without_a_prediction_is_never_proposed_again() -> None:
    """Pruned at every step, nothing finishes with a value: each suggestion must still be new
    (before, every pruned point was free to be proposed again, and was)."""

    def pruned(trial: optuna.Trial) -> float:
        x = trial.suggest_float("x", -2.0, 2.0)
        y = trial.suggest_float("y", -2.0, 2.0)
        trial.report(x * x + y * y, 1)
        if trial.number >= 3:
            raise optuna.TrialPruned()
        return x * x + y * y

    # without pruned_last_value: the pruned trials give no observation, only taken points
    study = optuna.create_study(sampler=TUNERS.create("meta", seed=0, pruned_last_value=False))
    study.optimize(pruned, n_trials=14)
    points = {(round(t.params["x"], 9), round(t.params["y"], 9)) for t in study.trials}
    assert len(points) == 14


def test_a_space_wider_than_its_pretraining_is_told_once() -> None:
    from optuna.distributions import FloatDistribution

    from hyperlab.tuners.meta.prior import MAX_PARAMS

    def wide(n: int) -> dict[str, FloatDistribution]:
        return {f"x{i}": FloatDistribution(0.0, 1.0) for i in range(n)}

    with pytest.warns(UserWarning, match=rf"pretrained on problems of 1 to {MAX_PARAMS} .* has 27"):
        sampler = MetaSampler(seed=0, search_space=wide(27))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        sampler._check_width(SpaceEncoder(wide(27)))  # once
        MetaSampler(seed=0, search_space=wide(MAX_PARAMS))  # as wide as it was trained on


def test_a_read_only_mapping_of_distributions_is_taken_as_the_space() -> None:
    """A mapping that is not a dict (a read-only view) is a space the samplers take, as a dict."""
    from types import MappingProxyType

    from optuna.distributions import FloatDistribution

    from hyperlab.tuners import DiagnosisSampler, MetaSampler, NeuralSampler

    space = MappingProxyType({"x": FloatDistribution(0.0, 1.0)})
    assert MetaSampler(search_space=space, seed=0).search_space == {"x": space["x"]}
    assert isinstance(NeuralSampler(search_space=space, seed=0).search_space, dict)
    assert DiagnosisSampler(space=space, seed=0).space == {"x": space["x"]}
