"""The W&B object graph the queries walk: Entity, Project, Run, Artifact, ArtifactType, ArtifactSequence
and collection memberships, as nodes built from the store's rows.

They link to each other both ways (a project lists its runs and artifacts, an artifact names the run that
created it and its sequence's project), so they live in one module; the reads behind their fields live in
``lookups``, ``files`` and ``run_history``. Fields that cost a query are callables, evaluated only when
the client selects them.
"""

from __future__ import annotations

import time
from typing import Any

from ..encoding import gid, loads_or
from ..run_records import run_state
from ..store import EVENTS, HISTORY, OUTPUT
from .context import Node, OpContext, connection, iso
from .files import artifact_files, file_node, files_by_entries
from .lookups import artifact_by_name, filter_runs, project_internal_id, project_names
from .run_history import history_keys, history_lines, stream_tail, wandb_config
from .sweep_nodes import project_sweep_fields

__all__ = [
    "artifact_node",
    "artifact_type_node",
    "entity_node",
    "membership_by_name",
    "project_node",
    "run_node",
    "sequence_node",
]


def entity_node(ctx: OpContext, name: str) -> Node:
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
        "projects": lambda a: connection([project_node(ctx, name, p) for p in project_names(ctx, name)], a),
    }


def project_node(ctx: OpContext, entity: str, project: str) -> Node:
    """A project: its runs (``bucket`` also notes a ``RunResumeStatus`` probe for the session tracker), its
    artifacts, artifact types and collections."""

    def bucket(args: dict[str, Any]) -> Node | None:
        run = ctx.store.find_run(entity, project, str(args.get("name")))
        if ctx.operation == "RunResumeStatus":
            ctx.tracker.note_probe(entity, project, str(args.get("name")), run is not None)
            ctx.run_path = f"{entity}/{project}/{args.get('name')}"
        return run_node(ctx, run) if run is not None else None

    def run(args: dict[str, Any]) -> Node | None:
        row = ctx.store.find_run(entity, project, str(args.get("name")))
        return run_node(ctx, row) if row is not None else None

    def runs(args: dict[str, Any]) -> Node:
        rows = ctx.store.runs_in(entity, project)
        rows = filter_runs(rows, args.get("filters"))
        if str(args.get("order") or "").lstrip("+-") in ("created_at", "createdAt"):
            rows = sorted(rows, key=lambda r: r["created_at"], reverse=str(args.get("order")).startswith("-"))
        else:
            rows = sorted(rows, key=lambda r: r["created_at"], reverse=True)
        return connection([run_node(ctx, r) for r in rows], args)

    def artifact(args: dict[str, Any]) -> Node | None:
        row = artifact_by_name(ctx, entity, project, str(args.get("name") or ""))
        return artifact_node(ctx, row) if row is not None else None

    def artifact_type(args: dict[str, Any]) -> Node | None:
        name = str(args.get("name") or "")
        found = ctx.store.q1("SELECT 1 FROM artifacts WHERE entity=? AND project=? AND type=?", (entity, project, name))
        return artifact_type_node(ctx, entity, project, name) if found else None

    def artifact_types(args: dict[str, Any]) -> Node:
        rows = ctx.store.q(
            "SELECT DISTINCT type FROM artifacts WHERE entity=? AND project=? ORDER BY type",
            (entity, project),
        )
        return connection([artifact_type_node(ctx, entity, project, r["type"]) for r in rows], args)

    def collection(args: dict[str, Any]) -> Node | None:
        name = str(args.get("name") or "")
        found = ctx.store.q1(
            "SELECT 1 FROM artifacts WHERE entity=? AND project=? AND collection=?", (entity, project, name)
        )
        return sequence_node(ctx, entity, project, name) if found else None

    internal = project_internal_id(entity, project)
    return {
        "__typename": "Project",
        "id": gid("Project", "v1", project, entity),
        "internalId": str(internal),
        "name": project,
        "entityName": entity,
        "entity": entity_node(ctx, entity),
        "readOnly": False,
        "access": "PRIVATE",
        "bucket": bucket,
        "run": run,
        "runs": runs,
        "runCount": lambda a: len(filter_runs(ctx.store.runs_in(entity, project), a.get("filters"))),
        "artifact": artifact,
        "artifactType": artifact_type,
        "artifactTypes": artifact_types,
        "artifactCollection": collection,
        "artifactSequence": collection,
        "artifactCollectionMembership": lambda a: membership_by_name(ctx, entity, project, str(a.get("name") or "")),
        "createdAt": iso(time.time()),
        "isBenchmark": False,
        "views": "{}",
        **project_sweep_fields(ctx, entity, project),
    }


