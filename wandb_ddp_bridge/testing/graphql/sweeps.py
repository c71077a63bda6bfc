"""Sweep mutations: ``upsertSweep`` (create a sweep, or change its state), ``createAgent`` (an agent registers)
and ``agentHeartbeat`` (an agent reports its runs and gets its next command: ``run``, ``resume`` or ``exit``).

The scheduling is W&B's, reduced to what tests need: an agent gets a trial only while it runs none; a trial
whose run was preempting when it ended (``run.mark_preempting()``) or that never started goes back to the
queue and is handed out again with the same run id and parameters; the search (``sweep_search``) and the
sweep's ``run_cap`` bound the trials, and the sweep finishes (agents get ``exit``) once no trial is left.
"""

from __future__ import annotations

import json
import random
import secrets
import sqlite3
import string
import time
from typing import Any

from ..encoding import gid, ungid
from ..sweep_search import SearchError, SweepSearch, parse_config
from .context import Node, OpContext, ResolverError, entity_name, project_name
from .sweep_nodes import find_sweep, sweep_node

__all__ = ["agent_heartbeat", "create_agent", "upsert_sweep"]

_STATES = ("PENDING", "RUNNING", "PAUSED", "CANCELED", "FINISHED")
_ID_ALPHABET = string.ascii_lowercase + string.digits
#: Seconds without a heartbeat after which an agent's unfinished trials go back to the queue.
AGENT_TIMEOUT = 120.0


def _new_id() -> str:
    return "".join(secrets.choice(_ID_ALPHABET) for _ in range(8))


def upsert_sweep(ctx: OpContext, args: dict[str, Any]) -> Node:
    inp = args.get("input") or {}
    if inp.get("id"):
        return _update_sweep(ctx, inp)
    entity, project = entity_name(ctx, inp.get("entityName")), project_name(inp.get("projectName"))
    text = str(inp.get("config") or "")
    try:
        search = SweepSearch(parse_config(text))
    except SearchError as error:
        raise ResolverError(str(error)) from None
    state = str(inp.get("state") or "RUNNING").upper()
    now = time.time()
    name = _new_id()
    with ctx.store.tx() as db:
        db.execute(
            "INSERT INTO sweeps(entity, project, name, config, method, state, display_name, description,"
            " created_at, updated_at) VALUES (?,?,?,?,?,?,?,?,?,?)",
            (
                entity,
                project,
                name,
                text,
                search.method,
                state,
                inp.get("displayName"),
                inp.get("description"),
                now,
                now,
            ),
        )
    row = find_sweep(ctx, entity, project, name)
    assert row is not None
    ctx.store.add_event(
        "sweep_created", ctx.operation, {"sweep": f"{entity}/{project}/{name}", "method": search.method}
    )
    return {"sweep": sweep_node(ctx, row), "configValidationWarnings": [], "inserted": True}


def _update_sweep(ctx: OpContext, inp: dict[str, Any]) -> Node:
    row = _sweep_by_gid(ctx, str(inp["id"]))
    state = str(inp.get("state") or row["state"]).upper()
    if state not in _STATES:
        raise ResolverError(f"sweep state {state!r} is unknown; use one of {', '.join(_STATES)}")
    ctx.store.q("UPDATE sweeps SET state=?, updated_at=? WHERE pk=?", (state, time.time(), row["pk"]))
    updated = ctx.store.q1("SELECT * FROM sweeps WHERE pk=?", (row["pk"],))
    return {"sweep": sweep_node(ctx, updated), "configValidationWarnings": [], "inserted": False}


def _sweep_by_gid(ctx: OpContext, sweep_id: str) -> sqlite3.Row:
    parts = ungid(sweep_id)
    row = None
    if len(parts) == 2 and parts[0] == "Sweep" and parts[1].isdigit():
        row = ctx.store.q1("SELECT * FROM sweeps WHERE pk=?", (int(parts[1]),))
    if row is None:
        raise ResolverError(f"sweep {sweep_id!r} not found")
    return row


def create_agent(ctx: OpContext, args: dict[str, Any]) -> Node:
    inp = args.get("input") or {}
    entity, project = entity_name(ctx, inp.get("entityName")), project_name(inp.get("projectName"))
    sweep = find_sweep(ctx, entity, project, str(inp.get("sweep") or ""))
    if sweep is None:
        raise ResolverError(f"sweep {entity}/{project}/{inp.get('sweep')} not found; create it with wandb.sweep()")
    now = time.time()
    with ctx.store.tx() as db:
        cur = db.execute(
            "INSERT INTO sweep_agents(sweep_pk, host, created_at, heartbeat_at) VALUES (?,?,?,?)",
            (sweep["pk"], inp.get("host"), now, now),
        )
    return {"agent": {"id": gid("Agent", cur.lastrowid), "name": f"agent-{cur.lastrowid}"}}


