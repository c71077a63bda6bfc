"""Collect a run's evidence from the local recording server's own records (:mod:`wandb_ddp_bridge.testing`).

``from_server`` reads the server object directly; ``with_server_records`` adds what only that server knows
(how often the run was created and resumed, its writer sessions and the process behind each) to evidence from
the Api, and ``with_local_records`` asks a local server on loopback for the same over HTTP. Apart from the
model (:mod:`.evidence`) and the Api collector because these records exist on no other backend.
"""

from __future__ import annotations

import base64
import json
import urllib.parse
import urllib.request
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from .evidence import (
    ArtifactInfo,
    ProcessInfo,
    RunEvidence,
    SessionInfo,
    SiblingInfo,
    _timestamp,
    _with_media_data,
    _writers,
    media_in,
)

__all__ = ["from_server", "with_local_records", "with_server_records"]

_LOOPBACK = ("127.0.0.1", "localhost", "::1")


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
