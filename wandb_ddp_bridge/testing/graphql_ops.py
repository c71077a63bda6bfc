"""GraphQL operations the wandb SDK (0.19.11 .. 0.31.0) and its public API send, and their answers.

``OPERATIONS`` maps every known operation name to a handler that returns the data tree for it; the
tree is shaped by the query text (see ``gql.execute``), so each client version gets the fields it
asked for. A name that is not in ``OPERATIONS`` is answered with HTTP 400 by the server.
"""

from __future__ import annotations

import hashlib
import json
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .encoding import gid, loads_or, ungid
from .run_records import run_state
from .store import EVENTS, HISTORY, OUTPUT, Store

if TYPE_CHECKING:
    from .sessions import SessionTracker

__all__ = ["INPUT_TYPES", "OBJECT_TYPES", "OPERATIONS", "OpContext"]

Node = dict[str, Any]


@dataclass
class OpContext:
    """What a handler may use: the store, the session tracker and facts about the request."""

    store: Store
    tracker: SessionTracker
    base_url: str
    default_entity: str
    operation: str
    peer: str
    user_agent: str
    crash_after: float
    run_path: str | None = None


Handler = Callable[[OpContext, dict[str, Any]], Node]


class GraphQLError(Exception):
    """Answered as a GraphQL ``errors`` entry (HTTP 200), like a real server's resolver error."""


def _iso(t: float | None) -> str | None:
    if t is None:
        return None
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


def _entity(ctx: OpContext, name: Any) -> str:
    return str(name) if name else ctx.default_entity


def _project_name(name: Any) -> str:
    return str(name) if name else "uncategorized"


# -- nodes ---------------------------------------------------------------------------------------


def _entity_node(ctx: OpContext, name: str) -> Node:
    return {
        "__typename": "Entity",
        "id": gid("Entity", name),
        "name": name,
        "isTeam": False,
        "organization": None,
        "xxhashDigestsEnabled": False,
        "defaultAccess": "USER_READ",
        "readOnlyAdmin": False,
        "privateOnly": False,
        "codeSavingEnabled": False,
        "projects": lambda a: _connection(
            [_project_node(ctx, name, p) for p in _project_names(ctx, name)], a
        ),
    }


def _project_names(ctx: OpContext, entity: str) -> list[str]:
    rows = ctx.store.q(
        "SELECT project FROM runs WHERE entity=?"
        " UNION SELECT project FROM artifacts WHERE entity=? ORDER BY 1",
        (entity, entity),
    )
    return [r["project"] for r in rows]


def _project_internal_id(entity: str, project: str) -> int:
    return int(hashlib.md5(f"{entity}/{project}".encode()).hexdigest()[:7], 16)


def _project_node(ctx: OpContext, entity: str, project: str) -> Node:
    def bucket(args: dict[str, Any]) -> Node | None:
        run = ctx.store.find_run(entity, project, str(args.get("name")))
        if ctx.operation == "RunResumeStatus":
            ctx.tracker.note_probe(entity, project, str(args.get("name")), run is not None)
            ctx.run_path = f"{entity}/{project}/{args.get('name')}"
        return _run_node(ctx, run) if run is not None else None

    def run(args: dict[str, Any]) -> Node | None:
        row = ctx.store.find_run(entity, project, str(args.get("name")))
        return _run_node(ctx, row) if row is not None else None

    def runs(args: dict[str, Any]) -> Node:
        rows = ctx.store.runs_in(entity, project)
        rows = _filter_runs(rows, args.get("filters"))
        if str(args.get("order") or "").lstrip("+-") in ("created_at", "createdAt"):
            rows = sorted(rows, key=lambda r: r["created_at"], reverse=str(args.get("order")).startswith("-"))
        else:
            rows = sorted(rows, key=lambda r: r["created_at"], reverse=True)
        return _connection([_run_node(ctx, r) for r in rows], args)

    def artifact(args: dict[str, Any]) -> Node | None:
        row = _artifact_by_name(ctx, entity, project, str(args.get("name") or ""))
        return _artifact_node(ctx, row) if row is not None else None

    def artifact_type(args: dict[str, Any]) -> Node | None:
        name = str(args.get("name") or "")
        found = ctx.store.q1(
            "SELECT 1 FROM artifacts WHERE entity=? AND project=? AND type=?", (entity, project, name)
        )
        return _artifact_type_node(ctx, entity, project, name) if found else None

    def artifact_types(args: dict[str, Any]) -> Node:
        rows = ctx.store.q(
            "SELECT DISTINCT type FROM artifacts WHERE entity=? AND project=? ORDER BY type",
            (entity, project),
        )
        return _connection([_artifact_type_node(ctx, entity, project, r["type"]) for r in rows], args)

    def collection(args: dict[str, Any]) -> Node | None:
        name = str(args.get("name") or "")
        found = ctx.store.q1(
            "SELECT 1 FROM artifacts WHERE entity=? AND project=? AND collection=?", (entity, project, name)
        )
        return _sequence_node(ctx, entity, project, name) if found else None

    internal = _project_internal_id(entity, project)
    return {
        "__typename": "Project",
        "id": gid("Project", "v1", project, entity),
        "internalId": str(internal),
        "name": project,
        "entityName": entity,
        "entity": _entity_node(ctx, entity),
        "readOnly": False,
        "access": "PRIVATE",
        "bucket": bucket,
        "run": run,
        "runs": runs,
        "runCount": lambda a: len(_filter_runs(ctx.store.runs_in(entity, project), a.get("filters"))),
        "artifact": artifact,
        "artifactType": artifact_type,
        "artifactTypes": artifact_types,
        "artifactCollection": collection,
        "artifactSequence": collection,
        "artifactCollectionMembership": lambda a: _membership_by_name(
            ctx, entity, project, str(a.get("name") or "")
        ),
        "createdAt": _iso(time.time()),
        "isBenchmark": False,
        "views": "{}",
        "sweeps": lambda a: _connection([], a),
    }