def agent_heartbeat(ctx: OpContext, args: dict[str, Any]) -> Node:
    inp = args.get("input") or {}
    agent_id = str(inp.get("id") or "")
    parts = ungid(agent_id)
    agent = None
    if len(parts) == 2 and parts[0] == "Agent" and parts[1].isdigit():
        agent = ctx.store.q1("SELECT * FROM sweep_agents WHERE pk=?", (int(parts[1]),))
    if agent is None:
        raise ResolverError(f"sweep agent {agent_id!r} not found; register it with createAgent first")
    running = json.loads(inp.get("runState") or "{}")
    with ctx.store.tx():
        ctx.store.q("UPDATE sweep_agents SET heartbeat_at=? WHERE pk=?", (time.time(), agent["pk"]))
        _settle(ctx, agent, running if isinstance(running, dict) else {})
        commands = [] if running else _next_commands(ctx, agent)
    return {"agent": {"id": agent_id}, "commands": json.dumps(commands)}


def _settle(ctx: OpContext, agent: Any, running: dict[str, Any]) -> None:
    """Trials that no agent runs any more: done, or back in the queue (preempted, or never started).

    This agent's trials it no longer lists are over; another agent's are over once their run ended (an agent
    that reached its ``count`` sends no last heartbeat) or once that agent went silent."""
    trials = ctx.store.q("SELECT * FROM sweep_trials WHERE sweep_pk=? AND state='assigned'", (agent["sweep_pk"],))
    sweep = ctx.store.q1("SELECT * FROM sweeps WHERE pk=?", (agent["sweep_pk"],))
    silent_since = time.time() - AGENT_TIMEOUT
    for trial in trials:
        mine = trial["agent_pk"] == agent["pk"]
        if mine and running.get(trial["run_id"]):
            continue
        run = ctx.store.find_run(sweep["entity"], sweep["project"], trial["run_id"]) if sweep else None
        sessions = ctx.store.sessions_of(run["pk"]) if run is not None else []
        ended = bool(sessions) and bool(sessions[-1]["complete"])
        if not mine and not ended:
            owner = ctx.store.q1("SELECT heartbeat_at FROM sweep_agents WHERE pk=?", (trial["agent_pk"],))
            if owner is not None and (owner["heartbeat_at"] or 0) > silent_since:
                continue  # still running on its agent
        preempted = bool(sessions) and bool(sessions[-1]["preempting"]) and sessions[-1]["exit_code"] != 0
        state = "requeued" if run is None or preempted or (not ended and not mine) else "done"
        ctx.store.q("UPDATE sweep_trials SET state=?, agent_pk=NULL WHERE pk=?", (state, trial["pk"]))
        if state == "requeued":
            ctx.store.add_event("sweep_requeued", ctx.operation, {"run": trial["run_id"], "preempted": preempted})


def _next_commands(ctx: OpContext, agent: Any) -> list[dict[str, Any]]:
    sweep = ctx.store.q1("SELECT * FROM sweeps WHERE pk=?", (agent["sweep_pk"],))
    if sweep is None or sweep["state"] in ("CANCELED", "FINISHED"):
        return [{"type": "exit"}]
    if sweep["state"] == "PAUSED":
        return []
    config = parse_config(sweep["config"])
    requeued = ctx.store.q1(
        "SELECT * FROM sweep_trials WHERE sweep_pk=? AND state='requeued' ORDER BY pk LIMIT 1", (sweep["pk"],)
    )
    if requeued is not None:
        return [_assign(ctx, agent, config, requeued["run_id"], json.loads(requeued["params"]), "resume")]
    trials = ctx.store.q("SELECT * FROM sweep_trials WHERE sweep_pk=? ORDER BY pk", (sweep["pk"],))
    params = SweepSearch(config).trial(len(trials), random.Random(f"{sweep['name']}/{len(trials)}"))
    if params is not None:
        return [_assign(ctx, agent, config, _new_id(), params, "run")]
    if any(t["state"] == "assigned" for t in trials):
        return []  # the last trials still run on other agents
    ctx.store.q("UPDATE sweeps SET state='FINISHED', updated_at=? WHERE pk=?", (time.time(), sweep["pk"]))
    return [{"type": "exit"}]


def _assign(
    ctx: OpContext, agent: Any, config: dict[str, Any], run_id: str, params: dict[str, Any], kind: str
) -> dict[str, Any]:
    ctx.store.q(
        "INSERT INTO sweep_trials(sweep_pk, run_id, params, agent_pk, state, assigned_at)"
        " VALUES (?,?,?,?,'assigned',?) ON CONFLICT(sweep_pk, run_id)"
        " DO UPDATE SET agent_pk=excluded.agent_pk, state='assigned', assigned_at=excluded.assigned_at",
        (agent["sweep_pk"], run_id, json.dumps(params), agent["pk"], time.time()),
    )
    return {
        "type": kind,
        "run_id": run_id,
        "program": config.get("program"),
        "args": {name: {"value": value} for name, value in params.items()},
    }
