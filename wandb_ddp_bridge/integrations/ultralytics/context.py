"""The training context of the handoff this process is training in, for code Ultralytics calls back.

Bridged trainers are built by Ultralytics from a class, not by us, so the context the handoff handed to
``prepare`` is kept here while the handoff lasts. Only the integration's own state: nothing here knows the
handoff or the session.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from .. import TrainingContext

__all__ = ["current", "using"]

_current: list[TrainingContext] = []


def current() -> TrainingContext | None:
    """The context of the innermost open handoff in this process, if any."""
    return _current[-1] if _current else None


@contextmanager
def using(ctx: TrainingContext) -> Iterator[TrainingContext]:
    """Make ``ctx`` current for the block."""
    _current.append(ctx)
    try:
        yield ctx
    finally:
        _current.remove(ctx)
