"""What a backend knows about one run: the plain :class:`RunEvidence` and the records it is made of.

The model only, no backend: the collectors (:mod:`.collect_api` through ``wandb.Api``,
:mod:`.collect_server` from the local server's records) fill it, the rules read it, and the run page
(:mod:`wandb_ddp_bridge.tools.report`) renders the same object. The parsing both collectors share (times,
the writers' own descriptions, the newest image of each key) lives here, so the two sources read a run the
same way. Nothing here judges.
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from typing import Any

from ...phases import FAILED_KEY, FAILURE_KEY, MARKERS_KEY

__all__ = [
    "CLOUD_API_URL",
    "MAX_MEDIA",
    "ArtifactInfo",
    "MediaInfo",
    "ProcessInfo",
    "RunEvidence",
    "SessionInfo",
    "SiblingInfo",
    "WriterInfo",
    "backend_of",
    "media_in",
    "parse_run_path",
]

#: Images collected per run (the newest of each key), and their total bytes when inlined into a page.
MAX_MEDIA = 40
MAX_MEDIA_BYTES = 12_000_000


@dataclass(frozen=True)
class ArtifactInfo:
    name: str  # collection name, without ":vN"
    type: str
    version: str | None = None
    created: float | None = None  # epoch seconds; None when the backend does not say
    #: when only the writer session that logged it is known (local server records): its start and end
    session_window: tuple[float | None, float | None] | None = None
    size: int | None = None  # bytes, when the backend says
    aliases: tuple[str, ...] = ()


@dataclass(frozen=True)
class ProcessInfo:
    """The local process that opened a writer session, as the local server saw it (its ``/proc``).

    ``env`` holds only the launcher's rank variables found in that process's environment.
    """

    pid: int
    command: str
    via: str | None = None  # the process whose connection the server saw (wandb's ``wandb-core``)
    via_pid: int | None = None
    env: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class WriterInfo:
    """What a writer (one client incarnation) said about itself: the run config's ``_wandb.e`` entry."""

    writer_id: str
    host: str | None = None
    program: str | None = None
    args: tuple[str, ...] = ()
    started: float | None = None


@dataclass(frozen=True)
class MediaInfo:
    """An image the run logged (``wandb.Image``), the newest version of its key; ``data`` when collected."""

    key: str
    path: str  # the run file, ``media/images/<key>_<step>_<hash>.png``
    step: int | None = None
    epoch: int | None = None
    width: int | None = None
    height: int | None = None
    size: int | None = None
    format: str | None = None
    data: bytes | None = field(default=None, repr=False)


@dataclass(frozen=True)
class SessionInfo:
    """One writer session of the run, as the local server recorded it."""

    index: int
    started: float | None
    ended: float | None
    resume_mode: str
    exit_code: int | None
    complete: bool
    overlapping: bool
    #: who wrote: the client's user agent and host, as the server saw them (``None`` when unknown)
    user_agent: str | None = None
    client_host: str | None = None
    writer_id: str | None = None
    #: the local process that opened it, when the server could tell
    process: ProcessInfo | None = None


@dataclass(frozen=True)
class SiblingInfo:
    """Another run in the same project (candidate for the "multiple runs" symptom)."""

    id: str
    name: str | None
    group: str | None
    created: float | None


@dataclass(frozen=True)
class RunEvidence:
    """What a backend knows about one run. Optional fields are ``None`` when the backend cannot tell."""

    path: str
    source: str
    found: bool
    url: str | None = None
    state: str | None = None
    name: str | None = None
    group: str | None = None
    created: float | None = None
    config: Mapping[str, Any] = field(default_factory=dict)
    summary: Mapping[str, Any] = field(default_factory=dict)
    history: Sequence[Mapping[str, Any]] = ()
    artifacts: Sequence[ArtifactInfo] = ()
    #: every writer that described itself in the run config (``_wandb.e``), by writer id
    writers: Mapping[str, WriterInfo] = field(default_factory=dict)
    #: the newest image of each logged image key (at most ``MAX_MEDIA``)
    media: Sequence[MediaInfo] = ()
    siblings: Sequence[SiblingInfo] | None = None
    siblings_error: str | None = None
    # local server only
    created_count: int | None = None
    resumed_count: int | None = None
    sessions: Sequence[SessionInfo] | None = None
    runs_on_backend: int | None = None
    error: str | None = None

    @property
    def markers(self) -> dict[str, float]:
        """The phase boundary times the session wrote into the summary (key -> epoch seconds)."""
        raw = self.summary.get(MARKERS_KEY)
        if not isinstance(raw, Mapping):
            return {}
        return {str(k): float(v) for k, v in raw.items() if isinstance(v, (int, float))}

    @property
    def failure(self) -> str | None:
        """Why the bridge recorded the run as failed, ``None`` when it did not."""
        if not self.summary.get(FAILED_KEY):
            return None
        return str(self.summary.get(FAILURE_KEY) or "no reason recorded")

    @property
    def user_config_keys(self) -> list[str]:
        return sorted(k for k in self.config if not str(k).startswith("_"))


#: W&B cloud's app host and the API it answers on (the app's run pages are not its API).
_CLOUD_APP_HOSTS = frozenset({"wandb.ai", "www.wandb.ai"})
CLOUD_API_URL = "https://api.wandb.ai"


