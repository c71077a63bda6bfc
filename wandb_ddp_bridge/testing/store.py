"""SQLite store of everything the recording server received; it survives a server restart.

What arrived (requests, their bodies, server events) and what a W&B backend keeps (runs, writer sessions,
file_stream lines, uploads, artifacts and aliases), as rows: ``run_records`` shapes them into the records
tests read, and ``database`` holds the tables, the connection and its transactions.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterator
from dataclasses import asdict
from typing import Any

from .database import Database
from .encoding import loads_or, ungid
from .records import RequestRecord, ServerEvent, WriterProcess

__all__ = ["EVENTS", "HISTORY", "OUTPUT", "SUMMARY", "Store"]

HISTORY = "wandb-history.jsonl"
EVENTS = "wandb-events.jsonl"
OUTPUT = "output.log"
SUMMARY = "wandb-summary.json"


class Store(Database):
    """All records of one data dir. Thread-safe; every public method is one transaction."""

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
        body_kept_elsewhere: bool = False,
    ) -> None:
        """Record one request. Its body is kept in ``bodies`` unless ``body_kept_elsewhere`` (a file upload,
        whose content ``uploads`` already holds: a second copy doubled what each checkpoint upload wrote)."""
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
            if body and not body_kept_elsewhere:
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
        """Every request body received: those kept with their requests, then the stored file uploads."""
        yield from self._iter_blobs("SELECT request_pk AS pk, body AS blob FROM bodies WHERE request_pk > ?")
        yield from self._iter_blobs(
            "SELECT rowid AS pk, content AS blob FROM uploads WHERE rowid > ? AND content IS NOT NULL"
        )

    def _iter_blobs(self, select: str) -> Iterator[bytes]:
        """The blobs ``select`` (with a ``pk > ?`` condition) finds, 200 rows per query: bodies can be large."""
        last = 0
        while True:
            rows = self.q(f"{select} ORDER BY pk LIMIT 200", (last,))
            if not rows:
                return
            for r in rows:
                last = r["pk"]
                yield bytes(r["blob"])

    def request_paths(self) -> list[str]:
        return [r["path"] for r in self.q("SELECT path FROM requests ORDER BY pk")]

    # -- runs ------------------------------------------------------------------------------------

    def find_run(self, entity: str, project: str, run_id: str) -> sqlite3.Row | None:
        return self.q1("SELECT * FROM runs WHERE entity=? AND project=? AND run_id=?", (entity, project, run_id))

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
            row = db.execute("SELECT COALESCE(MAX(idx), -1) + 1 FROM sessions WHERE run_pk=?", (run_pk,)).fetchone()
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

    def write_lines(self, run_pk: int, file: str, offset: int, content: list[str], session_pk: int | None) -> None:
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
        row = self.q1("SELECT COALESCE(MAX(line_no), -1) + 1 AS n FROM lines WHERE run_pk=? AND file=?", (run_pk, file))
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

    # -- test control ----------------------------------------------------------------------------

    def delete_run(self, entity: str, project: str, run_id: str) -> bool:
        """Remove a run and what it wrote (sessions, lines, files), as deleting it in the W&B UI does, so a test
        can show what a client meets when its run is gone. Requests and events stay: they are what arrived."""
        row = self.find_run(entity, project, run_id)
        if row is None:
            return False
        with self.tx() as db:
            for table in ("lines", "run_files", "sessions"):
                db.execute(f"DELETE FROM {table} WHERE run_pk=?", (row["pk"],))
            db.execute("DELETE FROM runs WHERE pk=?", (row["pk"],))
        return True
