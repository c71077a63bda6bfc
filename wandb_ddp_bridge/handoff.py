"""Handoff: the training phase of a session.

Enter: close the run completely (flushed) and export the handoff descriptor into ``os.environ``, so that the
training process(es) re-attach with ``attach()``. Exit (also on error): restore the environment exactly and
resume the same run with ``resume="must"``; if the block raised, record the failure and re-raise unchanged.

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

import time
from contextlib import ExitStack
from dataclasses import replace
from types import TracebackType
from typing import TYPE_CHECKING, Any

from . import _log, _wandb
from .env import HANDOFF_ENV_VAR, Exported, HandoffDescriptor, exported
from .errors import BackendError, BridgeError, PhaseError
from .integrations import TrainingContext, find
from .phases import FAILED_KEY, Phase, holds_run, next_phase
from .preemption import signal_numbers
from .signals import GraceExpired, SignalGuard, Terminated, Unwinding, add_note

if TYPE_CHECKING:
    from wandb.sdk.wandb_run import Run

    from .session import Session

__all__ = ["Handoff", "active_handoff", "release_parent_run"]

_active: Handoff | None = None


def active_handoff() -> Handoff | None:
    """The handoff currently open in this process, if any."""
    return _active


def release_parent_run() -> None:
    """Close the run if this process still holds it (fast path) — call before spawning training workers."""
    if _active is not None:
        _active.release()


class Handoff:
    """Context manager returned by ``Session.handoff()``; ``h.train(...)`` trains the handed-off model.

    A handoff is entered once: call ``s.handoff(...)`` again for another training phase.
    """

    def __init__(self, session: Session, *, model: Any = None, fast_path: str = "auto") -> None:
        self._session = session
        self._model = model
        self._fast_path = fast_path
        self._stack = ExitStack()
        self._descriptor: HandoffDescriptor | None = None
        self._export: Exported | None = None
        self._holding: Run | None = None
        self._sigterm = SignalGuard(grace=session.config.resume_grace_seconds)
        self._integration = find(model)
        self._state = "new"  # -> "open" -> "closed"
        self.result: Any = None

    @property
    def model(self) -> Any:
        return self._model

    @property
    def descriptor(self) -> HandoffDescriptor | None:
        """What children read from the environment (``None`` off the main process)."""
        return self._descriptor

    @property
    def devices(self) -> Any:
        """The devices training runs on (the session config's ``devices``), on every rank."""
        return self._session.config.devices

    @property
    def holds_run(self) -> bool:
        """True while the parent keeps the run open for in-process training (fast path)."""
        return self._holding is not None

    def __enter__(self) -> Handoff:
        global _active
        if self._state != "new":
            raise PhaseError(
                "handoff: this handoff was already entered; a handoff is used once. Call s.handoff(...) again "
                "for another training phase"
            )
        session = self._session
        if holds_run(session.phase):
            session._owned_run("s.handoff()")
        marks = session._enter_handoff(self)  # refuses (PhaseError) before anything changes
        self._state, _active = "open", self
        try:
            session._mark(*marks)
            run = session._run
            if run is not None:
                keep_open = self._integration is not None and self._fast_path == "auto"
                self._descriptor = HandoffDescriptor(
                    run_id=run.id,
                    project=run.project or session.config.project,
                    entity=run.entity or session.config.entity,
                    base_url=session.config.base_url,
                    mode=session.config.mode,
                    dir=session.config.dir,
                    devices=session.config.devices,
                    init_timeout=session.config.init_timeout,
                    parent_holds_run=keep_open,
                )
                if keep_open:
                    self._holding = run
                else:
                    _wandb.finish(run, exit_code=0)
                self._export = self._stack.enter_context(exported(self._descriptor.environ(session.config)))
            if self._integration is not None:
                self._stack.enter_context(self._integration.prepare(self._model, self._context()))
            self._sigterm.install()
        except BaseException as error:
            # Unwind exactly as if training had failed at once: env back, run taken back, failure recorded.
            self._take_back(error)
            raise
        _log.debug("handed off run %s (fast path: %s)", session.id, self.holds_run)
        return self

    def _context(self) -> TrainingContext:
        """All an integration may use of this handoff."""
        config = self._session.config
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
        run = self._holding
        if run is None or self._descriptor is None or self._export is None:
            return
        if _wandb.active_run() is run:
            _wandb.finish(run, exit_code=0)
        self._holding = None
        self._descriptor = replace(self._descriptor, parent_holds_run=False)
        self._export.apply({HANDOFF_ENV_VAR: self._descriptor.to_json()})  # restored with the rest
        _log.debug("released run %s for child processes", run.id)

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

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._state != "open":
            if exc is None:
                next_phase(self._session.phase if self._state == "new" else Phase.POST, "return")
            return
        pending = self._take_back(exc)
        if pending is not None and exc is None:
            raise pending  # arrived while resuming: the session still ends failed, with 143

    def _take_back(self, exc: BaseException | None) -> BaseException | None:
        """End the handoff, whatever happened: environment back exactly, the run taken back (still open, or
        resumed within the signal grace period), the session in POST with the failure recorded, the signal
        guard restored and nothing registered. ``exc`` (if any) stays the exception that propagates; with
        none, a cleanup error is raised. Returns the exception for a signal that arrived meanwhile."""
        global _active
        if self._state != "open":
            return None
        self._state = "closed"
        if _active is self:
            _active = None
        self._sigterm.defer()  # a SIGTERM now must not break the resume that records how training ended
        steps = Unwinding(exc, "ending the handoff")
        steps.run(self._stack.close)  # environment back exactly as before, before anything else can fail
        run = steps.run(self._reopen, exc)
        if run is None and steps.errors:
            run = self._recovered()
        steps.run(self._session._leave_handoff, exc if exc is not None else steps.first_error, run)
        if exc is None and steps.errors:
            self._session._note_failure(steps.errors[0])  # e.g. the summary write of the transition itself
        pending = self._sigterm.restore()
        if exc is not None and pending is not None:
            add_note(exc, f"{pending} while the run was being taken back")  # exc stays the one that propagates
        steps.settle(exc if exc is not None else pending)
        return pending

    def _recovered(self) -> Run | None:
        """The session's run, if an interrupted resume had opened it after all (the interruption still
        propagates; the post phase gets the run)."""
        previous = self._session._run
        current = _wandb.active_run_if_loaded()
        if previous is not None and current is not None and current.id == previous.id:
            return current
        return None

    def _reopen(self, exc: BaseException | None) -> Run | None:
        """The run for the post phase: still open (fast path, or never closed), or resumed with retries."""
        session = self._session
        held, self._holding = self._holding, None
        previous = session._run
        if previous is None:  # not the main process, or no run
            return None
        current = _wandb.active_run()
        if current is not None and (current is held or current is previous or current.id == previous.id):
            return current  # never closed (an interrupted handoff start), or kept open (fast path)
        if current is not None:
            message = (
                f"a W&B run ({current.id!r}) opened inside the handoff block is still open, so the session "
                f"cannot resume run {previous.id!r}. Do not call wandb.init() in the training phase: "
                "use attach()/detach() (or the Ultralytics integration) instead."
            )
            if exc is None:
                raise PhaseError(message)
            _log.warning("%s", message)
            return None
        return self._resume(previous, exc)

    def _resume(self, previous: Run, exc: BaseException | None) -> Run | None:
        """Resume ``previous`` with retries; after a signal (or Ctrl-C) within its grace period, else abandon."""
        config = self._session.config
        deadline = self._sigterm.deadline()
        if deadline is None and isinstance(exc, (KeyboardInterrupt, SystemExit)):  # interrupted: the user wants out
            # counted from the signal where it is known (the preemption watch took it while training ran here,
            # and the stop already used part of the grace), else from now
            signalled = exc.received_at if isinstance(exc, Terminated) else None
            deadline = (signalled if signalled is not None else time.monotonic()) + config.resume_grace_seconds
        try:
            return self._resume_until(previous, exc, deadline)
        except GraceExpired:
            # a signal arrived during an attempt and its grace period is over (the guard interrupted it)
            return self._abandon(previous)

    def _abandon(self, previous: Run) -> Run | None:
        self._sigterm.end_grace()  # giving up already: the guard must not interrupt the offline copy
        return _abandon_resume(self._session, previous)

    def _resume_until(self, previous: Run, exc: BaseException | None, deadline: float | None) -> Run | None:
        session = self._session
        config = session.config
        # an attempt bounded by the deadline ends a little before it: wandb then drops the attempt itself,
        # and the offline copy can still take the run id
        margin = min(2.0, config.resume_grace_seconds / 4)
        delay = 1.0
        for attempt in range(1, config.resume_attempts + 1):
            # no attempt outlasts the grace period: a SIGTERM arriving during one is then honoured in time even
            # where wandb cannot be interrupted while it waits (measured on the oldest supported wandb)
            timeout = min(config.init_timeout, config.resume_grace_seconds)
            if deadline is not None:
                timeout = min(timeout, deadline - time.monotonic() - margin)
                if timeout <= 0:
                    return self._abandon(previous)
            try:
                return _wandb.resume(
                    run_id=previous.id,
                    project=previous.project or config.project,
                    entity=previous.entity or config.entity,
                    mode=config.mode,
                    config=config,
                    dir=config.dir,
                    init_timeout=timeout,
                )
            except BackendError as error:
                _wandb.forget_failed_init()
                if attempt == config.resume_attempts:
                    if deadline is not None:
                        return self._abandon(previous)
                    if config.on_backend_error == "offline":
                        return _resume_offline(session, previous)
                    if exc is not None:
                        # keep the training error primary; say loudly that post-training is lost
                        _log.warning("%s", error)
                        return None
                    raise
                _log.warn_once(f"resume attempt {attempt}/{config.resume_attempts} failed: {error}; retrying")
                pause = delay if deadline is None else min(delay, max(0.0, deadline - time.monotonic()))
                time.sleep(pause)
                delay *= 2
        return None  # unreachable: the loop returns or raises


def _abandon_resume(session: Session, previous: Run) -> Run | None:  # see Handoff._abandon
    """The signal's grace period ran out: record the end of the run in a local offline copy instead (the
    session writes the failure into it and finishes it), or, where wandb still holds the abandoned attempt,
    say how to record it by hand."""
    grace = session.config.resume_grace_seconds
    _log.warning("gave up resuming run %s after a signal: its grace period (resume_grace_seconds=%s) ran out",
                 previous.id, grace)
    try:
        return _resume_offline(session, previous)
    except Exception as error:
        where = f", entity={previous.entity!r}" if previous.entity else ""
        _log.warning(
            "could not keep an offline copy of run %s either (%s: %s): the server has its training data, but "
            "not how it ended. Record that later with:\n  python -c \"import wandb; run = wandb.init(id=%r, "
            "project=%r%s, resume='must'); run.summary['%s'] = True; run.finish(exit_code=143)\"",
            previous.id, type(error).__name__, error, previous.id, previous.project, where, FAILED_KEY,
        )
        return None


def _resume_offline(session: Session, previous: Run) -> Run:
    """Keep the post-training logs locally, under the same run id, and say how to sync them."""
    config = session.config.model_copy(update={"mode": "offline"})
    run = _wandb.resume_offline(run_id=previous.id, project=previous.project or config.project,
                                entity=previous.entity or config.entity, config=config)
    where = f"-e {previous.entity} " if previous.entity else ""
    _log.warning(
        "the W&B backend is unreachable; post-training logs go to an OFFLINE copy of run %s. Sync them into "
        "the same run later with:\n  wandb sync --id %s -p %s %s%s",
        previous.id, previous.id, previous.project, where, _wandb.run_dir(run),
    )
    return run