def _filter_runs(rows: list[Any], filters: Any) -> list[Any]:
    """Support the one filter shape tests commonly pass: ``{"name": id}`` / ``{"state": s}``."""
    spec = loads_or(filters, {}) if isinstance(filters, str) else (filters or {})
    if not isinstance(spec, dict) or not spec:
        return rows
    names = spec.get("name")
    if isinstance(names, str):
        rows = [r for r in rows if r["run_id"] == names]
    elif isinstance(names, dict) and isinstance(names.get("$in"), list):
        rows = [r for r in rows if r["run_id"] in names["$in"]]
    return rows


def _connection(nodes: list[Node], args: dict[str, Any]) -> Node:
    after = args.get("after")
    start = int(after) + 1 if isinstance(after, str) and after.isdigit() else 0
    first = args.get("first")
    count = len(nodes) - start if first is None else int(first)
    page = nodes[start : start + count]
    edges = [{"node": n, "cursor": str(start + i)} for i, n in enumerate(page)]
    return {
        "edges": edges,
        "totalCount": len(nodes),
        "pageInfo": {
            "__typename": "PageInfo",
            "endCursor": edges[-1]["cursor"] if edges else None,
            "hasNextPage": start + len(page) < len(nodes),
            "startCursor": edges[0]["cursor"] if edges else None,
            "hasPreviousPage": start > 0,
        },
    }


def _run_node(ctx: OpContext, run: Any) -> Node:
    pk = run["pk"]
    entity, project, run_id = run["entity"], run["project"], run["run_id"]
    store = ctx.store
    config_text = run["config"] or "{}"

    def wandb_config(args: dict[str, Any]) -> str | None:
        raw = loads_or(config_text, {})
        wb = raw.get("_wandb") if isinstance(raw, dict) else None
        value = wb.get("value") if isinstance(wb, dict) else None
        if not isinstance(value, dict):
            return None
        keys = args.get("keys")
        picked = {k: v for k, v in value.items() if keys is None or k in keys}
        return json.dumps(picked) if picked else None

    def history(args: dict[str, Any]) -> list[str]:
        rows = store.history_rows(pk, _int_or_none(args.get("minStep")), _int_or_none(args.get("maxStep")))
        samples = _int_or_none(args.get("samples"))
        if samples is not None:
            rows = rows[:samples]
        return [json.dumps(r) for r in rows]

    def history_keys(_: dict[str, Any]) -> Node:
        rows = store.history_rows(pk)
        keys: dict[str, Any] = {}
        last = -1
        for r in rows:
            step = r.get("_step")
            if isinstance(step, int):
                last = max(last, step)
            for k in r:
                keys.setdefault(k, {"typeCounts": [{"type": "number", "count": 0}]})["typeCounts"][0][
                    "count"
                ] += 1
        return {"lastStep": last, "keys": keys}

    def files(args: dict[str, Any]) -> Node:
        names = args.get("names")
        rows = [f for f in store.run_files(pk) if f["uploaded"] and (not names or f["name"] in names)]
        return _connection([_file_node(ctx, f["name"], f["upload_key"], f["size"]) for f in rows], args)

    def sessions_last_seen() -> float | None:
        sessions = store.sessions_of(pk)
        last: float | None = sessions[-1]["last_seen"] if sessions else run["updated_at"]
        return last

    def artifacts_out(args: dict[str, Any]) -> Node:
        rows = store.q("SELECT * FROM artifacts WHERE run_pk=? ORDER BY pk", (pk,))
        return _connection([_artifact_node(ctx, r) for r in rows], args)

    def artifacts_in(args: dict[str, Any]) -> Node:
        rows = store.q(
            "SELECT DISTINCT a.* FROM artifact_uses u JOIN artifacts a ON a.pk=u.artifact_pk WHERE u.run_pk=?"
            " ORDER BY a.pk",
            (pk,),
        )
        return _connection([_artifact_node(ctx, r) for r in rows], args)

    def tail(file: str) -> str:
        return json.dumps(store.lines(pk, file, last=10))

    return {
        "__typename": "Run",
        "id": gid("Run", "v1", run_id, project, entity),
        "name": run_id,
        "displayName": run["display_name"] or run_id,
        "description": run["notes"],
        "notes": run["notes"],
        "config": config_text,
        "summaryMetrics": run["summary"] or "{}",
        "systemMetrics": "{}",
        "sweepName": run["sweep"],
        "group": run["group_name"],
        "jobType": run["job_type"],
        "host": run["host"],
        "commit": None,
        "tags": loads_or(run["tags"], []) or [],
        "readOnly": False,
        "stopped": False,
        "state": lambda _: run_state(store.sessions_of(pk), ctx.crash_after),
        "createdAt": _iso(run["created_at"]),
        "heartbeatAt": lambda _: _iso(sessions_last_seen()),
        "updatedAt": _iso(run["updated_at"]),
        "projectId": _project_internal_id(entity, project),
        "project": lambda _: _project_node(ctx, entity, project),
        "user": {
            "__typename": "User",
            "id": gid("User", ctx.default_entity),
            "name": ctx.default_entity,
            "username": ctx.default_entity,
        },
        "historyLineCount": lambda _: store.line_count(pk, HISTORY),
        "eventsLineCount": lambda _: store.line_count(pk, EVENTS),
        "logLineCount": lambda _: store.line_count(pk, OUTPUT),
        "historyTail": lambda _: tail(HISTORY),
        "eventsTail": lambda _: tail(EVENTS),
        "wandbConfig": wandb_config,
        "history": history,
        "historyKeys": history_keys,
        "sampledHistory": lambda a: [[loads_or(h, {}) for h in history({})]],
        "parquetHistory": lambda a: {"parquetUrls": [], "liveData": [loads_or(h, {}) for h in history({})]},
        "files": files,
        "outputArtifacts": artifacts_out,
        "inputArtifacts": artifacts_in,
        "runInfo": None,
        "servicesAvailable": None,
    }


