"""One member's segment: the task's ``train_segment`` called, and what it returns and does
checked.

A segment's scores, its ``std_err`` and its fold values must all be finite; a contract error of
the task's (a score that is not a number, say) names the member and the epochs of the segment
that met it. Once per process the state a task returns is checked to be deep-copyable and
picklable (at the first segment rather than after a whole generation), and the state a segment
was given is checked to be left as it was (the checkpoint written in the background holds that
state's memory). With ``hypergradient=true`` a fresh model must pass its optimizer through
``wrap_optimizer``.
"""

from __future__ import annotations

import contextlib
import copy
import math
import time
from collections.abc import Callable, Iterator
from typing import Any

import optuna

from hyperlab.errors import (
    HyperlabError,
    InputError,
    InputTypeError,
    TrialFailure,
    exit_reason,
    failure_reason,
)
from hyperlab.population import checkpoint
from hyperlab.population.members import Member
from hyperlab.population.randomness import seeded_globals, segment_seed
from hyperlab.population.selftuning import RecordingWrapper, check_wrapped, with_learned_rate
from hyperlab.tasks.base import Segment, Task, check_segment, not_finite


class Segments:
    """Trains the members' segments with ``task``, checking what each segment returns and does.

    Args:
        task: A task that continues training (``Task.continues_training``).
        wrap: Handed to ``train_segment`` as ``wrap_optimizer`` (``None``: no wrapper).
        sign: 1 where a lower score is better, -1 where a higher one is.
    """

    def __init__(self, task: Task, wrap: Callable[[Any], Any] | None, sign: float) -> None:
        self.task, self.wrap, self.sign = task, wrap, sign
        self._state_checked = False
        self._input_checked = False  # whether a segment was seen to leave its state as it was

    def train(
        self, m: Member, epochs: int, log: list[dict[str, Any]], who: str | None = None
    ) -> tuple[str | None, float]:
        """Train ``m`` ``epochs`` epochs, recording the segment in ``m`` and in the run's
        segment ``log``; return the reason when the segment failed, and the seconds it took.
        ``who`` names ``m`` in an error that stops the run (``None``: ``"member N"``, its
        number as the report shows it)."""
        start, before = m.epoch, m.value
        config, active = self.config(m.params)
        began = time.perf_counter()
        who = f"member {m.index}" if who is None else who
        segment = self._segment(m, config, epochs, who)
        spent = time.perf_counter() - began
        m.epochs_trained += epochs
        m.wall_time += spent
        if isinstance(segment, str):
            m.lineage.append({"epoch": start, "failed": segment})
            return segment, spent
        m.record(segment, start, active)
        assert m.value is not None
        gain = None if before is None else self.sign * (before - m.value)
        log.append(
            {
                "member": m.index,
                "start": start,
                "end": m.epoch,
                "config": dict(m.params),
                "value": m.value,
                "improvement": gain,
            }
        )
        return None, spent

    def _segment(self, m: Member, config: dict[str, Any], epochs: int, who: str) -> Segment | str:
        """Train ``m`` ``epochs`` epochs from its state with ``config``; return the segment, or
        the reason when the segment failed (nothing is recorded here). An error that stops the
        run names ``who`` and the segment's epochs."""
        start = m.epoch
        place = f"{who}, segment from epoch {start} to {start + epochs}"
        streams = segment_seed(m.seed, start)
        wrap = RecordingWrapper(self.wrap) if self.wrap is not None else None
        given = self._input_fingerprint(m.state)
        try:
            with placed_in_task(self.task.name, place), seeded_globals(streams):
                segment = self.task.train_segment(
                    config, m.state, epochs, seed=m.seed, wrap_optimizer=wrap
                )
        except TrialFailure as exc:
            return str(exc)
        except (HyperlabError, MemoryError):
            raise  # the task breaks its contract, or the lab failed: every segment would
        except Exception as exc:  # as a trial's failure: the member copies a good one
            return failure_reason(exc)
        except SystemExit as exc:
            return exit_reason(exc)
        # also where train_segment is the task's own; and the epoch, which only we know
        with placed_in_task(self.task.name, place):
            check_segment(self.task.name, segment, epochs, start=start)
        self._check_input_kept(m, start, given)
        reason = divergence(segment, start)
        if reason is None and not self._state_checked:
            self._check_state(segment.state)
        if reason is None and wrap is not None and m.state is None:
            check_wrapped(
                wrap, self.task.name, "its self-tuning members", "leave hypergradient off"
            )
        return with_learned_rate(self.task, segment, wrap) if reason is None else reason

    def config(self, params: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
        """The task's configuration from ``params``, and the parameters of ``params`` its
        search space asked for: in a conditional space a member carries every branch's values
        (an explore may switch branches), but its records hold only its branch's."""
        fixed = optuna.trial.FixedTrial(params)
        config = self.task.search_space(fixed)  # type: ignore[arg-type]
        return config, {name: params[name] for name in fixed.params}

    def _check_state(self, state: Any) -> None:
        """Once per process: refuse a task's state that a copy or a checkpoint could not take,
        at the first segment rather than after a whole generation."""
        self._state_checked = True
        copied(state, f"the state of task {self.task.name!r}")
        checkpoint.check_picklable(state, f"the state of task {self.task.name!r}")

    def _input_fingerprint(self, state: Any) -> bytes | None:
        """Once per process, at the first segment that continues a model: the fingerprint of
        the state it is given (``None``: not checked)."""
        if self._input_checked or state is None:
            return None
        return checkpoint.fingerprint(state, f"the state of task {self.task.name!r}")

    def _check_input_kept(self, m: Member, start: int, given: bytes | None) -> None:
        """Refuse a task that changed the state its segment was given: the checkpoint written
        in the background holds that state's memory, so a resumed run would go on from a state
        half one segment and half the next."""
        if given is None:
            return
        self._input_checked = True
        if checkpoint.fingerprint(m.state, f"the state of task {self.task.name!r}") != given:
            raise InputError(
                f"task {self.task.name!r} changed the state it was given (member {m.index}'s, "
                f"at epoch {start}) instead of returning a new one: the lab copies and "
                "checkpoints that state while the next segment trains, so a resumed run would "
                "go on from a state half one segment and half the next. Copy it first "
                "(state = copy.deepcopy(state)) or build the next state from new tensors "
                "(docs/population.md, 'A new state, never the old one changed', in a checkout of "
                "hyperlab's source)"
            )


@contextlib.contextmanager
def placed_in_task(task: str, place: str) -> Iterator[None]:
    """Name ``place`` (``"member 2, segment from epoch 4 to 6"``) in the message of an error of
    ours that stops the run from inside: ``task 'x': its segment ...`` becomes ``task 'x',
    member 2, segment from epoch 4 to 6: its segment ...``. A :class:`TrialFailure` (a failed
    segment, which the member's lineage records with its epoch) passes as it is."""
    try:
        yield
    except TrialFailure:
        raise
    except HyperlabError as exc:
        text = str(exc).removeprefix(f"task {task!r}: ")
        exc.args = (f"task {task!r}, {place}: {text}",)
        raise


def divergence(segment: Segment, start: int) -> str | None:
    """Why ``segment``, trained from epoch ``start``, cannot be used: a score, its ``std_err``
    or a fold value is NaN or infinite (a training that diverged, as the lab's objective fails
    such an evaluation: ``not_finite``), naming the first epoch whose score is not finite, or
    else the segment's last; ``None`` when all are finite. ``check_segment`` has made sure
    they are numbers, one score per epoch."""
    scores = [float(v) for v in segment.values]
    first = next((i for i, v in enumerate(scores) if not math.isfinite(v)), None)
    if first is not None:
        reason: str | None = f"non-finite score {scores[first]}"
    else:
        folds = [float(v) for v in segment.fold_values]
        reason = not_finite(scores[-1], float(segment.std_err), folds)
    if reason is None:
        return None
    epoch = start + (len(scores) if first is None else first + 1)
    return f"the training diverged: {reason} at epoch {epoch}"


def check_continues(tuner: str, task: Any, does: str) -> Task:
    """``task``, after checking that ``tuner`` can train it in segments: a hyperlab
    :class:`Task` that continues training. ``does`` says what the tuner does with it
    (``"trains a population of a task's models in segments"``), for the message that refuses
    no task.

    Raises:
        InputError: No task (a plain objective), or one without ``_train_segment``.
        InputTypeError: Not a hyperlab Task.
    """
    if task is None:
        raise InputError(
            f"tuner {tuner!r} {does}: it needs a hyperlab Task that can continue training "
            "(a plain objective cannot)"
        )
    if not isinstance(task, Task):
        raise InputTypeError(f"tuner {tuner!r} needs a hyperlab Task, got {task!r}")
    if not task.continues_training:
        raise InputError(
            f"task {task.name!r} cannot continue training, so tuner {tuner!r} cannot train "
            "it: implement Task._train_segment (state in, more epochs, state out; "
            "docs/your-model.md, section 6, in a checkout of hyperlab's source)"
        )
    return task


def copied(state: Any, what: str) -> Any:
    """A deep copy of ``state``; a state that cannot be copied is refused, ``what`` naming
    it."""
    try:
        return copy.deepcopy(state)
    except Exception as exc:
        raise InputTypeError(
            f"{what} cannot be deep-copied for an exploit ({type(exc).__name__}: {exc}). "
            f"{checkpoint.STATE_RULE}"
        ) from exc
