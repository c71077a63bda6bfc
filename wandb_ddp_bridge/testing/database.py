"""The records' SQLite database: its tables, one connection under one lock, re-entrant transactions.

One connection guarded by one lock: the server is a test rig, and a single writer keeps every
multi-row change (truncate-then-append, alias moves) atomic without thinking about isolation.
The schema only ever grows (a kept ``--data-dir`` holds an older server's records): tables are created
when missing, and columns added since are added to the tables that lack them.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

__all__ = ["Database"]

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
CREATE TABLE IF NOT EXISTS sweeps(
  pk INTEGER PRIMARY KEY, entity TEXT NOT NULL, project TEXT NOT NULL, name TEXT NOT NULL, config TEXT,
  method TEXT, state TEXT, display_name TEXT, description TEXT, created_at REAL, updated_at REAL,
  UNIQUE(entity, project, name));
CREATE TABLE IF NOT EXISTS sweep_agents(
  pk INTEGER PRIMARY KEY, sweep_pk INTEGER NOT NULL, host TEXT, created_at REAL, heartbeat_at REAL,
  state TEXT NOT NULL DEFAULT 'RUNNING');
CREATE TABLE IF NOT EXISTS sweep_trials(
  pk INTEGER PRIMARY KEY, sweep_pk INTEGER NOT NULL, run_id TEXT NOT NULL, params TEXT NOT NULL,
  agent_pk INTEGER, state TEXT NOT NULL, assigned_at REAL, UNIQUE(sweep_pk, run_id));
CREATE INDEX IF NOT EXISTS sessions_run ON sessions(run_pk, idx);
CREATE INDEX IF NOT EXISTS artifacts_coll ON artifacts(entity, project, collection, digest);
"""


class Database:
    """The SQLite file ``records.sqlite3`` of one data dir, opened with every table in place."""

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