def _int_or_none(value: Any) -> int | None:
    try:
        return None if value is None else int(value)
    except (TypeError, ValueError):
        return None


def _file_node(ctx: OpContext, name: str, key: str | None, size: int | None) -> Node:
    url = f"{ctx.base_url}/upload/{key}" if key else None
    return {
        "__typename": "File",
        "id": gid("File", key or name),
        "name": name,
        "displayName": name,
        "url": url,
        "directUrl": url,
        "sizeBytes": size or 0,
        "mimetype": "application/octet-stream",
        "updatedAt": _iso(time.time()),
        "md5": None,
        "digest": None,
    }


def _artifact_type_node(ctx: OpContext, entity: str, project: str, name: str) -> Node:
    def collections(args: dict[str, Any]) -> Node:
        rows = ctx.store.q(
            "SELECT DISTINCT collection FROM artifacts WHERE entity=? AND project=? AND type=?"
            " ORDER BY collection",
            (entity, project, name),
        )
        return _connection([_sequence_node(ctx, entity, project, r["collection"]) for r in rows], args)

    return {
        "__typename": "ArtifactType",
        "id": gid("ArtifactType", entity, project, name),
        "name": name,
        "description": None,
        "createdAt": _iso(time.time()),
        "artifactCollection": lambda a: _sequence_node(ctx, entity, project, str(a.get("name"))),
        "artifactSequence": lambda a: _sequence_node(ctx, entity, project, str(a.get("name"))),
        "artifactCollections": collections,
        "artifactSequences": collections,
    }


def _sequence_node(ctx: OpContext, entity: str, project: str, name: str) -> Node:
    def latest(_: dict[str, Any]) -> Node | None:
        row = ctx.store.q1(
            "SELECT * FROM artifacts WHERE entity=? AND project=? AND collection=? AND state='COMMITTED'"
            " ORDER BY version_index DESC LIMIT 1",
            (entity, project, name),
        )
        return _artifact_node(ctx, row) if row is not None else None

    def versions(args: dict[str, Any]) -> Node:
        rows = ctx.store.q(
            "SELECT * FROM artifacts WHERE entity=? AND project=? AND collection=?"
            " ORDER BY version_index DESC",
            (entity, project, name),
        )
        return _connection([_artifact_node(ctx, r) for r in rows], args)

    return {
        "__typename": "ArtifactSequence",
        "id": gid("ArtifactCollection", entity, project, name),
        "name": name,
        "description": None,
        "project": lambda _: _project_node(ctx, entity, project),
        "latestArtifact": latest,
        "artifactMembership": lambda a: _membership_by_name(
            ctx, entity, project, f"{name}:{a.get('aliasName')}"
        ),
        "artifacts": versions,
        "digestAlgorithm": "MANIFEST_MD5",
        "createdAt": _iso(time.time()),
    }


def _artifact_by_name(ctx: OpContext, entity: str, project: str, name: str) -> Any:
    collection, _, version = name.partition(":")
    version = version or "latest"
    if version.startswith("v") and version[1:].isdigit():
        return ctx.store.q1(
            "SELECT * FROM artifacts WHERE entity=? AND project=? AND collection=? AND version_index=?",
            (entity, project, collection, int(version[1:])),
        )
    alias = ctx.store.q1(
        "SELECT artifact_pk FROM aliases WHERE entity=? AND project=? AND collection=? AND alias=?",
        (entity, project, collection, version),
    )
    return ctx.store.artifact(alias["artifact_pk"]) if alias else None


def _membership_by_name(ctx: OpContext, entity: str, project: str, name: str) -> Node | None:
    row = _artifact_by_name(ctx, entity, project, name)
    if row is None:
        return None
    node = _artifact_node(ctx, row)
    return {
        "__typename": "ArtifactCollectionMembership",
        "id": gid("ArtifactCollectionMembership", row["pk"]),
        "versionIndex": row["version_index"],
        "createdAt": node["createdAt"],
        "aliases": node["aliases"],
        "artifactCollection": node["artifactSequence"],
        "artifact": node,
        "files": node["files"],
    }


def _artifact_files(ctx: OpContext, artifact_pk: int) -> list[Node]:
    rows = ctx.store.q(
        "SELECT f.name, f.md5, f.upload_key, f.ordinal, LENGTH(u.content) AS size FROM artifact_files f"
        " LEFT JOIN uploads u ON u.key=f.upload_key WHERE f.artifact_pk=? ORDER BY f.ordinal",
        (artifact_pk,),
    )
    nodes = []
    for f in rows:
        node = _file_node(ctx, f["name"], f["upload_key"], f["size"])
        node.update(
            md5=f["md5"],
            digest=f["md5"],
            storagePath=f"wandb_artifacts/{artifact_pk}/{f['ordinal']}/{f['name']}",
        )
        nodes.append(node)
    return nodes


def _files_by_entries(ctx: OpContext, artifact_pk: int, args: dict[str, Any]) -> Node:
    """Download URLs for manifest entries, looked up in the entry's birth artifact when it names one."""
    nodes = []
    for entry in args.get("entries") or []:
        name = str(entry.get("name") or "")
        birth = (
            ctx.store.artifact_by_gid(entry.get("birthArtifactID")) if entry.get("birthArtifactID") else None
        )
        pk = birth["pk"] if birth is not None else artifact_pk
        match = [n for n in _artifact_files(ctx, pk) if n["name"] == name]
        nodes.append(match[-1] if match else {"name": name, "directUrl": None, "url": None})
    return _connection(nodes, {})


