"""The bridge from a peer library's ask/tell loop to an Optuna sampler, and the space mapping.

A *peer* is another library's tuner (Nevergrad, Hyperopt, ...) run inside hyperlab's harness.
:class:`PeerSampler` turns it into an ``optuna.samplers.BaseSampler``: ``sample_relative``
asks the peer for one configuration, ``after_trial`` tells it the outcome. Everything the
peers share lives here, so each peer module only says how to build its optimizer, ask and tell:

- **The space.** :func:`param_specs` turns Optuna distributions into :class:`ParamSpec` items of
  three kinds a peer can express exactly: a float range (linear or log), an integer range
  (linear or log) and a choice among ``n`` options. A stepped float or stepped int becomes an
  integer range over its grid positions ``0..n``, a categorical a choice among the indices of
  its options (so mixed-type options such as ``None`` or ``2.5`` never reach the peer).
  :meth:`ParamSpec.to_optuna` maps a peer's raw value back (rounded, clipped, on the grid) and
  :meth:`ParamSpec.to_raw` maps an Optuna value to the peer's raw value.
  A parameter that can take one value only (a range whose ends meet, a categorical of one
  choice; peers refuse such ranges) is a constant: the peer never sees it and every proposal
  carries its value (:func:`constants`).
- **Outcomes.** The peer always minimizes: a maximized study's values are negated. A complete
  trial is told its value; a pruned trial its last reported value (the evidence the pruner
  stopped it on); a failed trial, or a pruned one that reported nothing, the worst value told
  so far (the peer learns to avoid the region; before any value is known it is not told).
- **Trials the peer did not propose** (enqueued ones, those of an earlier process on a resumed
  study) are told as new points before the next ask, when they carry every parameter of the
  space. A pickled sampler leaves its peer behind; the copy builds a fresh one and tells it
  every finished trial of the study, which is also how a resumed run continues.
- **Containment.** Every call into the peer runs with the peer's own global RNG state (NumPy's
  legacy global generator and Python's ``random``), swapped in and out around the call, so a
  peer that draws from the global generators is reproducible under the sampler's seed and
  leaves the caller's global state as it found it; its loggers are set to ``WARNING``.
- **Conditional spaces.** A peer sees the space flattened: it proposes every parameter and the
  objective uses those of its branch. A parameter outside the space the peer was built with
  (a dynamic space) is drawn at random, as Optuna's own relative samplers do.
"""

from __future__ import annotations

import importlib
import logging
import math
import random
import re
import threading
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np
from optuna.distributions import (
    BaseDistribution,
    CategoricalDistribution,
    FloatDistribution,
    IntDistribution,
)
from optuna.samplers import BaseSampler, RandomSampler
from optuna.study import Study, StudyDirection
from optuna.trial import FrozenTrial, TrialState

from hyperlab import errors
from hyperlab.errors import InputError, InputTypeError, UnknownNameError, check_seed
from hyperlab.pickling import LockFreePickling

#: The command that installs every peer that installs cleanly.
INSTALL_ALL = "pip install 'hyperlab[peers]'"

Space = dict[str, BaseDistribution] | None

FLOAT, INT, CHOICE = "float", "int", "choice"


class PeerImportError(errors.SettingError):
    """A peer's package is not installed, or is installed but cannot be imported (a package it
    depends on is missing or broken). Raised when the tuner is built, and again, should the
    import break since, before its peer is (inside a trial, where it stops the run at once
    instead of failing every trial the same way)."""


