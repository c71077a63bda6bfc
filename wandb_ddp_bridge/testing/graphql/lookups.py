"""Finding what a field names: an entity's projects, a project's numeric id, runs by filter, and an
artifact by ``collection:vN`` or ``collection:alias``.
"""

from __future__ import annotations

import hashlib
from typing import Any

from ..encoding import loads_or
from .context import OpContext

__all__ = ["artifact_by_name", "filter_runs", "project_internal_id", "project_names"]


def project_names(ctx: OpContext, entity: str) -> list[str]:
    rows = ctx.store.q(
        "SELECT project FROM runs WHERE entity=? UNION SELECT project FROM artifacts WHERE entity=? ORDER BY 1",
        (entity, entity),
    )
    return [r["project"] for r in rows]


def project_internal_id(entity: str, project: str) -> int:
    return int(hashlib.md5(f"{entity}/{project}".encode()).hexdigest()[:7], 16)


def filter_runs(rows: list[Any], filters: Any) -> list[Any]:
    """Support the filter shapes tests and ``wandb.Api`` commonly pass: ``{"name": id}``, ``{"name": {"$in":
    ids}}``, a sweep's runs ``{"sweep": name}`` (also inside ``{"$and": [...]}``)."""
    spec = loads_or(filters, {}) if isinstance(filters, str) else (filters or {})
    if not isinstance(spec, dict) or not spec:
        return rows
    for part in spec.get("$and") or []:
        rows = filter_runs(rows, part)
    if isinstance(spec.get("sweep"), str):
        rows = [r for r in rows if r["sweep"] == spec["sweep"]]
    names = spec.get("name")
    if isinstance(names, str):
        rows = [r for r in rows if r["run_id"] == names]
    elif isinstance(names, dict) and isinstance(names.get("$in"), list):
        rows = [r for r in rows if r["run_id"] in names["$in"]]
    return rows


def artifact_by_name(ctx: OpContext, entity: str, project: str, name: str) -> Any:
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