def _artifact_node(ctx: OpContext, row: Any) -> Node:
    pk = row["pk"]
    entity, project, collection = row["entity"], row["project"], row["collection"]
    seq = _sequence_node(ctx, entity, project, collection)

    def aliases(_: dict[str, Any]) -> list[Node]:
        return [
            {
                "__typename": "ArtifactAlias",
                "id": gid("ArtifactAlias", pk, a),
                "alias": a,
                "artifactCollectionName": collection,
                "artifactCollection": seq,
            }
            for a in ctx.store.artifact_aliases(pk)
        ]

    def files(args: dict[str, Any]) -> Node:
        names = args.get("names")
        nodes = [n for n in _artifact_files(ctx, pk) if not names or n["name"] in names]
        return _connection(nodes, args)

    entries = ctx.store.q(
        "SELECT COUNT(*) AS n, COALESCE(SUM(size), 0) AS s FROM artifact_entries WHERE artifact_pk=?", (pk,)
    )[0]
    manifest_url = f"{ctx.base_url}/upload/{row['manifest_key']}" if row["manifest_key"] else None
    return {
        "__typename": "Artifact",
        "id": gid("Artifact", pk),
        "name": f"{collection}:v{row['version_index']}",
        "versionIndex": row["version_index"],
        "digest": row["digest"],
        "digestAlgorithm": "MANIFEST_MD5",
        "commitHash": (row["digest"] or "")[:20] or None,
        "state": row["state"],
        "description": row["description"],
        "metadata": row["metadata"] or "{}",
        "ttlDurationSeconds": -1,
        "ttlIsInherited": True,
        "tags": [],
        "historyStep": row["history_step"],
        "size": entries["s"],
        "fileCount": entries["n"],
        "createdAt": _iso(row["created_at"]),
        "updatedAt": _iso(row["committed_at"] or row["created_at"]),
        "artifactType": _artifact_type_node(ctx, entity, project, row["type"]),
        "artifactSequence": seq,
        "artifactCollection": seq,
        "aliases": aliases,
        "files": files,
        "filesByManifestEntries": lambda a: _files_by_entries(ctx, pk, a),
        "currentManifest": {
            "id": gid("ArtifactManifest", pk),
            "file": {"id": gid("File", f"manifest-{pk}"), "directUrl": manifest_url, "url": manifest_url},
        },
        "createdBy": lambda _: _created_by(ctx, row),
        "usedBy": lambda a: _connection([], a),
        "labels": None,
    }


def _created_by(ctx: OpContext, row: Any) -> Node | None:
    run = ctx.store.run_by_pk(row["run_pk"]) if row["run_pk"] is not None else None
    return _run_node(ctx, run) if run is not None else None


# -- mutations -----------------------------------------------------------------------------------


def _upsert_bucket(ctx: OpContext, args: dict[str, Any]) -> Node:
    inp = args.get("input") or {}
    store = ctx.store
    run = store.run_by_storage_id(inp["id"]) if inp.get("id") else None
    entity = run["entity"] if run is not None else _entity(ctx, inp.get("entityName"))
    project = run["project"] if run is not None else _project_name(inp.get("modelName"))
    run_id = run["run_id"] if run is not None else str(inp.get("name") or "")
    if not run_id:
        raise GraphQLError("upsertBucket needs a run name or the id of an existing run")
    ctx.run_path = f"{entity}/{project}/{run_id}"
    public_client = ctx.user_agent.startswith("W&B Public Client") and "wandb-core" not in ctx.user_agent
    now = time.time()
    with store.tx():
        run = store.find_run(entity, project, run_id)
        created = run is None
        if run is None:
            run = store.create_run(entity, project, run_id, now)
        updates: dict[str, Any] = {"updated_at": now}
        for key, column in (
            ("displayName", "display_name"),
            ("jobType", "job_type"),
            ("groupName", "group_name"),
            ("notes", "notes"),
            ("host", "host"),
            ("jobProgram", "program"),
            ("sweep", "sweep"),
        ):
            if inp.get(key) is not None:
                updates[column] = inp[key]
        if inp.get("description") is not None:
            updates["notes"] = inp["description"]
        if inp.get("tags") is not None:
            updates["tags"] = json.dumps(inp["tags"])
        if inp.get("summaryMetrics") is not None:
            updates["summary"] = inp["summaryMetrics"]
        writer_id, client_host = None, inp.get("host")
        if inp.get("config") is not None:
            new_config = loads_or(inp["config"], None)
            if isinstance(new_config, dict):
                writer_id, client_host = _writer(new_config, loads_or(run["config"], {}), client_host)
                updates["config"] = inp["config"]
        store.update_run(run["pk"], **updates)
        run = store.run_by_pk(run["pk"])
        assert run is not None
        if not public_client:
            ctx.tracker.on_upsert(
                run,
                created=created,
                variables={
                    "id": inp.get("id"),
                    "host": inp.get("host"),
                    "program": inp.get("jobProgram"),
                    "jobType": inp.get("jobType"),
                    "displayName": inp.get("displayName"),
                    "groupName": inp.get("groupName"),
                    "notes": inp.get("notes"),
                    "repo": inp.get("jobRepo"),
                    "commit": inp.get("commit"),
                    "sweep": inp.get("sweep"),
                },
                peer=ctx.peer,
                user_agent=ctx.user_agent,
                writer_id=writer_id,
                client_host=client_host,
            )
    return {"bucket": _run_node(ctx, run), "inserted": created}


