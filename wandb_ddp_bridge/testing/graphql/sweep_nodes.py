"""Sweeps as the queries read them: ``Project.sweep``/``sweeps``, a sweep's agents, and its runs as the sweep
agent reads them (name, state, config, exit code) before it registers.

The runs here are the light shape the agent's ``SweepWithRuns`` selects, built from the store's rows directly,
so this module needs nothing of ``nodes`` (which links projects to their sweeps through it); ``wandb.Api``
lists a sweep's full runs through the project's ``runs(filters: {"sweep": ...})`` instead.
"""

from __future__ import annotations

import sqlite3
from typing import Any

from ..encoding import gid
from ..run_records import run_state
from ..sweep_search import SweepSearch, parse_config
from .context import Node, OpContext, connection, iso
from .lookups import project_internal_id

__all__ = ["find_sweep", "project_sweep_fields", "sweep_node", "sweep_runs"]


def find_sweep(ctx: OpContext, entity: str, project: str, name: str) -> sqlite3.Row | None:
    """The sweep named ``name`` in ``entity/project``."""
    return ctx.store.q1("SELECT * FROM sweeps WHERE entity=? AND project=? AND name=?", (entity, project, name))


def sweep_runs(ctx: OpContext, sweep: Any) -> list[sqlite3.Row]:
    """The runs that name this sweep, oldest first."""
    return ctx.store.q(
        "SELECT * FROM runs WHERE entity=? AND project=? AND sweep=? ORDER BY created_at, pk",
        (sweep["entity"], sweep["project"], sweep["name"]),
    )


def project_sweep_fields(ctx: OpContext, entity: str, project: str) -> Node:
    """The ``Project`` fields about sweeps: ``sweep(sweepName:)``, ``sweeps``, ``totalSweeps``."""

    def one(args: dict[str, Any]) -> Node | None:
        row = find_sweep(ctx, entity, project, str(args.get("sweepName") or ""))
        return sweep_node(ctx, row) if row is not None else None

    def rows() -> list[sqlite3.Row]:
        return ctx.store.q("SELECT * FROM sweeps WHERE entity=? AND project=? ORDER BY pk DESC", (entity, project))

    return {
        "sweep": one,
        "sweeps": lambda a: connection([sweep_node(ctx, r) for r in rows()], a),
        "totalSweeps": lambda _: len(rows()),
    }


def sweep_node(ctx: OpContext, row: Any) -> Node:
    """A sweep: its configuration (the YAML text it was created with), state, runs and agents."""
    expected = SweepSearch(parse_config(row["config"])).size  # the grid's size or the run cap; None: unbounded

    def agents(args: dict[str, Any]) -> Node:
        found = ctx.store.q("SELECT * FROM sweep_agents WHERE sweep_pk=? ORDER BY pk", (row["pk"],))
        return connection([_agent_node(ctx, a) for a in found], args)

    def agent(args: dict[str, Any]) -> Node | None:
        found = ctx.store.q("SELECT * FROM sweep_agents WHERE sweep_pk=? ORDER BY pk", (row["pk"],))
        wanted = str(args.get("agentName") or "")
        return next((_agent_node(ctx, a) for a in found if wanted in (_agent_name(a), gid("Agent", a["pk"]))), None)

    return {
        "__typename": "Sweep",
        "id": gid("Sweep", row["pk"]),
        "name": row["name"],
        "displayName": row["display_name"],
        "method": row["method"],
        "state": row["state"],
        "description": row["description"],
        "bestLoss": None,
        "config": row["config"],
        "createdAt": iso(row["created_at"]),
        "updatedAt": iso(row["updated_at"]),
        "heartbeatAt": iso(row["updated_at"]),
        "earlyStopJobRunning": False,
        "controller": None,
        "scheduler": None,
        "runCount": lambda _: len(sweep_runs(ctx, row)),
        "runCountExpected": expected,
        "project": _project_ref(row),
        "runs": lambda a: connection([_sweep_run_node(ctx, r) for r in sweep_runs(ctx, row)], a),
        "agents": agents,
        "agent": agent,
    }


def _project_ref(row: Any) -> Node:
    """The sweep's project as ``upsertSweep`` answers read it (id, name, entity): the full project node lives in
    ``nodes.py``, which imports this module."""
    return {
        "__typename": "Project",
        "id": gid("Project", "v1", row["project"], row["entity"]),
        "internalId": str(project_internal_id(row["entity"], row["project"])),
        "name": row["project"],
        "entityName": row["entity"],
        "entity": {"__typename": "Entity", "id": gid("Entity", row["entity"]), "name": row["entity"]},
    }


def _sweep_run_node(ctx: OpContext, run: Any) -> Node:
    sessions = ctx.store.sessions_of(run["pk"])
    state = run_state(sessions, ctx.crash_after)
    return {
        "__typename": "Run",
        "id": gid("Run", "v1", run["run_id"], run["project"], run["entity"]),
        "name": run["run_id"],
        "state": state,
        "config": run["config"] or "{}",
        "summaryMetrics": run["summary"] or "{}",
        "exitcode": sessions[-1]["exit_code"] if sessions else None,
        "heartbeatAt": iso(sessions[-1]["last_seen"] if sessions else run["updated_at"]),
        "shouldStop": False,
        "failed": state in ("failed", "crashed"),
        "stopped": False,
        "running": state == "running",
        "sampledHistory": [[]],
    }


def _agent_name(agent: Any) -> str:
    return f"agent-{agent['pk']}"


def _agent_node(ctx: OpContext, agent: Any) -> Node:
    total = ctx.store.q1("SELECT COUNT(*) AS n FROM sweep_trials WHERE agent_pk=?", (agent["pk"],))
    return {
        "__typename": "Agent",
        "id": gid("Agent", agent["pk"]),
        "name": _agent_name(agent),
        "host": agent["host"],
        "state": agent["state"],
        "totalRuns": total["n"] if total is not None else 0,
        "createdAt": iso(agent["created_at"]),
        "heartbeatAt": iso(agent["heartbeat_at"]),
    }
