"""``LocalWandbServer``: a recording W&B backend on loopback for the unmodified wandb SDK.

Endpoints: ``POST /graphql``, ``POST /files/<entity>/<project>/<run>/file_stream``, ``PUT``/``GET``
``/upload/<key>`` (upload URLs it hands out), ``POST /sdk/otel/...`` (accepted, ignored),
``POST /__local__/faults`` (fault control for a spawned server) and ``GET /__local__/records/<run path>``
(what only this server knows about a run: writer sessions, creations, resumes). Everything goes to SQLite.
The W&B protocol endpoints and ``/__local__/`` require the API key.

Any other ``GET`` is a read-only page (the run page at ``/<entity>/<project>/runs/<id>``, an index at ``/``)
when a page renderer was given (``pages=``): this package renders nothing itself, because the page is built
by the tooling that also renders it for other backends (``wandb-ddp-bridge serve`` and ``demo`` inject it).
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import gzip
import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import urllib.parse
import urllib.request
import warnings
import weakref
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

from .faults import Faults
from .graphql.context import GraphQLError, OpContext
from .graphql.document import GraphQLSyntaxError, operation_name_from_text, parse
from .graphql.execution import execute, root_fields
from .graphql.operations import OPERATIONS
from .procinfo import peer_process
from .records import RequestRecord, RunListing, RunRecord, ServerEvent, WriterProcess
from .run_records import run_listing, run_record
from .sessions import SessionTracker
from .store import HISTORY, SUMMARY, Store

__all__ = ["LocalWandbServer", "Page", "PageRenderer", "RemoteFaults", "ServerNotRunningError"]

_CONTROL_PREFIX = "/__local__/"
_RECORDS_PREFIX = _CONTROL_PREFIX + "records/"
_LOOPBACK = ("127.0.0.1", "localhost", "::1")
#: Pages are read-only documents: no script runs, nothing is loaded from elsewhere, nothing is framed.
PAGE_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


@dataclass(frozen=True)
class Page:
    """A rendered read-only page."""

    status: int
    body: bytes
    content_type: str = "text/html; charset=utf-8"


#: ``renderer(server, path)``: the page at a ``GET`` path (percent-encoded, without the query), or ``None``.
PageRenderer = Callable[["LocalWandbServer", str], "Page | None"]


class ServerNotRunningError(RuntimeError):
    """The server was asked for its URL or port before ``start()``."""


class _App:
    """Request handling shared by all connection threads of one running server."""

    def __init__(
        self, store: Store, *, api_key: str, entity: str, base_url: str, crash_after: float, owner: LocalWandbServer
    ) -> None:
        self.store = store
        self.api_key = api_key
        self.entity = entity
        self.base_url = base_url
        self.crash_after = crash_after
        self.faults = Faults()
        self.owner = owner
        port = owner.port
        self.tracker = SessionTracker(store, identify=lambda peer: _identify(peer, port))


def _identify(peer: str, server_port: int) -> WriterProcess | None:
    host, _, port = peer.rpartition(":")
    if host not in ("127.0.0.1", "::1", "::ffff:127.0.0.1") or not port.isdigit():
        return None  # only a loopback peer runs on this machine, where /proc can name it
    return peer_process(int(port), server_port)


class _Reply:
    def __init__(
        self,
        status: int,
        body: Any = None,
        *,
        raw: bytes | None = None,
        content_type: str = "application/json",
        headers: dict[str, str] | None = None,
    ) -> None:
        self.status = status
        self.raw = raw if raw is not None else json.dumps(body if body is not None else {}).encode()
        self.content_type = content_type
        self.headers = headers or {}


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # else each response waits ~40 ms for a delayed ACK
    server_version = "LocalWandbServer/1"
    app: _App  # set on the subclass built per server

    def log_message(self, format: str, *args: Any) -> None:
        return  # requests are recorded in SQLite, not printed

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.app.tracker.forget_connection(self._peer())

    def _peer(self) -> str:
        host, port = self.client_address[:2]
        return f"{host}:{port}"

    def do_POST(self) -> None:
        self._serve("POST")

    def do_PUT(self) -> None:
        self._serve("PUT")

    def do_GET(self) -> None:
        self._serve("GET")

    def _read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    self.rfile.readline()
                    break
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            body = b"".join(chunks)
        else:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if self.headers.get("Content-Encoding", "").lower() == "gzip":
            body = gzip.decompress(body)
        return body

    def _serve(self, method: str) -> None:
        start = time.perf_counter()
        t = time.time()
        app = self.app
        body = self._read_body()
        path = urllib.parse.urlsplit(self.path).path
        operation, kind = _classify(method, path, body)
        record: dict[str, Any] = {"operation": operation, "fault": None, "run_path": None}
        reply: _Reply | None = None
        if path.startswith(_CONTROL_PREFIX):
            reply = self._control(path, body)
        else:
            fault = app.faults.decide(operation or kind)
            if fault is not None:
                record["fault"] = fault.description
                if fault.latency:
                    time.sleep(fault.latency)
                if fault.fails and not fault.drop_connection:
                    message = f"injected fault: {fault.description}"
                    reply = _Reply(fault.status or 500, {"errors": [{"message": message}]})
            if reply is None and not (fault is not None and fault.drop_connection):
                try:
                    reply = self._dispatch(method, path, kind, operation, body, record)
                except Exception as exc:  # a server bug must show up in the records, not hang the client
                    app.store.add_event(
                        "server_error",
                        record["operation"],
                        {"error": repr(exc), "trace": traceback.format_exc()},
                    )
                    reply = _Reply(500, {"errors": [{"message": f"local W&B server error: {exc!r}"}]})
        # Recorded before answering: once a client has its response, tests can see the request.
        app.store.add_request(
            method=method,
            path=self.path,
            operation=record["operation"],
            user_agent=self.headers.get("User-Agent", ""),
            status=reply.status if reply is not None else 0,
            body=body,
            duration_ms=(time.perf_counter() - start) * 1000,
            fault=record["fault"],
            run_path=record["run_path"],
            peer=self._peer(),
            t=t,
        )
        if reply is None:
            self._drop()
        else:
            self._send(reply)

    def _drop(self) -> None:
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)

    def _send(self, reply: _Reply) -> None:
        self.send_response(reply.status)
        self.send_header("Content-Type", reply.content_type)
        for name, value in reply.headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(reply.raw)))
        self.end_headers()
        self.wfile.write(reply.raw)

    def _authorized(self) -> bool:
        header = self.headers.get("Authorization", "")
        if not header.lower().startswith("basic "):
            return False
        try:
            decoded = base64.b64decode(header[6:].strip()).decode()
        except (binascii.Error, UnicodeDecodeError):
            return False
        return secrets.compare_digest(decoded.partition(":")[2], self.app.api_key)

    def _unauthorized(self, operation: str | None) -> _Reply:
        self.app.store.add_event(
            "auth_failure",
            operation,
            {"path": self.path, "had_authorization": "Authorization" in self.headers},
        )
        return _Reply(401, {"errors": [{"message": "invalid API key: the local server did not accept it"}]})

    def _dispatch(
        self, method: str, path: str, kind: str, operation: str | None, body: bytes, record: dict[str, Any]
    ) -> _Reply:
        if kind == "graphql":
            if not self._authorized():
                return self._unauthorized(operation)
            return self._graphql(body, record)
        if kind == "file_stream":
            if not self._authorized():
                return self._unauthorized(operation)
            return self._file_stream(path, body, record)
        if kind == "upload" and method == "PUT":
            return self._upload(path, body)
        if kind in ("upload", "download") and method == "GET":
            return self._download(path)
        if kind == "telemetry":
            return _Reply(200, raw=b"")
        if method == "GET":
            record["operation"] = "page"
            return self._page(path)
        self.app.store.add_event("unknown_path", None, {"method": method, "path": self.path})
        return _Reply(404, {"error": f"the local W&B server has no {method} {path}"})

    # -- GraphQL ---------------------------------------------------------------------------------

    def _graphql(self, body: bytes, record: dict[str, Any]) -> _Reply:
        app = self.app
        try:
            payload = json.loads(body or b"{}")
            query = str(payload.get("query") or "")
            variables = payload.get("variables") or {}
            doc = parse(query)
            name = payload.get("operationName") or None
            op = doc.operation(name)
        except (ValueError, GraphQLSyntaxError) as exc:
            app.store.add_event("bad_graphql", record["operation"], {"error": str(exc)})
            return _Reply(400, {"errors": [{"message": f"cannot parse the GraphQL request: {exc}"}]})
        op_name = op.name or record["operation"] or ""
        record["operation"] = op_name or None
        handler = OPERATIONS.get(op_name)
        if handler is None:
            fields = root_fields(doc, op, variables)
            app.store.add_event(
                "unknown_operation", op_name or None, {"root_fields": fields, "query": query[:2000]}
            )
            label = op_name or "<anonymous>"
            message = (
                f"unknown operation {label!r} (root fields {fields}); not implemented by the local W&B server"
            )
            return _Reply(400, {"errors": [{"message": message, "extensions": {"operation": op_name}}]})
        ctx = OpContext(
            store=app.store,
            tracker=app.tracker,
            base_url=app.base_url,
            default_entity=app.entity,
            operation=op_name,
            peer=self._peer(),
            user_agent=self.headers.get("User-Agent", ""),
            crash_after=app.crash_after,
        )
        try:
            data = execute(doc, op, handler(ctx, variables), variables)
        except GraphQLError as exc:
            record["run_path"] = ctx.run_path
            return _Reply(200, {"data": None, "errors": [{"message": str(exc), "path": [op_name]}]})
        record["run_path"] = ctx.run_path
        return _Reply(200, {"data": data})

    # -- file_stream -----------------------------------------------------------------------------

    def _file_stream(self, path: str, body: bytes, record: dict[str, Any]) -> _Reply:
        app = self.app
        parts = [urllib.parse.unquote(p) for p in path.strip("/").split("/")]
        entity, project, run_id = parts[1], parts[2], parts[3]
        record["run_path"] = f"{entity}/{project}/{run_id}"
        try:
            payload = json.loads(body or b"{}")
        except ValueError:
            app.store.add_event("bad_file_stream", "file_stream", {"path": path})
            return _Reply(400, {"error": "file_stream body is not JSON"})
        run = app.store.find_run(entity, project, run_id)
        if run is None:
            app.store.add_event("file_stream_unknown_run", "file_stream", {"run": record["run_path"]})
            return _Reply(
                404, {"error": f"run {record['run_path']} does not exist; UpsertBucket must come first"}
            )
        session = app.tracker.attribute(run["pk"], self._peer())
        with app.store.tx():
            for name, chunk in (payload.get("files") or {}).items():
                offset = int(chunk.get("offset") or 0)
                content = [str(c) for c in chunk.get("content") or []]
                if name == SUMMARY:
                    if content:
                        app.store.update_run(run["pk"], summary=content[-1], updated_at=time.time())
                    continue
                app.store.write_lines(run["pk"], name, offset, content, session)
            if session is not None:
                if payload.get("preempting"):
                    app.store.update_session(session, preempting=1)
                if payload.get("complete"):
                    exit_code = payload.get("exitcode")
                    app.store.update_session(
                        session,
                        complete=1,
                        exit_code=int(exit_code) if exit_code is not None else None,
                        ended=time.time(),
                    )
        return _Reply(200, {"exitcode": None, "limits": {}})

    # -- uploads ---------------------------------------------------------------------------------

    def _upload(self, path: str, body: bytes) -> _Reply:
        app = self.app
        key = path[len("/upload/") :]
        target = app.store.upload_target(key)
        if target is None:
            app.store.add_event("unknown_upload", "upload", {"path": path})
            return _Reply(404, {"error": f"no upload URL {path} was handed out"})
        with app.store.tx() as db:
            app.store.store_upload(key, body, time.time())
            if target["kind"] == "manifest":
                _record_manifest(db, target["artifact_pk"], body)
        return _Reply(200, {})

    def _download(self, path: str) -> _Reply:
        app = self.app
        if path.startswith("/upload/"):
            row = app.store.q1(
                "SELECT content FROM uploads WHERE key=? AND uploaded IS NOT NULL", (path[8:],)
            )
        else:  # /files/<entity>/<project>/<run>/<name...>
            parts = [urllib.parse.unquote(p) for p in path.strip("/").split("/")]
            run = app.store.find_run(parts[1], parts[2], parts[3]) if len(parts) >= 5 else None
            name = "/".join(parts[4:])
            row = (
                app.store.q1(
                    "SELECT u.content FROM run_files f JOIN uploads u ON u.key=f.upload_key"
                    " WHERE f.run_pk=? AND f.name=? AND u.uploaded IS NOT NULL",
                    (run["pk"], name),
                )
                if run is not None
                else None
            )
        if row is None:
            return _Reply(404, {"error": f"nothing was uploaded to {path}"})
        return _Reply(200, raw=bytes(row["content"] or b""))

    # -- pages (read-only, rendered by the injected renderer) -----------------------------------

    def _page(self, path: str) -> _Reply:
        owner = self.app.owner
        renderer = owner.pages
        if renderer is None:
            text = (
                "This local W&B server serves the W&B protocol only. Run pages come from "
                "`wandb-ddp-bridge serve` or `wandb-ddp-bridge demo --serve`.\n"
            )
            return _Reply(404, raw=text.encode(), content_type="text/plain; charset=utf-8", headers=PAGE_HEADERS)
        page = renderer(owner, path)
        if page is None:
            text = f"No page at {path}. The index of this server's runs is at /.\n"
            return _Reply(404, raw=text.encode(), content_type="text/plain; charset=utf-8", headers=PAGE_HEADERS)
        return _Reply(page.status, raw=page.body, content_type=page.content_type, headers=PAGE_HEADERS)

    # -- control (spawned servers) and records ---------------------------------------------------

    def _control(self, path: str, body: bytes) -> _Reply:
        if not self._authorized():
            return self._unauthorized("control")
        if path.startswith(_RECORDS_PREFIX):
            run_path = urllib.parse.unquote(path[len(_RECORDS_PREFIX) :])
            try:
                return _Reply(200, self.app.owner.records(run_path))
            except KeyError as exc:
                return _Reply(404, {"error": str(exc.args[0])})
        if path == _CONTROL_PREFIX + "faults":
            try:
                self.app.faults.apply_json(json.loads(body or b"{}"))
            except (ValueError, KeyError, TypeError) as exc:
                return _Reply(400, {"error": str(exc)})
            return _Reply(200, {"ok": True})
        return _Reply(404, {"error": f"unknown control path {path}"})


def _record_manifest(db: Any, artifact_pk: int, body: bytes) -> None:
    try:
        manifest = json.loads(body)
        contents = manifest.get("contents") or {}
    except (ValueError, AttributeError):
        return
    db.execute("DELETE FROM artifact_entries WHERE artifact_pk=?", (artifact_pk,))
    for entry_path, entry in contents.items():
        if not isinstance(entry, dict):
            continue
        db.execute(
            "INSERT INTO artifact_entries(artifact_pk, path, digest, ref, size) VALUES (?,?,?,?,?)",
            (artifact_pk, entry_path, entry.get("digest"), entry.get("ref"), entry.get("size")),
        )


def _classify(method: str, path: str, body: bytes) -> tuple[str | None, str]:
    """(operation name for records and faults, endpoint kind)."""
    if path == "/graphql" or path.endswith("/graphql"):
        name = None
        try:
            payload = json.loads(body or b"{}")
            name = payload.get("operationName") or operation_name_from_text(
                str(payload.get("query") or "")
            )
        except (ValueError, AttributeError):
            pass
        return name, "graphql"
    if path.startswith("/files/") and path.endswith("/file_stream"):
        return "file_stream", "file_stream"
    if path.startswith("/upload/"):
        return ("upload" if method == "PUT" else "download"), "upload"
    if path.startswith("/files/") and method == "GET":
        return "download", "download"
    if path.startswith("/sdk/otel/"):
        return "telemetry", "telemetry"
    return None, "other"


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler]) -> None:
        super().__init__(address, handler)
        self._open: set[socket.socket] = set()
        self._open_lock = threading.Lock()

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._open_lock:
            self._open.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._open_lock:
            self._open.discard(request)
        super().shutdown_request(request)

    def close_connections(self) -> None:
        """Cut kept-alive client connections, so a stopped server answers nothing at all."""
        with self._open_lock:
            conns = list(self._open)
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Clients drop keep-alive connections at exit; that is not worth a traceback.
        exc = sys.exc_info()[1]
        if isinstance(exc, (ConnectionError, TimeoutError)):
            return
        super().handle_error(request, client_address)


def _new_api_key() -> str:
    return secrets.token_hex(20)  # 40 characters, what the wandb client expects


class RemoteFaults:
    """``Faults``' interface for a spawned server, over its control endpoint."""

    def __init__(self, server: LocalWandbServer) -> None:
        self._server = server

    def _post(self, payload: dict[str, Any]) -> None:
        req = urllib.request.Request(
            self._server.url + _CONTROL_PREFIX + "faults",
            data=json.dumps(payload).encode(),
            method="POST",
            headers={
                "Authorization": "Basic " + base64.b64encode(f"api:{self._server.api_key}".encode()).decode()
            },
        )
        with urllib.request.urlopen(req, timeout=10) as resp:
            resp.read()

    def add(
        self,
        operation: str = "*",
        *,
        status: int | None = 500,
        times: int | None = 1,
        latency: float = 0.0,
        drop_connection: bool = False,
    ) -> None:
        self._post(
            {
                "action": "add",
                "operation": operation,
                "status": status,
                "times": times,
                "latency": latency,
                "drop_connection": drop_connection,
            }
        )

    def outage(self, seconds: float, *, status: int = 503, drop_connection: bool = False) -> None:
        self._post(
            {"action": "outage", "seconds": seconds, "status": status, "drop_connection": drop_connection}
        )

    def clear(self) -> None:
        self._post({"action": "clear"})


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
        #: renders the read-only pages (``None``: the server answers GET pages with a 404 that says where
        #: pages come from); may be set while running
        self.pages = pages
        self.data_dir = str(data_dir) if data_dir is not None else ""
        self.host = host
        self.entity = entity
        self.api_key = api_key or _new_api_key()
        self.crash_after = crash_after
        self._port = port
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._store: Store | None = None
        self._app: _App | None = None
        self._process: subprocess.Popen[str] | None = None
        self._faults = Faults()

    # -- lifecycle -------------------------------------------------------------------------------

    def start(self) -> LocalWandbServer:
        """Bind and serve in a background thread; calling it on a running server does nothing."""
        if self._httpd is not None or self._process is not None:
            return self
        self._ensure_dir()
        store = self._open_store()
        httpd = _HTTPServer((self.host, self._port), _Handler)
        self._port = httpd.server_address[1]
        if self.host not in _LOOPBACK:
            warnings.warn(
                f"the local W&B server listens on {self.host}:{self._port}, reachable from other machines: its "
                "run pages are readable there without a key (the W&B protocol endpoints still require it)",
                stacklevel=2,
            )
        app = _App(
            store,
            api_key=self.api_key,
            entity=self.entity,
            base_url=self.url,
            crash_after=self.crash_after,
            owner=self,
        )
        app.faults = self._faults
        httpd.RequestHandlerClass = type("BoundHandler", (_Handler,), {"app": app})
        self._httpd, self._app = httpd, app
        self._thread = threading.Thread(
            target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, name="local-wandb-server", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving (safe to call twice). Records stay readable."""
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
        cmd = [
            sys.executable,
            "-m",
            "wandb_ddp_bridge.testing",
            "--port",
            str(self._port),
            "--host",
            self.host,
            "--data-dir",
            self.data_dir,
            "--entity",
            self.entity,
            "--crash-after",
            str(self.crash_after),
        ]
        env = dict(os.environ, WANDB_LOCAL_SERVER_API_KEY=self.api_key)
        # stderr goes to a file: an unread pipe would block the child once it fills up.
        log_path = os.path.join(self.data_dir, "server.log")
        with open(log_path, "ab") as log:
            proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=log, text=True, env=env)
        deadline = time.monotonic() + timeout
        line = ""
        assert proc.stdout is not None
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            if line.startswith("listening on ") or not line:
                break
        if not line.startswith("listening on "):
            proc.kill()
            proc.wait(timeout=5)
            with open(log_path, errors="replace") as log_file:
                err = log_file.read()[-2000:]
            raise RuntimeError(f"the spawned local W&B server did not start ({line!r}); its log: {err}")
        self._port = int(line.strip().rsplit(":", 1)[1])
        self._process = proc

    def _stop_process(self) -> None:
        proc, self._process = self._process, None
        if proc is None:
            return
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)
        if proc.stdout is not None:
            proc.stdout.close()

    # -- storage ---------------------------------------------------------------------------------

    def _ensure_dir(self) -> None:
        if not self.data_dir:
            self.data_dir = tempfile.mkdtemp(prefix="local-wandb-")
            weakref.finalize(self, shutil.rmtree, self.data_dir, True)
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
