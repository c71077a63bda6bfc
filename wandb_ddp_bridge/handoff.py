"""Handoff: the training phase of a session, a thin context manager over the session's run owner.

Enter: the owner closes the run completely (flushed) and exports the handoff descriptor into ``os.environ``,
so that the training process(es) re-attach with ``attach()``. Exit (also on error): the environment is
restored exactly and the same run resumed with ``resume="must"``; if the block raised, the failure is recorded
and re-raised unchanged. What happens, and in which order, is the owner's (``owner.py``); this module adds the
model, the integration that trains it, and ``h.train()``/``h.result``.

In-process fast path: when the handoff was given a model and training turns out to run in this very process
(CPU, one GPU, or a script already under torchrun), the run stays open and the bridge callbacks log into it
directly; this saves a finish and two inits. A DDP spawn calls :func:`release_parent_run` first, which closes
the run so the worker can resume it. ``fast_path="never"`` always closes at enter.

SIGTERM (a scheduler's pre-emption, ``kill``, ``docker stop``): while the block runs, the first SIGTERM raises
``signals.Terminated`` (a ``SystemExit`` with code 143) in the main thread, so the block unwinds like a
Ctrl-C does: training child processes are stopped, the environment restored and the run ends failed with exit
code 143 instead of being left "running". Only when SIGTERM has its default action: a handler of your own (or
of your launcher) is left alone. The previous handler is back when the handoff ends. After a signal (or
Ctrl-C) the resume gets ``resume_grace_seconds`` in all; then it is abandoned for a local offline copy of the
run (with the ``wandb sync`` command in a warning), and the signal's exit goes on.

A failure anywhere in ``__enter__`` (an interrupted finish, a failing export) unwinds exactly like a training
failure: the environment is restored, the run taken back, the failure recorded, the exception propagates.
"""

from __future__ import annotations

from types import TracebackType
from typing import Any

from .env import HandoffDescriptor
from .errors import BridgeError, PhaseError
from .integrations import TrainingContext, find
from .owner import HandoffRecord, RunOwner, open_owner
from .phases import Phase, RunState, next_phase
from .preemption import signal_numbers

__all__ = ["Handoff", "active_handoff", "release_parent_run"]


def active_handoff() -> Handoff | None:
    """The handoff currently open in this process, if any."""
    owner = open_owner()
    record = owner.open_handoff if owner is not None else None
    front = record.front if record is not None else None
    return front if isinstance(front, Handoff) else None


def release_parent_run() -> None:
    """Close the run if this process still holds it (fast path) — call before spawning training workers."""
    handoff = active_handoff()
    if handoff is not None:
        handoff.release()


class Handoff:
    """Context manager returned by ``Session.handoff()``; ``h.train(...)`` trains the handed-off model.

    A handoff is entered once: call ``s.handoff(...)`` again for another training phase.
    """

    def __init__(self, owner: RunOwner, *, model: Any = None, fast_path: str = "auto") -> None:
        self._owner = owner
        self._model = model
        self._fast_path = fast_path
        self._integration = find(model)
        self._record: HandoffRecord | None = None  # once entered
        self.result: Any = None

    @property
    def model(self) -> Any:
        return self._model

    @property
    def descriptor(self) -> HandoffDescriptor | None:
        """What children read from the environment (``None`` off the main process)."""
        return self._record.descriptor if self._record is not None else None

    @property
    def devices(self) -> Any:
        """The devices training runs on (the session config's ``devices``), on every rank."""
        return self._owner.config.devices

    @property
    def is_open(self) -> bool:
        """Whether this handoff is the one in progress (entered, not yet ended)."""
        record = self._owner.open_handoff
        return record is not None and record.front is self

    @property
    def holds_run(self) -> bool:
        """True while the parent keeps the run open for in-process training (fast path)."""
        return self.is_open and self._owner.state is RunState.HANDED_OFF_HELD

    def __enter__(self) -> Handoff:
        if self._record is not None:
            raise PhaseError(
                "handoff: this handoff was already entered; a handoff is used once. Call s.handoff(...) again "
                "for another training phase"
            )
        integration, model = self._integration, self._model
        prepare = None
        if integration is not None:

            def prepare() -> Any:
                return integration.prepare(model, self._context())

        keep_open = integration is not None and self._fast_path == "auto"
        self._record = self._owner.begin_handoff(self, keep_open=keep_open)  # refuses before any change
        self._owner.complete_handoff(prepare)
        return self

    def _context(self) -> TrainingContext:
        """All an integration may use of this handoff."""
        config = self._owner.config
        return TrainingContext(
            devices=config.devices,
            release_parent_run=self.release,
            record_result=self._record_result,
            preemption_signals=signal_numbers(config.preemption_signals),
            preemption_grace=config.preemption_grace_seconds,
        )

    def _record_result(self, outcome: Any) -> None:
        self.result = outcome

    def release(self) -> None:
        """Finish the run the parent holds (fast path) so a child process can resume it. Idempotent."""
        if self.is_open:
            self._owner.release()

    def train(self, **train_kwargs: Any) -> Any:
        """Train the handed-off model with its integration; returns what ``model.train`` returns.

        ``device`` defaults to the config's ``devices``; for Ultralytics ``trainer=`` may name your own trainer
        class. ``h.result`` then holds the save dir and the best/last weights.
        """
        if self._model is None or self._integration is None:
            raise BridgeError(
                "h.train(): this handoff has no model it knows how to train. Pass it when handing off: "
                "`with s.handoff(model) as h: h.train(...)` (an Ultralytics model), or call your own training "
                "code in the block."
            )
        return self._integration.train(self._model, self._context(), **train_kwargs)

    def tune(self, **tune_kwargs: Any) -> Any:
        """Run the framework's hyperparameter search on the handed-off model (Ultralytics: its Tuner, each
        iteration its own run grouped under the session's, the session's run the search; see
        ``docs/hyperparameter-search.md``). ``h.result`` then holds the iterations and the best."""
        if self._model is None or self._integration is None:
            raise BridgeError(
                "h.tune(): this handoff has no model it knows how to tune. Pass it when handing off: "
                "`with s.handoff(model) as h: h.tune(...)` (an Ultralytics model)."
            )
        return self._integration.tune(self._model, self._context(), **tune_kwargs)

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if not self.is_open:
            if exc is None:  # never entered: refused like the phase says; ended already: like POST
                next_phase(self._owner.state.phase if self._record is None else Phase.POST, "return")
            return
        pending = self._owner.take_back(exc)
        if pending is not None and exc is None:
            raise pending  # arrived while resuming: the session still ends failed, with 143