def _writer(config: dict[str, Any], old: Any, host: Any) -> tuple[str | None, str | None]:
    """The writer id this config adds under ``_wandb.value.e`` (one per client incarnation)."""

    def writers(cfg: Any) -> dict[str, Any]:
        wb = cfg.get("_wandb") if isinstance(cfg, dict) else None
        value = wb.get("value") if isinstance(wb, dict) else None
        e = value.get("e") if isinstance(value, dict) else None
        return e if isinstance(e, dict) else {}

    new = writers(config)
    fresh = [k for k in new if k not in writers(old)] or list(new)[-1:]
    if not fresh:
        return None, str(host) if host else None
    info = new[fresh[-1]]
    client_host = info.get("host") if isinstance(info, dict) else None
    return fresh[-1], str(client_host or host) if (client_host or host) else None


def _create_run_files(ctx: OpContext, args: dict[str, Any]) -> Node:
    inp = args.get("input") or {}
    entity, project = _entity(ctx, inp.get("entityName")), _project_name(inp.get("projectName"))
    run_id = str(inp.get("runName") or "")
    ctx.run_path = f"{entity}/{project}/{run_id}"
    run = ctx.store.find_run(entity, project, run_id)
    if run is None:
        raise GraphQLError(f"run {ctx.run_path} not found")
    session = ctx.tracker.attribute(run["pk"], ctx.peer)
    out = []
    for name in inp.get("files") or []:
        key = f"run/{run['pk']}/{urllib.parse.quote(str(name))}"
        ctx.store.add_upload_target(key, "run_file", run_pk=run["pk"], name=str(name))
        ctx.store.request_run_file(run["pk"], str(name), key, session)
        out.append({"name": name, "uploadUrl": f"{ctx.base_url}/upload/{key}", "url": None})
    return {"runID": gid("Run", "v1", run_id, project, entity), "uploadHeaders": [], "files": out}


def _create_artifact(ctx: OpContext, args: dict[str, Any]) -> Node:
    inp = args.get("input") or {}
    store = ctx.store
    entity, project = _entity(ctx, inp.get("entityName")), _project_name(inp.get("projectName"))
    names = inp.get("artifactCollectionNames") or []
    collection = str(inp.get("artifactCollectionName") or (names[0] if names else ""))
    if not collection:
        raise GraphQLError("createArtifact needs artifactCollectionName")
    digest = str(inp.get("digest") or "")
    aliases = [
        str(a.get("alias")) for a in inp.get("aliases") or [] if isinstance(a, dict) and a.get("alias")
    ]
    run = store.find_run(entity, project, str(inp["runName"])) if inp.get("runName") else None
    if run is not None:
        ctx.run_path = f"{entity}/{project}/{run['run_id']}"
    session = ctx.tracker.attribute(run["pk"], ctx.peer) if run is not None else None
    now = time.time()
    with store.tx() as db:
        existing = db.execute(
            "SELECT * FROM artifacts WHERE entity=? AND project=? AND collection=? AND digest=?"
            " AND state='COMMITTED' ORDER BY version_index LIMIT 1",
            (entity, project, collection, digest),
        ).fetchone()
        if existing is not None and inp.get("enableDigestDeduplication", True) is not False:
            store.set_aliases(existing["pk"], [*aliases, "latest"])
            return {"artifact": _artifact_node(ctx, existing)}
        version = db.execute(
            "SELECT COALESCE(MAX(version_index), -1) + 1 FROM artifacts"
            " WHERE entity=? AND project=? AND collection=?",
            (entity, project, collection),
        ).fetchone()[0]
        cur = db.execute(
            "INSERT INTO artifacts(entity, project, collection, type, version_index, digest, state,"
            " description,"
            " metadata, run_pk, session_pk, client_id, sequence_client_id, history_step, created_at,"
            " requested_aliases) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (
                entity,
                project,
                collection,
                str(inp.get("artifactTypeName") or ""),
                version,
                digest,
                "PENDING",
                inp.get("description"),
                inp.get("metadata"),
                run["pk"] if run is not None else None,
                session,
                inp.get("clientID"),
                inp.get("sequenceClientID"),
                inp.get("historyStep"),
                now,
                json.dumps(aliases),
            ),
        )
        row = store.artifact(int(cur.lastrowid or 0))
    assert row is not None
    node = _artifact_node(ctx, row)
    return {"artifact": node}


def _artifact_for(ctx: OpContext, artifact_id: Any) -> Any:
    row = ctx.store.artifact_by_gid(str(artifact_id) if artifact_id else None)
    if row is None:
        raise GraphQLError(f"artifact {artifact_id!r} not found")
    return row


def _manifest_payload(ctx: OpContext, row: Any) -> Node:
    key = f"artifact/{row['pk']}/wandb_manifest.json"
    ctx.store.add_upload_target(key, "manifest", artifact_pk=row["pk"], name="wandb_manifest.json")
    with ctx.store.tx() as db:
        db.execute("UPDATE artifacts SET manifest_key=? WHERE pk=?", (key, row["pk"]))
    url = f"{ctx.base_url}/upload/{key}"
    return {
        "artifactManifest": {
            "id": gid("ArtifactManifest", row["pk"]),
            "file": {
                "id": gid("File", key),
                "uploadUrl": url,
                "uploadHeaders": [],
                "directUrl": url,
                "url": url,
            },
        }
    }


def _create_artifact_manifest(ctx: OpContext, args: dict[str, Any]) -> Node:
    inp = args.get("input") or {}
    return _manifest_payload(ctx, _artifact_for(ctx, inp.get("artifactID")))


def _update_artifact_manifest(ctx: OpContext, args: dict[str, Any]) -> Node:
    inp = args.get("input") or {}
    parts = ungid(str(inp.get("artifactManifestID") or ""))
    row = ctx.store.artifact(int(parts[1])) if len(parts) == 2 and parts[1].isdigit() else None
    if row is None:
        raise GraphQLError(f"artifact manifest {inp.get('artifactManifestID')!r} not found")
    return _manifest_payload(ctx, row)


