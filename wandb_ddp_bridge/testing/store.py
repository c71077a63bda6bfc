"""SQLite store of everything the recording server received; it survives a server restart.

One connection guarded by one lock: the server is a test rig, and a single writer keeps every
multi-row change (truncate-then-append, alias moves) atomic without thinking about isolation.
"""

from __future__ import annotations

import base64
import json
import os
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict
from typing import Any

from .records import (
    ArtifactEntry,
    ArtifactRecord,
    FileRecord,
    RequestRecord,
    RunListing,
    RunRecord,
    ServerEvent,
    SessionRecord,
    WriterProcess,
)

__all__ = ["EVENTS", "HISTORY", "OUTPUT", "SUMMARY", "Store", "gid"]

HISTORY = "wandb-history.jsonl"
EVENTS = "wandb-events.jsonl"
OUTPUT = "output.log"
SUMMARY = "wandb-summary.json"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS runs(
  pk INTEGER PRIMARY KEY, entity TEXT NOT NULL, project TEXT NOT NULL, run_id TEXT NOT NULL,
  display_name TEXT, job_type TEXT, group_name TEXT, notes TEXT, tags TEXT, host TEXT, program TEXT,
  sweep TEXT, config TEXT, summary TEXT, created_at REAL, updated_at REAL,
  created_count INTEGER NOT NULL DEFAULT 0, resumed_count INTEGER NOT NULL DEFAULT 0,
  UNIQUE(entity, project, run_id));
CREATE TABLE IF NOT EXISTS sessions(
  pk INTEGER PRIMARY KEY, run_pk INTEGER NOT NULL, idx INTEGER NOT NULL, started REAL, last_seen REAL,
  ended REAL, resume_mode TEXT, created INTEGER, exit_code INTEGER, complete INTEGER NOT NULL DEFAULT 0,
  preempting INTEGER NOT NULL DEFAULT 0, user_agent TEXT, writer_id TEXT, client_host TEXT,
  overlapping INTEGER NOT NULL DEFAULT 0, process TEXT);
CREATE TABLE IF NOT EXISTS lines(
  run_pk INTEGER NOT NULL, file TEXT NOT NULL, line_no INTEGER NOT NULL, content TEXT, step INTEGER,
  session_pk INTEGER, PRIMARY KEY(run_pk, file, line_no));
CREATE TABLE IF NOT EXISTS run_files(
  run_pk INTEGER NOT NULL, name TEXT NOT NULL, upload_key TEXT, size INTEGER, session_pk INTEGER,
  uploaded INTEGER NOT NULL DEFAULT 0, PRIMARY KEY(run_pk, name));
CREATE TABLE IF NOT EXISTS uploads(
  key TEXT PRIMARY KEY, kind TEXT NOT NULL, run_pk INTEGER, artifact_pk INTEGER, name TEXT,
  content BLOB, uploaded REAL);
CREATE TABLE IF NOT EXISTS artifacts(
  pk INTEGER PRIMARY KEY, entity TEXT, project TEXT, collection TEXT, type TEXT, version_index INTEGER,
  digest TEXT, state TEXT, description TEXT, metadata TEXT, run_pk INTEGER, session_pk INTEGER,
  client_id TEXT, sequence_client_id TEXT, history_step INTEGER, created_at REAL, committed_at REAL,
  manifest_key TEXT, size INTEGER, requested_aliases TEXT);
CREATE TABLE IF NOT EXISTS aliases(
  entity TEXT, project TEXT, collection TEXT, alias TEXT, artifact_pk INTEGER,
  PRIMARY KEY(entity, project, collection, alias));
CREATE TABLE IF NOT EXISTS artifact_files(
  artifact_pk INTEGER, ordinal INTEGER, name TEXT, md5 TEXT, upload_key TEXT);
CREATE TABLE IF NOT EXISTS artifact_entries(
  artifact_pk INTEGER, path TEXT, digest TEXT, ref TEXT, size INTEGER, PRIMARY KEY(artifact_pk, path));
CREATE TABLE IF NOT EXISTS artifact_uses(artifact_pk INTEGER, run_pk INTEGER, session_pk INTEGER, t REAL);
CREATE TABLE IF NOT EXISTS requests(
  pk INTEGER PRIMARY KEY, t REAL, method TEXT, path TEXT, operation TEXT, user_agent TEXT,
  status INTEGER, body_size INTEGER, duration_ms REAL, fault TEXT, run_path TEXT, peer TEXT);
