"""The HTTP layer of the local W&B server: every request is read, checked and recorded here.

``RequestHandler`` reads the body (chunked, gzip), classifies it (operation name, endpoint kind), applies
the fault rules (latency, an error status, a dropped connection), checks the API key where the W&B
protocol needs it, lets ``endpoints`` answer, and records the request in the store before replying, so
a test that has its response can already see the request. ``ClosableHTTPServer`` serves one thread per
connection and can cut them all at ``stop()``.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import gzip
import secrets
import socket
import sys
import threading
import time
import traceback
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from .endpoints import (
    CONTROL_PREFIX,
    App,
    Reply,
    answer_control,
    answer_download,
    answer_file_stream,
    answer_graphql,
    answer_page,
    answer_upload,
)
from .graphql.execution import operation_name

__all__ = [
    "BODY_LIMITS",
    "BODY_READ_TIMEOUT",
    "BodyError",
    "ClosableHTTPServer",
    "RequestHandler",
    "body_limit",
    "classify",
]

#: Largest body each endpoint reads, in bytes. wandb uploads a file up to 2 GiB in one PUT (larger ones go
#: multipart); file_stream batches stay far below 64 MiB; GraphQL documents and their variables below 16 MiB.
BODY_LIMITS = {"upload": 2 * 1024**3, "file_stream": 64 * 1024**2, "graphql": 16 * 1024**2, "other": 1024**2}
#: Seconds a body read may wait for the next bytes: a client that promised more than it sends frees the thread.
BODY_READ_TIMEOUT = 10.0


class BodyError(Exception):
    """A request body this server will not read: ``status`` is 400 (malformed) or 413 (over the limit)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def body_limit(method: str, path: str) -> int:
    """The body limit for a request, by the endpoint its path names."""
    kind = classify(method, path, b"")[1]
    if kind == "upload" and method == "PUT":
        return BODY_LIMITS["upload"]
    return BODY_LIMITS.get(kind, BODY_LIMITS["other"])


