"""``__type`` answers: the fields of the roots and of the input and object types the SDK probes.

Newer clients ask the server which fields an input or object type has (``ProbeServerCreateArtifactInput``,
``InputFields``, ``TypeFields``...) and send only those, so these tables say what this server accepts.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .context import Node, OpContext

__all__ = ["INPUT_TYPES", "OBJECT_TYPES", "type_info"]


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
    "AddAliasesInput": ["artifactID", "aliases"],
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


def type_info(ctx: OpContext, args: dict[str, Any], root_fields: Callable[[str], list[str]]) -> Node | None:
    """``__type(name:)``: the fields of ``Query`` or ``Mutation`` (``root_fields`` names them, from the roots in
    ``operations``), of a known input or object type, or ``None`` (recorded as an event) for any other type."""
    name = str(args.get("name") or "")
    if name in ("Query", "Mutation"):
        names = root_fields(name)
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