def require(module: str, peer: str, package: str) -> Any:
    """Import ``module`` for the peer ``peer``, or refuse the peer with the install command.

    The global RNGs are as they were after the import (importing Nevergrad draws from NumPy's).

    Raises:
        PeerImportError: The package ``package`` is not installed, or importing ``module``
            fails otherwise (a missing or broken dependency, a submodule missing from a partial
            install); the message names the peer, the package, the error and the commands
            that install it.
    """
    saved_numpy, saved_python = np.random.get_state(), random.getstate()
    try:
        return importlib.import_module(module)
    except Exception as exc:  # any failure of a third-party import is a broken install
        if isinstance(exc, ModuleNotFoundError) and exc.name == _import_name(package):
            raise PeerImportError(
                f"the tuner {peer!r} needs the package {package!r}, which is not installed; "
                f"install it with `pip install '{package}'` (every peer: `{INSTALL_ALL}`)"
            ) from None
        raise PeerImportError(
            f"the tuner {peer!r} needs the package {package!r}, which is installed but cannot "
            f"be imported: importing {module!r} raised {type(exc).__name__}: {exc} (a package "
            f"it depends on is missing or broken, or the install is partial); install it again "
            f"with `pip install --force-reinstall '{package}'` (every peer: `{INSTALL_ALL}`)"
        ) from exc
    finally:
        np.random.set_state(saved_numpy)
        random.setstate(saved_python)


def _import_name(package: str) -> str:
    """The name a pip requirement's package is imported by (``"syne-tune>=0.16"``:
    ``"syne_tune"``)."""
    return re.split(r"[<>=!~;\[ ]", package, maxsplit=1)[0].replace("-", "_")


@dataclass(frozen=True)
class ParamSpec:
    """One parameter as a peer sees it.

    Attributes:
        name: The parameter's name.
        kind: ``"float"``, ``"int"`` or ``"choice"``.
        low: The lower end (a grid's first position, ``0``, for stepped parameters; ``0`` for a
            choice).
        high: The upper end (the last grid position; ``n - 1`` for a choice of ``n``).
        log: Whether the range is searched on a log scale.
        dist: The Optuna distribution it stands for.
    """

    name: str
    kind: str
    low: float
    high: float
    log: bool
    dist: BaseDistribution

    @property
    def stepped(self) -> bool:
        """Whether the peer searches grid positions of a stepped parameter."""
        step = getattr(self.dist, "step", None)
        return step is not None and not (isinstance(self.dist, IntDistribution) and step == 1)

    def to_optuna(self, raw: Any) -> Any:
        """The Optuna value of the peer's raw value (rounded, clipped, put on the grid)."""
        d = self.dist
        if isinstance(d, CategoricalDistribution):
            return d.choices[int(min(max(round(float(raw)), 0), len(d.choices) - 1))]
        assert isinstance(d, FloatDistribution | IntDistribution)
        if self.stepped:
            k = int(min(max(round(float(raw)), self.low), self.high))
            value = d.low + k * d.step  # type: ignore[operator]
            return int(value) if isinstance(d, IntDistribution) else float(min(value, d.high))
        if isinstance(d, IntDistribution):
            return int(min(max(round(float(raw)), d.low), d.high))
        return float(min(max(float(raw), d.low), d.high))

    def to_raw(self, value: Any) -> Any:
        """The peer's raw value for an Optuna value of this parameter."""
        d = self.dist
        if isinstance(d, CategoricalDistribution):
            return d.to_internal_repr(value)
        assert isinstance(d, FloatDistribution | IntDistribution)
        if self.stepped:
            return round((value - d.low) / d.step)  # type: ignore[operator]
        return int(value) if isinstance(d, IntDistribution) else float(value)


def constants(space: dict[str, BaseDistribution]) -> dict[str, Any]:
    """The parameters of ``space`` that can take one value only, with that value.

    A range whose ends meet (``FloatDistribution(1.0, 1.0)``, ``IntDistribution(3, 3)``, a grid
    of one point) or a categorical of one choice is a constant: peers refuse such a range, so
    :func:`param_specs` leaves it out and the sampler adds its value to every proposal.
    """
    out: dict[str, Any] = {}
    for name, d in space.items():
        if isinstance(d, CategoricalDistribution) and len(d.choices) == 1:
            out[name] = d.choices[0]
        elif isinstance(d, FloatDistribution | IntDistribution) and d.single():
            out[name] = d.low
    return out


