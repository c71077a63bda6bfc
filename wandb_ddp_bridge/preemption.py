"""Preemption while training runs in this process: stop at the next safe point, save, then end non-zero.

Schedulers announce preemption with a signal (SIGTERM; Slurm's ``--signal=USR1@60`` sends SIGUSR1 ahead of
time) and kill the job a grace period later (~30 s by default for Slurm and Kubernetes). While a
:class:`PreemptionWatch` is installed, the first such signal calls ``on_signal`` (the integration asks training
to stop after the current step and marks the run preempting) and starts a timer; training then ends by
itself (the checkpoint is saved) and :meth:`PreemptionWatch.check` raises :class:`Preempted`, or, when the
grace period runs out first or a second signal arrives, :class:`Preempted` is raised in the main thread right
away. Either way the run ends with exit code ``128 + signal`` and the attempt is recorded as preempted.
"""

from __future__ import annotations

import contextlib
import signal
import threading
import time
from collections.abc import Callable
from typing import Any

from .signals import Terminated

__all__ = ["Preempted", "PreemptionWatch", "signal_numbers"]


class Preempted(Terminated):
    """The job was preempted: a :class:`Terminated` (``SystemExit`` with code ``128 + signal``), raised once
    training stopped at a safe point or its grace period ran out."""

    def __str__(self) -> str:
        return f"{signal.Signals(self.signum).name} received: preempted (exit code {128 + self.signum})"


def signal_numbers(names: tuple[str, ...]) -> tuple[int, ...]:
    """``("SIGTERM", "SIGUSR1")`` -> their numbers (names were validated by the config)."""
    return tuple(int(getattr(signal, name)) for name in names)


class PreemptionWatch:
    """See the module docstring. Install it in the main thread; ``restore()`` puts the previous handlers back."""

    def __init__(self, signums: tuple[int, ...], grace: float, on_signal: Callable[[int], None]) -> None:
        self._signums = signums
        self._grace = grace
        self._on_signal = on_signal
        self._previous: dict[int, Any] = {}
        self._timer: threading.Timer | None = None
        self._raised = False
        self._main: int | None = None  # the main thread, which the end of the grace period interrupts
        self._lock = threading.Lock()  # the timer never signals once restore() has begun
        self.received: int | None = None
        self.received_at: float | None = None

    def install(self) -> PreemptionWatch:
        if self._previous or threading.current_thread() is not threading.main_thread():
            return self
        self._main = threading.get_ident()
        for signum in self._signums:
            try:
                self._previous[signum] = signal.signal(signum, self._handle)
            except (OSError, ValueError):
                continue
        return self

    def _handle(self, signum: int, frame: Any) -> None:
        if self.received is None:
            self.received, self.received_at = signum, time.monotonic()
            self._timer = threading.Timer(self._grace, self._expire)
            self._timer.daemon = True
            self._timer.start()
            self._on_signal(signum)
            return
        if not self._raised:  # a second signal, or the grace period is over: stop now
            self._raised = True
            raise Preempted(self.received, received_at=self.received_at)

    def _expire(self) -> None:
        with self._lock:
            if self._previous and self.received is not None and not self._raised and self._main is not None:
                # a real signal to the main thread: it wakes a blocking C call (a sleep, a read, a collective
                # that waits), whose retry then runs _handle, which raises; interrupt_main() would only set a
                # flag that such a call never looks at
                signal.pthread_kill(self._main, self.received)

    def restore(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
        with self._lock:
            for signum, previous in self._previous.items():
                with contextlib.suppress(OSError, ValueError, TypeError):
                    signal.signal(signum, previous)
            self._previous = {}

    def check(self) -> None:
        """Raise :class:`Preempted` if a preemption signal arrived (and nothing raised it yet)."""
        if self.received is not None and not self._raised:
            self._raised = True
            raise Preempted(self.received, received_at=self.received_at)
