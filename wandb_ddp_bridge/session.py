"""Session: one W&B run across pre-training, training (handed off) and post-training.

Only global rank 0 ever creates, resumes or finishes the run. Every other rank gets the same Session object
running the same phase checks, with every W&B call turned into a no-op, so callers never branch on rank.
Nothing contacts W&B before ``__enter__``.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator, Mapping, MutableMapping
from os import PathLike
from types import TracebackType
from typing import TYPE_CHECKING, Any

from . import _log, _wandb
from .config import BridgeConfig
from .env import EnvSnapshot
from .errors import BackendError, PhaseError
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


class Session:
    """A phase-checked W&B run. Create it with :func:`wandb_session`; use it as a context manager."""

    def __init__(self, config: BridgeConfig, *, adopted_run: Run | None = None) -> None:
        self.config = config
        self._phase = Phase.NEW
        self._run: Run | None = adopted_run
        self._adopted = adopted_run is not None
        self._is_main = detect_world().is_main
        self._env_before: EnvSnapshot | None = None
        self._training_failed: str | None = None
        self._markers: dict[str, float] = {}
        self._handoffs = 0
        self._lost_run = False

    # ----------------------------------------------------------------- state
    @property
    def phase(self) -> Phase:
        return self._phase

    @property
    def is_main_process(self) -> bool:
        return self._is_main

    @property
    def run(self) -> Run | None:
        """The live run in PRE/POST on the main process; ``None`` elsewhere."""
        return self._run if holds_run(self._phase) else None

    @property
    def id(self) -> str | None:
        return self._run.id if self._run is not None else None

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
        self._phase = next_phase(self._phase, "enter")
        try:
            if _active is not None:
                raise PhaseError(
                    "wandb_session(): another session is already open in this process (run "
                    f"{_active.id!r}); nest your work inside it or finish it first: one process, one session"
                )
            self._env_before = EnvSnapshot.capture_prefix("WANDB_")
            if self._is_main:
                self._open_run()
        except BaseException:
            self._phase = Phase.NEW
            raise
        _active = self
        self._mark(marker("pre", 0, "start"))
        _log.debug("session entered (run %s, %s)", self.id, self.config.describe())
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._close(exc)

    def _close(self, exc: BaseException | None) -> None:
        global _active
        nxt = next_phase(self._phase, "exit")
        exit_code = exit_code_for(exc)
        if exit_code == 0 and self._training_failed is not None:
            exit_code = 1  # a handoff failed and the caller swallowed it: the run still ended failed
        try:
            if self._is_main and self._run is not None:
                self._mark(self._ending_marker())
                if exc is not None:
                    self._record_failure(exc)
                _wandb.finish(self._run, exit_code=exit_code)
        finally:
            self._phase = nxt
            _active = None
            if self._env_before is not None:
                # wandb exports WANDB_SERVICE on first use; nothing WANDB_* outlives the session
                self._env_before.restore(prefix="WANDB_")
            _log.debug("session finished (exit code %s)", exit_code)

    def _open_run(self) -> None:
        current = _wandb.active_run()
        if self._adopted:
            if current is not self._run:
                raise PhaseError(
                    "wandb_session.adopt(run): that run is not the active wandb run any more (it was "
                    "finished?); adopt a run that is still open"
                )
            return
        if current is not None:
            raise PhaseError(
                f"wandb_session(): a W&B run ({current.id!r}) is already open in this process, probably from "
                "your own wandb.init(). Remove that call and let the session create the run, or hand it "
                "over with `wandb_session.adopt(run)`"
            )
        try:
            self._run = _wandb.init_new(self.config)
        except BackendError as error:
            if self.config.on_backend_error != "offline" or self.config.mode != "online":
                raise
            import dataclasses

            self.config = dataclasses.replace(self.config, mode="offline")
            self._run = _wandb.init_new(self.config)
            _log.warning(
                "%s\nContinuing OFFLINE (on_backend_error='offline'); upload the run later with:\n  wandb sync %s",
                error, _wandb.run_dir(self._run),
            )

    # ------------------------------------------------------------- handoff
    def handoff(self, model: Any = None, *, fast_path: str | None = None) -> Handoff:
        """Hand the run to training for the ``with`` block; resume it (``resume="must"``) afterwards."""
        from .handoff import Handoff

        return Handoff(self, model=model, fast_path=fast_path or self.config.fast_path)

    def _enter_handoff(self) -> None:
        ending = self._ending_marker()
        self._phase = next_phase(self._phase, "handoff")
        self._handoffs += 1
        if self._is_main and self._run is not None:
            self._mark(ending, marker("training", self._handoffs, "start"))

    def _leave_handoff(self, exc: BaseException | None, run: Run | None) -> None:
        self._phase = next_phase(self._phase, "return")
        self._lost_run = self._is_main and self._run is not None and run is None
        self._run = run if self._is_main else None
        if self._is_main and self._run is not None:
            self._mark(marker("training", self._handoffs, "end"), marker("post", self._handoffs, "start"))
            if exc is not None:
                self._record_failure(exc)
        if exc is not None:
            self._training_failed = f"{type(exc).__name__}: {exc}"

    def _ending_marker(self) -> str:
        """The marker that closes the phase the session is in now (pre-training or a post-training)."""
        return marker("pre" if self._handoffs == 0 else "post", self._handoffs, "end")

    # ------------------------------------------------------------- logging
    def _checked(self, method: str) -> Run | None:
        """Phase check, then the run to write to (``None`` off the main process)."""
        check_method(self._phase, method)
        return self._owned_run(f"s.{method}()")

    def _owned_run(self, action: str) -> Run | None:
        """The session's run, after making sure nobody closed or replaced it behind the session's back."""
        if self._run is None:
            if self._lost_run:
                raise BackendError(
                    f"{action}: the run could not be resumed after training (backend unreachable), so this "
                    "would be lost. Set on_backend_error='offline' to keep post-training logs locally."
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
    def _mark(self, *keys: str) -> None:
        """Phase boundary times in the summary, one write per transition (summary writes never advance
        the history step)."""
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
        self._run.summary[MARKERS_KEY] = dict(self._markers)

    def _record_failure(self, exc: BaseException) -> None:
        if self._run is None:
            return
        reason = f"{type(exc).__name__}: {exc}"[:1000]
        self._run.summary.update({FAILED_KEY: True, FAILURE_KEY: reason})


class _SummaryView(MutableMapping[str, Any]):
    """``s.summary[...]`` that checks the phase at each write and is a no-op off the main process."""

    def __init__(self, session: Session) -> None:
        self._session = session

    def _target(self, write: bool) -> Any:
        if write:
            self._session._checked("summary")
        run = self._session._run
        return run.summary if run is not None and holds_run(self._session.phase) else None

    def __getitem__(self, key: str) -> Any:
        target = self._target(write=False)
        if target is None:
            raise KeyError(key)
        return target[key]

    def __setitem__(self, key: str, value: Any) -> None:
        target = self._target(write=True)
        if target is not None:
            target[key] = value

    def __delitem__(self, key: str) -> None:
        target = self._target(write=True)
        if target is not None:
            del target[key]

    def __iter__(self) -> Iterator[str]:
        target = self._target(write=False)
        return iter(list(target.keys())) if target is not None else iter(())

    def __len__(self) -> int:
        target = self._target(write=False)
        return len(list(target.keys())) if target is not None else 0

    def update(self, *args: Any, **kwargs: Any) -> None:
        target = self._target(write=True)
        if target is not None:
            target.update(dict(*args, **kwargs))


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