def parse_run_path(path: str) -> tuple[str, str, str]:
    """``ENTITY/PROJECT/RUN_ID``; a ``/runs/`` segment, as in run URLs, is accepted too, and so is a whole
    run-page URL (``https://wandb.ai/<entity>/<project>/runs/<id>``, or the one ``serve`` prints)."""
    parts = [p for p in _path_of(path).strip("/").split("/") if p]
    if len(parts) == 4 and parts[2] == "runs":
        parts = [parts[0], parts[1], parts[3]]
    if len(parts) != 3:
        raise ValueError(
            f"run path {path!r} must look like ENTITY/PROJECT/RUN_ID or a run page's URL "
            "(https://wandb.ai/ENTITY/PROJECT/runs/RUN_ID)"
        )
    return parts[0], parts[1], parts[2]


def backend_of(path: str) -> str | None:
    """The API URL a run-page URL's run lives on (``None`` for a plain path): W&B cloud's API for its app
    host, else the page's own origin (the local server and W&B Server answer the API where they serve pages)."""
    parsed = urllib.parse.urlsplit(path.strip())
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        return None
    if (parsed.hostname or "") in _CLOUD_APP_HOSTS:
        return CLOUD_API_URL
    return f"{parsed.scheme}://{parsed.netloc}"


def _path_of(path: str) -> str:
    text = path.strip()
    parsed = urllib.parse.urlsplit(text)
    if parsed.scheme in ("http", "https") and parsed.netloc:
        return urllib.parse.unquote(parsed.path)  # no query, no fragment (``?workspace=...``)
    return text


def _timestamp(value: Any) -> float | None:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str) and value:
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=timezone.utc)  # W&B reports UTC without an offset
        return parsed.timestamp()
    return None


def _plain(value: Any) -> Any:
    """A plain copy of what ``wandb.Api`` returns. Its summary objects have ``items()``/``keys()`` but are no
    ``Mapping``, so ``artifacts.redact.plain`` (which stringifies unknown objects) does not fit here."""
    if isinstance(value, Mapping) or (hasattr(value, "items") and hasattr(value, "keys")):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def _writers(raw_config: Any) -> dict[str, WriterInfo]:
    """The writers' own descriptions: ``_wandb.e`` of the raw config (with or without the ``value`` wrapper)."""
    wb = raw_config.get("_wandb") if isinstance(raw_config, Mapping) else None
    if isinstance(wb, Mapping) and isinstance(wb.get("value"), Mapping):
        wb = wb["value"]
    entries = wb.get("e") if isinstance(wb, Mapping) else None
    if not isinstance(entries, Mapping):
        return {}
    out: dict[str, WriterInfo] = {}
    for writer_id, info in entries.items():
        if not isinstance(info, Mapping):
            continue
        args = info.get("args")
        out[str(writer_id)] = WriterInfo(
            writer_id=str(writer_id),
            host=str(info["host"]) if info.get("host") else None,
            program=str(info["program"]) if info.get("program") else None,
            args=tuple(str(a) for a in args) if isinstance(args, list) else (),
            started=_timestamp(info.get("startedAt")),
        )
    return out


def media_in(history: Sequence[Mapping[str, Any]], summary: Mapping[str, Any] | None = None) -> list[MediaInfo]:
    """The newest logged image of each key (history first, then the summary for keys history lacks)."""
    newest: dict[str, MediaInfo] = {}
    for row in history:
        for key, value in row.items():
            # history rows are plain JSON: dict, not the slower Mapping ABC check, on every logged value
            if isinstance(value, dict) and value.get("_type") == "image-file" and value.get("path"):
                step, epoch = row.get("_step"), row.get("epoch")
                newest[str(key)] = _media(str(key), value, step, epoch)
    for key, value in (summary or {}).items():
        fresh = str(key) not in newest and isinstance(value, Mapping)
        if fresh and value.get("_type") == "image-file" and value.get("path"):
            newest[str(key)] = _media(str(key), value, None, None)
    return list(newest.values())[-MAX_MEDIA:]


def _media(key: str, value: Mapping[str, Any], step: Any, epoch: Any) -> MediaInfo:
    def number(v: Any) -> int | None:
        return int(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else None

    return MediaInfo(
        key=key,
        path=str(value["path"]),
        step=number(step),
        epoch=number(epoch),
        width=number(value.get("width")),
        height=number(value.get("height")),
        size=number(value.get("size")),
        format=str(value["format"]) if value.get("format") else None,
    )


def _with_media_data(media: Sequence[MediaInfo], read: Callable[[str], bytes | None]) -> list[MediaInfo]:
    """Each image with its bytes, until ``MAX_MEDIA_BYTES`` (the rest keep ``data=None``)."""
    out, total = [], 0
    for item in media:
        data = None
        if total < MAX_MEDIA_BYTES:
            try:
                data = read(item.path)
            except Exception:  # a missing image must not cost the evidence
                data = None
            if data is not None and total + len(data) > MAX_MEDIA_BYTES:
                data = None
        total += len(data) if data else 0
        out.append(replace(item, data=data))
    return out
