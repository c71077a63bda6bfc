"""Collect a run's evidence through ``wandb.Api``: W&B cloud, a self-hosted W&B Server, the local server.

Apart from the model (:mod:`.evidence`) because it is the one collector that needs ``wandb`` and a
reachable backend; it only translates what the Api returns into the plain evidence.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .evidence import (
    ArtifactInfo,
    RunEvidence,
    SiblingInfo,
    _plain,
    _timestamp,
    _with_media_data,
    _writers,
    media_in,
    parse_run_path,
)

__all__ = ["from_api"]


def _size(art: Any) -> int | None:
    try:
        value = art.size
    except Exception:  # a display detail: never lose the evidence over it
        return None
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _aliases(art: Any) -> tuple[str, ...]:
    try:
        return tuple(str(a) for a in (art.aliases or ()))
    except Exception:
        return ()


def _api_file_reader(run: Any, folder: Path) -> Callable[[str], bytes | None]:
    def read(name: str) -> bytes | None:
        target = folder / name
        run.file(name).download(root=str(folder), replace=True, exist_ok=True)
        return target.read_bytes() if target.is_file() else None

    return read


def from_api(
    path: str,
    *,
    base_url: str | None = None,
    api_key: str | None = None,
    timeout: int = 30,
    media_data: bool = False,
) -> RunEvidence:
    """Collect evidence through ``wandb.Api`` (W&B cloud, a self-hosted server, the local server).

    ``media_data`` downloads the images the run logged (for a self-contained page)."""
    import wandb

    entity, project, run_id = parse_run_path(path)
    overrides = {"base_url": base_url} if base_url else {}
    source = base_url or "the default W&B backend"
    try:
        api = wandb.Api(api_key=api_key, overrides=overrides, timeout=timeout)
        run = api.run(f"{entity}/{project}/{run_id}")
    except Exception as exc:  # the Api raises ValueError/CommError for a missing run or project
        return RunEvidence(
            path=path,
            source=source,
            found=False,
            error=f"no run {entity}/{project}/{run_id} on {source}: {exc}",
        )
    artifacts = []
    for art in run.logged_artifacts():
        name, _, version = str(art.name).partition(":")
        artifacts.append(
            ArtifactInfo(
                name=name,
                type=str(art.type),
                version=version or None,
                created=_timestamp(getattr(art, "created_at", None)),
                size=_size(art),
                aliases=_aliases(art),
            )
        )
    siblings: list[SiblingInfo] | None = None
    siblings_error = None
    try:
        siblings = [
            SiblingInfo(
                id=str(r.id),
                name=getattr(r, "name", None),
                group=getattr(r, "group", None),
                created=_timestamp(getattr(r, "created_at", None)),
            )
            for r in api.runs(f"{entity}/{project}", per_page=200)
            if r.id != run.id
        ]
    except Exception as exc:
        siblings_error = f"listing runs of {entity}/{project} failed: {exc}"
    history = [_plain(row) for row in run.scan_history()]
    summary = _plain(run.summary)
    media = media_in(history, summary)
    if media_data and media:
        with tempfile.TemporaryDirectory(prefix="wandb-ddp-bridge-media-") as folder:
            media = _with_media_data(media, _api_file_reader(run, Path(folder)))
    return RunEvidence(
        path=f"{entity}/{project}/{run.id}",
        source=source,
        found=True,
        url=getattr(run, "url", None),
        state=str(run.state),
        name=getattr(run, "name", None),
        group=getattr(run, "group", None),
        created=_timestamp(getattr(run, "created_at", None)),
        config=_plain(run.config),
        summary=summary,
        history=history,
        artifacts=artifacts,
        siblings=siblings,
        siblings_error=siblings_error,
        writers=_writers(_plain(getattr(run, "rawconfig", None) or {})),
        media=media,
    )
