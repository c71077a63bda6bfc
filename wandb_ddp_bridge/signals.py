"""Turning termination signals into exceptions while training runs, so a run ends failed, not "running".

Shared by the handoff (the orchestrating process) and the bridged DDP worker's rank 0.
"""

from __future__ import annotations

import signal
import threading
from typing import Any

__all__ = ["SignalGuard", "Terminated"]


class Terminated(SystemExit):
    """Raised in the main thread by the first SIGTERM while a handoff (or a bridged DDP worker) runs.

    A ``SystemExit`` with code ``128 + signal`` (143), so an uncaught one exits the process with the code a
    shell reports for a SIGTERM, and ``except Exception`` in training code does not swallow it.
    """

    def __init__(self, signum: int = signal.SIGTERM) -> None:
        super().__init__(128 + signum)
        self.signum = signum

    def __str__(self) -> str:
        return f"{signal.Signals(self.signum).name} received (exit code {128 + self.signum})"


_DEFAULT_HANDLERS: dict[int, Any] = {signal.SIGTERM: signal.SIG_DFL, signal.SIGINT: signal.default_int_handler}


class SignalGuard:
    """While installed, the first SIGTERM raises :class:`Terminated` (SIGINT, if guarded: ``KeyboardInterrupt``)
    in the main thread; later ones are ignored, and none raises while the run is being finished.

    ``install()`` takes over only signals that still have Python's default handling (not off the main thread,
    not a handler of yours or of a launcher). Once one signal has raised, the process is already unwinding: a
    second exception would only break the cleanup (finishing the run) it is doing, so later ones are ignored.
    After ``defer()`` a signal does not raise but is remembered, and ``restore()`` hands back the exception it
    stands for, to raise once the finish is done.
    """

    def __init__(self, *signums: int) -> None:
        self._signums = signums or (signal.SIGTERM,)
        self._previous: dict[int, Any] = {}
        self._deferring = False
        self._pending: int | None = None
        self.received: int | None = None

    def install(self) -> SignalGuard:
        if self._previous or threading.current_thread() is not threading.main_thread():
            return self
        for signum in self._signums:
            try:
                current = signal.getsignal(signum)
            except (OSError, ValueError):
                continue
            if current == _DEFAULT_HANDLERS[signum]:
                signal.signal(signum, self._handle)
                self._previous[signum] = current
        return self

    def _handle(self, signum: int, frame: Any) -> None:
        # no I/O here: the main thread may be in the middle of a write to the same stream
        if self.received is not None:
            return
        self.received = signum
        if self._deferring:
            self._pending = signum
            return
        raise _exception_for(signum)

    def defer(self) -> None:
        """From now on a signal is only remembered (call before resuming or finishing the run)."""
        self._deferring = True

    def restore(self) -> BaseException | None:
        """Put the previous handlers back; the exception for a signal that arrived while deferred, if any."""
        for signum, previous in self._previous.items():
            if signal.getsignal(signum) == self._handle:
                signal.signal(signum, previous)
        self._previous.clear()
        pending, self._pending, self._deferring = self._pending, None, False
        return _exception_for(pending) if pending is not None else None


def _exception_for(signum: int) -> BaseException:
    return KeyboardInterrupt() if signum == signal.SIGINT else Terminated(signum)
