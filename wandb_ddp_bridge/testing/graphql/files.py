"""``File`` nodes: a run's uploaded files and an artifact's stored files, with this server's download URLs.

Every URL points back at this server's ``/upload/<key>``, where the content was uploaded, so the SDK's
downloads (``run.file(...).download()``, ``artifact.download()``) read what was recorded.
"""

from __future__ import annotations

import time
from typing import Any

from ..encoding import gid
from .context import Node, OpContext, connection, iso

__all__ = ["artifact_files", "file_node", "files_by_entries"]


def file_node(ctx: OpContext, name: str, key: str | None, size: int | None) -> Node:
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
        "updatedAt": iso(time.time()),
        "md5": None,
        "digest": None,
    }


def artifact_files(ctx: OpContext, artifact_pk: int) -> list[Node]:
    rows = ctx.store.q(
        "SELECT f.name, f.md5, f.upload_key, f.ordinal, LENGTH(u.content) AS size FROM artifact_files f"
        " LEFT JOIN uploads u ON u.key=f.upload_key WHERE f.artifact_pk=? ORDER BY f.ordinal",
        (artifact_pk,),
    )
    nodes = []
    for f in rows:
        node = file_node(ctx, f["name"], f["upload_key"], f["size"])
        node.update(
            md5=f["md5"],
            digest=f["md5"],
            storagePath=f"wandb_artifacts/{artifact_pk}/{f['ordinal']}/{f['name']}",
        )
        nodes.append(node)
    return nodes


def files_by_entries(ctx: OpContext, artifact_pk: int, args: dict[str, Any]) -> Node:
    """Download URLs for manifest entries, looked up in the entry's birth artifact when it names one."""
    nodes = []
    for entry in args.get("entries") or []:
        name = str(entry.get("name") or "")
        birth = ctx.store.artifact_by_gid(entry.get("birthArtifactID")) if entry.get("birthArtifactID") else None
        pk = birth["pk"] if birth is not None else artifact_pk
        match = [n for n in artifact_files(ctx, pk) if n["name"] == name]
        nodes.append(match[-1] if match else {"name": name, "directUrl": None, "url": None})
    return connection(nodes, {})