def _create_artifact_files(ctx: OpContext, args: dict[str, Any]) -> Node:
    inp = args.get("input") or {}
    edges: list[Node] = []
    with ctx.store.tx() as db:
        for spec in inp.get("artifactFiles") or []:
            row = _artifact_for(ctx, spec.get("artifactID"))
            ordinal = db.execute(
                "SELECT COUNT(*) FROM artifact_files WHERE artifact_pk=?", (row["pk"],)
            ).fetchone()[0]
            name = str(spec.get("name") or "")
            key = f"artifact/{row['pk']}/files/{ordinal}/{urllib.parse.quote(name)}"
            ctx.store.add_upload_target(key, "artifact_file", artifact_pk=row["pk"], name=name)
            db.execute(
                "INSERT INTO artifact_files(artifact_pk, ordinal, name, md5, upload_key) VALUES (?,?,?,?,?)",
                (row["pk"], ordinal, name, spec.get("md5"), key),
            )
            edges.append(
                {
                    "node": {
                        "id": gid("File", key),
                        "name": name,
                        "displayName": name,
                        "storagePath": f"wandb_artifacts/{row['pk']}/{ordinal}/{name}",
                        "uploadUrl": f"{ctx.base_url}/upload/{key}",
                        "uploadHeaders": [],
                        "uploadMultipartUrls": None,
                        "artifact": {"id": gid("Artifact", row["pk"])},
                    }
                }
            )
    return {"files": {"edges": edges}}


def _commit_artifact(ctx: OpContext, args: dict[str, Any]) -> Node:
    inp = args.get("input") or {}
    row = _artifact_for(ctx, inp.get("artifactID"))
    with ctx.store.tx() as db:
        db.execute(
            "UPDATE artifacts SET state='COMMITTED', committed_at=? WHERE pk=?", (time.time(), row["pk"])
        )
        requested = loads_or(row["requested_aliases"], [])
        ctx.store.set_aliases(row["pk"], [*[str(a) for a in requested], "latest"])
    fresh = ctx.store.artifact(row["pk"])
    return {"artifact": _artifact_node(ctx, fresh)}


def _use_artifact(ctx: OpContext, args: dict[str, Any]) -> Node:
    inp = args.get("input") or {}
    row = _artifact_for(ctx, inp.get("artifactID"))
    entity, project = _entity(ctx, inp.get("entityName")), _project_name(inp.get("projectName"))
    run = ctx.store.find_run(entity, project, str(inp.get("runName") or ""))
    if run is not None:
        ctx.run_path = f"{entity}/{project}/{run['run_id']}"
        session = ctx.tracker.attribute(run["pk"], ctx.peer)
        with ctx.store.tx() as db:
            db.execute(
                "INSERT INTO artifact_uses(artifact_pk, run_pk, session_pk, t) VALUES (?,?,?,?)",
                (row["pk"], run["pk"], session, time.time()),
            )
    return {"artifact": _artifact_node(ctx, row)}


def _link_artifact(ctx: OpContext, args: dict[str, Any]) -> Node:
    row = ctx.store.artifact_by_gid(str(args.get("artifactID") or args.get("artifactId") or ""))
    ctx.store.add_event("link_artifact", ctx.operation, {"args": args})
    return {"versionIndex": row["version_index"] if row is not None else 0}


def _update_artifact(ctx: OpContext, args: dict[str, Any]) -> Node:
    inp = args.get("input") or {}
    row = _artifact_for(ctx, inp.get("artifactID"))
    with ctx.store.tx() as db:
        if inp.get("metadata") is not None:
            db.execute("UPDATE artifacts SET metadata=? WHERE pk=?", (inp["metadata"], row["pk"]))
        if inp.get("description") is not None:
            db.execute("UPDATE artifacts SET description=? WHERE pk=?", (inp["description"], row["pk"]))
    fresh = ctx.store.artifact(row["pk"])
    return {"artifact": _artifact_node(ctx, fresh)}


def _success(_: OpContext, __: dict[str, Any]) -> Node:
    return {"success": True}


def _alert(ctx: OpContext, args: dict[str, Any]) -> Node:
    ctx.store.add_event("alert", ctx.operation, {"args": args})
    return {"success": True}


# -- introspection -------------------------------------------------------------------------------

INPUT_TYPES: dict[str, list[str]] = {
    "CreateArtifactInput": [
        "artifactTypeName",
        "artifactCollectionName",
        "artifactCollectionNames",
        "entityName",
        "projectName",
        "runName",
        "description",
        "digest",
        "digestAlgorithm",
        "labels",
        "aliases",
        "metadata",
        "historyStep",
        "enableDigestDeduplication",
        "distributedID",
        "clientID",
        "sequenceClientID",
        "ttlDurationSeconds",
        "tags",
        "storageRegion",
    ],
    "UpsertBucketInput": [
        "id",
        "name",
        "groupName",
        "modelName",
        "entityName",
        "description",
        "displayName",
        "notes",
        "config",
        "commit",
        "host",
        "debug",
        "jobProgram",
        "jobRepo",
        "jobType",
        "state",
        "sweep",
        "tags",
        "summaryMetrics",
    ],
    "CreateArtifactFileSpecInput": [
        "artifactID",
        "name",
        "md5",
        "mimetype",
        "artifactManifestID",
        "uploadPartsInput",
    ],
    "CreateArtifactFilesInput": ["artifactFiles", "storageLayout", "cloudRegionID"],
    "CreateArtifactManifestInput": [
        "artifactID",
        "baseArtifactID",
        "name",
        "digest",
        "entityName",
        "projectName",
        "runName",
        "type",
        "includeUpload",
    ],
    "UpdateArtifactManifestInput": ["artifactManifestID", "digest", "baseArtifactID"],
    "UseArtifactInput": [
        "entityName",
        "projectName",
        "runName",
        "artifactID",
        "usedAs",
        "artifactEntityName",
        "artifactProjectName",
    ],
    "LinkArtifactInput": [
        "artifactPortfolioName",
        "entityName",
        "projectName",
        "aliases",
        "artifactID",
        "clientID",
    ],
    "UpdateArtifactInput": [
        "artifactID",
        "description",
        "metadata",
        "aliases",
        "ttlDurationSeconds",
        "tagsToAdd",
        "tagsToDelete",
    ],
    "CommitArtifactInput": ["artifactID"],
    "DeleteFilesInput": ["files", "projectId"],
    "ArtifactAliasInput": ["artifactCollectionName", "alias"],
}

