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

import time
from collections.abc import Iterable, Iterator, Mapping, MutableMapping
from os import PathLike
from types import TracebackType
from typing import TYPE_CHECKING, Any

from . import _log, _wandb
from .config import BridgeConfig
from .env import MANAGED_VARIABLES, EnvSnapshot
from .errors import BackendError, ConfigError, PhaseError
from .phases import (
    FAILED_KEY,
    FAILURE_KEY,
    LOG_TARGET,
    MARKERS_KEY,
    Phase,
    check_method,
    holds_run,
    marker,
    next_phase,
    parse_marker,
)
from .ranks import detect_world
from .restarts import ATTEMPTS_KEY, RUN_RECORD_NAME, ContinuedRun, find_run_record, next_attempt, update_attempt
from .run_ids import RunIdentity, resolve_run_id
from .signals import Unwinding, add_note

if TYPE_CHECKING:
    from wandb.sdk.wandb_run import Run

    from .handoff import Handoff

__all__ = ["Session", "active_session", "exit_code_for", "wandb_session"]

_active: Session | None = None


def active_session() -> Session | None:
    """The session currently open in this process, if any."""
    return _active


def exit_code_for(exc: BaseException | None) -> int:
    """The process-style exit code a run should end with when ``exc`` ended its block."""
    if exc is None:
        return 0
    if isinstance(exc, SystemExit):
        code = exc.code
        return code if isinstance(code, int) else (0 if code is None else 1)
    if isinstance(exc, KeyboardInterrupt):
        return 130
    return 1


def outcome_of(exc: BaseException | None, exit_code: int) -> str:
    """How an attempt ended, for the run's attempt record: finished, preempted, interrupted or failed."""
    if exit_code == 0:
        return "finished"
    if isinstance(exc, KeyboardInterrupt):
        return "interrupted"
    if isinstance(exc, SystemExit) and exit_code > 128:  # ended by a signal (Terminated, Preempted)
        return "preempted"
    return "failed"


def _failed_code(errors: list[BaseException]) -> int:
    """The exit code a run ends with when these cleanup errors happened (0: none)."""
    return max(1, exit_code_for(errors[0])) if errors else 0