def param_specs(space: dict[str, BaseDistribution]) -> list[ParamSpec]:
    """The peer's view of ``space``, in the space's order, without its :func:`constants`.

    Raises:
        InputTypeError: A distribution that is not a float, int or categorical one.
    """
    out = []
    fixed = constants(space)
    for name, d in space.items():
        if name in fixed:
            continue
        if isinstance(d, CategoricalDistribution):
            out.append(ParamSpec(name, CHOICE, 0, len(d.choices) - 1, False, d))
        elif isinstance(d, FloatDistribution | IntDistribution):
            is_int = isinstance(d, IntDistribution)
            if d.step is not None and not (is_int and d.step == 1):
                n = round((d.high - d.low) / d.step)
                out.append(ParamSpec(name, INT, 0, n, False, d))
            else:
                out.append(ParamSpec(name, INT if is_int else FLOAT, d.low, d.high, d.log, d))
        else:
            raise InputTypeError(f"parameter {name!r} has a distribution peers cannot map: {d!r}")
    return out


def _fallback_seed(seed: int | None) -> int | None:
    """The seed of a peer's fallback random draws: one of its own, since the peers draw from
    generators seeded with ``seed`` itself (a random first trial drawn from the same stream
    was the peer's first proposal again)."""
    if seed is None:
        return None
    return int(np.random.SeedSequence([seed, 1]).generate_state(1)[0] % 2**31)


class RngState:
    """A private copy of the global RNGs (NumPy's legacy generator and Python's ``random``).

    Args:
        seed: Seeds both copies (``None``: a fresh seed from the operating system).
    """

    def __init__(self, seed: int | None) -> None:
        self.numpy = np.random.RandomState(seed).get_state()
        self.python = random.Random(seed).getstate()

    @contextmanager
    def active(self) -> Iterator[None]:
        """Swap this state into the global generators for the block, and back out after it."""
        saved_numpy, saved_python = np.random.get_state(), random.getstate()
        np.random.set_state(self.numpy)
        random.setstate(self.python)
        try:
            yield
        finally:
            self.numpy, self.python = np.random.get_state(), random.getstate()
            np.random.set_state(saved_numpy)
            random.setstate(saved_python)


