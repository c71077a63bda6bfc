"""Interruptions: termination signals turned into exceptions while training runs (so a run ends failed, not
"running"), a bounded grace period for the cleanup after one, and the unwinding that never loses the
exception that started it.

Shared by the handoff (the orchestrating process), the session, and the bridged DDP worker's rank 0.
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

from . import _log

__all__ = ["GraceExpired", "SignalGuard", "Terminated", "Unwinding", "add_note"]

T = TypeVar("T")


class Terminated(SystemExit):
    """Raised in the main thread by the first SIGTERM while a handoff (or a bridged DDP worker) runs.

    A ``SystemExit`` with code ``128 + signal`` (143), so an uncaught one exits the process with the code a
    shell reports for a SIGTERM, and ``except Exception`` in training code does not swallow it.
    """

    def __init__(self, signum: int = signal.SIGTERM, *, received_at: float | None = None) -> None:
        super().__init__(128 + signum)
        self.signum = signum
        #: ``time.monotonic()`` when the signal arrived, where known: the cleanup after it is timed from then
        self.received_at = received_at

    def __str__(self) -> str:
        return f"{signal.Signals(self.signum).name} received (exit code {128 + self.signum})"


class GraceExpired(Terminated):
    """The grace period after a signal ran out while the run was being taken back: give up on the backend."""

    def __str__(self) -> str:
        return f"{super().__str__()}; its grace period for finishing the run ran out"


_DEFAULT_HANDLERS: dict[int, Any] = {signal.SIGTERM: signal.SIG_DFL, signal.SIGINT: signal.default_int_handler}


class SignalGuard:
    """While installed, the first SIGTERM raises :class:`Terminated` (SIGINT, if guarded: ``KeyboardInterrupt``)
    in the main thread; later ones are ignored, and none raises while the run is being finished.

    ``install()`` takes over only signals that still have Python's default handling (not off the main thread,
    not a handler of yours or of a launcher). Once one signal has raised, the process is already unwinding: a
    second exception would only break the cleanup (finishing the run) it is doing, so later ones are ignored.
    After ``defer()`` a signal does not raise but is remembered, and ``restore()`` hands back the exception it
    stands for, to raise once the finish is done. ``restore()`` also resets the guard: it can be installed
    again and then waits for a new first signal.

    With ``grace`` (seconds), the deferred cleanup is bounded: :meth:`deadline` says until when it may run
    after a signal, and a watchdog started by ``defer()`` raises :class:`GraceExpired` in the main thread once,
    when that time has passed and the guard is still deferring (a blocking network call is interrupted too).
    """

    def __init__(self, *signums: int, grace: float | None = None) -> None:
        self._signums = signums or (signal.SIGTERM,)
        self._grace = grace
        self._previous: dict[int, Any] = {}
        self._lock = threading.Lock()
        self._watchdog: threading.Thread | None = None
        self._stop_watchdog = threading.Event()
        self._reset()

    def _reset(self) -> None:
        self._deferring = False
        self._restoring = False
        self._pending: int | None = None
        self._expired = False
        self._expiry_raised = False
        self.received: int | None = None
        self.received_at: float | None = None

    @property
    def installed(self) -> bool:
        return bool(self._previous)

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
        # no I/O and no locks here: the main thread may be in the middle of a write, or hold any lock
        if self._expired and self._deferring and not self._restoring and not self._expiry_raised:
            self._expiry_raised = True
            raise GraceExpired(self.received or signum)
        if self.received is not None:
            return
        self.received, self.received_at = signum, time.monotonic()
        if self._deferring or self._restoring:
            self._pending = signum
            return
        raise _exception_for(signum)

    def deadline(self) -> float | None:
        """``time.monotonic()`` by which the cleanup after a received signal must be done (``None``: no bound)."""
        if self._grace is None or self.received_at is None:
            return None
        return self.received_at + self._grace

    def defer(self) -> None:
        """From now on a signal is only remembered (call before resuming or finishing the run)."""
        self._deferring = True
        if self._grace is not None and self._previous and self._watchdog is None:
            self._stop_watchdog.clear()
            self._watchdog = threading.Thread(target=self._watch, name="wandb-ddp-bridge-grace", daemon=True)
            self._watchdog.start()

    def release(self) -> BaseException | None:
        """End a :meth:`defer` that guarded a short critical section; the guard stays installed. Returns the
        exception for a signal that arrived meanwhile (raise it now), ``None`` if none did or none was deferred."""
        self._deferring = False
        pending, self._pending = self._pending, None
        return _exception_for(pending) if pending is not None else None

    def end_grace(self) -> None:
        """The deferred cleanup has given up by itself: from now on no :class:`GraceExpired` interrupts it."""
        self._expiry_raised = True
        self._stop_watchdog.set()

    def _watch(self) -> None:
        main = threading.main_thread().ident
        while not self._stop_watchdog.wait(0.1):
            deadline = self.deadline()
            if deadline is None or time.monotonic() < deadline:
                continue
            with self._lock:
                if self._previous and self._deferring and self.received is not None and main is not None:
                    self._expired = True
                    signal.pthread_kill(main, self.received)  # a real signal: wakes a blocking call too
            return

    def restore(self) -> BaseException | None:
        """Put the previous handlers back and reset the guard; the exception for a signal that arrived while
        deferred, if any."""
        self._restoring = True  # from here on a signal is only remembered, also one the watchdog sent
        self._stop_watchdog.set()
        with self._lock:
            for signum, previous in self._previous.items():
                if signal.getsignal(signum) == self._handle:
                    signal.signal(signum, previous)
            self._previous.clear()
        if self._watchdog is not None and self._watchdog is not threading.current_thread():
            self._watchdog.join(timeout=1.0)
        self._watchdog = None
        pending = self._pending
        self._reset()
        return _exception_for(pending) if pending is not None else None


def _exception_for(signum: int) -> BaseException:
    return KeyboardInterrupt() if signum == signal.SIGINT else Terminated(signum)


def add_note(exc: BaseException, note: str) -> None:
    """``exc.add_note(note)`` where Python has it (3.11+)."""
    adder = getattr(exc, "add_note", None)
    if adder is not None:
        adder(note)


class Unwinding:
    """Cleanup steps that all run, whatever fails or interrupts one of them.

    ``run(step, ...)`` calls one step and keeps any ``BaseException`` it raises. ``settle()`` then lets the
    exception that started the unwinding (``primary``) propagate unchanged, each cleanup error attached to it
    as a note and logged; with no primary, the first cleanup error is raised (the others noted on it).
    """

    def __init__(self, primary: BaseException | None, what: str) -> None:
        self.primary = primary
        self.what = what
        self.errors: list[BaseException] = []

    def run(self, step: Callable[..., T], *args: Any, **kwargs: Any) -> T | None:
        try:
            return step(*args, **kwargs)
        except BaseException as error:  # a KeyboardInterrupt in one step must not skip the others
            self.errors.append(error)
            return None

    @property
    def first_error(self) -> BaseException | None:
        return self.errors[0] if self.errors else None

    def settle(self, primary: BaseException | None = None) -> None:
        """Raise or attach what went wrong (see the class doc); ``primary`` overrides the one given first."""
        primary = primary if primary is not None else self.primary
        errors = [e for e in self.errors if e is not primary]
        if not errors:
            return
        if primary is None:
            primary, errors = errors[0], errors[1:]
            for error in errors:
                add_note(primary, f"{self.what} also failed: {type(error).__name__}: {error}")
            raise primary
        for error in errors:
            note = f"{self.what} failed too: {type(error).__name__}: {error}"
            add_note(primary, note)
            _log.warning("%s (the original %s propagates)", note, type(primary).__name__)
