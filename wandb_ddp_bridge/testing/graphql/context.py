"""What every GraphQL handler shares: the request's context, the resolver error, and paging.

Handlers get an ``OpContext`` and the request's variables and return a ``Node``: a dict whose values are
data, further nodes, or callables that take the field's arguments (``schema.resolve_field`` calls them only when
the query selects the field, so a node costs nothing for the fields a client does not ask for).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..store import Store

if TYPE_CHECKING:
    from ..sessions import SessionTracker

__all__ = ["Handler", "Node", "OpContext", "ResolverError", "connection", "entity_name", "iso", "project_name"]

Node = dict[str, Any]


@dataclass
class OpContext:
    """What a handler may use: the store, the session tracker and facts about the request."""

    store: Store
    tracker: SessionTracker
    base_url: str
    default_entity: str
    operation: str
    peer: str
    user_agent: str
    crash_after: float
    run_path: str | None = None


Handler = Callable[[OpContext, dict[str, Any]], Node]


class ResolverError(Exception):
    """Answered as a GraphQL ``errors`` entry (HTTP 200), like a real server's resolver error."""


def iso(t: float | None) -> str | None:
    """A time as W&B answers it (UTC, ISO 8601, whole seconds), ``None`` for none."""
    if t is None:
        return None
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


def entity_name(ctx: OpContext, name: Any) -> str:
    """The entity a request names, or the server's default entity for a client that names none."""
    return str(name) if name else ctx.default_entity


def project_name(name: Any) -> str:
    """The project a request names, or ``uncategorized`` (W&B's default) for none."""
    return str(name) if name else "uncategorized"


def connection(nodes: list[Node], args: dict[str, Any]) -> Node:
    """A Relay-style connection of ``nodes``, paged by ``first``/``after`` (a cursor is a list position)."""
    after = args.get("after")
    start = int(after) + 1 if isinstance(after, str) and after.isdigit() else 0
    first = args.get("first")
    count = len(nodes) - start if first is None else int(first)
    page = nodes[start : start + count]
    edges = [{"node": n, "cursor": str(start + i)} for i, n in enumerate(page)]
    return {
        "edges": edges,
        "totalCount": len(nodes),
        "pageInfo": {
            "__typename": "PageInfo",
            "endCursor": edges[-1]["cursor"] if edges else None,
            "hasNextPage": start + len(page) < len(nodes),
            "startCursor": edges[0]["cursor"] if edges else None,
            "hasPreviousPage": start > 0,
        },
    }
