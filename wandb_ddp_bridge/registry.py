"""What is open in this process: the one place that holds the bridge's process state.

A session, its handoff, the run ``attach()`` opened, the step rebaser, the training context Ultralytics calls
back into: each is process-wide (Ultralytics builds trainers from a class, DDP workers re-import modules, a
signal handler runs wherever the main thread is), so each lives here rather than in a global of its own
module. A module declares a typed :class:`Slot` (an immutable key, not state) and reads and writes through it;
:func:`snapshot` shows everything that is open, and :func:`forget` lets a test harness start from nothing.

A plain dict rather than a ``ContextVar``: what is open belongs to the process, and a thread the training
framework starts (a data loader, a watchdog) must see the same session the main thread opened.
"""

from __future__ import annotations

from typing import Any, Generic, TypeVar

__all__ = ["Slot", "forget", "snapshot"]

T = TypeVar("T")

_open: dict[str, Any] = {}
_names: set[str] = set()


class Slot(Generic[T]):
    """A named place in the registry for one kind of process state, typed ``T``; ``default`` when empty.

    ``factory`` (instead of a default) builds the value on first use, for state that is a collection."""

    def __init__(self, name: str, *, factory: type[T] | None = None) -> None:
        _names.add(name)  # a module imported again (a reload) declares the same slot: same place
        self.name = name
        self._factory = factory

    def get(self) -> T | None:
        """The value held now, or ``None``."""
        value: T | None = _open.get(self.name)
        return value

    def value(self) -> T:
        """The value held now, built by the slot's factory on first use (a slot declared with ``factory``)."""
        if self.name not in _open:
            if self._factory is None:
                raise LookupError(f"registry slot {self.name!r} is empty and has no factory")
            _open[self.name] = self._factory()
        held: T = _open[self.name]
        return held

    def set(self, value: T) -> None:
        _open[self.name] = value

    def clear(self, expected: T | None = None) -> T | None:
        """Empty the slot (only if it holds ``expected``, when given); the value it held."""
        current: T | None = _open.get(self.name)
        if expected is not None and current is not expected:
            return current
        _open.pop(self.name, None)
        return current

    def __repr__(self) -> str:
        return f"Slot({self.name!r})"


def snapshot() -> dict[str, Any]:
    """Everything open in this process now, by slot name (a copy)."""
    return dict(_open)


def forget(*names: str) -> None:
    """Empty the named slots (all when none is named): for a test harness recovering from a failed example."""
    for name in names or tuple(_open):
        if name not in _names:
            raise KeyError(f"no registry slot named {name!r}; declared: {sorted(_names)}")
        _open.pop(name, None)
