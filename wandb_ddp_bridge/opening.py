"""Opening a session's run on the main process: a new run (or the one its id continues), an adopted one, or
the trial run a W&B sweep agent assigned.

Kept apart from the owner's state machine: this is only "which run, created how", with the offline fallback
``on_backend_error="offline"`` asks for when the backend cannot create it.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from . import _log, _wandb
from .attempts import run_identity
from .config import BridgeConfig
from .env import HANDOFF_ENV_VAR, read_descriptor
from .errors import AttachError, BackendError, ConfigError, PhaseError
from .run_ids import RunIdentity

if TYPE_CHECKING:
    from wandb.sdk.wandb_run import Run

__all__ = ["Opened", "SweepAssignment", "check_adopted", "open_new", "refuse_inside_handoff", "sweep_assignment"]


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


def refuse_inside_handoff() -> None:
    """A process started inside a handoff (it inherited the parent's descriptor, ``WANDB_RUN_ID`` and
    ``WANDB_RESUME=must``) joins the parent's run with ``attach()``; a session of its own would make
    ``wandb.init`` resume the parent's id in the child's project, or fail with a misleading "run not found".
    A descriptor that names another run than ``WANDB_RUN_ID`` is a leftover, handled as a stale variable."""
    try:
        descriptor = read_descriptor()
    except AttachError:
        return  # damaged: it vouches for nothing
    if descriptor is None or descriptor.run_id != os.environ.get("WANDB_RUN_ID"):
        return
    raise PhaseError(
        f"wandb_session(): this process was started inside the handoff of run {descriptor.run_id!r} "
        f"(project {descriptor.project!r}; ${HANDOFF_ENV_VAR}, $WANDB_RUN_ID and $WANDB_RESUME come from the "
        "parent's session), so that run belongs to the parent. Log to it from here with "
        "`wandb_ddp_bridge.attach()` (and `detach()` when done) instead of opening a session; if these "
        f"variables are left over from an earlier job, unset them (`unset {HANDOFF_ENV_VAR} WANDB_RUN_ID "
        "WANDB_RESUME`)"
    )


def open_new(config: BridgeConfig) -> Opened:
    """Create the session's run, refusing when a run of the user's own is already open."""
    refuse_inside_handoff()
    current = _wandb.active_run()
    if current is not None:
        raise PhaseError(
            f"wandb_session(): a W&B run ({current.id!r}) is already open in this process, probably from "
            "your own wandb.init(). Remove that call and let the session create the run, or hand it "
            "over with `wandb_session.adopt(run)`"
        )
    assignment = sweep_assignment()
    identity = assignment.identity(config) if assignment is not None else run_identity(config)
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


@dataclass(frozen=True)
class SweepAssignment:
    """The trial run a W&B sweep agent assigned this process: the function agent (``wandb.agent(...,
    function=)``) and the CLI agent (``wandb agent``, running a ``program``) both say it through the
    environment: ``WANDB_SWEEP_ID`` with ``WANDB_RUN_ID``, and the sweep's ``WANDB_PROJECT``/``WANDB_ENTITY``.
    wandb itself opens that run under a sweep (it ignores another id, project or entity), so the session must
    agree with it rather than fight it."""

    sweep_id: str
    run_id: str
    project: str | None
    entity: str | None

    def identity(self, config: BridgeConfig) -> RunIdentity:
        """The trial's run, continued when it exists (a requeued trial); a session whose project or entity
        differs from the sweep's is refused, saying which, before any run is opened."""
        for field, ours, sweeps in (("project", config.project, self.project), ("entity", config.entity, self.entity)):
            if ours and sweeps and ours != sweeps:
                raise ConfigError(
                    f"wandb_session({field}={ours!r}) runs inside W&B sweep {self.sweep_id!r}, whose {field} is "
                    f"{sweeps!r}: wandb puts a sweep's trial runs in the sweep's {field} only. Pass "
                    f"{field}={sweeps!r} (or leave it out: the session reads WANDB_{field.upper()}), or create "
                    f"the sweep in {field} {ours!r}."
                )
        if config.run_id is not None or config.resume_from is not None:
            _log.debug(
                "the sweep agent assigned run %s (sweep %s): it wins over run_id=%r / resume_from=%r",
                self.run_id,
                self.sweep_id,
                config.run_id,
                config.resume_from,
            )
        return RunIdentity(run_id=self.run_id, source=f"W&B sweep {self.sweep_id}'s agent", assigned=True)


def sweep_assignment(environ: Mapping[str, str] | None = None) -> SweepAssignment | None:
    """The run a sweep agent assigned this process, if one did (both variables set)."""
    env = os.environ if environ is None else environ
    sweep_id, run_id = env.get("WANDB_SWEEP_ID"), env.get("WANDB_RUN_ID")
    if not sweep_id or not run_id:
        return None
    return SweepAssignment(sweep_id, run_id, env.get("WANDB_PROJECT") or None, env.get("WANDB_ENTITY") or None)
