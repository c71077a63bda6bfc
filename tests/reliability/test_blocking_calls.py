"""A signal's end of grace reaches training that is blocked inside a C call, not only Python code between calls.

A step blocked in a read, a sleep or a collective that waits never returns to the interpreter by itself, so a
flag (``_thread.interrupt_main``) is never looked at; a real signal to the main thread wakes the call. The
blocking call here is a read on a pipe that no one writes: it can only end by an exception (a timer writes to it
after ``UNBLOCK_AFTER`` seconds so a broken build fails instead of hanging, and the test then fails on what the
read returned). No wall-clock bound: the proof is which way the read ended.
"""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from wandb_ddp_bridge.preemption import Preempted, PreemptionWatch
from wandb_ddp_bridge.signals import GraceExpired, SignalGuard

UNBLOCK_AFTER = 120.0  # only a broken build waits this long


@pytest.fixture
def blocked_read() -> Iterator[tuple[int, threading.Timer]]:
    """A pipe whose read blocks, and the timer that unblocks it if nothing else does."""
    read_end, write_end = os.pipe()
    rescue = threading.Timer(UNBLOCK_AFTER, os.write, (write_end, b"x"))
    rescue.daemon = True
    try:
        yield read_end, rescue
    finally:
        rescue.cancel()
        os.close(read_end)
        os.close(write_end)


def _read_blocked(read_end: int, rescue: threading.Timer) -> bytes:
    rescue.start()
    return os.read(read_end, 1)  # blocks in the kernel until a signal interrupts it (or the rescue writes)


def test_the_end_of_the_preemption_grace_wakes_a_blocking_call(blocked_read: tuple[int, threading.Timer]) -> None:
    watch = PreemptionWatch((signal.SIGUSR1,), grace=0.2, on_signal=lambda _: None).install()
    try:
        os.kill(os.getpid(), signal.SIGUSR1)  # the first signal only asks training to stop
        with pytest.raises(Preempted):
            returned = _read_blocked(*blocked_read)
            pytest.fail(f"the blocking read ended by itself ({returned!r}): the grace never interrupted it")
    finally:
        watch.restore()


def test_a_second_preemption_signal_wakes_a_blocking_call(blocked_read: tuple[int, threading.Timer]) -> None:
    watch = PreemptionWatch((signal.SIGUSR1,), grace=UNBLOCK_AFTER * 2, on_signal=lambda _: None).install()
    second = threading.Timer(0.2, os.kill, (os.getpid(), signal.SIGUSR1))
    try:
        os.kill(os.getpid(), signal.SIGUSR1)
        second.start()  # while the main thread is blocked in the read
        with pytest.raises(Preempted):
            returned = _read_blocked(*blocked_read)
            pytest.fail(f"the blocking read ended by itself ({returned!r}): the second signal never reached it")
    finally:
        second.cancel()
        watch.restore()


def test_the_end_of_the_resume_grace_wakes_a_blocking_call(blocked_read: tuple[int, threading.Timer]) -> None:
    guard = SignalGuard(signal.SIGINT, grace=0.2).install()
    try:
        guard.defer()  # taking the run back: a signal now starts the grace period instead of raising
        os.kill(os.getpid(), signal.SIGINT)
        with pytest.raises(GraceExpired):
            returned = _read_blocked(*blocked_read)
            pytest.fail(f"the blocking read ended by itself ({returned!r}): the grace never interrupted it")
    finally:
        guard.restore()


def test_no_resume_attempt_gives_wandb_longer_than_the_grace(
    wandb_server: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """docs/reliability.md: every resume attempt's ``init_timeout`` is at most ``resume_grace_seconds``, signal or
    not (here none: the backend is down, the attempts run out and the error says so)."""
    from wandb_ddp_bridge import _wandb, wandb_session
    from wandb_ddp_bridge.errors import BackendError

    real_resume = _wandb.resume
    timeouts: list[float | None] = []

    def resume(**kwargs: Any) -> Any:
        timeouts.append(kwargs.get("init_timeout"))
        return real_resume(**kwargs)

    monkeypatch.setattr(_wandb, "resume", resume)
    session = wandb_session(project="grace", init_timeout=60, resume_grace_seconds=2, resume_attempts=2)
    with pytest.raises(BackendError, match="could not resume run"), session, session.handoff():
        wandb_server.stop()
    grace = session.config.resume_grace_seconds
    assert len(timeouts) == 2 and all(t is not None and 0 < t <= grace for t in timeouts), (timeouts, grace)
