"""What a backend knows about one run, collected once into a plain :class:`RunEvidence`.

``from_api`` works against any backend ``wandb.Api`` reaches (W&B cloud, W&B Server, the local server);
``from_server`` reads the local recording server's own records, and ``with_server_records`` adds what only
that server knows (how often the run was created, its writer sessions and the process behind each) to
evidence from the Api; ``with_local_records`` asks a local server for the same over HTTP. Nothing here
judges: the rules read the evidence, and the run page (:mod:`wandb_ddp_bridge.tools.report`) renders the
same object.
"""

from __future__ import annotations

import base64
import json
import tempfile
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from ...phases import FAILED_KEY, FAILURE_KEY, MARKERS_KEY

__all__ = [
    "MAX_MEDIA",
    "ArtifactInfo",
    "MediaInfo",
    "ProcessInfo",
    "RunEvidence",
    "SessionInfo",
    "SiblingInfo",
    "WriterInfo",
    "from_api",
    "from_server",
    "media_in",
    "parse_run_path",
    "with_local_records",
    "with_server_records",
]

#: Images collected per run (the newest of each key), and their total bytes when inlined into a page.
MAX_MEDIA = 40
MAX_MEDIA_BYTES = 12_000_000
_LOOPBACK = ("127.0.0.1", "localhost", "::1")


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


def parse_run_path(path: str) -> tuple[str, str, str]:
    """``ENTITY/PROJECT/RUN_ID`` (a ``/runs/`` segment, as in run URLs, is accepted too)."""
    parts = [p for p in path.strip().strip("/").split("/") if p]
    if len(parts) == 4 and parts[2] == "runs":
        parts = [parts[0], parts[1], parts[3]]
    if len(parts) != 3:
        raise ValueError(f"run path {path!r} must look like ENTITY/PROJECT/RUN_ID")
    return parts[0], parts[1], parts[2]


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


def from_server(path: str, server: Any, *, media_data: bool = False) -> RunEvidence:
    """Collect evidence from the local server's own records (no ``wandb.Api`` involved).

    ``media_data`` reads the images the run logged from the server's uploads (for a self-contained page)."""
    source = f"local W&B server {server.url}"
    try:
        record = server.run(path)
    except KeyError as exc:
        return RunEvidence(path=path, source=source, found=False, error=str(exc.args[0]))
    windows = {s.index: (s.started, s.ended if s.ended is not None else s.last_seen) for s in record.sessions}
    artifacts = [
        ArtifactInfo(
            name=a.name,
            type=a.type,
            version=a.version,
            session_window=windows.get(a.session_index) if a.session_index is not None else None,
            size=sum(e.size or 0 for e in a.entries),
            aliases=tuple(a.aliases),
        )
        for a in record.artifacts
    ]
    listing = server.listing()
    siblings = [
        SiblingInfo(id=r.id, name=r.display_name, group=r.group, created=r.started)
        for r in listing
        if r.entity == record.entity and r.project == record.project and r.id != record.id
    ]
    media = media_in(record.history, record.summary)
    if media_data and media:
        media = _with_media_data(media, lambda name: server.run_file(record.path, name))
    evidence = RunEvidence(
        path=record.path,
        source=source,
        found=True,
        url=f"{server.url}/{record.entity}/{record.project}/runs/{record.id}",
        state=record.state,
        name=record.display_name,
        group=record.group,
        created=record.sessions[0].started if record.sessions else None,
        config=record.config,
        summary=record.summary,
        history=record.history,
        artifacts=artifacts,
        siblings=siblings,
        writers=_writers(record.raw_config),
        media=media,
    )
    return _add_records(evidence, server.records(record.path, record=record))


def with_server_records(evidence: RunEvidence, server: Any) -> RunEvidence:
    """Add what only the local recording server knows: creations, resumes, writer sessions, all runs."""
    return _add_records(evidence, server.records(evidence.path))


def with_local_records(
    evidence: RunEvidence, base_url: str | None, api_key: str | None, *, timeout: float = 10.0
) -> RunEvidence:
    """The same records asked over HTTP, when ``base_url`` is a local W&B server on loopback (it answers
    ``GET /__local__/records/<path>``); any other backend, or no answer, leaves the evidence as it was."""
    if not evidence.found or not base_url or not api_key:
        return evidence
    if urllib.parse.urlsplit(base_url).hostname not in _LOOPBACK:
        return evidence
    url = base_url.rstrip("/") + "/__local__/records/" + urllib.parse.quote(evidence.path)
    token = base64.b64encode(f"api:{api_key}".encode()).decode()
    request = urllib.request.Request(url, headers={"Authorization": f"Basic {token}"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            records = json.loads(response.read())
    except (OSError, ValueError):
        return evidence  # not a local W&B server (or an older one): the Api's evidence stands
    return _add_records(evidence, records) if isinstance(records, Mapping) else evidence


def _add_records(evidence: RunEvidence, records: Mapping[str, Any]) -> RunEvidence:
    """``records`` is the local server's JSON for the run (``LocalWandbServer.records``)."""
    raw_sessions = [s for s in records.get("sessions") or () if isinstance(s, Mapping)]
    sessions = [_session(s) for s in raw_sessions]
    windows = {
        s.index: (s.started, s.ended if s.ended is not None else _timestamp(raw.get("last_seen")))
        for s, raw in zip(sessions, raw_sessions, strict=True)
    }
    logged_in = {
        (str(a.get("name")), str(a.get("version"))): windows.get(a["session_index"])
        for a in records.get("artifacts") or ()
        if isinstance(a, Mapping) and _int(a.get("session_index")) is not None
    }
    artifacts = [
        replace(art, session_window=logged_in.get((art.name, str(art.version)), art.session_window))
        for art in evidence.artifacts
    ]
    return replace(
        evidence,
        artifacts=artifacts,
        created_count=_int(records.get("created_count")),
        resumed_count=_int(records.get("resumed_count")),
        sessions=sessions,
        runs_on_backend=_int(records.get("runs_on_backend")),
    )


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _session(raw: Mapping[str, Any]) -> SessionInfo:
    proc = raw.get("process")
    process = None
    if isinstance(proc, Mapping) and _int(proc.get("pid")) is not None:
        env = proc.get("env")
        process = ProcessInfo(
            pid=int(proc["pid"]),
            command=str(proc.get("command") or ""),
            via=str(proc["via"]) if proc.get("via") else None,
            via_pid=_int(proc.get("via_pid")),
            env={str(k): str(v) for k, v in env.items()} if isinstance(env, Mapping) else {},
        )
    return SessionInfo(
        index=int(raw.get("index") or 0),
        started=_timestamp(raw.get("started")),
        ended=_timestamp(raw.get("ended")),
        resume_mode=str(raw.get("resume_mode") or "?"),
        exit_code=_int(raw.get("exit_code")),
        complete=bool(raw.get("complete")),
        overlapping=bool(raw.get("overlapping")),
        user_agent=str(raw["user_agent"]) if raw.get("user_agent") else None,
        client_host=str(raw["client_host"]) if raw.get("client_host") else None,
        writer_id=str(raw["writer_id"]) if raw.get("writer_id") else None,
        process=process,
    )
