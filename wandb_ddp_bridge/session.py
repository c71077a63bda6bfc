"""Session: one W&B run across pre-training, training (handed off) and post-training.

Only global rank 0 ever creates, resumes or finishes the run. Every other rank gets the same Session object
running the same phase checks, with every W&B call turned into a no-op, so callers never branch on rank; the
rank is read when the session is entered, never cached at construction. Nothing contacts W&B before
``__enter__``.

Every transition unwinds through one path (``signals.Unwinding``): whatever fails, and wherever an exception
lands (``KeyboardInterrupt``, a signal), the exception that started it propagates (cleanup errors are noted on
it); once the ``with`` block has exited, no session or handoff is registered, the bridge's ``WANDB_*``
variables are as before, and the run is finished once, with a non-zero exit code if anything failed.
"""

from __future__ import annotations

from types import TracebackType
from typing import TYPE_CHECKING, Any

from . import _log, _wandb
from .attempts import AttemptLog, exit_code_for, failed_code, outcome_of, run_identity
from .config import BridgeConfig
from .env import MANAGED_VARIABLES, EnvSnapshot
from .errors import BackendError, PhaseError
from .phases import Phase, check_method, holds_run, marker, next_phase
from .ranks import detect_world
from .restarts import ContinuedRun
from .run_writers import RunWriters
from .signals import Unwinding, add_note

if TYPE_CHECKING:
    from wandb.sdk.wandb_run import Run

    from .handoff import Handoff

__all__ = ["Session", "active_session", "wandb_session"]

_active: Session | None = None


def active_session() -> Session | None:
    """The session currently open in this process, if any."""
    return _active