OBJECT_TYPES: dict[str, list[str]] = {
    "Run": [
        "id",
        "name",
        "displayName",
        "description",
        "notes",
        "config",
        "summaryMetrics",
        "systemMetrics",
        "sweepName",
        "group",
        "jobType",
        "commit",
        "tags",
        "readOnly",
        "state",
        "createdAt",
        "heartbeatAt",
        "projectId",
        "project",
        "user",
        "historyLineCount",
        "eventsLineCount",
        "logLineCount",
        "historyTail",
        "eventsTail",
        "wandbConfig",
        "history",
        "historyKeys",
        "sampledHistory",
        "files",
        "outputArtifacts",
        "inputArtifacts",
        "stopped",
    ],
    "Project": [
        "id",
        "internalId",
        "name",
        "entity",
        "entityName",
        "readOnly",
        "run",
        "runs",
        "runCount",
        "artifact",
        "artifactType",
        "artifactTypes",
        "artifactCollection",
        "bucket",
    ],
    "Artifact": [
        "id",
        "digest",
        "state",
        "versionIndex",
        "description",
        "metadata",
        "aliases",
        "artifactType",
        "artifactSequence",
        "artifactCollection",
        "fileCount",
        "size",
        "createdAt",
        "updatedAt",
        "files",
        "currentManifest",
        "historyStep",
        "ttlDurationSeconds",
        "ttlIsInherited",
        "tags",
        "commitHash",
    ],
    "ArtifactSequence": ["id", "name", "description", "project", "latestArtifact", "artifacts"],
    "ArtifactType": ["id", "name", "description", "createdAt", "artifactCollection", "artifactCollections"],
    "ArtifactAlias": ["id", "alias", "artifactCollectionName", "artifactCollection"],
    "Entity": ["id", "name", "isTeam", "organization", "projects"],
    "User": ["id", "name", "username", "email", "entity", "teams", "flags"],
    "ServerInfo": ["features", "cliVersionInfo", "latestLocalVersionInfo"],
    "File": ["id", "name", "url", "directUrl", "sizeBytes", "mimetype", "updatedAt", "md5"],
    "ServerSettings": [],
}
INPUT_TYPES["AddAliasesInput"] = ["artifactID", "aliases"]


def _type_info(ctx: OpContext, args: dict[str, Any]) -> Node | None:
    name = str(args.get("name") or "")
    if name in ("Query", "Mutation"):
        names = sorted(_query_root(ctx)) if name == "Query" else sorted(_MUTATIONS)
        return {
            "name": name,
            "kind": "OBJECT",
            "fields": [{"name": f, "args": []} for f in names],
            "inputFields": None,
        }
    if name in INPUT_TYPES:
        return {
            "name": name,
            "kind": "INPUT_OBJECT",
            "inputFields": [{"name": f, "type": None} for f in INPUT_TYPES[name]],
            "fields": None,
        }
    if name in OBJECT_TYPES:
        return {
            "name": name,
            "kind": "OBJECT",
            "fields": [{"name": f, "args": [], "type": None} for f in OBJECT_TYPES[name]],
            "inputFields": None,
        }
    ctx.store.add_event("unknown_type", ctx.operation, {"type": name})
    return None


# -- roots and the operation table -----------------------------------------------------------------


def _viewer(ctx: OpContext) -> Node:
    name = ctx.default_entity
    return {
        "__typename": "User",
        "id": gid("User", name),
        "name": name,
        "entity": name,
        "username": name,
        "email": f"{name}@localhost",
        "admin": False,
        "flags": "{}",
        "photoUrl": None,
        "defaultFramework": None,
        "apiKeys": {"edges": []},
        "teams": {"edges": [{"node": {"name": name}}]},
        "userInfo": None,
        "organizations": [],
    }


def _query_root(ctx: OpContext) -> Node:
    return {
        "viewer": _viewer(ctx),
        "serverInfo": {
            "features": [],
            "cliVersionInfo": {},
            "latestLocalVersionInfo": None,
            "availableBucketProviders": [],
            "frontendHost": ctx.base_url,
        },
        "entity": lambda a: _entity_node(ctx, _entity(ctx, a.get("name"))),
        "model": lambda a: _project_node(
            ctx, _entity(ctx, a.get("entityName")), _project_name(a.get("name"))
        ),
        "project": lambda a: _project_node(
            ctx, _entity(ctx, a.get("entityName")), _project_name(a.get("name"))
        ),
        "artifact": lambda a: _maybe_artifact(ctx, a.get("id")),
        "artifactCollection": None,
        "clientIDMapping": lambda a: _client_id_mapping(ctx, a.get("clientID")),
        "__type": lambda a: _type_info(ctx, a),
        "organization": None,
    }


def _maybe_artifact(ctx: OpContext, artifact_id: Any) -> Node | None:
    row = ctx.store.artifact_by_gid(str(artifact_id) if artifact_id else None)
    return _artifact_node(ctx, row) if row is not None else None