class PeerSampler(LockFreePickling, BaseSampler):
    """An Optuna sampler that asks a peer library for each configuration (see the module doc).

    A subclass sets :attr:`peer_name` and :attr:`loggers` and implements :meth:`_build`,
    :meth:`_ask`, :meth:`_tell` and :meth:`_tell_new`. The peer is built on first use from the
    space (the task's, or the one the study's first finished trial shows), so a constructor
    only stores its settings.

    Args:
        space: The search space (``None``: learnt from the study's first finished trial).
        seed: Seeds the peer, its private global RNG state and the fallback random sampler.
    """

    #: The registered name, used in messages.
    peer_name = "peer"
    #: Loggers of the peer library, set to ``WARNING`` when the peer is built.
    loggers: tuple[str, ...] = ()
    #: The pip requirement of the peer's package (``"smac>=2.4"``), for messages.
    package = ""
    #: Every module the peer's code imports (its package's submodules and the dependencies it
    #: reaches into): each is imported when the sampler is built and before its peer is, so
    #: that a partial or broken install is refused once, by name (:func:`require`).
    modules: tuple[str, ...] = ()

    def __init__(self, space: Space = None, seed: int | None = None) -> None:
        self._space = dict(space) if space else None
        self._seed = check_seed(seed)
        self._random = RandomSampler(seed=_fallback_seed(self._seed))
        self._lock = threading.RLock()
        self._warned_outside = False
        self._reset()
        self._require()

    def _require(self) -> None:
        """Import every module the peer needs (:attr:`modules`).

        Raises:
            PeerImportError: One cannot be imported; the message names the package, the error
                and the commands that install it.
        """
        for module in self.modules:
            require(module, self.peer_name, self.package)

    def _reset(self) -> None:
        self._peer: Any = None
        self._specs: list[ParamSpec] = []
        self._constants: dict[str, Any] = {}
        self._pending: dict[int, Any] = {}  # trial number -> the peer's handle
        self._told: set[int] = set()
        self._worst: float | None = None
        self._rng = RngState(self._seed)

    def __getstate__(self) -> dict[str, Any]:
        state = super().__getstate__()
        for key in ("_peer", "_pending", "_told"):  # the copy rebuilds and replays the study
            state.pop(key, None)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        super().__setstate__(state)
        self._peer, self._pending, self._told = None, {}, set()
        self._worst, self._specs, self._constants = None, [], {}

    # --- what a peer implements -------------------------------------------------------------
    def _build(self, specs: list[ParamSpec]) -> Any:
        """The peer's optimizer over ``specs``, seeded from ``self._seed``."""
        raise NotImplementedError

    def _ask(self) -> tuple[Any, dict[str, Any]]:
        """Ask the peer: ``(its handle for the proposal, {name: raw value})``."""
        raise NotImplementedError

    def _tell(self, handle: Any, loss: float | None) -> None:
        """Tell the peer the loss of a proposal it made (``None``: failed, no value known)."""
        raise NotImplementedError

    def _tell_new(self, raw: dict[str, Any], loss: float) -> None:
        """Tell the peer the loss of a point it did not propose."""
        raise NotImplementedError

    def _can_ask(self) -> bool:
        """Whether the peer can propose now (a peer that takes one trial at a time cannot
        while one of its proposals is running; that trial is then drawn at random)."""
        return True

    # --- Optuna's sampler contract -----------------------------------------------------------
    def reseed_rng(self) -> None:
        self._random.reseed_rng()

    def infer_relative_search_space(
        self, study: Study, trial: FrozenTrial
    ) -> dict[str, BaseDistribution]:
        if self._space is None:
            done = [t for t in study.get_trials(deepcopy=False) if t.state.is_finished()]
            if not done or not done[0].distributions:
                return {}
            self._space = dict(done[0].distributions)
        return dict(self._space)

    def sample_relative(
        self, study: Study, trial: FrozenTrial, search_space: dict[str, BaseDistribution]
    ) -> dict[str, Any]:
        if not search_space:
            return {}
        self._check_study(study)
        with self._lock, self._rng.active():
            if not (self._specs or self._constants):
                self._specs = param_specs(search_space)
                self._constants = constants(search_space)
            if not self._specs:  # every parameter is a constant: nothing to ask the peer
                return dict(self._constants)
            if self._peer is None:
                self._require()  # (a copy unpickled where the package is broken, say)
                for name in self.loggers:
                    logging.getLogger(name).setLevel(logging.WARNING)
                self._peer = self._build(self._specs)
            self._catch_up(study)
            if not self._can_ask():
                return {}
            handle, raw = self._ask()
            self._pending[trial.number] = handle
        return {**self._constants, **{s.name: s.to_optuna(raw[s.name]) for s in self._specs}}

    def sample_independent(
        self,
        study: Study,
        trial: FrozenTrial,
        param_name: str,
        param_distribution: BaseDistribution,
    ) -> Any:
        if self._space is not None and param_name not in self._space:
            self._warn_outside(param_name, trial.number)
        return self._random.sample_independent(study, trial, param_name, param_distribution)

    def _warn_outside(self, name: str, number: int) -> None:
        """Warn once that a parameter outside the peer's space is drawn at random (a branch of
        a conditional space the first trial did not take, or a dynamic range)."""
        if self._warned_outside:
            return
        self._warned_outside = True
        warnings.warn(
            f"tuner {self.peer_name!r} draws parameter {name!r} of trial {number} at random: it "
            "is outside the space the peer searches (on your own objective, the first trial's: "
            "a branch of a conditional space that trial did not take, or a dynamic range). "
            "Further such parameters are drawn the same way without another warning.",
            UserWarning,
            stacklevel=2,
        )

    def after_trial(
        self,
        study: Study,
        trial: FrozenTrial,
        state: TrialState,
        values: Sequence[float] | None,
    ) -> None:
        with self._lock:
            handle = self._pending.pop(trial.number, None)
            if handle is None or self._peer is None:
                return
            with self._rng.active():
                self._finish(handle, study, trial, state, values)
            self._told.add(trial.number)

    def _finish(
        self,
        handle: Any,
        study: Study,
        trial: FrozenTrial,
        state: TrialState,
        values: Sequence[float] | None,
    ) -> None:
        """Tell the peer how a trial it proposed ended: its loss (:meth:`_loss`). A peer that
        reads more of the trial (a multi-fidelity one: its epochs) overrides this."""
        self._tell(handle, self._loss(study, trial, state, values))

    # --- helpers -----------------------------------------------------------------------------
    def _check_study(self, study: Study) -> None:
        if len(study.directions) != 1:
            raise InputError(
                f"the tuner {self.peer_name!r} optimizes one objective; the study has "
                f"{len(study.directions)}"
            )

    def _loss(
        self, study: Study, trial: FrozenTrial, state: TrialState, values: Sequence[float] | None
    ) -> float | None:
        """The value the peer minimizes for a finished trial (``None``: nothing known yet)."""
        value: float | None = None
        if state == TrialState.COMPLETE and values:
            value = values[0]
        elif state == TrialState.PRUNED and trial.intermediate_values:
            value = trial.intermediate_values[max(trial.intermediate_values)]
        if value is not None and math.isfinite(value):
            loss = -value if study.direction == StudyDirection.MAXIMIZE else value
            self._worst = loss if self._worst is None else max(self._worst, loss)
            return loss
        return self._worst

    def _catch_up(self, study: Study) -> None:
        """Tell the peer the finished trials it has not heard of (see the module doc)."""
        names = {s.name for s in self._specs}
        for t in study.get_trials(deepcopy=False):
            if t.number in self._told or t.number in self._pending or not t.state.is_finished():
                continue
            self._told.add(t.number)
            if not names <= set(t.params):
                continue
            self._tell_finished(study, t, {s.name: s.to_raw(t.params[s.name]) for s in self._specs})

    def _tell_finished(self, study: Study, trial: FrozenTrial, raw: dict[str, Any]) -> None:
        """Tell the peer a finished trial it did not propose (its raw values ``raw``): its loss,
        when one is known. A peer that reads more of the trial overrides this."""
        loss = self._loss(study, trial, trial.state, trial.values)
        if loss is not None:
            self._tell_new(raw, loss)


def check_choice(name: str, value: Any, known: list[str], what: str) -> str:
    """``value`` if it is one of ``known``, else refuse it naming the option and the choices.

    Raises:
        InputTypeError: ``value`` is not a string.
        UnknownNameError: ``value`` is not one of ``known``.
    """
    if not isinstance(value, str):
        raise InputTypeError(f"{name} must be a string naming a {what}, got {value!r}")
    if value not in known:
        shown = ", ".join(sorted(known)[:30]) + (" ..." if len(known) > 30 else "")
        raise UnknownNameError(f"unknown {what} {value!r} for {name}; known: {shown}")
    return value


def check_positive_int(name: str, value: Any, *, allow_none: bool = True) -> int | None:
    """``value`` if it is a positive integer (or ``None`` when allowed), else refuse it (see
    :func:`hyperlab.errors.check_positive_int`; here ``None`` is allowed by default)."""
    return errors.check_positive_int(name, value, allow_none=allow_none)


__all__ = [
    "INSTALL_ALL",
    "ParamSpec",
    "PeerImportError",
    "PeerSampler",
    "RngState",
    "check_choice",
    "check_positive_int",
    "check_seed",
    "constants",
    "param_specs",
    "require",
]
