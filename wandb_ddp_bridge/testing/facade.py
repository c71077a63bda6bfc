"""What the request handlers and the child-process driver need of the server object: a protocol, so that they
depend on this shape rather than on ``server.py``, which imports them (no import cycle)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

__all__ = ["PageRenderer", "ServerFacade"]

#: ``renderer(server, path)``: the page at a ``GET`` path (percent-encoded, without the query), or ``None``.
#: The page is an ``endpoints.Page``; the server passed is the running ``LocalWandbServer`` (typed ``Any`` here:
#: renderers take the concrete class, which this module must not import).
PageRenderer = Callable[[Any, str], Any]


class ServerFacade(Protocol):
    """The members of ``LocalWandbServer`` that its endpoints and its child-process driver use."""

    api_key: str
    pages: PageRenderer | None

    @property
    def url(self) -> str: ...

    @property
    def port(self) -> int: ...

    def records(self, path: str) -> dict[str, Any]: ...
