"""The training context of the handoff this process is training in, for code Ultralytics calls back.

Bridged trainers are built by Ultralytics from a class, not by us, so the context the handoff handed to
``prepare`` is kept here while the handoff lasts. Only the integration's own state: nothing here knows the
handoff or the session.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from ...registry import Slot
from .. import TrainingContext

__all__ = ["current", "using"]

#: The contexts of the open handoffs in this process, innermost last.
_OPEN: Slot[list[TrainingContext]] = Slot("ultralytics training contexts", factory=list)


def current() -> TrainingContext | None:
    """The context of the innermost open handoff in this process, if any."""
    contexts = _OPEN.value()
    return contexts[-1] if contexts else None


@contextmanager
def using(ctx: TrainingContext) -> Iterator[TrainingContext]:
    """Make ``ctx`` current for the block."""
    contexts = _OPEN.value()
    contexts.append(ctx)
    try:
        yield ctx
    finally:
        contexts.remove(ctx)
