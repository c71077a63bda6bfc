"""``LocalWandbServer``: a recording W&B backend on loopback for the unmodified wandb SDK.

``start()`` serves from a background thread (``spawn()`` from a child process, see ``child_process``);
``http_server`` reads and records every request and ``endpoints`` answers it (the endpoint list is there).
Everything goes to SQLite under ``data_dir``, and this class reads it back for tests: runs, history,
writer sessions, requests, events. The W&B protocol endpoints and ``/__local__/`` require the API key.
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import tempfile
import threading
import warnings
import weakref
from collections.abc import Iterator
from dataclasses import asdict
from types import TracebackType
from typing import Any

from .child_process import RemoteFaults, start_child, stop_child
from .endpoints import App, PageRenderer
from .faults import Faults
from .http_server import ClosableHTTPServer, RequestHandler
from .records import RequestRecord, RunListing, RunRecord, ServerEvent
from .run_records import run_listing, run_record
from .store import HISTORY, Store

__all__ = ["LocalWandbServer", "ServerNotRunningError"]

_LOOPBACK = ("127.0.0.1", "localhost", "::1")


class ServerNotRunningError(RuntimeError):
    """The server was asked for its URL or port before ``start()``."""


def _new_api_key() -> str:
    return secrets.token_hex(20)  # 40 characters, what the wandb client expects


class LocalWandbServer:
    """A W&B-protocol server on loopback that records what the wandb SDK sends.

    Nothing happens in the constructor; ``start()`` binds the port (ephemeral when ``port=0``).
    Records live in SQLite under ``data_dir`` and survive ``restart()``.
    """

    def __init__(
        self,
        data_dir: str | os.PathLike[str] | None = None,
        port: int = 0,
        host: str = "127.0.0.1",
        entity: str = "local-entity",
        api_key: str | None = None,
        *,
        crash_after: float = 120.0,
        pages: PageRenderer | None = None,
    ) -> None:
        self._owns_dir = data_dir is None
        #: the process that made this object: a forked child inherits it, but neither serves nor removes anything
        self._creator_pid = os.getpid()
        #: renders the read-only pages (``None``: the server answers GET pages with a 404 that says where
        #: pages come from); may be set while running
        self.pages = pages
        self.data_dir = str(data_dir) if data_dir is not None else ""
        self.host = host
        self.entity = entity
        self.api_key = api_key or _new_api_key()
        self.crash_after = crash_after
        self._port = port
        self._httpd: ClosableHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._store: Store | None = None
        self._app: App | None = None
        self._process: subprocess.Popen[str] | None = None
        self._faults = Faults()

    # -- lifecycle -------------------------------------------------------------------------------

    def start(self) -> LocalWandbServer:
        """Bind and serve in a background thread; calling it on a running server does nothing."""
        if self._httpd is not None or self._process is not None:
            return self
        self._ensure_dir()
        store = self._open_store()
        httpd = ClosableHTTPServer((self.host, self._port), RequestHandler)
        self._port = httpd.server_address[1]
        if self.host not in _LOOPBACK:
            warnings.warn(
                f"the local W&B server listens on {self.host}:{self._port}, reachable from other machines: its "
                "run pages are readable there without a key (the W&B protocol endpoints still require it)",
                stacklevel=2,
            )
        app = App(
            store,
            api_key=self.api_key,
            entity=self.entity,
            base_url=self.url,
            crash_after=self.crash_after,
            owner=self,
        )
        app.faults = self._faults
        httpd.RequestHandlerClass = type("BoundHandler", (RequestHandler,), {"app": app})
        self._httpd, self._app = httpd, app
        self._thread = threading.Thread(
            target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, name="local-wandb-server", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving (safe to call twice). Records stay readable. In a forked child this does nothing: the
        serving thread lives in the parent, and waiting for it here would hang."""
        if os.getpid() != self._creator_pid:
            return
        if self._process is not None:
            self._stop_process()
        httpd, self._httpd = self._httpd, None
        if httpd is not None:
            httpd.shutdown()
            httpd.server_close()
            httpd.close_connections()
            if self._thread is not None:
                self._thread.join(timeout=5)
            self._thread = None
            self._app = None

    def restart(self) -> LocalWandbServer:
        """Stop and start again on the same port with the same data dir (fault rules are kept)."""
        spawned = self._process is not None
        self.stop()
        if spawned:
            self._spawn_process(timeout=10.0)
            return self
        return self.start()

    def __enter__(self) -> LocalWandbServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        return self._httpd is not None or (self._process is not None and self._process.poll() is None)

    @property
    def port(self) -> int:
        if not self._port:
            raise ServerNotRunningError("the port is chosen at start(); call server.start() first")
        return self._port

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def base_url(self) -> str:
        return self.url

    @property
    def faults(self) -> Faults | RemoteFaults:
        """Fault rules (``add``, ``outage``, ``clear``); they apply to the running server at once."""
        return RemoteFaults(self) if self._process is not None else self._faults

    def env(self) -> dict[str, str]:
        """Environment variables that point a wandb client at this server."""
        return {
            "WANDB_BASE_URL": self.url,
            "WANDB_API_KEY": self.api_key,
            "WANDB_MODE": "online",
            "WANDB_SILENT": "true",
            "WANDB_ERROR_REPORTING": "false",
            "WANDB_INIT_TIMEOUT": "30",
            "WANDB_DISABLE_CODE": "true",
            "WANDB_DISABLE_GIT": "true",
        }

    # -- subprocess mode -------------------------------------------------------------------------

    @classmethod
    def spawn(
        cls,
        data_dir: str | os.PathLike[str] | None = None,
        port: int = 0,
        host: str = "127.0.0.1",
        entity: str = "local-entity",
        api_key: str | None = None,
        *,
        crash_after: float = 120.0,
        timeout: float = 10.0,
    ) -> LocalWandbServer:
        """Serve from a child process (``python -m wandb_ddp_bridge.testing``), inspectable from here."""
        server = cls(data_dir, port, host, entity, api_key, crash_after=crash_after)
        server._ensure_dir()
        server._spawn_process(timeout=timeout)
        return server

    def _spawn_process(self, timeout: float) -> None:
        self._process, self._port = start_child(
            port=self._port,
            host=self.host,
            data_dir=self.data_dir,
            entity=self.entity,
            crash_after=self.crash_after,
            api_key=self.api_key,
            timeout=timeout,
        )

    def _stop_process(self) -> None:
        proc, self._process = self._process, None
        if proc is not None:
            stop_child(proc)

    # -- storage ---------------------------------------------------------------------------------

    def _ensure_dir(self) -> None:
        if not self.data_dir:
            self.data_dir = tempfile.mkdtemp(prefix="local-wandb-")
            weakref.finalize(self, _remove_in_creator, self.data_dir, self._creator_pid)
        os.makedirs(self.data_dir, exist_ok=True)

    def _open_store(self) -> Store:
        if self._store is None:
            self._ensure_dir()
            self._store = Store(self.data_dir)
        return self._store

    # -- inspection ------------------------------------------------------------------------------

    def runs(self, entity: str | None = None, project: str | None = None) -> list[RunRecord]:
        store = self._open_store()
        return [run_record(store, r, self.crash_after) for r in store.runs_in(entity, project)]

    def listing(self, entity: str | None = None, project: str | None = None) -> list[RunListing]:
        """One line per run, oldest first, without reading any history (cheap for an index page)."""
        store = self._open_store()
        return [run_listing(store, r, self.crash_after) for r in store.runs_in(entity, project)]

    def run(self, path: str) -> RunRecord:
        """A run by ``"entity/project/id"``, ``"project/id"`` or bare ``"id"`` (must be unique)."""
        store = self._open_store()
        parts = path.strip("/").split("/")
        rows = [
            r
            for r in store.runs_in()
            if r["run_id"] == parts[-1]
            and (len(parts) < 2 or r["project"] == parts[-2])
            and (len(parts) < 3 or r["entity"] == parts[-3])
        ]
        if not rows:
            known = [f"{r['entity']}/{r['project']}/{r['run_id']}" for r in store.runs_in()]
            raise KeyError(f"no run {path!r} on the local W&B server; runs: {known}")
        if len(rows) > 1:
            raise KeyError(f"run id {path!r} is ambiguous; use entity/project/id")
        return run_record(store, rows[0], self.crash_after)

    def history(self, path: str) -> list[dict[str, Any]]:
        return self.run(path).history

    def run_file(self, path: str, name: str) -> bytes | None:
        """The uploaded content of one of a run's files (``media/images/...``), ``None`` when not uploaded."""
        record = self.run(path)
        store = self._open_store()
        run = store.find_run(record.entity, record.project, record.id)
        row = (
            store.q1(
                "SELECT u.content FROM run_files f JOIN uploads u ON u.key=f.upload_key"
                " WHERE f.run_pk=? AND f.name=? AND u.uploaded IS NOT NULL",
                (run["pk"], name),
            )
            if run is not None
            else None
        )
        return bytes(row["content"] or b"") if row is not None else None

    def records(self, path: str, *, record: RunRecord | None = None) -> dict[str, Any]:
        """What only this server knows about a run, as JSON (``GET /__local__/records/<path>`` answers it):
        creations, resumes, writer sessions (with the process behind each), the session that logged each
        artifact and ``runs_on_backend``, the runs this server saw created while the run was live (itself
        included: 1 unless a second run appeared).
        ``record`` saves reading the run again when the caller already has it."""
        record = record if record is not None else self.run(path)
        started = [s.started for s in record.sessions]
        ended = [s.ended if s.ended is not None else s.last_seen for s in record.sessions]
        if started:
            first, last = min(started), max(ended)
            meanwhile = sum(
                1
                for r in self.listing()
                if r.path == record.path or (r.started is not None and first <= r.started <= last)
            )
        else:
            meanwhile = 1
        return {
            "path": record.path,
            "created_count": record.created_count,
            "resumed_count": record.resumed_count,
            "runs_on_backend": meanwhile,
            "sessions": [asdict(s) for s in record.sessions],
            "artifacts": [
                {"name": a.name, "version": a.version, "session_index": a.session_index} for a in record.artifacts
            ],
        }

    @property
    def requests(self) -> list[RequestRecord]:
        return self._open_store().requests()

    def events(self, kind: str | None = None) -> list[ServerEvent]:
        return self._open_store().events(kind)

    @property
    def unknown_operations(self) -> list[ServerEvent]:
        return self._open_store().events("unknown_operation")

    def all_received_text(self) -> str:
        """Every request path and body received (GraphQL, file_stream, uploads), decoded, as one string."""
        return "\n".join(self.iter_received_text())

    def iter_received_text(self) -> Iterator[str]:
        store = self._open_store()
        yield from store.request_paths()
        for body in store.iter_bodies():
            yield body.decode("utf-8", errors="replace")

    def history_line_count(self, path: str) -> int:
        record = self.run(path)
        store = self._open_store()
        row = store.find_run(record.entity, record.project, record.id)
        return store.line_count(row["pk"], HISTORY) if row is not None else 0

    def __repr__(self) -> str:
        where = self.url if self._port else "not started"
        return f"<LocalWandbServer {where} data_dir={self.data_dir!r}>"

    # -- test control ----------------------------------------------------------------------------

    def delete_run(self, path: str) -> None:
        """Delete a run (``"entity/project/id"``, ``"project/id"`` or a unique ``"id"``) as the W&B UI does:
        a client that resumes it afterwards is told it does not exist."""
        record = self.run(path)  # KeyError naming the known runs if there is no such run
        self._open_store().delete_run(record.entity, record.project, record.id)


def _remove_in_creator(data_dir: str, creator_pid: int) -> None:
    """Remove a server's temporary data dir, only in the process that created it: a forked child that exits
    normally runs the same finalizer, and would otherwise delete the parent's live store."""
    if os.getpid() == creator_pid:
        shutil.rmtree(data_dir, ignore_errors=True)