class Session:
    """A phase-checked W&B run. Create it with :func:`wandb_session`; use it as a context manager."""

    def __init__(self, config: BridgeConfig, *, adopted_run: Run | None = None) -> None:
        self.config = config
        self._phase = Phase.NEW
        self._run: Run | None = adopted_run
        self._adopted = adopted_run is not None
        #: id of the run this session owns, once it has one: a run with this id still open at the end is closed
        self._run_id: str | None = None
        self._env_before: EnvSnapshot | None = None
        self._training_failed: str | None = None
        self._markers: dict[str, float] = {}
        self._handoffs = 0
        self._lost_run = False
        self._handoff: Handoff | None = None  # the open handoff (phase HANDOFF)
        #: this process's attempt at the run (> 1: the run was continued after a restart) and its record
        self._attempt = 1
        self._attempts_before: list[dict[str, Any]] = []
        self._attempt_fields: dict[str, Any] = {}

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
        self._phase, self._handoffs, self._markers = Phase.NEW, 0, {}
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
                outcome = outcome_of(primary, exit_code)
                self._attempt_fields.update(ended=time.time(), exit_code=exit_code, outcome=outcome)
                steps.run(self._mark, self._ending_marker(), failure=primary)
                exit_code = exit_code or _failed_code(steps.errors)
                if _wandb.active_run() is run:
                    steps.run(_wandb.finish, run, exit_code=exit_code)
            steps.run(self._close_own_run, exit_code or _failed_code(steps.errors))
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
        identity = self._run_identity()
        run_id = identity.run_id if identity is not None else None
        try:
            self._run = _wandb.init_new(self.config, run_id=run_id)
        except BackendError as error:
            if self.config.on_backend_error != "offline" or self.config.mode != "online":
                raise
            import dataclasses

            self.config = dataclasses.replace(self.config, mode="offline")
            self._run = _wandb.init_new(self.config, run_id=run_id)
            _log.warning(
                "%s\nContinuing OFFLINE (on_backend_error='offline'); upload the run later with:\n  wandb sync %s",
                error, _wandb.run_dir(self._run),
            )
        self._run_id = self._run.id
        self._start_attempt(identity)

    def _run_identity(self) -> RunIdentity | None:
        """The run to create or continue: ``run_id`` (explicit or ``"auto"``), or the run recorded next to
        ``resume_from``'s checkpoint; ``None`` for a new run with a fresh id."""
        config = self.config
        identity = resolve_run_id(
            config.run_id, project=config.project, entity=config.entity, identity_env=config.job_identity_env
        )
        if config.resume_from is None:
            return identity
        record = find_run_record(config.resume_from)
        if record is None:
            raise ConfigError(
                f"resume_from={config.resume_from!r}: no run record ({RUN_RECORD_NAME}) next to that checkpoint, "
                "so its run is unknown (was it trained through the bridge?). Pass run_id= to name the run to "
                "continue, or drop resume_from to start a new run."
            )
        if record.project != config.project or (config.entity and record.entity and record.entity != config.entity):
            raise ConfigError(
                f"resume_from={config.resume_from!r} belongs to run {record.where}, but this session's project is "
                f"{config.entity + '/' if config.entity else ''}{config.project}: a run id in another project is a "
                f"different run. Set project={record.project!r} to continue it."
            )
        if identity is not None and identity.run_id != record.run_id:
            raise ConfigError(
                f"run_id {identity.run_id!r} (from the {identity.source}) conflicts with run {record.run_id!r} "
                f"recorded next to resume_from={config.resume_from!r} ({record.path}); pass one of them"
            )
        return RunIdentity(run_id=record.run_id, source=f"run record {record.path}")

    def _start_attempt(self, identity: RunIdentity | None) -> None:
        """Number this attempt (a continued run counts the attempts before it) and say what happened."""
        run = self._run
        if run is None:
            return
        self._attempt_fields = {"started": time.time()}
        if identity is None:
            return
        if getattr(run, "resumed", False):
            summary: Any = run.summary
            before = summary.get(ATTEMPTS_KEY)
            self._attempts_before = [dict(a) for a in before or () if isinstance(a, Mapping)]
            self._attempt = next_attempt({ATTEMPTS_KEY: self._attempts_before})
            _log.warning("continuing run %s (attempt %s; id from the %s)", run.id, self._attempt, identity.source)
        else:
            _log.warning(
                "created run %s in %s (id from the %s; no run with this id existed in this project yet)",
                run.id, self.config.project, identity.source,
            )

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

    # ------------------------------------------------------------- logging
    def _checked(self, method: str) -> Run | None:
        """Phase check, then the run to write to (``None`` off the main process)."""
        check_method(self._phase, method)
        run = self._owned_run(f"s.{method}()")
        if run is not None and self._attempt > 1:
            return ContinuedRun(run, self._attempt)  # type: ignore[return-value]  # a run, for the writers
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

    def log(self, data: Mapping[str, Any]) -> None:
        """Log metrics as one history row, like ``run.log()``, in PRE and POST (``phases.LOG_TARGET``).

        Training's rows follow the PRE rows and the POST rows follow training's, even where training logs
        explicit steps (``step=epoch+1``): the attachment rebases them (docs/how-it-works.md)."""
        run = self._checked("log")
        if run is None:
            return
        if LOG_TARGET[self._phase] == "summary":
            run.summary.update(dict(data))
        else:
            run.log(dict(data))

    @property
    def summary(self) -> MutableMapping[str, Any]:
        """The run summary; writes are phase-checked when they happen."""
        return _SummaryView(self)

    def save_config(self, cfg: Any, *, key: str = "config", artifact: bool = True) -> Any:
        """Store a redacted copy of ``cfg`` in the run config (under ``key``) and as a ``config`` artifact."""
        run = self._checked("save_config")
        if run is None:
            return None
        from . import artifacts

        return artifacts.log_config(run, cfg, key=key, artifact=artifact)

    def save_artifacts(
        self, paths: str | PathLike[str] | Iterable[str | PathLike[str]], *, name: str, type: str = "dataset"
    ) -> Any:
        """Files and directories as one artifact (unchanged content makes no new version)."""
        run = self._checked("save_artifacts")
        if run is None:
            return None
        from . import artifacts

        return artifacts.log_files(run, paths, name=name, type=type)

    def save_metadata(self, metadata: Mapping[str, Any] | None = None) -> Any:
        """Job metadata (git commit, versions, launcher, world size...) into config["job"] and the summary."""
        run = self._checked("save_metadata")
        if run is None:
            return None
        from . import artifacts

        return artifacts.log_metadata(run, metadata)

    def log_s3_artifact(
        self,
        s3_uri: str,
        name: str,
        type: str = "model",
        *,
        checksum: bool = False,
        aliases: Iterable[str] | None = None,
    ) -> Any:
        """An artifact holding a reference to an S3 object or prefix."""
        run = self._checked("log_s3_artifact")
        if run is None:
            return None
        from . import artifacts

        return artifacts.log_s3_reference(
            run, s3_uri, name=name, type=type, checksum=checksum, aliases=list(aliases) if aliases else None
        )

    def log_model(
        self, path: str | PathLike[str], name: str = "model", *, aliases: Iterable[str] = ("latest",)
    ) -> Any:
        """A model file as a ``model`` artifact, e.g. ``s.log_model(h.result.best)``."""
        run = self._checked("log_model")
        if run is None:
            return None
        from . import artifacts

        return artifacts.log_model(run, path, name=name, aliases=tuple(aliases))

    # ------------------------------------------------------------- helpers
    def _mark(self, *keys: str, failure: BaseException | None = None) -> None:
        """Phase boundary times (and the failure, if one ended the phase) in the summary: one write per
        transition (summary writes never advance the history step)."""
        if self._run is None:
            return
        now = time.time()
        for key in keys:
            self._markers[key] = now
            parsed = parse_marker(key)
            if parsed is not None and parsed[2] == "end":
                started = self._markers.get(marker(parsed[0], parsed[1], "start"))
                if started is not None:
                    self._markers[marker(parsed[0], parsed[1], "seconds")] = round(now - started, 3)
        values: dict[str, Any] = {MARKERS_KEY: dict(self._markers)}
        values[ATTEMPTS_KEY] = update_attempt(
            {ATTEMPTS_KEY: self._attempts_before}, self._attempt, **self._attempt_fields, phases=dict(self._markers)
        )
        if failure is not None:
            values.update({FAILED_KEY: True, FAILURE_KEY: f"{type(failure).__name__}: {failure}"[:1000]})
        _wandb.update_summary(self._run, values)


