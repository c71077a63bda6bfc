"""Building and logging one artifact: the two steps every artifact kind (files, S3 references) shares."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from .redact import Redactor

if TYPE_CHECKING:
    from wandb import Artifact
    from wandb.sdk.wandb_run import Run

__all__ = ["log_built", "new_artifact"]

log = logging.getLogger(__name__)


def new_artifact(
    name: str,
    type: str,
    *,
    metadata: Mapping[str, Any] | None = None,
    description: str | None = None,
    redactor: Redactor | None = None,
) -> Artifact:
    """A ``wandb.Artifact`` whose metadata and description went through ``redactor`` (a fresh one if none)."""
    import wandb

    redactor = redactor if redactor is not None else Redactor()
    try:
        return wandb.Artifact(
            name,
            type=type,
            description=redactor.text(description) if description else None,
            metadata=redactor.redact(dict(metadata)) if metadata else None,
        )
    except ValueError as exc:
        raise ValueError(f"invalid artifact name or type ({name!r}, {type!r}): {exc}") from None


def log_built(run: Run, art: Artifact, *, aliases: Sequence[str] | None, wait: bool) -> Artifact:
    logged = run.log_artifact(art, aliases=list(aliases) if aliases else None)
    log.debug("logged artifact %s (type %s) to run %s", art.name, art.type, getattr(run, "id", "?"))
    if wait:
        logged.wait()
    return logged
