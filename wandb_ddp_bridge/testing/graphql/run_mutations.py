"""Mutations on runs: ``upsertBucket`` (create, resume or update a run; opens writer sessions),
``createRunFiles`` (upload URLs for a run's files), ``notifyScriptableRunAlert`` (recorded as an event) and
``deleteRun`` (the run and what it wrote are gone; artifacts it logged stay, as on W&B).

``upsertBucket`` is where a client incarnation shows itself: the session tracker decides from it whether a
new writer session starts, and ``_writer`` picks the writer id that incarnation added to the config.
"""

from __future__ import annotations

import json
import time
import urllib.parse
from typing import Any

from ..encoding import gid, loads_or
from .context import Node, OpContext, ResolverError, entity_name, project_name
from .nodes import run_node

__all__ = ["create_run_files", "delete_run", "notify_run_alert", "upsert_bucket"]


def upsert_bucket(ctx: OpContext, args: dict[str, Any]) -> Node:
    inp = args.get("input") or {}
    store = ctx.store
    run = store.run_by_storage_id(inp["id"]) if inp.get("id") else None
    entity = run["entity"] if run is not None else entity_name(ctx, inp.get("entityName"))
    project = run["project"] if run is not None else project_name(inp.get("modelName"))
    run_id = run["run_id"] if run is not None else str(inp.get("name") or "")
    if not run_id:
        raise ResolverError("upsertBucket needs a run name or the id of an existing run")
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
    return {"bucket": run_node(ctx, run), "inserted": created}


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


def create_run_files(ctx: OpContext, args: dict[str, Any]) -> Node:
    inp = args.get("input") or {}
    entity, project = entity_name(ctx, inp.get("entityName")), project_name(inp.get("projectName"))
    run_id = str(inp.get("runName") or "")
    ctx.run_path = f"{entity}/{project}/{run_id}"
    run = ctx.store.find_run(entity, project, run_id)
    if run is None:
        raise ResolverError(f"run {ctx.run_path} not found")
    session = ctx.tracker.attribute(run["pk"], ctx.peer)
    out = []
    for name in inp.get("files") or []:
        key = f"run/{run['pk']}/{urllib.parse.quote(str(name))}"
        ctx.store.add_upload_target(key, "run_file", run_pk=run["pk"], name=str(name))
        ctx.store.request_run_file(run["pk"], str(name), key, session)
        out.append({"name": name, "uploadUrl": f"{ctx.base_url}/upload/{key}", "url": None})
    return {"runID": gid("Run", "v1", run_id, project, entity), "uploadHeaders": [], "files": out}


def notify_run_alert(ctx: OpContext, args: dict[str, Any]) -> Node:
    ctx.store.add_event("alert", ctx.operation, {"args": args})
    return {"success": True}


def delete_run(ctx: OpContext, args: dict[str, Any]) -> Node:
    """``wandb.Api().run(path).delete()``: the run goes, with its writer sessions, lines and files; the event
    stays, so a test can tell a deleted run from one never created. Artifacts it logged stay; ``deleteArtifacts``
    is refused (no client of this project asks for it, and a server that answered it would claim a deletion it
    did not do)."""
    inp = args.get("input") or {}
    run = ctx.store.run_by_storage_id(str(inp.get("id") or ""))
    if run is None:
        raise ResolverError(f"deleteRun: no run with id {inp.get('id')!r}")
    if inp.get("deleteArtifacts"):
        raise ResolverError("deleteRun: deleteArtifacts is not supported by this server")
    ctx.store.delete_run(run["entity"], run["project"], run["run_id"])
    ctx.store.add_event("delete_run", ctx.operation, {"run": f"{run['entity']}/{run['project']}/{run['run_id']}"})
    return {"clientMutationId": inp.get("clientMutationId")}