class RequestHandler(BaseHTTPRequestHandler):
    """One connection's requests: read, classify, fault-inject, answer, record, reply (or drop)."""

    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # else each response waits ~40 ms for a delayed ACK
    server_version = "LocalWandbServer/1"
    app: App  # set on the subclass built per server

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

    def _read_body(self, limit: int) -> bytes:
        """The request body, at most ``limit`` bytes (``BodyError`` otherwise); a client that stops sending
        meets ``BODY_READ_TIMEOUT`` instead of holding this thread."""
        self.connection.settimeout(BODY_READ_TIMEOUT)
        try:
            body = self._read_chunked(limit) if self._chunked() else self._read_sized(limit)
        finally:
            self.connection.settimeout(None)
        if self.headers.get("Content-Encoding", "").lower() == "gzip":
            try:
                body = gzip.decompress(body)
            except (OSError, EOFError) as exc:
                raise BodyError(400, f"the body is not valid gzip ({exc})") from None
        return body

    def _chunked(self) -> bool:
        return self.headers.get("Transfer-Encoding", "").lower() == "chunked"

    def _read_sized(self, limit: int) -> bytes:
        raw = self.headers.get("Content-Length") or "0"
        if not raw.strip().isdigit():
            raise BodyError(400, f"Content-Length {raw!r} is not a byte count")
        length = int(raw)
        if length > limit:
            raise BodyError(413, f"the body ({length} bytes) is over this endpoint's limit of {limit} bytes")
        body = self.rfile.read(length)
        if len(body) < length:
            raise BodyError(400, f"the body ended after {len(body)} of the {length} bytes Content-Length promised")
        return body

    def _read_chunked(self, limit: int) -> bytes:
        chunks: list[bytes] = []
        total = 0
        while True:
            line = self.rfile.readline(1024).split(b";")[0].strip() or b"0"
            try:
                size = int(line, 16)
            except ValueError:
                raise BodyError(400, f"bad chunk size {line[:40]!r} in a chunked body") from None
            if size == 0:
                self.rfile.readline(1024)
                return b"".join(chunks)
            total += size
            if total > limit:
                raise BodyError(413, f"the chunked body is over this endpoint's limit of {limit} bytes")
            chunk = self.rfile.read(size)
            if len(chunk) < size:
                raise BodyError(400, "the chunked body ended inside a chunk")
            chunks.append(chunk)
            self.rfile.readline(1024)

    def _serve(self, method: str) -> None:
        start = time.perf_counter()
        t = time.time()
        app = self.app
        path = urllib.parse.urlsplit(self.path).path
        try:
            body = self._read_body(body_limit(method, path))
        except BodyError as exc:
            self._refuse_body(method, path, exc, t)
            return
        except TimeoutError:
            app.store.add_event("body_timeout", None, {"method": method, "path": self.path})
            self._drop()
            return
        operation, kind = classify(method, path, body)
        record: dict[str, Any] = {"operation": operation, "fault": None, "run_path": None}
        reply: Reply | None = None
        if path.startswith(CONTROL_PREFIX):
            reply = self._control(path, body)
        else:
            fault = app.faults.decide(operation or kind)
            if fault is not None:
                record["fault"] = fault.description
                if fault.latency:
                    time.sleep(fault.latency)
                if fault.fails and not fault.drop_connection:
                    message = f"injected fault: {fault.description}"
                    reply = Reply(fault.status or 500, {"errors": [{"message": message}]})
            if reply is None and not (fault is not None and fault.drop_connection):
                try:
                    reply = self._dispatch(method, path, kind, operation, body, record)
                except Exception as exc:  # a server bug must show up in the records, not hang the client
                    app.store.add_event(
                        "server_error",
                        record["operation"],
                        {"error": repr(exc), "trace": traceback.format_exc()},
                    )
                    reply = Reply(500, {"errors": [{"message": f"local W&B server error: {exc!r}"}]})
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
            body_kept_elsewhere=record.get("stored_upload", False),
        )
        if reply is None:
            self._drop()
        else:
            self._send(reply)

    def _refuse_body(self, method: str, path: str, exc: BodyError, t: float) -> None:
        """A body that is too large or malformed: recorded, answered, and the connection closed (what is left
        of the body cannot be told apart from the next request)."""
        self.app.store.add_event("bad_body", None, {"method": method, "path": self.path, "error": str(exc)})
        self.app.store.add_request(
            method=method,
            path=self.path,
            operation=None,
            user_agent=self.headers.get("User-Agent", ""),
            status=exc.status,
            body=b"",
            duration_ms=0.0,
            fault=None,
            run_path=None,
            peer=self._peer(),
            t=t,
        )
        self.close_connection = True
        self._send(Reply(exc.status, {"errors": [{"message": f"{method} {path}: {exc}"}]}))

    def _drop(self) -> None:
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)

    def _send(self, reply: Reply) -> None:
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

    def _unauthorized(self, operation: str | None) -> Reply:
        self.app.store.add_event(
            "auth_failure",
            operation,
            {"path": self.path, "had_authorization": "Authorization" in self.headers},
        )
        return Reply(401, {"errors": [{"message": "invalid API key: the local server did not accept it"}]})

    def _dispatch(
        self, method: str, path: str, kind: str, operation: str | None, body: bytes, record: dict[str, Any]
    ) -> Reply:
        app = self.app
        if kind == "graphql":
            if not self._authorized():
                return self._unauthorized(operation)
            user_agent = self.headers.get("User-Agent", "")
            return answer_graphql(app, body, record, peer=self._peer(), user_agent=user_agent)
        if kind == "file_stream":
            if not self._authorized():
                return self._unauthorized(operation)
            return answer_file_stream(app, path, body, record, peer=self._peer())
        if kind == "upload" and method == "PUT":
            reply = answer_upload(app, path, body)
            record["stored_upload"] = reply.status == 200
            return reply
        if kind in ("upload", "download") and method == "GET":
            return answer_download(app, path)
        if kind == "telemetry":
            return Reply(200, raw=b"")
        if method == "GET":
            record["operation"] = "page"
            return answer_page(app, path)
        app.store.add_event("unknown_path", None, {"method": method, "path": self.path})
        return Reply(404, {"error": f"the local W&B server has no {method} {path}"})

    def _control(self, path: str, body: bytes) -> Reply:
        if not self._authorized():
            return self._unauthorized("control")
        return answer_control(self.app, path, body)


def classify(method: str, path: str, body: bytes) -> tuple[str | None, str]:
    """(operation name for records and faults, endpoint kind)."""
    if path == "/graphql" or path.endswith("/graphql"):
        return operation_name(body), "graphql"
    if path.startswith("/files/") and path.endswith("/file_stream"):
        return "file_stream", "file_stream"
    if path.startswith("/upload/"):
        return ("upload" if method == "PUT" else "download"), "upload"
    if path.startswith("/files/") and method == "GET":
        return "download", "download"
    if path.startswith("/sdk/otel/"):
        return "telemetry", "telemetry"
    return None, "other"


class ClosableHTTPServer(ThreadingHTTPServer):
    """Remembers its open connections, so a stopped server can cut kept-alive ones, and stays quiet when a
    client hangs up."""

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
