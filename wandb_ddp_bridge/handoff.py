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
of your launcher) is left alone. The previous handler is back when the handoff ends.
"""

from __future__ import annotations

import os
import time
from contextlib import ExitStack
from dataclasses import replace
from types import TracebackType
from typing import TYPE_CHECKING, Any

from . import _log, _wandb
from .env import HANDOFF_ENV_VAR, HandoffDescriptor, exported
from .errors import BackendError, BridgeError, PhaseError
from .integrations import TrainingContext, find
from .phases import holds_run
from .signals import SignalGuard

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
    """Context manager returned by ``Session.handoff()``; ``h.train(...)`` trains the handed-off model."""

    def __init__(self, session: Session, *, model: Any = None, fast_path: str = "auto") -> None:
        self._session = session
        self._model = model
        self._fast_path = fast_path
        self._stack = ExitStack()
        self._descriptor: HandoffDescriptor | None = None
        self._holding: Run | None = None
        self._sigterm = SignalGuard()
        self._integration = find(model)
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
        session = self._session
        if holds_run(session.phase):
            session._owned_run("s.handoff()")
        session._enter_handoff()
        try:
            if session.is_main_process and session._run is not None:
                run = session._run
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
                self._stack.enter_context(exported(self._descriptor.environ(session.config)))
            if self._integration is not None:
                self._stack.enter_context(self._integration.prepare(self._model, self._context()))
        except BaseException:
            self._stack.close()
            session._leave_handoff(None, self._reopen(None))
            raise
        _active = self
        self._sigterm.install()
        _log.debug("handed off run %s (fast path: %s)", session.id, self.holds_run)
        return self

    def _context(self) -> TrainingContext:
        """All an integration may use of this handoff."""
        return TrainingContext(
            devices=self._session.config.devices,
            release_parent_run=self.release,
            record_result=self._record_result,
        )

    def _record_result(self, outcome: Any) -> None:
        self.result = outcome

    def release(self) -> None:
        """Finish the run the parent holds (fast path) so a child process can resume it. Idempotent."""
        run, self._holding = self._holding, None
        if run is None or self._descriptor is None:
            return
        if _wandb.active_run() is run:
            _wandb.finish(run, exit_code=0)
        self._descriptor = replace(self._descriptor, parent_holds_run=False)
        os.environ[HANDOFF_ENV_VAR] = self._descriptor.to_json()
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
        global _active
        _active = None
        self._sigterm.defer()  # a SIGTERM now must not break the resume that records how training ended
        try:
            self._stack.close()  # environment back exactly as before, before anything else can fail
            try:
                run = self._reopen(exc)
            except BaseException as error:
                self._session._leave_handoff(exc or error, None)
                raise
            self._session._leave_handoff(exc, run)
        finally:
            pending = self._sigterm.restore()
        if pending is not None and exc is None:
            raise pending  # arrived while resuming: the session still ends failed, with 143

    def _reopen(self, exc: BaseException | None) -> Run | None:
        """The run for the post phase: still open (fast path), or resumed with retries."""
        session = self._session
        held, self._holding = self._holding, None
        if not session.is_main_process or session._run is None:
            return None
        current = _wandb.active_run()
        if held is not None and current is held:
            return held
        if current is not None:
            message = (
                f"a W&B run ({current.id!r}) opened inside the handoff block is still open, so the session "
                f"cannot resume run {session._run.id!r}. Do not call wandb.init() in the training phase: "
                "use attach()/detach() (or the Ultralytics integration) instead."
            )
            if exc is None:
                raise PhaseError(message)
            _log.warning("%s", message)
            return None
        previous = session._run
        attempts = session.config.resume_attempts
        delay = 1.0
        for attempt in range(1, attempts + 1):
            try:
                return _wandb.resume(
                    run_id=previous.id,
                    project=previous.project or session.config.project,
                    entity=previous.entity or session.config.entity,
                    mode=session.config.mode,
                    config=session.config,
                    dir=session.config.dir,
                )
            except BackendError as error:
                _wandb.forget_failed_init()
                if attempt == attempts:
                    if session.config.on_backend_error == "offline":
                        return _resume_offline(session, previous)
                    if exc is not None:
                        # keep the training error primary; say loudly that post-training is lost
                        _log.warning("%s", error)
                        return None
                    raise
                _log.warn_once(f"resume attempt {attempt}/{attempts} failed: {error}; retrying")
                time.sleep(delay)
                delay *= 2
        return None  # unreachable: the loop returns or raises


def _resume_offline(session: Session, previous: Run) -> Run:
    """Keep the post-training logs locally, under the same run id, and say how to sync them."""
    config = replace(session.config, mode="offline")
    run = _wandb.resume_offline(run_id=previous.id, project=previous.project or config.project,
                                entity=previous.entity or config.entity, config=config)
    where = f"-e {previous.entity} " if previous.entity else ""
    _log.warning(
        "the W&B backend is unreachable; post-training logs go to an OFFLINE copy of run %s. Sync them into "
        "the same run later with:\n  wandb sync --id %s -p %s %s%s",
        previous.id, previous.id, previous.project, where, _wandb.run_dir(run),
    )
    return run