class Session(RunWriters):
    """A phase-checked W&B run. Create it with :func:`wandb_session`; use it as a context manager.

    Its writers (``log``, ``summary``, ``save_config``, ``save_artifacts``, ``save_metadata``, ``log_s3_artifact``,
    ``log_model``) are in ``run_writers.py``; each asks :meth:`_checked` for the run when called."""

    def __init__(self, config: BridgeConfig, *, adopted_run: Run | None = None) -> None:
        self.config = config
        self._phase = Phase.NEW
        self._run: Run | None = adopted_run
        self._adopted = adopted_run is not None
        #: id of the run this session owns, once it has one: a run with this id still open at the end is closed
        self._run_id: str | None = None
        self._env_before: EnvSnapshot | None = None
        self._training_failed: str | None = None
        self._handoffs = 0
        self._lost_run = False
        self._handoff: Handoff | None = None  # the open handoff (phase HANDOFF)
        #: phase markers and this process's attempt at the run (> 1: continued after a restart)
        self._attempts = AttemptLog()

    # ----------------------------------------------------------------- state
    @property
    def phase(self) -> Phase:
        return self._phase

    @property
    def is_main_process(self) -> bool:
        """Whether this process is global rank 0, read now (a ``ConfigError`` when the rank cannot be known)."""
        return detect_world().is_main

    @property
    def run(self) -> Run | None:
        """The live run in PRE/POST on the main process; ``None`` elsewhere."""
        return self._run if holds_run(self._phase) else None

    @property
    def id(self) -> str | None:
        if self._run is not None:
            return self._run.id
        return self._run_id

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

    # ----------------------------------------------------------- lifecycle
    def __enter__(self) -> Session:
        global _active
        nxt = next_phase(self._phase, "enter")
        if _active is not None:
            raise PhaseError(
                "wandb_session(): another session is already open in this process (run "
                f"{_active.id!r}); nest your work inside it or finish it first: one process, one session"
            )
        main = detect_world().is_main  # fails closed (ConfigError) before anything happened
        preexisting = _wandb.active_run_if_loaded()
        self._env_before = EnvSnapshot.capture(MANAGED_VARIABLES)
        _active, self._phase = self, nxt
        try:
            if main:
                self._open_run()
            self._mark(marker("pre", 0, "start"))
        except BaseException as error:
            self._abort_enter(error, preexisting)
            raise
        _log.debug("session entered (run %s, %s)", self.id, self.config.describe())
        return self

    def _abort_enter(self, error: BaseException, preexisting: Run | None) -> None:
        """Undo a failed ``__enter__``: close whatever run it opened (or adopted), back to NEW, env as before."""
        global _active
        steps = Unwinding(error, "closing the session after its start failed")
        current = _wandb.active_run_if_loaded()
        if current is not None and (current is self._run or current is not preexisting):
            steps.run(_wandb.finish, current, exit_code=max(1, exit_code_for(error)))
        self._phase, self._handoffs = Phase.NEW, 0
        self._attempts.reset()
        if not self._adopted:
            self._run, self._run_id = None, None
        if _active is self:
            _active = None
        if self._env_before is not None:
            self._env_before.restore()
        steps.settle()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._close(exc)

    def _close(self, exc: BaseException | None) -> None:
        global _active
        primary = exc
        steps = Unwinding(exc, "finishing the session")
        if self._phase is Phase.HANDOFF and self._handoff is not None:
            # The block ends while a handoff entered by hand is still open: take the run back first, as failed.
            try:
                next_phase(self._phase, "exit")
            except PhaseError as refused:
                primary = exc if exc is not None else refused
            steps.run(self._handoff._take_back, primary)
        try:
            nxt = next_phase(self._phase, "exit")
        except PhaseError as refused:
            if exc is None:
                raise
            add_note(exc, f"the session was not finished: {refused}")
            return
        exit_code = exit_code_for(primary)
        if exit_code == 0 and (self._training_failed is not None or steps.errors):
            exit_code = 1  # a handoff failed and the caller swallowed it: the run still ended failed
        try:
            self._phase = nxt
            run = self._run
            if run is not None:
                self._attempts.end(exit_code, outcome_of(primary, exit_code))
                steps.run(self._mark, self._ending_marker(), failure=primary)
                exit_code = exit_code or failed_code(steps.errors)
                if _wandb.active_run() is run:
                    steps.run(_wandb.finish, run, exit_code=exit_code)
            steps.run(self._close_own_run, exit_code or failed_code(steps.errors))
        finally:
            if _active is self:
                _active = None
            if self._env_before is not None:
                # wandb exports WANDB_SERVICE on first use; the bridge's variables never outlive the session
                self._env_before.restore()
            _log.debug("session finished (exit code %s)", exit_code)
        steps.settle(primary)
        if primary is not None and primary is not exc:
            raise primary  # the session ended with its handoff still open: say so, now that all is closed

    def _close_own_run(self, exit_code: int) -> None:
        """Finish a run of this session's that is still open though the session lost track of it (an interrupted
        resume may have opened it): no run of the session outlives it."""
        current = _wandb.active_run_if_loaded()
        if current is not None and self._run_id is not None and current.id == self._run_id:
            _log.debug("closing run %s left open by an interrupted transition", current.id)
            _wandb.finish(current, exit_code=exit_code)

    def _open_run(self) -> None:
        current = _wandb.active_run()
        if self._adopted:
            if current is not self._run:
                raise PhaseError(
                    "wandb_session.adopt(run): that run is not the active wandb run any more (it was "
                    "finished?); adopt a run that is still open"
                )
            self._run_id = self._run.id if self._run is not None else None
            return
        if current is not None:
            raise PhaseError(
                f"wandb_session(): a W&B run ({current.id!r}) is already open in this process, probably from "
                "your own wandb.init(). Remove that call and let the session create the run, or hand it "
                "over with `wandb_session.adopt(run)`"
            )
        identity = run_identity(self.config)
        run_id = identity.run_id if identity is not None else None
        try:
            self._run = _wandb.init_new(self.config, run_id=run_id)
        except BackendError as error:
            if self.config.on_backend_error != "offline" or self.config.mode != "online":
                raise
            self.config = self.config.model_copy(update={"mode": "offline"})
            self._run = _wandb.init_new(self.config, run_id=run_id)
            _log.warning(
                "%s\nContinuing OFFLINE (on_backend_error='offline'); upload the run later with:\n  wandb sync %s",
                error, _wandb.run_dir(self._run),
            )
        self._run_id = self._run.id
        self._attempts.begin(self._run, identity, self.config.project)

    # ------------------------------------------------------------- handoff
    def handoff(self, model: Any = None, *, fast_path: str | None = None) -> Handoff:
        """Hand the run to training for the ``with`` block; resume it (``resume="must"``) afterwards."""
        from .handoff import Handoff

        return Handoff(self, model=model, fast_path=fast_path or self.config.fast_path)

    def _enter_handoff(self, handoff: Handoff) -> tuple[str, str]:
        """Phase check, then HANDOFF with ``handoff`` registered; no W&B call here, so nothing can fail after
        the check. Returns the markers the handoff then writes."""
        ending = self._ending_marker()
        self._phase = next_phase(self._phase, "handoff")
        self._handoffs += 1
        self._handoff = handoff
        return ending, marker("training", self._handoffs, "start")

    def _leave_handoff(self, exc: BaseException | None, run: Run | None) -> None:
        """Back to POST with ``run`` (``None``: lost); then the transition's summary write, which may fail."""
        self._phase = next_phase(self._phase, "return")
        self._handoff = None
        self._lost_run = self._run is not None and run is None
        self._run = run
        if exc is not None:
            self._note_failure(exc)
        if self._run is not None:
            self._mark(marker("training", self._handoffs, "end"), marker("post", self._handoffs, "start"),
                       failure=exc)

    def _note_failure(self, exc: BaseException) -> None:
        """A handoff failed (even if the caller swallows it): the run will end with a non-zero exit code."""
        self._training_failed = self._training_failed or f"{type(exc).__name__}: {exc}"

    def _ending_marker(self) -> str:
        """The marker that closes the phase the session is in now (pre-training or a post-training)."""
        return marker("pre" if self._handoffs == 0 else "post", self._handoffs, "end")

    # ------------------------------------------------- the run the writers use
    def _checked(self, method: str) -> Run | None:
        """Phase check, then the run to write to (``None`` off the main process)."""
        check_method(self._phase, method)
        run = self._owned_run(f"s.{method}()")
        if run is not None and self._attempts.number > 1:
            return ContinuedRun(run, self._attempts.number)  # type: ignore[return-value]  # a run, for the writers
        return run

    def _owned_run(self, action: str) -> Run | None:
        """The session's run, after making sure nobody closed or replaced it behind the session's back."""
        if self._run is None:
            if self._lost_run:
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

    # ------------------------------------------------------------- helpers
    def _mark(self, *keys: str, failure: BaseException | None = None) -> None:
        """Phase boundary times (and the failure, if one ended the phase) in the summary: one write per
        transition."""
        if self._run is None:
            return
        _wandb.update_summary(self._run, self._attempts.mark(*keys, failure=failure))


class _SessionFactory:
    """``wandb_session(cfg, **overrides)`` and ``wandb_session.adopt(run)``."""

    def __call__(self, cfg: Any = None, /, **overrides: Any) -> Session:
        """A new (not yet started) session; ``cfg`` as accepted by :meth:`BridgeConfig.resolve`."""
        return Session(BridgeConfig.resolve(cfg, **overrides))

    def adopt(self, run: Run, cfg: Any = None, /, **overrides: Any) -> Session:
        """Take over a run you opened yourself with ``wandb.init``; the session then finishes it."""
        base = {"project": run.project, "entity": run.entity}
        base.update({k: v for k, v in overrides.items() if v is not None})
        return Session(BridgeConfig.resolve(cfg, **base), adopted_run=run)


wandb_session = _SessionFactory()
