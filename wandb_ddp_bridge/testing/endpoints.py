"""What each endpoint of the local W&B server does with a request that passed the transport checks.

Endpoints: ``POST /graphql``, ``POST /files/<entity>/<project>/<run>/file_stream``, ``PUT``/``GET``
``/upload/<key>`` (upload URLs it hands out), ``POST /sdk/otel/...`` (accepted, ignored),
``POST /__local__/faults`` (fault control for a spawned server) and ``GET /__local__/records/<run path>``
(what only this server knows about a run: writer sessions, creations, resumes). Everything goes to SQLite.

Any other ``GET`` is a read-only page (the run page at ``/<entity>/<project>/runs/<id>``, an index at ``/``)
when a page renderer was given (``pages=``): this package renders nothing itself, because the page is built
by the tooling that also renders it for other backends (``wandb-ddp-bridge serve`` and ``demo`` inject it).
``http_server`` reads each request, checks the key, injects faults and records it; these functions answer.
"""

from __future__ import annotations

import json
import time
import urllib.parse
from dataclasses import dataclass
from typing import Any

from .facade import PageRenderer, ServerFacade
from .faults import Faults
from .graphql.context import OpContext
from .graphql.execution import RequestError, answer, read_request
from .graphql.operations import root
from .procinfo import peer_process
from .records import WriterProcess
from .sessions import SessionTracker
from .store import SUMMARY, Store

__all__ = [
    "CONTROL_PREFIX",
    "PAGE_HEADERS",
    "App",
    "Page",
    "PageRenderer",
    "Reply",
    "answer_control",
    "answer_download",
    "answer_file_stream",
    "answer_graphql",
    "answer_page",
    "answer_upload",
]

CONTROL_PREFIX = "/__local__/"
RECORDS_PREFIX = CONTROL_PREFIX + "records/"
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