def run_node(ctx: OpContext, run: Any) -> Node:
    """A run as a resuming SDK (tails, ``wandbConfig``) and ``wandb.Api`` (history, files, artifacts) read it."""
    pk = run["pk"]
    entity, project, run_id = run["entity"], run["project"], run["run_id"]
    store = ctx.store
    config_text = run["config"] or "{}"

    def history(args: dict[str, Any]) -> list[str]:
        return history_lines(store, pk, args)

    def files(args: dict[str, Any]) -> Node:
        names = args.get("names")
        rows = [f for f in store.run_files(pk) if f["uploaded"] and (not names or f["name"] in names)]
        return connection([file_node(ctx, f["name"], f["upload_key"], f["size"]) for f in rows], args)

    def sessions_last_seen() -> float | None:
        sessions = store.sessions_of(pk)
        last: float | None = sessions[-1]["last_seen"] if sessions else run["updated_at"]
        return last

    def artifacts_out(args: dict[str, Any]) -> Node:
        rows = store.q("SELECT * FROM artifacts WHERE run_pk=? ORDER BY pk", (pk,))
        return connection([artifact_node(ctx, r) for r in rows], args)

    def artifacts_in(args: dict[str, Any]) -> Node:
        rows = store.q(
            "SELECT DISTINCT a.* FROM artifact_uses u JOIN artifacts a ON a.pk=u.artifact_pk WHERE u.run_pk=?"
            " ORDER BY a.pk",
            (pk,),
        )
        return connection([artifact_node(ctx, r) for r in rows], args)

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
        "createdAt": iso(run["created_at"]),
        "heartbeatAt": lambda _: iso(sessions_last_seen()),
        "updatedAt": iso(run["updated_at"]),
        "projectId": project_internal_id(entity, project),
        "project": lambda _: project_node(ctx, entity, project),
        "user": {
            "__typename": "User",
            "id": gid("User", ctx.default_entity),
            "name": ctx.default_entity,
            "username": ctx.default_entity,
        },
        "historyLineCount": lambda _: store.line_count(pk, HISTORY),
        "eventsLineCount": lambda _: store.line_count(pk, EVENTS),
        "logLineCount": lambda _: store.line_count(pk, OUTPUT),
        "historyTail": lambda _: stream_tail(store, pk, HISTORY),
        "eventsTail": lambda _: stream_tail(store, pk, EVENTS),
        "wandbConfig": lambda a: wandb_config(config_text, a),
        "history": history,
        "historyKeys": lambda _: history_keys(store, pk),
        "sampledHistory": lambda a: [[loads_or(h, {}) for h in history({})]],
        "parquetHistory": lambda a: {"parquetUrls": [], "liveData": [loads_or(h, {}) for h in history({})]},
        "fileCount": lambda _: sum(1 for f in store.run_files(pk) if f["uploaded"]),
        "files": files,
        "outputArtifacts": artifacts_out,
        "inputArtifacts": artifacts_in,
        "runInfo": None,
        "servicesAvailable": None,
    }


def artifact_type_node(ctx: OpContext, entity: str, project: str, name: str) -> Node:
    def collections(args: dict[str, Any]) -> Node:
        rows = ctx.store.q(
            "SELECT DISTINCT collection FROM artifacts WHERE entity=? AND project=? AND type=? ORDER BY collection",
            (entity, project, name),
        )
        return connection([sequence_node(ctx, entity, project, r["collection"]) for r in rows], args)

    return {
        "__typename": "ArtifactType",
        "id": gid("ArtifactType", entity, project, name),
        "name": name,
        "description": None,
        "createdAt": iso(time.time()),
        "artifactCollection": lambda a: sequence_node(ctx, entity, project, str(a.get("name"))),
        "artifactSequence": lambda a: sequence_node(ctx, entity, project, str(a.get("name"))),
        "artifactCollections": collections,
        "artifactSequences": collections,
    }


def sequence_node(ctx: OpContext, entity: str, project: str, name: str) -> Node:
    """An artifact collection (``ArtifactSequence``): its versions, newest first, and the latest committed one."""

    def latest(_: dict[str, Any]) -> Node | None:
        row = ctx.store.q1(
            "SELECT * FROM artifacts WHERE entity=? AND project=? AND collection=? AND state='COMMITTED'"
            " ORDER BY version_index DESC LIMIT 1",
            (entity, project, name),
        )
        return artifact_node(ctx, row) if row is not None else None

    def versions(args: dict[str, Any]) -> Node:
        rows = ctx.store.q(
            "SELECT * FROM artifacts WHERE entity=? AND project=? AND collection=? ORDER BY version_index DESC",
            (entity, project, name),
        )
        return connection([artifact_node(ctx, r) for r in rows], args)

    return {
        "__typename": "ArtifactSequence",
        "id": gid("ArtifactCollection", entity, project, name),
        "name": name,
        "description": None,
        "project": lambda _: project_node(ctx, entity, project),
        "latestArtifact": latest,
        "artifactMembership": lambda a: membership_by_name(ctx, entity, project, f"{name}:{a.get('aliasName')}"),
        "artifacts": versions,
        "digestAlgorithm": "MANIFEST_MD5",
        "createdAt": iso(time.time()),
    }


def membership_by_name(ctx: OpContext, entity: str, project: str, name: str) -> Node | None:
    row = artifact_by_name(ctx, entity, project, name)
    if row is None:
        return None
    node = artifact_node(ctx, row)
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


def artifact_node(ctx: OpContext, row: Any) -> Node:
    """An artifact version: files with download URLs, its manifest, aliases, and the run that created it."""
    pk = row["pk"]
    entity, project, collection = row["entity"], row["project"], row["collection"]
    seq = sequence_node(ctx, entity, project, collection)

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
        nodes = [n for n in artifact_files(ctx, pk) if not names or n["name"] in names]
        return connection(nodes, args)

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
        "createdAt": iso(row["created_at"]),
        "updatedAt": iso(row["committed_at"] or row["created_at"]),
        "artifactType": artifact_type_node(ctx, entity, project, row["type"]),
        "artifactSequence": seq,
        "artifactCollection": seq,
        "aliases": aliases,
        "files": files,
        "filesByManifestEntries": lambda a: files_by_entries(ctx, pk, a),
        "currentManifest": {
            "id": gid("ArtifactManifest", pk),
            "file": {"id": gid("File", f"manifest-{pk}"), "directUrl": manifest_url, "url": manifest_url},
        },
        "createdBy": lambda _: _created_by(ctx, row),
        "usedBy": lambda a: connection([], a),
        "labels": None,
    }


def _created_by(ctx: OpContext, row: Any) -> Node | None:
    run = ctx.store.run_by_pk(row["run_pk"]) if row["run_pk"] is not None else None
    return run_node(ctx, run) if run is not None else None
