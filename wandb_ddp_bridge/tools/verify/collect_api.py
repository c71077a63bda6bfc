"""Collect a run's evidence through ``wandb.Api``: W&B cloud, a self-hosted W&B Server, the local server.

Apart from the model (:mod:`.evidence`) because it is the one collector that needs ``wandb`` and a
reachable backend; it only translates what the Api returns into the plain evidence.
"""

from __future__ import annotations

import os
import tempfile
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .evidence import (
    CLOUD_API_URL,
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


def _unreachable(base_url: str, timeout: float) -> str | None:
    """Why ``base_url`` cannot be reached (in seconds, not after the Api's retries), or ``None``: any HTTP
    answer, an error status included, means a server is there."""
    try:
        with urllib.request.urlopen(base_url.rstrip("/") + "/healthz", timeout=timeout):
            return None
    except urllib.error.HTTPError:
        return None
    except (OSError, ValueError) as exc:  # URLError, timeouts, refused connections; ValueError: not a URL
        reason = getattr(exc, "reason", exc)
        return str(reason) or type(exc).__name__


def _read_failure(exc: Exception, where: str, source: str) -> str:
    """One line: the run is not there, or the backend refused the key, or something else went wrong."""
    detail = next((line.strip() for line in str(exc).splitlines() if line.strip()), type(exc).__name__)
    if type(exc).__name__ == "AuthenticationError" or "api key" in detail.lower():
        return (
            f"{source} refused the API key while reading {where} ({detail}); check --api-key / $WANDB_API_KEY "
            "or `wandb login`"
        )
    if "could not find" in detail.lower() or "not found" in detail.lower():
        return f"no run {where} on {source} ({detail})"
    return f"cannot read {where} on {source}: {detail}"


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
    where = f"{entity}/{project}/{run_id}"
    # wandb.Api falls back to $WANDB_BASE_URL itself, so the probe does too
    unreachable = _unreachable(base_url or os.environ.get("WANDB_BASE_URL") or CLOUD_API_URL, min(timeout, 10))
    if unreachable:
        return RunEvidence(path=where, source=source, found=False, error=f"cannot reach {source}: {unreachable}")
    try:
        api = wandb.Api(api_key=api_key, overrides=overrides, timeout=timeout)
        run = api.run(where)
    except Exception as exc:  # the Api raises ValueError/CommError for a missing run or project
        return RunEvidence(path=where, source=source, found=False, error=_read_failure(exc, where, source))
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