class App:
    """What every connection thread of one running server shares: the store, the session tracker, the
    fault rules, the key, and the server object (its page renderer and records)."""

    def __init__(
        self, store: Store, *, api_key: str, entity: str, base_url: str, crash_after: float, owner: ServerFacade
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
    """The local process behind a peer ``ip:port``, for a writer session it opens (``procinfo``)."""
    host, _, port = peer.rpartition(":")
    if host not in ("127.0.0.1", "::1", "::ffff:127.0.0.1") or not port.isdigit():
        return None  # only a loopback peer runs on this machine, where /proc can name it
    return peer_process(int(port), server_port)


class Reply:
    """An answer: status, body (JSON unless ``raw`` is given), content type and extra headers."""

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


def answer_graphql(app: App, body: bytes, record: dict[str, Any], *, peer: str, user_agent: str) -> Reply:
    """``POST /graphql``: read the request and validate it against the schema (a malformed or invalid one is
    a 400 that says why, recorded as an event; an unknown root field is an ``unknown_operation``), then answer
    it from the root node; a resolver's ``ResolverError`` is a GraphQL error in a 200."""
    try:
        request = read_request(body)
    except RequestError as exc:
        app.store.add_event(exc.kind, record["operation"], {"error": str(exc), **exc.detail})
        extensions = {"operation": record["operation"] or ""}
        return Reply(exc.status, {"errors": [{"message": str(exc), "extensions": extensions}]})
    op_name = request.name or record["operation"] or ""
    record["operation"] = op_name or None
    ctx = OpContext(
        store=app.store,
        tracker=app.tracker,
        base_url=app.base_url,
        default_entity=app.entity,
        operation=op_name,
        peer=peer,
        user_agent=user_agent,
        crash_after=app.crash_after,
    )
    try:
        result = answer(request, root(ctx))
    except RequestError as exc:
        app.store.add_event(exc.kind, op_name or None, {"error": str(exc), **exc.detail})
        return Reply(exc.status, {"errors": [{"message": str(exc), "extensions": {"operation": op_name}}]})
    finally:
        record["run_path"] = ctx.run_path
    return Reply(200, result)


def answer_file_stream(app: App, path: str, body: bytes, record: dict[str, Any], *, peer: str) -> Reply:
    """``POST /files/<entity>/<project>/<run>/file_stream``: each file's lines replace the stored ones from
    its offset on (the summary replaces the run's); ``complete`` and ``preempting`` end or mark the session
    that sent it. The run must exist: UpsertBucket comes first."""
    parts = [urllib.parse.unquote(p) for p in path.strip("/").split("/")]
    entity, project, run_id = parts[1], parts[2], parts[3]
    record["run_path"] = f"{entity}/{project}/{run_id}"
    payload, problem = _file_stream_payload(body)
    if problem:
        app.store.add_event("bad_file_stream", "file_stream", {"path": path, "error": problem})
        return Reply(400, {"error": f"file_stream: {problem}"})
    run = app.store.find_run(entity, project, run_id)
    if run is None:
        app.store.add_event("file_stream_unknown_run", "file_stream", {"run": record["run_path"]})
        return Reply(404, {"error": f"run {record['run_path']} does not exist; UpsertBucket must come first"})
    session = app.tracker.attribute(run["pk"], peer)
    with app.store.tx():
        for name, chunk in payload["files"].items():
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
    return Reply(200, {"exitcode": None, "limits": {}})


def _file_stream_payload(body: bytes) -> tuple[dict[str, Any], str | None]:
    """The file_stream body, or what is wrong with it: a JSON object whose ``files`` map names to
    ``{"offset": int, "content": [lines]}``."""
    try:
        payload = json.loads(body or b"{}")
    except (ValueError, RecursionError):
        return {}, "the body is not JSON"
    if not isinstance(payload, dict):
        return {}, f"the body must be a JSON object, got {type(payload).__name__}"
    files = payload.get("files") or {}
    if not isinstance(files, dict):
        return {}, f"'files' must be an object, got {type(files).__name__}"
    for name, chunk in files.items():
        if not isinstance(chunk, dict) or not isinstance(chunk.get("content") or [], list):
            return {}, f"file {name!r} must be an object with a 'content' list"
        offset = chunk.get("offset") or 0
        if not isinstance(offset, int) or isinstance(offset, bool) or offset < 0:
            return {}, f"file {name!r} has offset {offset!r}; it must be a line number"
    exit_code = payload.get("exitcode")
    if exit_code is not None and (not isinstance(exit_code, int) or isinstance(exit_code, bool)):
        return {}, f"'exitcode' must be an integer, got {exit_code!r}"
    return {**payload, "files": files}, None


def answer_upload(app: App, path: str, body: bytes) -> Reply:
    """``PUT /upload/<key>``: the content of a URL this server handed out (a manifest also records its
    entries); any other key is a 404."""
    key = path[len("/upload/") :]
    target = app.store.upload_target(key)
    if target is None:
        app.store.add_event("unknown_upload", "upload", {"path": path})
        return Reply(404, {"error": f"no upload URL {path} was handed out"})
    with app.store.tx() as db:
        app.store.store_upload(key, body, time.time())
        if target["kind"] == "manifest":
            _record_manifest(db, target["artifact_pk"], body)
    return Reply(200, {})


def _record_manifest(db: Any, artifact_pk: int, body: bytes) -> None:
    """Keep an uploaded manifest's entries (path, digest, ref, size), so an artifact's record lists its contents."""
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


def answer_download(app: App, path: str) -> Reply:
    """``GET /upload/<key>`` or ``GET /files/<entity>/<project>/<run>/<name>``: what was uploaded there."""
    if path.startswith("/upload/"):
        row = app.store.q1("SELECT content FROM uploads WHERE key=? AND uploaded IS NOT NULL", (path[8:],))
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
        return Reply(404, {"error": f"nothing was uploaded to {path}"})
    return Reply(200, raw=bytes(row["content"] or b""))


def answer_page(app: App, path: str) -> Reply:
    """Any other ``GET``: the page the injected renderer makes for it, or a 404 that says where pages come
    from; every page goes out with ``PAGE_HEADERS``."""
    owner = app.owner
    renderer = owner.pages
    if renderer is None:
        text = (
            "This local W&B server serves the W&B protocol only. Run pages come from "
            "`wandb-ddp-bridge serve` or `wandb-ddp-bridge demo --serve`.\n"
        )
        return Reply(404, raw=text.encode(), content_type="text/plain; charset=utf-8", headers=PAGE_HEADERS)
    page = renderer(owner, path)
    if page is None:
        text = f"No page at {path}. The index of this server's runs is at /.\n"
        return Reply(404, raw=text.encode(), content_type="text/plain; charset=utf-8", headers=PAGE_HEADERS)
    return Reply(page.status, raw=page.body, content_type=page.content_type, headers=PAGE_HEADERS)


def answer_control(app: App, path: str, body: bytes) -> Reply:
    """``/__local__/`` (the caller checked the key): ``records/<run path>`` answers ``owner.records``,
    ``faults`` applies a fault rule sent by ``RemoteFaults``."""
    if path.startswith(RECORDS_PREFIX):
        run_path = urllib.parse.unquote(path[len(RECORDS_PREFIX) :])
        try:
            return Reply(200, app.owner.records(run_path))
        except KeyError as exc:
            return Reply(404, {"error": str(exc.args[0])})
    if path == CONTROL_PREFIX + "faults":
        try:
            app.faults.apply_json(json.loads(body or b"{}"))
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            return Reply(400, {"error": str(exc)})
        return Reply(200, {"ok": True})
    return Reply(404, {"error": f"unknown control path {path}"})