class _SummaryView(MutableMapping[str, Any]):
    """``s.summary``: every operation is phase-checked when it happens (PRE/POST only, on every rank).

    On the main process it is the run's summary. Off it (no run) it is an empty, write-ignoring mapping:
    ``s.summary[k]`` returns ``None`` (so code written for rank 0 never raises ``KeyError`` elsewhere),
    ``k in s.summary`` is ``False``, ``get(k, default)`` returns ``default``, iteration is empty, writes and
    deletions do nothing.
    """

    def __init__(self, session: Session) -> None:
        self._session = session

    def _target(self) -> Any:
        run = self._session._checked("summary")
        return run.summary if run is not None else None

    def __getitem__(self, key: str) -> Any:
        target = self._target()
        return target[key] if target is not None else None

    def __contains__(self, key: object) -> bool:
        target = self._target()
        return key in target.keys() if target is not None else False

    def get(self, key: str, default: Any = None) -> Any:
        target = self._target()
        if target is None:
            return default
        try:
            return target[key]
        except KeyError:
            return default

    def __setitem__(self, key: str, value: Any) -> None:
        self.update({key: value})

    def __delitem__(self, key: str) -> None:
        target = self._target()
        if target is not None:
            del target[key]

    def __iter__(self) -> Iterator[str]:
        target = self._target()
        return iter(list(target.keys())) if target is not None else iter(())

    def __len__(self) -> int:
        target = self._target()
        return len(list(target.keys())) if target is not None else 0

    def update(self, *args: Any, **kwargs: Any) -> None:
        run = self._session._checked("summary")
        if run is not None:
            _wandb.update_summary(run, dict(*args, **kwargs))


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
