"""Mutations on artifacts, in the order the SDK logs one: ``createArtifact`` (a new version, or the
committed one with the same digest), ``createArtifactManifest``/``updateArtifactManifest`` and
``createArtifactFiles`` (upload URLs), ``commitArtifact`` (aliases move to it), then ``useArtifact``,
``linkArtifact`` and ``updateArtifact``.

Each artifact keeps the run and writer session that logged it, and each use the session that used it.
"""

from __future__ import annotations

import json
import time
import urllib.parse
from typing import Any

from ..encoding import gid, loads_or, ungid
from .context import Node, OpContext, ResolverError, entity_name, project_name
from .nodes import artifact_node

__all__ = [
    "commit_artifact",
    "create_artifact",
    "create_artifact_files",
    "create_artifact_manifest",
    "delete_artifact",
    "link_artifact",
    "update_artifact",
    "update_artifact_manifest",
    "use_artifact",
]


def create_artifact(ctx: OpContext, args: dict[str, Any]) -> Node:
    inp = args.get("input") or {}
    store = ctx.store
    entity, project = entity_name(ctx, inp.get("entityName")), project_name(inp.get("projectName"))
    names = inp.get("artifactCollectionNames") or []
    collection = str(inp.get("artifactCollectionName") or (names[0] if names else ""))
    if not collection:
        raise ResolverError("createArtifact needs artifactCollectionName")
    digest = str(inp.get("digest") or "")
    aliases = [str(a.get("alias")) for a in inp.get("aliases") or [] if isinstance(a, dict) and a.get("alias")]
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
            return {"artifact": artifact_node(ctx, existing)}
        version = db.execute(
            "SELECT COALESCE(MAX(version_index), -1) + 1 FROM artifacts WHERE entity=? AND project=? AND collection=?",
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
    node = artifact_node(ctx, row)
    return {"artifact": node}


def _artifact_for(ctx: OpContext, artifact_id: Any) -> Any:
    row = ctx.store.artifact_by_gid(str(artifact_id) if artifact_id else None)
    if row is None:
        raise ResolverError(f"artifact {artifact_id!r} not found")
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


def create_artifact_manifest(ctx: OpContext, args: dict[str, Any]) -> Node:
    inp = args.get("input") or {}
    return _manifest_payload(ctx, _artifact_for(ctx, inp.get("artifactID")))


def update_artifact_manifest(ctx: OpContext, args: dict[str, Any]) -> Node:
    inp = args.get("input") or {}
    parts = ungid(str(inp.get("artifactManifestID") or ""))
    row = ctx.store.artifact(int(parts[1])) if len(parts) == 2 and parts[1].isdigit() else None
    if row is None:
        raise ResolverError(f"artifact manifest {inp.get('artifactManifestID')!r} not found")
    return _manifest_payload(ctx, row)


def create_artifact_files(ctx: OpContext, args: dict[str, Any]) -> Node:
    inp = args.get("input") or {}
    edges: list[Node] = []
    with ctx.store.tx() as db:
        for spec in inp.get("artifactFiles") or []:
            row = _artifact_for(ctx, spec.get("artifactID"))
            ordinal = db.execute("SELECT COUNT(*) FROM artifact_files WHERE artifact_pk=?", (row["pk"],)).fetchone()[0]
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


def commit_artifact(ctx: OpContext, args: dict[str, Any]) -> Node:
    inp = args.get("input") or {}
    row = _artifact_for(ctx, inp.get("artifactID"))
    with ctx.store.tx() as db:
        db.execute("UPDATE artifacts SET state='COMMITTED', committed_at=? WHERE pk=?", (time.time(), row["pk"]))
        requested = loads_or(row["requested_aliases"], [])
        ctx.store.set_aliases(row["pk"], [*[str(a) for a in requested], "latest"])
    fresh = ctx.store.artifact(row["pk"])
    return {"artifact": artifact_node(ctx, fresh)}


def use_artifact(ctx: OpContext, args: dict[str, Any]) -> Node:
    inp = args.get("input") or {}
    row = _artifact_for(ctx, inp.get("artifactID"))
    entity, project = entity_name(ctx, inp.get("entityName")), project_name(inp.get("projectName"))
    run = ctx.store.find_run(entity, project, str(inp.get("runName") or ""))
    if run is not None:
        ctx.run_path = f"{entity}/{project}/{run['run_id']}"
        session = ctx.tracker.attribute(run["pk"], ctx.peer)
        with ctx.store.tx() as db:
            db.execute(
                "INSERT INTO artifact_uses(artifact_pk, run_pk, session_pk, t) VALUES (?,?,?,?)",
                (row["pk"], run["pk"], session, time.time()),
            )
    return {"artifact": artifact_node(ctx, row)}


def link_artifact(ctx: OpContext, args: dict[str, Any]) -> Node:
    inp = args.get("input") or {}
    row = ctx.store.artifact_by_gid(str(inp.get("artifactID") or ""))
    ctx.store.add_event("link_artifact", ctx.operation, {"args": args})
    return {"versionIndex": row["version_index"] if row is not None else 0}


def update_artifact(ctx: OpContext, args: dict[str, Any]) -> Node:
    inp = args.get("input") or {}
    row = _artifact_for(ctx, inp.get("artifactID"))
    with ctx.store.tx() as db:
        if inp.get("metadata") is not None:
            db.execute("UPDATE artifacts SET metadata=? WHERE pk=?", (inp["metadata"], row["pk"]))
        if inp.get("description") is not None:
            db.execute("UPDATE artifacts SET description=? WHERE pk=?", (inp["description"], row["pk"]))
    fresh = ctx.store.artifact(row["pk"])
    return {"artifact": artifact_node(ctx, fresh)}


def delete_artifact(ctx: OpContext, args: dict[str, Any]) -> Node:
    """Remove one version with its files and uses, as W&B does: refused while it has aliases, unless
    ``deleteAliases`` (``latest`` then names no version until the next one is committed)."""
    inp = args.get("input") or {}
    row = _artifact_for(ctx, inp.get("artifactID"))
    aliases = ctx.store.artifact_aliases(row["pk"])
    if aliases and not inp.get("deleteAliases"):
        raise ResolverError(
            f"cannot delete artifact {row['collection']}:v{row['version_index']}: it has aliases {aliases}; "
            "pass deleteAliases"
        )
    with ctx.store.tx() as db:
        for table in ("aliases", "artifact_files", "artifact_entries", "artifact_uses"):
            db.execute(f"DELETE FROM {table} WHERE artifact_pk=?", (row["pk"],))  # table names fixed above
        db.execute("DELETE FROM artifacts WHERE pk=?", (row["pk"],))
    ctx.store.add_event("delete_artifact", ctx.operation, {"artifact": row["pk"]})
    return {"artifact": {"id": gid("Artifact", row["pk"])}}