def _client_id_mapping(ctx: OpContext, client_id: Any) -> Node | None:
    row = ctx.store.q1(
        "SELECT pk FROM artifacts WHERE client_id=? OR sequence_client_id=? ORDER BY pk DESC LIMIT 1",
        (client_id, client_id),
    )
    return {"serverID": gid("Artifact", row["pk"])} if row is not None else None


_MUTATIONS: dict[str, Handler] = {
    "upsertBucket": _upsert_bucket,
    "createRunFiles": _create_run_files,
    "createArtifact": _create_artifact,
    "createArtifactManifest": _create_artifact_manifest,
    "updateArtifactManifest": _update_artifact_manifest,
    "createArtifactFiles": _create_artifact_files,
    "commitArtifact": _commit_artifact,
    "useArtifact": _use_artifact,
    "linkArtifact": _link_artifact,
    "updateArtifact": _update_artifact,
    "markRunFilesUploaded": _success,
    "stopRun": _success,
    "notifyScriptableRunAlert": _alert,
    "addAliases": _success,
    "deleteAliases": _success,
    "completeMultipartUploadArtifact": lambda ctx, a: {"digest": ""},
}


def _mutation_root(ctx: OpContext) -> Node:
    root: Node = {}
    for name, fn in _MUTATIONS.items():
        root[name] = _bind(ctx, fn)
    # Some mutations (LinkArtifact, RewindRun) also read query fields in the same request.
    root.update({k: v for k, v in _query_root(ctx).items() if k not in root})
    return root


def _bind(ctx: OpContext, fn: Handler) -> Callable[[dict[str, Any]], Node]:
    return lambda args: fn(ctx, args)


def _query(ctx: OpContext, variables: dict[str, Any]) -> Node:
    return _query_root(ctx)


def _mutation(ctx: OpContext, variables: dict[str, Any]) -> Node:
    return _mutation_root(ctx)


# Every operation name seen from wandb 0.19.11 .. 0.31.0 (wandb-core binaries and the Python public API).
_QUERIES = (
    "Viewer",
    "ServerFeaturesQuery",
    "ServerInfo",
    "OrganizationCoreWeaveOrganizationID",
    "RunResumeStatus",
    "RunStoppedStatus",
    "InputFields",
    "TypeFields",
    "RunState",
    "QueryRunInfo",
    "HistoryPage",
    "SampledHistoryPage",
    "RunParquetHistory",
    "RunConsoleLogPage",
    "RunConsoleLogTail",
    "ClientIDMapping",
    "ArtifactManifest",
    "ArtifactFileURLs",
    "ArtifactFileURLsByManifestEntries",
    "FetchArtifactDigestAlgorithm",
    "XXHashDigestsEnabled",
    "FetchOrgEntityFromEntity",
    "OrgFeatureFlags",
    "ArtifactType",
    "ArtifactByID",
    "ArtifactByName",
    "ProjectArtifactType",
    "RunOutputArtifacts",
    "RunInputArtifacts",
    "Run",
    "Runs",
    "RunHistoryKeys",
    "RunSampledHistory",
    "RunFullHistory",
    "RunFiles",
    "Project",
    "Projects",
    "ProbeServerSettings",
    "ProbeRunType",
    "ProbeProjectInfo",
    "ProbeServerUseArtifactInput",
    "ProbeServerLinkArtifactInput",
    "EntityInfo",
    "ServerFeatures",
    "FetchOrgInfoFromEntity",
    "ArtifactCreatedBy",
    "ArtifactUsedBy",
    "ProjectArtifactCollection",
    "ProjectArtifacts",
    "ArtifactMembershipByName",
    "ArtifactMembershipFiles",
    "GetArtifactMembershipFileUrls",
    "FetchArtifactManifest",
    "ArtifactCollectionAliases",
    "ProjectArtifactCollections",
    "ProjectArtifactTypes",
    "ArtifactTypeArtifactCollections",
    "ArtifactByIDShort",
    "ArtifactCollectionMembershipFiles",
    "ArtifactCollectionMembershipFileURLs",
    "ArtifactVersionFiles",
    "ArtifactOfType",
    "RunInfo",
    "RunFiles",
    "RunDownloadUrl",
    "RunDownloadUrls",
    "ProjectRuns",
    "ProjectID",
    "Entity",
    "EntityIsTeam",
    "ProbeRunInput",
    "ProbeServerAddAliasesInput",
    "ProbeServerCapabilities",
    "ProbeServerArtifact",
    "ProbeServerCreateArtifactInput",
    "ProbeServerCreateArtifactFileSpecInput",
    "ProbeServerOrganization",
    "ProbeDeleteFilesProjectIdInput",
    "ProbeServerSettings",
    "ProbeServerProjectInfo",
    "ProbeServerUseArtifactInput",
    "GetDefaultEntity",
    "GetViewer",
    "GetProject",
    "IsProjectReadOnly",
    "ProjectDetails",
    "RunConfigs",
    "RunUploadUrls",
    "ArtifactFileURLs",
    "FetchLinkedArtifacts",
    "GetTeamEntity",
)
_MUTATION_NAMES = (
    "UpsertBucket",
    "CreateRunFiles",
    "CreateArtifact",
    "CreateArtifactManifest",
    "UpdateArtifactManifest",
    "CreateArtifactFiles",
    "CommitArtifact",
    "UseArtifact",
    "LinkArtifact",
    "UpdateArtifact",
    "MarkRunFilesUploaded",
    "StopRun",
    "NotifyScriptableRunAlert",
    "CompleteMultipartUploadArtifact",
    "AddAliases",
    "DeleteAliases",
)

OPERATIONS: dict[str, Handler] = {
    **{name: _query for name in _QUERIES},
    **{name: _mutation for name in _MUTATION_NAMES},
}
