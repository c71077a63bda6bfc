"""Opening a session's run on the main process: a new run (or the one its id continues), or an adopted one.

Kept apart from the owner's state machine: this is only "which run, created how", with the offline fallback
``on_backend_error="offline"`` asks for when the backend cannot create it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from . import _log, _wandb
from .attempts import run_identity
from .config import BridgeConfig
from .errors import BackendError, PhaseError
from .run_ids import RunIdentity

if TYPE_CHECKING:
    from wandb.sdk.wandb_run import Run

__all__ = ["Opened", "check_adopted", "open_new"]


@dataclass(frozen=True)
class Opened:
    """The run a session starts with, the settings it ended up with (offline after a fallback), and the
    identity its id came from (``None``: a fresh id)."""

    run: Run
    config: BridgeConfig
    identity: RunIdentity | None


def check_adopted(run: Run | None) -> None:
    """An adopted run must still be the active wandb run when the session starts."""
    if _wandb.active_run() is not run:
        raise PhaseError(
            "wandb_session.adopt(run): that run is not the active wandb run any more (it was "
            "finished?); adopt a run that is still open"
        )


def open_new(config: BridgeConfig) -> Opened:
    """Create the session's run, refusing when a run of the user's own is already open."""
    current = _wandb.active_run()
    if current is not None:
        raise PhaseError(
            f"wandb_session(): a W&B run ({current.id!r}) is already open in this process, probably from "
            "your own wandb.init(). Remove that call and let the session create the run, or hand it "
            "over with `wandb_session.adopt(run)`"
        )
    identity = run_identity(config)
    run_id = identity.run_id if identity is not None else None
    try:
        return Opened(_wandb.init_new(config, run_id=run_id), config, identity)
    except BackendError as error:
        if config.on_backend_error != "offline" or config.mode != "online":
            raise
        config = config.model_copy(update={"mode": "offline"})
        run = _wandb.init_new(config, run_id=run_id)
        _log.warning(
            "%s\nContinuing OFFLINE (on_backend_error='offline'); upload the run later with:\n  wandb sync %s",
            error,
            _wandb.run_dir(run),
        )
        return Opened(run, config, identity)
