"""Containment: a W&B logging callback that raises never discards a training.

Applies to the bridge's own logging (:mod:`.runlog`, :mod:`.panels`) and to Ultralytics' native ``wb``
callbacks (wrapped in :class:`ContainedNative` by the callbacks' ``install``). An ``Exception`` raised there
is warned about once (what failed, in which callback and event, the Ultralytics release), recorded on the run
in the summary under :data:`LOGGING_ERRORS_KEY`, and training goes on. Anything else propagates: training's
own errors, user callbacks, and ``BaseException`` (an interrupt, the bridge's SIGTERM exit).
"""

from __future__ import annotations

import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from ... import _log, _wandb
from ...registry import Slot
from . import releases

__all__ = ["LOGGING_ERRORS_KEY", "NATIVE_MODULE", "ContainedNative", "contain", "contained", "is_native", "report"]

#: The run summary key listing the logging errors a training survived.
LOGGING_ERRORS_KEY = "bridge/logging_errors"
#: The module of Ultralytics' own W&B callbacks.
NATIVE_MODULE = "ultralytics.utils.callbacks.wb"
_MAX_ENTRIES = 20

#: run id -> entries recorded on it by this process (a run may hold several trainings)
_RECORDED: Slot[dict[str, list[dict[str, Any]]]] = Slot("ultralytics logging errors", factory=dict)


def report(callback: str, event: str, exc: BaseException) -> None:
    """Warn once about ``exc`` raised by W&B logging in ``callback`` at ``event``; record it on the run."""
    release = releases.installed() or "unknown"
    text = str(exc).strip().splitlines()
    error = f"{type(exc).__name__}: {text[0] if text else ''}"[:300]  # (some carry a whole docstring)
    _log.warn_once(
        f"W&B logging failed in {callback} at {event} (ultralytics {release}): {error}. Training goes on; "
        f"the error is recorded in the run summary under {LOGGING_ERRORS_KEY!r}"
    )
    _log.debug("logging error in %s:\n%s", callback, "".join(traceback.format_exception(exc)))
    try:
        run = _wandb.active_run()
        if run is None:
            return
        entries = _RECORDED.value().setdefault(run.id, [])
        for entry in entries:
            if (entry["callback"], entry["event"], entry["error"]) == (callback, event, error):
                entry["count"] += 1
                break
        else:
            if len(entries) >= _MAX_ENTRIES:
                return
            entries.append({"callback": callback, "event": event, "error": error, "release": release, "count": 1})
        run.summary[LOGGING_ERRORS_KEY] = [dict(entry) for entry in entries]
    except Exception as problem:  # the run itself is broken: the warning above is all we can do
        _log.debug("could not record the logging error on the run: %r", problem)


@contextmanager
def contained(callback: str, event: str) -> Iterator[None]:
    """Run the block; an ``Exception`` from it is reported (:func:`report`) instead of raised."""
    try:
        yield
    except Exception as exc:
        report(callback, event, exc)


def is_native(callback: Any) -> bool:
    """Whether ``callback`` is one of Ultralytics' own W&B callbacks (wrapped or not)."""
    return isinstance(callback, ContainedNative) or getattr(callback, "__module__", None) == NATIVE_MODULE


@dataclass(frozen=True)
class ContainedNative:
    """One native W&B callback whose exceptions are contained. Picklable: it holds the native function, which
    pickles by reference (releases with ``ddp_worker_cloudpickle`` send the callbacks to the workers)."""

    event: str
    callback: Callable[[Any], Any]

    def __call__(self, trainer: Any) -> None:
        name = getattr(self.callback, "__qualname__", repr(self.callback))
        with contained(f"Ultralytics' W&B callback {NATIVE_MODULE}.{name}", self.event):
            self.callback(trainer)


def contain(event: str, callback: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """``callback`` wrapped in :class:`ContainedNative` if it is a bare native W&B callback, else itself."""
    if getattr(callback, "__module__", None) == NATIVE_MODULE and not isinstance(callback, ContainedNative):
        return ContainedNative(event, callback)
    return callback
