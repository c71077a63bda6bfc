"""The records tests read, built from the store's rows: a run, its listing line, its artifacts, its state.

``Store`` answers rows; these functions shape them into the frozen dataclasses of ``records`` (what a
test or the run page sees), so a record is built the same way whichever caller asks for it.
"""

from __future__ import annotations

import sqlite3
import time
from typing import Any

from .encoding import gid, loads_or
from .records import (
    ArtifactEntry,
    ArtifactRecord,
    FileRecord,
    RunListing,
    RunRecord,
    SessionRecord,
    WriterProcess,
)
from .store import EVENTS, OUTPUT, Store

__all__ = ["artifact_records", "run_listing", "run_record", "run_state", "unwrap_config"]


def run_listing(store: Store, run: sqlite3.Row, crash_after: float) -> RunListing:
    """One line of an index of runs: it reads no history, so listing every run stays cheap."""
    sessions = store.sessions_of(run["pk"])
    return RunListing(
        entity=run["entity"],
        project=run["project"],
        id=run["run_id"],
        display_name=run["display_name"],
        group=run["group_name"],
        state=run_state(sessions, crash_after),
        started=sessions[0]["started"] if sessions else run["created_at"],
        sessions=len(sessions),
        created_count=run["created_count"],
        resumed_count=run["resumed_count"],
    )


def run_record(store: Store, run: sqlite3.Row, crash_after: float) -> RunRecord:
    """Everything a test asserts on about one run: config, history, streams, sessions, files, artifacts."""
    pk = run["pk"]
    sessions = [_session_record(s) for s in store.sessions_of(pk)]
    raw_config = loads_or(run["config"], {})
    events = [loads_or(line, {}) for line in store.lines(pk, EVENTS)]
    return RunRecord(
        entity=run["entity"],
        project=run["project"],
        id=run["run_id"],
        storage_id=gid("Run", "v1", run["run_id"], run["project"], run["entity"]),
        display_name=run["display_name"],
        config=unwrap_config(raw_config) if isinstance(raw_config, dict) else {},
        raw_config=raw_config if isinstance(raw_config, dict) else {},
        summary=loads_or(run["summary"], {}),
        history=store.history_rows(pk),
        events=[e for e in events if isinstance(e, dict)],
        output=store.lines(pk, OUTPUT),
        sessions=sessions,
        artifacts=artifact_records(store, "run_pk=?", (pk,)),
        files=[
            FileRecord(
                name=f["name"],
                size=f["size"],
                uploaded=bool(f["uploaded"]),
                session_index=_session_index(sessions, store, f["session_pk"]),
            )
            for f in store.run_files(pk)
        ],
        state=run_state(store.sessions_of(pk), crash_after),
        created_count=run["created_count"],
        resumed_count=run["resumed_count"],
        overlapping=any(s.overlapping for s in sessions),
        tags=loads_or(run["tags"], []) or [],
        job_type=run["job_type"],
        group=run["group_name"],
        sweep=run["sweep"],
        notes=run["notes"],
    )


def artifact_records(store: Store, where: str, params: tuple[Any, ...]) -> list[ArtifactRecord]:
    """The artifacts ``where`` selects, each with its entries, uploaded files, aliases, the session that
    logged it and the runs that used it."""
    out = []
    for a in store.q(f"SELECT * FROM artifacts WHERE {where} ORDER BY pk", params):
        entries = tuple(
            ArtifactEntry(path=e["path"], digest=e["digest"], size=e["size"], ref=e["ref"])
            for e in store.q("SELECT * FROM artifact_entries WHERE artifact_pk=? ORDER BY path", (a["pk"],))
        )
        files = tuple(
            f["name"]
            for f in store.q(
                "SELECT f.name FROM artifact_files f JOIN uploads u ON u.key=f.upload_key"
                " WHERE f.artifact_pk=? AND u.uploaded IS NOT NULL ORDER BY f.ordinal",
                (a["pk"],),
            )
        )
        run = store.run_by_pk(a["run_pk"]) if a["run_pk"] is not None else None
        session = store.session(a["session_pk"]) if a["session_pk"] is not None else None
        users = store.q(
            "SELECT DISTINCT r.entity, r.project, r.run_id"
            " FROM artifact_uses u JOIN runs r ON r.pk=u.run_pk"
            " WHERE u.artifact_pk=?",
            (a["pk"],),
        )
        out.append(
            ArtifactRecord(
                id=gid("Artifact", a["pk"]),
                entity=a["entity"],
                project=a["project"],
                name=a["collection"],
                type=a["type"],
                version_index=a["version_index"],
                digest=a["digest"],
                state=a["state"],
                aliases=tuple(store.artifact_aliases(a["pk"])),
                entries=entries,
                uploaded_files=files,
                description=a["description"],
                metadata=loads_or(a["metadata"], {}),
                run_path=f"{run['entity']}/{run['project']}/{run['run_id']}" if run else None,
                session_index=session["idx"] if session else None,
                used_by=tuple(f"{u['entity']}/{u['project']}/{u['run_id']}" for u in users),
            )
        )
    return out


def unwrap_config(raw: dict[str, Any]) -> dict[str, Any]:
    """User config keys with the ``{"value": v}`` wrapper removed and ``_wandb`` dropped."""
    out: dict[str, Any] = {}
    for key, val in raw.items():
        if key in ("_wandb", "wandb_version"):
            continue
        out[key] = val["value"] if isinstance(val, dict) and "value" in val else val
    return out


def _session_index(sessions: list[SessionRecord], store: Store, session_pk: int | None) -> int | None:
    if session_pk is None:
        return None
    row = store.session(session_pk)
    return int(row["idx"]) if row else None


def _session_record(s: sqlite3.Row) -> SessionRecord:
    return SessionRecord(
        index=s["idx"],
        started=s["started"],
        last_seen=s["last_seen"],
        ended=s["ended"],
        resume_mode=s["resume_mode"],
        created=bool(s["created"]),
        exit_code=s["exit_code"],
        complete=bool(s["complete"]),
        preempting=bool(s["preempting"]),
        user_agent=s["user_agent"] or "",
        writer_id=s["writer_id"],
        client_host=s["client_host"],
        overlapping=bool(s["overlapping"]),
        process=_writer_process(s["process"]),
    )


def _writer_process(text: str | None) -> WriterProcess | None:
    raw = loads_or(text, None)
    if not isinstance(raw, dict) or not isinstance(raw.get("pid"), int):
        return None
    env = raw.get("env")
    return WriterProcess(
        pid=raw["pid"],
        command=str(raw.get("command") or ""),
        via=raw.get("via"),
        via_pid=raw.get("via_pid"),
        env={str(k): str(v) for k, v in env.items()} if isinstance(env, dict) else {},
    )


def run_state(sessions: list[sqlite3.Row], crash_after: float, now: float | None = None) -> str:
    """W&B-style run state from the last writer session."""
    if not sessions:
        return "pending"
    last = sessions[-1]
    if last["complete"]:
        return "finished" if not last["exit_code"] else "failed"
    if (now if now is not None else time.time()) - (last["last_seen"] or 0) > crash_after:
        return "crashed"
    return "preempting" if last["preempting"] else "running"
