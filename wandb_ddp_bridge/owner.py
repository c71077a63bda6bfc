"""RunOwner: the one object that owns a session's run, from opening it to finishing it.

Where the run is has one answer, :attr:`RunOwner.state` (a :class:`~.phases.RunState`), and every change of
it goes through the one table ``phases.MOVES``: open in pre-training, handed off and held by this process
(fast path) or released to the training processes, taken back or resumed into post-training, lost, finished.
``Session`` and ``Handoff`` are thin public faces over it; the owner registers itself as what is open in this
process (:mod:`.registry`), so ``active_session()`` and ``active_handoff()`` read one place.

Only global rank 0 ever creates, resumes or finishes the run. Every other rank runs the same state machine with
no run, so every W&B call is a no-op there. Every transition unwinds through one path (``signals.Unwinding``):
whatever fails, the exception that started it propagates (cleanup errors are noted on it), nothing stays
registered, the bridge's ``WANDB_*`` variables are as before, and the run is finished exactly once, with a
non-zero exit code if anything failed.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager, ExitStack
from dataclasses import replace
from typing import TYPE_CHECKING

from . import _log, _wandb
from .artifacts.redact import Redactor
from .attempts import AttemptLog, exit_code_for, failed_code, outcome_of
from .config import BridgeConfig
from .env import HANDOFF_ENV_VAR, MANAGED_VARIABLES, EnvSnapshot, Exported, HandoffDescriptor, exported
from .errors import BackendError, PhaseError
from .markers import marker
from .opening import check_adopted, open_new
from .phases import SESSION, RunState, Vocabulary, advance, check_method, holds_run
from .preemption import Preempted
from .ranks import detect_world
from .refusals import CreatedRun, discard_refused_run
from .registry import Slot
from .restarts import ContinuedRun
from .resumption import recovered, reopen
from .signals import SignalGuard, Unwinding, add_note

if TYPE_CHECKING:
    from wandb.sdk.wandb_run import Run

__all__ = ["HandoffRecord", "RunOwner", "open_owner"]

#: The run owner open in this process (at most one: one process, one session).
_OPEN: Slot[RunOwner] = Slot("run owner")

_RUN_HELD = frozenset({RunState.PRE, RunState.POST})


def open_owner() -> RunOwner | None:
    """The run owner open in this process, if any."""
    return _OPEN.get()


class HandoffRecord:
    """One handoff as the owner keeps it: its public face, what it exported, and the signal guard that turns
    a SIGTERM during training into an unwinding."""

    def __init__(self, front: object, grace: float, ending: str) -> None:
        self.front = front  # the Handoff object the user holds
        self.ending = ending  # the marker that closes the phase the handoff ends
        self.stack = ExitStack()  # the exported environment and the integration's prepare(), undone first
        self.guard = SignalGuard(grace=grace)
        self.descriptor: HandoffDescriptor | None = None  # what training processes read (main process only)
        self.export: Exported | None = None


class RunOwner:
    """Owns one run and its lifecycle; see the module docstring. ``front`` is the ``Session`` it serves."""

    def __init__(self, config: BridgeConfig, *, front: object, adopted_run: Run | None = None) -> None:
        self.config = config
        self.front = front
        self._state = RunState.NEW
        self._history: list[RunState] = [RunState.NEW]
        self._run: Run | None = adopted_run
        self._adopted = adopted_run is not None
        #: id of the run this owner opened, once it has one: a run with this id still open at the end is closed
        self._run_id: str | None = None
        self._env_before: EnvSnapshot | None = None
        self._training_failed: str | None = None
        self._handoffs = 0
        self._handoff: HandoffRecord | None = None
        #: the run this owner created (not continued), and whether the caller wrote to it or held it (refusals.py)
        self._created: CreatedRun | None = None
        self._caller_used_run = False
        #: every secret this session has seen (its API key from the start): what it writes goes through it
        self.redactor = Redactor([config.api_key] if config.api_key else [])
        #: phase markers and this process's attempt at the run (> 1: continued after a restart)
        self._attempts = AttemptLog(self.redactor)

    # ------------------------------------------------------------------------------------------ state
    @property
    def state(self) -> RunState:
        """Where the run is now."""
        return self._state

    @property
    def history(self) -> tuple[RunState, ...]:
        """Every state the run has been in, in order (``RunState.LOST in history``: post-training had no run)."""
        return tuple(self._history)

    @property
    def run(self) -> Run | None:
        """The live run while this process holds it for the session (PRE/POST, main process); else ``None``."""
        return self._run if self._state in _RUN_HELD else None

    @property
    def held_run(self) -> Run | None:
        """The run this process keeps open for in-process training (state HANDED_OFF_HELD), else ``None``."""
        return self._run if self._state is RunState.HANDED_OFF_HELD else None

    @property
    def run_id(self) -> str | None:
        return self._run.id if self._run is not None else self._run_id

    @property
    def url(self) -> str | None:
        if self._run is None:
            return None
        try:
            return self._run.url
        except Exception:  # offline runs have no URL
            return None

    @property
    def training_failed(self) -> bool:
        return self._training_failed is not None

    @property
    def open_handoff(self) -> HandoffRecord | None:
        """The handoff in progress (state HANDED_OFF_*), if any."""
        return self._handoff

    def _move(self, move: str, words: Vocabulary = SESSION) -> None:
        before, self._state = self._state, advance(self._state, move, words)
        self._history.append(self._state)
        _log.debug("run %s: %s --%s--> %s", self.run_id, before.name, move, self._state.name)

    # ------------------------------------------------------------------------------ enter and exit
    def enter(self) -> None:
        """Open the run (main process) and register as what is open in this process."""
        advance(self._state, "enter")  # refuses before anything happens
        other = _OPEN.get()
        if other is not None:
            raise PhaseError(
                "wandb_session(): another session is already open in this process (run "
                f"{other.run_id!r}); nest your work inside it or finish it first: one process, one session"
            )
        main = detect_world().is_main  # fails closed (ConfigError) before anything happened
        preexisting = _wandb.active_run_if_loaded()
        self._env_before = EnvSnapshot.capture(MANAGED_VARIABLES)
        self._move("enter")
        _OPEN.set(self)
        _log.forget_warnings()  # what the previous session of this process warned about is news again
        try:
            if main:
                self._open_run()
            self._mark(marker("pre", 0, "start"))
        except BaseException as error:
            self._abort_enter(error, preexisting)
            raise
        _log.debug("session entered (run %s, %s)", self.run_id, self.config.describe())

    def _open_run(self) -> None:
        if self._adopted:
            check_adopted(self._run)
            self._run_id = self._run.id if self._run is not None else None
            return
        opened = open_new(self.config)
        self._run, self.config, self._run_id = opened.run, opened.config, opened.run.id
        if not getattr(opened.run, "resumed", False):
            self._created = CreatedRun(opened.run.entity or self.config.entity, opened.run.project, opened.run.id)
        self._attempts.begin(opened.run, opened.identity, self.config.project)

    def _abort_enter(self, error: BaseException, preexisting: Run | None) -> None:
        """Undo a failed :meth:`enter`: close whatever run it opened (or adopted), back to NEW, env as before."""
        steps = Unwinding(error, "closing the session after its start failed")
        current = _wandb.active_run_if_loaded()
        if current is not None and (current is self._run or current is not preexisting):
            steps.run(_wandb.finish, current, exit_code=max(1, exit_code_for(error)))
        self._move("abort")
        self._handoffs = 0
        self._attempts.reset()
        if not self._adopted:
            self._run, self._run_id, self._created = None, None, None
        _OPEN.clear(self)
        if self._env_before is not None:
            self._env_before.restore()
        steps.settle()

    def close(self, exc: BaseException | None) -> None:
        """Finish the run exactly once (taking it back first if a handoff is still open); unregister."""
        primary = exc
        steps = Unwinding(exc, "finishing the session")
        if self._handoff is not None:
            # The block ends while a handoff entered by hand is still open: take the run back first, as failed.
            try:
                advance(self._state, "exit")
            except PhaseError as refused:
                primary = exc if exc is not None else refused
            steps.run(self.take_back, primary)
        try:
            advance(self._state, "exit")
        except PhaseError as refused:
            if exc is None:
                raise
            add_note(exc, f"the session was not finished: {refused}")
            return
        exit_code = exit_code_for(primary)
        if exit_code == 0 and (self._training_failed is not None or steps.errors):
            exit_code = 1  # a handoff failed and the caller swallowed it: the run still ended failed
        try:
            self._move("exit")
            self._finish_run(steps, primary, exit_code)
            steps.run(discard_refused_run, self._created, primary, self.config, caller_used_run=self._caller_used_run)
        finally:
            _OPEN.clear(self)
            if self._env_before is not None:
                # wandb exports WANDB_SERVICE on first use; the bridge's variables never outlive the session
                self._env_before.restore()
            _log.debug("session finished (exit code %s)", exit_code)
        steps.settle(primary)
        if primary is not None and primary is not exc:
            raise primary  # the session ended with its handoff still open: say so, now that all is closed

    def _finish_run(self, steps: Unwinding, primary: BaseException | None, exit_code: int) -> None:
        run = self._run
        if run is not None:
            if isinstance(primary, Preempted):  # the writer session that ends the run says it comes back
                steps.run(run.mark_preempting)  # (a sweep requeues the trial; W&B shows it preempted)
            self._attempts.end(exit_code, outcome_of(primary, exit_code))
            steps.run(self._mark, self._ending_marker(), failure=primary)
            exit_code = exit_code or failed_code(steps.errors)
            if _wandb.active_run() is run:
                steps.run(_wandb.finish, run, exit_code=exit_code)
        steps.run(self._close_own_run, exit_code or failed_code(steps.errors))

    def _close_own_run(self, exit_code: int) -> None:
        """Finish a run of this owner's that is still open though it lost track of it (an interrupted resume
        may have opened it): no run of the session outlives it."""
        current = _wandb.active_run_if_loaded()
        if current is not None and self._run_id is not None and current.id == self._run_id:
            _log.debug("closing run %s left open by an interrupted transition", current.id)
            _wandb.finish(current, exit_code=exit_code)

    # ------------------------------------------------------------------------------------ handoff
    def begin_handoff(self, front: object, *, keep_open: bool) -> HandoffRecord:
        """Check and record a handoff: held open for training in this process (``keep_open``, the fast path)
        or to be closed for training processes. No W&B call here, so nothing can fail after the check."""
        if holds_run(self._state.phase):  # LOST too: refused, saying why the run is gone
            self.run_for("s.handoff()")
        ending = self._ending_marker()
        self._move("hold" if keep_open and self._run is not None else "hand_off")  # refuses before any change
        self._handoffs += 1
        record = self._handoff = HandoffRecord(front, self.config.resume_grace_seconds, ending)
        return record

    def complete_handoff(self, prepare: Callable[[], AbstractContextManager[None]] | None) -> None:
        """Hand the run to training: the summary markers, the run closed (unless held) and the descriptor
        exported; then the integration's ``prepare()`` and the signal guard. A failure here unwinds exactly
        like a training failure (:meth:`take_back`) and propagates."""
        record, run = self._handoff, self._run
        if record is None:
            raise PhaseError("complete_handoff(): no handoff was begun; call begin_handoff() first")
        hold = self._state is RunState.HANDED_OFF_HELD
        try:
            self._mark(record.ending, marker("training", self._handoffs, "start"))
            if run is not None:
                record.descriptor = self._descriptor(run, hold)
                if not hold:
                    _wandb.finish(run, exit_code=0)
                record.export = record.stack.enter_context(exported(record.descriptor.environ(self.config)))
            if prepare is not None:
                record.stack.enter_context(prepare())
            record.guard.install()
        except BaseException as error:
            self.take_back(error)
            raise
        _log.debug("handed off run %s (fast path: %s)", self.run_id, hold)

    def _descriptor(self, run: Run, hold: bool) -> HandoffDescriptor:
        config = self.config
        return HandoffDescriptor(
            run_id=run.id,
            project=run.project or config.project,
            entity=run.entity or config.entity,
            base_url=config.base_url,
            mode=config.mode,
            dir=config.dir,
            devices=config.devices,
            init_timeout=config.init_timeout,
            parent_holds_run=hold,
            checkpoints=config.checkpoints,
            checkpoint_every=config.checkpoint_every,
            checkpoint_keep=config.checkpoint_keep,
            checkpoint_grace=config.preemption_grace_seconds,
        )

    def release(self) -> None:
        """Finish the run held for in-process training so a child process can resume it. Idempotent."""
        record = self._handoff
        run = self._run
        if self._state is not RunState.HANDED_OFF_HELD or record is None or run is None:
            return
        if record.descriptor is None or record.export is None:
            return
        if _wandb.active_run() is run:
            _wandb.finish(run, exit_code=0)
        self._move("release")
        record.descriptor = replace(record.descriptor, parent_holds_run=False)
        record.export.apply({HANDOFF_ENV_VAR: record.descriptor.to_json()})  # restored with the rest
        _log.debug("released run %s for child processes", run.id)

    def take_back(self, exc: BaseException | None) -> BaseException | None:
        """End the handoff, whatever happened: environment back exactly, the run taken back (still open, or
        resumed within the signal grace period) or lost, the failure recorded, the signal guard restored.
        ``exc`` (if any) stays the exception that propagates; with none, a cleanup error is raised. Returns
        the exception for a signal that arrived meanwhile."""
        record, self._handoff = self._handoff, None
        if record is None:
            return None
        record.guard.defer()  # a SIGTERM now must not break the resume that records how training ended
        steps = Unwinding(exc, "ending the handoff")
        steps.run(record.stack.close)  # environment back exactly as before, before anything else can fail
        held = self._run if self._state is RunState.HANDED_OFF_HELD else None
        run = steps.run(reopen, self._run, held, exc, self.config, record.guard)
        if run is None and steps.errors:
            run = recovered(self._run)
        steps.run(self._return, exc if exc is not None else steps.first_error, run)
        if exc is None and steps.errors:
            self._note_failure(steps.errors[0])  # e.g. the summary write of the transition itself
        pending = record.guard.restore()
        if exc is not None and pending is not None:
            add_note(exc, f"{pending} while the run was being taken back")  # exc stays the one that propagates
        steps.settle(exc if exc is not None else pending)
        return pending

    def _return(self, exc: BaseException | None, run: Run | None) -> None:
        """Into POST with ``run``, or LOST; then the transition's summary write, which may fail."""
        if self._run is not None and run is None:
            self._move("abandon")
        else:
            self._move("take_back" if self._state is RunState.HANDED_OFF_HELD else "resume")
        self._run = run
        if exc is not None:
            self._note_failure(exc)
        if run is not None:
            self._mark(marker("training", self._handoffs, "end"), marker("post", self._handoffs, "start"), failure=exc)

    def _note_failure(self, exc: BaseException) -> None:
        """A handoff failed (even if the caller swallows it): the run will end with a non-zero exit code."""
        self._training_failed = self._training_failed or self.redactor.failure(exc)

    def _ending_marker(self) -> str:
        """The marker that closes the phase the session is in now (pre-training or a post-training)."""
        return marker("pre" if self._handoffs == 0 else "post", self._handoffs, "end")

    # ------------------------------------------------------------------------ the run writers use
    def writable_run(self, method: str) -> Run | None:
        """Phase check for ``s.<method>()``, then the run to write to (``None`` off the main process)."""
        check_method(self._state.phase, method)
        run = self.run_for(f"s.{method}()")
        self._caller_used_run = self._caller_used_run or run is not None
        if run is not None and self._attempts.number > 1:
            return ContinuedRun(run, self._attempts.number)  # type: ignore[return-value]  # a run, for the writers
        return run

    def hand_out_run(self) -> Run | None:
        """:attr:`run`, for the caller (``s.run``): a run the caller held may hold what they wrote to it."""
        self._caller_used_run = self._caller_used_run or self.run is not None
        return self.run

    def run_for(self, action: str) -> Run | None:
        """The owned run, after making sure nobody closed or replaced it behind the owner's back."""
        if self._run is None:
            if self._state is RunState.LOST:
                raise BackendError(
                    f"{action}: the run could not be resumed after training (the error the handoff raised or "
                    "logged says why), so this would be lost. If the backend was unreachable, "
                    "on_backend_error='offline' keeps post-training logs locally."
                )
            return None
        current = _wandb.active_run()
        if current is not self._run:
            found = "no run is open" if current is None else f"run {current.id!r} is open instead"
            raise PhaseError(
                f"{action}: the session's run {self._run.id!r} was closed or replaced outside the session "
                f"({found}); did your code call wandb.finish() or wandb.init() itself? Let the session open "
                "and close the run; log through the session."
            )
        return self._run

    def _mark(self, *keys: str, failure: BaseException | None = None) -> None:
        """Phase boundary times (and the failure, if one ended the phase) in the summary: one write per
        transition."""
        if self._run is None:
            return
        _wandb.update_summary(self._run, self._attempts.mark(*keys, failure=failure))
