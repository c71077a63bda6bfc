"""The root node that answers the ``Query`` and ``Mutation`` fields of ``schema.graphql``.

``root(ctx)`` binds every root field to its resolver for one request: queries walk the object graph in
``nodes``, mutations write through ``run_mutations`` and ``artifact_mutations``. graphql-core validates the
request against the schema first and picks the fields the client selected, so each client version gets
exactly the fields it asked for.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..encoding import gid
from .artifact_mutations import (
    commit_artifact,
    create_artifact,
    create_artifact_files,
    create_artifact_manifest,
    delete_artifact,
    link_artifact,
    update_artifact,
    update_artifact_manifest,
    use_artifact,
)
from .context import Handler, Node, OpContext, entity_name, project_name
from .nodes import artifact_node, entity_node, project_node
from .run_mutations import create_run_files, delete_run, notify_run_alert, upsert_bucket
from .sweeps import agent_heartbeat, create_agent, upsert_sweep

__all__ = ["root"]


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
        "entity": lambda a: entity_node(ctx, entity_name(ctx, a.get("name"))),
        "model": lambda a: project_node(ctx, entity_name(ctx, a.get("entityName")), project_name(a.get("name"))),
        "project": lambda a: project_node(ctx, entity_name(ctx, a.get("entityName")), project_name(a.get("name"))),
        "artifact": lambda a: _maybe_artifact(ctx, a.get("id")),
        "artifactCollection": None,
        "clientIDMapping": lambda a: _client_id_mapping(ctx, a.get("clientID")),
        "organization": None,
    }


def _maybe_artifact(ctx: OpContext, artifact_id: Any) -> Node | None:
    row = ctx.store.artifact_by_gid(str(artifact_id) if artifact_id else None)
    return artifact_node(ctx, row) if row is not None else None


def _client_id_mapping(ctx: OpContext, client_id: Any) -> Node | None:
    row = ctx.store.q1(
        "SELECT pk FROM artifacts WHERE client_id=? OR sequence_client_id=? ORDER BY pk DESC LIMIT 1",
        (client_id, client_id),
    )
    return {"serverID": gid("Artifact", row["pk"])} if row is not None else None


def _success(_: OpContext, __: dict[str, Any]) -> Node:
    """A mutation whose effect this server does not keep: answered as done."""
    return {"success": True}


_MUTATIONS: dict[str, Handler] = {
    "upsertBucket": upsert_bucket,
    "createRunFiles": create_run_files,
    "createArtifact": create_artifact,
    "createArtifactManifest": create_artifact_manifest,
    "updateArtifactManifest": update_artifact_manifest,
    "createArtifactFiles": create_artifact_files,
    "commitArtifact": commit_artifact,
    "useArtifact": use_artifact,
    "linkArtifact": link_artifact,
    "updateArtifact": update_artifact,
    "markRunFilesUploaded": _success,
    "stopRun": _success,
    "notifyScriptableRunAlert": notify_run_alert,
    "addAliases": _success,
    "deleteAliases": _success,
    "completeMultipartUploadArtifact": lambda ctx, a: {"digest": ""},
    "deleteArtifact": delete_artifact,
    "deleteRun": delete_run,
    "upsertSweep": upsert_sweep,
    "createAgent": create_agent,
    "agentHeartbeat": agent_heartbeat,
}


def root(ctx: OpContext) -> Node:
    """The node both root types read: the ``Query`` fields, and the ``Mutation`` fields bound to ``ctx``."""
    node = _query_root(ctx)
    for name, fn in _MUTATIONS.items():
        node[name] = _bind(ctx, fn)
    return node


def _bind(ctx: OpContext, fn: Handler) -> Callable[[dict[str, Any]], Node]:
    return lambda args: fn(ctx, args)
