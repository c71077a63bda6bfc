"""Session: one W&B run across pre-training, training (handed off) and post-training.

The public face of a :class:`~.owner.RunOwner`, which owns the run and its whole lifecycle (see
``owner.py``). Only global rank 0 ever creates, resumes or finishes the run. Every other rank gets the same
Session object running the same phase checks, with every W&B call turned into a no-op, so callers never
branch on rank; the rank is read when the session is entered, never cached at construction. Nothing contacts
W&B before ``__enter__``.

Every transition unwinds through one path (``signals.Unwinding``): whatever fails, and wherever an exception
lands (``KeyboardInterrupt``, a signal), the exception that started it propagates (cleanup errors are noted on
it); once the ``with`` block has exited, no session or handoff is registered, the bridge's ``WANDB_*``
variables are as before, and the run is finished once, with a non-zero exit code if anything failed.
"""

from __future__ import annotations

from types import TracebackType
from typing import TYPE_CHECKING, Any

from .config import BridgeConfig
from .handoff import Handoff
from .owner import RunOwner, open_owner
from .phases import Phase, RunState
from .ranks import detect_world
from .run_writers import RunWriters

if TYPE_CHECKING:
    from wandb.sdk.wandb_run import Run

    from .artifacts.redact import Redactor

__all__ = ["Session", "active_session", "wandb_session"]


def active_session() -> Session | None:
    """The session currently open in this process, if any."""
    owner = open_owner()
    front = owner.front if owner is not None else None
    return front if isinstance(front, Session) else None


class Session(RunWriters):
    """A phase-checked W&B run. Create it with :func:`wandb_session`; use it as a context manager.

    Its writers (``log``, ``summary``, ``save_config``, ``save_artifacts``, ``save_metadata``, ``log_s3_artifact``,
    ``log_model``) are in ``run_writers.py``; each asks the run owner for its run when called."""

    def __init__(self, config: BridgeConfig, *, adopted_run: Run | None = None) -> None:
        self._owner = RunOwner(config, front=self, adopted_run=adopted_run)

    # ----------------------------------------------------------------- state
    @property
    def config(self) -> BridgeConfig:
        """The session's settings (``mode`` becomes ``"offline"`` after an ``on_backend_error`` fallback)."""
        return self._owner.config

    @property
    def phase(self) -> Phase:
        return self._owner.state.phase

    @property
    def state(self) -> RunState:
        """Where the run is now, finer than :attr:`phase`: held or released while handed off, or lost."""
        return self._owner.state

    @property
    def is_main_process(self) -> bool:
        """Whether this process is global rank 0, read now (a ``ConfigError`` when the rank cannot be known)."""
        return detect_world().is_main

    @property
    def run(self) -> Run | None:
        """The live run in PRE/POST on the main process; ``None`` elsewhere."""
        return self._owner.hand_out_run()

    @property
    def id(self) -> str | None:
        return self._owner.run_id

    @property
    def url(self) -> str | None:
        return self._owner.url

    @property
    def training_failed(self) -> bool:
        return self._owner.training_failed

    # ----------------------------------------------------------- lifecycle
    def __enter__(self) -> Session:
        self._owner.enter()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._owner.close(exc)

    def handoff(self, model: Any = None, *, fast_path: str | None = None) -> Handoff:
        """Hand the run to training for the ``with`` block; resume it (``resume="must"``) afterwards."""
        return Handoff(self._owner, model=model, fast_path=fast_path or self.config.fast_path)

    def _writable_run(self, method: str) -> Run | None:
        return self._owner.writable_run(method)

    @property
    def _redactor(self) -> Redactor:
        return self._owner.redactor


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