CREATE TABLE IF NOT EXISTS bodies(request_pk INTEGER PRIMARY KEY, body BLOB);
CREATE TABLE IF NOT EXISTS events(pk INTEGER PRIMARY KEY, t REAL, kind TEXT, operation TEXT, detail TEXT);
CREATE INDEX IF NOT EXISTS sessions_run ON sessions(run_pk, idx);
CREATE INDEX IF NOT EXISTS artifacts_coll ON artifacts(entity, project, collection, digest);
"""


def gid(kind: str, *parts: object) -> str:
    """A W&B-style opaque id: base64 of ``Kind:part:part``."""
    raw = ":".join([kind, *(str(p) for p in parts)])
    return base64.b64encode(raw.encode()).decode()


def ungid(value: str) -> list[str]:
    try:
        return base64.b64decode(value.encode(), validate=True).decode().split(":")
    except (ValueError, UnicodeDecodeError):
        return []


def loads_or(text: str | None, default: Any) -> Any:
    """``json.loads(text)``, or ``default`` for empty or malformed text (records never fail to read)."""
    if not text:
        return default
    try:
        return json.loads(text)
    except ValueError:
        return default


def unwrap_config(raw: dict[str, Any]) -> dict[str, Any]:
    """User config keys with the ``{"value": v}`` wrapper removed and ``_wandb`` dropped."""
    out: dict[str, Any] = {}
    for key, val in raw.items():
        if key in ("_wandb", "wandb_version"):
            continue
        out[key] = val["value"] if isinstance(val, dict) and "value" in val else val
    return out


class Store:
    """All records of one data dir. Thread-safe; every public method is one transaction."""

    def __init__(self, data_dir: str) -> None:
        os.makedirs(data_dir, exist_ok=True)
        self.path = os.path.join(data_dir, "records.sqlite3")
        self.lock = threading.RLock()
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None, timeout=30)
        self._db.row_factory = sqlite3.Row
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)
        self._add_missing_columns()

    def _add_missing_columns(self) -> None:
        """Records written by an older server (a kept ``--data-dir``) lack the newer columns."""
        have = {row["name"] for row in self._db.execute("PRAGMA table_info(sessions)")}
        if "process" not in have:
            self._db.execute("ALTER TABLE sessions ADD COLUMN process TEXT")

    def close(self) -> None:
        with self.lock:
            self._db.close()

    @contextmanager
    def tx(self) -> Iterator[sqlite3.Connection]:
        """One write transaction (re-entrant: nested calls join the outer one)."""
        with self.lock:
            if self._db.in_transaction:
                yield self._db
                return
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def q(self, sql: str, params: tuple[Any, ...] = ()) -> list[sqlite3.Row]:
        with self.lock:
            return list(self._db.execute(sql, params))

    def q1(self, sql: str, params: tuple[Any, ...] = ()) -> sqlite3.Row | None:
        rows = self.q(sql, params)
        return rows[0] if rows else None

    # -- requests and events -------------------------------------------------------------------

    def add_request(
        self,
        *,
        method: str,
        path: str,
        operation: str | None,
        user_agent: str,
        status: int,
        body: bytes,
        duration_ms: float,
        fault: str | None,
        run_path: str | None,
        peer: str,
        t: float,
    ) -> None:
        with self.tx() as db:
            cur = db.execute(
                "INSERT INTO requests(t, method, path, operation, user_agent, status, body_size, duration_ms,"
                " fault, run_path, peer) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                (
                    t,
                    method,
                    path,
                    operation,
                    user_agent,
                    status,
                    len(body),
                    duration_ms,
                    fault,
                    run_path,
                    peer,
                ),
            )
            if body:
                db.execute("INSERT INTO bodies(request_pk, body) VALUES (?,?)", (cur.lastrowid, body))

    def add_event(self, kind: str, operation: str | None, detail: dict[str, Any]) -> None:
        with self.tx() as db:
            db.execute(
                "INSERT INTO events(t, kind, operation, detail) VALUES (?,?,?,?)",
                (time.time(), kind, operation, json.dumps(detail, default=str)),
            )

    def requests(self) -> list[RequestRecord]:
        return [
            RequestRecord(
                time=r["t"],
                method=r["method"],
                path=r["path"],
                operation=r["operation"],
                user_agent=r["user_agent"] or "",
                status=r["status"],
                body_size=r["body_size"],
                duration_ms=r["duration_ms"],
                fault=r["fault"],
                run_path=r["run_path"],
                peer=r["peer"] or "",
            )
            for r in self.q("SELECT * FROM requests ORDER BY pk")
        ]

    def events(self, kind: str | None = None) -> list[ServerEvent]:
        sql, params = "SELECT * FROM events ORDER BY pk", tuple[str, ...]()
        if kind is not None:
            sql, params = "SELECT * FROM events WHERE kind=? ORDER BY pk", (kind,)
        return [
            ServerEvent(time=r["t"], kind=r["kind"], operation=r["operation"], detail=loads_or(r["detail"], {}))
            for r in self.q(sql, params)
        ]

    def iter_bodies(self) -> Iterator[bytes]:
        last = 0
        while True:
            rows = self.q(
                "SELECT request_pk, body FROM bodies WHERE request_pk > ? ORDER BY request_pk LIMIT 200",
                (last,),
            )
            if not rows:
                return
            for r in rows:
                last = r["request_pk"]
                yield bytes(r["body"])

    def request_paths(self) -> list[str]:
        return [r["path"] for r in self.q("SELECT path FROM requests ORDER BY pk")]

    # -- runs ------------------------------------------------------------------------------------

    def find_run(self, entity: str, project: str, run_id: str) -> sqlite3.Row | None:
        return self.q1(
            "SELECT * FROM runs WHERE entity=? AND project=? AND run_id=?", (entity, project, run_id)
        )

    def run_by_pk(self, pk: int) -> sqlite3.Row | None:
        return self.q1("SELECT * FROM runs WHERE pk=?", (pk,))

    def run_by_storage_id(self, storage_id: str) -> sqlite3.Row | None:
        parts = ungid(storage_id)
        if len(parts) == 5 and parts[0] == "Run":
            return self.find_run(parts[4], parts[3], parts[2])
        return None

    def create_run(self, entity: str, project: str, run_id: str, now: float) -> sqlite3.Row:
        with self.tx() as db:
            db.execute(
                "INSERT INTO runs(entity, project, run_id, created_at, updated_at) VALUES (?,?,?,?,?)",
                (entity, project, run_id, now, now),
            )
            row = self.find_run(entity, project, run_id)
            assert row is not None
            return row

    def update_run(self, pk: int, **values: Any) -> None:
        if not values:
            return
        cols = ", ".join(f"{k}=?" for k in values)
        with self.tx() as db:
            db.execute(f"UPDATE runs SET {cols} WHERE pk=?", (*values.values(), pk))

    def bump_run(self, pk: int, column: str) -> None:
        assert column in ("created_count", "resumed_count")
        with self.tx() as db:
            db.execute(f"UPDATE runs SET {column} = {column} + 1 WHERE pk=?", (pk,))

    def runs_in(self, entity: str | None = None, project: str | None = None) -> list[sqlite3.Row]:
        sql, params = "SELECT * FROM runs", []
        where = []
        if entity is not None:
            where.append("entity=?")
            params.append(entity)
        if project is not None:
            where.append("project=?")
            params.append(project)
        if where:
            sql += " WHERE " + " AND ".join(where)
        return self.q(sql + " ORDER BY pk", tuple(params))

    # -- sessions --------------------------------------------------------------------------------

    def sessions_of(self, run_pk: int) -> list[sqlite3.Row]:
        return self.q("SELECT * FROM sessions WHERE run_pk=? ORDER BY idx", (run_pk,))

    def session(self, pk: int) -> sqlite3.Row | None:
        return self.q1("SELECT * FROM sessions WHERE pk=?", (pk,))

    def open_session(
        self,
        run_pk: int,
        *,
        now: float,
        resume_mode: str,
        created: bool,
        user_agent: str,
        writer_id: str | None,
        client_host: str | None,
        process: WriterProcess | None = None,
    ) -> int:
        with self.tx() as db:
            row = db.execute(
                "SELECT COALESCE(MAX(idx), -1) + 1 FROM sessions WHERE run_pk=?", (run_pk,)
            ).fetchone()
            cur = db.execute(
                "INSERT INTO sessions(run_pk, idx, started, last_seen, resume_mode, created, user_agent,"
                " writer_id, client_host, process) VALUES (?,?,?,?,?,?,?,?,?,?)",
                (
                    run_pk,
                    row[0],
                    now,
                    now,
                    resume_mode,
                    int(created),
                    user_agent,
                    writer_id,
                    client_host,
                    json.dumps(asdict(process)) if process is not None else None,
                ),
            )
            assert cur.lastrowid is not None
            return cur.lastrowid

    def touch_session(self, pk: int, now: float) -> None:
        with self.tx() as db:
            db.execute("UPDATE sessions SET last_seen=MAX(COALESCE(last_seen, 0), ?) WHERE pk=?", (now, pk))

    def update_session(self, pk: int, **values: Any) -> None:
        cols = ", ".join(f"{k}=?" for k in values)
        with self.tx() as db:
            db.execute(f"UPDATE sessions SET {cols} WHERE pk=?", (*values.values(), pk))

    # -- file_stream lines -----------------------------------------------------------------------

    def write_lines(
        self, run_pk: int, file: str, offset: int, content: list[str], session_pk: int | None
    ) -> None:
        """Truncate ``file`` to ``offset`` lines, then append ``content`` (the file_stream contract)."""
        with self.tx() as db:
            db.execute("DELETE FROM lines WHERE run_pk=? AND file=? AND line_no>=?", (run_pk, file, offset))
            rows = []
            for i, line in enumerate(content):
                step = None
                if file == HISTORY:
                    parsed = loads_or(line, {})
                    raw_step = parsed.get("_step") if isinstance(parsed, dict) else None
                    step = raw_step if isinstance(raw_step, int) else None
                rows.append((run_pk, file, offset + i, line, step, session_pk))
            db.executemany(
                "INSERT INTO lines(run_pk, file, line_no, content, step, session_pk) VALUES (?,?,?,?,?,?)",
                rows,
            )

    def line_count(self, run_pk: int, file: str) -> int:
        row = self.q1(
            "SELECT COALESCE(MAX(line_no), -1) + 1 AS n FROM lines WHERE run_pk=? AND file=?", (run_pk, file)
        )
        return int(row["n"]) if row else 0

    def lines(self, run_pk: int, file: str, last: int | None = None) -> list[str]:
        if last is not None:
            rows = self.q(
                "SELECT content FROM lines WHERE run_pk=? AND file=? ORDER BY line_no DESC LIMIT ?",
                (run_pk, file, last),
            )
            return [r["content"] for r in reversed(rows)]
        rows = self.q("SELECT content FROM lines WHERE run_pk=? AND file=? ORDER BY line_no", (run_pk, file))
        return [r["content"] for r in rows]

    def history_rows(
        self, run_pk: int, min_step: int | None = None, max_step: int | None = None
    ) -> list[dict[str, Any]]:
        sql = "SELECT content FROM lines WHERE run_pk=? AND file=?"
        params: list[Any] = [run_pk, HISTORY]
        if min_step is not None:
            sql += " AND step>=?"
            params.append(min_step)
        if max_step is not None:
            sql += " AND step<?"
            params.append(max_step)
        rows = self.q(sql + " ORDER BY line_no", tuple(params))
        out = []
        for r in rows:
            parsed = loads_or(r["content"], None)
            if isinstance(parsed, dict):
                out.append(parsed)
        return out

    # -- uploads and run files -------------------------------------------------------------------

    def add_upload_target(
        self,
        key: str,
        kind: str,
        *,
        run_pk: int | None = None,
        artifact_pk: int | None = None,
        name: str = "",
    ) -> None:
        with self.tx() as db:
            db.execute(
                "INSERT OR IGNORE INTO uploads(key, kind, run_pk, artifact_pk, name) VALUES (?,?,?,?,?)",
                (key, kind, run_pk, artifact_pk, name),
            )

    def upload_target(self, key: str) -> sqlite3.Row | None:
        return self.q1("SELECT * FROM uploads WHERE key=?", (key,))

    def store_upload(self, key: str, content: bytes, now: float) -> None:
        with self.tx() as db:
            db.execute("UPDATE uploads SET content=?, uploaded=? WHERE key=?", (content, now, key))
            db.execute("UPDATE run_files SET uploaded=1, size=? WHERE upload_key=?", (len(content), key))

    def request_run_file(self, run_pk: int, name: str, key: str, session_pk: int | None) -> None:
        with self.tx() as db:
            db.execute(
                "INSERT INTO run_files(run_pk, name, upload_key, session_pk) VALUES (?,?,?,?)"
                " ON CONFLICT(run_pk, name) DO UPDATE SET upload_key=excluded.upload_key,"
                " session_pk=excluded.session_pk",
                (run_pk, name, key, session_pk),
            )

    def run_files(self, run_pk: int) -> list[sqlite3.Row]:
        return self.q("SELECT * FROM run_files WHERE run_pk=? ORDER BY name", (run_pk,))

    # -- artifacts -------------------------------------------------------------------------------

    def artifact(self, pk: int) -> sqlite3.Row | None:
        return self.q1("SELECT * FROM artifacts WHERE pk=?", (pk,))

    def artifact_by_gid(self, artifact_id: str | None) -> sqlite3.Row | None:
        parts = ungid(artifact_id or "")
        if len(parts) == 2 and parts[0] == "Artifact" and parts[1].isdigit():
            return self.artifact(int(parts[1]))
        return None

    def artifact_aliases(self, pk: int) -> list[str]:
        rows = self.q("SELECT alias FROM aliases WHERE artifact_pk=? ORDER BY alias", (pk,))
        return [r["alias"] for r in rows]

    def set_aliases(self, pk: int, aliases: list[str]) -> None:
        """Point each alias of the artifact's collection at it (an alias names one version at a time)."""
        art = self.artifact(pk)
        if art is None:
            return
        with self.tx() as db:
            for alias in aliases:
                db.execute(
                    "INSERT INTO aliases(entity, project, collection, alias, artifact_pk) VALUES (?,?,?,?,?)"
                    " ON CONFLICT(entity, project, collection, alias)"
                    " DO UPDATE SET artifact_pk=excluded.artifact_pk",
                    (art["entity"], art["project"], art["collection"], alias, pk),
                )

    def artifact_records(self, where: str, params: tuple[Any, ...]) -> list[ArtifactRecord]:
        out = []
        for a in self.q(f"SELECT * FROM artifacts WHERE {where} ORDER BY pk", params):
            entries = tuple(
                ArtifactEntry(path=e["path"], digest=e["digest"], size=e["size"], ref=e["ref"])
                for e in self.q(
                    "SELECT * FROM artifact_entries WHERE artifact_pk=? ORDER BY path", (a["pk"],)
                )
            )
            files = tuple(
                f["name"]
                for f in self.q(
                    "SELECT f.name FROM artifact_files f JOIN uploads u ON u.key=f.upload_key"
                    " WHERE f.artifact_pk=? AND u.uploaded IS NOT NULL ORDER BY f.ordinal",
                    (a["pk"],),
                )
            )
            run = self.run_by_pk(a["run_pk"]) if a["run_pk"] is not None else None
            session = self.session(a["session_pk"]) if a["session_pk"] is not None else None
            users = self.q(
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
                    aliases=tuple(self.artifact_aliases(a["pk"])),
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

    # -- whole-run records -------------------------------------------------------------------------

    def run_listing(self, run: sqlite3.Row, crash_after: float) -> RunListing:
        sessions = self.sessions_of(run["pk"])
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

    def run_record(self, run: sqlite3.Row, crash_after: float) -> RunRecord:
        pk = run["pk"]
        sessions = [_session_record(s) for s in self.sessions_of(pk)]
        raw_config = loads_or(run["config"], {})
        events = [loads_or(line, {}) for line in self.lines(pk, EVENTS)]
        return RunRecord(
            entity=run["entity"],
            project=run["project"],
            id=run["run_id"],
            storage_id=gid("Run", "v1", run["run_id"], run["project"], run["entity"]),
            display_name=run["display_name"],
            config=unwrap_config(raw_config) if isinstance(raw_config, dict) else {},
            raw_config=raw_config if isinstance(raw_config, dict) else {},
            summary=loads_or(run["summary"], {}),
            history=self.history_rows(pk),
            events=[e for e in events if isinstance(e, dict)],
            output=self.lines(pk, OUTPUT),
            sessions=sessions,
            artifacts=self.artifact_records("run_pk=?", (pk,)),
            files=[
                FileRecord(
                    name=f["name"],
                    size=f["size"],
                    uploaded=bool(f["uploaded"]),
                    session_index=_session_index(sessions, self, f["session_pk"]),
                )
                for f in self.run_files(pk)
            ],
            state=run_state(self.sessions_of(pk), crash_after),
            created_count=run["created_count"],
            resumed_count=run["resumed_count"],
            overlapping=any(s.overlapping for s in sessions),
            tags=loads_or(run["tags"], []) or [],
            job_type=run["job_type"],
            group=run["group_name"],
            notes=run["notes"],
        )


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
