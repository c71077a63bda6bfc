"""The operations the wandb SDK (0.19.11 .. 0.31.0) and its public API send, and the roots that answer them.

``OPERATIONS`` maps every known operation name to a handler that returns the data tree for it; the
tree is shaped by the query text (see ``execution.execute``), so each client version gets the fields it
asked for. A name that is not in ``OPERATIONS`` is answered with HTTP 400 by the server.
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
    link_artifact,
    update_artifact,
    update_artifact_manifest,
    use_artifact,
)
from .context import Handler, Node, OpContext, entity_name, project_name
from .introspection import type_info
from .nodes import artifact_node, entity_node, project_node
from .run_mutations import create_run_files, notify_run_alert, upsert_bucket

__all__ = ["OPERATIONS"]


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
        "__type": lambda a: type_info(ctx, a, lambda root: _root_fields(ctx, root)),
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
}


def _root_fields(ctx: OpContext, root: str) -> list[str]:
    """The field names of ``Query`` or ``Mutation``, for ``__type``."""
    return sorted(_query_root(ctx)) if root == "Query" else sorted(_MUTATIONS)


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
